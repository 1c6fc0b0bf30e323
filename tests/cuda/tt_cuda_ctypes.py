"""The GPU backend's ctypes bindings (python/traintop/cuda.py) plus a small direct driver, for the torch
test and bench. The library is found as the package finds it: $TRAINTOP_CUDA_LIB, else beside the
libtraintop it loaded (<repo>/lib).
"""
import ctypes
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "python"))
from traintop._lib import NSTATS, STAT_NAMES  # noqa: E402,F401
from traintop.cuda import (Opts, Dense, PsOut, PS_FIELDS, F32, F16, BF16, OK, NOT_READY, ERROR,  # noqa: E402,F401
                           _DP, load, library_path)


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


def _library_present():
    try:
        library_path()
        return True
    except Exception:
        return False


def cuda_ready():
    """(True, '') when torch sees a CUDA device and the library loads, else (False, why)."""
    try:
        import torch
    except ImportError as e:
        return False, "no CUDA device (torch is not installed: %s)" % e
    if not torch.cuda.is_available():
        return False, "no CUDA device (torch %s: torch.cuda.is_available() is False)" % torch.__version__
    if not _library_present():
        return False, "libtraintop_cuda not built (make with nvcc present)"
    return True, ""
