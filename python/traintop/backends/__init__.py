"""Where each watched parameter's §1 statistics are computed: one of three backends, and Layers, the
one place that routes a parameter to its backend.

Backends, tried in this order for each parameter (the first that takes it keeps it):
  sharded.Sharded    DTensors sharded by rows (FSDP2): local sums, one all-reduce, full-layer statistics
  cpu.InPlace        contiguous float32 CPU tensors, read in place by the C probe
  gpu.GpuBackend     contiguous float32/float16/bfloat16 CUDA tensors, through libtraintop_cuda
  torchops.TorchOps  anything else, with torch ops on the tensor's device (the fallback)

Each backend has the same interface (docs/HACKING.md, "Python package"):
  register(name, param, rows, cols, sparse_grad) -> (owner, index) or None (not taken: try the next)
  sync_grads()                 make the layers read the parameters' current gradients
  prepare(step, sampled, next_sampled)   right after the optimizer step (TorchOps also fetches the
                               step's tensor scalars: prepare(..., extras) returns their host values)
  collect()                    before the probe publishes the step: hand it this step's numbers
  counters() -> dict           close()
The owner a layer is registered with (the backend, or the device's GpuLayers for the GPU) also serves
the per-sample sums of an nn.Linear when owner.can_persample (persample.py).
"""
import time

import torch.nn as nn

from .cpu import InPlace
from .gpu import GpuBackend
from .sharded import Sharded, refuse_unsupported
from .torchops import TorchOps

__all__ = ["Layers", "shape2d", "label"]


def shape2d(p):
    """A parameter as a rows × cols layer: a matrix or kernel as (out, everything else), a vector as one row."""
    if p.dim() == 0:
        return 1, 1
    if p.dim() == 1:
        return p.shape[0], 1
    return p.shape[0], p.numel() // p.shape[0]


def label(name):
    """A parameter name as a traintop label: ≤ 127 printable ASCII characters without '"' or '\\'."""
    name = "".join(c if 32 < ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return name if len(name) <= 127 else name[:60] + "~" + name[-66:]


class Layers:
    """Every parameter of a model, each registered with one backend of one probe.

    alias_grads: the in-place backend registers p.grad itself as the gradient buffer (explicit
    stepping). warn(key, message): the watcher's once-per-key warning."""

    def __init__(self, probe, warn, every, alias_grads, gpu_backend=True, gpu_timing=True, persample_full=False):
        self.sharded = Sharded(probe)
        self.cpu = InPlace(probe, alias_grads)
        self.gpu = GpuBackend(probe, every, warn, enabled=gpu_backend, timing=gpu_timing, full=persample_full)
        self.ops = TorchOps(probe)
        self.backends = (self.sharded, self.cpu, self.gpu, self.ops)
        self._where = {}                   # id(param) -> (owner, layer index in that owner)

    def register_model(self, model):
        refuse_unsupported(model)          # FSDP1, DeepSpeed ZeRO-2/3: one line, nothing registered
        # parameters with sparse gradients must not get a dense .grad from the in-place backend
        sparse = {id(m.weight) for m in model.modules()
                  if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and getattr(m, "sparse", False)}
        for name, p in model.named_parameters():
            rows, cols = shape2d(p)
            for b in self.backends:
                where = b.register(label(name), p, rows, cols, sparse_grad=id(p) in sparse)
                if where is not None:
                    self._where[id(p)] = where
                    break

    def find(self, param):
        """(owner, index) of a registered parameter, or None."""
        return self._where.get(id(param))

    def sync_grads(self):
        """At the end of a sampled step's backward pass: the layers read the gradients it left."""
        self.cpu.sync_grads()
        self.gpu.sync_grads()

    def prepare(self, step, sampled, next_sampled, extras=()):
        """Right after the optimizer step. Returns the host values of the 0-d tensors in extras, fetched
        with the torch-ops layers' numbers (one transfer per device)."""
        self.sharded.prepare(step, sampled, next_sampled)    # collective: one all-reduce per sampled step
        self.cpu.prepare(step, sampled, next_sampled)
        self.gpu.prepare(step, sampled, next_sampled)
        return self.ops.prepare(step, sampled, next_sampled, extras)

    def collect(self):
        """Hands the step's numbers to the probe. Returns the seconds spent in the GPU backend's collect:
        mostly waiting for the device's queue, the training's own work, which is not the probe's cost (the
        GPU backend reports its own GPU time to the budget, tt_probe_cost)."""
        gpu = 0.0
        for b in self.backends:
            if b is self.gpu:
                t0 = time.perf_counter()
                b.collect()
                gpu = time.perf_counter() - t0
            else:
                b.collect()
        return gpu

    def counters(self):
        c = {}
        for b in self.backends:
            c.update(b.counters())
        return c

    def close(self, close_probe):
        """Closes the backends around close_probe(): the GPU backend feeds the probe, so it goes first;
        the in-place buffers and torch-ops copies stay alive until the probe (whose background thread
        may read them) is closed."""
        self.gpu.close()
        close_probe()
        self.cpu.close()
        self.ops.close()
        self.sharded.close()
