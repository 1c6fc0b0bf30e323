/* gwa: gradient–weight alignment over a window of per-sample γ_i (METRICS.md §2, docs/metrics.md):
 * the paper's GWA exactly as the reference computes it, its pole, and the always-defined signals
 * beside it (mean γ, Pearson kurtosis, fraction negative, bimodality, a robust GWA, a γ histogram). */
#ifndef TT_GWA_H
#define TT_GWA_H

#include <stddef.h>
#include <stdint.h>
#include "moments.h"

/* The paper's GWA = mean / (excess kurtosis + 1.2), exactly (hlzl/gwa: np.mean(a)/(kurtosis(a)+1.2)),
 * negative values included. NaN only when the kurtosis is undefined (m2 = 0, < 2 values, non-finite
 * moments) or the denominator is exactly 0. */
double tt_gwa(const tt_moments *m);

/* The denominator kurtosis + 1.2 below this is "at the pole": |GWA| is then more than 10× |mean γ|,
 * and below 0 its sign has flipped. Excess kurtosis ≥ −2, so the denominator is ≥ −0.8. */
#define TT_GWA_POLE_MARGIN 0.1

/* γ histogram: TT_GWA_FINE_BINS linear bins over [−r, r], r a power of two that doubles (merging bin
 * pairs, exactly) whenever a value falls outside; r = max(2^-30, the smallest power of two above the
 * largest |γ|) whatever the order the values came in, so windows merge exactly. */
#define TT_GWA_FINE_BINS 256
/* The reported histogram: TT_GWA_HIST_BINS bins over [−range, range], range = r/2^j with the largest
 * j ≤ 4 that keeps ≥ 99 % of the values inside; values outside are counted in the end bins. */
#define TT_GWA_HIST_BINS 16

typedef struct {
    tt_moments m;
    uint64_t neg;                                     /* finite γ < 0 */
    double r;                                         /* fine histogram range (0: empty window) */
    uint64_t fine[TT_GWA_FINE_BINS];
} tt_gwa_window;

typedef struct {
    double gwa;          /* paper-exact mean/(kurtosis + 1.2) */
    int pole;            /* kurtosis + 1.2 < TT_GWA_POLE_MARGIN: gwa is near or past its pole */
    double mean, std;
    double kurtosis;     /* excess, biased (scipy.stats.kurtosis's default) */
    double pearson;      /* kurtosis + 3 = n·M4/M2² ≥ 1 */
    double frac_neg;     /* over the finite γ */
    double bimodality;   /* Sarle's coefficient, finite-sample form; > 5/9 suggests two modes */
    double robust;       /* mean·exp(−kurtosis/1.2)/1.2: no pole (docs/metrics.md) */
    double mislabeled;   /* frac_neg when the window is bimodal, else 0 */
    double median;       /* from the fine histogram, linear within its bin (error < r/128); NaN: no histogram */
    uint64_t count, nonfinite;                        /* finite γ folded in; NaN/Inf γ seen */
    double hist_range;                                /* the reported bins span [−range, range] */
    uint64_t hist[TT_GWA_HIST_BINS];
} tt_gwa_report;

void tt_gwa_window_reset(tt_gwa_window *w);
void tt_gwa_window_add(tt_gwa_window *w, const double *gamma, size_t n);
void tt_gwa_window_merge(tt_gwa_window *a, const tt_gwa_window *b);
void tt_gwa_window_report(const tt_gwa_window *w, tt_gwa_report *r);

/* The statistics of the report from moments alone (no histogram): gwa, pole, mean, std, kurtosis,
 * pearson, bimodality, robust; frac_neg and mislabeled from neg. */
void tt_gwa_stats(const tt_moments *m, uint64_t neg, tt_gwa_report *r);

#endif
