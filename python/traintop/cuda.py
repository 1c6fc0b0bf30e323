"""ctypes bindings onto the GPU backend's library (probes/cuda, libtraintop_cuda.so): its structs,
the lookup, and whether it can be used here. backends/gpu.py builds the PyTorch probe's GPU backend on
them.

The library is looked up, in this order: ``$TRAINTOP_CUDA_LIB``; beside the libtraintop this package
loaded (``lib/`` of a build tree, ``$PREFIX/lib`` after ``make install``); next to this package. It
links against libtraintop.so.0, which the dynamic linker resolves to the copy already loaded, so the
probe handle is shared. When it is missing (built without nvcc), or there is no device, callers fall
back to torch ops (backends/torchops.py) and ``why_unavailable()`` says why.
"""
import ctypes
import os

from . import _lib
from ._lib import TraintopError

__all__ = ["Opts", "Batch", "Dense", "PsOut", "PS_FIELDS", "F32", "F16", "BF16", "OK", "NOT_READY", "ERROR",
           "ERRLEN", "load", "library_path", "why_unavailable", "dtype_code"]

F32, F16, BF16 = 0, 1, 2
OK, NOT_READY, ERROR = 0, 1, -1
ERRLEN = 512


class Opts(ctypes.Structure):
    _fields_ = [("probe", ctypes.c_void_p), ("device", ctypes.c_int), ("stream", ctypes.c_void_p),
                ("every", ctypes.c_int), ("timing", ctypes.c_int), ("gemm_fp32", ctypes.c_int),
                ("w0_every", ctypes.c_int)]


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
    "tt_cuda_step_sampled": (_I, [_V, ctypes.c_int64, _I, _I, *_E]),
    "tt_cuda_collect": (_I, [_V, _I, *_E]),
    "tt_cuda_layer_result": (_I, [_V, _I, _DP]),
    "tt_cuda_step_timing": (_I, [_V, _DP, _DP, ctypes.POINTER(ctypes.c_int)]),
    "tt_cuda_dense_persample": (_I, [_V, ctypes.POINTER(Dense), ctypes.POINTER(PsOut), *_E]),
    "tt_cuda_dense_batch": (_I, [_V, _I, _I, ctypes.POINTER(Batch), *_E]),
    "tt_cuda_device_bytes": (_S, [_V]),
    "tt_cuda_timing_source": (_I, [_V]),
    "tt_cuda_timing_note": (ctypes.c_char_p, [_V]),
    "tt_cuda_use_event_timing": (_I, [_V, ctypes.c_char_p]),
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
            err = ctypes.create_string_buffer(ERRLEN)
            if lib.tt_cuda_device_count(err, ERRLEN) <= 0:
                why = err.value.decode(errors="replace") or "no CUDA device"
        except TraintopError as e:
            why = str(e)
    _state["why"] = why
    return why or None


def dtype_code(dtype):
    """The backend's code of a torch dtype, or None when it has none (float64, integers, …)."""
    import torch
    return {torch.float32: F32, torch.float16: F16, torch.bfloat16: BF16}.get(dtype)
