"""ctypes bindings onto libtraintop (include/traintop/probe.h). No compiler is involved: the shared
library is found at import time, in this order:

1. ``$TRAINTOP_LIB`` (a path to the .so),
2. a copy next to this package (``traintop/libtraintop.so*``, e.g. copied in before ``pip install``),
3. ``../lib/libtraintop.so`` relative to the repository this package sits in (``make lib/libtraintop.so``),
4. ``ctypes.util.find_library("traintop")`` (the linker cache, e.g. after ``make install`` + ldconfig),
   then the bare soname ``libtraintop.so.0`` (``LD_LIBRARY_PATH``), then ``~/.local/lib`` and
   ``/usr/local/lib`` (``make install PREFIX=…`` without ldconfig).
"""
import ctypes
import ctypes.util
import glob
import os

__all__ = ["lib", "load", "library_path", "ProbeOpts", "DenseBatch", "Counters", "NSTATS", "STAT_NAMES",
           "TraintopError"]

NSTATS = 12  # TT_LAYER_NSTATS
STAT_NAMES = ("w_norm", "g_norm", "w_rms", "g_rms", "w_var", "update_norm", "update_ratio",
              "angle", "angle_rows", "gw_cos", "dist_init", "nonfinite")


class TraintopError(RuntimeError):
    """An error reported by libtraintop (its one-line message) or by the library lookup."""


class ProbeOpts(ctypes.Structure):
    _fields_ = [("run", ctypes.c_char_p), ("endpoint", ctypes.c_char_p), ("rank", ctypes.c_int),
                ("world_size", ctypes.c_int), ("every", ctypes.c_int), ("spectral_every", ctypes.c_int),
                ("persample_full", ctypes.c_int), ("gwa_window", ctypes.c_int), ("spool", ctypes.c_char_p),
                ("overhead", ctypes.c_double)]


class DenseBatch(ctypes.Structure):
    _fields_ = [("batch", ctypes.c_size_t), ("tokens", ctypes.c_size_t), ("inputs", ctypes.c_void_p),
                ("out_grads", ctypes.c_void_p), ("grad_scale", ctypes.c_double), ("preact", ctypes.c_void_p),
                ("gbar_scale", ctypes.c_double)]


class PersampleSums(ctypes.Structure):
    _D = ctypes.POINTER(ctypes.c_double)
    _fields_ = [("batch", ctypes.c_size_t), ("gw", _D), ("gg", _D), ("gG", _D), ("bw", _D), ("bb", _D), ("bB", _D),
                ("w_norm2", ctypes.c_double), ("bias_norm2", ctypes.c_double), ("gbar_norm2", ctypes.c_double),
                ("bbar_norm2", ctypes.c_double)]


class Counters(ctypes.Structure):
    _fields_ = [("sent", ctypes.c_uint64), ("dropped", ctypes.c_uint64), ("steps", ctypes.c_uint64),
                ("stats_seconds", ctypes.c_double), ("publish_seconds", ctypes.c_double),
                ("spooled", ctypes.c_uint64), ("queued", ctypes.c_uint64),
                ("resent", ctypes.c_uint64)]

    def as_dict(self):
        return {name: getattr(self, name) for name, _ in self._fields_}


_P = ctypes.c_void_p
_ERR = (ctypes.c_char_p, ctypes.c_size_t)
_PROTOS = {
    "tt_probe_open": (_P, [ctypes.POINTER(ProbeOpts), ctypes.c_size_t, *_ERR]),
    "tt_probe_hparam_num": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_double]),
    "tt_probe_hparam_str": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_char_p]),
    "tt_probe_add_layer": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, _P, _P, *_ERR]),
    "tt_probe_dense_batch": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int, ctypes.POINTER(DenseBatch), *_ERR]),
    "tt_probe_persample_sums": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int, ctypes.POINTER(PersampleSums), *_ERR]),
    "tt_probe_gwa_head": (ctypes.c_int, [_P, ctypes.c_int]),
    "tt_probe_optimizer": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_double, ctypes.c_double, ctypes.c_double]),
    "tt_probe_add_external_layer": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, *_ERR]),
    "tt_probe_layer_stats": (ctypes.c_int, [_P, ctypes.c_int, ctypes.POINTER(ctypes.c_double), ctypes.c_int]),
    "tt_probe_scalar": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_double]),
    "tt_probe_step": (ctypes.c_int, [_P, ctypes.c_int64]),
    "tt_probe_step_at": (ctypes.c_int, [_P, ctypes.c_int64, ctypes.c_double]),
    "tt_probe_sampled": (ctypes.c_int, [_P, ctypes.c_int64]),
    "tt_probe_cost": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_double]),
    "tt_probe_should_stop": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "tt_probe_get_counters": (None, [_P, ctypes.POINTER(Counters)]),
    "tt_probe_close": (None, [_P, ctypes.c_char_p, ctypes.c_int]),
    "tt_default_endpoint": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, *_ERR]),
    # points a C layer at a replaced .grad (zero-copy after zero_grad(set_to_none=True))
    "tt_probe_rebind_layer": (ctypes.c_int, [_P, ctypes.c_int, _P, _P]),
    # CPU, memory and NVML GPU metrics sampled on the probe's own thread (traintop.sysmetrics)
    "tt_probe_system_metrics": (ctypes.c_int, [_P, ctypes.c_double, ctypes.c_char_p, *_ERR]),
}
# Functions a newer library may add, looked up with optional() so an older library still loads.
_OPTIONAL = {}

_lib = None
_path = None


def _candidates():
    env = os.environ.get("TRAINTOP_LIB")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for pattern in ("libtraintop.so", "libtraintop.so.*"):
        for f in sorted(glob.glob(os.path.join(here, pattern))):
            yield f
    yield os.path.normpath(os.path.join(here, "..", "..", "lib", "libtraintop.so"))
    found = ctypes.util.find_library("traintop")
    if found:
        yield found
    yield "libtraintop.so.0"
    # `make install PREFIX=…` without ldconfig: the usual prefixes
    for prefix in (os.path.expanduser("~/.local"), "/usr/local"):
        yield os.path.join(prefix, "lib", "libtraintop.so.0")


def open_first(candidates, protos, optional_protos=None, target="lib/libtraintop.so"):
    """The first candidate library that loads, with the prototypes set: (CDLL, path), or (None, the
    list of what was tried and why). A library without one of `protos` is an error (rebuild target)."""
    tried = []
    for cand in candidates:
        if os.sep in cand and not os.path.exists(cand):
            tried.append(cand + " (missing)")
            continue
        try:
            lib = ctypes.CDLL(cand)
        except OSError as e:
            tried.append("%s (%s)" % (cand, e))
            continue
        for name, (res, args) in protos.items():
            fn = getattr(lib, name, None)
            if fn is None:
                raise TraintopError("%s lacks %s: rebuild it (make %s)" % (cand, name, target))
            fn.restype, fn.argtypes = res, args
        for name, (res, args) in (optional_protos or {}).items():
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype, fn.argtypes = res, args
        return lib, cand
    return None, tried


def load():
    """Loads libtraintop once and returns the ctypes.CDLL. Raises TraintopError when it is nowhere."""
    global _lib, _path
    if _lib is not None:
        return _lib
    lib, where = open_first(_candidates(), _PROTOS, _OPTIONAL)
    if lib is None:
        raise TraintopError("libtraintop not found; set TRAINTOP_LIB=/path/to/libtraintop.so, or build it with "
                            "`make lib/libtraintop.so`, or `make install`. Tried: " + "; ".join(where))
    _lib, _path = lib, where
    return lib


def optional(name):
    """The optional C function NAME, or None when this library does not have it."""
    return getattr(load(), name, None)


def library_path():
    load()
    return _path


class _Lazy:
    def __getattr__(self, name):
        return getattr(load(), name)


lib = _Lazy()
