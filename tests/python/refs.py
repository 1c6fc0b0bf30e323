"""Independent float64 references for METRICS.md §1 and §2, written from the definitions (not from the
C code): numpy norms, np.var, angles by 2·atan2(‖û − v̂‖, ‖û + v̂‖), per-sample gradients by autograd
one sample at a time."""
import math

import numpy as np
import torch


def as2d(t):
    """A parameter as the probe registers it: rows × cols, a vector as one row."""
    a = t.detach().to(torch.float64).cpu().numpy().copy()      # a snapshot, never a view
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    return a.reshape(a.shape[0], -1)


def _angle(u, v):
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0 or nv == 0:
        return math.nan
    u, v = u / nu, v / nv
    return 2 * math.atan2(np.linalg.norm(u - v), np.linalg.norm(u + v))


def layer_stats(W, G, P, W0):
    """The 12 §1 statistics from float64 arrays (rows × cols). P: W one optimizer step earlier."""
    W, G, P, W0 = (np.asarray(x, dtype=np.float64) for x in (W, G, P, W0))
    n = W.size
    bad = int((~np.isfinite(W)).sum() + (~np.isfinite(G)).sum())
    if bad:
        out = {k: math.nan for k in STATS}
        out["nonfinite"] = bad
        return out
    wn, gn = np.linalg.norm(W), np.linalg.norm(G)
    d = np.linalg.norm(W - P)
    rows = [_angle(W[r], P[r]) for r in range(W.shape[0])] if W.shape[0] > 1 else None
    angle = _angle(W, P)
    if rows is not None:
        rows = [a for a in rows if not math.isnan(a)]
        angle_rows = math.sqrt(sum(a * a for a in rows) / len(rows)) if rows else math.nan
    else:
        angle_rows = angle
    return {
        "w_norm": wn, "g_norm": gn, "w_rms": wn / math.sqrt(n), "g_rms": gn / math.sqrt(n),
        "w_var": float(np.var(W)), "update_norm": d,
        "update_ratio": d / np.linalg.norm(P) if np.linalg.norm(P) else math.nan,
        "angle": angle, "angle_rows": angle_rows,
        "gw_cos": -float((G * W).sum()) / (gn * wn) if gn * wn else math.nan,
        "dist_init": np.linalg.norm(W - W0), "nonfinite": 0,
    }


STATS = ["w_norm", "g_norm", "w_rms", "g_rms", "w_var", "update_norm", "update_ratio", "angle", "angle_rows",
         "gw_cos", "dist_init", "nonfinite"]


def close(a, b, rtol, atol):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= atol + rtol * abs(b)


def per_sample_grads(model64, params64, loss_of_sample, B):
    """[B][len(params)] float64 numpy gradients of each sample's own loss, by autograd per sample."""
    out = []
    for i in range(B):
        loss = loss_of_sample(model64, i)
        gs = torch.autograd.grad(loss, params64, allow_unused=True)
        out.append([np.zeros(tuple(p.shape)) if g is None else g.detach().numpy().astype(np.float64)
                    for g, p in zip(gs, params64)])
    return out


def gamma(grads_i, weights):
    """Model γ_i = −⟨g_i, W⟩ / (‖g_i‖‖W‖ + 1e-12) over the given parameter blocks."""
    gw = sum(float((g * w).sum()) for g, w in zip(grads_i, weights))
    gg = sum(float((g * g).sum()) for g in grads_i)
    ww = sum(float((w * w).sum()) for w in weights)
    return -gw / (math.sqrt(gg) * math.sqrt(ww) + 1e-12)


def window_report(gammas):
    """GWA window statistics of METRICS.md §2: population moments, excess biased kurtosis."""
    g = np.asarray(gammas, dtype=np.float64)
    g = g[np.isfinite(g)]
    mean = g.mean()
    m2 = ((g - mean) ** 2).mean()
    m4 = ((g - mean) ** 4).mean()
    kurt = m4 / (m2 * m2) - 3
    gwa = mean / (kurt + 1.2) if kurt + 1.2 != 0 else math.nan     # paper-exact: negative past the pole
    return {"gwa": gwa, "gwa_gamma_mean": mean, "gwa_gamma_std": math.sqrt(m2),
            "gwa_kurtosis": kurt, "gwa_frac_neg": float((g < 0).mean())}


def noise(grads, B):
    """trace_sigma, grad_sq, norm_test and the inner/orthogonality tests from per-sample gradients."""
    flat = np.stack([np.concatenate([g.ravel() for g in gi]) for gi in grads])
    Gbar = flat.mean(0)
    S = float((flat * flat).sum())
    g2 = float(Gbar @ Gbar)
    tr = (S - B * g2) / (B - 1)
    P = flat @ Gbar
    var_inner = (float((P * P).sum()) - B * g2 * g2) / (B - 1)
    var_ortho = (S - float((P * P).sum()) / g2) / (B - 1)
    return {"trace_sigma": tr, "grad_sq": g2 - tr / B, "norm_test": math.sqrt(tr / (B * g2)),
            "inner_test": math.sqrt(var_inner / (B * g2 * g2)), "ortho_test": math.sqrt(var_ortho / (B * g2)),
            "S": S, "g2": g2}
