/* spectral: eigenvalues λ = σ² of W through the smaller Gram matrix, in double.
 *
 * Why the Gram matrix and not an SVD of W: for a k x L matrix (k ≤ L) dsyrk forms the k x k Gram in
 * L·k² flops of pure level-3 BLAS, and dsyevd without vectors (dsytrd + dsterf) costs 4/3·k³; dgesdd
 * without vectors pays a bidiagonalisation of 4Lk² − 4/3k³ flops, half of them memory-bound level-2
 * (plus a QR when L ≫ k). The Gram route is 2-3x faster. Its accuracy cost is squaring the condition
 * number: λ_i gets an absolute error ~ k·ε_double·λ_max ≈ 1e-13·λ_max, while the float32 input itself
 * only determines λ_i to ~ ε_float·λ_max ≈ 6e-8·λ_max — the double Gram is a million times below the
 * noise of the data, and λ below 1e-5 are dropped anyway.
 *
 * The Gram is accumulated over chunks of the long dimension, so the double copy of W is never larger
 * than CHUNK·k values. */
#include "spectral.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 256   /* rows (tall) or columns (wide) of W converted to double per dsyrk */

struct tt_spectral_ws {
    double *gram;  size_t gram_cap;     /* k x k, column-major, lower triangle */
    double *buf;   size_t buf_cap;      /* a chunk of W, or a window, in double */
    double *eig;   size_t eig_cap;      /* the whole matrix's eigenvalues; the kept ones start at eig_off */
    double *weig;  size_t weig_cap;     /* one window's eigenvalues */
    double *pool;  size_t pool_cap;     /* pooled kept window eigenvalues */
    double *work;  size_t work_cap;     /* dsyevd workspace, and the fit's logarithms */
    lapack_int *iwork; size_t iwork_cap;
    size_t eig_off, n_eig, n_pool;
};

void tt_spectral_opts_default(tt_spectral_opts *o)
{
    o->eig_min = 1e-5;
    o->min_eigs = 50;
    o->windows = 1;
    o->win_size = 100;
    o->win_grid = 9;
}

/* Grows *p to n elements (contents are scratch: not preserved). */
static int grow(void *pp, size_t *cap, size_t n, size_t elem)
{
    void **p = pp;
    if (n <= *cap)
        return 0;
    if (elem && n > SIZE_MAX / elem)
        return -1;
    free(*p);
    *p = malloc(n * elem);
    *cap = *p ? n : 0;
    return *p ? 0 : -1;
}

/* The window side actually used: b, or min(rows, cols) when the matrix is smaller. */
static size_t window_side(size_t rows, size_t cols, const tt_spectral_opts *o)
{
    size_t k = rows < cols ? rows : cols;
    return (o->win_size == 0 || o->win_size > k) ? k : o->win_size;
}

/* Offset of window i of an evenly spaced grid of `grid` windows of side b inside a dimension of
 * length len: round(i·(len − b)/(grid − 1)), in exact integer arithmetic; centred when grid = 1. */
static size_t window_offset(size_t i, size_t grid, size_t len, size_t b)
{
    size_t span = len - b;
    if (grid <= 1)
        return span / 2;
    return (2 * i * span + (grid - 1)) / (2 * (grid - 1));
}

/* Number of distinct window offsets (identical windows would count the same values twice). */
static size_t distinct_offsets(size_t grid, size_t len, size_t b)
{
    size_t n = 0, prev = SIZE_MAX;
    for (size_t i = 0; i < (grid ? grid : 1); i++) {
        size_t off = window_offset(i, grid, len, b);
        n += off != prev;
        prev = off;
    }
    return n;
}

static int reserve(tt_spectral_ws *ws, size_t rows, size_t cols, const tt_spectral_opts *o)
{
    size_t k = rows < cols ? rows : cols, L = rows < cols ? cols : rows;
    size_t chunk = L < CHUNK ? L : CHUNK;
    if (k == 0)
        return 0;
    if (k > SIZE_MAX / k || chunk > SIZE_MAX / k)
        return -1;
    size_t buf = chunk * k, nwin = 0, b = 0;
    if (o->windows) {
        b = window_side(rows, cols, o);
        nwin = distinct_offsets(o->win_grid, rows, b) * distinct_offsets(o->win_grid, cols, b);
        if (b * b > buf)
            buf = b * b;
        if (nwin > SIZE_MAX / b)
            return -1;
    }
    if (grow(&ws->gram, &ws->gram_cap, k * k, sizeof(double)) < 0 ||
        grow(&ws->buf, &ws->buf_cap, buf, sizeof(double)) < 0 ||
        grow(&ws->eig, &ws->eig_cap, k, sizeof(double)) < 0 ||
        grow(&ws->weig, &ws->weig_cap, b ? b : 1, sizeof(double)) < 0 ||
        grow(&ws->pool, &ws->pool_cap, nwin * b > 0 ? nwin * b : 1, sizeof(double)) < 0)
        return -1;
    /* dsyevd's optimal workspace grows with the order, so a query for k covers the windows too. */
    double wq = 0;
    lapack_int iq = 0;
    if ((size_t)(lapack_int)k != k)
        return -1;
    if (LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'N', 'L', (lapack_int)k, ws->gram, (lapack_int)k,
                            ws->eig, &wq, -1, &iq, -1) != 0)
        return -1;
    size_t lwork = (size_t)wq + 1, fit = nwin * b > k ? nwin * b : k;
    if (fit > lwork)
        lwork = fit;   /* the fit reuses work for its logarithms */
    if (grow(&ws->work, &ws->work_cap, lwork, sizeof(double)) < 0 ||
        grow(&ws->iwork, &ws->iwork_cap, iq > 1 ? (size_t)iq : 1, sizeof(lapack_int)) < 0)
        return -1;
    return 0;
}

tt_spectral_ws *tt_spectral_ws_create(size_t max_rows, size_t max_cols, const tt_spectral_opts *o)
{
    tt_spectral_opts d;
    if (!o) { tt_spectral_opts_default(&d); o = &d; }
    tt_spectral_ws *ws = calloc(1, sizeof *ws);
    if (ws && reserve(ws, max_rows, max_cols, o) < 0) {
        tt_spectral_ws_free(ws);
        return NULL;
    }
    return ws;
}

void tt_spectral_ws_free(tt_spectral_ws *ws)
{
    if (!ws)
        return;
    free(ws->gram); free(ws->buf); free(ws->eig); free(ws->weig); free(ws->pool);
    free(ws->work); free(ws->iwork);
    free(ws);
}

const double *tt_spectral_eigenvalues(const tt_spectral_ws *ws, int window, size_t *n)
{
    if (!ws) { if (n) *n = 0; return NULL; }
    if (n) *n = window ? ws->n_pool : ws->n_eig;
    return window ? ws->pool : ws->eig + ws->eig_off;
}

/* All min(rows, cols) eigenvalues (ascending) of the Gram matrix of the rows x cols block at w with
 * row stride ld. Returns 0, or -1 when LAPACK fails. */
static int gram_eigs(const float *w, size_t rows, size_t cols, size_t ld, tt_spectral_ws *ws, double *eig)
{
    double *g = ws->gram, *buf = ws->buf;
    if (rows > cols) {
        /* G = WᵀW: a chunk of c rows, row-major c x cols, is the column-major cols x c matrix W_cᵀ. */
        size_t n = cols;
        for (size_t r0 = 0; r0 < rows; r0 += CHUNK) {
            size_t c = rows - r0 < CHUNK ? rows - r0 : CHUNK;
            for (size_t i = 0; i < c; i++) {
                const float *src = w + (r0 + i) * ld;
                double *dst = buf + i * cols;
#pragma omp simd
                for (size_t j = 0; j < cols; j++) dst[j] = src[j];
            }
            cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, (int)n, (int)c, 1.0, buf, (int)cols,
                        r0 ? 1.0 : 0.0, g, (int)n);
        }
    } else {
        /* G = W Wᵀ: a chunk of c columns, row-major rows x c, is the column-major c x rows matrix W_cᵀ. */
        size_t n = rows;
        for (size_t c0 = 0; c0 < cols; c0 += CHUNK) {
            size_t c = cols - c0 < CHUNK ? cols - c0 : CHUNK;
            for (size_t i = 0; i < rows; i++) {
                const float *src = w + i * ld + c0;
                double *dst = buf + i * c;
#pragma omp simd
                for (size_t j = 0; j < c; j++) dst[j] = src[j];
            }
            cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, (int)n, (int)c, 1.0, buf, (int)c,
                        c0 ? 1.0 : 0.0, g, (int)n);
        }
    }
    size_t n = rows < cols ? rows : cols;
    lapack_int info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'N', 'L', (lapack_int)n, g, (lapack_int)n, eig,
                                          ws->work, (lapack_int)ws->work_cap, ws->iwork,
                                          (lapack_int)ws->iwork_cap);
    return info == 0 ? 0 : -1;
}

static void fit_nan(tt_powerlaw_fit *f)
{
    f->alpha = f->alpha_err = f->alpha_weighted = f->xmin = f->ks = f->lambda_max = NAN;
    f->n_tail = f->n_eig = 0;
}

static void stats_nan(tt_spectrum_stats *s)
{
    s->n_eig = 0;
    s->lambda_max = s->lambda_sum = s->stable_rank = s->log_spectral_norm = s->log_norm = NAN;
    fit_nan(&s->fit);
    fit_nan(&s->window);
    s->esd_lo = s->esd_hi = NAN;
    for (int b = 0; b < TT_SPECTRAL_ESD_BINS; b++) s->esd[b] = NAN;
}

/* KS distance between the empirical CDF of the sorted tail t = ln λ (t[0] = ln xmin, m values) and
 * 1 − (λ/xmin)^−beta: max over j of max(F_j − j/m, (j+1)/m − F_j). Stops as soon as the distance
 * exceeds bound (the caller only needs to know it lost), so the O(N²) scan is mostly much shorter. */
static double ks_distance(const double *t, size_t m, double beta, double bound)
{
    double inv = 1.0 / (double)m, t0 = t[0], d = 0;
    for (size_t j = 0; j < m; j++) {
        double f = -expm1(-beta * (t[j] - t0));   /* 1 − (λ/xmin)^(1−α), exact near xmin */
        double a = f - (double)j * inv, b = (double)(j + 1) * inv - f;
        double e = a > b ? a : b;
        if (e > d) {
            d = e;
            if (d > bound)
                return d;
        }
    }
    return d;
}

/* The scan runs x_min from the largest candidate down, keeping Σ_{i≥k} ln λ_i as a running sum
 * (long double: the α of a candidate is one subtraction away, with no cancellation worth noting), so
 * each candidate's α is O(1) and its KS distance O(n_tail) — O(N²) worst case, with early exit. */
int tt_powerlaw_fit_sorted(const double *lam, size_t n, size_t min_eigs, double *t, tt_powerlaw_fit *out)
{
    fit_nan(out);
    if (!lam || !t || n == 0)
        return -1;
    out->n_eig = n;
    out->lambda_max = lam[n - 1];
    if (n < min_eigs || n < 2)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!(lam[i] > 0) || !isfinite(lam[i]) || (i && lam[i] < lam[i - 1]))
            return -1;
        t[i] = log(lam[i]);
    }
    long double suffix = 0;   /* Σ_{i≥k} (t_i − t_0) */
    double best = INFINITY, best_alpha = NAN;
    size_t best_k = n;
    for (size_t k = n; k-- > 0;) {
        suffix += (long double)(t[k] - t[0]);
        if (k > 0 && lam[k - 1] == lam[k])
            continue;   /* x_min = λ_k must count every value equal to it: its first index only */
        size_t m = n - k;
        long double s = suffix - (long double)m * (long double)(t[k] - t[0]);   /* Σ ln(λ/x_min) */
        if (!(s > 0))
            continue;   /* the whole tail equals x_min: α infinite */
        double beta = (double)((long double)m / s);
        if (!isfinite(beta))
            continue;
        double d = ks_distance(t + k, m, beta, best);
        if (d <= best) {   /* ties go to the smaller x_min, as a forward argmin would */
            best = d;
            best_k = k;
            best_alpha = 1 + beta;
        }
    }
    if (best_k == n)
        return -1;
    out->alpha = best_alpha;
    out->n_tail = n - best_k;
    out->xmin = lam[best_k];
    out->ks = best;
    out->alpha_err = (best_alpha - 1) / sqrt((double)out->n_tail);
    out->alpha_weighted = out->lambda_max > 0 ? best_alpha * log10(out->lambda_max) : NAN;
    return 0;
}

size_t tt_spectral_density(const double *lam, size_t n, double lo, double hi, size_t nbins,
                           double *density, double *lo_out, double *hi_out)
{
    size_t counted = 0;
    for (size_t b = 0; b < nbins; b++) density[b] = 0;
    if (isnan(lo) || isnan(hi)) {
        double mn = INFINITY, mx = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            if (!(lam[i] > 0) || !isfinite(lam[i]))
                continue;
            double l = log10(lam[i]);
            if (l < mn) mn = l;
            if (l > mx) mx = l;
        }
        if (isnan(lo)) lo = mn;
        if (isnan(hi)) hi = mx;
        if (lo == hi) { lo -= 0.5; hi += 0.5; }   /* as numpy.histogram does for a single value */
    }
    if (lo_out) *lo_out = isfinite(lo) ? lo : NAN;
    if (hi_out) *hi_out = isfinite(hi) ? hi : NAN;
    if (nbins == 0 || !isfinite(lo) || !isfinite(hi) || !(hi > lo))
        return 0;
    double scale = (double)nbins / (hi - lo), width = (hi - lo) / (double)nbins;
    for (size_t i = 0; i < n; i++) {
        if (!(lam[i] > 0) || !isfinite(lam[i]))
            continue;
        double l = log10(lam[i]);
        if (!(l >= lo && l <= hi))
            continue;
        size_t b = (size_t)((l - lo) * scale);
        if (b >= nbins) b = nbins - 1;   /* the top edge belongs to the last bin */
        density[b] += 1;
        counted++;
    }
    if (counted)
        for (size_t b = 0; b < nbins; b++) density[b] /= (double)counted * width;
    return counted;
}

static int all_finite(const float *w, size_t n)
{
    /* x − x is 0 for every finite x and NaN otherwise; the sum vectorises, a branch would not. */
    float s = 0;
#pragma omp simd reduction(+:s)
    for (size_t i = 0; i < n; i++) s += w[i] - w[i];
    return s == 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Pools the kept eigenvalues of every distinct b x b window of the grid into ws->pool, sorted. */
static int window_spectrum(const float *w, size_t rows, size_t cols, const tt_spectral_opts *o,
                           tt_spectral_ws *ws)
{
    size_t b = window_side(rows, cols, o), grid = o->win_grid ? o->win_grid : 1, np = 0;
    size_t prev_r = SIZE_MAX;
    for (size_t i = 0; i < grid; i++) {
        size_t r0 = window_offset(i, grid, rows, b), prev_c = SIZE_MAX;
        if (r0 == prev_r)
            continue;
        prev_r = r0;
        for (size_t j = 0; j < grid; j++) {
            size_t c0 = window_offset(j, grid, cols, b);
            if (c0 == prev_c)
                continue;
            prev_c = c0;
            if (gram_eigs(w + r0 * cols + c0, b, b, cols, ws, ws->weig) < 0)
                return -1;
            for (size_t e = 0; e < b; e++)
                if (ws->weig[e] > o->eig_min && ws->weig[e] > 0)
                    ws->pool[np++] = ws->weig[e];
        }
    }
    qsort(ws->pool, np, sizeof(double), cmp_double);
    ws->n_pool = np;
    return 0;
}

int tt_spectral_compute(const float *w, size_t rows, size_t cols, const tt_spectral_opts *o,
                        tt_spectrum_stats *out, tt_spectral_ws *ws)
{
    tt_spectral_opts d;
    if (!o) { tt_spectral_opts_default(&d); o = &d; }
    stats_nan(out);
    if (ws)
        ws->n_eig = ws->n_pool = ws->eig_off = 0;
    if (!w || !ws || rows == 0 || cols == 0 || rows > INT32_MAX || cols > INT32_MAX || cols > SIZE_MAX / rows)
        return -1;
    if (!all_finite(w, rows * cols))
        return -1;
    if (reserve(ws, rows, cols, o) < 0)
        return -2;
    size_t k = rows < cols ? rows : cols;
    if (gram_eigs(w, rows, cols, cols, ws, ws->eig) < 0)
        return -1;

    /* dsyevd returns them ascending: the kept ones are a suffix. */
    size_t first = 0;
    while (first < k && !(ws->eig[first] > o->eig_min && ws->eig[first] > 0))   /* > 0 whatever eig_min */
        first++;
    const double *lam = ws->eig + first;
    size_t n = k - first;
    ws->eig_off = first;
    ws->n_eig = n;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += lam[i];   /* ascending: small terms first */
    double lmax = n ? lam[n - 1] : NAN;
    out->n_eig = n;
    out->lambda_max = lmax;
    out->lambda_sum = n ? sum : NAN;
    out->stable_rank = (n && lmax > 0 && isfinite(sum)) ? sum / lmax : NAN;
    out->log_spectral_norm = (n && lmax > 0) ? log10(lmax) : NAN;
    out->log_norm = (n && sum > 0) ? log10(sum) : NAN;
    tt_powerlaw_fit_sorted(lam, n, o->min_eigs, ws->work, &out->fit);
    out->fit.n_eig = n;
    tt_spectral_density(lam, n, NAN, NAN, TT_SPECTRAL_ESD_BINS, out->esd, &out->esd_lo, &out->esd_hi);

    if (o->windows) {
        if (window_spectrum(w, rows, cols, o, ws) < 0)
            return -1;
        tt_powerlaw_fit_sorted(ws->pool, ws->n_pool, o->min_eigs, ws->work, &out->window);
        out->window.n_eig = ws->n_pool;
    }
    return 0;
}
