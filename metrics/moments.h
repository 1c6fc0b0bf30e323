/* moments: mergeable central moments to 4th order (Welford/Pébay); the GWA window built on them is gwa.h. */
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

#endif
