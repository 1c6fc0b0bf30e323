#!/usr/bin/env python3
"""Trains an MLP on scikit-learn's handwritten digits (1,797 8×8 images, 10 classes; the data ships
with python3-sklearn, nothing is downloaded) and watches it with traintop.

The three lines traintop adds to a training script are marked `# traintop (n/3)`. Everything else is
an ordinary PyTorch script. With --label-noise 0.4 the model first learns, then memorises the flipped
labels: train loss keeps falling while val_loss rises and the gradient–weight alignment (gwa) turns.

    bin/traintop &                                     # or: bin/traintopd, then bin/traintop ls
    .venv/bin/python examples/torch_mlp.py --label-noise 0.4 --optimizer adamw

Exit status: 0 finished or stopped by the collector, 2 bad usage.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

try:
    import traintop                                                      # traintop (1/3)
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import traintop


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=3000, help="optimizer steps (default 3000)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--hidden", default="256,256", help="hidden layer widths, comma-separated (default 256,256)")
    p.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd")
    p.add_argument("--lr", type=float, default=None, help="default 0.05 (sgd) or 1e-3 (adamw)")
    p.add_argument("--wd", type=float, default=None, help="weight decay, default 5e-4 (sgd) or 0.01 (adamw)")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (AdamW: beta1)")
    p.add_argument("--label-noise", type=float, default=0.0,
                   help="fraction of training labels replaced by a different random class (default 0)")
    p.add_argument("--val-frac", type=float, default=0.2, help="held-out fraction (default 0.2)")
    p.add_argument("--eval-every", type=int, default=50, help="steps between validation passes (default 50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run", default=None, help="run name (default: script name + time)")
    p.add_argument("--endpoint", default=None, help="collector endpoint (default: $TRAINTOP_ENDPOINT or per-user)")
    p.add_argument("--every", type=int, default=1, help="publish layer statistics every N steps")
    p.add_argument("--spectral-every", type=int, default=0, help="spectral statistics every N steps (0: off)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    p.add_argument("--no-probe", action="store_true", help="train without traintop (for comparison)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    if not 0 <= a.label_noise < 1:
        p.error("--label-noise %g: expected a fraction in [0, 1)" % a.label_noise)
    if a.lr is None:
        a.lr = 0.05 if a.optimizer == "sgd" else 1e-3
    if a.wd is None:
        a.wd = 5e-4 if a.optimizer == "sgd" else 0.01
    return a


def load_data(args):
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=args.val_frac, random_state=args.seed, stratify=y)
    rng = np.random.default_rng(args.seed)
    flip = rng.random(len(y_tr)) < args.label_noise
    # a different class, uniformly: add 1..9 modulo 10
    y_tr = np.where(flip, (y_tr + rng.integers(1, 10, len(y_tr))) % 10, y_tr)
    t = torch.from_numpy
    return t(x_tr), t(y_tr), t(x_va), t(y_va), int(flip.sum())


def make_model(args, d_in, classes):
    widths = [int(w) for w in args.hidden.split(",") if w]
    layers, d = [], d_in
    for w in widths:
        layers += [nn.Linear(d, w), nn.ReLU()]
        d = w
    layers.append(nn.Linear(d, classes))
    return nn.Sequential(*layers)


@torch.no_grad()
def evaluate(model, x, y):
    model.eval()
    out = model(x)
    model.train()
    return F.cross_entropy(out, y).item(), (out.argmax(1) == y).float().mean().item()


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    x_tr, y_tr, x_va, y_va, flipped = load_data(args)
    model = make_model(args, x_tr.shape[1], 10)
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.wd)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(args.momentum, 0.999), weight_decay=args.wd)

    tt = None
    if not args.no_probe:
        tt = traintop.watch(model, opt, run=args.run, endpoint=args.endpoint, every=args.every,   # traintop (2/3)
                            spectral_every=args.spectral_every,
                            hparams={"dataset": "digits", "label_noise": args.label_noise, "batch": args.batch,
                                     "hidden": args.hidden, "seed": args.seed, "n_train": len(y_tr)})
        if not args.quiet:
            print("traintop: run %s, %d layers, per-sample statistics for %s" %
                  (tt.run, len(list(model.parameters())), ", ".join(tt.persample_layers)), file=sys.stderr)

    g = torch.Generator().manual_seed(args.seed)
    n = len(y_tr)
    t0 = time.time()
    stopped = None
    for step in range(1, args.steps + 1):
        idx = torch.randint(0, n, (args.batch,), generator=g)
        xb, yb = x_tr[idx], y_tr[idx]
        opt.zero_grad()
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        loss.backward()
        opt.step()

        extra = {}
        if step % args.eval_every == 0 or step == args.steps:
            extra["val_loss"], extra["val_acc"] = evaluate(model, x_va, y_va)
            extra["train_acc"] = (out.argmax(1) == yb).float().mean().item()
            if not args.quiet and (step // args.eval_every) % 10 == 0:
                print("step %5d  loss %.4f  val_loss %.4f  val_acc %.3f  (%.0f steps/s)" %
                      (step, loss.item(), extra["val_loss"], extra["val_acc"], step / (time.time() - t0)), file=sys.stderr)
        if tt is not None:
            tt.step(loss=loss, **extra)                                  # traintop (3/3)
            if tt.should_stop:
                stopped = tt.stop_reason
                break
    if stopped is not None:
        print("run %s: stopped at step %d: %s" % (tt.run, step, stopped), file=sys.stderr)
    elif not args.quiet:
        val_loss, val_acc = evaluate(model, x_va, y_va)
        print("done: %d steps in %.1f s, val_loss %.4f, val_acc %.3f (%d of %d training labels flipped)" %
              (args.steps, time.time() - t0, val_loss, val_acc, flipped, n), file=sys.stderr)
    if tt is not None:
        tt.close()          # optional: at exit the run is closed anyway ("finished", "stopped" or "failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
