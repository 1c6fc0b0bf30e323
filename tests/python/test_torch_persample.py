"""§2 per-sample statistics (γ_i, GWA window, gradient noise) of traintop.watch() against brute force:
every sample's own gradient by autograd, one sample at a time, on a float64 copy of the model with the
same (pre-update) weights and inputs. torch.func is not used (torch 1.13 has none).

What the probe sees is float32: the inputs a, the backpropagated dL/dz and the pre-activations z of
each nn.Linear, as torch computed them, and the float32 batch gradient. The reference is exact float64
math on the same weights and inputs; the difference is float32 rounding in torch's forward/backward
(~1e-7 relative per value). Measured on these cases: |Δγ mean| ≤ 2e-8, noise statistics ≤ 7e-8
relative, GWA and kurtosis ≤ 3e-6 relative. Stated tolerances, ~50× above that:
  - γ means (model and per layer), GWA window mean/std, fraction negative: atol 1e-6 (γ is a cosine,
    |γ| ≤ 1; a fraction could only move if a γ_i were within 1e-6 of 0);
  - GWA (mean/(kurtosis + 1.2)) and kurtosis: rtol 2e-4 + atol 1e-6 (a ratio of 4th moments over a
    window of a few dozen values amplifies the γ errors); negative past the pole (kurtosis + 1.2 < 0);
  - trace_sigma, norm_test, inner/orthogonality tests: rtol 1e-5; grad_sq (= ‖Ḡ‖² − tr Σ̂/B, a
    difference): atol 1e-5·(‖Ḡ‖² + tr Σ̂/B).
"""
import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import traintop  # noqa: E402
from conftest import Run  # noqa: E402
from refs import gamma, noise, per_sample_grads, window_report  # noqa: E402

B = 16


class MLP(nn.Module):
    """2-D inputs; the first Linear's output is overwritten by an in-place ReLU (no pre-activations)."""

    def __init__(self):
        super().__init__()
        self.fc1, self.act, self.fc2, self.head = nn.Linear(8, 16), nn.ReLU(inplace=True), nn.Linear(16, 16), nn.Linear(16, 4)

    def forward(self, x):
        return self.head(torch.tanh(self.fc2(self.act(self.fc1(x)))))


class Tokens(nn.Module):
    """3-D inputs B×T×d: a per-token Linear, mean over tokens, a head."""

    def __init__(self):
        super().__init__()
        self.emb, self.mix, self.head = nn.Linear(6, 12), nn.Linear(12, 12), nn.Linear(12, 3)

    def forward(self, x):
        h = F.gelu(self.emb(x))
        h = torch.tanh(self.mix(h)).mean(1)
        return self.head(h)


class Shared(nn.Module):
    """One Linear called twice in a forward pass: its per-sample gradient sums both uses."""

    def __init__(self):
        super().__init__()
        self.inp, self.shared, self.head = nn.Linear(5, 7), nn.Linear(7, 7), nn.Linear(7, 3)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        h = torch.tanh(self.shared(h))
        h = torch.tanh(self.shared(h))
        return self.head(h)


def data(kind, seed):
    g = torch.Generator().manual_seed(seed)
    if kind == "tokens":
        x = torch.randn(B, 5, 6, generator=g)
        y = torch.randint(0, 3, (B,), generator=g)
    elif kind == "shared":
        x = torch.randn(B, 5, generator=g)
        y = torch.randint(0, 3, (B,), generator=g)
    else:
        x = torch.randn(B, 8, generator=g)
        y = torch.randint(0, 4, (B,), generator=g)
    return x, y


def run_case(collector, kind, run, reduction="mean", full=False, steps=6, window=3):
    torch.manual_seed(3)
    model = {"mlp": MLP, "tokens": Tokens, "shared": Shared}[kind]()
    ref = copy.deepcopy(model).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.5)
    tt = traintop.watch(model, opt, run=run, endpoint=collector.endpoint, persample_full=full, gwa_window=window,
                        loss_reduction=reduction, every=1)
    assert sorted(tt.persample_layers) == sorted(n for n, m in model.named_modules() if isinstance(m, nn.Linear))
    names = [n for n, _ in model.named_parameters()]
    expect = {}
    for step in range(1, steps + 1):
        x, y = data(kind, step)
        # brute force with the weights of this step, before the update
        ref.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
        params = list(ref.parameters())
        grads = per_sample_grads(ref, params, lambda m, i: F.cross_entropy(m(x[i:i + 1].double()), y[i:i + 1]), B)
        weights = [p.detach().numpy() for p in params]
        expect[step] = {
            "gammas": [gamma(gi, weights) for gi in grads],
            "layer_gamma": {n: float(np.mean([gamma([gi[k]], [weights[k]]) for gi in grads])) for k, n in enumerate(names)},
            "noise": noise(grads, B),
        }
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out, y, reduction=reduction)
        loss.backward()
        opt.step()
        tt.step(loss=loss)
    tt.close()
    return Run(collector.messages(run)), expect, names


def check(run, expect, names, window, full=False, noise_factor=1.0):
    window_gammas = []
    for step, e in expect.items():
        got_mean = run.scalar(step, "gamma_mean")
        assert got_mean == pytest.approx(np.mean(e["gammas"]), abs=1e-6), step
        for n in names:                                       # each layer's own γ mean
            assert run.extra(step, n, "gamma_mean") == pytest.approx(e["layer_gamma"][n], abs=1e-6), (step, n)
        nz = e["noise"]
        f = noise_factor
        assert run.scalar(step, "trace_sigma") == pytest.approx(f * nz["trace_sigma"], rel=1e-5)
        assert run.scalar(step, "norm_test") == pytest.approx(nz["norm_test"], rel=1e-5)
        assert run.scalar(step, "grad_sq") == pytest.approx(f * nz["grad_sq"], abs=1e-5 * f * (nz["g2"] + nz["trace_sigma"] / B))
        if full:
            assert run.scalar(step, "inner_test") == pytest.approx(nz["inner_test"], rel=1e-5)
            assert run.scalar(step, "ortho_test") == pytest.approx(nz["ortho_test"], rel=1e-5)
        window_gammas += e["gammas"]
        if step % window == 0:
            want = window_report(window_gammas)
            window_gammas = []
            for k in ("gwa_gamma_mean", "gwa_gamma_std", "gwa_frac_neg"):
                assert run.scalar(step, k) == pytest.approx(want[k], abs=1e-6), (step, k)
            for k in ("gwa", "gwa_kurtosis"):
                got = run.scalar(step, k)
                assert got == pytest.approx(want[k], rel=2e-4, abs=1e-6, nan_ok=True), (step, k)
        else:
            assert run.scalar(step, "gwa") is None


def test_mlp_inplace_relu_full(collector):
    run, expect, names = run_case(collector, "mlp", "ps-mlp", full=True)
    check(run, expect, names, 3, full=True)


def test_tokens_3d(collector):
    run, expect, names = run_case(collector, "tokens", "ps-tokens")
    check(run, expect, names, 3)


def test_linear_called_twice(collector):
    run, expect, names = run_case(collector, "shared", "ps-shared")
    check(run, expect, names, 3)


def test_sum_reduction(collector):
    """loss_reduction="sum": the batch gradient is Σ_i of the samples' own gradients while the C probe
    takes it as their mean, so each g_i is B × the sample's own gradient: γ, GWA and the norm test are
    exact, trace_sigma and grad_sq B² larger (docs/python.md)."""
    run, expect, names = run_case(collector, "mlp", "ps-sum", reduction="sum", steps=3, full=True)
    check(run, expect, names, 3, full=True)   # exact for a summed loss too (grad_scale 1, gbar_scale 1/B)


def test_persample_every_2_and_off(collector):
    """Per-sample statistics follow `every`; persample=False sends none."""
    torch.manual_seed(0)
    model = MLP()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for run, kw in (("ps-every2", {"every": 2}), ("ps-off", {"persample": False, "every": 1})):
        tt = traintop.watch(model, opt, run=run, endpoint=collector.endpoint, **kw)
        for step in range(1, 5):
            x, y = data("mlp", step)
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            tt.step()
        tt.close()
        r = Run(collector.messages(run))
        has = [r.scalar(s, "gamma_mean") is not None for s in range(1, 5)]
        assert has == ([False, True, False, True] if run == "ps-every2" else [False] * 4)
        assert math.isfinite(r.layer(4, "fc1.weight")["g_norm"])


class FakeScaler:
    """The parts of torch.cuda.amp.GradScaler the probe reads, for a CPU run: a fixed scale S."""

    def __init__(self, S):
        self.S = S
        self._scale = torch.full((1,), S)

    def is_enabled(self):
        return True

    def get_scale(self):
        return self.S


def scaled_run(collector, run, S, scaler, full=True, steps=4):
    """Mixed-precision loss scaling by hand: backward on S × loss, gradients divided by S before the
    optimizer step (what GradScaler.step does). S a power of two: training is bit-identical to S = 1."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(10, 6, generator=g), torch.randint(0, 4, (10,), generator=g)
    tt = traintop.watch(model, opt, run=run, endpoint=collector.endpoint, persample_full=full, gwa_window=2,
                        auto_step=False, scaler=scaler, every=1)
    for _ in range(steps):
        opt.zero_grad()
        (F.cross_entropy(model(x), y) * S).backward()
        with torch.no_grad():
            for p in model.parameters():
                p.grad.div_(S)
        opt.step()
        tt.step()
    tt.close()
    return Run(collector.messages(run))


def test_loss_scaler(collector):
    """With scaler=, every per-sample statistic of a loss-scaled run equals the unscaled run's; without
    it the absolute ones (trace_sigma, grad_sq) are S² too large, the ratios unchanged."""
    S = 1024.0
    base = scaled_run(collector, "ls-base", 1.0, None)
    told = scaled_run(collector, "ls-told", S, FakeScaler(S))
    blind = scaled_run(collector, "ls-blind", S, None)
    names = ("gamma_mean", "trace_sigma", "grad_sq", "noise_scale", "norm_test", "inner_test", "ortho_test")
    for step in sorted(base.steps):
        for n in names:
            b, t = base.scalar(step, n), told.scalar(step, n)
            assert b is not None and math.isclose(t, b, rel_tol=1e-9, abs_tol=1e-300), (step, n, t, b)
        for n in ("trace_sigma", "grad_sq"):
            assert math.isclose(blind.scalar(step, n), S * S * base.scalar(step, n), rel_tol=1e-9), (step, n)
        for n in ("gamma_mean", "noise_scale"):
            assert math.isclose(blind.scalar(step, n), base.scalar(step, n), rel_tol=1e-9), (step, n)
