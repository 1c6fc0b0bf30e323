#!/usr/bin/env python3
"""GWA window statistics (metrics/gwa.c) against scipy on recorded and synthetic γ.

Run: .venv/bin/python tests/ref/test_gwa.py build/tests/gwa_tool

Recorded γ: the reference's own head-only closed form (hlzl/gwa gwa_torch.py, compute_alignment:
−⟨x, (softmax − onehot)ᵀW⟩ / (‖x‖‖softmax − onehot‖‖W‖ + 1e-12)) on every sample of each epoch of
an MLP trained on sklearn's digits with 40 % label noise — windows on both sides of the pole.
Synthetic: Gaussian, heavy tails, uniform, two modes, tiny scales, NaN/Inf mixed in.

Each case runs the tool with the values in 1 and in 7 merged windows. Tolerances:
- gwa (paper-exact): np.mean(a)/(scipy.stats.kurtosis(a) + 1.2), rtol 1e-9. The C code sums in another
  order: the moments differ by ~1e-15 relative, the denominator by ~1e-15 absolute, so near the pole
  (denominators ≥ 1e-4 here) the ratio moves by ≤ 1e-11 relative.
- kurtosis, Pearson kurtosis (kurtosis(fisher=False)), mean, std, the bimodality coefficient from
  scipy.stats.skew/kurtosis(bias=False), the robust GWA: rtol 1e-9 (+1e-15 absolute).
- frac_neg, counts, histogram, pole flag, mislabeled: exact (the histogram by an independent numpy
  construction of the same power-of-two bins).
"""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import scipy.stats as st

FINE, BINS = 256, 16
nan = float("nan")


def run_tool(tool, x, chunks):
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as f:
        f.write(np.asarray(x, dtype="<f8").tobytes())
        path = f.name
    try:
        out = subprocess.run([tool, path, str(chunks)], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(path)
    return {k: float(v) for k, v in (line.split() for line in out.splitlines())}


def ref_hist(x):
    """The reported histogram, built directly: r = the power of two above max|γ| (≥ 2^-30), 256 bins over
    [−r, r]; the range zooms to r/2^j for the largest j ≤ 4 keeping ≥ 99 % inside; outside → end bins."""
    if len(x) == 0:
        return nan, [0] * BINS
    m = float(np.max(np.abs(x)))
    r = 2.0 ** -30
    while m >= r:
        r *= 2
    k = np.clip(np.floor(x * ((FINE // 2) / r)) + FINE // 2, 0, FINE - 1).astype(int)
    j = 4
    while j > 0:
        span = FINE >> j
        lo = (FINE - span) // 2
        if np.sum((k >= lo) & (k < lo + span)) >= 0.99 * len(x):
            break
        j -= 1
    span = FINE >> j
    lo = (FINE - span) // 2
    b = np.where(k < lo, 0, np.where(k >= lo + span, BINS - 1, (k - lo) // (span // BINS)))
    return r / 2 ** j, list(np.bincount(b, minlength=BINS))


def reference(a):
    x = a[np.isfinite(a)]
    n = len(x)
    k = float(st.kurtosis(x)) if n > 1 else nan
    mean = float(np.mean(x))
    gwa = mean / (k + 1.2)                                      # exactly the reference's formula
    bc = nan
    if n >= 4:
        G1, G2 = float(st.skew(x, bias=False)), float(st.kurtosis(x, bias=False))
        bc = (G1 * G1 + 1) / (G2 + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
    fneg = float(np.mean(x < 0))
    rng, hist = ref_hist(x)
    return {"gwa": gwa, "pole": float(k + 1.2 < 0.1), "mean": mean, "std": float(np.std(x)), "kurtosis": k,
            "pearson": float(st.kurtosis(x, fisher=False)), "frac_neg": fneg, "bimodality": bc,
            "robust": mean * math.exp(-k / 1.2) / 1.2, "mislabeled": fneg if bc > 5 / 9 else 0.0,
            "count": float(n), "nonfinite": float(len(a) - n), "hist_range": rng,
            **{"hist.%d" % i: float(v) for i, v in enumerate(hist)}}


EXACT = {"pole", "frac_neg", "mislabeled", "count", "nonfinite", "hist_range"} | {"hist.%d" % i for i in range(BINS)}


def check(tool, name, a, bad):
    want = reference(a)
    for chunks in (1, 7):
        got = run_tool(tool, a, chunks)
        for key, w in want.items():
            g = got[key]
            ok = g == w if key in EXACT else abs(g - w) <= 1e-9 * abs(w) + 1e-15
            if not ok:
                bad.append("%s (%d windows): %s = %.17g, want %.17g" % (name, chunks, key, g, w))
    return want


def recorded_gamma(epochs=40, noise=0.4, seed=0):
    """Per-epoch γ of the reference's closed form, on a digits MLP with label noise (torch, CPU)."""
    import torch
    import torch.nn as nn
    from sklearn.datasets import load_digits
    torch.manual_seed(seed)
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    flip = rng.random(len(y)) < noise
    y = np.where(flip, rng.integers(0, 10, len(y)), y)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    body = nn.Sequential(nn.Linear(64, 64), nn.ReLU())
    head = nn.Linear(64, 10)
    opt = torch.optim.Adam(list(body.parameters()) + list(head.parameters()), lr=3e-3)
    out = []
    for _ in range(epochs):
        perm = torch.randperm(len(y))
        gam = []
        for i in range(0, len(y), 64):
            idx = perm[i:i + 64]
            feat = body(X[idx])
            logits = head(feat)
            loss = nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():          # hlzl/gwa compute_alignment, after the step as there
                diff = torch.softmax(logits, -1) - nn.functional.one_hot(y[idx], 10).float()
                W = head.weight.detach()
                dot = -(feat.detach() * (diff @ W)).sum(-1)
                gam.append(dot / (feat.detach().norm(dim=-1) * diff.norm(dim=-1) * W.norm() + 1e-12))
        out.append(torch.cat(gam).double().numpy())
    return out


def main():
    tool = sys.argv[1] if len(sys.argv) > 1 else "build/tests/gwa_tool"
    bad = []
    r = np.random.default_rng(7)
    synth = {
        "gaussian": 0.05 + 0.02 * r.standard_normal(5000),
        "student-t3": 0.01 * r.standard_t(3, 4000),
        "uniform": r.uniform(-0.2, 0.4, 3000),
        "two modes 40/60": np.where(r.random(6000) < 0.4, -0.3, 0.2) + 0.03 * r.standard_normal(6000),
        "tiny": 1e-6 * r.standard_normal(2000) + 3e-7,
        "with NaN/Inf": np.concatenate([0.1 * r.standard_normal(997), [nan, np.inf, -np.inf]]),
        "four values": np.array([0.0, 1.0, 0.0, 1.0]),
    }
    for name, a in synth.items():
        check(tool, name, a, bad)
    cases = len(synth)
    try:
        epochs = recorded_gamma()
    except ImportError as e:                     # torch/sklearn are in scripts/requirements-test.txt
        print("FAIL: recorded γ need torch and scikit-learn: %s" % e)
        return 1
    sides = set()
    for e, a in enumerate(epochs):
        w = check(tool, "digits 40%% noise, epoch %d" % e, a, bad)
        sides.add(w["kurtosis"] + 1.2 > 0)
        cases += 1
    if sides != {True, False}:
        bad.append("the recorded windows should fall on both sides of the pole (kurtosis + 1.2 > 0 and < 0)")
    for b in bad[:30]:
        print("FAIL:", b)
    print("%d passed, %d failed (%d cases × 2 merge layouts)" % (0 if bad else cases, len(bad), cases))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
