#!/usr/bin/env python3
"""Writes recordings (traintop protocol messages, one per line) of runs whose health is known: one that
improves, one that overfits from step 400, one that diverges from step 700, one whose loss goes NaN at
step 900, one at chance, and a 1000-layer run with one NaN layer and one outlier layer. Deterministic
(a fixed seed); standard library only. Usage: health_runs.py DIR [NAME...] (default: every run)."""
import json, math, os, random, sys

STATS = ["w_norm", "g_norm", "w_rms", "g_rms", "w_var", "update_norm", "update_ratio",
         "angle", "angle_rows", "gw_cos", "dist_init", "nonfinite"]


def loss_falling(t, r):
    return 2.3 * math.exp(-t / 250) + 0.3 + 0.02 * r.uniform(-1, 1)


def val_u(t, r):
    d = (t - 400) / 400
    return 0.9 + 0.5 * d * d * (1 if t > 400 else 0.5) + 1.4 * math.exp(-t / 120) + 0.01 * r.uniform(-1, 1)


def loss_diverging(t, r):
    base = 2.3 * math.exp(-t / 200) + 0.6
    return base + (0 if t < 700 else (t - 700) / 150) + 0.02 * r.uniform(-1, 1)


SCEN = {
    # name: (steps, nlayers, loss(t), val_loss(t), val_acc(t), bad layers {index: kind})
    "healthy": (1200, 6, loss_falling, lambda t, r: loss_falling(t, r) + 0.1, lambda t, r: 0.85 - 0.7 * math.exp(-t / 200), {}),
    "overfit": (1200, 6, loss_falling, val_u, lambda t, r: 0.7 - 0.5 * math.exp(-t / 150), {}),
    "diverge": (1200, 6, loss_diverging, lambda t, r: loss_diverging(t, r) + 0.1, lambda t, r: 0.6 - 0.4 * math.exp(-t / 150), {}),
    "nanloss": (1200, 6, lambda t, r: loss_falling(t, r) if t < 900 else float("nan"), None, None, {}),
    "chance": (1200, 6, lambda t, r: 2.30 + 0.01 * r.uniform(-1, 1), lambda t, r: 2.31, lambda t, r: 0.1 + 0.01 * r.uniform(-1, 1), {}),
    "wide": (120, 1000, loss_falling, lambda t, r: loss_falling(t, r) + 0.1, lambda t, r: 0.85 - 0.7 * math.exp(-t / 200),
             {637: "nan", 211: "outlier"}),
}


def num(v):
    return "NaN" if isinstance(v, float) and math.isnan(v) else v


def write(dirname, name):
    steps, nl, loss, val, acc, bad = SCEN[name]
    r = random.Random(7)
    layers = [{"name": "blocks.%d.%s" % (i // 4, ("attn.w", "attn.b", "mlp.w", "mlp.b")[i % 4]) if nl > 6
               else ("fc%d.%s" % (i // 2 + 1, ("weight", "bias")[i % 2])), "rows": 64, "cols": 64 if i % 2 == 0 else 1}
              for i in range(nl)]
    with open(os.path.join(dirname, name + ".jsonl"), "w") as f:
        start = {"v": 1, "type": "run_start", "run": name, "rank": 0, "time": 1700000000.0, "world": 1, "pid": 1, "host": "gen",
                 "every": 1, "hparams": {"model": "synthetic", "classes": 10}, "stats": STATS, "row_stats": len(STATS),
                 "layers": layers}
        f.write(json.dumps(start) + "\n")
        for t in range(1, steps + 1):
            rows = []
            for i in range(nl):
                k = 1 + 0.3 * math.sin(i)
                row = [10 * k, 0.3 * k, 0.1 * k, 0.003 * k, 0.01, 0.01 * k, 1e-3 * k, 1e-3, 1e-3, 0.05, 0.1 * t / steps, 0]
                kind = bad.get(i)
                if kind == "nan" and t >= steps // 2:
                    row[1], row[3], row[5], row[6], row[11] = float("nan"), float("nan"), float("nan"), float("nan"), 64
                if kind == "outlier":
                    row[3] *= 1000
                    row[1] *= 1000
                rows.append([num(v) for v in row])
            sc = {"loss": num(loss(t, r))}
            if val and t % 10 == 0:
                sc["val_loss"] = val(t, r)
                sc["val_acc"] = acc(t, r)
            f.write(json.dumps({"v": 1, "type": "step", "run": name, "rank": 0, "time": 1700000000.0 + t / 50, "step": t,
                                "layers": rows, "scalars": sc}, separators=(",", ":")) + "\n")
        f.write(json.dumps({"v": 1, "type": "run_end", "run": name, "rank": 0, "time": 1700000000.0 + steps / 50 + 0.1,
                            "step": steps, "status": "finished", "sent": steps, "dropped": 0}) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: health_runs.py DIR [NAME...]")
    for n in sys.argv[2:] or SCEN:
        write(sys.argv[1], n)
