"""The torch-ops backend: METRICS.md §1 layer statistics computed with torch ops, for the parameters
neither the C probe (in place) nor the GPU backend takes: CUDA tensors without the GPU backend, and
tensors that are not contiguous float32 (float64, bfloat16, float16, views).

The result is the same 12 numbers, in the same order and with the same guards, as the C fused pass
(metrics/layerstats.c); they are handed to the C probe with tt_probe_layer_stats (an "external"
layer). Sums are taken in float64 on the tensor's device. All layers' per-layer sums are stacked into
one tensor per device and copied to the host once: one host synchronisation per sampled step (per
device), whatever the number of layers; the tensor scalars of the step (tt.step(loss=t), DDP's
local_grad_sq) leave the device in the same transfer. The previous-step and initial weights are kept
on the device in the parameter's own dtype (2× the parameters' memory, as the C probe keeps on the host).
"""
import math

import torch

from .._lib import NSTATS

__all__ = ["TorchOps", "angle_from_norms", "primitives", "finish", "fetch_scalars"]

# per-layer primitives gathered on the device, in this order
_WW, _GG, _GW, _SW, _SW2, _DD, _PP, _D0, _NF, _RA2, _RAN = range(11)
_NPRIM = 11


def angle_from_norms(na, nb, nd):
    """tt_angle_from_norms on tensors: the angle between a and b from ‖a‖, ‖b‖, ‖a − b‖ (NaN if undefined)."""
    dn = na - nb
    chord2 = ((nd * nd - dn * dn) / (na * nb)).clamp(min=0)
    c = chord2.sqrt()
    small = c * (1 + chord2 / 24)
    big = 2 * torch.asin((c / 2).clamp(max=1))
    a = torch.where(c < 1e-3, small, big)
    ok = (na > 0) & (nb > 0) & torch.isfinite(na) & torch.isfinite(nb) & torch.isfinite(nd)
    return torch.where(ok, a, torch.full_like(a, math.nan))


def _angle_scalar(na, nb, nd):
    if not (na > 0) or not (nb > 0) or not all(map(math.isfinite, (na, nb, nd))):
        return math.nan
    dn = na - nb
    chord2 = max((nd * nd - dn * dn) / (na * nb), 0.0)
    c = math.sqrt(chord2)
    if c < 1e-3:
        return c * (1 + chord2 / 24)
    return 2 * math.asin(min(c / 2, 1.0))


def _div(a, b):
    return a / b if b != 0 and math.isfinite(a) and math.isfinite(b) else math.nan


def finish(prim, n, rows, have_prev, have_w0=True):
    """The 12 statistics of one layer from its primitive sums (host floats), exactly as layerstats.c."""
    ww, gg, gw, sw, sw2, dd, pp, d0, nf, ra2, ran = prim
    if nf > 0 or not all(map(math.isfinite, (ww, gg, gw))):
        out = [math.nan] * NSTATS
        out[11] = float(nf)
        return out
    wn, gn, dn, pn = math.sqrt(ww), math.sqrt(gg), math.sqrt(dd), math.sqrt(pp)
    mean_c = sw / n
    var = sw2 / n - mean_c * mean_c
    out = [wn, gn, wn / math.sqrt(n), gn / math.sqrt(n), max(var, 0.0)]
    if have_prev:
        angle = _angle_scalar(pn, wn, dn)
        angle_rows = (math.sqrt(ra2 / ran) if ran else math.nan) if rows > 1 else angle
        out += [dn, _div(dn, pn), angle, angle_rows]
    else:
        out += [math.nan] * 4
    out += [_div(-gw, gn * wn), math.sqrt(d0) if have_w0 else math.nan, 0.0]
    return out


def primitives(w, grad, w0, prev, shift=None, row_angles=None):
    """The 11 per-layer sums the statistics are finished from (order: _WW … _RAN), as a float64 tensor
    on w's device. w: the weight as rows × cols; grad (None: zero), w0 and prev (None: no previous
    step) hold as many elements. Every entry is a sum over elements or over rows, so the sums of the
    pieces of a tensor split by rows add up to the whole tensor's (backends/sharded.py). shift: what the
    variance sums are centred on (default: w's first element, as the C pass). row_angles: sum the
    per-row angles (default: when w has more than one row; a shard's rows are a matrix's rows even
    when it holds one)."""
    rows, cols = w.shape
    w = w.to(torch.float64)
    if grad is not None and grad.is_sparse:
        grad = grad.to_dense()
    g = grad.detach().reshape(rows, cols).to(torch.float64) if grad is not None else torch.zeros_like(w)
    flat = w.reshape(-1)
    if shift is None:
        shift = flat[0]
        shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    c = flat - shift
    ww_r = (w * w).sum(1)
    ww = ww_r.sum()
    gg = (g * g).sum()
    gw = (g * w).sum()
    sw = c.sum()
    sw2 = (c * c).sum()
    d0 = ((w - w0.reshape(rows, cols).to(torch.float64)) ** 2).sum()
    nf = (~torch.isfinite(w)).sum().to(torch.float64) + (~torch.isfinite(g)).sum().to(torch.float64)
    if prev is not None:
        p = prev.reshape(rows, cols).to(torch.float64)
        d = w - p
        dd_r = (d * d).sum(1)
        pp_r = (p * p).sum(1)
        dd, pp = dd_r.sum(), pp_r.sum()
        if (rows > 1) if row_angles is None else row_angles:
            a = angle_from_norms(pp_r.sqrt(), ww_r.sqrt(), dd_r.sqrt())
            ok = ~torch.isnan(a)
            ra2 = torch.where(ok, a * a, torch.zeros_like(a)).sum()
            ran = ok.sum().to(torch.float64)
        else:
            ra2 = ran = torch.zeros((), dtype=torch.float64, device=w.device)
    else:
        z = torch.zeros((), dtype=torch.float64, device=w.device)
        dd = pp = ra2 = ran = z
    return torch.stack([ww, gg, gw, sw, sw2, dd, pp, d0, nf, ra2, ran])


def fetch_scalars(tensors):
    """Host floats of 0-d tensors: one transfer per device."""
    if all(t.device.type == "cpu" for t in tensors):
        return [float(t) for t in tensors]     # no transfer to batch
    out = [math.nan] * len(tensors)
    by_dev = {}
    for k, t in enumerate(tensors):
        by_dev.setdefault(t.device, []).append(k)
    for ks in by_dev.values():
        vals = torch.stack([tensors[k].detach().reshape(()).to(torch.float64) for k in ks]).cpu().tolist()
        for k, v in zip(ks, vals):
            out[k] = v
    return out


class TorchOps:
    """The external layers of one probe. register() takes any parameter (the last backend tried): its
    W_0 and W_prev copies are taken then, before the first step."""

    can_persample = False        # per-sample sums need a GEMM backend (in place or GPU)

    def __init__(self, probe):
        self.probe = probe
        self.params, self.index, self.shapes, self.w0, self.prev, self.have_prev = [], [], [], [], [], []
        self._stats = None           # the prepared step's statistics, per layer (None: not sampled)

    def register(self, name, param, rows, cols, sparse_grad=False):
        idx = self.probe.add_external_layer(name, rows, cols)
        self.params.append(param)
        self.index.append(idx)
        self.shapes.append((1, rows) if cols == 1 else (rows, cols))   # a vector is one row, as in the C pass
        with torch.no_grad():
            self.w0.append(param.detach().clone())
            self.prev.append(param.detach().clone())
        self.have_prev.append(True)
        return self, idx

    def sync_grads(self):
        pass                         # the gradients are read by prepare()

    def prepare(self, step, sampled, next_sampled, extras=()):
        """Right after the optimizer step: this step's statistics (kept for collect) and the host values
        of the 0-d tensors in extras, fetched in the same transfer."""
        if not self.params:
            self._stats = None
            return fetch_scalars(extras)
        self._stats, values = self._compute(sampled, next_sampled, extras)
        return values

    def collect(self):
        stats, self._stats = self._stats, None
        for idx, st in zip(self.index, stats or ()):
            if st is not None:
                self.probe.layer_stats(idx, st)

    def counters(self):
        return {}

    def close(self):
        self.params, self.w0, self.prev, self._stats = [], [], [], None

    def _prims(self, i, grad, want_prev):
        rows, cols = self.shapes[i]
        w = self.params[i].detach().reshape(rows, cols)
        return primitives(w, grad, self.w0[i], self.prev[i] if want_prev else None)

    @torch.no_grad()
    def _compute(self, sampled, next_sampled, extras):
        """One step, on the parameters' gradients (None: zero). Returns (stats, extra_values): stats[i]
        is the 12 statistics of layer i (None when the step is not sampled)."""
        n_layers = len(self.params)
        stats = [None] * n_layers
        rows_by_dev = {}
        if sampled:
            for i in range(n_layers):
                prim = self._prims(i, self.params[i].grad, self.have_prev[i])
                rows_by_dev.setdefault(prim.device, []).append((i, prim))
        extra_by_dev = {}
        for k, t in enumerate(extras):
            extra_by_dev.setdefault(t.device, []).append((k, t.detach().reshape(()).to(torch.float64)))
        extra_values = [math.nan] * len(extras)
        for dev in set(rows_by_dev) | set(extra_by_dev):
            parts = [prim for _, prim in rows_by_dev.get(dev, [])] + [t.reshape(1) for _, t in extra_by_dev.get(dev, [])]
            host = torch.cat(parts).cpu().tolist()          # the one synchronisation for this device
            pos = 0
            for i, _ in rows_by_dev.get(dev, []):
                rows, cols = self.shapes[i]
                stats[i] = finish(host[pos:pos + _NPRIM], rows * cols, rows, self.have_prev[i])
                pos += _NPRIM
            for k, _ in extra_by_dev.get(dev, []):
                extra_values[k] = host[pos]
                pos += 1
        # The step before a sampled one refreshes W_prev, so update statistics describe one step.
        if next_sampled:
            for i, p in enumerate(self.params):
                self.prev[i].copy_(p.detach())
                self.have_prev[i] = True
        elif sampled:
            for i in range(n_layers):
                self.have_prev[i] = False
        return stats, extra_values
