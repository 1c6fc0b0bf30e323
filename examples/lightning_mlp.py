#!/usr/bin/env python3
"""Trains an MLP on scikit-learn's handwritten digits with a PyTorch Lightning Trainer, watched by
traintop through one callback (the data ships with scikit-learn: nothing is downloaded).

traintop adds two lines, marked `# traintop (n/2)`: the import and the callback. The Trainer builds the
optimizer and runs the loop; the callback watches the module, publishes every optimizer step with the
loss, lr, epoch and whatever the module logs (val_loss, val_acc once per validation), and stops fit()
when the collector asks (a rule, or `s` in the dashboard).

    bin/traintop &                                     # or: bin/traintopd, then bin/traintop ls
    .venv/bin/python examples/lightning_mlp.py --label-noise 0.4 --epochs 30

Exit status: 0 finished or stopped by the collector, 2 bad usage.
"""
import argparse
import os
import sys

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

try:
    from traintop.integrations.lightning import TraintopCallback         # traintop (1/2)
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    from traintop.integrations.lightning import TraintopCallback


class DigitsMLP(pl.LightningModule):
    def __init__(self, hidden=128, lr=1e-3, weight_decay=0.01):
        super().__init__()
        self.save_hyperparameters()          # published as the run's hyperparameters
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        out = self(x)
        self.log("val_loss", F.cross_entropy(out, y))
        self.log("val_acc", (out.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)


def loaders(label_noise, batch, seed):
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    rng = np.random.default_rng(seed)
    flip = rng.random(len(y_tr)) < label_noise
    y_tr = np.where(flip, (y_tr + rng.integers(1, 10, len(y_tr))) % 10, y_tr)   # a different class
    t = torch.from_numpy
    return (DataLoader(TensorDataset(t(x_tr), t(y_tr)), batch_size=batch, shuffle=True,
                       generator=torch.Generator().manual_seed(seed)),
            DataLoader(TensorDataset(t(x_va), t(y_va)), batch_size=len(y_va)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many optimizer steps (default: none)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--label-noise", type=float, default=0.0, help="fraction of training labels flipped (default 0)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run", default=None, help="run name (default: script name + time)")
    p.add_argument("--endpoint", default=None, help="collector endpoint (default: $TRAINTOP_ENDPOINT or per-user)")
    p.add_argument("--every", type=int, default=1, help="publish layer statistics every N steps")
    a = p.parse_args(argv)
    if not 0 <= a.label_noise < 1:
        p.error("--label-noise %g: expected a fraction in [0, 1)" % a.label_noise)
    pl.seed_everything(a.seed, verbose=False)
    train, val = loaders(a.label_noise, a.batch, a.seed)
    callback = TraintopCallback(run=a.run, endpoint=a.endpoint, every=a.every,          # traintop (2/2)
                                hparams={"dataset": "digits", "label_noise": a.label_noise, "batch": a.batch})
    trainer = pl.Trainer(max_epochs=a.epochs, max_steps=a.max_steps, accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[callback])
    trainer.fit(DigitsMLP(a.hidden, a.lr), train, val)
    m = trainer.callback_metrics
    print("done: %d steps, val_loss %.4f, val_acc %.3f%s" % (trainer.global_step, m["val_loss"], m["val_acc"],
          " (stopped by the collector: %s)" % callback.tt.stop_reason if callback.tt.should_stop else ""),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
