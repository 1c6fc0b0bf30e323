#!/usr/bin/env python3
"""METRICS.md §3 spectral statistics of metrics/spectral against an independent numpy reference.

The reference is deliberately plain: np.linalg.svd of the float64 copy of the same float32 matrix,
λ = σ², λ > 1e-5 kept, then the power-law fit by the O(N²) scan exactly as the contract reads: for every
k, x_min = λ_(k), tail = λ ≥ x_min, α_k = 1 + n / Σ ln(λ/x_min) (candidates with Σ = 0 skipped),
D_k = max_i max(F(x_i) − i/n, (i+1)/n − F(x_i)) with F = 1 − (x/x_min)^(1−α_k); the fit is argmin D_k.
Sub-windows: side b = min(win_size, rows, cols); offsets round(i·(len − b)/(ops − 1)) (half up; centred
when ops = 1), duplicates removed; the kept λ of every window pooled and fitted the same way.

Tolerances:
- eigenvalues: same count, |λ − λ_ref| ≤ 1e-11·λ_max + 1e-9·λ (the C side forms the Gram matrix in
  double, whose eigenvalues carry an absolute error ~ k·ε·λ_max, k ≤ 1000 here);
- λ_max, Σλ, stable rank, log10 norms: rtol 1e-9;
- fit: the KS minimum is found by both sides from values that differ by rounding, so near-ties may pick
  different candidates. The C choice must be a minimiser of the reference scan: D_ref at the C x_min
  ≤ min D_ref + 1e-9; then ks equal to D_ref there within 1e-9, n_tail exact, α, α_err, α_weighted within
  rtol 1e-8 of the reference values at that candidate;
- known power-law spectra (λ = σ² Pareto with density ∝ λ^−α, fixed seed): also |α − α_true| ≤
  4·(α_true − 1)/sqrt(n_tail) + 0.1 (a 4-sigma statistical band plus slack for the x_min choice);
- eigenvalue density: bounds rtol 1e-9, and the histogram of log10 λ on those bounds equal to
  numpy.histogram's bin counts up to 2 values in total moved across a bin edge by rounding;
- guards: NaN/Inf input → rc −1 and every statistic NaN; < 50 kept eigenvalues → fit NaN, others exact.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

EIG_MIN = 1e-5
MIN_EIGS = 50
NBINS = 32
SCALARS = ["lambda_max", "lambda_sum", "stable_rank", "log_spectral_norm", "log_norm"]
FIT = ["alpha", "alpha_err", "alpha_weighted", "xmin", "ks", "lambda_max", "n_tail", "n_eig"]
nan = float("nan")


# ---------------------------------------------------------------------------------------------- reference
def fit_scan(lam):
    """All candidates of the plain O(N²) scan: arrays D, alpha, n (NaN D for skipped candidates)."""
    N = len(lam)
    D = np.full(N, np.inf)
    A = np.full(N, nan)
    n_of = np.zeros(N, dtype=int)
    for k in range(N):
        xmin = lam[k]
        tail = lam[lam >= xmin]
        n = len(tail)
        S = np.sum(np.log(tail / xmin))
        if not S > 0:
            continue
        alpha = 1 + n / S
        F = 1 - (tail / xmin) ** (1 - alpha)
        i = np.arange(n)
        D[k] = max(np.max(F - i / n), np.max((i + 1) / n - F))
        A[k], n_of[k] = alpha, n
    return D, A, n_of


def fit_reference(lam, min_eigs=MIN_EIGS):
    lam = np.sort(np.asarray(lam, dtype=np.float64))
    r = {"n_eig": len(lam), "lambda_max": lam[-1] if len(lam) else nan, "scan": None}
    if len(lam) < min_eigs:
        return r
    D, A, n_of = fit_scan(lam)
    r["scan"] = (lam, D, A, n_of)
    return r


def window_offsets(length, b, grid):
    if grid <= 1:
        return [(length - b) // 2]
    return sorted(set(int(np.floor(i * (length - b) / (grid - 1) + 0.5)) for i in range(grid)))


def spectrum(W):
    s = np.linalg.svd(W.astype(np.float64), compute_uv=False)
    lam = np.sort(s * s)
    return lam[lam > EIG_MIN]


def reference(W, windows, win_size, win_grid):
    r = {}
    if not np.all(np.isfinite(W)):
        return None
    lam = spectrum(W)
    r["eigs"] = lam
    n = len(lam)
    r["n_eig"] = n
    lmax, lsum = (lam[-1], np.sum(lam)) if n else (nan, nan)
    r["lambda_max"], r["lambda_sum"] = lmax, lsum
    r["stable_rank"] = lsum / lmax if n and lmax > 0 else nan
    r["log_spectral_norm"] = np.log10(lmax) if n else nan
    r["log_norm"] = np.log10(lsum) if n else nan
    r["fit"] = fit_reference(lam)
    if windows:
        rows, cols = W.shape
        b = min(win_size or min(rows, cols), rows, cols)
        pool = [spectrum(W[r0:r0 + b, c0:c0 + b])
                for r0 in window_offsets(rows, b, win_grid) for c0 in window_offsets(cols, b, win_grid)]
        pool = np.sort(np.concatenate(pool))
        r["win_eigs"] = pool
        r["win_fit"] = fit_reference(pool)
    return r


# ---------------------------------------------------------------------------------------------- the tool
def run_tool(tool, header, payload):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        np.array(header, dtype=np.int64).tofile(f)
        payload.tofile(f)
        path = f.name
    try:
        out = subprocess.run([tool, path], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    got = {}
    for line in out.splitlines():
        k, *v = line.split()
        got[k] = np.array([float(x) for x in v]) if k in ("eigs", "win_eigs", "esd") else float(v[0])
    return got


def run_matrix(tool, W, windows=1, win_size=100, win_grid=9):
    W = np.ascontiguousarray(W, dtype=np.float32)
    return run_tool(tool, [1, W.shape[0], W.shape[1], windows, win_size, win_grid], W)


def run_spectrum(tool, lam, min_eigs=MIN_EIGS):
    lam = np.sort(np.asarray(lam, dtype=np.float64))
    return run_tool(tool, [2, len(lam), min_eigs], lam)


# ---------------------------------------------------------------------------------------------- checks
def rel_ok(got, want, rtol, atol=0.0):
    if np.isnan(want):
        return np.isnan(got)
    return abs(got - want) <= atol + rtol * abs(want)


def check_fit(bad, got, prefix, ref, alpha_true=None):
    g = {k: got[prefix + k] for k in FIT}
    if g["n_eig"] != ref["n_eig"]:
        bad.append(f"{prefix}n_eig {g['n_eig']} want {ref['n_eig']}")
    if ref["scan"] is None or np.all(np.isinf(ref["scan"][1])):
        for k in ("alpha", "alpha_err", "alpha_weighted", "xmin", "ks"):
            if not np.isnan(g[k]):
                bad.append(f"{prefix}{k} {g[k]} want NaN")
        return
    lam, D, A, n_of = ref["scan"]
    if np.isnan(g["alpha"]):
        bad.append(f"{prefix}alpha NaN, reference {A[np.argmin(D)]}")
        return
    k = int(np.searchsorted(lam, g["xmin"] * (1 - 1e-9)))   # first index of the C x_min in the reference
    if k >= len(lam) or not rel_ok(g["xmin"], lam[k], 1e-8):
        bad.append(f"{prefix}xmin {g['xmin']} is not an eigenvalue of the reference")
        return
    dmin = np.min(D)
    if not D[k] <= dmin + 1e-9:
        bad.append(f"{prefix}KS at chosen xmin {D[k]} > reference minimum {dmin} (alpha {A[np.argmin(D)]})")
    if abs(g["ks"] - D[k]) > 1e-9:
        bad.append(f"{prefix}ks {g['ks']} want {D[k]}")
    if g["n_tail"] != n_of[k]:
        bad.append(f"{prefix}n_tail {g['n_tail']} want {n_of[k]}")
    want = {"alpha": A[k], "alpha_err": (A[k] - 1) / np.sqrt(n_of[k]),
            "alpha_weighted": A[k] * np.log10(ref["lambda_max"])}
    for key, w in want.items():
        if not rel_ok(g[key], w, 1e-8):
            bad.append(f"{prefix}{key} {g[key]} want {w}")
    if alpha_true is not None:
        tol = 4 * (alpha_true - 1) / np.sqrt(g["n_tail"]) + 0.1
        if abs(g["alpha"] - alpha_true) > tol:
            bad.append(f"{prefix}alpha {g['alpha']:.4f} vs true {alpha_true} beyond {tol:.3f}")


def check_eigs(bad, key, got, want):
    if len(got) != len(want):
        bad.append(f"{key}: {len(got)} eigenvalues, want {len(want)}")
        return
    if len(want) and np.any(np.abs(got - want) > 1e-11 * want[-1] + 1e-9 * want):
        i = int(np.argmax(np.abs(got - want)))
        bad.append(f"{key}[{i}] {got[i]} want {want[i]}")


def check_esd(bad, got, lam):
    if len(lam) == 0:
        if np.any(got["esd"] != 0) or not np.isnan(got["esd_lo"]):
            bad.append("esd of an empty spectrum")
        return
    lo, hi = np.log10(lam[0]), np.log10(lam[-1])
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    if not (rel_ok(got["esd_lo"], lo, 1e-9, 1e-12) and rel_ok(got["esd_hi"], hi, 1e-9, 1e-12)):
        bad.append(f"esd bounds {got['esd_lo']},{got['esd_hi']} want {lo},{hi}")
        return
    counts, edges = np.histogram(np.log10(lam), bins=NBINS, range=(got["esd_lo"], got["esd_hi"]))
    got_counts = got["esd"] * len(lam) * (edges[1] - edges[0])
    if abs(np.sum(got["esd"]) * (edges[1] - edges[0]) - 1) > 1e-9:
        bad.append("esd does not integrate to 1")
    if np.sum(np.abs(got_counts - counts)) > 2 + 1e-6:
        bad.append(f"esd counts {np.round(got_counts).astype(int)} want {counts}")


def check_matrix(got, W, windows=1, win_size=100, win_grid=9, alpha_true=None, win_alpha_true=None):
    ref = reference(W.astype(np.float32), windows, win_size, win_grid)
    bad = []
    if ref is None:
        if got["rc"] != -1:
            bad.append(f"rc {got['rc']} want -1")
        for k in SCALARS + FIT + ["win_" + k for k in FIT] + ["esd_lo", "esd_hi"]:
            if k.endswith(("n_tail", "n_eig")):
                if got[k] != 0:
                    bad.append(f"{k} {got[k]} want 0")
            elif not np.isnan(got[k]):
                bad.append(f"{k} {got[k]} want NaN")
        if got["n_eig"] != 0:
            bad.append("n_eig")
        return bad
    if got["rc"] != 0:
        bad.append(f"rc {got['rc']}")
    if got["n_eig"] != ref["n_eig"]:
        bad.append(f"n_eig {got['n_eig']} want {ref['n_eig']}")
    for k in SCALARS:
        if not rel_ok(got[k], ref[k], 1e-9):
            bad.append(f"{k} {got[k]} want {ref[k]}")
    check_eigs(bad, "eigs", got["eigs"], ref["eigs"])
    check_fit(bad, got, "", ref["fit"], alpha_true)
    check_esd(bad, got, ref["eigs"])
    if windows:
        check_eigs(bad, "win_eigs", got["win_eigs"], ref["win_eigs"])
        check_fit(bad, got, "win_", ref["win_fit"], win_alpha_true)
    elif not np.isnan(got["win_alpha"]) or got["win_n_eig"] != 0:
        bad.append("window fit present although disabled")
    return bad


# ---------------------------------------------------------------------------------------------- cases
def orthonormal(rng, n, k):
    q, r = np.linalg.qr(rng.standard_normal((n, k)))
    return q * np.sign(np.diag(r))


def power_law_matrix(rng, rows, cols, alpha, scale=1.0):
    """U·diag(σ)·Vᵀ with λ = σ² drawn from p(λ) ∝ λ^−alpha on λ ≥ scale."""
    k = min(rows, cols)
    lam = scale * rng.uniform(size=k) ** (-1 / (alpha - 1))
    return (orthonormal(rng, rows, k) * np.sqrt(lam)) @ orthonormal(rng, cols, k).T


def matrix_cases(rng):
    f32 = np.float32
    # known power-law spectra (α recovered from the whole spectrum; the windows mix the tail away)
    for rows, cols, a in [(1000, 1000, 3.0), (1200, 600, 2.5), (500, 1500, 4.0)]:
        yield f"power law alpha={a} {rows}x{cols}", power_law_matrix(rng, rows, cols, a), {}, a
    # Marchenko–Pastur: Gaussian entries of variance 1/cols, several aspect ratios
    for rows, cols in [(500, 500), (256, 1024), (1024, 256), (300, 900), (800, 200)]:
        yield f"gaussian MP {rows}x{cols}", rng.standard_normal((rows, cols)) / np.sqrt(cols), {}, None
    # sub-window variant, odd shapes and options
    W = rng.standard_normal((700, 300)) / np.sqrt(300)
    yield "windows default 700x300", W, {}, None
    yield "windows b=64 ops=5", W, {"win_size": 64, "win_grid": 5}, None
    yield "windows ops=1 (centred)", W, {"win_size": 128, "win_grid": 1}, None
    yield "windows b larger than the matrix (80x150)", rng.standard_normal((80, 150)), {}, None
    yield "windows exactly b (100x100)", rng.standard_normal((100, 100)), {}, None
    yield "windows ops > positions (105x230, b=100)", rng.standard_normal((105, 230)), {}, None
    yield "windows disabled", W, {"windows": 0}, None
    yield "heavy-tailed entries (student t, 3 dof) 400x800", rng.standard_t(3, (400, 800)) / 20, {}, None
    # exact spectra
    d = np.zeros((120, 90), f32)
    sig = np.linspace(0.5, 3.0, 90).astype(f32)
    d[np.arange(90), np.arange(90)] = sig
    yield "diagonal 120x90 (exact λ)", d, {}, None
    # σ² = 1e-8, 4e-6, 7e-6 dropped; 1.3e-5, 1.9e-5 (just over the threshold) and 1e-4 kept
    d2 = np.diag(np.array([1e-4, 2e-3, np.sqrt(7e-6), np.sqrt(1.3e-5), np.sqrt(1.9e-5), 1e-2, 5.0]
                          + [1.0] * 60, f32))
    yield "diagonal with values under 1e-5 dropped", d2, {}, None
    # guards
    yield "zero matrix", np.zeros((64, 64), f32), {}, None
    yield "fewer than 50 eigenvalues (30x200)", rng.standard_normal((30, 200)), {}, None
    yield "rank 40 of 120x120 (40 kept)", rng.standard_normal((120, 40)) @ rng.standard_normal((40, 120)) / 10, {}, None
    yield "all values tiny (none kept)", rng.standard_normal((60, 60)) * 1e-6, {}, None
    yield "1x1", np.array([[3.0]], f32), {}, None
    yield "single row 1x500", rng.standard_normal((1, 500)), {}, None
    yield "all equal eigenvalues (identity 64)", np.eye(64, dtype=f32), {}, None
    Wn = rng.standard_normal((64, 64)).astype(f32)
    Wn[3, 7] = np.nan
    yield "NaN entry", Wn, {}, None
    Wi = rng.standard_normal((64, 80)).astype(f32)
    Wi[10, 0] = np.inf
    yield "Inf entry", Wi, {}, None


def spectrum_cases(rng):
    for n, a in [(2000, 2.0), (5000, 3.5)]:
        yield f"fit only: Pareto alpha={a} n={n}", rng.uniform(size=n) ** (-1 / (a - 1)), MIN_EIGS, a
    lam = np.round(rng.uniform(size=500) ** (-1 / 1.8), 1) + 0.1   # many ties
    yield "fit only: tied values", lam, MIN_EIGS, None
    yield "fit only: all equal (no finite alpha)", np.full(100, 2.0), MIN_EIGS, None
    yield "fit only: 49 values (< min_eigs)", rng.uniform(size=49) + 1, MIN_EIGS, None
    yield "fit only: min_eigs 10, 12 values", rng.uniform(size=12) + 1, 10, None


def main():
    tool = sys.argv[1]
    rng = np.random.default_rng(20240611)
    passed = failed = 0

    def report(label, bad):
        nonlocal passed, failed
        if bad:
            failed += 1
            print(f"FAIL {label}: " + "; ".join(bad[:6]))
        else:
            passed += 1
            print(f"ok   {label}")

    for label, W, opts, a in matrix_cases(rng):
        W = np.asarray(W, dtype=np.float32)
        o = {"windows": 1, "win_size": 100, "win_grid": 9, **opts}
        got = run_matrix(tool, W, **o)
        report(label, check_matrix(got, W, alpha_true=a, **o))

    for label, lam, min_eigs, a in spectrum_cases(rng):
        got = run_spectrum(tool, lam, min_eigs)
        ref = fit_reference(lam, min_eigs)
        bad = []
        check_fit(bad, got, "", ref, a)
        if (ref["scan"] is None or np.all(np.isinf(ref["scan"][1]))) != (got["rc"] == -1):
            bad.append(f"rc {got['rc']}")
        report(label, bad)

    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
