/* gwa: the window statistics of per-sample alignment γ_i. Everything is mergeable (moments, counts,
 * the power-of-two histogram), so steps, batches and ranks combine in any order. */
#include "gwa.h"

#include <math.h>
#include <string.h>

#define MIN_RANGE 0x1p-30
#define ZOOM_MAX 4                                    /* the reported range is ≥ r/2^4 */

double tt_gwa(const tt_moments *m)
{
    double den = tt_moments_kurtosis(m) + 1.2;
    if (!isfinite(den) || den == 0) return NAN;
    double r = tt_moments_mean(m) / den;
    return isfinite(r) ? r : NAN;
}

void tt_gwa_stats(const tt_moments *m, uint64_t neg, tt_gwa_report *r)
{
    double k = tt_moments_kurtosis(m), n = (double)m->n;
    r->gwa = tt_gwa(m);
    r->pole = isfinite(k) && k + 1.2 < TT_GWA_POLE_MARGIN;
    r->mean = tt_moments_mean(m);
    r->std = tt_moments_std(m);
    r->kurtosis = k;
    r->pearson = k + 3;
    r->frac_neg = m->n ? (double)neg / n : NAN;
    /* exp(−κ/1.2)/1.2 is 1/(κ + 1.2) to first order at the Gaussian κ = 0 (same value, same slope),
     * strictly positive and bounded by exp(2/1.2)/1.2 ≈ 4.4 on κ ≥ −2: the paper's weighting, no pole. */
    r->robust = isfinite(k) ? r->mean * exp(-k / 1.2) / 1.2 : NAN;
    /* Sarle's bimodality coefficient with the bias-corrected sample skewness G1 and excess kurtosis G2:
     * (G1² + 1) / (G2 + 3(n−1)²/((n−2)(n−3))). Its denominator is (n²−1)·pearson/((n−2)(n−3)) > 0. */
    double g1 = tt_moments_skewness(m);
    if (n >= 4 && isfinite(g1) && isfinite(k)) {
        double G1 = g1 * sqrt(n * (n - 1)) / (n - 2);
        double G2 = ((n + 1) * k + 6) * (n - 1) / ((n - 2) * (n - 3));
        r->bimodality = (G1 * G1 + 1) / (G2 + 3 * (n - 1) * (n - 1) / ((n - 2) * (n - 3)));
    } else {
        r->bimodality = NAN;
    }
    r->mislabeled = isfinite(r->bimodality) ? (r->bimodality > 5.0 / 9.0 ? r->frac_neg : 0) : NAN;
    r->median = NAN;
    r->count = m->n;
    r->nonfinite = m->nonfinite;
}

void tt_gwa_window_reset(tt_gwa_window *w)
{
    memset(w, 0, sizeof *w);
}

/* Doubles the fine range: old bin k and its pair land in bin 64 + k/2 (of 256). */
static void widen(tt_gwa_window *w)
{
    uint64_t t[TT_GWA_FINE_BINS] = { 0 };
    for (int k = 0; k < TT_GWA_FINE_BINS; k++) t[TT_GWA_FINE_BINS / 4 + k / 2] += w->fine[k];
    memcpy(w->fine, t, sizeof t);
    w->r *= 2;
}

/* x·(128/r) is exact (r a power of two), so a bin never depends on rounding, and widening — bin k to
 * 64 + k/2 — agrees with binning at the wider range directly. */
static int fine_bin(double x, double r)
{
    double k = floor(x * (TT_GWA_FINE_BINS / 2 / r)) + TT_GWA_FINE_BINS / 2;
    return k < 0 ? 0 : k >= TT_GWA_FINE_BINS ? TT_GWA_FINE_BINS - 1 : (int)k;
}

void tt_gwa_window_add(tt_gwa_window *w, const double *gamma, size_t n)
{
    tt_moments_add_array(&w->m, gamma, n);
    if (w->r == 0) w->r = MIN_RANGE;
    for (size_t i = 0; i < n; i++) {
        double x = gamma[i];
        if (!isfinite(x)) continue;
        w->neg += x < 0;
        while (fabs(x) >= w->r) widen(w);
        w->fine[fine_bin(x, w->r)]++;
    }
}

void tt_gwa_window_merge(tt_gwa_window *a, const tt_gwa_window *b)
{
    tt_moments_merge(&a->m, &b->m);
    a->neg += b->neg;
    if (b->r == 0) return;
    tt_gwa_window c = *b;
    if (a->r == 0) a->r = MIN_RANGE;
    while (a->r < c.r) widen(a);
    while (c.r < a->r) widen(&c);
    for (int k = 0; k < TT_GWA_FINE_BINS; k++) a->fine[k] += c.fine[k];
}

void tt_gwa_window_report(const tt_gwa_window *w, tt_gwa_report *r)
{
    memset(r, 0, sizeof *r);
    tt_gwa_stats(&w->m, w->neg, r);
    uint64_t total = 0;
    for (int k = 0; k < TT_GWA_FINE_BINS; k++) total += w->fine[k];
    if (!total) { r->hist_range = NAN; return; }
    /* zoom: the central 256/2^j fine bins span [−r/2^j, r/2^j] */
    int j = ZOOM_MAX;
    for (; j > 0; j--) {
        int span = TT_GWA_FINE_BINS >> j, lo = (TT_GWA_FINE_BINS - span) / 2;
        uint64_t in = 0;
        for (int k = lo; k < lo + span; k++) in += w->fine[k];
        if ((double)in >= 0.99 * (double)total) break;
    }
    int span = TT_GWA_FINE_BINS >> j, lo = (TT_GWA_FINE_BINS - span) / 2, per = span / TT_GWA_HIST_BINS;
    for (int k = 0; k < TT_GWA_FINE_BINS; k++) {
        int b = k < lo ? 0 : k >= lo + span ? TT_GWA_HIST_BINS - 1 : (k - lo) / per;
        r->hist[b] += w->fine[k];
    }
    r->hist_range = ldexp(w->r, -j);
    /* the median: the fine bin where the cumulative count reaches half, linear inside it */
    double half = 0.5 * (double)total, cum = 0, width = 2 * w->r / TT_GWA_FINE_BINS;
    for (int k = 0; k < TT_GWA_FINE_BINS; k++) {
        if (w->fine[k] && cum + (double)w->fine[k] >= half) {
            r->median = -w->r + width * (k + (half - cum) / (double)w->fine[k]);
            break;
        }
        cum += (double)w->fine[k];
    }
}
