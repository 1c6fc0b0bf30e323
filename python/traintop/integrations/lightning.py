"""traintop in a PyTorch Lightning Trainer:

    from traintop.integrations.lightning import TraintopCallback
    trainer = lightning.pytorch.Trainer(callbacks=[TraintopCallback()], ...)

When training starts it watches the LightningModule with the Trainer's (first) optimizer. Each
optimizer step is published under the Trainer's global_step with the scalars `loss` (what
training_step returned, for the step's last micro-batch under gradient accumulation), `epoch`, and every metric the module logged with self.log() whose value is new
(train metrics each step, validation metrics once per validation: a metric repeated unchanged is not
republished, so a rule's patience counts validations, not steps). `lr` comes from the optimizer. The
collector's stop request sets trainer.should_stop; the run ends "finished", "stopped" (the collector
asked, or Ctrl-C) or "failed" (an exception). Needs lightning (or pytorch_lightning) >= 2 and torch >= 2.
"""
import torch

from ..backends.torchops import fetch_scalars
from .session import Session, scalars_of

try:
    from lightning.pytorch import Callback
except ImportError:
    try:
        from pytorch_lightning import Callback
    except ImportError as e:
        raise ImportError("traintop.integrations.lightning needs PyTorch Lightning: pip install lightning") from e

__all__ = ["TraintopCallback"]


class TraintopCallback(Callback):
    """TraintopCallback(**watch_kwargs): run, endpoint, every, hparams, persample, ... as traintop.watch()
    takes them (auto_step must stay on). `tt` is the Watch while training runs."""

    def __init__(self, **watch_kwargs):
        super().__init__()
        self.session = Session(watch_kwargs)
        self._last = {}                   # metric -> the value last published

    @property
    def tt(self):
        return self.session.tt

    # -------------------------------------------------------------- the Trainer's events

    def on_train_start(self, trainer, pl_module):
        opts = trainer.optimizers
        hp = scalars_of(getattr(pl_module, "hparams", None))
        hp.update({"trainer": "lightning", "max_epochs": trainer.max_epochs if trainer.max_epochs is not None else -1,
                   "accumulate_grad_batches": trainer.accumulate_grad_batches})
        self.session.open(pl_module, opts[0] if opts else None,
                          hparams={k: (float(v) if isinstance(v, torch.Tensor) else v) for k, v in hp.items()})
        self._last = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.session.flush()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        scalars = {"epoch": float(trainer.current_epoch)}
        if isinstance(loss, torch.Tensor) and loss.numel() == 1:
            # automatic optimization hands on the loss divided by accumulate_grad_batches: undo it
            k = trainer.accumulate_grad_batches if pl_module.automatic_optimization else 1
            scalars["loss"] = loss.detach().reshape(()) * k
        scalars.update(self._new_metrics(trainer))
        self.session.hold(trainer.global_step, scalars)
        if self.session.should_stop():
            trainer.should_stop = True

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.session.add(self._new_metrics(trainer))

    def on_train_end(self, trainer, pl_module):
        self.session.add(self._new_metrics(trainer))
        self.session.close()

    def on_exception(self, trainer, pl_module, exception):
        self.session.close("stopped" if isinstance(exception, KeyboardInterrupt) else "failed")

    # -------------------------------------------------------------- metrics

    def _new_metrics(self, trainer):
        """callback_metrics whose value differs from the one last published (one host transfer)."""
        metrics = scalars_of(trainer.callback_metrics)
        if not metrics:
            return {}
        names = list(metrics)
        values = fetch_scalars([torch.as_tensor(metrics[k], dtype=torch.float64) for k in names])
        new = {}
        for k, v in zip(names, values):
            if self._last.get(k) != v:
                new[k] = v
                self._last[k] = v
        return new
