"""Scalars given as GPU tensors on a step that samples nothing are published once their copy to the host
has landed, so that such a step never waits for the device (traintop.watch.DeviceScalars).

No GPU here: CPU tensors stand for GPU ones and the copy is replaced by one whose landing the test sees.
What is checked is the bookkeeping around it, through the optimizer hook (auto_step) and through tt.step
alone: only unsampled steps are deferred; a deferred step is published before anything of the next step
reaches the probe (published count, the next step's statistics); every step arrives once, in order, with
its own loss, sampled steps with their layer rows. tests/cuda/test_cuda_torch.py checks on a GPU that no
synchronisation happens in such a step.
"""
import importlib
import time

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import traintop  # noqa: E402
from conftest import Run  # noqa: E402

watch_mod = importlib.import_module("traintop.watch")      # the module (traintop.watch is the function)

class LandsOnRead:
    """DeviceScalars without a device: records which step's values were deferred and when they were read."""
    made, read = [], []

    def __init__(self, scalars):
        self.names = [k for k, v in scalars.items() if isinstance(v, torch.Tensor)]
        self.vals = {k: float(scalars[k].detach()) for k in self.names}
        self.ended = time.monotonic()
        LandsOnRead.made.append(self.vals["loss"])

    def values(self):
        LandsOnRead.read.append(self.vals["loss"])
        return dict(self.vals)


@pytest.mark.parametrize("auto_step", [None, False])
def test_unsampled_steps_with_device_scalars_are_published_late_and_right(collector, monkeypatch, auto_step):
    monkeypatch.setattr(watch_mod, "_on_gpu", lambda v: isinstance(v, torch.Tensor))
    monkeypatch.setattr(watch_mod, "DeviceScalars", LandsOnRead)
    LandsOnRead.made, LandsOnRead.read = [], []
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = "devscalars-%s" % auto_step
    tt = traintop.watch(model, opt, run=run, endpoint=collector.endpoint, every=3, auto_step=auto_step)
    g = torch.Generator().manual_seed(1)
    losses = []
    for step in range(1, 10):
        x, y = torch.randn(5, 6, generator=g), torch.randint(0, 3, (5,), generator=g)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        tt.step(loss=loss)
        losses.append(float(loss.detach()))
        # the step before reached the probe before this one's work (at its backward's per-sample batch or
        # its optimizer step); this one, if it samples nothing, waits for its copy
        assert tt.counters()["steps"] == (step - 1 if step % 3 else step), step
    tt.close()
    unsampled = [l for s, l in enumerate(losses, 1) if s % 3]
    assert LandsOnRead.made == unsampled and LandsOnRead.read == unsampled
    r = Run(collector.messages(run))
    assert sorted(r.steps) == list(range(1, 10))
    for step, l in enumerate(losses, 1):
        assert r.scalar(step, "loss") == pytest.approx(l, rel=1e-9), step
        assert (r.layer(step, "0.weight") is not None) == (step % 3 == 0), step


def test_cpu_tensors_are_read_at_once(collector):
    """Without a GPU nothing is deferred: a CPU tensor's value costs no wait."""
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tt = traintop.watch(model, opt, run="cpu-scalars", endpoint=collector.endpoint, every=3)
    for step in range(1, 3):
        opt.zero_grad()
        loss = model(torch.ones(2, 4)).pow(2).mean()
        loss.backward()
        opt.step()
        tt.step(loss=loss)
        assert tt.counters()["steps"] == step
    tt.close()
