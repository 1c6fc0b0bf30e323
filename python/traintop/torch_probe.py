"""traintop.watch() and traintop.Watch: the PyTorch probe. See docs/python.md for what is measured and what it costs.

How the pieces fit:

* §1 statistics. A parameter that is a contiguous float32 CPU tensor is registered with the C probe by
  address (tt_probe_add_layer): the C code reads the weight in place at each sampled step. Its gradient
  buffer is chosen once, at watch() time, and never moves:
    - explicit stepping (torch < 2.0, no optimizer, or auto_step=False): the buffer IS ``p.grad``
      (created as zeros when it was None), so with ``zero_grad(set_to_none=False)`` (torch 1.x's
      default) the C code reads the gradient in place and nothing is copied;
    - automatic stepping (torch >= 2.0 with an optimizer): a private buffer, because the step is
      published after the optimizer returns, when the user may already be zeroing the gradients.
  Whenever ``p.grad`` is not the registered buffer (replaced, or recreated by
  ``zero_grad(set_to_none=True)``, torch 2's default), the gradient is copied into the buffer once per
  sampled step (one read and one write of the gradient; ``tt.counters()["grad_copies"]``). A
  gradient changed in place after backward (clipping) is noticed through its version counter and
  copied again. A None gradient reads as zeros.
  A contiguous CUDA parameter (float32, float16, bfloat16) goes to the GPU backend (cuda.py,
  probes/cuda): one fused kernel launch per sampled step for all of them, enqueued on the training
  stream right after the optimizer step, one device→host copy, collected when the step is published.
  Any other parameter (float64, non-contiguous, or CUDA ones when libtraintop_cuda is missing or
  gpu_backend=False) is an "external" layer: the same statistics are computed with torch ops on its
  device (torch_stats.py), all layers' numbers leave the device in one transfer, and
  tt_probe_layer_stats hands them to the C probe.

* §2 per-sample statistics for nn.Linear: a forward hook keeps the input a and the output z (and
  registers a tensor hook on z that keeps dL/dz); at the end of the backward pass (an autograd final
  callback, queued by the first hook that fires) every Linear's batch goes to tt_probe_dense_batch,
  before the optimizer changes the weights, as the C API requires. For a Linear whose parameters are
  on the GPU backend the same sums are computed there (tt_cuda_dense_batch) and reach the probe at
  collect.

* Publishing. Explicit: step() reads everything and publishes. Automatic (an optimizer with
  register_step_post_hook): the post-step hook reads what must be read right after the update
  (_prepare) and the step is published (_emit) by the first of step(), the next backward pass, the
  next optimizer pre-step hook, close().
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

import torch
import torch.nn as nn

from .probe import Probe
from ._lib import TraintopError
from .torch_stats import TorchLayerStats, fetch_scalars
from . import cuda as _cuda

__all__ = ["watch", "Watch"]

_LIVE = weakref.WeakSet()
_MAX_SAVED = 64            # per Linear and step: forward calls kept for per-sample statistics


def _torch_major():
    try:
        return int(torch.__version__.split(".")[0])
    except ValueError:
        return 0


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


def _dist():
    try:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            return dist
    except Exception:
        pass
    return None


def rank_world():
    """(rank, world size): from torch.distributed when it is initialised, else $RANK / $WORLD_SIZE."""
    d = _dist()
    if d is not None:
        return d.get_rank(), d.get_world_size()
    try:
        rank = int(os.environ.get("RANK", "0"))
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        rank, world = 0, 1
    if world < 1 or not 0 <= rank < world:
        rank, world = 0, 1
    return rank, world


def default_run_name():
    """$TRAINTOP_RUN, else the script's name and the start time, e.g. train-20240131-142501."""
    env = os.environ.get("TRAINTOP_RUN")
    if env:
        return env
    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else "python"
    stem = os.path.splitext(os.path.basename(script))[0] or "python"
    if stem == "__main__":
        stem = os.path.basename(os.path.dirname(script)) or "python"
    stem = re.sub(r"[^A-Za-z0-9_.:+=-]", "-", stem).lstrip(".") or "python"
    return "%s-%s" % (stem[:100], time.strftime("%Y%m%d-%H%M%S"))


def _capturing():
    """A CUDA graph is being captured on the current stream. A replay runs no Python and no host
    reads may happen during capture, so the probe does nothing then: it reads the step when tt.step()
    is called after the replay (the graph's static parameters and gradients are read in place)."""
    try:
        return torch.cuda.is_initialized() and torch.cuda.is_current_stream_capturing()
    except (AttributeError, RuntimeError):
        return False


_CAPTURE_MSG = ("traintop: CUDA graph capture: the probe skips captured hooks; call tt.step() after each "
                "replay to publish the step (no per-sample statistics for replayed steps)")


def _num(v):
    """A scalar's float; a tensor's detached first (torch 2 warns on float() of one that requires grad)."""
    return float(v.detach()) if isinstance(v, torch.Tensor) else float(v)


def _shape2d(p):
    if p.dim() == 0:
        return 1, 1
    if p.dim() == 1:
        return p.shape[0], 1
    return p.shape[0], p.numel() // p.shape[0]


def _label(name):
    """A parameter name as a traintop label: ≤ 127 printable ASCII characters without '"' or '\\'."""
    name = "".join(c if 32 < ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return name if len(name) <= 127 else name[:60] + "~" + name[-66:]


def _in_place_ok(t):
    return (t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous() and t.numel() > 0
            and t.layout == torch.strided)


class _Layer:
    """A parameter the C probe reads in place."""
    __slots__ = ("name", "param", "index", "wkeep", "wptr", "gbuf", "gptr", "src", "src_ver", "zeroed")

    def __init__(self, name, param, index, gbuf):
        self.name, self.param, self.index, self.gbuf = name, param, index, gbuf
        self.wkeep = param.detach()        # keeps the registered storage alive if p.data is replaced
        self.wptr = param.data_ptr()
        self.gptr = gbuf.data_ptr()
        self.src = None                    # weakref to the gradient last copied, and its version
        self.src_ver = -1
        self.zeroed = False


class _Hook:
    """A callable hook torch will not try to serialise (torch.save of a module with hooks stays quiet).
    A probe never takes the training down: whatever the hook raises (out of memory in a copy, a bug)
    is reported once as a warning and the hook's work for that call is skipped."""
    __torch_unserializable__ = True
    __slots__ = ("fn", "__weakref__")

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        try:
            return self.fn(*args)
        except Exception as e:
            _hook_failed(getattr(self.fn, "__self__", None), e)
            return None


def _hook_failed(watcher, e):
    if watcher is not None:
        watcher._warn("hook:%s:%s" % (type(e).__name__, str(e)[:80]),
                      "traintop: a probe hook failed and was skipped, training goes on: %s: %s" % (type(e).__name__, e))


class _GradKeeper:
    """Tensor hook on a Linear's output: stores dL/dz in the watcher's saved entry, found by key."""
    __slots__ = ("watcher", "module", "key")

    def __init__(self, watcher, module, key):
        self.watcher, self.module, self.key = weakref.ref(watcher), weakref.ref(module), key

    def __call__(self, g):
        w = self.watcher()
        if w is None or w._closed:
            return
        try:
            entry = w._saved.get(self.module(), {}).get(self.key)
            if entry is not None:
                entry[3] = g
                w._ensure_callback()
        except Exception as e:
            _hook_failed(w, e)


class _CommState:
    def __init__(self, watcher, process_group=None):
        self.watcher = weakref.ref(watcher)
        self.process_group = process_group


def _comm_hook(state, bucket):
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
    w = state.watcher()
    if w is not None and not w._closed:
        buf = bucket.buffer() if hasattr(bucket, "buffer") else bucket.get_tensor()
        sq = torch.linalg.vector_norm(buf.detach(), dtype=torch.float64) ** 2   # before the all-reduce
        w._local_sq = sq if w._local_sq is None else w._local_sq + sq
    return default_hooks.allreduce_hook(state.process_group, bucket)


class Watch:
    """The handle traintop.watch() returns. Publish a step with step(); see docs/python.md."""

    def __init__(self, model, optimizer=None, run=None, every=1, endpoint=None, hparams=None,
                 spectral_every=0, persample=True, persample_full=False, gwa_window=50,
                 loss_reduction="mean", auto_step=None, spool=None, linger_ms=500, gpu_backend=True,
                 gpu_timing=True, scaler=None):
        if every < 1:
            raise ValueError("every=%r: expected a positive sampling interval" % (every,))
        if loss_reduction not in ("mean", "sum") and not (isinstance(loss_reduction, (int, float)) and loss_reduction > 0):
            raise ValueError("loss_reduction=%r: expected 'mean', 'sum' or a positive grad scale" % (loss_reduction,))
        self._closed = True                # until the probe is open
        self._lock = threading.RLock()
        self.every = int(every)
        self.loss_reduction = loss_reduction
        self.scaler = scaler               # a GradScaler: per-sample sums are taken on the scaled loss
        self.linger_ms = int(linger_ms)
        self.optimizer = optimizer
        self._ddp = None
        try:
            from torch.nn.parallel import DistributedDataParallel as DDP
            if isinstance(model, DDP):
                self._ddp, model = model, model.module
        except ImportError:
            pass
        self.model = model
        self.rank, self.world_size = rank_world()
        if run is None:
            run = default_run_name()
            d = _dist()
            if d is not None and self.world_size > 1 and "TRAINTOP_RUN" not in os.environ:
                box = [run]
                d.broadcast_object_list(box, src=0)     # every rank publishes under rank 0's name
                run = box[0]
        self.run = run
        self.probe = Probe(run, endpoint=endpoint, rank=self.rank, world_size=self.world_size, every=self.every,
                           spectral_every=spectral_every, persample_full=persample_full, gwa_window=gwa_window,
                           spool=spool)
        self._closed = False
        _LIVE.add(self)

        # how steps get published
        post = getattr(optimizer, "register_step_post_hook", None) if optimizer is not None else None
        self.auto_step = bool(post) if auto_step is None else bool(auto_step and post)
        self._hook_quiet = False           # step() came with no optimizer step pending: the hook stays quiet
        self._after_capture = False        # the optimizer hook met a CUDA graph capture
        self._pending = False              # an optimizer step is prepared and not yet published
        self._prepared = None
        self._step = 0                     # the last published step
        self._logged = {}
        self._n_backward = 0               # backward passes since the last published step
        self._cb_queued = False
        self._local_sq = None
        self._stop = False
        self.stop_reason = None
        self._warned = set()
        self.grad_copies = 0
        self._handles = []
        self._gpu = {}                     # torch.device -> cuda.GpuLayers
        self.gpu_backend = bool(gpu_backend)
        self.gpu_timing = bool(gpu_timing) and os.environ.get("TRAINTOP_GPU_TIMING", "1") != "0"
        self.persample_full = bool(persample_full)

        try:
            self._send_hparams(hparams)
            self._register_layers()
            self._register_persample(persample)
            self._register_hooks()
        except BaseException:
            for h in self._handles:
                h.remove()
            self._close_gpu()
            self._closed = True
            self.probe.close(None, 0)        # no run_start was sent: nothing to end
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

    def _register_layers(self):
        self._layers = []                   # _Layer, read in place
        self._by_param = {}                 # id(param) -> C layer index (in-place ones only)
        self._gpu_index = {}                # id(param) -> (GpuLayers, backend layer index)
        ext = []
        self._ext_index = []
        # parameters with sparse gradients must not get a dense .grad from us
        sparse = {id(m.weight) for m in self.model.modules()
                  if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and getattr(m, "sparse", False)}
        for name, p in self.model.named_parameters():
            rows, cols = _shape2d(p)
            name = _label(name)
            alias = not self.auto_step and id(p) not in sparse
            if _in_place_ok(p):
                g = p.grad
                if alias and p.requires_grad and g is None:
                    with torch.no_grad():
                        p.grad = torch.zeros_like(p, memory_format=torch.contiguous_format)
                    g = p.grad
                if alias and g is not None and _in_place_ok(g) and g.shape == p.shape:
                    gbuf = g
                else:
                    gbuf = torch.zeros_like(p, memory_format=torch.contiguous_format)
                    if g is not None:
                        gbuf.copy_(g.detach())
                idx = self.probe.add_layer(name, rows, cols, p.data_ptr(), gbuf.data_ptr())
                self._layers.append(_Layer(name, p, idx, gbuf))
                self._by_param[id(p)] = idx
            elif self._gpu_add(name, p, rows, cols):
                pass
            else:
                idx = self.probe.add_external_layer(name, rows, cols)
                ext.append((p, rows, cols))
                self._ext_index.append(idx)
        self._ext = TorchLayerStats(ext) if ext else None
        self._ext_params = [p for p, _, _ in ext]

    def _gpu_add(self, name, p, rows, cols):
        """Registers a CUDA parameter with the GPU backend of its device; False: use torch ops instead."""
        if not self.gpu_backend or p.device.type != "cuda" or not p.is_contiguous() or p.numel() == 0 \
                or p.layout != torch.strided or _cuda.dtype_code(p.dtype) is None:
            return False
        why = _cuda.why_unavailable()
        if why:
            self._warn("gpu", "traintop: GPU parameters use torch ops, not the GPU backend: %s" % why)
            return False
        gl = self._gpu.get(p.device)
        if gl is None:
            try:
                gl = _cuda.GpuLayers(self.probe.handle, p.device, self.every, timing=self.gpu_timing and not self._gpu,
                                     full=self.persample_full)
            except TraintopError as e:
                self._warn("gpu", "traintop: GPU backend unavailable (%s): using torch ops" % e)
                self.gpu_backend = False
                return False
            if self.gpu_timing and not gl.timing and not self._gpu:
                self._warn("gpu-timing", "traintop: no GPU timing (gpu_busy_ms): %s" % getattr(gl, "timing_error", "?"))
            self._gpu[p.device] = gl
        try:
            self._gpu_index[id(p)] = (gl, gl.add(name, p, rows, cols))
        except TraintopError as e:
            self._warn("gpu-add", "traintop: %s: using torch ops for it (and any other such layer)" % e)
            return False
        return True

    def _close_gpu(self):
        for gl in self._gpu.values():
            gl.close()
        self._gpu = {}

    def _register_persample(self, persample):
        self._linear = {}                   # module -> (weight index, bias index)
        self._saved = {}                    # module -> {key: [a, z, z_version, dz, step]}
        self._key = 0
        self.persample_layers = []
        self.persample_skipped = {}
        if not persample:
            return
        uses = {}
        for m in self.model.modules():
            for p in m._parameters.values():
                if p is not None:
                    uses[id(p)] = uses.get(id(p), 0) + 1
        for name, m in self.model.named_modules():
            if not isinstance(m, nn.Linear):
                continue
            wi = self._by_param.get(id(m.weight), -1)
            bi = self._by_param.get(id(m.bias), -1) if m.bias is not None else -1
            gw, gb = self._gpu_index.get(id(m.weight)), self._gpu_index.get(id(m.bias)) if m.bias is not None else None
            where = "cpu"
            if wi < 0 and gw is not None and (m.bias is None or (gb is not None and gb[0] is gw[0])):
                where, wi, bi = gw[0], gw[1], gb[1] if gb is not None else -1
            why = None
            if wi < 0 or (m.bias is not None and bi < 0):
                why = "neither a contiguous float32 CPU tensor nor on the GPU backend"
            elif uses.get(id(m.weight), 0) > 1 or (m.bias is not None and uses.get(id(m.bias), 0) > 1):
                why = "parameter shared with another module"
            if why:
                self.persample_skipped[name] = why
                continue
            self._linear[m] = (where, wi, bi)
            self.persample_layers.append(name)
            self._handles.append(m.register_forward_hook(_Hook(self._on_linear_forward)))

    def _register_hooks(self):
        # No hook on the parameters themselves: the Linear outputs' hooks queue the end-of-backward
        # callback when per-sample statistics are wanted, and nothing else has to run during backward.
        self._handles.append(self.model.register_forward_pre_hook(_Hook(self._on_forward_pre)))
        if self.auto_step:
            self._handles.append(self.optimizer.register_step_post_hook(_Hook(self._on_optimizer_step)))
            pre = getattr(self.optimizer, "register_step_pre_hook", None)
            if pre is not None:
                self._handles.append(pre(_Hook(self._on_optimizer_pre_step)))
        if self._ddp is not None:
            try:
                self._ddp.register_comm_hook(_CommState(self), _comm_hook)
            except Exception as e:       # one comm hook per model: the user may have their own
                self._warn("comm", "traintop: no per-rank gradient norms (local_grad_sq): %s" % e)
            # The per-sample work reads p.grad at the end of backward, before DDP's end-of-backward
            # callback copies the averaged gradients back (docs/python.md, Distributed); a view of the
            # bucket being all-reduced in place is neither the local nor the mean gradient.
            if self._linear and getattr(self._ddp, "gradient_as_bucket_view", False):
                self._warn("bucket-view", "traintop: DDP with gradient_as_bucket_view=True: the per-sample noise "
                                          "statistics may read a gradient being all-reduced (gamma and GWA are unaffected)")

    # ------------------------------------------------------------------ hooks

    def _warn(self, key, msg):
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(msg, RuntimeWarning, stacklevel=3)

    def _upcoming(self):
        return self._step + 1 + (1 if self._pending else 0)

    def _sampled(self, step):
        return step % self.every == 0

    def _on_forward_pre(self, module, inputs):
        if not self._closed:
            self._cb_queued = False         # a backward that failed half-way left no callback behind

    def _on_linear_forward(self, module, inputs, output):
        if self._closed or not torch.is_grad_enabled() or not isinstance(output, torch.Tensor) or not output.requires_grad:
            return
        if _capturing():
            self._warn("capture", _CAPTURE_MSG)
            return
        if not self._sampled(self._upcoming()) or not inputs or not isinstance(inputs[0], torch.Tensor):
            return
        saved = self._saved.setdefault(module, {})
        if len(saved) >= _MAX_SAVED:
            return
        self._key += 1
        saved[self._key] = [inputs[0].detach(), output, output._version, None, self._upcoming()]
        # The hook must not reference the entry (which holds z): z → its hook → entry → z would be a
        # cycle through autograd that Python's collector cannot see, leaking every step's activations.
        output.register_hook(_GradKeeper(self, module, self._key))

    def _ensure_callback(self):
        if self._cb_queued or _capturing():
            return
        if self._pending:
            self._emit_pending()            # before this backward overwrites anything
        self._cb_queued = True
        try:
            torch.autograd.Variable._execution_engine.queue_callback(_Hook(self._backward_end))
        except RuntimeError:
            self._cb_queued = False

    def _backward_end(self):
        self._cb_queued = False
        if self._closed:
            return
        with self._lock:
            self._n_backward += 1
            saved, self._saved = self._saved, {}
            upcoming = self._upcoming()
            if not self._sampled(upcoming):
                return
            with torch.no_grad():
                self._sync_grads()
                for gl in self._gpu.values():
                    gl.sync_grads()
                if self._n_backward > 1:
                    if saved:
                        self._warn("accum", "traintop: several backward passes before one optimizer step (gradient "
                                            "accumulation, or a step a loss scaler skipped): per-sample statistics "
                                            "describe the first one only")
                    return
                for module, entries in saved.items():
                    self._dense_batch(module, [e for e in entries.values() if e[4] == upcoming])

    def _dense_batch(self, module, entries):
        entries = [e for e in entries if e[3] is not None]
        if not entries:
            return
        where, wi, bi = self._linear[module]
        d_in, d_out = module.in_features, module.out_features
        parts_a, parts_d, parts_z = [], [], []
        B = None
        for a, z, zver, dz, _ in entries:
            b = a.shape[0] if a.dim() >= 2 else 1
            if B is None:
                B = b
            elif b != B:
                self._warn("calls:%d" % id(module), "traintop: a Linear called with different batch sizes in one step: "
                                                   "no per-sample statistics for it")
                return
            parts_a.append(a.reshape(b, -1, d_in))
            parts_d.append(dz.detach().reshape(b, -1, d_out))
            parts_z.append(z.detach().reshape(b, -1, d_out) if z._version == zver else None)
        want = "cpu" if where == "cpu" else "cuda"
        if any(t.device.type != want for t in parts_a + parts_d):
            return
        # one element type for A, D and Z: the backend's (the CPU's is float32); under autocast the
        # input is float32 and the output float16, so mixed batches go to float32
        dtype = torch.float32
        if where != "cpu":
            kinds = {t.dtype for t in parts_a + parts_d + [z for z in parts_z if z is not None]}
            if len(kinds) == 1 and _cuda.dtype_code(next(iter(kinds))) is not None:
                dtype = next(iter(kinds))
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
        if self.loss_reduction == "mean":
            scale, gbar_scale = float(B), 0.0
        elif self.loss_reduction == "sum":
            scale, gbar_scale = 1.0, 1.0 / B
        else:
            scale, gbar_scale = float(self.loss_reduction), 0.0
        # Under a loss scaler the backward pass ran on S × loss: δ and the gradient read now are S times
        # the loss's own (scaler.step() unscales the gradient later). On the GPU the kernels read S from
        # the scaler's own tensor; elsewhere S is read on the host.
        S, S_dev = self._loss_scale(A.device if where != "cpu" else None)
        if S != 1.0:
            scale, gbar_scale = scale / S, (gbar_scale if gbar_scale > 0 else 1.0) / S
        try:
            if where == "cpu":
                self.probe.dense_batch(wi, bi, B, T, A.data_ptr(), D.data_ptr(), scale,
                                       Z.data_ptr() if Z is not None else None, gbar_scale)
            else:
                where.dense_batch(wi, bi, A, D, Z, scale, gbar_scale, loss_scale=S_dev)
        except TraintopError as e:
            self._warn("dense:" + str(e)[:40], "traintop: per-sample statistics: %s" % e)

    def _loss_scale(self, device):
        """(S, None) with S read on the host, or (1.0, the scaler's float32 scale tensor on `device`)."""
        sc = self.scaler
        if sc is None or not sc.is_enabled():
            return 1.0, None
        t = getattr(sc, "_scale", None)
        if (device is not None and isinstance(t, torch.Tensor) and t.device == device and t.dtype == torch.float32
                and t.numel() == 1):
            return 1.0, t
        return float(sc.get_scale()), None

    def _sync_grads(self):
        """Makes every registered gradient buffer hold the parameter's current gradient."""
        for L in self._layers:
            p = L.param
            if p.data_ptr() != L.wptr:        # p.data was replaced: the C code reads the registered storage
                L.wkeep.copy_(p.detach().reshape(L.wkeep.shape))
            g = p.grad
            if g is None:
                if not L.zeroed:
                    L.gbuf.zero_()
                    L.zeroed, L.src = True, None
                continue
            if g.layout == torch.strided and g.data_ptr() == L.gptr and g.is_contiguous() and g.dtype == torch.float32:
                L.zeroed = False
                continue
            ver = g._version
            if L.src is not None and L.src() is g and L.src_ver == ver:
                continue
            if g.layout != torch.strided:
                g = g.to_dense()
            L.gbuf.copy_(g.detach().reshape(L.gbuf.shape))
            L.src, L.src_ver, L.zeroed = weakref.ref(p.grad), ver, False
            self.grad_copies += 1

    def _on_optimizer_pre_step(self, optimizer, args, kwargs):
        # the pending step's weights are read in place: publish it before they change
        if not self._closed and self._pending and not _capturing():
            self._emit_pending()

    def _on_optimizer_step(self, optimizer, args, kwargs):
        if self._closed or self._hook_quiet:
            return
        if _capturing():
            self._warn("capture", _CAPTURE_MSG)
            self._hook_quiet = True          # replays run no hooks: from now on tt.step() publishes
            self._after_capture = True
            return
        with self._lock:
            if self._pending:
                self._emit_pending()
            self._prepare()
            self._pending = True

    # ------------------------------------------------------------------ publishing

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
        step = self._step + 1 if step is None else int(step)
        sampled, next_sampled = self._sampled(step), self._sampled(step + 1)
        with torch.no_grad():
            if sampled:
                self._sync_grads()
            extras = list(tensors)
            has_sq = self._local_sq is not None
            if has_sq:
                extras.append(self._local_sq)
                self._local_sq = None
            ext_stats = None
            for gl in list(self._gpu.values()):
                if gl.failed:
                    continue
                try:
                    if sampled:
                        gl.sync_grads()
                    gl.step(step)           # enqueued on the stream after the update; waited for at _emit
                except TraintopError as e:
                    self._warn("gpu-fail", "traintop: GPU statistics stopped: %s" % e)
            if self._ext is not None:
                ext_stats, values = self._ext.compute([p.grad for p in self._ext_params], sampled, next_sampled, extras)
            else:
                values = fetch_scalars(extras)
        self._prepared = {"step": step, "ext": ext_stats, "opt": self._read_optimizer(), "logged": self._logged,
                          "local_sq": values[-1] if has_sq else None, "values": values[:len(tensors)]}
        self._logged = {}                   # later log() calls are for the next step

    def _emit(self, scalars):
        prep, self._prepared = self._prepared, None
        step = prep["step"]
        if step <= self._step:
            raise TraintopError("step %d: steps must increase (last published: %d)" % (step, self._step))
        p = self.probe
        for name, value in list(prep["logged"].items()) + list(scalars.items()):
            if not p.scalar(name, value):
                self._warn("scalar:" + name, "traintop: scalar %r refused (name, or more than 64 names in a run)" % name)
        for gl in self._gpu.values():
            if gl.failed:
                continue
            try:
                gl.collect()                # tt_probe_layer_stats, per-sample sums, gpu_busy_ms
            except TraintopError as e:
                self._warn("gpu-fail", "traintop: GPU statistics stopped: %s" % e)
        if prep["ext"] is not None:
            for idx, st in zip(self._ext_index, prep["ext"]):
                if st is not None:
                    p.layer_stats(idx, st)
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
        p.step(step)
        self._step = step
        self._n_backward = 0
        self._cb_queued = False
        # forward passes of steps now published that no backward pass followed
        for module in list(self._saved):
            live = {k: e for k, e in self._saved[module].items() if e[4] > step}
            if live:
                self._saved[module] = live
            else:
                del self._saved[module]

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
        if _capturing():
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
                self._emit({k: _num(v) for k, v in scalars.items()})
            else:
                # called with no optimizer step pending (before optimizer.step(), or without an
                # optimizer hook): this call publishes every step, the optimizer hook no longer does
                self._hook_quiet = True
                tensors = [(k, v) for k, v in scalars.items() if isinstance(v, torch.Tensor)]
                self._prepare(step, [v for _, v in tensors])
                vals = dict(zip((k for k, _ in tensors), self._prepared["values"]))
                self._emit({k: (vals[k] if k in vals else float(v)) for k, v in scalars.items()})
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

    def counters(self):
        """The C probe's counters (sent, dropped, steps, stats_seconds, …) and grad_copies."""
        c = self.probe.counters() if not self._closed else {}
        c["grad_copies"] = self.grad_copies
        c["gpu_layers"] = sum(len(gl.params) for gl in self._gpu.values())
        c["gpu_device_bytes"] = sum(gl.device_bytes() for gl in self._gpu.values())
        return c

    def close(self, status=None):
        """Publishes what is pending and the run's end, removes every hook, frees the C probe.
        status: "finished", "stopped" or "failed" (default: "stopped" if asked to stop, else "finished")."""
        if self._closed:
            return
        with self._lock:
            if self._pending:
                try:
                    self._emit_pending()
                except Exception:
                    pass
            for h in self._handles:
                h.remove()
            self._handles = []
            self._saved = {}
            self._closed = True                 # the DDP comm hook (not removable) passes through from now on
            if status is None:
                status = "stopped" if self._stop else "finished"
            self._close_gpu()                   # before the probe it feeds
            self.probe.close(status, self.linger_ms)
            self._layers = []                   # the C code no longer reads these buffers
            self._ext = None
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


def watch(model, optimizer=None, run=None, every=1, endpoint=None, hparams=None, spectral_every=0,
          persample=True, persample_full=False, gwa_window=50, **kwargs):
    """Starts publishing a model's training statistics to a traintop collector. Returns a Watch:

        tt = traintop.watch(model, optimizer)
        ...  loss.backward(); optimizer.step()
        tt.step(loss=loss)

    More keywords: loss_reduction ("mean" | "sum" | a number: the per-sample gradient scale),
    auto_step (None: publish from the optimizer's post-step hook where torch has it), spool, linger_ms,
    gpu_backend (False: CUDA parameters through torch ops instead of libtraintop_cuda), gpu_timing
    (False, or TRAINTOP_GPU_TIMING=0: no CUPTI gpu_busy_ms/probe_gpu_ms), scaler (the
    torch.cuda.amp.GradScaler of mixed-precision training, so per-sample statistics are unscaled)."""
    return Watch(model, optimizer=optimizer, run=run, every=every, endpoint=endpoint, hparams=hparams,
                 spectral_every=spectral_every, persample=persample, persample_full=persample_full,
                 gwa_window=gwa_window, **kwargs)
