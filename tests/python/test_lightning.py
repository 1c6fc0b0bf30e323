"""traintop.integrations.lightning.TraintopCallback with a real lightning.pytorch.Trainer on a tiny
model and data the test makes (CPU, no downloads).

Checked from the recording of a real traintopd: one step per optimizer step, numbered by the Trainer's
global_step (also with gradient accumulation); the §1 statistics of every parameter against float64
references from the gradient the optimizer used and the weights before and after (snapshots the module
takes in its own hooks; rtol 1e-8 as test_stats.py); `loss` as training_step returned it, the logged
train metric each step, the logged validation metric once per validation with its value, `lr` and
`epoch`; the run's status; the collector's stop request ending fit() through trainer.should_stop.
"""
import time

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from conftest import Run  # noqa: E402
from refs import STATS, as2d, close, layer_stats  # noqa: E402
from traintop.integrations.lightning import TraintopCallback  # noqa: E402

N_TRAIN, BATCH = 48, 8


class Tiny(pl.LightningModule):
    def __init__(self, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
        self.losses, self.val_losses, self.snaps, self._before = {}, [], {}, None

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        self._loss = float(loss.detach())
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.val_losses.append(float(loss))
        self.log("val_loss", loss)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9, weight_decay=1e-3)

    # snapshots for the references: the gradient the optimizer uses and the weights around its step
    def on_train_start(self):
        self.w0 = {n: as2d(p) for n, p in self.named_parameters()}

    def on_before_optimizer_step(self, optimizer):
        self._before = {n: (as2d(p), as2d(p.grad)) for n, p in self.named_parameters()}

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self._before is not None:
            self.snaps[self.trainer.global_step] = {n: (as2d(p), self._before[n][1], self._before[n][0])
                                                    for n, p in self.named_parameters()}
            self.losses[self.trainer.global_step] = self._loss        # the step's last micro-batch
            self._before = None


def loaders():
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(N_TRAIN + 16, 8, generator=g), torch.randint(0, 3, (N_TRAIN + 16,), generator=g)
    train = DataLoader(TensorDataset(x[:N_TRAIN], y[:N_TRAIN]), batch_size=BATCH)
    val = DataLoader(TensorDataset(x[N_TRAIN:], y[N_TRAIN:]), batch_size=16)      # one batch: val_loss exact
    return train, val


def trainer(callbacks, **kw):
    return pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                      callbacks=callbacks, **kw)


@pytest.mark.parametrize("accumulate", [1, 2])
def test_lightning_trainer_publishes_each_optimizer_step(collector, accumulate):
    torch.manual_seed(0)
    model = Tiny()
    run = "pl-acc%d" % accumulate
    cb = TraintopCallback(run=run, endpoint=collector.endpoint, every=1)
    train, val = loaders()
    t = trainer([cb], max_epochs=2, accumulate_grad_batches=accumulate)
    t.fit(model, train, val)
    steps = N_TRAIN // BATCH // accumulate * 2
    assert t.global_step == steps and cb.tt.closed
    r = Run(collector.messages(run))
    assert sorted(r.steps) == list(range(1, steps + 1)) == sorted(model.snaps)
    assert r.start["hparams"]["lr"] == pytest.approx(0.1) and r.start["hparams"]["trainer"] == "lightning"
    for step, snap in model.snaps.items():
        for n, (W, G, P) in snap.items():
            want, got = layer_stats(W, G, P, model.w0[n]), r.layer(step, n)
            for s in STATS:
                assert close(got[s], want[s], 1e-8, 1e-13), (step, n, s, got[s], want[s])
        assert r.scalar(step, "loss") == pytest.approx(model.losses[step], rel=1e-6)
        assert r.scalar(step, "train_loss") == pytest.approx(model.losses[step], rel=1e-6)
        assert r.scalar(step, "lr") == pytest.approx(0.1)
        assert r.scalar(step, "epoch") == (step - 1) // (steps // 2)
    # validation at the end of each epoch: its value, once, with the epoch's last step
    val_steps = [s for s in sorted(r.steps) if r.scalar(s, "val_loss") is not None]
    assert val_steps == [steps // 2, steps]
    assert [r.scalar(s, "val_loss") for s in val_steps] == pytest.approx(model.val_losses, rel=1e-6)
    assert r.end["status"] == "finished"


class StopAt(pl.Callback):
    """At global step `at`, asks the collector to stop the run (as a rule or `traintop` would) and waits
    until the probe has the request, so the TraintopCallback after it sees it at this very step."""

    def __init__(self, collector, run, tt_cb, at):
        self.collector, self.run, self.tt_cb, self.at = collector, run, tt_cb, at

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step != self.at:
            return
        deadline = time.time() + 20
        while not any(r["run"] == self.run for r in self.collector.ls()):
            assert time.time() < deadline, "the collector never saw the run"
            time.sleep(0.05)
        assert self.collector.stop(self.run, "test: enough")["type"] == "ok"
        while not self.tt_cb.tt.should_stop:
            assert time.time() < deadline, "the stop request never reached the probe"
            time.sleep(0.02)


def test_collector_stop_ends_fit(collector):
    torch.manual_seed(0)
    cb = TraintopCallback(run="pl-stop", endpoint=collector.endpoint)
    t = trainer([StopAt(collector, "pl-stop", cb, at=3), cb], max_epochs=50)
    train, val = loaders()
    t.fit(Tiny(), train, val)
    assert t.global_step == 3                         # stopped right after the step the request came in
    r = Run(collector.messages("pl-stop"))
    assert sorted(r.steps) == [1, 2, 3]
    assert r.end["status"] == "stopped"


def test_exception_closes_failed(collector):
    class Boom(Tiny):
        def training_step(self, batch, batch_idx):
            if self.trainer.global_step == 2:
                raise RuntimeError("boom")
            return super().training_step(batch, batch_idx)

    torch.manual_seed(0)
    cb = TraintopCallback(run="pl-boom", endpoint=collector.endpoint)
    train, val = loaders()
    with pytest.raises(RuntimeError, match="boom"):
        trainer([cb], max_epochs=1).fit(Boom(), train, val)
    r = Run(collector.messages("pl-boom"))
    assert sorted(r.steps) == [1, 2] and r.end["status"] == "failed"


def test_import_without_lightning():
    """traintop.integrations imports no framework; the lightning module names what to install."""
    import subprocess
    import sys
    from conftest import PY, ROOT
    code = ("import sys; sys.modules.update({'lightning': None, 'lightning.pytorch': None, 'pytorch_lightning': None})\n"
            "import traintop.integrations\n"
            "try:\n    import traintop.integrations.lightning\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": ROOT + "/python", "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "traintop.integrations.lightning needs PyTorch Lightning: pip install lightning", out.stderr


def test_example_lightning_mlp(collector):
    """examples/lightning_mlp.py, a few steps: the callback publishes, validation metrics arrive."""
    import os
    import subprocess
    from conftest import PY, ROOT
    pytest.importorskip("sklearn")
    r = subprocess.run([PY, os.path.join(ROOT, "examples", "lightning_mlp.py"), "--max-steps", "6", "--hidden", "16",
                        "--batch", "256", "--run", "ex-pl", "--endpoint", collector.endpoint],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rec = Run(collector.messages("ex-pl"))
    assert sorted(rec.steps) == [1, 2, 3, 4, 5, 6] and rec.end["status"] == "finished"
    assert rec.start["hparams"]["dataset"] == "digits" and rec.start["hparams"]["hidden"] == 16
    assert rec.scalar(6, "val_acc") is not None and rec.scalar(6, "loss") > 0
