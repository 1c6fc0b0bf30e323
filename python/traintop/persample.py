"""Per-sample statistics (METRICS.md §2): the hooks that gather each covered layer's batch.

A forward hook keeps the input a and the output z (and registers a tensor hook on z that keeps dL/dz);
at the end of the backward pass (an autograd final callback, queued by the first output gradient) every
layer's batch goes to the backend that holds its weight and bias: tt_probe_dense_batch for in-place
layers, tt_cuda_dense_batch on the GPU (summed there, handed to the probe at collect) — before the
optimizer changes the weights, as the C API requires. Under DDP, see ddp.py for which gradient Ḡ is.

Layer kinds, each reduced to the dense form g_i = Σ_t δ_it a_itᵀ (no per-sample gradient is formed):
  nn.Linear      a = the input, δ = dL/dz, one token per leading position.
  Conv1D         transformers' (GPT-2, GPT-J style; told by class name and nf/nx, transformers is not
                 imported): z = a W + b with W stored nx × nf, a Linear with the weight transposed. Sent
                 with the roles of a and δ exchanged, so the backends read W and Ḡ in their stored layout;
                 the bias as a layer of its own with input 1 and δ summed over tokens (_conv1d).
  nn.Conv2d      (groups 1, zero padding) the weight as C_out × (C_in·kh·kw): a = the unfolded input
                 patches, one token per output position, δ = dL/dz at that position.
  nn.MultiheadAttention  the in-projection (3E × E, packed): q, k and v tokens as tokens of one layer,
                 each with δ nonzero in its own block only. δ_q, δ_k, δ_v are not visible to hooks: they
                 are recomputed from the saved inputs and dL/d(output) through the attention (one more
                 attention forward and backward; attention dropout must be off or the module in eval).
  nn.Embedding   g_i = Σ_t e_{x_it} δ_itᵀ: ⟨g_i,W⟩ = Σ_t δ_it·z_it, ‖g_i‖² = Σ_v ‖Σ_{t: x_it = v} δ_it‖²
                 (sums in torch, handed in with tt_probe_persample_sums).
The classifier head (the last covered nn.Linear, or watch(gwa_head=NAME)) also fills the paper's
head-only GWA window (gwa_paper).
"""
import time
import weakref

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import hooks
from .compiled import compiling
from ._lib import TraintopError
from .probe import SAMPLE_PERSAMPLE

__all__ = ["PerSample"]

_MAX_SAVED = 64            # per layer and step: forward calls kept for per-sample statistics
_LOW_COVERAGE = 0.5        # warn below this fraction of parameters with per-sample statistics
_MHA_ARGS = ("key_padding_mask", "need_weights", "attn_mask", "average_attn_weights", "is_causal")


def _probe_indexed(owner):
    """Whether the owner's layer indices are the probe's own (the in-place and torch-ops backends; the
    GPU backend numbers its layers itself)."""
    return getattr(owner, "persample_device", "cpu") != "cuda"


def _is_conv1d(m):
    """Whether m is a transformers Conv1D (transformers.pytorch_utils.Conv1D: GPT-2, GPT-J-style models) or a
    module of the same semantics, told by its class name and its nf/nx attributes — transformers is never
    imported here (it may be absent)."""
    return any(c.__name__ == "Conv1D" for c in type(m).__mro__) and \
        isinstance(getattr(m, "nf", None), int) and isinstance(getattr(m, "nx", None), int)


def _kind(m):
    """The per-sample kind of a module and why not, as (kind, None) or (None, reason)."""
    if isinstance(m, nn.Linear):
        return "linear", None
    if _is_conv1d(m):
        w, b = m._parameters.get("weight"), m._parameters.get("bias")
        if w is None or tuple(w.shape) != (m.nx, m.nf) or (b is not None and tuple(b.shape) != (m.nf,)):
            return None, "Conv1D whose weight is not nx × nf (or whose bias is not nf)"
        return "conv1d", None
    if isinstance(m, nn.Conv2d):
        if m.groups != 1 or m.padding_mode != "zeros" or m.padding == "same":
            return None, "Conv2d with groups > 1, padding 'same' or a padding mode other than zeros"
        return "conv2d", None
    if isinstance(m, nn.Embedding):
        if m.max_norm is not None or m.scale_grad_by_freq:
            return None, "Embedding with max_norm or scale_grad_by_freq"
        return "embedding", None
    if isinstance(m, nn.MultiheadAttention):
        if not m._qkv_same_embed_dim or m.in_proj_weight is None:
            return None, "MultiheadAttention with separate q/k/v projection weights"
        return "mha", None
    return None, None


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
        self.linear = {}                  # module -> (owner, weight index, bias index, kind)
        self.mha_out = {}                 # MultiheadAttention -> its out_proj's (owner, weight index, bias index)
        self.saved = {}                   # module -> {key: [a, z, z_version, dz, step]}
        self.key = 0
        self.layers = []                  # names of the layers covered
        self.skipped = {}                 # name -> why not
        self.coverage = 0.0               # fraction of the parameters in covered layers
        self.head = None                  # the classifier head's name (gwa_paper), or None
        self.cb_queued = False            # the end-of-backward callback is queued
        self.n_backward = 0               # backward passes since the last published step
        self.c_seconds = 0.0              # of this backward's per-sample work, what the C probe timed itself
        self.compiled_seen = False        # a hook found itself traced by torch.compile (compiled.py)
        self.names = {}                   # covered module -> its name
        self.root_batch = 0               # leading size of the model's first tensor input, last forward

    def register(self, model, layers, enabled, head=None):
        """Picks the covered layers (weight and bias on one per-sample-capable backend, not shared) and
        the classifier head (head: a module name, False for none, None for the last covered Linear), and
        returns the hook handles."""
        pre = hooks.Hook(self._on_forward_pre, self.w._warn)
        try:              # the model's keyword inputs too (transformers calls model(**batch)); torch >= 2.0
            handles = [model.register_forward_pre_hook(pre, with_kwargs=True)]
        except TypeError:
            handles = [model.register_forward_pre_hook(pre)]
        if not enabled:
            return handles
        uses = {}
        for m in model.modules():
            for p in m._parameters.values():
                if p is not None:
                    uses[id(p)] = uses.get(id(p), 0) + 1
        linears = []
        inner = set()                      # out_proj of a covered MultiheadAttention: covered with it
        for name, m in model.named_modules():
            kind, why = _kind(m)
            if m in inner:
                continue
            if kind is None:
                if why:
                    self.skipped[name] = why
                continue
            weight = m.in_proj_weight if kind == "mha" else m.weight
            bias = None if kind == "embedding" else (m.in_proj_bias if kind == "mha" else m._parameters.get("bias"))
            w = layers.find(weight)
            b = layers.find(bias) if bias is not None else None
            if w is None or (bias is not None and (b is None or b[0] is not w[0])):
                why = "weight and bias not registered with one backend"
            elif kind == "embedding" and not _probe_indexed(w[0]):
                why = "on the GPU backend (its per-sample sums are computed for dense layers only)"
            elif kind != "embedding" and not w[0].can_persample:
                why = getattr(w[0], "persample_refusal", None) or \
                    "neither a contiguous float32 CPU tensor nor on the GPU backend"
            elif uses.get(id(weight), 0) > 1 or (bias is not None and uses.get(id(bias), 0) > 1):
                why = "parameter shared with another module"
            if kind == "mha" and not why:
                o = m.out_proj
                ow, ob = layers.find(o.weight), layers.find(o.bias) if o.bias is not None else None
                if ow is None or ow[0] is not w[0] or (o.bias is not None and (ob is None or ob[0] is not w[0])):
                    why = "out_proj not registered with the in-projection's backend"
                else:
                    self.mha_out[m] = (ow[0], ow[1], ob[1] if ob is not None else -1)
                    inner.add(o)
            if why:
                self.skipped[name] = why
                continue
            self.linear[m] = (w[0], w[1], b[1] if b is not None else -1, kind)
            self.names[m] = name
            self.layers.append(name)
            if kind == "linear":
                linears.append((name, m))
            with_kwargs = {"with_kwargs": True} if kind == "mha" else {}
            handles.append(m.register_forward_hook(hooks.Hook(self._on_layer_forward, self.w._warn), **with_kwargs))
        self.total = total = sum(p.numel() for p in model.parameters() if p.requires_grad)
        covered = sum(p.numel() for m in list(self.linear) + list(inner) for p in m.parameters(recurse=False)
                      if p.requires_grad)
        self.coverage = covered / total if total else 0.0
        if total and self.coverage < _LOW_COVERAGE:
            why = "; ".join("%s: %s" % kv for kv in list(self.skipped.items())[:3])
            self.w._warn("coverage", "traintop: per-sample statistics (γ, GWA, noise scale) cover %.0f%% of the "
                                     "parameters%s" % (100 * self.coverage, " (not covered: " + why + ")" if why else ""))
        self._pick_head(head, linears)
        return handles

    def _pick_head(self, head, linears):
        if head is False or not linears:
            return
        named = dict(linears)
        if head is not None and head not in named:
            raise ValueError("gwa_head=%r: expected the name of a covered nn.Linear (%s)" % (head, ", ".join(named)))
        name = head if head is not None else linears[-1][0]
        owner, wi, _, _ = self.linear[named[name]]
        if _probe_indexed(owner) and self.w.probe.gwa_head(wi):
            self.head = name

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

    def _on_forward_pre(self, module, inputs, kwargs=None):
        if compiling():
            return                         # traced by torch.compile: nothing of the probe in the graph
        if not self.w.closed:
            self.cb_queued = False         # a backward that failed half-way left no callback behind
            first = next((t for t in list(inputs) + list((kwargs or {}).values())
                          if isinstance(t, torch.Tensor) and t.dim() >= 1), None)
            self.root_batch = first.shape[0] if first is not None else 0

    def _lead(self, module, a):
        """The batch size of a covered layer's input, or None where it has none to tell (an unbatched input;
        MultiheadAttention, whose batch may be the second dimension)."""
        kind = self.linear[module][3]
        if kind == "mha" or not isinstance(a, torch.Tensor) or a.dim() < (4 if kind == "conv2d" else 2):
            return None
        return a.shape[0]

    def _broadcast(self, module, batch, step_batch):
        """A layer whose input has a batch of 1 in a step whose batch is larger (position ids of shape 1×T,
        a learned query expanded afterwards) is broadcast across the samples: its output gradient is
        already summed over them, so no per-sample statistic exists for it. Dropped from the coverage
        for good, said once. Whether it was."""
        if batch != 1 or step_batch <= 1:
            return False
        name = self.names.pop(module, None)
        self.linear.pop(module, None)
        self.saved.pop(module, None)
        if name is not None:
            self.coverage -= sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad) / self.total
            self.layers.remove(name)
            self.skipped[name] = "input broadcast across the batch (batch 1 in steps of %d)" % step_batch
            self.w._warn("broadcast:" + name, "traintop: per-sample statistics: layer %s takes an input of batch 1 "
                                             "in a step of batch %d (broadcast across the samples, as position "
                                             "ids are): not covered" % (name, step_batch))
        return True

    def _on_layer_forward(self, module, inputs, *rest):
        if compiling():                    # compiled after watch(): no per-sample hooks in the graph
            self.compiled_seen = True
            return
        kwargs, output = rest if len(rest) == 2 else ({}, rest[0])
        if isinstance(output, tuple):     # MultiheadAttention: (attn_output, weights)
            output = output[0]
        w = self.w
        if w.closed or not torch.is_grad_enabled() or not isinstance(output, torch.Tensor) or not output.requires_grad:
            return
        if hooks.capturing():
            w._warn("capture", hooks.CAPTURE_MSG)
            return
        if not inputs or not isinstance(inputs[0], torch.Tensor) or not w._persample_due():
            return
        if module not in self.linear:      # dropped since (_broadcast)
            return
        if self._broadcast(module, self._lead(module, inputs[0]), self.root_batch):
            return
        upcoming = w._upcoming()
        saved = self.saved.setdefault(module, {})
        if len(saved) >= _MAX_SAVED:
            return
        self.key += 1
        if self.linear[module][3] == "mha":
            args = dict(zip(("query", "key", "value") + _MHA_ARGS, inputs))
            args.update(kwargs)
            if len(inputs) < 3 and not all(k in args for k in ("query", "key", "value")):
                return
            a = (args["query"].detach(), args["key"].detach(), args["value"].detach(),
                 {k: args[k] for k in ("key_padding_mask", "attn_mask", "is_causal") if k in args})
        else:
            a = inputs[0].detach()
        saved[self.key] = [a, output, output._version, None, upcoming]
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
            w._publish_deferred()          # the C probe takes the batch for the step after the last published
            t0, self.c_seconds = time.perf_counter(), 0.0
            try:
                self._batches(saved, upcoming)
            finally:      # the time of this work, less the C calls the probe times itself
                if w._host_cost:
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
        # where the model's own input told no batch: the largest of the layers' (a broadcast input has 1)
        step_batch = max([self.root_batch] + [self._lead(m, e[0]) or 0 for m, entries in saved.items()
                                              if m in self.linear for e in entries.values()])
        for module, entries in saved.items():
            entries = [e for e in entries.values() if e[4] == upcoming]
            if module in self.linear and not (entries and self._broadcast(module, self._lead(module, entries[0][0]),
                                                                          step_batch)):
                self._dense_batch(module, entries)

    # ------------------------------------------------------------------ one Linear's batch

    def _parts(self, module, kind, a, z, zver, dz):
        """One forward call as dense-layer tokens: (A, D, Z) of shapes B×t×d_in, B×t×d_out (Z may be None);
        for an Embedding (indices B×t, δ B×t×d, z B×t×d); for MultiheadAttention pairs (in-projection,
        out-projection) of each."""
        dz = dz.detach()
        zok = z._version == zver
        if kind == "linear":
            b = a.shape[0] if a.dim() >= 2 else 1
            d_in, d_out = module.in_features, module.out_features
            return a.reshape(b, -1, d_in), dz.reshape(b, -1, d_out), z.detach().reshape(b, -1, d_out) if zok else None
        if kind == "conv1d":                       # z = a W + b, W of shape nx × nf; Z: see _dense_batch
            b = a.shape[0] if a.dim() >= 2 else 1
            return a.reshape(b, -1, module.nx), dz.reshape(b, -1, module.nf), None
        if kind == "conv2d":
            if a.dim() == 3:                       # an unbatched C×H×W input
                a, dz, z = a.unsqueeze(0), dz.unsqueeze(0), z.unsqueeze(0)
            b, c_out = a.shape[0], module.out_channels
            A = F.unfold(a, module.kernel_size, dilation=module.dilation, padding=module.padding, stride=module.stride)
            flat = (lambda t: t.detach().reshape(b, c_out, -1).transpose(1, 2))
            return A.transpose(1, 2), flat(dz), flat(z) if zok else None
        if kind == "embedding":
            b = a.shape[0] if a.dim() >= 2 else 1
            d = module.embedding_dim
            return a.reshape(b, -1), dz.reshape(b, -1, d), z.detach().reshape(b, -1, d)
        return self._mha_parts(module, a, dz)

    def _mha_parts(self, m, a, dout):
        """The in-projection's tokens: A = [x_q; x_k; x_v], D = blockwise [δ_q 0 0; 0 δ_k 0; 0 0 δ_v], with δ
        recomputed through the attention from the saved inputs and dL/d(attn_output); and the
        out-projection's (the functional attention uses its weight directly, so no hook sees it):
        A = the attention's context, D = dL/d(attn_output)."""
        q, k, v, kw = a
        if m.training and m.dropout > 0:
            self.w._warn("mha-dropout:%d" % id(m), "traintop: MultiheadAttention with dropout in training mode: its "
                                                   "in-projection gets no per-sample statistics")
            return None
        E = m.embed_dim
        if not m.batch_first and q.dim() == 3:
            q, k, v, dout = (t.transpose(0, 1) for t in (q, k, v, dout))
        if q.dim() == 2:
            q, k, v, dout = (t.unsqueeze(0) for t in (q, k, v, dout))
        W = m.in_proj_weight.detach()
        bias = m.in_proj_bias.detach() if m.in_proj_bias is not None else None
        det = (lambda t: t.detach() if t is not None else None)
        with torch.enable_grad():
            proj = [F.linear(x, W[i * E:(i + 1) * E], bias[i * E:(i + 1) * E] if bias is not None else None)
                    .detach().requires_grad_() for i, x in enumerate((q, k, v))]
            eye = torch.eye(E, dtype=W.dtype, device=W.device)
            # time-major for the functional form; the projections are ours, so its own are the identity
            ctx, _ = F.multi_head_attention_forward(
                *(t.transpose(0, 1) for t in proj), E, m.num_heads, None, None, det(m.bias_k), det(m.bias_v),
                m.add_zero_attn, 0.0, eye, None, training=False,
                key_padding_mask=kw.get("key_padding_mask"), need_weights=False, attn_mask=kw.get("attn_mask"),
                use_separate_proj_weight=True, q_proj_weight=eye, k_proj_weight=eye, v_proj_weight=eye,
                is_causal=bool(kw.get("is_causal", False)))
            ctx = ctx.transpose(0, 1)
            out = F.linear(ctx, m.out_proj.weight.detach(), det(m.out_proj.bias))
            dq, dk, dv = torch.autograd.grad(out, proj, dout)
        B, T, S = q.shape[0], q.shape[1], k.shape[1]
        A = torch.cat([q, k, v], dim=1)
        D = dq.new_zeros(B, T + 2 * S, 3 * E)
        D[:, :T, :E], D[:, T:T + S, E:2 * E], D[:, T + S:, 2 * E:] = dq, dk, dv
        return (A, ctx.detach()), (D, dout), (None, out.detach())

    def _dense_batch(self, module, entries):
        entries = [e for e in entries if e[3] is not None]
        if not entries:
            return
        owner, wi, bi, kind = self.linear[module]
        parts_a, parts_d, parts_z = [], [], []
        B = None
        for a, z, zver, dz, _ in entries:
            part = self._parts(module, kind, a, z, zver, dz)
            if part is None:
                return
            b = (part[0][0] if kind == "mha" else part[0]).shape[0]
            if B is None:
                B = b
            elif b != B:
                self.w._warn("calls:%d" % id(module), "traintop: a layer called with different batch sizes in one "
                                                     "step: no per-sample statistics for it")
                return
            parts_a.append(part[0])
            parts_d.append(part[1])
            parts_z.append(part[2])
        if kind == "embedding":
            self._embedding_sums(module, owner, wi, torch.cat(parts_a, 1), torch.cat(parts_d, 1), torch.cat(parts_z, 1))
            return
        if kind == "mha":                  # each part holds the in-projection's tokens and the out-projection's
            self._send(owner, wi, bi, B, [p[0] for p in parts_a], [p[0] for p in parts_d], [p[0] for p in parts_z])
            self._send(*self.mha_out[module], B, [p[1] for p in parts_a], [p[1] for p in parts_d], [p[1] for p in parts_z])
            return
        if kind == "conv1d":
            self._conv1d(owner, wi, bi, B, parts_a, parts_d)
            return
        self._send(owner, wi, bi, B, parts_a, parts_d, parts_z)

    def _conv1d(self, owner, wi, bi, B, parts_a, parts_d):
        """A Conv1D's batch. Its weight is registered as it is stored, nx × nf (rows × cols) = d_in × d_out,
        while the dense backends (tt_probe_dense_batch, tt_cuda_dense_batch) read a weight layer, and its
        Ḡ, as rows = outputs × cols = inputs, row-major, with g_i = Σ_t δ_it a_itᵀ (δ: B×T×rows, a:
        B×T×cols). So the roles are exchanged: the Conv1D's δ go in as that layer's inputs (nf = cols),
        its inputs a as the output gradients (nx = rows), and g_i = Σ_t a_it δ_itᵀ is the Conv1D's own
        per-sample gradient in the registered layout: ⟨g_i,W⟩, ‖g_i‖², ⟨g_i,Ḡ⟩ and the GSNR are exact
        (bilinear in a and δ, so grad_scale and a loss scale apply unchanged). The forward output
        z = a W + b is no pre-activation of that layer: no Z (one more GEMM). The bias (nf entries) is not
        that layer's (nx rows): it goes as a layer of its own, nf × 1, with one constant input 1 and δ
        summed over the tokens, b_i = Σ_t δ_it (in float64, then float32)."""
        self._send(owner, wi, -1, B, parts_d, parts_a, [None] * len(parts_a))
        if bi < 0:
            return
        D = torch.cat(parts_d, dim=1) if len(parts_d) > 1 else parts_d[0]
        Dsum = D.to(torch.float64).sum(1, keepdim=True).to(torch.float32)
        self._send(owner, bi, -1, B, [Dsum.new_ones(B, 1, 1)], [Dsum], [None])

    def _send(self, owner, wi, bi, B, parts_a, parts_d, parts_z):
        """One dense layer's tokens from all its calls this step, to its backend."""
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

    def _scales(self, B):
        """(per-sample gradient scale, Ḡ scale) of the loss reduction and any loss scaler, as _dense_batch."""
        reduction = self.w.options.loss_reduction
        scale, gbar = (float(B), 1.0) if reduction == "mean" else (1.0, 1.0 / B) if reduction == "sum" \
            else (float(reduction), 1.0)
        S, _ = self._loss_scale(None)
        return scale / S, gbar / S

    def _embedding_sums(self, m, owner, wi, idx, D, Z):
        """An Embedding's per-sample sums in float64: ⟨g_i,W⟩ = Σ_t δ_it·z_it; ‖g_i‖² = Σ_v ‖Σ_{t: x_it = v} δ_it‖²
        (δ summed per (sample, token id)); ⟨g_i,Ḡ⟩ = Σ_t δ_it·Ḡ[x_it] in full mode. Padding tokens get no gradient."""
        B, T = idx.shape
        scale, gbar_scale = self._scales(B)
        D = D.double() * scale
        if m.padding_idx is not None:
            D = D * (idx != m.padding_idx).unsqueeze(-1)
        gw = (D * Z.double()).sum((1, 2))
        key = (torch.arange(B, device=idx.device).unsqueeze(1) * m.num_embeddings + idx).reshape(-1)
        uniq, inv = torch.unique(key, return_inverse=True)
        rows = D.new_zeros(uniq.numel(), D.shape[2]).index_add_(0, inv, D.reshape(B * T, -1))
        gg = D.new_zeros(B).index_add_(0, torch.div(uniq, m.num_embeddings, rounding_mode="floor"), (rows * rows).sum(1))
        W = m.weight.detach().double()
        g = m.weight.grad
        gbar = g.to_dense().double() * gbar_scale if g is not None else None
        gG = (D * gbar[idx]).sum((1, 2)) if gbar is not None and self.w.options.persample_full else None
        cpu = (lambda t: t.cpu().contiguous() if t is not None else None)
        try:
            self.w.probe.persample_sums(wi, cpu(gw), cpu(gg), cpu(gG), float((W * W).sum()),
                                       float((gbar * gbar).sum()) if gbar is not None else float("nan"))
        except TraintopError as e:
            self.w._warn("emb:" + str(e)[:40], "traintop: per-sample statistics: %s" % e)

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
