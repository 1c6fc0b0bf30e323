#!/usr/bin/env python3
"""GWA early stopping under label noise: how close each signal's stop comes to the best epoch.

Every run trains a model with traintop.watch() (GWA window = one epoch, the classifier head feeds the
paper's head-only GWA) publishing to a real traintopd that evaluates one alert-only early_stop rule per
signal (the rule engine users get, docs/alerts.md). A rule that fires selects the checkpoint of its best
value (best_step, as restore-best-weights does); one that never fires leaves the run at the end of the
budget. The paper's own rule is retrospective: the epoch of the maximum of gwa_paper over the whole
budget. Accuracies are measured on a held-out test split the signals never see; val_loss comes from a
separate validation split (the val-loss rule needs a validation pass; the GWA signals do not).

Grid: data sets sklearn digits (8×8 images), a synthetic 10-class Gaussian mixture (make_classification,
64 features), sklearn breast cancer (30 features), and a held-out synthetic 6-class mixture (mixture6: 36
features, another generator seed and shape; used only for evaluation, never for choosing a rule); label noise 0/20/40 % (a training label replaced by a
different class, at random); seeds 0-2; an MLP and a small CNN (features laid out as a grid for the
tabular sets); AdamW. --quick: digits and the mixture, noise 0/40 %, seed 0 (both models). Every rule
starts after a warm-up of 3 epochs (start_step), so one traintopd runs per data set.

Lines: gwa_stop_gap_pts_<signal> (mean over runs of best − selected test accuracy, in points) and
gwa_stop_vs_valloss_pts (the val-loss rule's gap minus the best GWA signal's: > 0 means the GWA signal
stopped closer to the best epoch); gwa_stop_gap_pts_hindsight_val_{loss,acc} are references, not rules: the
epoch of the best validation loss / accuracy over the whole budget, in hindsight. Lines starting with # are
details, among them the gaps on the tuning split (seed 0 of digits, mixture and breast cancer, on which
robust_confirmed's drop, robust_negmode's level and the warm-up were chosen), on the held-out seeds of those
data sets and on the held-out data set (mixture6). --dump FILE writes each run's per-window scalars for
replaying rules offline (with --full also the EB criterion from the layers' gsnr).
"""
import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import traintop  # noqa: E402

PATIENCE, SMOOTH, BATCH = 8, 3, 64
TRAIN_FRACTION = 0.6                             # of each data set; validation and test take 0.2 each
# every rule ignores the first WARMUP epochs (start_step, as Keras' start_from_epoch): γ there is the initialisation
# transient — gwa_frac_neg falls from 0.3-0.5 at random weights to its plateau within 1-3 epochs, and a gwa_robust
# peak in it is no checkpoint (docs/alerts.md: 0-3 all equal on the tuning split; 3, the longest that costs nothing)
WARMUP = 3
# the confirmed rule: gwa_robust's patience stops only once the median γ (smoothed the same way) has fallen more
# than this fraction below its peak (docs/alerts.md: chosen on seed 0, reported on seeds 1-2 too)
CONFIRM, CONFIRM_DROP = "gwa_gamma_median", 0.2
# the negative-mode stop: gwa_robust's patience decides once, when it first runs out — stop only if at least this
# fraction of the window's samples still has γ < 0 (gwa_frac_neg, smoothed): a persisting negative mode, the
# samples the model has not fitted and is about to memorise (docs/alerts.md: the level chosen on seed 0 of
# digits/mixture/breast cancer, reported on the held-out seeds and the held-out data set)
NEGMODE, NEGMODE_MIN = "gwa_frac_neg", 0.11
# robust_negmode_centred: the same rule with `centred`: the checkpoint is the middle of the smoothed windows of the
# best mean (the window that mean describes), not its last — the trailing mean's lag taken out of the selection
# signal -> (rule monitor, mode, smooth); "paper" is the retrospective maximum of gwa_paper (no rule)
RULES = {
    "mean_gamma": ("gwa_gamma_mean", "max", SMOOTH),
    "robust": ("gwa_robust", "max", SMOOTH),
    "paper_rule": ("gwa_paper", "max", SMOOTH),
    "bimodality": ("gwa_bimodality", "max", SMOOTH),
    "robust_confirmed": ("gwa_robust", "max", SMOOTH),
    "robust_negmode": ("gwa_robust", "max", SMOOTH),
    "robust_negmode_centred": ("gwa_robust", "max", SMOOTH),
    "val_loss": ("val_loss", "min", 1),
}
# evaluation only: no rule or threshold was chosen on it
HELD_OUT_DATASET = "mixture6"
SIGNALS = ["paper", "paper_rule", "mean_gamma", "robust", "bimodality", "robust_confirmed", "robust_negmode",
           "robust_negmode_centred", "val_loss"]
# not rules but references for what the gap can be at all: the epoch of the best validation loss / accuracy over
# the whole budget, in hindsight — a validation split of the test split's size choosing with perfect patience
HINDSIGHT = ["hindsight_val_loss", "hindsight_val_acc"]


def datasets(names):
    from sklearn.datasets import load_breast_cancer, load_digits, make_classification
    out = {}
    for n in names:
        if n == "digits":
            X, y = load_digits(return_X_y=True)
            X, shape = X / 16.0, (1, 8, 8)
        elif n == "mixture":
            X, y = make_classification(n_samples=2000, n_features=64, n_informative=24, n_redundant=8,
                                       n_classes=10, n_clusters_per_class=2, class_sep=1.6, random_state=0)
            shape = (1, 8, 8)
        elif n == "mixture6":                                                # held out: never used for tuning
            X, y = make_classification(n_samples=1500, n_features=36, n_informative=16, n_redundant=6,
                                       n_classes=6, n_clusters_per_class=2, class_sep=1.3, flip_y=0.0,
                                       random_state=7)
            shape = (1, 6, 6)
        else:
            X, y = load_breast_cancer(return_X_y=True)
            X = np.concatenate([X, np.zeros((len(X), 6))], 1)                # 36 features: a 6×6 grid
            shape = (1, 6, 6)
        X = (X - X.mean(0)) / (X.std(0) + 1e-8)
        out[n] = (X.astype(np.float32), y.astype(np.int64), shape)
    return out


def steps_per_epoch(n):
    """Steps per epoch for a data set of n samples: its training split in batches (drop_last)."""
    return int(TRAIN_FRACTION * n) // BATCH


def split(X, y, noise, seed):
    r = np.random.default_rng(seed)
    idx = r.permutation(len(y))
    n_tr, n_va = int(TRAIN_FRACTION * len(y)), int(0.2 * len(y))
    tr, va, te = idx[:n_tr], idx[n_tr:n_tr + n_va], idx[n_tr + n_va:]
    C = int(y.max()) + 1
    ytr = y[tr].copy()
    flip = r.random(len(tr)) < noise
    ytr[flip] = (ytr[flip] + r.integers(1, C, flip.sum())) % C                # a different class
    return (X[tr], ytr), (X[va], y[va]), (X[te], y[te]), C


class MLP(nn.Module):
    def __init__(self, d, C):
        super().__init__()
        self.fc1, self.fc2, self.head = nn.Linear(d, 128), nn.Linear(128, 128), nn.Linear(128, C)

    def forward(self, x):
        return self.head(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))))


class CNN(nn.Module):
    def __init__(self, shape, C):
        super().__init__()
        self.shape = shape
        self.c1, self.c2 = nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 32, 3, padding=1, stride=2)
        h = (shape[1] + 1) // 2
        self.fc, self.head = nn.Linear(32 * h * h, 64), nn.Linear(64, C)

    def forward(self, x):
        x = x.reshape(-1, *self.shape)
        return self.head(F.relu(self.fc(F.relu(self.c2(F.relu(self.c1(x)))).flatten(1))))


def evaluate(model, X, y):
    with torch.no_grad():
        out = model(torch.from_numpy(X))
        return float(F.cross_entropy(out, torch.from_numpy(y))), float((out.argmax(1).numpy() == y).mean())


def train(run, endpoint, data, model_kind, noise, seed, epochs, full=False):
    X, y, shape = data
    (Xtr, ytr), (Xva, yva), (Xte, yte), C = split(X, y, noise, seed)
    torch.manual_seed(seed)
    model = MLP(X.shape[1], C) if model_kind == "mlp" else CNN(shape, C)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    spe = steps_per_epoch(len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tt = traintop.watch(model, opt, run=run, endpoint=endpoint, gwa_window=spe, every=1,   # a window = an epoch
                            persample_full=full)
    g = torch.Generator().manual_seed(seed)
    Xt, yt = torch.from_numpy(Xtr), torch.from_numpy(ytr)
    acc = []
    for ep in range(epochs):
        perm = torch.randperm(len(yt), generator=g)
        for i in range(spe):
            idx = perm[i * BATCH:(i + 1) * BATCH]
            loss = F.cross_entropy(model(Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            extra = dict(zip(("val_loss", "val_acc"), evaluate(model, Xva, yva))) if i == spe - 1 else {}
            tt.step(loss=loss, **extra)                                        # val_* at the epoch's last step
        acc.append(evaluate(model, Xte, yte)[1])
    tt.close()
    return acc, spe


def rules_file(path, spe, smooth=SMOOTH, warmup=WARMUP):
    """The rules for runs of spe steps per epoch: checks start with the window that closes epoch warmup + 1."""
    rules = [{"name": s, "kind": "early_stop", "monitor": m, "mode": mode, "patience": PATIENCE,
              "smooth": smooth if sm > 1 else 1, "start_step": warmup * spe + 1, "actions": ["alert"]}
             for s, (m, mode, sm) in RULES.items()]
    for r in rules:
        if r["name"] == "robust_confirmed":
            r.update(confirm=CONFIRM, confirm_drop=CONFIRM_DROP)
        if r["name"] in ("robust_negmode", "robust_negmode_centred"):
            r.update(confirm=NEGMODE, confirm_min=NEGMODE_MIN, confirm_once=True)
        if r["name"] == "robust_negmode_centred":
            r.update(centred=True)
    with open(path, "w") as f:
        json.dump({"rules": rules}, f)


def read_jsonl(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def wait_end(rec, run, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(m.get("type") == "run_end" for m in read_jsonl(os.path.join(rec, run + ".jsonl"))):
            return
        time.sleep(0.05)


def num(v):
    return float(v) if not isinstance(v, str) else {"NaN": math.nan, "Inf": math.inf, "-Inf": -math.inf}[v]


def selections(rec, run, spe, epochs):
    """signal -> the epoch (0-based) its stop selects."""
    out = {s: epochs - 1 for s in SIGNALS}
    fired = {}
    for a in read_jsonl(os.path.join(rec, "alerts.jsonl")):
        if a.get("run") == run and a.get("rule") in RULES and "best_step" in a:
            out[a["rule"]] = int(a["best_step"]) // spe - 1
            fired[a["rule"]] = True
    steps = [m for m in read_jsonl(os.path.join(rec, run + ".jsonl")) if m.get("type") == "step"]
    # retrospective: the first epoch of the best value over the budget — the paper's rule (the maximum of
    # gwa_paper), and the hindsight references
    for name, key, sign in (("paper", "gwa_paper", 1), ("hindsight_val_loss", "val_loss", -1),
                            ("hindsight_val_acc", "val_acc", 1)):
        vals = [(sign * num(m["scalars"][key]), -m["step"]) for m in steps if key in m.get("scalars", {})]
        out[name] = -max(vals)[1] // spe - 1 if vals else epochs - 1
        fired[name] = True
    return out, fired


# per-step gradient-noise scalars the dump averages over each epoch (docs/metrics.md)
NOISE_SCALARS = ("loss", "norm_test", "noise_scale_raw", "grad_sq", "trace_sigma")


def dump_run(path, rec, run, spe, row, acc):
    """One JSON line: the run's GWA scalars per window (the epoch it closes), val_loss and test accuracy, and the
    epoch means of the per-step gradient-noise scalars; with --full also of `eb`, the evidence-based criterion
    1 − (B/D)·Σ_k ḡ_k²/σ_k² (Mahsereci et al. 2017) from the layers' gsnr, over the layers that have one."""
    series, steps, gsnr = {}, {}, None
    for m in read_jsonl(os.path.join(rec, run + ".jsonl")):
        if m.get("type") == "run_start":
            gsnr = gsnr_layout(m)
        if m.get("type") != "step":
            continue
        window, epoch = m["step"] // spe - 1, (m["step"] - 1) // spe      # the window it closes / its epoch
        for k, v in m.get("scalars", {}).items():
            if k.startswith("gwa") or k in ("val_loss", "val_acc", "mislabeled_frac"):
                series.setdefault(k, []).append([window, num(v)])
            elif k in NOISE_SCALARS:
                steps.setdefault(k, {}).setdefault(epoch, []).append(num(v))
        eb = evidence(gsnr, m.get("extra", []))
        if eb is not None:
            steps.setdefault("eb", {}).setdefault(epoch, []).append(eb)
    for k, per_epoch in steps.items():
        series[k] = [[e, float(np.mean(v))] for e, v in sorted(per_epoch.items())]
    with open(path, "a") as f:
        f.write(json.dumps({"run": run, "noise": row["noise"], "spe": spe, "acc": acc, "series": series}) + "\n")


def gsnr_layout(start):
    """From a run_start: (the stat index of gsnr, each layer's parameter count), or None without full mode."""
    if "gsnr" not in start.get("stats", []):
        return None
    return start["stats"].index("gsnr"), [L["rows"] * L["cols"] for L in start.get("layers", [])]


def evidence(gsnr, extra):
    """The EB criterion of one step from its layers' gsnr (mean of ḡ_j²/σ_j² over a layer's parameters)."""
    if gsnr is None:
        return None
    idx, sizes = gsnr
    got = [(sizes[li], num(v)) for li, si, v in extra if si == idx and li < len(sizes) and math.isfinite(num(v))]
    if not got:
        return None
    return 1.0 - BATCH * sum(d * g for d, g in got) / sum(d for d, _ in got)


def start_collector(tmp, spe, smooth, warmup):
    """A traintopd with the rules for runs of spe steps per epoch, recording under tmp: (rec, endpoint, process)."""
    os.makedirs(tmp)
    rec, endpoint, rules = os.path.join(tmp, "rec"), "ipc://%s/c.sock" % tmp, os.path.join(tmp, "rules.json")
    rules_file(rules, spe, smooth, warmup)
    with open(os.path.join(tmp, "traintopd.log"), "w") as log:
        d = subprocess.Popen([os.path.join(ROOT, "bin", "traintopd"), "--listen", endpoint, "--record", rec,
                              "--rules", rules, "--no-default-rules", "--quiet"], stdout=log, stderr=log)
    deadline = time.time() + 10
    while not os.path.exists(os.path.join(tmp, "c.sock.q")):
        if d.poll() is not None or time.time() > deadline:
            stop_collector(d)
            sys.exit("gwa_bench: traintopd did not start: " + open(log.name).read().strip())
        time.sleep(0.02)
    return rec, endpoint, d


def stop_collector(d):
    if d.poll() is None:
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(10)
        except subprocess.TimeoutExpired:
            d.kill()
            d.wait()


def bench_run(rec, endpoint, ds, data, model_kind, noise, seed, epochs, dump, full):
    """Train one run against the collector at endpoint; its row: test accuracy at each signal's selection."""
    run = "%s-%s-n%02d-s%d" % (ds, model_kind, round(100 * noise), seed)
    acc, spe = train(run, endpoint, data, model_kind, noise, seed, epochs, full)
    wait_end(rec, run)
    time.sleep(0.3)                                                            # the alerts log is flushed
    sel, fired = selections(rec, run, spe, epochs)
    row = {"run": run, "noise": noise, "best": max(acc), "end": acc[-1],
           "at": {s: acc[max(0, min(epochs - 1, e))] for s, e in sel.items()},
           "fired": fired, "best_epoch": int(np.argmax(acc)), "sel": sel}
    if dump:
        dump_run(dump, rec, run, spe, row, acc)
    print("# %-26s best %.3f (epoch %2d) end %.3f | %s" % (
        run, row["best"], row["best_epoch"], acc[-1],
        " ".join("%s %.3f@%d%s" % (s, row["at"][s], sel[s], "" if fired.get(s) else "*") for s in SIGNALS + HINDSIGHT)),
        flush=True)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="two data sets, noise 0/40 %%, one seed (a few minutes)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--smooth", type=int, default=SMOOTH, help="windows the GWA rules average (default %(default)s)")
    ap.add_argument("--warmup", type=int, default=WARMUP, help="epochs every rule ignores at the start (default "
                    "%(default)s)")
    ap.add_argument("--dump", metavar="FILE", help="write each run's per-window GWA scalars, val_loss and test "
                    "accuracy per epoch as JSON lines (for designing rules offline)")
    ap.add_argument("--full", action="store_true", help="per-sample statistics in full mode (persample_full: the "
                    "layers' gsnr, and the EB criterion in --dump)")
    ap.add_argument("--seeds", help="comma-separated seeds (default: 0 quick, 0,1,2 full)")
    ap.add_argument("--datasets", help="comma-separated data sets (default: all of the mode)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    names = ["digits", "mixture"] if args.quick else ["digits", "mixture", "breast_cancer", "mixture6"]
    noises = [0.0, 0.4] if args.quick else [0.0, 0.2, 0.4]
    seeds = [0] if args.quick else [0, 1, 2]
    if args.seeds:
        seeds = [int(x) for x in args.seeds.split(",")]
    if args.datasets:
        names = args.datasets.split(",")
    epochs = args.epochs or (40 if args.quick else 60)
    data = datasets(names)

    tmp = tempfile.mkdtemp(prefix="ttgwa", dir="/tmp")
    rows = []
    t0 = time.time()
    try:
        for ds in names:
            # one traintopd per data set: its rules' warm-up is in steps, and an epoch's steps differ by data set
            spe = steps_per_epoch(len(data[ds][1]))
            rec, endpoint, d = start_collector(os.path.join(tmp, ds), spe, args.smooth, args.warmup)
            try:
                for noise in noises:
                    for seed in seeds:
                        for mk in ("mlp", "cnn"):
                            rows.append(bench_run(rec, endpoint, ds, data[ds], mk, noise, seed, epochs, args.dump,
                                                  args.full))
            finally:
                stop_collector(d)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("# %d runs, %d epochs, patience %d, warm-up %d epochs, GWA rules smoothed over %d windows, %.0f s; * = the "
          "rule never fired (end of budget)" % (len(rows), epochs, PATIENCE, args.warmup, args.smooth, time.time() - t0))
    print("# %-12s %s" % ("noise", " ".join("%16s" % s for s in SIGNALS + ["best", "end"])))
    for noise in noises:
        rs = [r for r in rows if r["noise"] == noise]
        cells = ["%16.3f" % np.mean([r["at"][s] for r in rs]) for s in SIGNALS]
        cells += ["%16.3f" % np.mean([r["best"] for r in rs]), "%16.3f" % np.mean([r["end"] for r in rs])]
        print("# %-12s %s" % ("%d %%" % round(100 * noise), " ".join(cells)))
    for ds in names:                                               # where each signal does well
        rs = [r for r in rows if r["run"].startswith(ds + "-")]
        print("# gap to the best epoch, %-13s %s" % (ds, " ".join(
            "%s %.2f" % (s, 100 * np.mean([r["best"] - r["at"][s] for r in rs])) for s in SIGNALS + HINDSIGHT)))
    def held_ds(r):
        return r["run"].startswith(HELD_OUT_DATASET + "-")
    for label, pick in (("tuning split (seed 0)", lambda r: r["run"].endswith("-s0") and not held_ds(r)),
                        ("held-out (other seeds)", lambda r: not r["run"].endswith("-s0") and not held_ds(r)),
                        ("held-out data set " + HELD_OUT_DATASET, held_ds)):
        rs = [r for r in rows if pick(r)]                          # robust_confirmed's drop was chosen on seed 0
        if rs:
            print("# gap to the best epoch, %-27s %s (%d runs)" % (label, " ".join(
                "%s %.2f" % (s, 100 * np.mean([r["best"] - r["at"][s] for r in rs])) for s in SIGNALS + HINDSIGHT),
                len(rs)))
    if all(r["run"].endswith("-s0") and not r["run"].startswith(HELD_OUT_DATASET + "-") for r in rows):
        print("# every run here is in the tuning split (seed 0 of the data sets the rules were chosen on): these lines "
              "are no evidence for the target; the full grid's held-out lines are")
    gaps = {s: 100 * float(np.mean([r["best"] - r["at"][s] for r in rows])) for s in SIGNALS + HINDSIGHT}
    for s in SIGNALS:
        fired = sum(1 for r in rows if r["fired"].get(s))
        print("gwa_stop_gap_pts_%s %.2f pts (fired in %d/%d runs)" % (s, gaps[s], fired, len(rows)))
    for s in HINDSIGHT:
        print("gwa_stop_gap_pts_%s %.2f pts (reference, not a rule: the epoch of the best %s over the whole budget, "
              "in hindsight)" % (s, gaps[s], s.split("_", 1)[1]))
    gwa_best = min((s for s in SIGNALS if s != "val_loss"), key=lambda s: gaps[s])
    print("gwa_stop_vs_valloss_pts %.2f pts (val-loss gap %.2f − best GWA signal %s gap %.2f; target > 0, and that "
          "gap <= 1.5)" % (gaps["val_loss"] - gaps[gwa_best], gaps["val_loss"], gwa_best, gaps[gwa_best]))


if __name__ == "__main__":
    main()
