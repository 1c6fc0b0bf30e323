"""watch() on a torch.compile'd model: the same §1 statistics as eager mode, no graph break, per-sample
statistics refused with one warning (python/traintop/compiled.py).

The statistics are checked against float64 references from the compiled run's own tensors
(refs.layer_stats, tolerance as test_stats.py: rtol 1e-8, atol 1e-13). Graph breaks are counted by
torch._dynamo's own counters: the probed compiled model must give exactly the graphs the unprobed one
gives (one), with no graph break.
"""
import warnings

import pytest

torch = pytest.importorskip("torch")
if not hasattr(torch, "compile"):
    pytest.skip("torch.compile needs torch 2", allow_module_level=True)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch._dynamo.utils import counters  # noqa: E402

import traintop  # noqa: E402
from traintop.compiled import PERSAMPLE_MSG  # noqa: E402
from conftest import Run  # noqa: E402
from refs import STATS, as2d, close, layer_stats  # noqa: E402

RTOL, ATOL = 1e-8, 1e-13
STEPS = 3


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 12)
        self.fc2 = nn.Linear(12, 4)
        self.gain = nn.Parameter(torch.ones(4) + 0.1 * torch.randn(4))

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x))) * self.gain


def compile_(model, how):
    if how == "torch.compile":
        return torch.compile(model)
    model.compile()
    return model


def train(model, compiled, opt, tt=None, steps=STEPS):
    """Trains `compiled` (the callable) and snapshots what the references need."""
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(16, 6, generator=g), torch.randint(0, 4, (16,), generator=g)
    snaps = {}
    for step in range(1, steps + 1):
        prev = {n: as2d(p) for n, p in model.named_parameters()}
        opt.zero_grad()
        loss = F.cross_entropy(compiled(x), y)
        loss.backward()
        opt.step()
        snaps[step] = {n: (as2d(p), as2d(p.grad), prev[n]) for n, p in model.named_parameters()}
        if tt is not None:
            tt.step(loss=loss)
    return snaps


def graphs(fn):
    """(graph breaks, unique graphs) that torch._dynamo counted while fn() ran, from a clean cache."""
    torch._dynamo.reset()
    counters.clear()
    fn()
    return sum(counters["graph_break"].values()), counters["stats"]["unique_graphs"]


@pytest.mark.parametrize("how", ["torch.compile", "module.compile"])
def test_compiled_model_same_statistics_no_graph_break(collector, how):
    torch.manual_seed(0)
    model = Net()
    names = [n for n, _ in model.named_parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    compiled = compile_(model, how)
    snaps = {}
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        tt = traintop.watch(compiled, opt, run="c-" + how.replace(".", ""), endpoint=collector.endpoint, every=1)
        w0 = {n: as2d(p) for n, p in model.named_parameters()}
        breaks, n_graphs = graphs(lambda: snaps.update(train(model, compiled, opt, tt)))
        tt.close()
    assert tt.compiled and tt.persample_layers == []
    assert [str(w.message) for w in said if "traintop" in str(w.message)] == [PERSAMPLE_MSG]
    assert (breaks, n_graphs) == (0, 1)
    run = Run(collector.messages(tt.run))
    assert run.layers == names                       # the module's own names, not _orig_mod.*
    assert sorted(run.steps) == list(range(1, STEPS + 1))
    for step, snap in snaps.items():
        for n in names:
            W, G, P = snap[n]
            want, got = layer_stats(W, G, P, w0[n]), run.layer(step, n)
            for s in STATS:
                assert close(got[s], want[s], RTOL, ATOL), (how, step, n, s, got[s], want[s])
    assert run.end["status"] == "finished"


def test_compiled_after_watch_hooks_stand_aside(collector):
    """watch() first, torch.compile afterwards: the per-sample hooks see they are traced and add nothing
    to the graph (same graph count as the unprobed model, no break); one warning says so; §1 goes on."""
    torch.manual_seed(0)
    plain = Net()
    base = graphs(lambda: train(plain, torch.compile(plain), torch.optim.SGD(plain.parameters(), lr=0.1), steps=2))
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        tt = traintop.watch(model, opt, run="c-after", endpoint=collector.endpoint, every=1)
        assert tt.persample_layers == ["fc1", "fc2"] and not tt.compiled
        probed = graphs(lambda: train(model, torch.compile(model), opt, tt, steps=2))
        tt.close()
    assert probed == base == (0, 1)
    msgs = [str(w.message) for w in said if "torch.compile" in str(w.message)]
    assert len(msgs) == 1 and "persample=False" in msgs[0]
    run = Run(collector.messages("c-after"))
    assert run.layer(2, "fc1.weight")["g_norm"] > 0
    assert run.scalar(2, "gamma_mean") is None and run.scalar(2, "trace_sigma") is None   # no per-sample sums reached the probe


def test_persample_false_is_quiet(collector):
    torch.manual_seed(0)
    model = Net()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        tt = traintop.watch(torch.compile(model), run="c-quiet", endpoint=collector.endpoint, persample=False)
        tt.close()
    assert not [w for w in said if "traintop" in str(w.message)]
