"""ctypes bindings onto lib/libtraintop_cuda.so (probes/cuda/tt_cuda.h), for the torch test and bench.

The library is found at $TRAINTOP_CUDA_LIB, else <repo>/lib/libtraintop_cuda.so. It needs libtraintop.so.0
beside it (the cuda.mk rule makes the link) for the probe functions it calls.
"""
import ctypes
import math
import os

NSTATS = 12
STAT_NAMES = ("w_norm", "g_norm", "w_rms", "g_rms", "w_var", "update_norm", "update_ratio",
              "angle", "angle_rows", "gw_cos", "dist_init", "nonfinite")
F32, F16, BF16 = 0, 1, 2
OK, NOT_READY, ERROR = 0, 1, -1


class Opts(ctypes.Structure):
    _fields_ = [("probe", ctypes.c_void_p), ("device", ctypes.c_int), ("stream", ctypes.c_void_p),
                ("every", ctypes.c_int), ("timing", ctypes.c_int)]


class Dense(ctypes.Structure):
    _fields_ = [("B", ctypes.c_size_t), ("T", ctypes.c_size_t), ("d_in", ctypes.c_size_t), ("d_out", ctypes.c_size_t),
                ("a_dtype", ctypes.c_int), ("w_dtype", ctypes.c_int), ("g_dtype", ctypes.c_int),
                ("A", ctypes.c_void_p), ("D", ctypes.c_void_p), ("scale", ctypes.c_double),
                ("W", ctypes.c_void_p), ("bias", ctypes.c_void_p), ("Z", ctypes.c_void_p),
                ("Gbar", ctypes.c_void_p), ("bbar", ctypes.c_void_p)]


_DP = ctypes.POINTER(ctypes.c_double)
PS_FIELDS = ("gw", "gg", "gG", "gamma", "bw", "bb", "bB", "bgamma")


class PsOut(ctypes.Structure):
    _fields_ = [(n, _DP) for n in PS_FIELDS] + [
        ("w_norm2", ctypes.c_double), ("bias_norm2", ctypes.c_double), ("gbar_norm2", ctypes.c_double),
        ("bbar_norm2", ctypes.c_double), ("nonfinite", ctypes.c_uint64), ("bad_samples", ctypes.c_uint64)]


def library_path():
    p = os.environ.get("TRAINTOP_CUDA_LIB")
    if p:
        return os.path.abspath(p)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(root, "lib", "libtraintop_cuda.so")


def load():
    lib = ctypes.CDLL(library_path())
    V, I, S, E = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, (ctypes.c_char_p, ctypes.c_size_t)
    protos = {
        "tt_cuda_device_count": (I, [*E]),
        "tt_cuda_open": (V, [ctypes.POINTER(Opts), *E]),
        "tt_cuda_add_layer": (I, [V, ctypes.c_char_p, S, S, I, V, I, V, *E]),
        "tt_cuda_rebind_layer": (I, [V, I, V, V]),
        "tt_cuda_step": (I, [V, ctypes.c_int64, *E]),
        "tt_cuda_collect": (I, [V, I, *E]),
        "tt_cuda_layer_result": (I, [V, I, _DP]),
        "tt_cuda_step_timing": (I, [V, _DP, _DP, ctypes.POINTER(ctypes.c_int)]),
        "tt_cuda_dense_persample": (I, [V, ctypes.POINTER(Dense), ctypes.POINTER(PsOut), *E]),
        "tt_cuda_device_bytes": (S, [V]),
        "tt_cuda_close": (None, [V]),
    }
    for name, (res, args) in protos.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    return lib


class Backend:
    """One tt_cuda backend on the current torch stream."""

    def __init__(self, lib, every=1, timing=0, stream=None):
        import torch
        self.lib = lib
        self.err = ctypes.create_string_buffer(512)
        s = stream if stream is not None else torch.cuda.current_stream().cuda_stream
        o = Opts(None, -1, s, every, timing)
        self.h = lib.tt_cuda_open(ctypes.byref(o), self.err, 512)
        if not self.h:
            raise RuntimeError(self.err.value.decode())
        self.n = 0

    def _check(self, rc, what):
        if rc < 0:
            raise RuntimeError("%s: %s" % (what, self.err.value.decode()))
        return rc

    def add(self, name, rows, cols, w, g):
        i = self.lib.tt_cuda_add_layer(self.h, name.encode(), rows, cols, dtype_code(w), w.data_ptr(), dtype_code(g),
                                       g.data_ptr(), self.err, 512)
        self.n += 1
        return self._check(i, "add_layer " + name)

    def step(self, step):
        return self._check(self.lib.tt_cuda_step(self.h, step, self.err, 512), "step")

    def collect(self, wait=1):
        return self._check(self.lib.tt_cuda_collect(self.h, wait, self.err, 512), "collect")

    def result(self, i):
        out = (ctypes.c_double * NSTATS)()
        self.lib.tt_cuda_layer_result(self.h, i, out)
        return list(out)

    def timing(self):
        b, p, k = ctypes.c_double(), ctypes.c_double(), ctypes.c_int()
        rc = self.lib.tt_cuda_step_timing(self.h, ctypes.byref(b), ctypes.byref(p), ctypes.byref(k))
        return rc, b.value, p.value, k.value

    def persample(self, dense, B):
        bufs = {n: (ctypes.c_double * max(B, 1))() for n in PS_FIELDS}
        out = PsOut(*[ctypes.cast(bufs[n], _DP) for n in PS_FIELDS], math.nan, math.nan, math.nan, math.nan, 0, 0)
        self._check(self.lib.tt_cuda_dense_persample(self.h, ctypes.byref(dense), ctypes.byref(out), self.err, 512),
                    "dense_persample")
        return out, bufs

    def close(self):
        if self.h:
            self.lib.tt_cuda_close(self.h)
            self.h = None


def dtype_code(t):
    import torch
    return {torch.float32: F32, torch.float16: F16, torch.bfloat16: BF16}[t.dtype]


def cuda_ready():
    """(True, '') when torch sees a CUDA device and the library loads, else (False, why)."""
    try:
        import torch
    except ImportError as e:
        return False, "no CUDA device (torch is not installed: %s)" % e
    if not torch.cuda.is_available():
        return False, "no CUDA device (torch %s: torch.cuda.is_available() is False)" % torch.__version__
    if not os.path.exists(library_path()):
        return False, "library %s not built" % library_path()
    return True, ""
