"""The GPU backend (probes/cuda, libtraintop_cuda.so) for parameters that live on a CUDA device.

``GpuLayers`` is what the PyTorch probe uses: the §1 statistics of every CUDA parameter in one fused
kernel launch per sampled step, one device→host copy, and the per-sample (§2) sums of CUDA nn.Linear
layers, all enqueued on the training stream; the probe waits for them only when it publishes the step.

The library is looked up, in this order: ``$TRAINTOP_CUDA_LIB``; beside the libtraintop this package
loaded (``lib/`` of a build tree, ``$PREFIX/lib`` after ``make install``); next to this package. It
links against libtraintop.so.0, which the dynamic linker resolves to the copy already loaded, so the
probe handle is shared. When it is missing (built without nvcc), or there is no device, callers fall
back to torch ops (torch_stats.py) and ``why_unavailable()`` says why.
"""
import ctypes
import math
import os

from . import _lib
from ._lib import NSTATS, TraintopError

__all__ = ["Opts", "Batch", "Dense", "PsOut", "PS_FIELDS", "F32", "F16", "BF16", "OK", "NOT_READY", "ERROR",
           "load", "library_path", "why_unavailable", "dtype_code", "GpuLayers"]

F32, F16, BF16 = 0, 1, 2
OK, NOT_READY, ERROR = 0, 1, -1
_ERRLEN = 512


class Opts(ctypes.Structure):
    _fields_ = [("probe", ctypes.c_void_p), ("device", ctypes.c_int), ("stream", ctypes.c_void_p),
                ("every", ctypes.c_int), ("timing", ctypes.c_int)]


class Dense(ctypes.Structure):
    _fields_ = [("B", ctypes.c_size_t), ("T", ctypes.c_size_t), ("d_in", ctypes.c_size_t), ("d_out", ctypes.c_size_t),
                ("a_dtype", ctypes.c_int), ("w_dtype", ctypes.c_int), ("g_dtype", ctypes.c_int),
                ("A", ctypes.c_void_p), ("D", ctypes.c_void_p), ("scale", ctypes.c_double),
                ("W", ctypes.c_void_p), ("bias", ctypes.c_void_p), ("Z", ctypes.c_void_p),
                ("Gbar", ctypes.c_void_p), ("bbar", ctypes.c_void_p), ("loss_scale", ctypes.c_void_p)]


class Batch(ctypes.Structure):
    _fields_ = [("batch", ctypes.c_size_t), ("tokens", ctypes.c_size_t), ("a_dtype", ctypes.c_int),
                ("inputs", ctypes.c_void_p), ("out_grads", ctypes.c_void_p), ("grad_scale", ctypes.c_double),
                ("preact", ctypes.c_void_p), ("gbar_scale", ctypes.c_double), ("full", ctypes.c_int),
                ("loss_scale", ctypes.c_void_p)]


_DP = ctypes.POINTER(ctypes.c_double)
PS_FIELDS = ("gw", "gg", "gG", "gamma", "bw", "bb", "bB", "bgamma")


class PsOut(ctypes.Structure):
    _fields_ = [(n, _DP) for n in PS_FIELDS] + [
        ("w_norm2", ctypes.c_double), ("bias_norm2", ctypes.c_double), ("gbar_norm2", ctypes.c_double),
        ("bbar_norm2", ctypes.c_double), ("nonfinite", ctypes.c_uint64), ("bad_samples", ctypes.c_uint64)]


_V, _I, _S = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
_E = (ctypes.c_char_p, ctypes.c_size_t)
_PROTOS = {
    "tt_cuda_device_count": (_I, [*_E]),
    "tt_cuda_open": (_V, [ctypes.POINTER(Opts), *_E]),
    "tt_cuda_add_layer": (_I, [_V, ctypes.c_char_p, _S, _S, _I, _V, _I, _V, *_E]),
    "tt_cuda_rebind_layer": (_I, [_V, _I, _V, _V]),
    "tt_cuda_step": (_I, [_V, ctypes.c_int64, *_E]),
    "tt_cuda_collect": (_I, [_V, _I, *_E]),
    "tt_cuda_layer_result": (_I, [_V, _I, _DP]),
    "tt_cuda_step_timing": (_I, [_V, _DP, _DP, ctypes.POINTER(ctypes.c_int)]),
    "tt_cuda_dense_persample": (_I, [_V, ctypes.POINTER(Dense), ctypes.POINTER(PsOut), *_E]),
    "tt_cuda_dense_batch": (_I, [_V, _I, _I, ctypes.POINTER(Batch), *_E]),
    "tt_cuda_device_bytes": (_S, [_V]),
    "tt_cuda_close": (None, [_V]),
}

_state = {"lib": None, "path": None, "why": None}


def _candidates():
    env = os.environ.get("TRAINTOP_CUDA_LIB")
    if env:
        yield env
        return
    try:
        core = _lib.library_path()
    except TraintopError:
        core = None
    if core and os.sep in core:
        yield os.path.join(os.path.dirname(os.path.realpath(core)), "libtraintop_cuda.so")
        yield os.path.join(os.path.dirname(core), "libtraintop_cuda.so")
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "libtraintop_cuda.so")
    yield os.path.normpath(os.path.join(here, "..", "..", "lib", "libtraintop_cuda.so"))


def load():
    """The ctypes.CDLL of libtraintop_cuda (loaded once, after libtraintop). Raises TraintopError."""
    if _state["lib"] is not None:
        return _state["lib"]
    _lib.load()                      # first, so the backend's libtraintop.so.0 is this one
    lib, where = _lib.open_first(_candidates(), _PROTOS, target="lib/libtraintop_cuda.so")
    if lib is None:
        raise TraintopError("libtraintop_cuda not found (built when nvcc is found: make; or set TRAINTOP_CUDA_LIB). "
                            "Tried: " + "; ".join(where))
    _state["lib"], _state["path"] = lib, where
    return lib


def library_path():
    load()
    return _state["path"]


def why_unavailable():
    """None when the GPU backend can be used in this process, else why not (one line)."""
    if _state["why"] is not None:
        return _state["why"] or None
    why = ""
    try:
        import torch
        if not torch.cuda.is_available():
            why = "torch sees no CUDA device"
    except ImportError:
        why = "torch is not installed"
    if not why:
        try:
            lib = load()
            err = ctypes.create_string_buffer(_ERRLEN)
            if lib.tt_cuda_device_count(err, _ERRLEN) <= 0:
                why = err.value.decode(errors="replace") or "no CUDA device"
        except TraintopError as e:
            why = str(e)
    _state["why"] = why
    return why or None


def dtype_code(dtype):
    """The backend's code of a torch dtype, or None when it has none (float64, integers, …)."""
    import torch
    return {torch.float32: F32, torch.float16: F16, torch.bfloat16: BF16}.get(dtype)


class GpuLayers:
    """The CUDA parameters of one device, as layers of one tt_cuda backend feeding a probe.

    Lifetime, driven by the PyTorch probe: add() every parameter before the first step; on a step:
    dense_batch() per Linear at the end of backward (sampled steps), step() right after the optimizer
    update (every step: it also refreshes W_prev before a sampled one), collect() before the probe
    publishes the step. Nothing but collect() waits for the device.
    """

    def __init__(self, probe_handle, device, every, timing=True, full=False):
        import torch
        self.torch = torch
        self.lib = load()
        self.device = torch.device(device)
        self.full = bool(full)
        self.err = ctypes.create_string_buffer(_ERRLEN)
        self.stream = torch.cuda.current_stream(self.device)
        stream = self.stream.cuda_stream
        self.timing = False
        self.h = None
        for t in ((1, 0) if timing else (0,)):
            o = Opts(probe_handle, self.device.index if self.device.index is not None else -1, stream, int(every), t)
            self.h = self.lib.tt_cuda_open(ctypes.byref(o), self.err, _ERRLEN)
            if self.h:
                self.timing = bool(t)
                break
            self.timing_error = self.err.value.decode(errors="replace")
        if not self.h:
            raise TraintopError(self.err.value.decode(errors="replace"))
        self.params = []              # per backend layer: the parameter
        self.gptr = []                # the gradient pointer the backend reads now
        self.gkeep = {}               # layer -> a contiguous gradient copy, alive until the next rebind
        self.keep = {}                # per-sample inputs of this step, alive until collect
        self._zeros = None            # zero gradient for parameters without one
        self._batch = Batch()
        self.failed = None            # set once a CUDA error made the backend unusable

    def _fail(self, what):
        msg = "%s: %s" % (what, self.err.value.decode(errors="replace"))
        self.failed = msg
        raise TraintopError(msg)

    def add(self, name, param, rows, cols):
        """Registers a contiguous CUDA parameter of a supported dtype; returns its backend layer index."""
        dt = dtype_code(param.dtype)
        g = param.grad
        gptr = g.data_ptr() if self._grad_ok(param, g) else param.data_ptr()   # rebound before any read
        i = self.lib.tt_cuda_add_layer(self.h, name.encode(), rows, cols, dt, param.data_ptr(), dt, gptr,
                                       self.err, _ERRLEN)
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
            self._zeros = self.torch.zeros(nbytes, dtype=self.torch.uint8, device=self.device)
        return self._zeros.data_ptr()

    def sync_grads(self):
        """Points every layer at its parameter's current gradient: p.grad is recreated by
        zero_grad(set_to_none=True), so its address changes between steps. A None gradient reads as
        zeros, a non-contiguous one through a contiguous copy (kept until collect)."""
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
                if c.layout != self.torch.strided:
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
        cur = self.torch.cuda.current_stream(self.device)
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
        b.batch, b.tokens, b.a_dtype = A.shape[0], A.shape[1], dtype_code(A.dtype)
        b.inputs, b.out_grads = A.data_ptr(), D.data_ptr()
        b.grad_scale, b.gbar_scale, b.full = scale, gbar_scale, 1 if self.full else 0
        b.preact = Z.data_ptr() if Z is not None else None
        b.loss_scale = loss_scale.data_ptr() if loss_scale is not None else None
        if self._ordered(lambda: self.lib.tt_cuda_dense_batch(self.h, weight_layer, bias_layer, ctypes.byref(b),
                                                              self.err, _ERRLEN)) != 0:
            raise TraintopError(self.err.value.decode(errors="replace"))
        self.keep[("ps", weight_layer)] = (A, D, Z, loss_scale)   # alive until collect, whatever the caller does

    def step(self, step):
        if self._ordered(lambda: self.lib.tt_cuda_step(self.h, int(step), self.err, _ERRLEN)) != 0:
            self._fail("GPU statistics of step %d" % step)

    def collect(self):
        """Waits for this backend's work of the step and hands everything to the probe."""
        rc = self.lib.tt_cuda_collect(self.h, 1, self.err, _ERRLEN)
        self.keep = {}
        if rc != OK:
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

    def device_bytes(self):
        return self.lib.tt_cuda_device_bytes(self.h) if self.h else 0

    def close(self):
        if self.h:
            self.lib.tt_cuda_close(self.h)
            self.h = None
        self.keep = {}
        self.gkeep = {}
        self.params = []
