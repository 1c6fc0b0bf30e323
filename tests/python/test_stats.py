"""§1 layer statistics of traintop.watch() against float64 references computed from the same tensors.

The references (refs.layer_stats) read the weights after each update, the gradient the optimizer used,
the weights one step earlier and at watch() time, all snapshotted by the test, and compute every
statistic in float64 from the definitions. Both paths are covered: parameters the C probe reads in
place (contiguous float32 on the CPU) and "external" ones whose statistics are computed with torch ops
(float64, and a non-contiguous float32 parameter).

Tolerance: rtol 1e-8 with atol 1e-13. The probe sums float32 values in double (products are exact),
so only summation order and the 10 significant digits of the recording differ (≤ 5e-10 relative);
angles use two different stable formulas, both accurate to ~1e-15 relative in double.
"""
import math

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402

import traintop  # noqa: E402
from conftest import Run  # noqa: E402
from refs import STATS, as2d, close, layer_stats  # noqa: E402

RTOL, ATOL = 1e-8, 1e-13


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 10)
        self.fc2 = nn.Linear(10, 4)
        self.gain = nn.Parameter(torch.ones(4) + 0.1 * torch.randn(4))       # a vector
        self.ext = nn.Linear(4, 3).double()                                  # external: float64
        self.nc = nn.Parameter(torch.randn(3, 5).t())                        # external: not contiguous

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        h = self.fc2(h) * self.gain
        h = self.ext(h.double()).float()
        return h @ self.nc.t()


def train(collector, run, every=1, steps=7, set_to_none=False, optimizer="sgd", nan_at=None, auto_step=None):
    torch.manual_seed(1)
    model = Net()
    opt = (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2) if optimizer == "sgd"
           else torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05))
    names = [n for n, _ in model.named_parameters()]
    tt = traintop.watch(model, opt, run=run, every=every, endpoint=collector.endpoint, auto_step=auto_step,
                        hparams={"note": "stats", "batch": 16})
    w0 = {n: as2d(p) for n, p in model.named_parameters()}
    snaps = {}
    x = torch.randn(16, 6)
    y = torch.randint(0, 5, (16,))
    for step in range(1, steps + 1):
        prev = {n: as2d(p) for n, p in model.named_parameters()}
        opt.zero_grad(set_to_none=set_to_none)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        if step == nan_at:             # a non-finite gradient out of backward: the update spreads it to W
            with torch.no_grad():
                model.fc1.weight.grad[0, 0] = math.nan
                model.ext.weight.grad[1, 1] = math.inf
        opt.step()
        snaps[step] = {n: (as2d(p), as2d(p.grad), prev[n]) for n, p in model.named_parameters()}
        tt.step(loss=loss)
    tt.close()
    return Run(collector.messages(run)), snaps, w0, names, tt


def check(run, snaps, w0, names, every):
    checked = 0
    for step, snap in snaps.items():
        if step % every:
            assert run.layer(step, names[0]) is None, "step %d is not sampled" % step
            continue
        for n in names:
            W, G, P = snap[n]
            want = layer_stats(W, G, P, w0[n])
            got = run.layer(step, n)
            for s in STATS:
                assert close(got[s], want[s], RTOL, ATOL), "step %d %s %s: got %r want %r" % (step, n, s, got[s], want[s])
                checked += 1
    return checked


@pytest.mark.parametrize("set_to_none,auto_step", [(False, None), (True, None), (False, False)])
def test_every_statistic_every_step(collector, set_to_none, auto_step):
    run, snaps, w0, names, tt = train(collector, "stats-%d-%s" % (set_to_none, auto_step), set_to_none=set_to_none,
                                      auto_step=auto_step)
    assert run.layers == names
    assert check(run, snaps, w0, names, 1) == 7 * len(names) * 12
    # the gradient buffers: aliased to .grad (no copy) with explicit stepping, unless set_to_none
    # recreates .grad each step; private (copied) with automatic stepping (torch >= 2)
    assert tt.auto_step == (auto_step is None and hasattr(tt.optimizer, "register_step_post_hook"))
    assert (tt.grad_copies > 0) == (set_to_none or tt.auto_step)
    assert run.scalar(3, "lr") == pytest.approx(0.1)
    assert run.scalar(3, "eq_angle") == pytest.approx(math.sqrt(2 * 0.1 * 1e-2 / 1.9), rel=1e-9)
    assert run.end["status"] == "finished"
    assert run.start["hparams"]["note"] == "stats" and run.start["hparams"]["optimizer"] == "SGD"


def test_sampling_every_3_adamw(collector):
    run, snaps, w0, names, _ = train(collector, "stats-every3", every=3, steps=9, optimizer="adamw")
    assert run.start["every"] == 3
    assert check(run, snaps, w0, names, 3) == 3 * len(names) * 12
    beta1 = 0.9
    assert run.scalar(9, "eq_angle") == pytest.approx(math.sqrt(2 * 3e-3 * 0.05 * (1 - beta1) / (1 + beta1)), rel=1e-9)


def test_nonfinite(collector):
    run, snaps, w0, names, _ = train(collector, "stats-nan", steps=3, nan_at=2)
    for n in ("fc1.weight", "ext.weight"):      # one non-finite gradient entry, and the weight it updated
        got = run.layer(2, n)
        assert layer_stats(*snaps[2][n], w0[n])["nonfinite"] == 2
        assert got["nonfinite"] == 2
        assert all(math.isnan(got[s]) for s in STATS if s != "nonfinite"), got
    assert run.layer(2, "fc2.weight")["nonfinite"] == 0
    assert check(run, {1: snaps[1]}, w0, names, 1)


def test_ls_shows_latest_scalars(collector):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with traintop.watch(model, opt, run="ls-run", endpoint=collector.endpoint, hparams={"seed": 0}) as tt:
        x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
        for _ in range(5):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            tt.step(loss=loss, val_acc=0.5)
        last = loss.item()
    collector.messages("ls-run")
    runs = {r["run"]: r for r in collector.ls()}
    r = runs["ls-run"]
    assert r["state"] == "finished" and r["step"] == 5 and r["layers"] == 4
    assert r["scalars"]["loss"] == pytest.approx(last, rel=1e-9)
    assert r["scalars"]["val_acc"] == 0.5 and r["scalars"]["lr"] == 0.05
    assert r["hparams"]["seed"] == 0


def test_replaced_data_and_step_numbers(collector):
    """p.data replaced after watch(): the probe follows the new values. step= sets the step numbers."""
    torch.manual_seed(4)
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tt = traintop.watch(model, opt, run="replaced", endpoint=collector.endpoint)
    x = torch.randn(5, 3)
    for step in (10, 20, 30):
        if step == 20:
            model.weight.data = torch.full((2, 3), 0.5)
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        w = as2d(model.weight)
        tt.step(step=step)
    tt.close()
    r = Run(collector.messages("replaced"))
    assert sorted(r.steps) == [10, 20, 30]
    assert r.layer(30, "weight")["w_norm"] == pytest.approx(float(torch.linalg.norm(torch.from_numpy(w))), rel=1e-8)


def test_sparse_embedding_gradient(collector):
    """A sparse gradient stays sparse for the optimizer; the probe reads a dense copy of it."""
    torch.manual_seed(5)
    model = nn.Sequential(nn.Embedding(20, 4, sparse=True), nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tt = traintop.watch(model, opt, run="sparse", endpoint=collector.endpoint)
    for step in (1, 2):
        opt.zero_grad()
        model(torch.tensor([1, 5, 5, 7])).sum().backward()
        assert model[0].weight.grad.is_sparse
        g = model[0].weight.grad.to_dense().norm().item()
        opt.step()
        tt.step()
    tt.close()
    r = Run(collector.messages("sparse"))
    assert r.layer(2, "0.weight")["g_norm"] == pytest.approx(g, rel=1e-6)
