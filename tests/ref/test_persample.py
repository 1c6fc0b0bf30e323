#!/usr/bin/env python3
"""METRICS.md §2 per-sample statistics against a brute-force numpy float64 reference.

Run: .venv/bin/python tests/ref/test_persample.py build/tests/persample_tool (see persample_tool.c).

The reference materialises every per-sample gradient g_i = scale·Σ_t δ_it a_itᵀ (and b_i = scale·Σ_t δ_it)
in a loop, from the same float32 inputs the C code reads, and computes from those matrices directly:
⟨g_i,W⟩, ‖g_i‖², ⟨g_i,Ḡ⟩, γ_i, the bias statistics, tr Σ̂ as the sum of the parameters' unbiased
variances, |G|², B_simple, θ, θ_inner (np.var of P_i), ν (from the residuals g_i − (P_i/‖Ḡ‖²)Ḡ), GSNR
(np.var over samples, per parameter), and the GWA window statistics. For the softmax-CE head the
reference differentiates −Σ y log softmax(W a + b) through the explicit softmax Jacobian (checked
once against central finite differences), not through the closed form p − y.

Tolerances (float32 inputs, double accumulation), stated per quantity:
- ‖g_i‖², ‖b_i‖², norms of W and bias: products of floats are exact in double, so only summation order
  differs: rtol 1e-10 of the sum of absolute terms.
- Values that go through a float32 GEMM (⟨g_i,Ḡ⟩ always, ⟨g_i,W⟩ without Z) or through a float32 input
  that is itself a rounded product (Z = W a + b, Ḡ from tt_persample_mean_grad): the textbook bound for a
  float32 dot of length n is n·u·Σ|terms| (u = 2^-24); rounding errors are random, so we use 2e-6 ≈ 32·u
  in place of n·u (n ≤ 512 here, √n·u ≤ 1.4e-6) times the matching absolute-term bound, e.g.
  Σ_t |δ_it|ᵀ(|W||a_it| + |b|) for ⟨g_i,W⟩. Denormal products flush in float32: add n·2^-149·Σ|δ|.
  A plain rtol of 1e-5 would be wrong exactly where it matters: ⟨g_i,W⟩ is a sum of terms of both signs.
- Softmax head: the tool reads the logits rounded to float32 (|Δz| ≤ dz = 2u·max|z|) while the
  reference uses the exact W a + b; Δp_k = p_k(Δz_k − Σ_j p_j Δz_j), so δ_k moves by at most
  2·dz·min(p_k, 1 − p_k)·Σy, which is propagated exactly into ⟨g_i,W⟩, ‖g_i‖² and the bias values
  (confident samples have a tiny δ, and a tiny but resolvable ‖g_i‖²: the bound scales with it).
  The Ḡ-based values additionally see δ rounded to float32 (u|δ|) and the GEMM bounds above.
- γ_i: the above propagated through the ratio (first order).
- Noise statistics: first-order propagation of the primitive tolerances (S = Σ‖g_i‖², Σ P_i², ‖Ḡ‖²)
  through the METRICS.md formulas, by finite perturbation, plus rtol 1e-9. This matters when |G|² is
  a small difference (pure-noise batches): there B_simple is ill-conditioned and its tolerance grows.
- GSNR: first-order propagation of rtol 1e-5 on Σ_i g_ij² (a float32 GEMM of positive terms) and of
  the Ḡ bound, per parameter.
- GWA window: the tool's statistics against numpy on the tool's own γ (rtol 1e-9: tests the moments
  code), and against the reference γ with the γ tolerances propagated through the analytic gradient of
  mean/(kurtosis + 1.2). Histogram and counts: exact on the tool's γ.
Unresolvable values: where a derived noise statistic's tolerance exceeds its magnitude (denormal
inputs, whose float32 GEMM products flush to 0; identical samples, whose variances are rounding
noise) the tool's guard may answer NaN (a "variance" clearly below 0) instead of a number.
Measured: the largest |error|/tolerance over all cases is below 0.4, so the bounds are within a
small factor of the real errors, and deliberate mutations of the C code (a wrong Gram weight, a
missing scale, B for B − 1, a sign) fail many cases.
Guards: wherever the reference divides by 0 or meets a non-finite input the expected value is NaN,
and NaN must come back (never Inf). Non-finite inputs: the offending samples are all-NaN, the others
unaffected, and `nonfinite` counts the entries exactly.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

from test_gwa import ref_hist

MAGIC = 0x31535054
HAS_BIAS, HAS_Z, GIVEN_GBAR, PRINT_GBAR, SOFT = 1, 2, 4, 8, 16
U = 2.0 ** -24
NOISE = ["trace_sigma", "g2", "b_simple", "theta", "var_inner", "theta_inner", "var_ortho", "nu"]
PER = ["gw", "gg", "gG", "gamma", "bw", "bb", "bB", "bgamma"]
nan = float("nan")


def div(a, b):
    return a / b if b != 0 and np.isfinite(a) and np.isfinite(b) else nan


def sqrt(x):
    return float(np.sqrt(x)) if np.isfinite(x) and x >= 0 else nan


# ---------------------------------------------------------------- running the tool

def run_tool(tool, header, scale, arrays):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        np.array([MAGIC] + list(header) + [0] * (7 - len(header)), dtype=np.int64).tofile(f)
        np.array([scale], dtype=np.float64).tofile(f)
        for a in arrays:
            a.tofile(f)
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


def per_sample(got, name, B):
    return np.array([got[f"{name}.{i}"] for i in range(B)])


# ---------------------------------------------------------------- the reference

def noise_formulas(B, S, SP2, G2):
    """The METRICS.md formulas, only used to propagate tolerances."""
    tr = max((S - B * G2) / (B - 1), 0.0)
    g2 = G2 - tr / B
    vi = max((SP2 - B * G2 * G2) / (B - 1), 0.0)
    vo = max((S - div(SP2, G2)) / (B - 1), 0.0)
    return {"trace_sigma": tr, "g2": g2, "b_simple": div(tr, g2), "theta": sqrt(div(tr, B * G2)),
            "var_inner": vi, "theta_inner": sqrt(div(vi, B * G2 * G2)), "var_ortho": vo,
            "nu": sqrt(div(vo, B * G2))}


def noise_reference(g, P, Gbar):
    """From the materialised per-sample gradients g (B × params)."""
    B = g.shape[0]
    G2 = float(Gbar @ Gbar)
    r = {}
    r["trace_sigma"] = float(np.var(g, axis=0, ddof=1).sum()) if B > 1 else nan
    r["g2"] = G2 - r["trace_sigma"] / B
    r["b_simple"] = div(r["trace_sigma"], r["g2"])
    r["theta"] = sqrt(div(r["trace_sigma"], B * G2))
    r["var_inner"] = float(np.var(P, ddof=1)) if B > 1 else nan
    r["theta_inner"] = sqrt(div(r["var_inner"], B * G2 * G2))
    coef = np.array([div(p, G2) for p in P])
    resid = g - coef[:, None] * Gbar[None, :]
    r["var_ortho"] = float((resid ** 2).sum()) / (B - 1) if B > 1 else nan
    r["nu"] = sqrt(div(r["var_ortho"], B * G2))
    return r


def noise_tolerance(B, S, SP2, G2, dS, dSP2, dG2):
    if B < 2 or not all(np.isfinite([S, SP2, G2, dS, dSP2, dG2])):
        return {k: 0.0 for k in NOISE}
    base = noise_formulas(B, S, SP2, G2)
    tol = {k: 1e-9 * abs(v) if np.isfinite(v) else 0.0 for k, v in base.items()}
    for i, d in enumerate((dS, dSP2, dG2)):
        for sgn in (-1, 1):
            x = [S, SP2, G2]
            x[i] += sgn * d
            pert = noise_formulas(B, *x)
            for k in NOISE:
                if np.isfinite(base[k]) and np.isfinite(pert[k]):
                    tol[k] += abs(pert[k] - base[k]) / 2
                elif np.isfinite(base[k]):
                    tol[k] = float("inf")          # the perturbation crosses a guard: unresolvable
    return tol


def gsnr_reference(g, Gbar):
    var = np.var(g, axis=0)
    m2 = np.mean(g * g, axis=0)
    ok = var > 1e-6 * m2
    return (float(np.mean(Gbar[ok] ** 2 / var[ok])) if ok.any() else nan), int(ok.sum()), var, m2, ok


def gsnr_tolerance(Gbar, var, m2, ok, dG, dm2=None):
    """Per parameter: Σ_i g_ij²/B off by 1e-5 relative (+ dm2), ḡ_j by dG; first order, then the mean."""
    if not ok.any():
        return 0.0
    gb, v, m = Gbar[ok], var[ok], m2[ok]
    em2 = 1e-5 * m + (dm2[ok] if dm2 is not None else 0)
    d_m2 = gb ** 2 / v ** 2 * em2
    d_g = np.abs(2 * gb * m / v ** 2) * dG[ok]
    return float(np.mean(d_m2 + d_g)) + 1e-9 * abs(float(np.mean(gb ** 2 / v)))


def moments(x):
    n = len(x)
    if n == 0:
        return nan, nan, nan, nan
    mu = float(np.mean(x))
    d = x - mu
    m2, m4 = float(np.sum(d ** 2)), float(np.sum(d ** 4))
    kurt = n * m4 / (m2 * m2) - 3 if m2 > 0 else nan
    gwa = mu / (kurt + 1.2) if np.isfinite(kurt) and kurt + 1.2 != 0 else nan   # paper-exact, past the pole too
    return gwa, mu, float(np.sqrt(m2 / n)), kurt


def gwa_tolerance(x, tol):
    """Σ_i |∂GWA/∂γ_i|·tol_i, analytic gradient of mean/(n·M4/M2² − 3 + 1.2)."""
    n = len(x)
    gwa, mu, _, kurt = moments(x)
    if not np.isfinite(gwa):
        return 0.0
    d = x - mu
    m2, m3, m4 = np.sum(d ** 2), np.sum(d ** 3), np.sum(d ** 4)
    dm2 = 2 * d
    dm4 = 4 * (d ** 3 - m3 / n)
    dk = n * (dm4 / m2 ** 2 - 2 * m4 * dm2 / m2 ** 3)
    den = kurt + 1.2
    grad = 1 / (n * den) - mu * dk / den ** 2
    return float(np.sum(np.abs(grad) * tol)) + 1e-9 * abs(gwa)


def dense_reference(A, D, W, bias, Z, Gbar32, bbar32, scale):
    """Materialised per-sample gradients, float64, one sample at a time."""
    B, T, d_in = A.shape
    d_out = D.shape[2]
    A64, D64, W64 = A.astype(np.float64), D.astype(np.float64) * scale, W.astype(np.float64)
    b64 = bias.astype(np.float64) if bias is not None else np.zeros(d_out)
    bad = np.array([not (np.isfinite(A[i]).all() and np.isfinite(D[i]).all()
                         and (Z is None or np.isfinite(Z[i]).all())) for i in range(B)], dtype=bool)
    g = np.zeros((B, d_out * d_in))
    bvec = np.zeros((B, d_out))
    for i in range(B):
        gi = np.zeros((d_out, d_in))
        for t in range(T):
            gi += np.outer(D64[i, t], A64[i, t])
        g[i] = gi.ravel()
        bvec[i] = D64[i].sum(axis=0)
    with np.errstate(all="ignore"):
        if Gbar32 is None:
            Gbar = g.mean(axis=0)
            bbar = bvec.mean(axis=0)
        else:
            Gbar = Gbar32.astype(np.float64).ravel()
            bbar = bbar32.astype(np.float64)
        Wf = W64.ravel()
        r = {"gw": g @ Wf, "gg": (g * g).sum(axis=1), "gG": g @ Gbar}
        wn = np.sqrt(Wf @ Wf)
        r["gamma"] = -r["gw"] / (np.sqrt(r["gg"]) * wn + 1e-12)
        if bias is not None:
            bn = np.sqrt(b64 @ b64)
            r["bw"], r["bb"], r["bB"] = bvec @ b64, (bvec ** 2).sum(axis=1), bvec @ bbar
            r["bgamma"] = -r["bw"] / (np.sqrt(r["bb"]) * bn + 1e-12)
        else:
            for k in ("bw", "bb", "bB", "bgamma"):
                r[k] = np.full(B, nan)
        for k in PER:
            r[k] = np.where(bad | ~np.isfinite(r[k]), nan, r[k])
        if not np.isfinite(Gbar).all():
            r["gG"][:] = nan
        if not np.isfinite(Wf).all():
            r["gamma"][:] = nan
        # Tolerance bounds (see the docstring): absolute-term bounds of each float32 dot.
        absA, absD = np.abs(A64), np.abs(D64)
        Gabs = np.abs(Gbar).reshape(d_out, d_in)
        if Gbar32 is None:      # the tool's Ḡ is itself a float32 GEMM: add its own error bound
            Gabs = Gabs + 2e-6 * np.einsum("ito,itk->ok", absD, absA) / B
        dG = 2e-6 * np.einsum("ito,itk->ok", absD, absA).ravel() / B if Gbar32 is None else np.zeros(d_out * d_in)
        tiny = d_in * 2.0 ** -149
        tol = {}
        bw_abs = np.einsum("ito,itk,ok->i", absD, absA, np.abs(W64)) + absD.sum(axis=1) @ np.abs(b64)
        tol["gw"] = 2e-6 * bw_abs + tiny * absD.sum(axis=(1, 2)) + 1e-9 * np.abs(r["gw"])
        nrm = np.sqrt((A64 ** 2).sum(axis=2)) * np.sqrt((D64 ** 2).sum(axis=2))
        tol["gg"] = 1e-10 * nrm.sum(axis=1) ** 2
        tol["gG"] = 2e-6 * np.einsum("ito,itk,ok->i", absD, absA, Gabs) + tiny * absD.sum(axis=(1, 2)) \
            + 1e-9 * np.abs(r["gG"])
        den = np.sqrt(r["gg"]) * wn + 1e-12
        tol["gamma"] = tol["gw"] / den + np.abs(r["gamma"]) * tol["gg"] / np.maximum(2 * r["gg"], 1e-300) + 1e-12
        tol["bw"] = 1e-10 * absD.sum(axis=1) @ np.abs(b64) + 1e-9 * np.abs(r["bw"])
        tol["bb"] = 1e-10 * (absD.sum(axis=1) ** 2).sum(axis=1)
        # b̄ from the helper is a double sum rounded to float32 once: 2u relative
        tol["bB"] = 1e-10 * absD.sum(axis=1) @ np.abs(bbar) + (2 * U * np.abs(bvec) @ np.abs(bbar) if Gbar32 is None else 0)
        tol["bgamma"] = np.full(B, 1e-9)
    return r, tol, g, Gbar, bvec, bbar, dG


def softmax_reference(logits32, targets, soft, feat, W, bias):
    """Explicit softmax Jacobian, float64, per sample, from the exact W a + b."""
    B, K = logits32.shape
    a = feat.astype(np.float64)
    W64 = W.astype(np.float64)
    b64 = bias.astype(np.float64) if bias is not None else np.zeros(K)
    z = a @ W64.T + b64
    D = np.zeros((B, K))
    Q = np.zeros((B, K))            # min(p, 1 − p): how far p can move when the logits do
    ysum = np.zeros(B)
    bad = np.zeros(B, dtype=bool)
    for i in range(B):
        if not np.isfinite(logits32[i]).all() or not np.isfinite(a[i]).all():
            bad[i] = True
            continue
        if soft is None:
            if not 0 <= targets[i] < K:
                bad[i] = True
                continue
            y = np.zeros(K)
            y[targets[i]] = 1
        else:
            y = soft[i].astype(np.float64)
        e = np.exp(z[i] - z[i].max())
        p = e / e.sum()
        J = np.diag(p) - np.outer(p, p)                # ∂p_j/∂z_k
        with np.errstate(divide="ignore", invalid="ignore"):
            dLdp = np.where(y != 0, -y / p, 0.0)       # L = −Σ y log p
        D[i] = J.T @ dLdp
        Q[i] = np.minimum(p, (e.sum() - e) / e.sum())
        ysum[i] = y.sum()
    return D, z, bad, Q, ysum


def fd_check_softmax(rng):
    """The reference gradient itself against central finite differences of the loss, in float64."""
    K, d = 5, 4
    a, W, b = rng.standard_normal(d), rng.standard_normal((K, d)), rng.standard_normal(K)
    y = rng.dirichlet(np.ones(K)) * 1.3                 # Σy ≠ 1 on purpose
    a32, W32, b32, y32 = (x.astype(np.float32) for x in (a, W, b, y))
    a, W, b, y = (x.astype(np.float64) for x in (a32, W32, b32, y32))

    def loss(Wm):
        z = Wm @ a + b
        m = z.max()
        return -(y * (z - m - np.log(np.exp(z - m).sum()))).sum()

    D = softmax_reference((W @ a + b)[None].astype(np.float32), None, y32[None], a32[None], W32, b32)[0]
    num = np.zeros((K, d))
    h = 1e-6
    for j in range(K):
        for k in range(d):
            E = np.zeros((K, d))
            E[j, k] = h
            num[j, k] = (loss(W + E) - loss(W - E)) / (2 * h)
    ana = np.outer(D[0], a)
    return bool(np.abs(num - ana).max() <= 1e-7 * (1 + np.abs(ana).max()))


# ---------------------------------------------------------------- comparing

class Check:
    def __init__(self):
        self.bad = []

    def val(self, name, got, want, tol, nan_if_unresolved=False):
        if np.isnan(want):
            ok = np.isnan(got)
        elif nan_if_unresolved and np.isnan(got) and tol >= abs(want):
            ok = True       # float32 cannot resolve the value at all: the guard's NaN is the honest answer
        else:
            ok = np.isfinite(got) and abs(got - want) <= tol
        if not ok:
            self.bad.append(f"{name}: got {got!r} want {want!r} tol {tol:.3g}")

    def arr(self, name, got, want, tol):
        for i in range(len(want)):
            self.val(f"{name}.{i}", got[i], want[i], tol[i])

    def eq(self, name, got, want):
        if got != want:
            self.bad.append(f"{name}: got {got!r} want {want!r}")


def check_window(c, got, B, gamma_tool, gamma_ref, tol_gamma):
    fin = np.isfinite(gamma_tool)
    x = gamma_tool[fin]
    c.eq("count", int(got["count"]), int(fin.sum()))
    c.eq("gamma_nonfinite", int(got["gamma_nonfinite"]), int(B - fin.sum()))
    c.eq("hist", [int(got[f"hist.{k}"]) for k in range(16)], [int(v) for v in ref_hist(x)[1]])
    c.val("frac_neg (tool γ)", got["frac_neg"], float(np.mean(x < 0)) if len(x) else nan, 1e-15)
    gwa, mu, sd, kurt = moments(x)
    for k, want in (("gwa", gwa), ("gamma_mean", mu), ("gamma_std", sd), ("gamma_kurtosis", kurt)):
        c.val(k + " (tool γ)", got[k], want, 1e-9 * abs(want) + 1e-15)
    # Against the brute-force γ: the same samples must be finite.
    okr = np.isfinite(gamma_ref)
    c.eq("finite γ samples", list(np.nonzero(fin)[0]), list(np.nonzero(okr)[0]))
    xr, tr = gamma_ref[okr], tol_gamma[okr]
    gwa_r, mu_r, _, _ = moments(xr)
    c.val("gwa (reference γ)", got["gwa"], gwa_r, gwa_tolerance(xr, tr))
    c.val("gamma_mean (reference γ)", got["gamma_mean"], mu_r, float(np.mean(tr)) if len(tr) else 0)
    amb = int(np.sum(np.abs(xr) <= tr))
    if len(xr):
        c.val("frac_neg (reference γ)", got["frac_neg"], float(np.mean(xr < 0)), (amb + 1e-9) / len(xr))


def check_dense(tool, label, A, D, W, bias=None, Z=None, scale=1.0, given=None, print_gbar=False,
                expect_nonfinite=None, noise=True):
    B, T, d_in = A.shape
    d_out = D.shape[2]
    flags = (HAS_BIAS if bias is not None else 0) | (HAS_Z if Z is not None else 0) \
        | (GIVEN_GBAR if given is not None else 0) | (PRINT_GBAR if print_gbar else 0)
    arrays = [A, D, W] + ([bias] if bias is not None else []) + ([Z] if Z is not None else []) \
        + (list(given) if given is not None else [])
    arrays = [np.ascontiguousarray(x, dtype=np.float32) for x in arrays]
    got = run_tool(tool, [0, B, T, d_in, d_out, flags], scale, arrays)
    Gb32, bb32 = given if given is not None else (None, None)
    r, tol, g, Gbar, bvec, bbar, dG = dense_reference(A, D, W, bias, Z, Gb32, bb32, scale)
    c = Check()
    for k in PER:
        c.arr(k, per_sample(got, k, B), r[k], tol[k])
    if print_gbar:
        gb = np.array([got[f"gbar.{k}"] for k in range(d_out * d_in)])
        c.arr("gbar", gb, Gbar, 2e-6 * np.einsum("ito,itk->ok", np.abs(D.astype(np.float64) * scale),
                                                 np.abs(A.astype(np.float64))).ravel() / B + 1e-300)
    with np.errstate(all="ignore"):
        W64 = W.astype(np.float64)
        c.val("w_norm2", got["w_norm2"], float((W64 ** 2).sum()) if np.isfinite(W).all() else nan,
              1e-12 * float((W64 ** 2).sum()))
        c.val("gbar_norm2", got["gbar_norm2"], float(Gbar @ Gbar) if np.isfinite(Gbar).all() else nan,
              float(2 * np.abs(Gbar) @ dG) + 1e-12 * float(Gbar @ Gbar))
    if expect_nonfinite is not None:
        c.eq("nonfinite", int(got["nonfinite"]), expect_nonfinite)
        c.eq("bad_samples", int(got["bad_samples"]),
             int(sum(1 for i in range(B) if not (np.isfinite(A[i]).all() and np.isfinite(D[i]).all()))))
    if noise:               # the noise formulas hold for Ḡ = mean_i g_i only
        check_noise(c, got, g, r, tol, Gbar, dG, T, bvec, bbar)
    check_window(c, got, B, per_sample(got, "gamma", B), r["gamma"], tol["gamma"])
    return report(label, c)


def check_noise(c, got, g, r, tol, Gbar, dG, T, bvec, bbar, dm2=None, dm2b=None, dbbar=None):
    """Noise statistics need every sample (a NaN sample makes them NaN); GSNR reads only A, Δ, Ḡ, b̄."""
    B = g.shape[0]
    want = {k: nan for k in NOISE}
    nt = {k: 0.0 for k in NOISE}
    gs, used, gs_tol, gsb, usedb, gsb_tol = nan, 0, 0, nan, 0, 0
    with np.errstate(all="ignore"):
        if np.isfinite(r["gg"]).all() and np.isfinite(Gbar).all():
            want = noise_reference(g, r["gG"], Gbar)
            G2 = float(Gbar @ Gbar)
            P = r["gG"]
            nt = noise_tolerance(B, float(r["gg"].sum()), float(P @ P), G2, float(tol["gg"].sum()),
                                 float(2 * np.abs(P) @ tol["gG"] + tol["gG"] @ tol["gG"]),
                                 float(2 * np.abs(Gbar) @ dG) + 1e-12 * G2)
        if np.isfinite(g).all() and np.isfinite(Gbar).all() and T == 1:
            gs, used, var, m2, ok = gsnr_reference(g, Gbar)
            gs_tol = gsnr_tolerance(Gbar, var, m2, ok, dG, dm2)
        if np.isfinite(bvec).all() and np.isfinite(bbar).all():
            gsb, usedb, varb, m2b, okb = gsnr_reference(bvec, bbar)
            gsb_tol = gsnr_tolerance(bbar, varb, m2b, okb, 2 * U * np.abs(bbar) if dbbar is None else dbbar, dm2b)
    for k in NOISE:
        c.val(k, got[k], want[k], nt[k], nan_if_unresolved=True)
    c.val("gsnr", got["gsnr"], gs, gs_tol)
    c.val("gsnr_bias", got["gsnr_bias"], gsb, gsb_tol)
    if np.isfinite(gs):
        c.eq("gsnr_used", int(got["gsnr_used"]), used)
    if np.isfinite(gsb):
        c.eq("gsnr_bias_used", int(got["gsnr_bias_used"]), usedb)


def check_softmax(tool, label, feat, W, bias, targets=None, soft=None):
    B, d = feat.shape
    K = W.shape[0]
    if soft is not None:
        soft = soft.astype(np.float32)      # what the tool reads, so what the reference uses
    with np.errstate(all="ignore"):
        z64 = feat.astype(np.float64) @ W.astype(np.float64).T + (bias.astype(np.float64) if bias is not None else 0)
    logits32 = z64.astype(np.float32)
    flags = (HAS_BIAS if bias is not None else 0) | (SOFT if soft is not None else 0)
    arrays = [logits32] + ([soft.astype(np.float32)] if soft is not None else [np.asarray(targets, np.int32)]) \
        + [feat.astype(np.float32), W.astype(np.float32)] + ([bias.astype(np.float32)] if bias is not None else [])
    got = run_tool(tool, [1, B, K, d, 0, flags], 1.0, [np.ascontiguousarray(x) for x in arrays])
    D, z, bad, Q, ysum = softmax_reference(logits32, targets, soft, feat, W, bias)
    c = Check()
    a = feat.astype(np.float64)
    absa, absD, absz = np.abs(a), np.abs(D), np.abs(z)
    W64 = W.astype(np.float64)
    b64 = bias.astype(np.float64) if bias is not None else np.zeros(K)
    with np.errstate(all="ignore"):
        g = np.stack([np.outer(D[i], a[i]).ravel() for i in range(B)])
        gw, gg = g @ W64.ravel(), (g * g).sum(axis=1)
        wn = np.sqrt((W64 ** 2).sum())
        # The tool reads the logits rounded to float32: |Δz| ≤ dz = 2u·max|z|. Then
        # Δp_k = p_k(Δz_k − Σ_j p_j Δz_j), so |Δδ_k| ≤ dD_k = 2·dz·min(p_k, 1 − p_k)·Σy.
        dz = 2 * U * absz.max(axis=1)
        dD = 2 * dz[:, None] * Q * ysum[:, None]
        nD, ndD, a2 = np.sqrt((D ** 2).sum(axis=1)), np.sqrt((dD ** 2).sum(axis=1)), (a ** 2).sum(axis=1)
        tgw = (dD * absz).sum(axis=1) + (absD * dz[:, None]).sum(axis=1) + 1e-12 * (absD * absz).sum(axis=1)
        tgg = (2 * nD * ndD + ndD ** 2) * a2 + 1e-12 * gg
        gamma = -gw / (np.sqrt(gg) * wn + 1e-12)
        tgam = tgw / (np.sqrt(gg) * wn + 1e-12) + np.abs(gamma) * tgg / np.maximum(2 * gg, 1e-300) + 1e-12
        bw, bb = D @ b64, (D ** 2).sum(axis=1)
        bn = np.sqrt(b64 @ b64)
        bgam = -bw / (np.sqrt(bb) * bn + 1e-12)
        tbw = dD @ np.abs(b64) + 1e-12 * absD @ np.abs(b64)
        tbb = 2 * nD * ndD + ndD ** 2 + 1e-12 * bb
        tbg = tbw / (np.sqrt(bb) * bn + 1e-12) + np.abs(bgam) * tbb / np.maximum(2 * bb, 1e-300) + 1e-12
        # The Ḡ-based values run the dense path on δ rounded to float32: dDf = dD + u|δ| per entry;
        # Ḡ (helper GEMM) is off by dGm; U = A·Ḡᵀ by 2e-6·|δ||Ḡ||a| (see the docstring).
        dDf = dD + U * absD
        Gbar = g.mean(axis=0).reshape(K, d)
        bbar = D.mean(axis=0)
        dGm = (dDf.T @ absa + 2e-6 * absD.T @ absa) / B
        Ga = absa @ (np.abs(Gbar) + dGm).T
        P = g @ Gbar.ravel()
        tP = (dDf * Ga).sum(axis=1) + (absD * (absa @ dGm.T)).sum(axis=1) \
            + 2e-6 * (absD * Ga).sum(axis=1) + 1e-9 * np.abs(P)
        dbbar = dDf.mean(axis=0) + 2 * U * np.abs(bbar)
        bB = D @ bbar
        tbB = dDf @ np.abs(bbar) + absD @ dbbar + 1e-9 * np.abs(bB)
        ndDf = np.sqrt((dDf ** 2).sum(axis=1))
        tdense = {"gw": (dDf * absz).sum(axis=1) + (absD * dz[:, None]).sum(axis=1) + 1e-9 * np.abs(gw),
                  "gg": (2 * nD * ndDf + ndDf ** 2) * a2 + 1e-9 * gg}
    nanB = np.full(B, nan)
    want = {"gw": gw, "gg": gg, "gamma": gamma, "gG": P,
            "bw": bw if bias is not None else nanB, "bb": bb if bias is not None else nanB,
            "bB": bB if bias is not None else nanB, "bgamma": bgam if bias is not None else nanB}
    tols = {"gw": tgw, "gg": tgg, "gamma": tgam, "gG": tP, "bw": tbw, "bb": tbb, "bB": tbB, "bgamma": tbg}
    for k in want:
        w = np.where(bad | ~np.isfinite(want[k]), nan, want[k])
        if k in ("gG", "bB") and bad.any():
            w = nanB                # a bad sample makes Ḡ (a batch mean) NaN: every ⟨g_i, Ḡ⟩ is NaN
        c.arr(k, per_sample(got, k, B), w, tols[k])
        if k in ("gw", "gg"):       # the dense path on the closed form's (float32) δ agrees too
            c.arr("dense_" + k, per_sample(got, "dense_" + k, B), w, tdense[k])
    c.eq("bad_samples", int(got["bad_samples"]), int(bad.sum()))
    if not bad.any():
        dm2 = 2 * (absD * dDf).T @ (a * a) / B              # Σ_i g_ij² moves with δ's rounding
        r, tol = {"gg": gg, "gG": P}, {"gg": tgg, "gG": tP}
        check_noise(c, got, g, r, tol, Gbar.ravel(), dGm.ravel(), 1, D, bbar, dm2.ravel(),
                    (2 * absD * dDf).sum(axis=0) / B, dbbar)
    check_window(c, got, B, per_sample(got, "gamma", B), np.where(bad, nan, gamma), tgam)
    return report(label, c)


def report(label, c):
    if c.bad:
        shown = c.bad[:6] + ([f"… {len(c.bad) - 6} more"] if len(c.bad) > 6 else [])
        print(f"FAIL {label}: " + "; ".join(shown))
        return False
    print(f"ok   {label}")
    return True


# ---------------------------------------------------------------- cases

def dense_cases(rng):
    f32 = np.float32

    def rnd(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(f32)

    def layer(B, T, d_in, d_out, signal=0.0):
        """Inputs with a shared component, so the true gradient is well above the noise when signal > 0."""
        A = rnd(B, T, d_in) + f32(signal) * rnd(1, 1, d_in)
        D = rnd(B, T, d_out) + f32(signal) * rnd(1, 1, d_out)
        W = rnd(d_out, d_in, scale=1 / np.sqrt(d_in))
        bias = rnd(d_out, scale=0.1)
        Z = (A.astype(np.float64) @ W.astype(np.float64).T + bias).astype(f32)
        return A.astype(f32), D.astype(f32), W, bias, Z

    for B, T, d_in, d_out, sig in [(8, 1, 5, 3, 0), (64, 1, 33, 17, 1), (64, 1, 33, 17, 3), (200, 1, 64, 40, 0.5),
                                   (16, 4, 12, 7, 1), (32, 16, 24, 20, 2), (600, 1, 8, 6, 1)]:
        A, D, W, bias, Z = layer(B, T, d_in, d_out, sig)
        yield f"dense B={B} T={T} {d_in}->{d_out} signal {sig}, Z given", dict(A=A, D=D, W=W, bias=bias, Z=Z)
        yield f"dense B={B} T={T} {d_in}->{d_out} signal {sig}, W·a by GEMM", dict(A=A, D=D, W=W, bias=bias)
    A, D, W, bias, Z = layer(6, 3, 4, 5, 1)
    yield "dense T=3, print Ḡ and b̄ from the helper", dict(A=A, D=D, W=W, bias=bias, Z=Z, print_gbar=True)
    yield "dense no bias, Z = W a", dict(A=A, D=D, W=W, Z=(A.astype(np.float64) @ W.astype(np.float64).T).astype(f32))
    A, D, W, bias, Z = layer(50, 1, 20, 10, 1)
    yield "dense mean-loss δ/B with scale = B", dict(A=A, D=(D / f32(50)).astype(f32), W=W, bias=bias, Z=Z, scale=50.0)
    A, D, W, bias, Z = layer(40, 2, 10, 6, 1)
    Gb = rnd(6, 10)
    bb = rnd(6)
    yield "dense Ḡ given by the caller (not the batch mean; per-sample values only)", dict(A=A, D=D, W=W, bias=bias, Z=Z, given=(Gb, bb),
                                                                                           noise=False)
    A, D, W, bias, Z = layer(1, 1, 9, 4, 1)
    yield "dense B = 1 (noise, GWA, GSNR guards)", dict(A=A, D=D, W=W, bias=bias, Z=Z)
    A, D, W, bias, Z = layer(1, 5, 9, 4, 1)
    yield "dense B = 1, T = 5", dict(A=A, D=D, W=W, bias=bias, Z=Z)
    z3 = np.zeros((10, 1, 6), f32)
    yield "dense all zeros", dict(A=z3, D=np.zeros((10, 1, 4), f32), W=np.zeros((4, 6), f32), bias=np.zeros(4, f32),
                                  Z=np.zeros((10, 1, 4), f32))
    A, D, W, bias, Z = layer(12, 1, 6, 4, 1)
    D0 = D.copy()
    D0[3] = 0
    yield "dense one sample with zero gradient (γ = 0)", dict(A=A, D=D0, W=W, bias=bias, Z=Z)
    yield "dense zero weights (γ = 0)", dict(A=A, D=D, W=np.zeros_like(W), bias=np.zeros_like(bias),
                                             Z=np.zeros_like(Z))
    A, D, W, bias, Z = layer(20, 1, 8, 5, 1)
    yield "dense identical samples (no noise)", dict(A=np.repeat(A[:1], 20, axis=0), D=np.repeat(D[:1], 20, axis=0),
                                                     W=W, bias=bias, Z=np.repeat(Z[:1], 20, axis=0))
    # denormal inputs: 1e-40 is below FLT_MIN; no bias, else z − b would round away the signal
    A, D, W, _, _ = layer(16, 1, 8, 5, 1)
    Ad = (A.astype(np.float64) * 1e-40).astype(f32)
    yield "dense denormal inputs, W·a by GEMM", dict(A=Ad, D=D, W=W)
    yield "dense denormal gradients", dict(A=A, D=(D.astype(np.float64) * 1e-39).astype(f32), W=W,
                                           Z=(A.astype(np.float64) @ W.astype(np.float64).T).astype(f32))
    # huge values: squares overflow float32 but not double
    A, D, W, bias, _ = layer(16, 2, 8, 5, 1)
    Ah, Dh = (A * f32(1e10)).astype(f32), (D * f32(1e9)).astype(f32)
    Zh = (Ah.astype(np.float64) @ W.astype(np.float64).T + bias).astype(f32)
    yield "dense huge values (1e10·1e9)", dict(A=Ah, D=Dh, W=W, bias=bias, Z=Zh)
    # NaN / Inf in some samples: those samples NaN, the rest exact, entries counted (Ḡ given, clean)
    A, D, W, bias, Z = layer(24, 2, 7, 5, 1)
    An, Dn = A.copy(), D.copy()
    An[3, 1, 2] = np.nan
    Dn[5, 0, 1] = np.inf
    Dn[5, 1, 3] = -np.inf
    An[9, 0, 0] = np.inf
    Dn[9, 0, 0] = np.nan
    ok = [i for i in range(24) if i not in (3, 5, 9)]
    g = np.stack([sum(np.outer(D[i, t].astype(np.float64), A[i, t].astype(np.float64)) for t in range(2))
                  for i in ok]).mean(axis=0)
    Gb = g.astype(f32)
    bb = D[ok].astype(np.float64).sum(axis=1).mean(axis=0).astype(f32)
    yield "dense NaN/Inf in 3 samples, clean Ḡ given", dict(A=An, D=Dn, W=W, bias=bias, Z=Z, given=(Gb, bb),
                                                             expect_nonfinite=5)
    yield "dense NaN/Inf in 3 samples, Ḡ from the helper (all ⟨g,Ḡ⟩ NaN)", dict(A=An, D=Dn, W=W, bias=bias, Z=Z)
    Wn = W.copy()
    Wn[1, 1] = np.nan
    yield "dense NaN in W (⟨g,W⟩ and γ all NaN, even via Z)", dict(A=A, D=D, W=Wn, bias=bias, Z=Z,
                                                                        expect_nonfinite=1)
    Zn = Z.copy()
    Zn[2, 1, 1] = np.nan
    yield "dense NaN in Z of one sample", dict(A=A, D=D, W=W, bias=bias, Z=Zn)


def softmax_cases(rng):
    f32 = np.float32
    for B, K, d in [(8, 3, 4), (64, 10, 32), (256, 100, 64)]:
        feat = rng.standard_normal((B, d)).astype(f32)
        W = (rng.standard_normal((K, d)) / np.sqrt(d)).astype(f32) * f32(2)
        bias = (rng.standard_normal(K) * 0.3).astype(f32)
        t = rng.integers(0, K, B)
        yield f"softmax head B={B} K={K} d={d}, hard targets", dict(feat=feat, W=W, bias=bias, targets=t)
        soft = rng.dirichlet(np.ones(K) * 0.5, B)
        yield f"softmax head B={B} K={K} d={d}, soft targets", dict(feat=feat, W=W, bias=bias, soft=soft)
        eps = 0.1
        ls = np.full((B, K), eps / K)
        ls[np.arange(B), t] += 1 - eps
        yield f"softmax head B={B} K={K} d={d}, label smoothing, no bias", dict(feat=feat, W=W, bias=None, soft=ls)
    feat = rng.standard_normal((32, 12)).astype(f32)
    W = rng.standard_normal((6, 12)).astype(f32)
    wsoft = rng.dirichlet(np.ones(6), 32) * rng.uniform(0.2, 2, (32, 1))
    yield "softmax head sample-weighted soft targets (Σy ≠ 1)", dict(feat=feat, W=W, bias=(rng.standard_normal(6) * 0.3).astype(f32),
                                                                      soft=wsoft)
    feat = rng.standard_normal((16, 8)).astype(f32) * f32(30)
    W = rng.standard_normal((5, 8)).astype(f32)
    yield "softmax head large logits (stable softmax)", dict(feat=feat, W=W, bias=np.zeros(5, f32),
                                                             targets=rng.integers(0, 5, 16))
    feat = rng.standard_normal((10, 6)).astype(f32)
    W = rng.standard_normal((4, 6)).astype(f32)
    t = rng.integers(0, 4, 10)
    t[2] = 7
    t[6] = -1
    yield "softmax head targets out of range", dict(feat=feat, W=W, bias=np.zeros(4, f32), targets=t)
    fn = feat.copy()
    fn[4, 2] = np.nan
    yield "softmax head NaN feature", dict(feat=fn, W=W, bias=np.zeros(4, f32), targets=rng.integers(0, 4, 10))
    yield "softmax head B = 1", dict(feat=feat[:1], W=W, bias=np.zeros(4, f32), targets=[1])


def main():
    tool = sys.argv[1]
    rng = np.random.default_rng(20240611)
    passed = failed = 0
    ok = fd_check_softmax(rng)
    print(("ok  " if ok else "FAIL") + " reference softmax-CE gradient vs central finite differences")
    passed, failed = passed + ok, failed + (not ok)
    for label, kw in dense_cases(rng):
        good = check_dense(tool, label, **kw)
        passed, failed = passed + good, failed + (not good)
    for label, kw in softmax_cases(rng):
        good = check_softmax(tool, label, **kw)
        passed, failed = passed + good, failed + (not good)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
