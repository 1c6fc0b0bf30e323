#!/usr/bin/env python3
"""METRICS.md §1 statistics of tt_layer_stats against an independent numpy float64 reference.

Tolerances: every statistic is accumulated in double on both sides from the same float32 inputs
(exact products), so they agree to summation-order rounding: rtol 1e-9 for norms, ratios, cosines
and the variance (atol 1e-12 for values that should be 0). Angles: the reference uses
arccos(clip(cos)), which itself loses precision near cos = 1 (error ~ sqrt(2·1e-16·sqrt(n))),
so angles are compared with atol 1e-6. Non-finite inputs: every statistic must be NaN except
`nonfinite`, which must equal the exact count of NaN/Inf entries in W and G.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

STATS = ["w_norm", "g_norm", "w_rms", "g_rms", "w_var", "update_norm", "update_ratio",
         "angle", "angle_rows", "gw_cos", "dist_init", "nonfinite"]


def div(a, b):
    return a / b if b != 0 and np.isfinite(a) and np.isfinite(b) else float("nan")


def angle(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    return float(np.arccos(np.clip(np.dot(a.ravel(), b.ravel()) / (na * nb), -1.0, 1.0)))


def reference(W, G, P, Z):
    w, g = W.astype(np.float64), G.astype(np.float64)
    n = w.size
    bad = int((~np.isfinite(W)).sum() + (~np.isfinite(G)).sum())
    if bad:
        r = {k: float("nan") for k in STATS}
        r["nonfinite"] = bad
        return r
    nan = float("nan")
    r = {
        "w_norm": np.linalg.norm(w), "g_norm": np.linalg.norm(g),
        "w_rms": np.linalg.norm(w) / np.sqrt(n), "g_rms": np.linalg.norm(g) / np.sqrt(n),
        "w_var": np.var(w),
        "gw_cos": div(-np.dot(g.ravel(), w.ravel()), np.linalg.norm(g) * np.linalg.norm(w)),
        "nonfinite": 0,
    }
    if P is not None:
        p = P.astype(np.float64)
        r["update_norm"] = np.linalg.norm(w - p)
        r["update_ratio"] = div(np.linalg.norm(w - p), np.linalg.norm(p))
        r["angle"] = angle(p, w)
        if w.shape[0] > 1 and w.shape[1] > 1:   # a vector (cols = 1) is one row
            rows = [angle(p[i], w[i]) for i in range(w.shape[0])]
            rows = [a for a in rows if not np.isnan(a)]
            r["angle_rows"] = float(np.sqrt(np.mean(np.square(rows)))) if rows else nan
        else:
            r["angle_rows"] = r["angle"]
    else:
        r.update(update_norm=nan, update_ratio=nan, angle=nan, angle_rows=nan)
    r["dist_init"] = np.linalg.norm(w - Z.astype(np.float64)) if Z is not None else nan
    return {k: float(v) for k, v in r.items()}


def run_case(tool, W, G, P, Z):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        np.array([W.shape[0], W.shape[1], P is not None, Z is not None], dtype=np.int64).tofile(f)
        for a in (W, G, P, Z):
            if a is not None:
                np.ascontiguousarray(a, dtype=np.float32).tofile(f)
        path = f.name
    try:
        out = subprocess.run([tool, path], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    got = {}
    for line in out.splitlines():
        k, v = line.split()
        got[k] = float(v)
    return got


def close(name, got, want):
    if np.isnan(want):
        return np.isnan(got)
    if name in ("angle", "angle_rows"):
        return abs(got - want) <= 1e-6
    return abs(got - want) <= 1e-12 + 1e-9 * abs(want)


def cases(rng):
    f32 = np.float32

    def rnd(r, c, scale=1.0):
        return (rng.standard_normal((r, c)) * scale).astype(f32)

    for r, c in [(1, 1), (1, 17), (17, 1), (64, 33), (128, 257), (3, 1000)]:
        W = rnd(r, c)
        yield f"random {r}x{c}", W, rnd(r, c, 1e-2), W - rnd(r, c, 1e-3), W + rnd(r, c, 0.1)
    W = rnd(32, 32)
    yield "no previous weights", W, rnd(32, 32), None, W
    yield "no initial weights", W, rnd(32, 32), W * f32(0.99), None
    yield "unchanged weights (angle 0)", W, rnd(32, 32), W.copy(), W.copy()
    Z = np.zeros((8, 8), f32)
    yield "all zeros", Z, Z, Z, Z
    yield "zero gradient", W, np.zeros_like(W), W, W
    yield "zero previous weights", W, rnd(32, 32), np.zeros_like(W), W
    Wz = W.copy(); Wz[3] = 0
    yield "one zero row", Wz, rnd(32, 32), Wz + rnd(32, 32, 1e-3) * (Wz != 0), Wz
    yield "tiny values 1e-30", rnd(16, 16, 1e-30), rnd(16, 16, 1e-30), rnd(16, 16, 1e-30), rnd(16, 16, 1e-30)
    yield "denormals", rnd(16, 16, 1e-40), rnd(16, 16, 1e-41), rnd(16, 16, 1e-40), None
    yield "huge values 1e30", rnd(16, 16, 1e30), rnd(16, 16, 1e30), rnd(16, 16, 1e30), rnd(16, 16, 1e30)
    yield "near float max", np.full((4, 4), 3e38, f32), np.full((4, 4), -3e38, f32), np.full((4, 4), 2e38, f32), None
    big_mean = (rnd(64, 64, 1e-3) + f32(1000)).astype(f32)
    yield "large mean, small spread (variance)", big_mean, rnd(64, 64), big_mean, big_mean
    Wn = W.copy(); Wn[5, 5] = np.nan
    yield "NaN in W", Wn, rnd(32, 32), W, W
    Gi = rnd(32, 32); Gi[0, 0] = np.inf; Gi[1, 1] = -np.inf; Gi[2, 2] = np.nan
    yield "Inf and NaN in G", W, Gi, W, W
    Pn = W.copy(); Pn[0, 0] = np.nan
    yield "NaN in W_prev only", W, rnd(32, 32), Pn, W


def main():
    tool = sys.argv[1]
    rng = np.random.default_rng(1234)
    passed = failed = 0
    for label, W, G, P, Z in cases(rng):
        want = reference(W, G, P, Z)
        got = run_case(tool, W, G, P, Z)
        bad = [k for k in STATS if not close(k, got[k], want[k])]
        if P is not None and not got["prev_refreshed"]:
            bad.append("prev_refreshed")
        if label == "NaN in W_prev only":
            # W_prev is the probe's own copy: a NaN there poisons only the update statistics.
            bad = [k for k in bad if k not in ("update_norm", "update_ratio", "angle", "angle_rows")]
            for k in ("update_norm", "update_ratio", "angle"):
                if not np.isnan(got[k]):
                    bad.append(k + " (expected NaN)")
        if bad:
            failed += 1
            print(f"FAIL {label}: " + ", ".join(f"{k}: got {got.get(k)} want {want.get(k)}" for k in bad))
        else:
            passed += 1
            print(f"ok   {label}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
