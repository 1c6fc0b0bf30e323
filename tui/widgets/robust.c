/* robust: quickselect with a median-of-three pivot; the MAD reuses the scratch for deviations. */
#include "robust.h"

#include <math.h>

static void swap(double *a, long i, long j)
{
    double t = a[i];
    a[i] = a[j];
    a[j] = t;
}

double tui_select_kth(double *a, size_t n, size_t k)
{
    if (n == 0) return NAN;
    if (k >= n) k = n - 1;
    long lo = 0, hi = (long)n - 1, want = (long)k;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) swap(a, mid, lo);
        if (a[hi] < a[lo]) swap(a, hi, lo);
        if (a[hi] < a[mid]) swap(a, hi, mid);
        double p = a[mid];
        /* three-way partition: [lo, lt) < p, [lt, gt] == p, (gt, hi] > p — duplicates cost nothing */
        long lt = lo, i = lo, gt = hi;
        while (i <= gt) {
            if (a[i] < p) swap(a, lt++, i++);
            else if (a[i] > p) swap(a, i, gt--);
            else i++;
        }
        if (want < lt) hi = lt - 1;
        else if (want > gt) lo = gt + 1;
        else return p;
    }
    return a[want];
}

static double median_of(double *a, size_t n)
{
    double m = tui_select_kth(a, n, n / 2);
    if (n % 2 == 0) {
        /* the largest of the lower half: after selection, every element before n/2 is ≤ m */
        double lo = a[0];
        for (size_t i = 1; i < n / 2; i++) if (a[i] > lo) lo = a[i];
        m = (m + lo) / 2;
    }
    return m;
}

tui_robust tui_robust_stats(const double *v, size_t n, double *scratch)
{
    tui_robust r = { NAN, NAN, 0 };
    size_t m = 0;
    for (size_t i = 0; i < n; i++) if (isfinite(v[i])) scratch[m++] = v[i];
    r.n = m;
    if (m == 0) return r;
    r.median = median_of(scratch, m);
    for (size_t i = 0; i < m; i++) scratch[i] = fabs(scratch[i] - r.median);
    r.mad = median_of(scratch, m);
    return r;
}

int tui_robust_outlier(const tui_robust *r, double v, double k)
{
    if (r->n < 5 || !isfinite(v) || !(r->mad > 0)) return 0;
    return fabs(v - r->median) > k * TUI_MAD_SCALE * r->mad;
}
