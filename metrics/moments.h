/* moments: mergeable central moments to 4th order (Welford/Pébay), GWA and the γ window (METRICS.md §2). */
#ifndef TT_MOMENTS_H
#define TT_MOMENTS_H

#include <stddef.h>
#include <stdint.h>

/* n values seen, their mean and central sums M_k = Σ (x − mean)^k. Zero-initialise ({0}) or reset.
 * NaN/Inf values are not folded in: they are counted in `nonfinite`, so one bad sample never
 * poisons a window, and the count is still reported. */
typedef struct {
    uint64_t n, nonfinite;
    double mean, m2, m3, m4;
} tt_moments;

void tt_moments_reset(tt_moments *m);
void tt_moments_add(tt_moments *m, double x);
/* Same result as tt_moments_add on each element (to rounding): two passes over the chunk, then one merge. */
void tt_moments_add_array(tt_moments *m, const double *x, size_t n);
/* a ← a ∪ b, exact (Pébay 2008): batches and ranks combine in any order. */
void tt_moments_merge(tt_moments *a, const tt_moments *b);

/* Population statistics; NaN when n = 0 (var, std) or m2 = 0 (skewness, kurtosis). */
double tt_moments_mean(const tt_moments *m);
double tt_moments_var(const tt_moments *m);           /* m2/n */
double tt_moments_std(const tt_moments *m);
double tt_moments_skewness(const tt_moments *m);      /* sqrt(n)·M3/M2^1.5 */
double tt_moments_kurtosis(const tt_moments *m);      /* excess, biased: n·M4/M2² − 3 */

/* Gradient–weight alignment: mean / (excess_kurtosis + 1.2). NaN when m2 = 0 (constant or < 2
 * values), when the denominator is ≤ 0, or when anything is not finite. */
double tt_gwa(const tt_moments *m);

/* Fixed-bin histogram of γ ∈ [−1, 1]: bin k = floor((x + 1)·10), i.e. [−1 + k·0.1, −1 + (k+1)·0.1)
 * to rounding; 1 goes to the last bin. Values outside [−1, 1] are clamped into the end bins; NaN/Inf
 * go to `nonfinite`. */
#define TT_HIST_BINS 20
typedef struct {
    uint64_t bins[TT_HIST_BINS];
    uint64_t nonfinite;
} tt_hist;

void tt_hist_reset(tt_hist *h);
void tt_hist_add(tt_hist *h, double x);
void tt_hist_merge(tt_hist *a, const tt_hist *b);
int tt_hist_bin(double x);                            /* the bin of a finite x; -1 for NaN/Inf */

/* Accumulates γ_i over a window (an epoch, or N steps) with the weights of each step, before the
 * update. A sliding window of steps: keep one window per step in a ring and merge them. */
typedef struct {
    tt_moments m;
    tt_hist hist;
    uint64_t neg;                                     /* finite γ < 0 */
} tt_gwa_window;

typedef struct {
    double gwa, mean, std, kurtosis, frac_neg;        /* frac_neg over the finite γ */
    uint64_t count, nonfinite;                        /* finite γ folded in; NaN/Inf γ seen */
    uint64_t hist[TT_HIST_BINS];
} tt_gwa_report;

void tt_gwa_window_reset(tt_gwa_window *w);
void tt_gwa_window_add(tt_gwa_window *w, const double *gamma, size_t n);
void tt_gwa_window_merge(tt_gwa_window *a, const tt_gwa_window *b);
void tt_gwa_window_report(const tt_gwa_window *w, tt_gwa_report *r);

#endif
