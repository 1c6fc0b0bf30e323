"""The in-place backend: contiguous float32 CPU parameters, read where they are by the C probe.

Each parameter is registered with tt_probe_add_layer by address: at every sampled step the C code
reads the weight in place and keeps its own W_prev and W_0 copies. The gradient buffer is chosen once,
at registration, and never moves:
  - explicit stepping (torch < 2.0, no optimizer, or auto_step=False): the buffer IS ``p.grad``
    (created as zeros when it was None), so with ``zero_grad(set_to_none=False)`` (torch 1.x's
    default) the C code reads the gradient in place and nothing is copied;
  - automatic stepping (torch >= 2.0 with an optimizer): a private buffer, because the step is
    published after the optimizer returns, when the user may already be zeroing the gradients.
Whenever ``p.grad`` is not the registered buffer (replaced, or recreated by
``zero_grad(set_to_none=True)``, torch 2's default), sync_grads() copies the gradient into the buffer
once per sampled step (``grad_copies``), right after the optimizer step; with per-sample statistics
also at the end of backward (their Ḡ), and again after the optimizer step, since what the optimizer
used may differ (clipping; GradScaler's unscale_, which bumps no version counter). A None gradient
reads as zeros.
Per-sample sums of an nn.Linear on this backend go to tt_probe_dense_batch (float32 host buffers).
"""
import weakref

import torch

__all__ = ["InPlace", "in_place_ok"]


def in_place_ok(t):
    """Whether the C probe can read tensor t in place: a non-empty contiguous float32 CPU tensor."""
    return (t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous() and t.numel() > 0
            and t.layout == torch.strided)


class _Layer:
    """A parameter the C probe reads in place."""
    __slots__ = ("param", "wkeep", "wptr", "gbuf", "gptr", "src", "src_ver", "zeroed")

    def __init__(self, param, gbuf):
        self.param, self.gbuf = param, gbuf
        self.wkeep = param.detach()        # keeps the registered storage alive if p.data is replaced
        self.wptr = param.data_ptr()
        self.gptr = gbuf.data_ptr()
        self.src = None                    # weakref to the gradient last copied, and its version
        self.src_ver = -1
        self.zeroed = False


class InPlace:
    """The in-place layers of one probe. alias_grads: register p.grad itself as the gradient buffer
    (explicit stepping) rather than a private one."""

    can_persample = True
    persample_device = "cpu"
    device_loss_scale = False          # the loss scale is read on the host
    timed_by_probe = True              # dense_batch is tt_probe_dense_batch, which counts its own time

    def __init__(self, probe, alias_grads):
        self.probe = probe
        self.alias_grads = bool(alias_grads)
        self.layers = []
        self.grad_copies = 0
        self.copied_in_backward = False     # sync_grads ran at this step's end of backward (per-sample Ḡ)

    def register(self, name, param, rows, cols, sparse_grad=False):
        """Takes a contiguous float32 CPU parameter; None for any other. sparse_grad: the parameter gets
        sparse gradients (nn.Embedding(sparse=True)), so it must not be given a dense .grad."""
        if not in_place_ok(param):
            return None
        alias = self.alias_grads and not sparse_grad
        g = param.grad
        if alias and param.requires_grad and g is None:
            with torch.no_grad():
                param.grad = torch.zeros_like(param, memory_format=torch.contiguous_format)
            g = param.grad
        if alias and g is not None and in_place_ok(g) and g.shape == param.shape:
            gbuf = g
        else:
            gbuf = torch.zeros_like(param, memory_format=torch.contiguous_format)
            if g is not None:
                gbuf.copy_(g.detach())
        idx = self.probe.add_layer(name, rows, cols, param.data_ptr(), gbuf.data_ptr())
        self.layers.append(_Layer(param, gbuf))
        return self, idx

    def sync_grads(self, fresh=False):
        """Makes every registered gradient buffer hold the parameter's current gradient. fresh: copy
        even a gradient already copied at its current version — right after the optimizer step, because
        GradScaler's unscale_ divides the gradients in place without bumping their version counter, so
        a copy taken at the end of backward (for per-sample statistics) holds the scaled gradient."""
        if not fresh:
            self.copied_in_backward = True
        for L in self.layers:
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
            if not fresh and L.src is not None and L.src() is g and L.src_ver == ver:
                continue
            if g.layout != torch.strided:
                g = g.to_dense()
            L.gbuf.copy_(g.detach().reshape(L.gbuf.shape))
            L.src, L.src_ver, L.zeroed = weakref.ref(p.grad), ver, False
            self.grad_copies += 1

    def prepare(self, step, sampled, next_sampled):
        if sampled:
            # the C code reads the buffers when the step is published; a copy taken at this step's end of
            # backward is taken again (unscale_ may have changed the gradient without a version bump),
            # any other stays valid by its version counter
            self.sync_grads(fresh=self.copied_in_backward)
        self.copied_in_backward = False

    def collect(self):
        pass                                # tt_probe_step reads the layers itself

    @staticmethod
    def batch_dtype(dtypes):
        return torch.float32

    def dense_batch(self, weight_layer, bias_layer, A, D, Z, scale, gbar_scale, loss_scale=None):
        """Per-sample sums of one Linear's batch (contiguous float32 CPU tensors B×T×d)."""
        self.probe.dense_batch(weight_layer, bias_layer, A.shape[0], A.shape[1], A.data_ptr(), D.data_ptr(), scale,
                               Z.data_ptr() if Z is not None else None, gbar_scale)

    def counters(self):
        return {"grad_copies": self.grad_copies}

    def close(self):
        self.layers = []                    # after the probe is closed: it no longer reads these buffers
