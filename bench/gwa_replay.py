#!/usr/bin/env python3
"""Replay GWA stopping rules offline on a gwa_bench.py --dump file: the tuning/held-out gaps of candidate rules.

The early_stop rule is modelled as traintopd evaluates it (docs/alerts.md: smoothing over the last `smooth`
finite values, improvement, patience; a confirm predicate checked when patience has run out; a rule that
fires selects its best step, one that never fires leaves the run at the end of the budget). For the rules
gwa_bench.py also runs in traintopd (robust, robust_confirmed, mean_gamma, val_loss) the replay selects the
same epochs. Candidates beyond those exist only here; a rule is chosen on the tuning split (seed 0 of
digits, mixture, breast cancer) and only then read on the held-out seeds and the held-out data set.

    OPENBLAS_NUM_THREADS=1 python bench/gwa_bench.py --dump /tmp/gwa.jsonl     # the full grid, ~4 min
    python bench/gwa_replay.py /tmp/gwa.jsonl            # tuning split only
    python bench/gwa_replay.py /tmp/gwa.jsonl --held-out # and the held-out splits (after choosing)
"""
import argparse
import json
import math

import numpy as np

PATIENCE, SMOOTH, HELD_OUT_DATASET = 8, 3, "mixture6"
WARMUP = 3                                     # gwa_bench.py's: every rule's start_step is this many epochs in


def load(path):
    runs = []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            n = len(d["acc"])
            series = {}
            for k, v in d["series"].items():
                if k.startswith("gwa_hist"):
                    continue
                a = np.full(n, np.nan)
                for e, x in v:
                    if 0 <= e < n:
                        a[e] = x
                series[k] = a
            runs.append({"run": d["run"], "noise": d["noise"], "acc": np.array(d["acc"]), "S": series})
    return runs


def monitor(r, name, warmup=None):
    """A rule's monitor as the rule engine sees it: the windows before start_step (the warm-up epochs) left out."""
    x = r["S"][name].copy()
    x[:WARMUP if warmup is None else warmup] = np.nan
    return x


def smoothed(x, k=SMOOTH):
    """The rule engine's smoothing: the mean of the last k finite values; NaN (no check) until there are k."""
    out, ring = np.full(len(x), np.nan), []
    for i, v in enumerate(x):
        if np.isfinite(v):
            ring.append(v)
            if len(ring) >= k:
                out[i] = np.mean(ring[-k:])
    return out


def early_stop(mon, mode="max", patience=PATIENCE, confirm=None, once=False, centred=None):
    """(fired, selected epoch) of an early_stop rule over an already smoothed monitor; once: confirm_once;
    centred: the raw monitor — the selection is the middle of the SMOOTH windows whose mean was best ((SMOOTH−1)//2
    finite raw values before it), as the rule engine's `centred` does."""
    best, best_i, wait = None, None, 0
    for i, v in enumerate(mon):
        if not np.isfinite(v):
            continue
        if best is None or (v > best if mode == "max" else v < best):
            best, best_i, wait = v, i, 0
            continue
        wait += 1
        if wait >= patience and (confirm is None or confirm(i)):
            if centred is not None:
                fin = [j for j in range(best_i + 1) if np.isfinite(centred[j])]
                return True, fin[len(fin) - 1 - (SMOOTH - 1) // 2]
            return True, best_i
        if wait >= patience and once:
            break
    return False, len(mon) - 1


def at_least(raw, level):
    """confirm_min: the smoothed series is at least level."""
    s = smoothed(raw)
    return lambda i: np.isfinite(s[i]) and s[i] >= level


def sigma(raw, i):
    """Window-to-window variability of a raw series up to window i: std of successive differences / √2."""
    x = raw[:i + 1]
    x = x[np.isfinite(x)]
    return np.std(np.diff(x)) / math.sqrt(2) if len(x) >= 3 else math.nan


def drop_from_peak(raw, frac=0.0, z=0.0):
    """confirm: the smoothed series is below its peak so far by more than frac·|peak| and z noise units."""
    s = smoothed(raw)

    def c(i):
        if not np.isfinite(s[i]):
            return False
        pk, sg = np.nanmax(s[:i + 1]), sigma(raw, i) / math.sqrt(SMOOTH)
        return np.isfinite(sg) and pk - s[i] > max(frac * abs(pk), z * sg)
    return c


def fall_since_best(raw, mon, z):
    """confirm (memorisation onset): the smoothed series has fallen by z noise units since the monitor's best."""
    s = smoothed(raw)

    def c(i):
        b = int(np.nanargmax(mon[:i + 1]))
        sg = sigma(raw, i) / math.sqrt(SMOOTH)
        return np.isfinite(s[i]) and np.isfinite(s[b]) and np.isfinite(sg) and s[b] - s[i] > z * sg
    return c


def candidates():
    def rob(r):
        return smoothed(monitor(r, "gwa_robust"))

    def med(r):
        return r["S"]["gwa_gamma_median"]

    def fneg(r):
        return r["S"]["gwa_frac_neg"]

    out = {
        "val_loss": lambda r: early_stop(monitor(r, "val_loss"), "min"),
        "robust": lambda r: early_stop(rob(r)),
        "robust_confirmed (median -20 %)": lambda r: early_stop(rob(r), confirm=drop_from_peak(med(r), frac=0.2)),
    }
    for f in (0.15, 0.25):
        out["median -%d %%" % (100 * f)] = lambda r, f=f: early_stop(rob(r), confirm=drop_from_peak(med(r), frac=f))
    for z in (4, 5, 6, 7, 8):                    # the drop in units of the median's own window-to-window noise
        out["median -%gσ" % z] = lambda r, z=z: early_stop(rob(r), confirm=drop_from_peak(med(r), z=z))
    for z in (3, 8):                             # memorisation onset: frac_neg falls after the selected peak
        out["frac_neg fall %gσ since best" % z] = (
            lambda r, z=z: early_stop(rob(r), confirm=fall_since_best(fneg(r), rob(r), z)))
        out["median -20 %% or frac_neg fall %gσ" % z] = (
            lambda r, z=z: early_stop(rob(r), confirm=(lambda a, b: lambda i: a(i) or b(i))(
                drop_from_peak(med(r), frac=0.2), fall_since_best(fneg(r), rob(r), z))))
    for z in (3, 6):                             # a drop of frac_neg from its own peak, gated on a negative mode
        out["frac_neg -%gσ, mislabeled_frac > 0" % z] = (
            lambda r, z=z: early_stop(rob(r), confirm=(lambda a, m: lambda i: a(i) and np.nanmax(m[:i + 1]) > 0)(
                drop_from_peak(fneg(r), z=z), r["S"]["mislabeled_frac"])))
    for level in (0.06, 0.08, 0.10, 0.11, 0.12, 0.14, 0.16):   # a negative mode persists (robust_negmode: 0.11, once)
        out["frac_neg >= %.2f, once" % level] = (
            lambda r, level=level: early_stop(rob(r), confirm=at_least(fneg(r), level), once=True))
    out["frac_neg >= 0.11, re-evaluated"] = lambda r: early_stop(rob(r), confirm=at_least(fneg(r), 0.11))
    # robust_negmode_centred: the same decision, the checkpoint at the middle of the best mean's windows
    out["frac_neg >= 0.11, once, centred"] = (
        lambda r: early_stop(rob(r), confirm=at_least(fneg(r), 0.11), once=True, centred=monitor(r, "gwa_robust")))
    for w in range(0, 7):                        # the warm-up (start_step, in epochs) of the negative-mode stop
        out["frac_neg >= 0.11, once, warm-up %d" % w] = (
            lambda r, w=w: early_stop(smoothed(monitor(r, "gwa_robust", w)), confirm=at_least(fneg(r), 0.11), once=True))
    return out


def main():
    global WARMUP
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--held-out", action="store_true", help="also the held-out seeds and data set")
    ap.add_argument("--warmup", type=int, default=WARMUP, help="epochs each rule ignores (default %(default)s)")
    args = ap.parse_args()
    WARMUP = args.warmup
    runs = load(args.dump)
    splits = {"tuning (seed 0)": lambda r: r["run"].endswith("-s0") and not r["run"].startswith(HELD_OUT_DATASET + "-")}
    if args.held_out:
        splits["held-out seeds"] = (
            lambda r: not r["run"].endswith("-s0") and not r["run"].startswith(HELD_OUT_DATASET + "-"))
        splits["held-out " + HELD_OUT_DATASET] = lambda r: r["run"].startswith(HELD_OUT_DATASET + "-")
        splits["all"] = lambda r: True
    print("%-36s %s  fired" % ("gap to the best epoch (points)", " ".join("%18s" % s for s in splits)))
    for name, sel in candidates().items():
        res = [(r, *sel(r)) for r in runs]
        cells = []
        for pick in splits.values():
            g = [100 * (r["acc"].max() - r["acc"][e]) for r, _, e in res if pick(r)]
            cells.append("%18s" % ("%.2f (%d)" % (np.mean(g), len(g)) if g else "-"))
        print("%-36s %s  %d/%d" % (name, " ".join(cells), sum(f for _, f, _ in res), len(res)))


if __name__ == "__main__":
    main()
