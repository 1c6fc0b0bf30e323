/* moments: Welford's update generalised to 4th order and Pébay's pairwise merge (Pébay 2008, "Formulas
 * for robust, one-pass parallel computation of covariances and arbitrary-order statistical moments").
 * Central sums are kept (never raw power sums), so nothing cancels when the mean is large. */
#include "moments.h"

#include <float.h>
#include <math.h>
#include <string.h>

void tt_moments_reset(tt_moments *m)
{
    memset(m, 0, sizeof *m);
}

void tt_moments_add(tt_moments *m, double x)
{
    if (!isfinite(x)) { m->nonfinite++; return; }
    double n1 = (double)m->n, n = n1 + 1;
    double delta = x - m->mean;
    double dn = delta / n, dn2 = dn * dn;
    double term1 = delta * dn * n1;
    m->mean += dn;
    /* M4 and M3 first: their updates read the old M2 and M3. */
    m->m4 += term1 * dn2 * (n * n - 3 * n + 3) + 6 * dn2 * m->m2 - 4 * dn * m->m3;
    m->m3 += term1 * dn * (n - 2) - 3 * dn * m->m2;
    m->m2 += term1;
    m->n++;
}

void tt_moments_merge(tt_moments *a, const tt_moments *b)
{
    a->nonfinite += b->nonfinite;
    if (b->n == 0) return;
    if (a->n == 0) {
        uint64_t bad = a->nonfinite;
        *a = *b;
        a->nonfinite = bad;
        return;
    }
    double na = (double)a->n, nb = (double)b->n, n = na + nb;
    double d = b->mean - a->mean, d2 = d * d;
    double m2 = a->m2 + b->m2 + d2 * na * nb / n;
    double m3 = a->m3 + b->m3 + d2 * d * na * nb * (na - nb) / (n * n)
              + 3 * d * (na * b->m2 - nb * a->m2) / n;
    double m4 = a->m4 + b->m4 + d2 * d2 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n)
              + 6 * d2 * (na * na * b->m2 + nb * nb * a->m2) / (n * n)
              + 4 * d * (na * b->m3 - nb * a->m3) / n;
    a->mean += d * nb / n;
    a->m2 = m2; a->m3 = m3; a->m4 = m4;
    a->n += b->n;
}

void tt_moments_add_array(tt_moments *m, const double *x, size_t n)
{
    /* Shift by the first finite value: a constant chunk then gives a mean that is exactly that value
     * and central sums that are exactly 0 (so its GWA is NaN, not rounding noise). */
    size_t first = 0;
    while (first < n && !isfinite(x[first])) first++;
    m->nonfinite += first;
    if (first == n) return;
    double shift = x[first], s = 0, cnt = 0;
#pragma omp simd reduction(+:s,cnt)
    for (size_t i = first; i < n; i++) {
        int ok = isfinite(x[i]);
        s += ok ? x[i] - shift : 0;
        cnt += ok;
    }
    double mean = shift + s / cnt;
    double s2 = 0, s3 = 0, s4 = 0;
#pragma omp simd reduction(+:s2,s3,s4)
    for (size_t i = first; i < n; i++) {
        double d = isfinite(x[i]) ? x[i] - mean : 0;
        double d2 = d * d;
        s2 += d2; s3 += d2 * d; s4 += d2 * d2;
    }
    tt_moments c = {
        .n = (uint64_t)cnt, .nonfinite = (uint64_t)(n - first) - (uint64_t)cnt,
        .mean = mean, .m2 = s2, .m3 = s3, .m4 = s4,
    };
    tt_moments_merge(m, &c);
}

double tt_moments_mean(const tt_moments *m)
{
    return m->n ? m->mean : NAN;
}

double tt_moments_var(const tt_moments *m)
{
    if (!m->n || !isfinite(m->m2)) return NAN;
    return m->m2 > 0 ? m->m2 / (double)m->n : 0;
}

double tt_moments_std(const tt_moments *m)
{
    return sqrt(tt_moments_var(m));
}

/* m2 is "zero" when it is 0, or when the spread it implies is below the double rounding of the mean:
 * the higher moments of rounding noise are meaningless. */
static int degenerate(const tt_moments *m)
{
    if (!m->n || !isfinite(m->m2) || !isfinite(m->mean) || !(m->m2 > 0)) return 1;
    double tiny = 4 * DBL_EPSILON * fabs(m->mean);
    return m->m2 / (double)m->n <= tiny * tiny;
}

double tt_moments_skewness(const tt_moments *m)
{
    if (degenerate(m) || !isfinite(m->m3)) return NAN;
    double r = sqrt((double)m->n) * m->m3 / (m->m2 * sqrt(m->m2));
    return isfinite(r) ? r : NAN;
}

double tt_moments_kurtosis(const tt_moments *m)
{
    if (degenerate(m) || !isfinite(m->m4)) return NAN;
    double r = (double)m->n * m->m4 / (m->m2 * m->m2) - 3;
    return isfinite(r) ? r : NAN;
}
