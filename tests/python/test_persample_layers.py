"""Per-sample γ beyond nn.Linear, through traintop.watch(): Conv2d (unfolded patches), Embedding (sums per
token id), MultiheadAttention's packed in-projection (δ_q, δ_k, δ_v recomputed through the attention) and
transformers' Conv1D (GPT-2's Linear with the weight stored transposed, nx × nf; a local class of the same
name and semantics, so no transformers dependency here), against brute force: each sample's own gradient
by autograd, one sample at a time, in float64.

Checked per step: every parameter's own γ mean (the layer extra gamma_mean), the model's γ mean, the
coverage (1: every parameter is covered); per window: the GWA window signals (paper-exact GWA, robust GWA,
Pearson kurtosis, bimodality, fraction negative) on the brute-force γ with scipy, and the paper's
head-only GWA (gwa_paper: the head weight's own γ). Tolerances as tests/python/test_torch_persample.py
(the probe computes in float32 with double accumulation): γ means atol 1e-6; window statistics rtol 2e-4
+ atol 1e-6 (4th moments of a few dozen values amplify the γ errors); bimodality the same. Conv1D also in
full mode (⟨g_i,Ḡ⟩, which γ does not read): the model's noise statistics as test_torch_persample.py
(rtol 1e-5; grad_sq atol 1e-5·(‖Ḡ‖² + tr Σ̂/B)), each parameter's own trace_sigma (rtol 1e-5) and GSNR
(rtol 1e-4: a mean of ḡ²/var over the parameters, each var a difference of float32-rounded moments).
"""
import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
st = pytest.importorskip("scipy.stats")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import traintop  # noqa: E402
from conftest import Run  # noqa: E402
from refs import gamma, noise, per_sample_grads  # noqa: E402

B = 12


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 3, 2, stride=2, dilation=1, bias=False)
        self.c3 = nn.Conv2d(3, 3, 2, padding=(1, 0), dilation=(1, 2))
        self.head = nn.Linear(3 * 5 * 2, 4)

    def forward(self, x):
        h = torch.tanh(self.c1(x))
        h = torch.tanh(self.c2(h))
        h = torch.tanh(self.c3(h))
        return self.head(h.flatten(1))


class EmbNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(7, 6, padding_idx=0)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(torch.tanh(self.emb(x)).mean(1))


class AttnNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.cross = nn.MultiheadAttention(8, 2)                     # time-major, query ≠ key = value
        self.head = nn.Linear(8, 3)

    def forward(self, x, mask):
        h = torch.tanh(self.inp(x))
        a, _ = self.attn(h, h, h, key_padding_mask=mask)
        q = a[:, :2].transpose(0, 1)
        c, _ = self.cross(q, h.transpose(0, 1), h.transpose(0, 1), key_padding_mask=mask, need_weights=False)
        return self.head(torch.tanh(c).mean(0))


class Conv1D(nn.Module):
    """transformers.pytorch_utils.Conv1D's semantics (nf outputs, nx inputs, weight nx × nf, z = x W + b), with
    an optional bias; traintop tells it by its class name and nf/nx, as the real one."""

    def __init__(self, nf, nx, bias=True):
        super().__init__()
        self.nf, self.nx = nf, nx
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.3)
        self.bias = nn.Parameter(torch.randn(nf) * 0.1) if bias else None

    def forward(self, x):
        z = x.reshape(-1, self.nx) @ self.weight
        if self.bias is not None:
            z = z + self.bias
        return z.reshape(x.shape[:-1] + (self.nf,))


class Conv1DNet(nn.Module):
    """Conv1D on B×T×d tokens (c1), on B×d rows (c2, with bias; c3, without), a Linear head."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.c3 = Conv1D(8, 4), Conv1D(6, 8), Conv1D(5, 6, bias=False)
        self.head = nn.Linear(5, 3)

    def forward(self, x):
        h = torch.tanh(self.c1(x)).mean(1)
        return self.head(torch.tanh(self.c3(torch.tanh(self.c2(h)))))


def batch(kind, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (B,), generator=g)
    if kind == "conv":
        return (torch.randn(B, 2, 8, 8, generator=g),), torch.randint(0, 4, (B,), generator=g)
    if kind == "emb":
        return (torch.randint(0, 7, (B, 9), generator=g),), y        # repeated ids and padding tokens
    if kind == "conv1d":
        return (torch.randn(B, 5, 4, generator=g),), y
    mask = torch.zeros(B, 5, dtype=torch.bool)
    mask[::3, 4] = True
    return (torch.randn(B, 5, 4, generator=g), mask), y


def gsnr(grads, k):
    """The GSNR of parameter block k as the probe's: mean over entries of ḡ²/var (population variance),
    entries whose variance is below 1e-6 of their mean square left out."""
    g = np.stack([gi[k].ravel() for gi in grads])
    m2, gbar = (g * g).mean(0), g.mean(0)
    var = m2 - gbar * gbar
    ok = var > 1e-6 * m2
    return float((gbar[ok] ** 2 / var[ok]).mean())


def run_case(collector, kind, run, steps=6, window=3, full=False):
    torch.manual_seed(5)
    model = {"conv": ConvNet, "emb": EmbNet, "attn": AttnNet, "conv1d": Conv1DNet}[kind]()
    ref = copy.deepcopy(model).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    tt = traintop.watch(model, opt, run=run, endpoint=collector.endpoint, gwa_window=window, every=1,
                        persample_full=full)
    assert tt.gamma_coverage == 1.0 and tt.gwa_head == "head"
    names = [n for n, _ in model.named_parameters()]
    head_k = names.index("head.weight")
    expect = {}
    for step in range(1, steps + 1):
        xs, y = batch(kind, step)
        ref.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
        params = list(ref.parameters())
        x64 = [x.double() if x.is_floating_point() else x for x in xs]
        grads = per_sample_grads(ref, params, lambda m, i: F.cross_entropy(m(*(x[i:i + 1] for x in x64)), y[i:i + 1]), B)
        weights = [p.detach().numpy() for p in params]
        expect[step] = {
            "gammas": [gamma(gi, weights) for gi in grads],
            "head": [gamma([gi[head_k]], [weights[head_k]]) for gi in grads],
            "layer": {n: float(np.mean([gamma([gi[k]], [weights[k]]) for gi in grads])) for k, n in enumerate(names)},
            "noise": noise(grads, B),
            "layer_trace": {n: noise([[gi[k]] for gi in grads], B)["trace_sigma"] for k, n in enumerate(names)},
            "gsnr": {n: gsnr(grads, k) for k, n in enumerate(names)},
        }
        opt.zero_grad()
        loss = F.cross_entropy(model(*xs), y)
        loss.backward()
        opt.step()
        tt.step(loss=loss)
    tt.close()
    return Run(collector.messages(run)), expect, names


def window_want(g):
    g = np.asarray(g)
    k = float(st.kurtosis(g))
    n = len(g)
    G1, G2 = float(st.skew(g, bias=False)), float(st.kurtosis(g, bias=False))
    return {"gwa": float(np.mean(g)) / (k + 1.2), "gwa_robust": float(np.mean(g)) * math.exp(-k / 1.2) / 1.2,
            "gwa_pearson": k + 3, "gwa_kurtosis": k,
            "gwa_bimodality": (G1 * G1 + 1) / (G2 + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))}


@pytest.mark.parametrize("kind", ["conv", "emb", "attn", "conv1d"])
def test_layer_kind_against_brute_force(collector, kind):
    window = 3
    run, expect, names = run_case(collector, kind, "ps-" + kind, window=window)
    gam, head = [], []
    for step, e in expect.items():
        assert run.scalar(step, "gamma_coverage") == 1.0
        assert run.scalar(step, "gamma_mean") == pytest.approx(np.mean(e["gammas"]), abs=1e-6), step
        for n in names:
            assert run.extra(step, n, "gamma_mean") == pytest.approx(e["layer"][n], abs=1e-6), (step, n)
        gam += e["gammas"]
        head += e["head"]
        if step % window == 0:
            for k, v in window_want(gam).items():
                assert run.scalar(step, k) == pytest.approx(v, rel=2e-4, abs=1e-6), (step, k)
            assert run.scalar(step, "gwa_frac_neg") == pytest.approx(np.mean(np.asarray(gam) < 0), abs=1e-9)   # recorded to 10 digits
            h = np.asarray(head)
            assert run.scalar(step, "gwa_paper") == pytest.approx(h.mean() / (st.kurtosis(h) + 1.2), rel=2e-4, abs=1e-6)
            assert run.scalar(step, "gwa_head_mean") == pytest.approx(h.mean(), abs=1e-6)
            hist = [run.scalar(step, "gwa_hist_%02d" % i) for i in range(16)]
            assert sum(hist) == pytest.approx(1.0, abs=1e-9) and run.scalar(step, "gwa_hist_range") > 0
            gam, head = [], []


def test_conv1d_noise_full(collector):
    """Conv1D in full mode: the model's noise statistics (‖g_i‖², ⟨g_i,Ḡ⟩ over all layers, the Conv1D weights
    read in their nx × nf layout and their biases as layers of their own), each parameter's own trace_sigma,
    and the GSNR where the probe computes it (a weight fed one token per sample; any bias)."""
    run, expect, names = run_case(collector, "conv1d", "ps-conv1d-full", steps=3, full=True)
    for step, e in expect.items():
        nz = e["noise"]
        assert run.scalar(step, "gamma_mean") == pytest.approx(np.mean(e["gammas"]), abs=1e-6), step
        assert run.scalar(step, "trace_sigma") == pytest.approx(nz["trace_sigma"], rel=1e-5), step
        assert run.scalar(step, "norm_test") == pytest.approx(nz["norm_test"], rel=1e-5), step
        assert run.scalar(step, "grad_sq") == pytest.approx(nz["grad_sq"], abs=1e-5 * (nz["g2"] + nz["trace_sigma"] / B))
        assert run.scalar(step, "inner_test") == pytest.approx(nz["inner_test"], rel=1e-5), step
        assert run.scalar(step, "ortho_test") == pytest.approx(nz["ortho_test"], rel=1e-5), step
        for n in names:
            assert run.extra(step, n, "trace_sigma") == pytest.approx(e["layer_trace"][n], rel=1e-5), (step, n)
            got = run.extra(step, n, "gsnr")
            if n == "c1.weight":           # B×T tokens: no GSNR, as for a Linear's
                assert got is None or math.isnan(got), (step, n, got)
            else:
                assert got == pytest.approx(e["gsnr"][n], rel=1e-4), (step, n)


def test_conv1d_detection():
    """Conv1D is told by name and nf/nx, with the weight nx × nf; a module merely named so is not taken,
    nor nn.Conv1d."""
    from traintop.persample import _kind
    assert _kind(Conv1D(3, 2)) == ("conv1d", None) and _kind(Conv1D(3, 2, bias=False)) == ("conv1d", None)
    bad = Conv1D(3, 2)
    bad.weight = nn.Parameter(torch.zeros(3, 2))
    assert _kind(bad)[0] is None and "nx × nf" in _kind(bad)[1]

    class Sub(Conv1D):
        pass

    class Other(nn.Module):
        pass

    Other.__name__ = "Conv1D"
    assert _kind(Sub(4, 4))[0] == "conv1d" and _kind(Other()) == (None, None) and _kind(nn.Conv1d(2, 3, 1)) == (None, None)


def test_low_coverage_warns(collector):
    """A model whose parameters sit mostly in layers without per-sample statistics says so, once."""
    model = nn.Sequential(nn.Linear(4, 4), nn.GRU(4, 64, batch_first=True))
    with pytest.warns(RuntimeWarning, match=r"cover \d+% of the parameters"):
        tt = traintop.watch(model, run="lowcov", endpoint=collector.endpoint)
    assert 0 < tt.gamma_coverage < 0.5
    tt.close()


def test_gwa_head_by_name(collector):
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    tt = traintop.watch(model, run="head", endpoint=collector.endpoint, gwa_head="0")
    assert tt.gwa_head == "0"
    tt.close()
    with pytest.raises(ValueError, match="gwa_head='x'"):
        traintop.watch(model, run="head2", endpoint=collector.endpoint, gwa_head="x")


class PosNet(nn.Module):
    """Token and position embeddings, the position ids of shape 1×T broadcast over the batch (as GPT-2's
    and BERT's): the position table's output gradient is summed over the samples already."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(7, 6)
        self.pos = nn.Embedding(9, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(torch.tanh(self.emb(x) + self.pos(torch.arange(x.shape[1]).unsqueeze(0))).mean(1))


@pytest.mark.parametrize("by_keyword", [False, True])
def test_broadcast_input_is_not_covered(collector, by_keyword):
    """A layer fed a batch of 1 in a step of batch B has no per-sample gradient: it leaves the coverage with
    one warning naming it, and γ is the covered layers' own (brute force over emb and head only). Called by
    keyword, the model's input batch is read from its keyword arguments."""
    torch.manual_seed(3)
    model = PosNet()
    ref = copy.deepcopy(model).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    run = "ps-pos-%d" % by_keyword
    tt = traintop.watch(model, opt, run=run, endpoint=collector.endpoint, every=1)
    assert tt.gamma_coverage == 1.0
    covered = ["emb.weight", "head.weight", "head.bias"]
    names = [n for n, _ in model.named_parameters()]
    want = {}
    for step in range(1, 4):
        x, y = batch("emb", step)[0][0], batch("emb", step)[1]
        ref.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
        params = list(ref.parameters())
        grads = per_sample_grads(ref, params, lambda m, i: F.cross_entropy(m(x[i:i + 1]), y[i:i + 1]), B)
        keep = [names.index(n) for n in covered]
        weights = [params[k].detach().numpy() for k in keep]
        want[step] = float(np.mean([gamma([gi[k] for k in keep], weights) for gi in grads]))
        opt.zero_grad()
        if step == 1:
            with pytest.warns(RuntimeWarning, match=r"layer pos takes an input of batch 1 in a step of batch 12"):
                loss = F.cross_entropy(model(x=x) if by_keyword else model(x), y)
        else:
            loss = F.cross_entropy(model(x=x) if by_keyword else model(x), y)
        loss.backward()
        opt.step()
        tt.step(loss=loss)
    assert tt.persample_layers == ["emb", "head"] and "broadcast" in tt.persample_skipped["pos"]
    total = sum(p.numel() for p in model.parameters())
    assert tt.gamma_coverage == pytest.approx((42 + 21) / total)
    tt.close()
    r = Run(collector.messages(run))
    for step, g in want.items():
        assert r.scalar(step, "gamma_mean") == pytest.approx(g, abs=1e-6), step
        assert r.scalar(step, "gamma_coverage") == pytest.approx((42 + 21) / total), step
        assert r.extra(step, "pos.weight", "gamma_mean") is None, step
