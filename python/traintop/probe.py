"""A thin, framework-free wrapper of the C probe (include/traintop/probe.h).

Buffers handed to add_layer are raw addresses (ints): the caller keeps the memory alive and in place
until close(). traintop.watch() builds on this; use Probe directly for numpy or hand-rolled loops.
"""
import ctypes
import threading

from . import _lib
from ._lib import NSTATS, TraintopError

__all__ = ["Probe", "default_endpoint", "SAMPLE_STATS", "SAMPLE_PERSAMPLE"]

SAMPLE_STATS = 1          # TT_SAMPLE_STATS: the layers' §1 statistics
SAMPLE_PERSAMPLE = 2      # TT_SAMPLE_PERSAMPLE: per-sample statistics

_ERRLEN = 512


def _b(s):
    return None if s is None else s.encode("utf-8")


def default_endpoint():
    """The endpoint probes and collectors agree on ($TRAINTOP_ENDPOINT, else the per-user socket)."""
    buf = ctypes.create_string_buffer(256)
    err = ctypes.create_string_buffer(_ERRLEN)
    if _lib.lib.tt_default_endpoint(buf, 256, err, _ERRLEN) != 0:
        raise TraintopError(err.value.decode(errors="replace"))
    return buf.value.decode()


class Probe:
    """One run of one rank. Every method is a direct call into libtraintop; none blocks on the network."""

    def __init__(self, run, endpoint=None, rank=0, world_size=1, every=0, spectral_every=0,
                 persample_full=False, gwa_window=50, spool=None, overhead=0.0):
        """every > 0: a fixed schedule; 0: the overhead budget (a fraction of the step time, 0: 0.015)."""
        self._c = _lib.load()
        self._lock = threading.Lock()
        self.run = run
        opts = _lib.ProbeOpts(run=_b(run), endpoint=_b(endpoint), rank=int(rank), world_size=int(world_size),
                              every=int(every), spectral_every=int(spectral_every),
                              persample_full=1 if persample_full else 0, gwa_window=int(gwa_window), spool=_b(spool),
                              overhead=float(overhead))
        err = ctypes.create_string_buffer(_ERRLEN)
        self._p = self._c.tt_probe_open(ctypes.byref(opts), ctypes.sizeof(opts), err, _ERRLEN)
        if not self._p:
            raise TraintopError(err.value.decode(errors="replace"))
        self._err = ctypes.create_string_buffer(_ERRLEN)
        self._reason = ctypes.create_string_buffer(256)
        self._stats = (ctypes.c_double * NSTATS)()
        self._dense = _lib.DenseBatch()
        self._scalar = self._c.tt_probe_scalar
        self._sampled = self._c.tt_probe_sampled
        self._cost = self._c.tt_probe_cost
        rebind = _lib.optional("tt_probe_rebind_layer")
        self.can_rebind = rebind is not None

    @property
    def handle(self):
        """The C tt_probe pointer (for the GPU backend, which hands statistics to this probe)."""
        return self._p

    # -- set-up (before the first step) --
    def hparam(self, key, value):
        """A hyperparameter (number, bool or string; anything else as its str()). Returns False if refused."""
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, (int, float)):
            return self._c.tt_probe_hparam_num(self._p, _b(str(key)), float(value)) == 0
        return self._c.tt_probe_hparam_str(self._p, _b(str(key)), _b(str(value))) == 0

    def add_layer(self, name, rows, cols, w_ptr, g_ptr):
        """Registers rows×cols float32 buffers at addresses w_ptr, g_ptr, read in place. Returns the index."""
        i = self._c.tt_probe_add_layer(self._p, _b(name), rows, cols, w_ptr, g_ptr, self._err, _ERRLEN)
        if i < 0:
            raise TraintopError(self._err.value.decode(errors="replace"))
        return i

    def add_external_layer(self, name, rows, cols):
        """Registers a layer whose statistics are computed elsewhere and handed in with layer_stats()."""
        i = self._c.tt_probe_add_external_layer(self._p, _b(name), rows, cols, self._err, _ERRLEN)
        if i < 0:
            raise TraintopError(self._err.value.decode(errors="replace"))
        return i

    def rebind_layer(self, layer, w_ptr, g_ptr):
        """Points a registered layer at new buffers (needs tt_probe_rebind_layer in the library)."""
        fn = _lib.optional("tt_probe_rebind_layer")
        if fn is None:
            raise TraintopError("this libtraintop has no tt_probe_rebind_layer")
        return fn(self._p, layer, w_ptr, g_ptr) == 0

    # -- every step --
    def layer_stats(self, layer, values):
        """Hands in the 12 §1 statistics of an external layer for the step about to be published."""
        buf = self._stats
        for k in range(NSTATS):
            buf[k] = values[k]
        return self._c.tt_probe_layer_stats(self._p, layer, buf, NSTATS) == 0

    def dense_batch(self, weight_layer, bias_layer, batch, tokens, inputs_ptr, out_grads_ptr, grad_scale,
                    preact_ptr=None, gbar_scale=0.0):
        """Per-sample statistics of a dense layer (float32 row-major buffers, B×T×d). Raises on refusal."""
        d = self._dense
        d.batch, d.tokens, d.inputs, d.out_grads = batch, tokens, inputs_ptr, out_grads_ptr
        d.grad_scale, d.preact, d.gbar_scale = float(grad_scale), preact_ptr, float(gbar_scale)
        with self._lock:
            rc = self._c.tt_probe_dense_batch(self._p, weight_layer, bias_layer, ctypes.byref(d), self._err, _ERRLEN)
        if rc != 0:
            raise TraintopError(self._err.value.decode(errors="replace"))

    def persample_sums(self, weight_layer, gw, gg, gG, w_norm2, gbar_norm2):
        """Per-sample sums of a layer computed elsewhere (contiguous float64 CPU tensors of B values; gG may
        be None), for a weight without a bias. Raises on refusal."""
        D = ctypes.POINTER(ctypes.c_double)
        ptr = (lambda t: ctypes.cast(t.data_ptr(), D) if t is not None else None)
        s = _lib.PersampleSums(batch=gw.numel(), gw=ptr(gw), gg=ptr(gg), gG=ptr(gG), w_norm2=float(w_norm2),
                               gbar_norm2=float(gbar_norm2))
        with self._lock:
            rc = self._c.tt_probe_persample_sums(self._p, weight_layer, -1, ctypes.byref(s), self._err, _ERRLEN)
        if rc != 0:
            raise TraintopError(self._err.value.decode(errors="replace"))

    def gwa_head(self, weight_layer):
        """Names the classifier head's weight layer: its own γ give the paper's head-only GWA (gwa_paper)."""
        return self._c.tt_probe_gwa_head(self._p, int(weight_layer)) == 0

    def sampled(self, step):
        """What the probe samples at `step` (after the last published): SAMPLE_STATS | SAMPLE_PERSAMPLE
        bits, 0 for nothing (skip the work). Under the budget exact for the next two steps."""
        bits = self._sampled(self._p, int(step))
        return bits if bits > 0 else 0

    def cost(self, kind, seconds):
        """Time spent for the probe outside libtraintop this step, for kind SAMPLE_STATS,
        SAMPLE_PERSAMPLE or 0 (every step): it counts in the overhead budget."""
        return self._cost(self._p, int(kind), float(seconds)) == 0

    def optimizer(self, kind, lr, wd, momentum):
        return self._c.tt_probe_optimizer(self._p, _b(kind), float(lr), float(wd), float(momentum)) == 0

    def system_metrics(self, interval_s, gpus=None):
        """Samples CPU, memory and (through NVML) the GPUs numbered in gpus ("0,1"; None: every visible;
        "": none) every interval_s seconds on the C probe's own thread, published as scalars."""
        if self._c.tt_probe_system_metrics(self._p, float(interval_s), _b(gpus), self._err, _ERRLEN) != 0:
            raise TraintopError(self._err.value.decode(errors="replace"))

    def scalar(self, name, value):
        """Sets a scalar for the step about to be published. False when refused (bad name, > 64 names)."""
        return self._scalar(self._p, name.encode() if isinstance(name, str) else name, float(value)) == 0

    def step(self, step, ended=None):
        """Publishes step `step`; ended: when it ended (time.monotonic()), for a step published late."""
        with self._lock:
            rc = self._c.tt_probe_step(self._p, int(step)) if ended is None else \
                self._c.tt_probe_step_at(self._p, int(step), float(ended))
        if rc != 0:
            raise TraintopError("step %d refused: steps must be non-negative and increase" % step)

    def should_stop(self):
        """(stop, reason): whether the collector asked this run to stop, and why."""
        stop = self._c.tt_probe_should_stop(self._p, self._reason, 256)
        return bool(stop), (self._reason.value.decode(errors="replace") if stop else None)

    def counters(self):
        c = _lib.Counters()
        self._c.tt_probe_get_counters(self._p, ctypes.byref(c))
        return c.as_dict()

    def close(self, status="finished", linger_ms=500):
        p, self._p = self._p, None
        if p:
            self._c.tt_probe_close(p, _b(status), int(linger_ms))

    @property
    def closed(self):
        return not self._p

    def __del__(self):
        try:
            self.close("finished", 0)
        except Exception:
            pass
