/* tt_cuda_math: the arithmetic the device kernels share with the host — per-element accumulation of
 * METRICS.md §1 sums, the 12 statistics from those sums (metrics/layerstats.c's guards; the stable
 * angle is metrics/angle.h, shared with it), and the per-sample finishing rules of metrics/persample.c. Compiled both by
 * nvcc (__host__ __device__) and by the C compiler, so the host tests check the very code the
 * kernels run. Internal header. */
#ifndef TT_CUDA_MATH_H
#define TT_CUDA_MATH_H

#include <math.h>
#include <stdint.h>

#include "../../metrics/angle.h"

#ifdef __CUDACC__
#define TTC_HD static __host__ __device__ __forceinline__
#else
#define TTC_HD static inline
#endif

/* The primitive sums of one layer (or of one work item), in this order. */
enum {
    TTC_WW,     /* Σ w² */
    TTC_GG,     /* Σ g² */
    TTC_GW,     /* Σ g·w */
    TTC_SW,     /* Σ (w − K), K = the layer's first entry (0 if not finite) */
    TTC_SW2,    /* Σ (w − K)² */
    TTC_DD,     /* Σ (w − p)² */
    TTC_PP,     /* Σ p² */
    TTC_D0,     /* Σ (w − w0)² */
    TTC_RA2,    /* Σ over rows of angle_row² (rows whose angle is defined) */
    TTC_RAN,    /* number of those rows */
    TTC_NF,     /* NaN/Inf entries of W and G */
    TTC_NPRIM
};

/* Sums of one element: w, g, p (W_prev, read when have_prev), z (W_0), all exactly widened to double
 * (a product of two floats is exact in double). The row sums (ww, pp, dd) are kept apart from the
 * others because the per-row angle needs them per row. */
typedef struct { double ww, pp, dd; } ttc_rowsums;
typedef struct { double gg, gw, sw, sw2, d0; unsigned nf; } ttc_elsums;

TTC_HD void ttc_elem(ttc_rowsums *r, ttc_elsums *e, float w, float g, float p, float z, double K, int have_prev)
{
    double wd = w, gd = g, c = wd - K, e0 = wd - (double)z;
    r->ww += wd * wd;
    e->gg += gd * gd;
    e->gw += gd * wd;
    e->sw += c;
    e->sw2 += c * c;
    e->d0 += e0 * e0;
    if (have_prev) {
        double pd = p, d = wd - pd;
        r->dd += d * d;
        r->pp += pd * pd;
    }
    e->nf += (unsigned)!isfinite(w) + (unsigned)!isfinite(g);
}

/* The CPU pass's own angle and division (metrics/angle.h), so both compute the same numbers. */
#define ttc_angle tt_angle_inline
#define ttc_safe_div tt_safe_div_inline

/* Adds a finished row's angle (rows > 1 only): the per-row part of angle_rows. */
TTC_HD void ttc_row_angle(double *ra2, double *ran, double pp, double ww, double dd)
{
    double a = ttc_angle(sqrt(pp), sqrt(ww), sqrt(dd));
    if (!isnan(a)) { *ra2 += a * a; *ran += 1; }
}

/* The 12 statistics (TT_LAYER_NSTATS order) of a layer of n entries and `rows` effective rows (1 for a
 * vector) from its primitive sums. Same results as tt_layer_stats on the same sums: any NaN/Inf in W or
 * G makes everything NaN but the count. W_0 is always present on the device. */
TTC_HD void ttc_finish(const double *s, double n, double rows, int have_prev, double *out)
{
    if (s[TTC_NF] > 0) {
        for (int k = 0; k < 12; k++) out[k] = NAN;
        out[11] = s[TTC_NF];
        return;
    }
    double wn = sqrt(s[TTC_WW]), gn = sqrt(s[TTC_GG]), dn = sqrt(s[TTC_DD]), pn = sqrt(s[TTC_PP]);
    out[0] = wn;
    out[1] = gn;
    out[2] = wn / sqrt(n);
    out[3] = gn / sqrt(n);
    double mean_c = s[TTC_SW] / n;
    double var = s[TTC_SW2] / n - mean_c * mean_c;
    out[4] = var < 0 ? 0 : var;
    out[5] = have_prev ? dn : NAN;
    out[6] = have_prev ? ttc_safe_div(dn, pn) : NAN;
    out[7] = have_prev ? ttc_angle(pn, wn, dn) : NAN;
    if (!have_prev)
        out[8] = NAN;
    else if (rows > 1)
        out[8] = s[TTC_RAN] > 0 ? sqrt(s[TTC_RA2] / s[TTC_RAN]) : NAN;
    else
        out[8] = out[7];
    out[9] = ttc_safe_div(-s[TTC_GW], gn * wn);
    out[10] = sqrt(s[TTC_D0]);
    out[11] = 0;
}

/* §2, one sample: the raw sums of sample i (not yet scaled) → the 8 outputs of tt_persample_out in
 * the order gw, gg, gG, gamma, bw, bb, bB, bgamma, plus the sample's bad-entry count (0 when fine),
 * with the rules of tt_dense_persample:
 *   gg, bb     ‖Σ_t δ a_tᵀ‖², ‖Σ_t δ_t‖² (always computed)
 *   gw         Σ δ·(W a) (want_gw; NaN when W holds NaN/Inf), gG = Σ δ·(Ḡ a) (want_gG)
 *   bw, bB     Σ δ·bias, Σ δ·b̄ (want_bias)
 *   nf_ad, nf_z  NaN/Inf entries of the sample's a, δ and of its z (use_z: Z was read) */
/* Chunk c of C of n elements: [lo, hi), contiguous, sizes differing by at most one, in order. The
 * per-sample kernels split each sample's work this way (grid C × B) and the finisher sums the C
 * partials in chunk order, so results do not depend on the launch. */
TTC_HD void ttc_chunk(uint64_t n, uint32_t C, uint32_t c, uint64_t *lo, uint64_t *hi)
{
    *lo = n * c / C;
    *hi = n * (c + 1) / C;
}

enum { TTC_PS_GW, TTC_PS_GG, TTC_PS_GBAR, TTC_PS_GAMMA, TTC_PS_BW, TTC_PS_BB, TTC_PS_BBAR, TTC_PS_BGAMMA,
       TTC_PS_BAD, TTC_PS_N };

TTC_HD double ttc_fin(double x) { return isfinite(x) ? x : NAN; }

TTC_HD void ttc_ps_finish(double gg, double bb, double gw, double gG, double bw, double bB,
                          double nf_ad, double nf_z, int use_z, int want_gw, int w_bad, int want_gG,
                          int has_bias, int has_bbar, int want_bias, double sc, double wn, double bn,
                          double *out)
{
    if (!want_gw) gw = NAN;
    else if (w_bad) gw = NAN;
    if (!want_gG) gG = NAN;
    if (!want_bias) { bw = NAN; bB = NAN; }
    else if (!has_bbar) bB = 0;
    double bad = 0;
    if (!isfinite(gg)) bad = nf_ad;
    if (use_z && !isfinite(gw)) bad += nf_z;
    if (bad > 0) gg = bb = gw = gG = bw = bB = NAN;
    gw *= sc; gG *= sc; bw *= sc; bB *= sc;
    gg *= sc * sc; bb *= sc * sc;
    out[TTC_PS_GW] = ttc_fin(gw);
    out[TTC_PS_GG] = ttc_fin(gg);
    out[TTC_PS_GBAR] = want_gG ? ttc_fin(gG) : NAN;
    out[TTC_PS_GAMMA] = ttc_fin(-gw / (sqrt(gg) * wn + 1e-12));
    out[TTC_PS_BW] = has_bias ? ttc_fin(bw) : NAN;
    out[TTC_PS_BB] = has_bias ? ttc_fin(bb) : NAN;
    out[TTC_PS_BBAR] = (has_bias && has_bbar) ? ttc_fin(bB) : NAN;
    out[TTC_PS_BGAMMA] = has_bias ? ttc_fin(-bw / (sqrt(bb) * bn + 1e-12)) : NAN;
    out[TTC_PS_BAD] = bad;
}

#endif
