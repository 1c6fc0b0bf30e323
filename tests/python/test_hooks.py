"""Hooks and stepping: close() removes every hook; automatic stepping from an optimizer post-step hook
(torch >= 2.0 has register_step_post_hook; here an SGD subclass provides it so the path also runs on
torch 1.13); the context manager's run_end status."""
from collections import OrderedDict

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torch.utils.hooks  # noqa: E402

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import traintop  # noqa: E402
from conftest import Run  # noqa: E402
from refs import STATS, as2d, close, layer_stats  # noqa: E402


class PostHookSGD(torch.optim.SGD):
    """SGD with torch 2's register_step_pre_hook / register_step_post_hook (hook(optimizer, args,
    kwargs)), on any torch."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.prehooks, self.posthooks = OrderedDict(), OrderedDict()

    def register_step_pre_hook(self, hook):
        handle = torch.utils.hooks.RemovableHandle(self.prehooks)
        self.prehooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook):
        handle = torch.utils.hooks.RemovableHandle(self.posthooks)
        self.posthooks[handle.id] = hook
        return handle

    def step(self, closure=None):
        for h in list(self.prehooks.values()):
            h(self, (), {})
        out = super().step(closure)
        for h in list(self.posthooks.values()):
            h(self, (), {})
        return out


def model_and_data(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 9), nn.ReLU(), nn.Linear(9, 3))
    x, y = torch.randn(12, 5), torch.randint(0, 3, (12,))
    return model, x, y


def hook_count(model, opt=None):
    n = 0
    for m in model.modules():
        n += len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
    for p in model.parameters():
        n += len(p._backward_hooks or {})
    if opt is not None:
        n += len(getattr(opt, "posthooks", {})) + len(getattr(opt, "prehooks", {}))
        n += len(getattr(opt, "_optimizer_step_post_hooks", {}) or {})
        n += len(getattr(opt, "_optimizer_step_pre_hooks", {}) or {})
    return n


def test_close_removes_every_hook(collector):
    model, x, y = model_and_data()
    opt = PostHookSGD(model.parameters(), lr=0.1)
    assert hook_count(model, opt) == 0
    tt = traintop.watch(model, opt, run="hooks", endpoint=collector.endpoint)
    assert tt.auto_step
    # a forward hook per Linear, a pre-hook on the model, the optimizer's pre- and post-step hooks
    assert hook_count(model, opt) == 2 + 1 + 2
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    tt.close()
    assert hook_count(model, opt) == 0
    n = len(collector.messages("hooks"))
    for _ in range(3):                       # training goes on untouched, and nothing is sent
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    assert tt.closed and tt.last_step == 3
    assert len(collector.messages("hooks")) == n
    tt.close()                               # idempotent


def auto_run(collector, run, explicit, persample=True):
    """SGD with the post-step hook; zero_grad(set_to_none=True) right after the step, before the step is
    published (the hazard deferred publishing has to survive)."""
    model, x, y = model_and_data(1)
    opt = PostHookSGD(model.parameters(), lr=0.1, momentum=0.9)
    names = [n for n, _ in model.named_parameters()]
    tt = traintop.watch(model, opt, run=run, endpoint=collector.endpoint, persample=persample, every=1)
    w0 = {n: as2d(p) for n, p in model.named_parameters()}
    snaps, losses = {}, {}
    for step in range(1, 6):
        prev = {n: as2d(p) for n, p in model.named_parameters()}
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if not explicit:
            tt.log(my_loss=loss.item())      # before optimizer.step(): belongs to this step
        opt.step()
        snaps[step] = {n: (as2d(p), as2d(p.grad), prev[n]) for n, p in model.named_parameters()}
        losses[step] = loss.item()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            model(x)                        # an evaluation pass between the optimizer and step()
        if explicit:
            tt.step(loss=loss)
    tt.close()
    r = Run(collector.messages(run))
    assert sorted(r.steps) == [1, 2, 3, 4, 5]
    for step, snap in snaps.items():
        key = "loss" if explicit else "my_loss"
        assert r.scalar(step, key) == pytest.approx(losses[step], rel=1e-9)
        for n in names:
            W, G, P = snap[n]
            want, got = layer_stats(W, G, P, w0[n]), r.layer(step, n)
            for s in STATS:
                assert close(got[s], want[s], 1e-8, 1e-13), (step, n, s, got[s], want[s])
        assert (r.scalar(step, "gamma_mean") is not None) == persample
    return tt


@pytest.mark.parametrize("persample", [True, False])
def test_auto_step_from_optimizer_hook(collector, persample):
    tt = auto_run(collector, "auto-%d" % persample, explicit=False, persample=persample)
    assert tt.grad_copies > 0                 # private gradient buffers, copied once per step


def test_explicit_step_with_auto_capable_optimizer(collector):
    auto_run(collector, "auto-explicit", explicit=True)


def test_torch_113_optimizer_needs_explicit_step(collector):
    model, x, y = model_and_data()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tt = traintop.watch(model, opt, run="no-hook", endpoint=collector.endpoint)
    assert tt.auto_step == hasattr(opt, "register_step_post_hook")
    tt.close()


@pytest.mark.parametrize("how", ["finished", "failed", "stopped"])
def test_context_manager_status(collector, how):
    model, x, y = model_and_data()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = "ctx-" + how
    with pytest.raises(BaseException) if how != "finished" else _nothing():
        with traintop.watch(model, opt, run=run, endpoint=collector.endpoint, auto_step=False, every=1) as tt:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
            tt.step()
            if how == "failed":
                raise ValueError("boom")
            if how == "stopped":
                raise KeyboardInterrupt
    assert Run(collector.messages(run)).end["status"] == how


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_step_before_optimizer_step_publishes_once_per_iteration(collector):
    """step() called with no optimizer step pending takes over: the post-step hook stays quiet."""
    model, x, y = model_and_data(2)
    opt = PostHookSGD(model.parameters(), lr=0.1)
    tt = traintop.watch(model, opt, run="step-first", endpoint=collector.endpoint, every=1)
    for i in range(4):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        tt.step(loss=loss)
        opt.step()
    tt.close()
    r = Run(collector.messages("step-first"))
    assert sorted(r.steps) == [1, 2, 3, 4] and r.end["step"] == 4


def test_skipped_layers_are_reported():
    """Per-sample statistics only where the C code can read the Linear in place, and not for weights
    shared between modules (their per-sample gradient has other terms)."""
    torch.manual_seed(0)
    emb = nn.Embedding(10, 6)
    head = nn.Linear(6, 10, bias=False)
    head.weight = emb.weight                       # tied
    model = nn.ModuleDict({"emb": emb, "head": head, "f64": nn.Linear(3, 3).double(), "ok": nn.Linear(2, 2)})
    tt = traintop.watch(model, run="skips", endpoint="ipc:///tmp/traintop-test-nobody/c.sock", linger_ms=0)
    assert tt.persample_layers == ["ok"]
    assert set(tt.persample_skipped) == {"emb", "head", "f64"}     # Embeddings are covered too, when not tied
    tt.close()


def test_cuda_graph_capture_is_skipped(collector, monkeypatch):
    """Hooks that fire while a CUDA graph is captured do nothing (no host reads, no enqueued work);
    tt.step() after each replay publishes the step. Capture is simulated on the CPU: the probe asks
    torch.cuda whether the current stream is capturing, through traintop.hooks.capturing; the
    capture itself runs nothing (weights restored), replays run no hooks. float64 parameters take the
    path CUDA parameters take without the GPU backend: statistics read when the step is prepared."""
    from traintop import hooks
    model, x, y = model_and_data(2)
    model, x = model.double(), x.double()
    opt = PostHookSGD(model.parameters(), lr=0.1)
    names = [n for n, _ in model.named_parameters()]
    tt = traintop.watch(model, opt, run="capture", endpoint=collector.endpoint, every=1)
    w0 = {n: as2d(p) for n, p in model.named_parameters()}

    def iteration():
        prev = {n: as2d(p) for n, p in model.named_parameters()}
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return {n: (as2d(p), as2d(p.grad), prev[n]) for n, p in model.named_parameters()}, loss.item()

    def capturing(on):
        monkeypatch.setattr(hooks, "capturing", lambda: on)

    snaps = {}
    for step in (1, 2):                                  # eager warm-up, published by the optimizer hook
        snaps[step], _ = iteration()
    capturing(True)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.warns(RuntimeWarning, match="CUDA graph capture"):
        iteration()
        assert tt.step(loss=1.0) is False                # ignored while capturing
    with torch.no_grad():                                # a capture executes nothing
        for p, b in zip(model.parameters(), before):
            p.copy_(b)
    losses = {}
    for step in (3, 4, 5):                               # replays: no hooks run, then tt.step()
        capturing(True)
        snaps[step], losses[step] = iteration()
        capturing(False)
        tt.step(loss=losses[step])
    tt.close()
    r = Run(collector.messages("capture"))
    assert sorted(r.steps) == [1, 2, 3, 4, 5]
    for step, snap in snaps.items():
        if step in losses:
            assert r.scalar(step, "loss") == pytest.approx(losses[step], rel=1e-9)
        for n in names:
            W, G, P = snap[n]
            want, got = layer_stats(W, G, P, w0[n]), r.layer(step, n)
            for s in STATS:
                assert close(got[s], want[s], 1e-8, 1e-13), (step, n, s, got[s], want[s])


def test_a_failing_hook_never_stops_training(collector, monkeypatch):
    """Whatever a probe hook raises (here a simulated out-of-memory in the per-sample work, then in the
    optimizer hook), backward() and optimizer.step() go on, one warning says what failed, and the
    steps that could be published are."""
    from traintop.persample import PerSample
    from traintop.watch import Watch

    def oom(*a, **kw):
        raise RuntimeError("CUDA out of memory (simulated)")

    model, x, y = model_and_data(4)
    opt = PostHookSGD(model.parameters(), lr=0.1)
    tt = traintop.watch(model, opt, run="failing", endpoint=collector.endpoint)
    monkeypatch.setattr(PerSample, "_dense_batch", oom)
    with pytest.warns(RuntimeWarning, match="probe hook failed.*simulated"):
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    monkeypatch.undo()
    before = [p.detach().clone() for p in model.parameters()]
    monkeypatch.setattr(Watch, "_prepare", oom)
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()                                            # the post-step hook fails inside
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))   # the update happened
    monkeypatch.undo()
    tt.close()
    r = Run(collector.messages("failing"))
    assert sorted(r.steps)[:3] == [1, 2, 3]               # published without per-sample numbers
    assert r.layer(1, "0.weight") is not None and r.scalar(1, "gamma_mean") is None


def test_watch_is_the_function_after_its_module_is_imported():
    """Importing the submodule traintop.watch (watch.py) must not turn traintop.watch into a module:
    the import system sets the package's attribute, which the package refuses for that name."""
    pkg = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")
    code = ("import sys; sys.path.insert(0, %r)\n"
            "import traintop.watch, traintop\n"
            "from traintop.watch import Watch\n"
            "print(callable(traintop.watch), traintop.Watch is Watch, type(sys.modules['traintop.watch']).__name__)"
            % os.path.abspath(pkg))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "True", "module"]
