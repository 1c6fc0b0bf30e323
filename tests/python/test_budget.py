"""The overhead budget, watch()'s default: the probe samples the steps its schedule announces and no
others — §1 rows, per-sample statistics and gradient copies only there — and publishes the achieved
overhead (probe_overhead_pct) on its sampled steps; every= still forces a fixed schedule. The model is
chosen so the probe costs about as much as the step itself (a 1M-parameter layer, batch 2), so a 2 %
budget must sample rarely; how rarely depends on the machine, whether the schedule is kept does not."""
import math

import pytest

from conftest import Run, num

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import traintop  # noqa: E402
from traintop.probe import SAMPLE_PERSAMPLE, SAMPLE_STATS  # noqa: E402

STEPS = 80


def model_and_data():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    x, y = torch.randn(2, 1024), torch.randint(0, 10, (2,))
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), x, y


def train(collector, run, steps=STEPS, **kw):
    """Trains `steps` steps; returns the recorded run, the plan announced before each step (the probe's
    tt_probe_sampled for the next step) and the watcher's counters."""
    model, opt, x, y = model_and_data()
    tt = traintop.watch(model, opt, run=run, endpoint=collector.endpoint, **kw)
    plan = {}
    for _ in range(steps):
        s = tt.last_step + 1
        plan[s] = tt.probe.sampled(s)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        tt.step(loss=loss)
        assert tt.last_step == s
    counters = tt.counters()
    tt.close()
    return Run(collector.messages(run)), plan, counters


@pytest.mark.parametrize("overhead", [None, 0.2])
def test_budget_schedule_is_what_arrives(collector, overhead):
    kw = {} if overhead is None else {"overhead": overhead}      # None: watch()'s default, 2 %
    run, plan, counters = train(collector, "budget-%s" % overhead, **kw)
    assert run.start["every"] == 1                       # any step may be sampled
    assert sorted(run.steps) == list(range(1, STEPS + 1))  # loss and the step itself: every step
    rows = {s for s in run.steps if "layers" in run.steps[s]}
    ps = {s for s in run.steps if "gamma_mean" in run.steps[s].get("scalars", {})}
    assert rows == {s for s, b in plan.items() if b & SAMPLE_STATS}
    assert ps == {s for s, b in plan.items() if b & SAMPLE_PERSAMPLE}
    assert {1, 2, 3} <= rows and {1, 2, 3} <= ps          # the first steps calibrate
    assert len(rows) < STEPS // 2 and len(ps) < STEPS // 2
    for s in rows:                                        # what is sampled is complete
        assert math.isfinite(run.layer(s, "0.weight")["update_ratio"])
    # the achieved overhead comes with sampled steps once a step time is known
    pct = {s: num(run.steps[s]["scalars"]["probe_overhead_pct"]) for s in run.steps
           if "probe_overhead_pct" in run.steps[s].get("scalars", {})}
    assert pct and set(pct) <= rows and 1 not in pct
    assert all(math.isfinite(v) and v >= 0 for v in pct.values())
    assert all("probe_ms" in run.steps[s]["scalars"] for s in run.steps)
    # unsampled steps copy no gradient: a copy per parameter and sampled step, at most, and one more on
    # per-sample steps (Ḡ at the end of backward; after the optimizer the gradient it used, which
    # GradScaler's unscale_ may have changed without a version bump)
    sampled = {s for s, b in plan.items() if b}
    assert 0 < counters["grad_copies"] <= 4 * (len(sampled) + len(ps))


def test_every_forces_a_fixed_schedule(collector):
    run, plan, counters = train(collector, "fixed", steps=12, every=3)
    assert run.start["every"] == 3
    assert {s for s in run.steps if "layers" in run.steps[s]} == {3, 6, 9, 12}
    assert all(b == (SAMPLE_STATS | SAMPLE_PERSAMPLE if s % 3 == 0 else 0) for s, b in plan.items())
    run, plan, _ = train(collector, "every1", steps=6, every=1)
    assert all("layers" in m and "gamma_mean" in m["scalars"] for m in run.steps.values())


@pytest.mark.parametrize("kw, msg", [({"overhead": 0}, "overhead=0"), ({"overhead": 1.5}, "overhead=1.5"),
                                     ({"every": 0}, "every=0"), ({"overhead": "2%"}, "overhead='2%'")])
def test_bad_settings(kw, msg):
    model, opt, _, _ = model_and_data()
    with pytest.raises(ValueError, match=msg):
        traintop.watch(model, opt, run="bad", endpoint="ipc:///tmp/traintop-test-nobody/c.sock", **kw)
