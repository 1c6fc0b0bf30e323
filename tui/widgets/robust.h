/* robust: median and median absolute deviation of a table column, for flagging outlier layers —
 * a value whose distance from the median exceeds k scaled MADs (1.4826·MAD estimates σ for normal
 * data). Linear-time selection, no allocation (the caller gives the scratch). */
#ifndef TUI_ROBUST_H
#define TUI_ROBUST_H

#include <stddef.h>

#define TUI_OUTLIER_K 3.0      /* robust z-score above which a value is an outlier */
#define TUI_MAD_SCALE 1.4826

typedef struct {
    double median, mad;        /* NaN when there are no finite values */
    size_t n;                  /* finite values */
} tui_robust;

/* Median and MAD of the finite values among v[0..n); scratch holds n doubles. */
tui_robust tui_robust_stats(const double *v, size_t n, double *scratch);
/* Whether v is an outlier of the column: finite, at least 5 finite values, MAD > 0, and
 * |v - median| > k · 1.4826 · MAD. */
int tui_robust_outlier(const tui_robust *r, double v, double k);
/* The k-th smallest of a[0..n) (0-based), reordering a (Hoare's selection). */
double tui_select_kth(double *a, size_t n, size_t k);

#endif
