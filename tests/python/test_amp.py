"""Mixed precision on the CPU with torch 2.x: autocast (bfloat16, float16), GradScaler, bfloat16 weights.

* §1 statistics under a GradScaler describe the unscaled gradient the optimizer used (g_norm is not
  S times too large, also with per-sample statistics on, whose end-of-backward copy holds the scaled
  gradient), against float64 references from the run's own tensors (rtol 1e-8, as test_stats.py).
  A step the scaler skips (inf in the gradients) is not an optimizer step and is not published.
* Per-sample statistics with scaler=: a float32 model trained with a GradScaler whose scale is a power
  of two has gradients exactly S times the unscaled ones (scaling by 2^k is exact in binary floating
  point), so the run must publish the same numbers as the same run without a scaler (rtol 1e-6: the
  C code's 1/S and S² are applied in a different order); without scaler= the absolute trace_sigma is
  S² too large, as docs/python.md says.
* bfloat16 weights (the torch-ops backend): §1 against references from the same bfloat16 values.
"""
import math

import pytest

torch = pytest.importorskip("torch")
if not hasattr(torch, "amp") or not hasattr(torch.amp, "GradScaler"):
    pytest.skip("torch.amp.GradScaler on the CPU needs torch 2.3", allow_module_level=True)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import traintop  # noqa: E402
from conftest import Run  # noqa: E402
from refs import STATS, as2d, close, layer_stats  # noqa: E402

RTOL, ATOL = 1e-8, 1e-13
SCALE = 2.0 ** 10


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def data(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(32, 8, generator=g), torch.randint(0, 3, (32,), generator=g)


def check(run, published, w0):
    for step, snap in published.items():
        for n, (W, G, P) in snap.items():
            want, got = layer_stats(W, G, P, w0[n]), run.layer(step, n)
            for s in STATS:
                assert close(got[s], want[s], RTOL, ATOL), (step, n, s, got[s], want[s])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("auto_step", [None, False])
def test_gradscaler_autocast_statistics_are_unscaled(collector, dtype, auto_step):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", init_scale=SCALE)
    run = "amp-%s-%s" % (str(dtype)[6:], "auto" if auto_step is None else "explicit")
    tt = traintop.watch(model, opt, run=run, endpoint=collector.endpoint, auto_step=auto_step, scaler=scaler, every=1)
    assert tt.persample_layers == ["0", "2"]          # the end-of-backward copy the bug came from
    w0 = {n: as2d(p) for n, p in model.named_parameters()}
    x, y = data()
    published, skipped = {}, 0
    for it in range(1, 6):
        prev = {n: as2d(p) for n, p in model.named_parameters()}
        opt.zero_grad()
        with torch.autocast("cpu", dtype=dtype):
            loss = F.cross_entropy(model(x), y)
        if it == 3 and auto_step is None:
            loss = loss * math.inf                    # inf gradients: the scaler skips this step
        scaler.scale(loss).backward()
        scale_before = scaler.get_scale()
        scaler.step(opt)
        scaler.update()
        if scaler.get_scale() < scale_before:         # skipped: no optimizer step, nothing published
            skipped += 1
            continue
        published[len(published) + 1] = {n: (as2d(p), as2d(p.grad), prev[n]) for n, p in model.named_parameters()}
        tt.step(loss=loss)
    tt.close()
    assert skipped == (1 if auto_step is None else 0)
    r = Run(collector.messages(run))
    assert sorted(r.steps) == sorted(published)
    check(r, published, w0)
    g = published[1]["0.weight"][1]
    assert r.layer(1, "0.weight")["g_norm"] == pytest.approx(math.sqrt((g * g).sum()), rel=1e-8)


def _persample_run(collector, run, scaler, pass_scaler):
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    tt = traintop.watch(model, opt, run=run, endpoint=collector.endpoint, scaler=scaler if pass_scaler else None, every=1)
    x, y = data(2)
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        tt.step(loss=loss)
    tt.close()
    return Run(collector.messages(run))


def test_gradscaler_persample_with_scaler(collector):
    plain = _persample_run(collector, "ps-plain", None, False)
    scaled = _persample_run(collector, "ps-scaler", torch.amp.GradScaler("cpu", init_scale=SCALE), True)
    unsaid = _persample_run(collector, "ps-unsaid", torch.amp.GradScaler("cpu", init_scale=SCALE), False)
    for step in (1, 2, 3):
        for name in ("trace_sigma", "grad_sq", "gamma_mean", "norm_test"):
            want = plain.scalar(step, name)
            assert want is not None and math.isfinite(want), (step, name)
            assert scaled.scalar(step, name) == pytest.approx(want, rel=1e-6), (step, name)
        for n in ("0.weight", "2.bias"):
            for s in ("g_norm", "gw_cos", "update_norm"):
                assert scaled.layer(step, n)[s] == pytest.approx(plain.layer(step, n)[s], rel=1e-9), (step, n, s)
                assert unsaid.layer(step, n)[s] == pytest.approx(plain.layer(step, n)[s], rel=1e-9), (step, n, s)
        # without scaler=: ratios right, the absolute trace S² too large (documented)
        assert unsaid.scalar(step, "gamma_mean") == pytest.approx(plain.scalar(step, "gamma_mean"), rel=1e-6)
        assert unsaid.scalar(step, "trace_sigma") == pytest.approx(SCALE ** 2 * plain.scalar(step, "trace_sigma"),
                                                                   rel=1e-6)


def test_bfloat16_weights(collector):
    """bfloat16 parameters go through the torch-ops backend; the references read the same values."""
    model = mlp().to(torch.bfloat16)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    tt = traintop.watch(model, opt, run="bf16-weights", endpoint=collector.endpoint, every=1)
    w0 = {n: as2d(p) for n, p in model.named_parameters()}
    x, y = data(3)
    published = {}
    for step in (1, 2, 3):
        prev = {n: as2d(p) for n, p in model.named_parameters()}
        opt.zero_grad()
        loss = F.cross_entropy(model(x.to(torch.bfloat16)).float(), y)
        loss.backward()
        opt.step()
        published[step] = {n: (as2d(p), as2d(p.grad), prev[n]) for n, p in model.named_parameters()}
        tt.step(loss=loss)
    tt.close()
    check(Run(collector.messages("bf16-weights")), published, w0)
