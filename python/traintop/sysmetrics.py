"""System and GPU metrics of a watched run, on their own timer (not every step).

The C probe samples the process's CPU and memory, the host's memory and, through NVML loaded at run
time, the GPUs the model lives on, on its own thread (tt_probe_system_metrics). This module adds what
only PyTorch knows — its CUDA caching allocator's peak and reserved memory per device — at the same
interval, and publishes both as scalars (docs/metrics.md, "System and GPU metrics").
"""
import time

import torch


def model_cuda_devices(model):
    """The CUDA device indices the model's parameters live on, sorted."""
    return sorted({p.device.index if p.device.index is not None else torch.cuda.current_device()
                   for p in model.parameters() if p.device.type == "cuda"})


class SystemMetrics:
    """Starts the C sampler and, every interval, gives the torch allocator's scalars to publish."""

    def __init__(self, probe, interval_s, devices):
        self.interval = float(interval_s)
        self.devices = list(devices)
        probe.system_metrics(self.interval, ",".join(str(d) for d in self.devices))
        self._next = 0.0

    def scalars(self):
        """{name: value} when the interval has passed since the last call that gave any, else {}."""
        now = time.monotonic()
        if now < self._next or not self.devices:
            return {}
        self._next = now + self.interval
        out = {}
        for d in self.devices:
            out["gpu%d_torch_max_allocated_bytes" % d] = float(torch.cuda.max_memory_allocated(d))
            out["gpu%d_torch_reserved_bytes" % d] = float(torch.cuda.memory_reserved(d))
        return out
