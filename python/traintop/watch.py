"""traintop.Watch: the PyTorch probe's lifecycle and publishing. See docs/python.md for what is measured
and what it costs, docs/HACKING.md ("Python package") for how the modules fit.

A Watch opens a C probe (probe.py), registers every parameter with a backend (backends/), the per-sample
hooks of nn.Linear layers (persample.py) and, for a DDP model, the communication hook (ddp.py). Then, per
step:

* Explicit stepping: step() reads everything (_prepare) and publishes (_emit).
* Automatic stepping (an optimizer with register_step_post_hook): the post-step hook reads what must
  be read right after the update (_prepare) and the step is published (_emit) by the first of step(),
  the next backward pass, the next optimizer pre-step hook, close().
"""
import atexit
import math
import os
import re
import sys
import threading
import time
import warnings
import weakref
from dataclasses import dataclass

import torch

from . import compiled, ddp, hooks
from ._lib import TraintopError
from .backends import Layers, sharded
from .persample import PerSample
from .probe import SAMPLE_PERSAMPLE, SAMPLE_STATS, Probe
from .sysmetrics import SystemMetrics, model_cuda_devices

__all__ = ["Watch", "Options", "default_run_name"]

_LIVE = weakref.WeakSet()


def _atexit():
    status = None                      # close() decides: "stopped" when asked to stop, else "finished"
    last = getattr(sys, "last_value", None)
    if last is not None:
        status = "stopped" if isinstance(last, KeyboardInterrupt) else "failed"
    for w in list(_LIVE):
        try:
            w.close(status=status)
        except Exception:
            pass


atexit.register(_atexit)


def default_run_name():
    """$TRAINTOP_RUN, else the script's name and the start time, e.g. train-20240131-142501."""
    env = os.environ.get("TRAINTOP_RUN")
    if env:
        return env
    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else "python"
    stem = os.path.splitext(os.path.basename(script))[0] or "python"
    if stem == "__main__":
        stem = os.path.basename(os.path.dirname(script)) or "python"
    stem = re.sub(r"[^A-Za-z0-9_.:+=-]", "-", stem).lstrip(".-") or "python"
    return "%s-%s" % (stem[:100], time.strftime("%Y%m%d-%H%M%S"))


def _num(v):
    """A scalar's float; a tensor's detached first (torch 2 warns on float() of one that requires grad)."""
    return float(v.detach()) if isinstance(v, torch.Tensor) else float(v)


def _on_gpu(v):
    return isinstance(v, torch.Tensor) and v.device.type == "cuda"


class DeviceScalars:
    """The GPU tensor scalars of a step that samples nothing, on their way to the host: copied without
    waiting (into pinned memory, behind the training's work in stream order) so that such a step never
    waits for the device; the step is published once they have landed, at the latest when the probe
    next acts (the next step's optimizer step: by then the copy, queued after this step's forward, is
    normally long done)."""
    __slots__ = ("names", "host", "event", "ended")

    def __init__(self, scalars):
        self.ended = time.monotonic()      # the step's end, for the overhead budget's step times
        self.names = [k for k, v in scalars.items() if _on_gpu(v)]
        vals = torch.stack([scalars[k].detach().reshape(()).to(torch.float64) for k in self.names])
        self.host = torch.empty(vals.shape, dtype=torch.float64, pin_memory=True)
        self.host.copy_(vals, non_blocking=True)
        self.event = torch.cuda.Event()
        self.event.record()

    def values(self):
        """{name: float}, waiting for the copy if it has not landed yet."""
        self.event.synchronize()
        return dict(zip(self.names, self.host.tolist()))


@dataclass
class Options:
    """watch()'s settings (docs/python.md, API), checked."""
    every: object = None               # None: the overhead budget chooses the sampled steps
    overhead: float = 0.015            # that budget, a fraction of the step time
    spectral_every: int = 0
    persample: bool = True
    persample_full: bool = False
    gwa_window: int = 50
    gwa_head: object = None            # the classifier head's module name (gwa_paper); None: the last Linear; False: none
    loss_reduction: object = "mean"    # "mean" | "sum" | the per-sample gradient scale
    auto_step: object = None           # None: where the optimizer has register_step_post_hook
    spool: object = None
    linger_ms: int = 500
    gpu_backend: bool = True
    gpu_timing: bool = True            # also off with TRAINTOP_GPU_TIMING=0
    scaler: object = None              # a GradScaler: per-sample sums are taken on the scaled loss
    system_metrics: object = 5.0       # seconds between system and GPU samples; 0 / None / False: off

    def __post_init__(self):
        if self.every is not None and (isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1):
            raise ValueError("every=%r: expected a positive sampling interval, or None for the overhead budget"
                             % (self.every,))
        ov = self.overhead
        if isinstance(ov, bool) or not isinstance(ov, (int, float)) or not 0 < ov <= 1:
            raise ValueError("overhead=%r: expected a fraction of the step time in (0, 1] (every=1 samples every "
                             "step whatever it costs)" % (ov,))
        lr = self.loss_reduction
        if lr not in ("mean", "sum") and not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError("loss_reduction=%r: expected 'mean', 'sum' or a positive grad scale" % (lr,))
        self.every = None if self.every is None else int(self.every)
        self.overhead = float(ov)
        self.linger_ms = int(self.linger_ms)
        self.persample_full = bool(self.persample_full)
        self.gpu_backend = bool(self.gpu_backend)
        self.gpu_timing = bool(self.gpu_timing) and os.environ.get("TRAINTOP_GPU_TIMING", "1") != "0"
        sm = self.system_metrics
        if sm is None or sm is False:
            sm = 0.0
        if isinstance(sm, bool) or not isinstance(sm, (int, float)) or not (sm >= 0 and math.isfinite(sm)):
            raise ValueError("system_metrics=%r: expected seconds between samples (0 turns them off)" % (self.system_metrics,))
        self.system_metrics = float(sm)


class Watch:
    """The handle traintop.watch() returns. Publish a step with step(); see docs/python.md."""

    def __init__(self, model, optimizer=None, run=None, every=None, endpoint=None, hparams=None,
                 spectral_every=0, persample=True, persample_full=False, gwa_window=50, gwa_head=None,
                 loss_reduction="mean", auto_step=None, spool=None, linger_ms=500, gpu_backend=True,
                 gpu_timing=True, scaler=None, overhead=0.015, system_metrics=5.0):
        o = self.options = Options(every=every, overhead=overhead, spectral_every=spectral_every, persample=persample,
                                   persample_full=persample_full, gwa_window=gwa_window, gwa_head=gwa_head,
                                   loss_reduction=loss_reduction, auto_step=auto_step, spool=spool,
                                   linger_ms=linger_ms, gpu_backend=gpu_backend, gpu_timing=gpu_timing,
                                   scaler=scaler, system_metrics=system_metrics)
        self._closed = True                # until the probe is open
        self._deferred = None              # (prepared step, scalars, DeviceScalars): published when they land
        self._lock = threading.RLock()
        self.every = o.every               # None: the overhead budget (the C probe's schedule)
        self.optimizer = optimizer
        is_compiled, model = compiled.unwrap(model)          # torch.compile(ddp_model), or ...
        self._ddp, self.model = ddp.unwrap(model)
        inner_compiled, self.model = compiled.unwrap(self.model)   # ... DDP(torch.compile(model))
        self.compiled = is_compiled or inner_compiled
        if o.every is None and sharded.has_sharded(self.model):
            o.every = self.every = sharded.SHARDED_EVERY     # every rank must sample the same steps
        self.rank, self.world_size = ddp.rank_world()
        self.every = o.every
        self.run = ddp.shared_run_name(default_run_name(), self.world_size) if run is None else run
        self.probe = Probe(self.run, endpoint=endpoint, rank=self.rank, world_size=self.world_size,
                           every=o.every or 0, overhead=o.overhead, spectral_every=o.spectral_every,
                           persample_full=o.persample_full, gwa_window=o.gwa_window, spool=o.spool)
        self._closed = False
        _LIVE.add(self)

        # how steps get published
        post = getattr(optimizer, "register_step_post_hook", None) if optimizer is not None else None
        self.auto_step = bool(post) if o.auto_step is None else bool(o.auto_step and post)
        self._hook_quiet = False           # step() came with no optimizer step pending: the hook stays quiet
        self._after_capture = False        # the optimizer hook met a CUDA graph capture
        self._pending = False              # an optimizer step is prepared and not yet published
        self._prepared = None
        self._step = 0                     # the last published step
        self._logged = {}
        self._stop = False
        self.stop_reason = None
        self._warned = set()
        self._handles = []
        self._grad_sq = None               # DDP: ddp.LocalGradSq
        # `every` is only the GPU backend's default schedule: prepare() hands it each step's decision
        self._layers = Layers(self.probe, self._warn, o.every or 1, alias_grads=not self.auto_step,
                              gpu_backend=o.gpu_backend, gpu_timing=o.gpu_timing, persample_full=o.persample_full)
        self._persample = PerSample(self)
        self._system = None
        if self.compiled and persample:
            self._warn("compile", compiled.PERSAMPLE_MSG)
            persample = False
        try:
            if o.system_metrics:
                try:
                    self._system = SystemMetrics(self.probe, o.system_metrics, model_cuda_devices(self.model))
                except TraintopError as e:      # the run goes on without them
                    self._warn("system", "traintop: no system metrics: %s" % e)
            self._send_hparams(hparams)
            self._layers.register_model(self.model)
            # Python's time is the probe's cost only when nothing lives on a device: there, the backends'
            # reads wait for the training's own kernels (GPU time is the GPU backend's to report)
            self._host_cost = all(p.device.type == "cpu" for p in self.model.parameters())
            self._handles += self._persample.register(self.model, self._layers, persample, head=o.gwa_head)
            self._register_hooks()
        except BaseException:
            for h in self._handles:
                h.remove()
            self._closed = True
            self._layers.close(lambda: self.probe.close(None, 0))   # no run_start was sent: nothing to end
            _LIVE.discard(self)
            raise

    # ------------------------------------------------------------------ set-up

    def _send_hparams(self, hparams):
        if self.rank != 0:
            return                          # run metadata once per run: rank 0 carries it
        hp = {"framework": "torch " + torch.__version__, "world_size": self.world_size,
              "params": sum(p.numel() for p in self.model.parameters())}
        opt = self.optimizer
        if opt is not None and opt.param_groups:
            g = opt.param_groups[0]
            hp["optimizer"] = type(opt).__name__
            for k in ("lr", "weight_decay", "momentum"):
                if isinstance(g.get(k), (int, float)):
                    hp[k] = g[k]
            if isinstance(g.get("betas"), (tuple, list)) and len(g["betas"]) == 2:
                hp["beta1"], hp["beta2"] = g["betas"]
        hp.update(hparams or {})
        for k, v in hp.items():
            if not self.probe.hparam(k, v if isinstance(v, (bool, int, float, str)) else str(v)):
                self._warn("hparam:" + str(k), "traintop: hyperparameter %r was refused (bad name?)" % (k,))

    def _register_hooks(self):
        # No hook on the parameters themselves: the Linear outputs' hooks queue the end-of-backward
        # callback when per-sample statistics are wanted, and nothing else has to run during backward.
        if self.auto_step:
            self._handles.append(self.optimizer.register_step_post_hook(hooks.Hook(self._on_optimizer_step, self._warn)))
            pre = getattr(self.optimizer, "register_step_pre_hook", None)
            if pre is not None:
                self._handles.append(pre(hooks.Hook(self._on_optimizer_pre_step, self._warn)))
        if self._ddp is not None:
            self._grad_sq = ddp.attach(self._ddp, self, self._warn, persample=bool(self._persample.linear))

    def _warn(self, key, msg):
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(msg, RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------------ stepping

    def _upcoming(self):
        return self._step + 1 + (1 if self._pending else 0)

    def _plan(self, step, ahead):
        """The kinds the probe samples at `step`, the ahead-th step to be published (SAMPLE_* bits): by its
        number on a fixed schedule, by its place under the budget (exact for the next two)."""
        return self.probe.sampled(step if self.every else self._step + ahead)

    def _persample_due(self):
        """Whether the step being trained (the upcoming one) takes per-sample statistics."""
        return bool(self._plan(self._upcoming(), 2 if self._pending else 1) & SAMPLE_PERSAMPLE)

    def _on_optimizer_pre_step(self, optimizer, args, kwargs):
        # the pending step's weights are read in place: publish it before they change
        if not self._closed and self._pending and not hooks.capturing():
            self._emit_pending()

    def _on_optimizer_step(self, optimizer, args, kwargs):
        if self._closed or self._hook_quiet:
            return
        if hooks.capturing():
            self._warn("capture", hooks.CAPTURE_MSG)
            self._hook_quiet = True          # replays run no hooks: from now on tt.step() publishes
            self._after_capture = True
            return
        with self._lock:
            if self._pending:
                self._emit_pending()
            self._prepare()
            self._pending = True

    def _read_optimizer(self):
        opt = self.optimizer
        if opt is None or not opt.param_groups:
            return None
        groups = opt.param_groups
        g = groups[0]

        def num(x, default=0.0):
            try:
                return float(x)
            except (TypeError, ValueError):
                return default
        lr = num(g.get("lr"), math.nan)
        wd = num(g.get("weight_decay", 0.0))
        name = type(opt).__name__.lower()
        kind, mom = None, 0.0
        if "betas" in g:
            mom = num(g["betas"][0])
            if name == "adamw" or g.get("decoupled_weight_decay") or wd == 0:
                kind = "adamw"
        elif name == "sgd" or "momentum" in g:
            mom = num(g.get("momentum", 0.0))
            kind = "sgd" if name == "sgd" else None
        lrs = [num(x.get("lr"), math.nan) for x in groups[1:9]]
        return kind, lr, wd, mom, lrs

    def _prepare(self, step=None, tensors=()):
        """What must be read right after the optimizer step: gradients, device statistics, optimizer."""
        self._publish_deferred()            # the probe's state must be that of the step before
        t_in = time.perf_counter()
        step = self._step + 1 if step is None else int(step)
        if self._persample.compiled_seen:
            self._warn("compile", compiled.PERSAMPLE_MSG)   # compiled after watch(): the hooks stood aside
        extras = list(tensors)
        sq = self._grad_sq.take() if self._grad_sq is not None else None
        if sq is not None:
            extras.append(sq)
        t0 = time.perf_counter()
        with torch.no_grad():
            values = self._layers.prepare(step, bool(self._plan(step, 1) & SAMPLE_STATS),
                                          bool(self._plan(step + 1, 2) & SAMPLE_STATS), extras)
        t1 = time.perf_counter()
        self._prepared = {"step": step, "opt": self._read_optimizer(), "logged": self._logged,
                          "local_sq": values[-1] if sq is not None else None, "values": values[:len(tensors)]}
        self._logged = {}                   # later log() calls are for the next step
        # the overhead budget counts the package's own time: gradient copies and statistics as §1 work,
        # the rest as what every step costs
        if self._host_cost:
            self.probe.cost(SAMPLE_STATS, t1 - t0)
            self.probe.cost(0, (t0 - t_in) + (time.perf_counter() - t1))

    # ------------------------------------------------------------------ publishing

    def _emit(self, scalars):
        """Publishes the prepared step; a step that samples nothing, with scalars still on a GPU, once their
        copy has landed (DeviceScalars: no host wait in such a step). The next one is numbered after it
        either way."""
        self._publish_deferred()
        prep, self._prepared = self._prepared, None
        step = prep["step"]
        if step <= self._step:
            raise TraintopError("step %d: steps must increase (last published: %d)" % (step, self._step))
        if any(_on_gpu(v) for v in scalars.values()) and not self._plan(step, 1):
            self._deferred = (prep, scalars, DeviceScalars(scalars))
        else:
            self._publish(prep, scalars)
        self._step = step
        self._persample.published(step)

    def _publish_deferred(self):
        if self._deferred is not None:
            (prep, scalars, dev), self._deferred = self._deferred, None
            landed = dev.values()
            self._publish(prep, {k: landed.get(k, v) for k, v in scalars.items()}, dev.ended)

    def _publish(self, prep, scalars, ended=None):
        t_in = time.perf_counter()
        step = prep["step"]
        p = self.probe
        # first: on a sampled step collect waits for the device's statistics, which come after a loss
        # tensor in stream order, so reading tensor scalars after it costs no wait of its own
        t0 = time.perf_counter()
        gpu_wait = self._layers.collect()       # of which waiting for the device's work, not the probe's
        t1 = time.perf_counter()
        for name, value in list(prep["logged"].items()) + [(k, _num(v)) for k, v in scalars.items()]:
            if not p.scalar(name, value):
                self._warn("scalar:" + name, "traintop: scalar %r refused (name, or more than 64 names in a run)" % name)
        t2 = time.perf_counter()                # a tensor scalar waits for the training's own work
        opt = prep["opt"]
        if opt is not None:
            kind, lr, wd, mom, lrs = opt
            p.scalar("lr", lr)
            for i, x in enumerate(lrs):
                if x != lr:
                    p.scalar("lr_%d" % (i + 1), x)
            if kind is not None and math.isfinite(lr):
                p.optimizer(kind, lr, wd, mom)
        if prep["local_sq"] is not None:
            p.scalar("local_grad_sq", prep["local_sq"])
        if self._system is not None:
            for name, value in self._system.scalars().items():
                p.scalar(name, value)
        p.cost(SAMPLE_STATS, max(0.0, t1 - t0 - gpu_wait))
        if self._host_cost:
            p.cost(0, (t0 - t_in) + (time.perf_counter() - t2))
        p.step(step, ended)

    def _emit_pending(self):
        with self._lock:
            if self._pending:
                self._pending = False
                self._emit({})

    # ------------------------------------------------------------------ public API

    def step(self, loss=None, step=None, **scalars):
        """Marks the end of a training step (after optimizer.step()) and publishes it with the scalars
        given (numbers or 0-d tensors; tensors leave the device with the statistics, in one transfer).
        step= overrides the step number (it must increase). Returns should_stop."""
        if self._closed:
            raise TraintopError("run %r is closed" % self.run)
        if loss is not None:
            scalars["loss"] = loss
        if hooks.capturing():
            self._warn("capture-step", "traintop: tt.step() during a CUDA graph capture is ignored: call it after each replay")
            return self._stop
        with self._lock:
            if self._pending and self._after_capture:
                self._pending = False           # read before the capture: published on its own first
                self._emit({})
            self._after_capture = False
            if self._pending:                   # the optimizer hook already read gradients and statistics
                self._pending = False
                if step is not None:
                    self._prepared["step"] = int(step)
                self._emit(scalars)
            else:
                # called with no optimizer step pending (before optimizer.step(), or without an
                # optimizer hook): this call publishes every step, the optimizer hook no longer does
                self._hook_quiet = True
                self._publish_deferred()
                # GPU tensors of a step that samples nothing are left to _emit (no wait); the others
                # ride along with the statistics copy
                quiet = not self._plan(self._step + 1 if step is None else int(step), 1)
                tensors = [(k, v) for k, v in scalars.items() if isinstance(v, torch.Tensor) and not (quiet and _on_gpu(v))]
                self._prepare(step, [v for _, v in tensors])
                vals = dict(zip((k for k, _ in tensors), self._prepared["values"]))
                self._emit({k: vals.get(k, v) for k, v in scalars.items()})
        return self.should_stop

    def log(self, **scalars):
        """Sets scalars for the coming step without publishing it: with automatic stepping, call it
        before optimizer.step() (after it, the values belong to the next optimizer step)."""
        for k, v in scalars.items():
            self._logged[k] = _num(v)

    @property
    def should_stop(self):
        """True once the collector (a rule or a user) asked this run to stop; stop_reason says why."""
        if not self._stop and not self._closed:
            stop, reason = self.probe.should_stop()
            if stop:
                self._stop, self.stop_reason = True, reason
        return self._stop

    @property
    def last_step(self):
        return self._step

    @property
    def pending(self):
        """True while an optimizer step has been read (automatic stepping) and awaits publishing: what
        the framework callbacks (traintop.integrations) check before calling step()."""
        return self._pending

    @property
    def grad_copies(self):
        """Gradient copies into the in-place backend's buffers (docs/python.md, What is measured)."""
        return self._layers.cpu.grad_copies

    @property
    def persample_layers(self):
        return self._persample.layers

    @property
    def persample_skipped(self):
        return self._persample.skipped

    @property
    def gamma_coverage(self):
        """Fraction of the trainable parameters in layers with per-sample statistics (γ, GWA)."""
        return self._persample.coverage

    @property
    def gwa_head(self):
        """The layer whose own γ give the paper's head-only GWA (gwa_paper), or None."""
        return self._persample.head

    def counters(self):
        """The C probe's counters (sent, dropped, steps, stats_seconds, …), grad_copies and the GPU
        backend's gpu_layers and gpu_device_bytes."""
        c = self.probe.counters() if not self._closed else {}
        c.update(self._layers.counters())
        return c

    def close(self, status=None):
        """Publishes what is pending and the run's end, removes every hook, frees the C probe.
        status: "finished", "stopped" or "failed" (default: "stopped" if asked to stop, else "finished")."""
        if self._closed:
            return
        with self._lock:
            try:
                if self._pending:
                    self._emit_pending()
                self._publish_deferred()
            except Exception:
                pass
            for h in self._handles:
                h.remove()
            self._handles = []
            self._persample.clear()
            self._closed = True                 # the DDP comm hook (not removable) passes through from now on
            if status is None:
                status = "stopped" if self._stop else "finished"
            self._layers.close(lambda: self.probe.close(status, self.options.linger_ms))
        _LIVE.discard(self)

    @property
    def closed(self):
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("stopped")
        else:
            self.close("failed")
        return False

    def __repr__(self):
        return "<traintop.Watch run=%r rank=%d/%d step=%d%s>" % (self.run, self.rank, self.world_size, self._step,
                                                                " closed" if self._closed else "")

