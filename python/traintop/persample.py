"""Per-sample statistics (METRICS.md §2) of nn.Linear layers: the hooks that gather each layer's batch.

A forward hook keeps the input a and the output z (and registers a tensor hook on z that keeps dL/dz);
at the end of the backward pass (an autograd final callback, queued by the first output gradient) every
Linear's batch goes to the backend that holds its weight and bias: tt_probe_dense_batch for in-place
layers, tt_cuda_dense_batch on the GPU (summed there, handed to the probe at collect) — before the
optimizer changes the weights, as the C API requires. Under DDP, see ddp.py for which gradient Ḡ is.
"""
import time
import weakref

import torch
import torch.nn as nn

from . import hooks
from .compiled import compiling
from ._lib import TraintopError
from .probe import SAMPLE_PERSAMPLE

__all__ = ["PerSample"]

_MAX_SAVED = 64            # per Linear and step: forward calls kept for per-sample statistics


class _GradKeeper:
    """Tensor hook on a Linear's output: stores dL/dz in the saved entry, found by key. It must not
    reference the entry (which holds z): z → its hook → entry → z would be a cycle through autograd
    that Python's collector cannot see, leaking every step's activations."""
    __slots__ = ("owner", "module", "key")

    def __init__(self, owner, module, key):
        self.owner, self.module, self.key = weakref.ref(owner), weakref.ref(module), key

    def __call__(self, g):
        ps = self.owner()
        if ps is not None and not ps.w.closed:
            hooks.guarded(ps.w._warn, ps._keep_grad, self.module(), self.key, g)


class PerSample:
    """The per-sample work of one watcher w (a traintop.Watch): its layers, hooks and saved batches."""

    def __init__(self, w):
        self.w = w
        self.linear = {}                  # module -> (owner, weight index, bias index)
        self.saved = {}                   # module -> {key: [a, z, z_version, dz, step]}
        self.key = 0
        self.layers = []                  # names of the Linears covered
        self.skipped = {}                 # name -> why not
        self.cb_queued = False            # the end-of-backward callback is queued
        self.n_backward = 0               # backward passes since the last published step
        self.c_seconds = 0.0              # of this backward's per-sample work, what the C probe timed itself
        self.compiled_seen = False        # a hook found itself traced by torch.compile (compiled.py)

    def register(self, model, layers, enabled):
        """Picks the covered Linears (weight and bias on one per-sample-capable backend, not shared) and
        returns the hook handles."""
        handles = [model.register_forward_pre_hook(hooks.Hook(self._on_forward_pre, self.w._warn))]
        if not enabled:
            return handles
        uses = {}
        for m in model.modules():
            for p in m._parameters.values():
                if p is not None:
                    uses[id(p)] = uses.get(id(p), 0) + 1
        for name, m in model.named_modules():
            if not isinstance(m, nn.Linear):
                continue
            w = layers.find(m.weight)
            b = layers.find(m.bias) if m.bias is not None else None
            why = None
            if w is None or not w[0].can_persample or (m.bias is not None and (b is None or b[0] is not w[0])):
                why = getattr(w and w[0], "persample_refusal", None) or \
                    "neither a contiguous float32 CPU tensor nor on the GPU backend"
            elif uses.get(id(m.weight), 0) > 1 or (m.bias is not None and uses.get(id(m.bias), 0) > 1):
                why = "parameter shared with another module"
            if why:
                self.skipped[name] = why
                continue
            self.linear[m] = (w[0], w[1], b[1] if b is not None else -1)
            self.layers.append(name)
            handles.append(m.register_forward_hook(hooks.Hook(self._on_linear_forward, self.w._warn)))
        return handles

    def published(self, step):
        """Step `step` was published: a new step begins, forward passes no backward pass followed are dropped."""
        self.n_backward = 0
        self.cb_queued = False
        for module in list(self.saved):
            live = {k: e for k, e in self.saved[module].items() if e[4] > step}
            if live:
                self.saved[module] = live
            else:
                del self.saved[module]

    def clear(self):
        self.saved = {}

    # ------------------------------------------------------------------ hooks

    def _on_forward_pre(self, module, inputs):
        if compiling():
            return                         # traced by torch.compile: nothing of the probe in the graph
        if not self.w.closed:
            self.cb_queued = False         # a backward that failed half-way left no callback behind

    def _on_linear_forward(self, module, inputs, output):
        if compiling():                    # compiled after watch(): no per-sample hooks in the graph
            self.compiled_seen = True
            return
        w = self.w
        if w.closed or not torch.is_grad_enabled() or not isinstance(output, torch.Tensor) or not output.requires_grad:
            return
        if hooks.capturing():
            w._warn("capture", hooks.CAPTURE_MSG)
            return
        if not inputs or not isinstance(inputs[0], torch.Tensor) or not w._persample_due():
            return
        upcoming = w._upcoming()
        saved = self.saved.setdefault(module, {})
        if len(saved) >= _MAX_SAVED:
            return
        self.key += 1
        saved[self.key] = [inputs[0].detach(), output, output._version, None, upcoming]
        output.register_hook(_GradKeeper(self, module, self.key))

    def _keep_grad(self, module, key, g):
        entry = self.saved.get(module, {}).get(key)
        if entry is not None:
            entry[3] = g
            self._ensure_callback()

    def _ensure_callback(self):
        if self.cb_queued or hooks.capturing():
            return
        if self.w._pending:
            self.w._emit_pending()         # before this backward overwrites anything
        self.cb_queued = True
        try:
            torch.autograd.Variable._execution_engine.queue_callback(hooks.Hook(self._backward_end, self.w._warn))
        except RuntimeError:
            self.cb_queued = False

    def _backward_end(self):
        self.cb_queued = False
        w = self.w
        if w.closed:
            return
        with w._lock:
            self.n_backward += 1
            saved, self.saved = self.saved, {}
            upcoming = w._upcoming()
            if not w._persample_due():
                return
            t0, self.c_seconds = time.perf_counter(), 0.0
            try:
                self._batches(saved, upcoming)
            finally:      # the time of this work, less the C calls the probe times itself
                w.probe.cost(SAMPLE_PERSAMPLE, time.perf_counter() - t0 - self.c_seconds)

    @torch.no_grad()
    def _batches(self, saved, upcoming):
        w = self.w
        w._layers.sync_grads()
        if self.n_backward > 1:
            if saved:
                w._warn("accum", "traintop: several backward passes before one optimizer step (gradient "
                                 "accumulation, or a step a loss scaler skipped): per-sample statistics "
                                 "describe the first one only")
            return
        for module, entries in saved.items():
            self._dense_batch(module, [e for e in entries.values() if e[4] == upcoming])

    # ------------------------------------------------------------------ one Linear's batch

    def _dense_batch(self, module, entries):
        entries = [e for e in entries if e[3] is not None]
        if not entries:
            return
        owner, wi, bi = self.linear[module]
        d_in, d_out = module.in_features, module.out_features
        parts_a, parts_d, parts_z = [], [], []
        B = None
        for a, z, zver, dz, _ in entries:
            b = a.shape[0] if a.dim() >= 2 else 1
            if B is None:
                B = b
            elif b != B:
                self.w._warn("calls:%d" % id(module), "traintop: a Linear called with different batch sizes in one "
                                                     "step: no per-sample statistics for it")
                return
            parts_a.append(a.reshape(b, -1, d_in))
            parts_d.append(dz.detach().reshape(b, -1, d_out))
            parts_z.append(z.detach().reshape(b, -1, d_out) if z._version == zver else None)
        if any(t.device.type != owner.persample_device for t in parts_a + parts_d):
            return
        # one element type for A, D and Z, the backend's choice (the CPU's is float32)
        dtype = owner.batch_dtype({t.dtype for t in parts_a + parts_d + [z for z in parts_z if z is not None]})
        cat = (lambda xs: xs[0]) if len(parts_a) == 1 else (lambda xs: torch.cat(xs, dim=1))
        A = cat(parts_a).to(dtype).contiguous()
        D = cat(parts_d).to(dtype).contiguous()
        Z = None if any(z is None for z in parts_z) else cat(parts_z).to(dtype).contiguous()
        T = A.shape[1]
        if A.shape[0] != B or D.shape[1] != T:
            return
        # A mean-reduced loss backpropagates δ_i/B (scale B gives each sample's own gradient) and its
        # gradient is the mean of the g_i. A summed loss backpropagates δ_i itself (scale 1) and its
        # gradient is B × that mean (gbar_scale 1/B). Every statistic is then exact either way.
        reduction = self.w.options.loss_reduction
        if reduction == "mean":
            scale, gbar_scale = float(B), 0.0
        elif reduction == "sum":
            scale, gbar_scale = 1.0, 1.0 / B
        else:
            scale, gbar_scale = float(reduction), 0.0
        # Under a loss scaler the backward pass ran on S × loss: δ and the gradient read now are S times
        # the loss's own (scaler.step() unscales the gradient later). On the GPU the kernels read S from
        # the scaler's own tensor; elsewhere S is read on the host.
        S, S_dev = self._loss_scale(A.device if owner.device_loss_scale else None)
        if S != 1.0:
            scale, gbar_scale = scale / S, (gbar_scale if gbar_scale > 0 else 1.0) / S
        t0 = time.perf_counter()
        try:
            owner.dense_batch(wi, bi, A, D, Z, scale, gbar_scale, loss_scale=S_dev)
        except TraintopError as e:
            self.w._warn("dense:" + str(e)[:40], "traintop: per-sample statistics: %s" % e)
        finally:
            if getattr(owner, "timed_by_probe", False):      # tt_probe_dense_batch times itself
                self.c_seconds += time.perf_counter() - t0

    def _loss_scale(self, device):
        """(S, None) with S read on the host, or (1.0, the scaler's float32 scale tensor on `device`)."""
        sc = self.w.options.scaler
        if sc is None or not sc.is_enabled():
            return 1.0, None
        t = getattr(sc, "_scale", None)
        if (device is not None and isinstance(t, torch.Tensor) and t.device == device and t.dtype == torch.float32
                and t.numel() == 1):
            return 1.0, t
        return float(sc.get_scale()), None
