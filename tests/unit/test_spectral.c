/* metrics/spectral and probes/spectral_worker: exact spectra of diagonal matrices, α recovered from a
 * U·diag(σ)·Vᵀ matrix with a Pareto spectrum, the sub-window grid, the guards, and the background
 * worker (roundtrip, snapshot copy, skipping while busy, replaced results, destroy with work pending). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../metrics/spectral.h"
#include "../../probes/spectral_worker.h"

/* ------------------------------------------------------------------------------------------- helpers */
static uint64_t rng_state = 0x243F6A8885A308D3ull;

static double uniform01(void)   /* (0, 1] */
{
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 1.0) * 0x1p-53;
}

static double gauss(void)
{
    return sqrt(-2 * log(uniform01())) * cos(2 * M_PI * uniform01());
}

static float *gaussian_matrix(size_t rows, size_t cols, double scale)
{
    float *w = malloc(rows * cols * sizeof(float));
    assert_non_null(w);
    for (size_t i = 0; i < rows * cols; i++) w[i] = (float)(scale * gauss());
    return w;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* m x n column-major matrix with orthonormal columns (m ≥ n): Q of a Gaussian matrix's QR. */
static double *orthonormal(size_t m, size_t n)
{
    double *q = malloc(m * n * sizeof(double)), *tau = malloc(n * sizeof(double));
    assert_non_null(q);
    assert_non_null(tau);
    for (size_t i = 0; i < m * n; i++) q[i] = gauss();
    assert_int_equal(LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (int)m, (int)n, q, (int)m, tau), 0);
    assert_int_equal(LAPACKE_dorgqr(LAPACK_COL_MAJOR, (int)m, (int)n, (int)n, q, (int)m, tau), 0);
    free(tau);
    return q;
}

/* rows x cols row-major float32 U·diag(sqrt(lam))·Vᵀ, k = min(rows, cols) values in lam. */
static float *matrix_with_spectrum(size_t rows, size_t cols, const double *lam)
{
    size_t k = rows < cols ? rows : cols;
    double *u = orthonormal(rows, k), *v = orthonormal(cols, k), *w = malloc(rows * cols * sizeof(double));
    assert_non_null(w);
    for (size_t j = 0; j < k; j++)
        cblas_dscal((int)rows, sqrt(lam[j]), u + j * rows, 1);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)rows, (int)cols, (int)k, 1.0, u, (int)rows,
                v, (int)cols, 0.0, w, (int)rows);
    float *out = malloc(rows * cols * sizeof(float));
    assert_non_null(out);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) out[i * cols + j] = (float)w[i + j * rows];
    free(u); free(v); free(w);
    return out;
}

static void assert_close(double got, double want, double rtol)
{
    if (!(fabs(got - want) <= rtol * fabs(want))) {
        print_error("got %.17g want %.17g (rtol %g)\n", got, want, rtol);
        fail();
    }
}

static void assert_all_nan(const tt_spectrum_stats *s)
{
    assert_int_equal(s->n_eig, 0);
    const double *d[] = { &s->lambda_max, &s->lambda_sum, &s->stable_rank, &s->log_spectral_norm,
                          &s->log_norm, &s->fit.alpha, &s->fit.alpha_err, &s->fit.alpha_weighted,
                          &s->fit.xmin, &s->fit.ks, &s->window.alpha, &s->window.xmin, &s->esd_lo };
    for (size_t i = 0; i < sizeof d / sizeof *d; i++) assert_true(isnan(*d[i]));
    for (int b = 0; b < TT_SPECTRAL_ESD_BINS; b++) assert_true(isnan(s->esd[b]));
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };
    nanosleep(&ts, NULL);
}

/* Polls until a result arrives (10 s at most, far beyond any job here). */
static void wait_result(tt_spectral_worker *wk, tt_spectral_result *r)
{
    double t0 = mono();
    while (!tt_spectral_worker_poll(wk, r)) {
        assert_true(mono() - t0 < 10.0);
        sleep_ms(1);
    }
}

static void wait_idle(tt_spectral_worker *wk)
{
    double t0 = mono();
    while (tt_spectral_worker_pending(wk)) {
        assert_true(mono() - t0 < 10.0);
        sleep_ms(1);
    }
}

/* ------------------------------------------------------------------------------------------- spectra */

/* σ_i = i/8 (exact in float, σ² exact in double) on the diagonal of a wide and a tall matrix. */
static void diagonal_exact_spectrum(void **state)
{
    (void)state;
    size_t k = 70, shapes[2][2] = { { 70, 90 }, { 130, 70 } };
    tt_spectral_ws *ws = tt_spectral_ws_create(0, 0, NULL);
    assert_non_null(ws);
    for (int s = 0; s < 2; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1];
        float *w = calloc(rows * cols, sizeof(float));
        assert_non_null(w);
        double sum = 0;
        for (size_t i = 0; i < k; i++) {
            w[i * cols + i] = (float)(i + 1) / 8;
            sum += ((double)(i + 1) / 8) * ((double)(i + 1) / 8);
        }
        double lmax = (70.0 / 8) * (70.0 / 8);
        tt_spectrum_stats st;
        assert_int_equal(tt_spectral_compute(w, rows, cols, NULL, &st, ws), 0);
        assert_int_equal(st.n_eig, k);
        assert_close(st.lambda_max, lmax, 1e-13);
        assert_close(st.lambda_sum, sum, 1e-13);
        assert_close(st.stable_rank, sum / lmax, 1e-13);
        assert_close(st.log_spectral_norm, log10(lmax), 1e-13);
        assert_close(st.log_norm, log10(sum), 1e-13);
        size_t n;
        const double *lam = tt_spectral_eigenvalues(ws, 0, &n);
        assert_int_equal(n, k);
        for (size_t i = 0; i < k; i++)
            assert_close(lam[i], ((double)(i + 1) / 8) * ((double)(i + 1) / 8), 1e-13);
        /* 70 ≥ 50 values: a fit exists, and its derived values follow from α. */
        assert_false(isnan(st.fit.alpha));
        assert_close(st.fit.alpha_err, (st.fit.alpha - 1) / sqrt((double)st.fit.n_tail), 1e-15);
        assert_close(st.fit.alpha_weighted, st.fit.alpha * log10(lmax), 1e-15);
        double area = 0;
        for (int b = 0; b < TT_SPECTRAL_ESD_BINS; b++)
            area += st.esd[b] * (st.esd_hi - st.esd_lo) / TT_SPECTRAL_ESD_BINS;
        assert_close(area, 1.0, 1e-12);
        assert_close(st.esd_lo, log10(1.0 / 64), 1e-13);
        assert_close(st.esd_hi, log10(lmax), 1e-13);
        free(w);
    }
    tt_spectral_ws_free(ws);
}

/* λ = σ² from p(λ) ∝ λ^−2.5 on λ ≥ 1, N = 1000 (1200 x 1000, the tall Gram branch). The MLE's standard
 * error is (α−1)/sqrt(n_tail) ≈ 0.05-0.1 here; the tolerance 0.25 is ≥ 2.5 of them, with a fixed seed. */
static void pareto_matrix_recovers_alpha(void **state)
{
    (void)state;
    const double alpha = 2.5;
    size_t rows = 1200, cols = 1000, k = 1000;
    double *lam = malloc(k * sizeof(double));
    assert_non_null(lam);
    rng_state = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < k; i++) lam[i] = pow(uniform01(), -1 / (alpha - 1));
    float *w = matrix_with_spectrum(rows, cols, lam);
    qsort(lam, k, sizeof(double), cmp_double);

    tt_spectral_ws *ws = tt_spectral_ws_create(rows, cols, NULL);
    assert_non_null(ws);
    tt_spectrum_stats st;
    assert_int_equal(tt_spectral_compute(w, rows, cols, NULL, &st, ws), 0);
    assert_int_equal(st.n_eig, k);
    size_t n;
    const double *got = tt_spectral_eigenvalues(ws, 0, &n);
    assert_int_equal(n, k);
    for (size_t i = 0; i < k; i++)   /* float32 W: σ carries ~1e-7·σ_max of rounding */
        assert_true(fabs(got[i] - lam[i]) <= 1e-4 * lam[i] + 1e-5 * lam[k - 1]);
    if (!(fabs(st.fit.alpha - alpha) <= 0.25)) {
        print_error("alpha %.4f (n_tail %zu, xmin %.4f), true %.2f\n", st.fit.alpha, st.fit.n_tail, st.fit.xmin, alpha);
        fail();
    }
    assert_true(st.fit.n_tail >= 100);
    assert_true(st.fit.ks < 0.05);
    free(lam);
    free(w);
    tt_spectral_ws_free(ws);
}

/* The fit alone on 5000 Pareto samples with α = 3: standard error ≈ 0.03-0.05, tolerance 0.15. */
static void pareto_samples_recover_alpha(void **state)
{
    (void)state;
    size_t n = 5000;
    double *lam = malloc(n * sizeof(double)), *work = malloc(n * sizeof(double));
    assert_non_null(lam);
    assert_non_null(work);
    rng_state = 0x0123456789ABCDEFull;
    for (size_t i = 0; i < n; i++) lam[i] = 0.5 * pow(uniform01(), -1 / 2.0);
    qsort(lam, n, sizeof(double), cmp_double);
    tt_powerlaw_fit f;
    assert_int_equal(tt_powerlaw_fit_sorted(lam, n, 50, work, &f), 0);
    assert_true(fabs(f.alpha - 3.0) <= 0.15);
    assert_true(f.xmin >= lam[0] && f.n_tail <= n);
    assert_close(f.lambda_max, lam[n - 1], 0);
    /* unsorted or non-positive input is refused */
    double tmp = lam[10];
    lam[10] = lam[20] * 2;
    assert_int_equal(tt_powerlaw_fit_sorted(lam, n, 50, work, &f), -1);
    assert_true(isnan(f.alpha));
    lam[10] = tmp;
    lam[0] = 0;
    assert_int_equal(tt_powerlaw_fit_sorted(lam, n, 50, work, &f), -1);
    free(lam);
    free(work);
}

/* 60 x 80 with b = 100 → b = 60; one row offset, column offsets round(i·20/8) = 0,3,5,8,10,13,15,18,20. */
static void window_grid_pools_listed_windows(void **state)
{
    (void)state;
    size_t rows = 60, cols = 80, b = 60;
    const size_t offs[] = { 0, 3, 5, 8, 10, 13, 15, 18, 20 };
    float *w = gaussian_matrix(rows, cols, 1.0), *win = malloc(b * b * sizeof(float));
    double *want = malloc(9 * b * sizeof(double));
    assert_non_null(win);
    assert_non_null(want);
    tt_spectral_opts o;
    tt_spectral_opts_default(&o);
    tt_spectral_ws *ws = tt_spectral_ws_create(0, 0, &o), *ws1 = tt_spectral_ws_create(0, 0, NULL);
    size_t nw = 0;
    o.windows = 0;
    for (int j = 0; j < 9; j++) {
        for (size_t r = 0; r < b; r++) memcpy(win + r * b, w + r * cols + offs[j], b * sizeof(float));
        tt_spectrum_stats s1;
        assert_int_equal(tt_spectral_compute(win, b, b, &o, &s1, ws1), 0);
        size_t n;
        const double *lam = tt_spectral_eigenvalues(ws1, 0, &n);
        memcpy(want + nw, lam, n * sizeof(double));
        nw += n;
    }
    qsort(want, nw, sizeof(double), cmp_double);
    o.windows = 1;
    tt_spectrum_stats st;
    assert_int_equal(tt_spectral_compute(w, rows, cols, &o, &st, ws), 0);
    size_t n;
    const double *pool = tt_spectral_eigenvalues(ws, 1, &n);
    assert_int_equal(n, nw);
    assert_int_equal(st.window.n_eig, nw);
    for (size_t i = 0; i < n; i++) assert_close(pool[i], want[i], 1e-12);
    assert_close(st.window.lambda_max, want[nw - 1], 1e-12);
    assert_false(isnan(st.window.alpha));   /* up to 540 pooled values, though the matrix has only 60 */
    free(w); free(win); free(want);
    tt_spectral_ws_free(ws);
    tt_spectral_ws_free(ws1);
}

static void density_histogram(void **state)
{
    (void)state;
    /* log10 λ = 0, 1, 1, 2, 3 over [0, 3] in 3 bins: the top edge belongs to the last bin. */
    const double lam[] = { 1, 10, 10, 100, 1000, -1, 0 };
    double d[4], lo, hi;
    assert_int_equal(tt_spectral_density(lam, 7, NAN, NAN, 3, d, &lo, &hi), 5);
    assert_close(lo, 0, 0);
    assert_close(hi, 3, 0);
    assert_close(d[0], 1.0 / 5, 1e-15);
    assert_close(d[1], 2.0 / 5, 1e-15);
    assert_close(d[2], 2.0 / 5, 1e-15);
    /* one distinct value: the range widens by ±0.5 around it */
    const double one[] = { 100, 100 };
    assert_int_equal(tt_spectral_density(one, 2, NAN, NAN, 4, d, &lo, &hi), 2);
    assert_close(lo, 1.5, 1e-15);
    assert_close(hi, 2.5, 1e-15);
    /* nothing positive: zeros and NaN bounds */
    assert_int_equal(tt_spectral_density(lam + 5, 2, NAN, NAN, 3, d, &lo, &hi), 0);
    assert_true(isnan(lo) && isnan(hi) && d[0] == 0 && d[2] == 0);
    /* explicit bounds drop the values outside */
    assert_int_equal(tt_spectral_density(lam, 7, 0.5, 2.5, 2, d, NULL, NULL), 3);
}

static void guards(void **state)
{
    (void)state;
    tt_spectral_ws *ws = tt_spectral_ws_create(64, 64, NULL);
    assert_non_null(ws);
    tt_spectrum_stats st;

    float *z = calloc(64 * 64, sizeof(float));
    assert_int_equal(tt_spectral_compute(z, 64, 64, NULL, &st, ws), 0);   /* finite: rc 0, nothing kept */
    assert_int_equal(st.n_eig, 0);
    assert_true(isnan(st.stable_rank) && isnan(st.log_norm) && isnan(st.log_spectral_norm));
    assert_true(isnan(st.fit.alpha) && isnan(st.window.alpha));
    assert_true(isnan(st.esd_lo) && st.esd[0] == 0);

    float *few = gaussian_matrix(40, 200, 1.0);   /* 40 < 50 eigenvalues: stats, but no α */
    assert_int_equal(tt_spectral_compute(few, 40, 200, NULL, &st, ws), 0);
    assert_int_equal(st.n_eig, 40);
    assert_true(st.stable_rank >= 1 && st.stable_rank <= 40);
    assert_true(isnan(st.fit.alpha) && isnan(st.fit.alpha_err) && isnan(st.fit.alpha_weighted));
    assert_int_equal(st.fit.n_tail, 0);

    float *w = gaussian_matrix(64, 64, 1.0);
    w[64 * 5 + 9] = NAN;
    assert_int_equal(tt_spectral_compute(w, 64, 64, NULL, &st, ws), -1);
    assert_all_nan(&st);
    w[64 * 5 + 9] = -INFINITY;
    assert_int_equal(tt_spectral_compute(w, 64, 64, NULL, &st, ws), -1);
    assert_all_nan(&st);
    size_t n;
    tt_spectral_eigenvalues(ws, 0, &n);
    assert_int_equal(n, 0);

    assert_int_equal(tt_spectral_compute(w, 0, 64, NULL, &st, ws), -1);
    assert_all_nan(&st);
    assert_int_equal(tt_spectral_compute(few, 40, 200, NULL, &st, NULL), -1);
    assert_all_nan(&st);
    assert_int_equal(tt_spectral_compute(NULL, 4, 4, NULL, &st, ws), -1);

    /* all eigenvalues equal (n ≥ 50): no finite α */
    float *eye = calloc(60 * 60, sizeof(float));
    for (size_t i = 0; i < 60; i++) eye[i * 60 + i] = 2;
    assert_int_equal(tt_spectral_compute(eye, 60, 60, NULL, &st, ws), 0);
    assert_close(st.stable_rank, 60, 1e-14);
    assert_true(isnan(st.fit.alpha));

    /* the workspace grows past its creation size */
    float *big = gaussian_matrix(300, 200, 0.1);
    assert_int_equal(tt_spectral_compute(big, 300, 200, NULL, &st, ws), 0);
    assert_int_equal(st.n_eig, 200);
    free(z); free(few); free(w); free(eye); free(big);
    tt_spectral_ws_free(ws);
    tt_spectral_ws_free(NULL);
}

/* -------------------------------------------------------------------------------------------- worker */

static void worker_roundtrip(void **state)
{
    (void)state;
    tt_spectral_worker *wk = tt_spectral_worker_create(3, NULL);
    assert_non_null(wk);
    tt_spectral_result r;
    assert_int_equal(tt_spectral_worker_poll(wk, &r), 0);
    float *w = gaussian_matrix(120, 90, 0.3);
    tt_spectrum_stats want;
    tt_spectral_ws *ws = tt_spectral_ws_create(0, 0, NULL);
    assert_int_equal(tt_spectral_compute(w, 120, 90, NULL, &want, ws), 0);

    assert_int_equal(tt_spectral_worker_submit(wk, 1, 42, w, 120, 90), 1);
    memset(w, 0, 120 * 90 * sizeof(float));   /* the worker owns a copy: this must not matter */
    wait_result(wk, &r);
    assert_int_equal(r.layer, 1);
    assert_int_equal(r.step, 42);
    assert_int_equal(r.rows, 120);
    assert_int_equal(r.cols, 90);
    assert_int_equal(r.rc, 0);
    assert_true(r.seconds >= 0);
    assert_int_equal(r.stats.n_eig, want.n_eig);
    assert_close(r.stats.stable_rank, want.stable_rank, 1e-12);
    assert_close(r.stats.fit.alpha, want.fit.alpha, 1e-12);
    assert_close(r.stats.window.alpha, want.window.alpha, 1e-12);
    assert_int_equal(tt_spectral_worker_poll(wk, &r), 0);   /* one result per job */

    /* non-finite weights come back as NaN statistics, not as a crash */
    w[7] = NAN;
    assert_int_equal(tt_spectral_worker_submit(wk, 2, 43, w, 120, 90), 1);
    wait_result(wk, &r);
    assert_int_equal(r.layer, 2);
    assert_int_equal(r.rc, -1);
    assert_all_nan(&r.stats);

    /* bad arguments */
    assert_int_equal(tt_spectral_worker_submit(wk, 3, 0, w, 120, 90), -1);
    assert_int_equal(tt_spectral_worker_submit(wk, 0, 0, NULL, 120, 90), -1);
    assert_int_equal(tt_spectral_worker_submit(wk, 0, 0, w, 0, 90), -1);
    assert_int_equal(tt_spectral_worker_submit(NULL, 0, 0, w, 120, 90), -1);
    assert_null(tt_spectral_worker_create(0, NULL));

    tt_spectral_worker_counters c;
    tt_spectral_worker_get_counters(wk, &c);
    assert_int_equal(c.submitted, 2);
    assert_int_equal(c.completed, 2);
    assert_int_equal(c.skipped, 0);
    free(w);
    tt_spectral_ws_free(ws);
    tt_spectral_worker_destroy(wk);
    tt_spectral_worker_destroy(NULL);
}

/* A 1024 x 900 spectrum takes ≥ 0.05 s, so a submission right after the first one always finds the
 * layer queued or running: skipped, and counted; another layer is still accepted. */
static void worker_skips_while_busy(void **state)
{
    (void)state;
    tt_spectral_worker *wk = tt_spectral_worker_create(2, NULL);
    assert_non_null(wk);
    size_t n = 1024, m = 900;   /* not square: every λ is far above 1e-5 */
    float *big = gaussian_matrix(n, m, 1.0 / 32), *small = gaussian_matrix(64, 64, 1.0);
    double t0 = mono();
    assert_int_equal(tt_spectral_worker_submit(wk, 0, 1, big, n, m), 1);
    assert_int_equal(tt_spectral_worker_submit(wk, 0, 2, big, n, m), 0);
    assert_int_equal(tt_spectral_worker_submit(wk, 0, 3, small, 64, 64), 0);
    assert_int_equal(tt_spectral_worker_submit(wk, 1, 2, small, 64, 64), 1);
    assert_true(mono() - t0 < 0.1);   /* the caller paid the copies, never the spectrum */
    assert_true(tt_spectral_worker_pending(wk) >= 1);
    tt_spectral_worker_counters c;
    tt_spectral_worker_get_counters(wk, &c);
    assert_int_equal(c.skipped, 2);
    assert_int_equal(c.submitted, 2);

    /* results come in the order the jobs finished: layer 0 (queued first), then layer 1 */
    tt_spectral_result r;
    wait_result(wk, &r);
    assert_int_equal(r.layer, 0);
    assert_int_equal(r.step, 1);
    assert_int_equal(r.stats.n_eig, m);
    wait_result(wk, &r);
    assert_int_equal(r.layer, 1);
    /* idle again: the layer's buffer is reused for a smaller matrix */
    assert_int_equal(tt_spectral_worker_submit(wk, 0, 4, small, 64, 64), 1);
    wait_result(wk, &r);
    assert_int_equal(r.layer, 0);
    assert_int_equal(r.step, 4);
    assert_int_equal(r.stats.n_eig, 64);
    free(big);
    free(small);
    tt_spectral_worker_destroy(wk);
}

/* An unread result is replaced by the layer's next one; poll then returns only the newest. */
static void worker_replaces_unread_result(void **state)
{
    (void)state;
    tt_spectral_worker *wk = tt_spectral_worker_create(1, NULL);
    assert_non_null(wk);
    float *w = gaussian_matrix(80, 80, 1.0);
    assert_int_equal(tt_spectral_worker_submit(wk, 0, 1, w, 80, 80), 1);
    wait_idle(wk);
    assert_int_equal(tt_spectral_worker_submit(wk, 0, 2, w, 80, 80), 1);
    wait_idle(wk);
    tt_spectral_result r;
    assert_int_equal(tt_spectral_worker_poll(wk, &r), 1);
    assert_int_equal(r.step, 2);
    assert_int_equal(tt_spectral_worker_poll(wk, &r), 0);
    tt_spectral_worker_counters c;
    tt_spectral_worker_get_counters(wk, &c);
    assert_int_equal(c.replaced, 1);
    assert_int_equal(c.completed, 2);
    free(w);
    tt_spectral_worker_destroy(wk);
}

/* destroy with jobs queued and one running: it waits for the running one only, frees everything
 * (AddressSanitizer's leak check runs at exit), and never hangs. */
static void worker_destroy_with_pending_work(void **state)
{
    (void)state;
    size_t n = 1024, layers = 4;
    float *big = gaussian_matrix(n, n, 1.0 / 32);
    tt_spectral_worker_opts o;
    tt_spectral_worker_opts_default(&o);
    o.spectral.windows = 0;
    tt_spectral_worker *wk = tt_spectral_worker_create(layers, &o);
    assert_non_null(wk);
    for (size_t l = 0; l < layers; l++)
        assert_int_equal(tt_spectral_worker_submit(wk, l, 7, big, n, n), 1);
    assert_true(tt_spectral_worker_pending(wk) >= layers - 1);
    double t0 = mono();
    tt_spectral_worker_destroy(wk);
    assert_true(mono() - t0 < 5.0);

    /* and with nothing ever submitted */
    wk = tt_spectral_worker_create(2, NULL);
    assert_non_null(wk);
    tt_spectral_worker_destroy(wk);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(diagonal_exact_spectrum),
        cmocka_unit_test(pareto_matrix_recovers_alpha),
        cmocka_unit_test(pareto_samples_recover_alpha),
        cmocka_unit_test(window_grid_pools_listed_windows),
        cmocka_unit_test(density_histogram),
        cmocka_unit_test(guards),
        cmocka_unit_test(worker_roundtrip),
        cmocka_unit_test(worker_skips_while_busy),
        cmocka_unit_test(worker_replaces_unread_result),
        cmocka_unit_test(worker_destroy_with_pending_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
