"""The GPU backend: parameters on a CUDA device, through libtraintop_cuda (probes/cuda, cuda.py).

Contiguous float32, float16 and bfloat16 CUDA parameters get their §1 statistics from one fused kernel
launch per sampled step and device (GpuLayers), enqueued on the training stream right after the
optimizer step, one device→host copy, collected when the step is published; the per-sample (§2) sums
of CUDA nn.Linear layers are computed there too. Without the library or a device, or for a layer the
backend refuses, register() declines (one warning says why) and the parameter goes to torch ops. A
CUDA error stops the device's backend (one warning); its parameters' statistics stop with it.
"""
import ctypes
import math

import torch

from .. import cuda as _cuda
from .._lib import NSTATS, TraintopError

__all__ = ["GpuBackend", "GpuLayers"]

ERRLEN = _cuda.ERRLEN


# dist_init (‖W − W_0‖) moves slowly: W_0 is read on every 10th sampled step, the last value repeated in
# between, which spares a quarter of an fp32 layer's traffic on the others (docs/gpu.md)
W0_EVERY = 10


def _profiler_on():
    """torch.profiler (Kineto, a CUPTI client) is recording."""
    try:
        return bool(torch.autograd.profiler._is_profiler_enabled)
    except AttributeError:
        return False


class GpuBackend:
    """Every CUDA parameter the GPU backend takes, one GpuLayers per device.

    warn(key, message): the watcher's once-per-key warning. timing: CUPTI timing on the first device."""

    def __init__(self, probe, every, warn, enabled=True, timing=True, full=False):
        self.probe, self.every, self.warn = probe, every, warn
        self.enabled, self.timing, self.full = bool(enabled), bool(timing), bool(full)
        self.devices = {}                  # torch.device -> GpuLayers

    def register(self, name, param, rows, cols, sparse_grad=False):
        """Registers a CUDA parameter with the GpuLayers of its device: (GpuLayers, index), or None to
        leave it to torch ops."""
        p = param
        if not self.enabled or p.device.type != "cuda" or not p.is_contiguous() or p.numel() == 0 \
                or p.layout != torch.strided or _cuda.dtype_code(p.dtype) is None:
            return None
        why = _cuda.why_unavailable()
        if why:
            self.warn("gpu", "traintop: GPU parameters use torch ops, not the GPU backend: %s" % why)
            return None
        gl = self.devices.get(p.device)
        if gl is None:
            try:
                gl = GpuLayers(self.probe.handle, p.device, self.every, timing=self.timing and not self.devices,
                               full=self.full)
            except TraintopError as e:
                self.warn("gpu", "traintop: GPU backend unavailable (%s): using torch ops" % e)
                self.enabled = False
                return None
            if self.timing and not gl.timing and not self.devices:
                self.warn("gpu-timing", "traintop: no GPU timing (gpu_busy_ms): %s" % getattr(gl, "timing_error", "?"))
            elif gl.timing_note():
                self.warn("gpu-timing", "traintop: %s" % gl.timing_note())
            self.devices[p.device] = gl
        try:
            return gl, gl.add(name, p, rows, cols)
        except TraintopError as e:
            self.warn("gpu-add", "traintop: %s: using torch ops for it (and any other such layer)" % e)
            return None

    def _each_working(self, fn):
        """fn(gl) for every device whose backend has not failed; a CUDA error stops that one (one warning)."""
        for gl in list(self.devices.values()):
            if gl.failed:
                continue
            try:
                fn(gl)
            except TraintopError as e:
                self.warn("gpu-fail", "traintop: GPU statistics stopped: %s" % e)

    def sync_grads(self):
        for gl in self.devices.values():
            gl.sync_grads()

    def prepare(self, step, sampled, next_sampled):
        def enqueue(gl):
            if sampled:
                gl.sync_grads()
            gl.step(step, sampled, next_sampled)   # enqueued after the update; waited for at collect
        self._each_working(enqueue)

    def collect(self):
        for gl in self.devices.values():
            if gl.yielded:
                gl.yielded = False
                self.warn("gpu-timing-yield", "traintop: %s" % gl.timing_note())
        self._each_working(lambda gl: gl.collect())   # tt_probe_layer_stats, per-sample sums, gpu_busy_ms

    def counters(self):
        return {"gpu_layers": sum(len(gl.params) for gl in self.devices.values()),
                "gpu_device_bytes": sum(gl.device_bytes() for gl in self.devices.values())}

    def close(self):
        for gl in self.devices.values():
            gl.close()
        self.devices = {}


class GpuLayers:
    """The CUDA parameters of one device, as layers of one tt_cuda backend feeding a probe.

    Lifetime, driven by GpuBackend: add() every parameter before the first step; on a step:
    dense_batch() per Linear at the end of backward (sampled steps), step() right after the optimizer
    update (every step: it also refreshes W_prev before a sampled one), collect() before the probe
    publishes the step. Nothing but collect() waits for the device.
    """

    can_persample = True          # per-sample sums of a Linear whose weight and bias are both here
    persample_device = "cuda"
    device_loss_scale = True      # the kernels read GradScaler's scale tensor: no host synchronisation

    def __init__(self, probe_handle, device, every, timing=True, full=False):
        self.lib = _cuda.load()
        self.device = torch.device(device)
        self.full = bool(full)
        self.err = ctypes.create_string_buffer(ERRLEN)
        self.stream = torch.cuda.current_stream(self.device)
        stream = self.stream.cuda_stream
        self.timing = False
        self.h = None
        # timing 1: CUPTI, or CUDA events when CUPTI is taken; 2: events, when torch.profiler runs
        # (its CUPTI subscription may not exist yet, and ours would steal its activity buffers)
        for t in (((2 if _profiler_on() else 1), 0) if timing else (0,)):
            o = _cuda.Opts(probe_handle, self.device.index if self.device.index is not None else -1, stream, int(every), t,
                           0, W0_EVERY)
            self.h = self.lib.tt_cuda_open(ctypes.byref(o), self.err, ERRLEN)
            if self.h:
                self.timing = bool(t)
                break
            self.timing_error = self.err.value.decode(errors="replace")
        if not self.h:
            raise TraintopError(self.err.value.decode(errors="replace"))
        self.cupti = self.timing and self.lib.tt_cuda_timing_source(self.h) == 1
        self.yielded = False          # gave CUPTI up to a torch.profiler since the last collect
        self.params = []              # per backend layer: the parameter
        self.gptr = []                # the gradient pointer the backend reads now
        self.gkeep = {}               # layer -> a contiguous gradient copy, alive until the next rebind
        self._seen = None             # the gradients' addresses at the last sync_grads (-1: None or sparse)
        self.keep = {}                # per-sample inputs of this step, alive until collect
        self._zeros = None            # zero gradient for parameters without one
        self._batch = _cuda.Batch()
        self.failed = None            # set once a CUDA error made the backend unusable

    def _fail(self, what):
        msg = "%s: %s" % (what, self.err.value.decode(errors="replace"))
        self.failed = msg
        raise TraintopError(msg)

    def add(self, name, param, rows, cols):
        """Registers a contiguous CUDA parameter of a supported dtype; returns its backend layer index."""
        dt = _cuda.dtype_code(param.dtype)
        g = param.grad
        gptr = g.data_ptr() if self._grad_ok(param, g) else param.data_ptr()   # rebound before any read
        i = self.lib.tt_cuda_add_layer(self.h, name.encode(), rows, cols, dt, param.data_ptr(), dt, gptr,
                                       self.err, ERRLEN)
        if i < 0:                        # this layer only (out of device memory, say): the backend goes on
            raise TraintopError("GPU layer %s: %s" % (name, self.err.value.decode(errors="replace")))
        self.params.append(param)
        self.gptr.append(gptr)
        return i

    @staticmethod
    def _grad_ok(param, g):
        return (g is not None and g.layout == param.layout and g.is_contiguous() and g.dtype == param.dtype
                and g.device == param.device and g.numel() == param.numel())

    def _zero_buffer(self, nbytes):
        if self._zeros is None or self._zeros.numel() < nbytes:
            self._zeros = torch.zeros(nbytes, dtype=torch.uint8, device=self.device)
        return self._zeros.data_ptr()

    @staticmethod
    def batch_dtype(dtypes):
        """The element type of a per-sample batch whose tensors have `dtypes`: theirs when they share one
        the backend reads; float32 mixed with one 16-bit type (autocast: the input float32, the output
        and δ bfloat16) gives the 16-bit type, the one autocast's matmul ran on — so g_i are the
        gradients training computed, and the GEMMs run on 16-bit tensor cores; else float32."""
        if len(dtypes) == 1 and _cuda.dtype_code(next(iter(dtypes))) is not None:
            return next(iter(dtypes))
        narrow = set(dtypes) & {torch.float16, torch.bfloat16}
        if len(narrow) == 1 and set(dtypes) <= narrow | {torch.float32}:
            return narrow.pop()
        return torch.float32

    def sync_grads(self):
        """Points every layer at its parameter's current gradient: p.grad is recreated by
        zero_grad(set_to_none=True), so its address changes between steps. A None gradient reads as
        zeros, a non-contiguous one through a contiguous copy (kept until collect). When no gradient
        moved since the last call and none needed a copy, every binding still holds: one list of
        addresses, no per-parameter checks."""
        ptrs = [-1 if g is None or g.is_sparse else g.data_ptr() for g in [p.grad for p in self.params]]
        if ptrs == self._seen and not self.gkeep:
            return
        self._seen = ptrs
        self.gkeep = {}
        # sized before any layer points at it: growing it later would leave earlier layers on freed memory
        need = max((p.numel() * p.element_size() for p in self.params if p.grad is None), default=0)
        zeros = self._zero_buffer(need) if need else None
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                ptr = zeros
            elif self._grad_ok(p, g):
                ptr = g.data_ptr()
            else:
                c = g.detach()
                if c.layout != torch.strided:
                    c = c.to_dense()
                c = c.to(p.dtype).contiguous()
                self.gkeep[i] = c
                ptr = c.data_ptr()
            if ptr != self.gptr[i]:
                self.lib.tt_cuda_rebind_layer(self.h, i, p.data_ptr(), ptr)
                self.gptr[i] = ptr

    def _ordered(self, enqueue):
        """Runs enqueue() on the backend's stream ordered with the caller's current stream: when the
        training moved to another stream, ours waits for its work before and it waits for ours after
        (two event waits, no host synchronisation)."""
        if self.cupti and _profiler_on():    # torch.profiler started since: CUPTI is its now
            self.cupti = False
            self.yielded = True
            self.lib.tt_cuda_use_event_timing(self.h, b"torch.profiler started")
        cur = torch.cuda.current_stream(self.device)
        if cur == self.stream:
            return enqueue()
        self.stream.wait_stream(cur)
        try:
            return enqueue()
        finally:
            cur.wait_stream(self.stream)

    def dense_batch(self, weight_layer, bias_layer, A, D, Z, scale, gbar_scale, loss_scale=None):
        """Per-sample sums of one Linear's batch (device tensors B×T×d, one dtype) for the probe.
        loss_scale: a float32 scalar tensor on this device that D and the gradients were scaled by
        (GradScaler's), read by the kernels: no host synchronisation."""
        b = self._batch
        b.batch, b.tokens, b.a_dtype = A.shape[0], A.shape[1], _cuda.dtype_code(A.dtype)
        b.inputs, b.out_grads = A.data_ptr(), D.data_ptr()
        b.grad_scale, b.gbar_scale, b.full = scale, gbar_scale, 1 if self.full else 0
        b.preact = Z.data_ptr() if Z is not None else None
        b.loss_scale = loss_scale.data_ptr() if loss_scale is not None else None
        if self._ordered(lambda: self.lib.tt_cuda_dense_batch(self.h, weight_layer, bias_layer, ctypes.byref(b),
                                                              self.err, ERRLEN)) != 0:
            raise TraintopError(self.err.value.decode(errors="replace"))
        self.keep[("ps", weight_layer)] = (A, D, Z, loss_scale)   # alive until collect, whatever the caller does

    def step(self, step, sampled, next_sampled):
        """The statistics of a sampled step (and the W_prev refresh before one), on the probe's
        schedule as the watcher asked it: a fixed every=N, or the overhead budget."""
        if self._ordered(lambda: self.lib.tt_cuda_step_sampled(self.h, int(step), int(bool(sampled)),
                                                               int(bool(next_sampled)), self.err, ERRLEN)) != 0:
            self._fail("GPU statistics of step %d" % step)

    def collect(self):
        """Waits for this backend's work of the step and hands everything to the probe."""
        rc = self.lib.tt_cuda_collect(self.h, 1, self.err, ERRLEN)
        self.keep = {}
        if rc != _cuda.OK:
            self._fail("GPU statistics")

    def result(self, layer):
        out = (ctypes.c_double * NSTATS)()
        self.lib.tt_cuda_layer_result(self.h, layer, out)
        return list(out)

    def timing_ms(self):
        """(gpu_busy_ms, probe_gpu_ms, kernels) of the last collected step; NaNs when timing is off."""
        b, p, k = ctypes.c_double(), ctypes.c_double(), ctypes.c_int()
        if self.lib.tt_cuda_step_timing(self.h, ctypes.byref(b), ctypes.byref(p), ctypes.byref(k)) != 0:
            return math.nan, math.nan, -1
        return b.value, p.value, k.value

    def timing_note(self):
        """One line when CUDA events replaced CUPTI, else ""."""
        if not self.h:
            return ""
        note = self.lib.tt_cuda_timing_note(self.h).decode(errors="replace")
        if not note and self.timing and self.lib.tt_cuda_timing_source(self.h) == 2:
            note = "torch.profiler is running: GPU time from CUDA events"
        return note


    def device_bytes(self):
        return self.lib.tt_cuda_device_bytes(self.h) if self.h else 0

    def close(self):
        if self.h:
            self.lib.tt_cuda_close(self.h)
            self.h = None
        self.keep = {}
        self.gkeep = {}
        self.params = []
