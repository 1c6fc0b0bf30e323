/* spectral_tool: runs metrics/spectral on a case written by test_spectral.py and prints the results,
 * one "key value…" line each; or times tt_spectral_compute (--bench).
 *
 * Case file (native little-endian):
 *   int64 kind
 *   kind 1, a matrix:   int64 rows, cols, windows, win_size, win_grid; float32 W[rows*cols] row-major
 *   kind 2, a spectrum: int64 n, min_eigs; float64 λ[n] ascending — runs tt_powerlaw_fit_sorted alone
 * Options not in the file are the defaults (eig_min 1e-5, min_eigs 50).
 *
 * usage: spectral_tool CASEFILE
 *        spectral_tool --bench ROWS COLS [REPS]   (OpenBLAS forced to one thread) */
#include "../../metrics/spectral.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void print_fit(const char *prefix, const tt_powerlaw_fit *f)
{
    printf("%salpha %.17g\n", prefix, f->alpha);
    printf("%salpha_err %.17g\n", prefix, f->alpha_err);
    printf("%salpha_weighted %.17g\n", prefix, f->alpha_weighted);
    printf("%sxmin %.17g\n", prefix, f->xmin);
    printf("%sks %.17g\n", prefix, f->ks);
    printf("%slambda_max %.17g\n", prefix, f->lambda_max);
    printf("%sn_tail %zu\n", prefix, f->n_tail);
    printf("%sn_eig %zu\n", prefix, f->n_eig);
}

static void print_list(const char *key, const double *v, size_t n)
{
    printf("%s", key);
    for (size_t i = 0; i < n; i++) printf(" %.17g", v[i]);
    printf("\n");
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times one configuration: median and min over reps, after one warm-up call. */
static void bench_one(const char *label, const float *w, size_t rows, size_t cols,
                      const tt_spectral_opts *o, int reps)
{
    tt_spectral_ws *ws = tt_spectral_ws_create(rows, cols, o);
    tt_spectrum_stats st;
    double *t = malloc((size_t)reps * sizeof(double));
    if (!ws || !t) { fprintf(stderr, "out of memory\n"); exit(1); }
    tt_spectral_compute(w, rows, cols, o, &st, ws);
    for (int r = 0; r < reps; r++) {
        double t0 = mono();
        tt_spectral_compute(w, rows, cols, o, &st, ws);
        t[r] = mono() - t0;
    }
    qsort(t, (size_t)reps, sizeof(double), cmp_double);
    printf("%zux%zu %-12s median %8.1f ms  min %8.1f ms  (n_eig %zu, alpha %.3f, win alpha %.3f)\n",
           rows, cols, label, 1e3 * t[reps / 2], 1e3 * t[0], st.n_eig, st.fit.alpha, st.window.alpha);
    free(t);
    tt_spectral_ws_free(ws);
}

static int bench(size_t rows, size_t cols, int reps)
{
    openblas_set_num_threads(1);
    size_t n = rows * cols;
    float *w = malloc(n * sizeof(float));
    if (!w) return 1;
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {   /* uniform(−1, 1) from a xorshift: a Marchenko–Pastur bulk */
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        w[i] = (float)((double)(s >> 11) * 0x1p-52 - 1.0);
    }
    tt_spectral_opts o;
    tt_spectral_opts_default(&o);
    bench_one("full", w, rows, cols, &o, reps);
    o.windows = 0;
    bench_one("no-windows", w, rows, cols, &o, reps);
    free(w);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "--bench") == 0)
        return bench(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10), argc > 4 ? atoi(argv[4]) : 5);
    if (argc != 2) { fprintf(stderr, "usage: spectral_tool CASEFILE | --bench ROWS COLS [REPS]\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    int64_t kind;
    if (fread(&kind, sizeof kind, 1, f) != 1) { fprintf(stderr, "%s: bad header\n", argv[1]); return 1; }
    tt_spectral_opts o;
    tt_spectral_opts_default(&o);
    if (kind == 2) {
        int64_t h[2];
        if (fread(h, sizeof h, 1, f) != 1 || h[0] < 1 || h[1] < 0) { fprintf(stderr, "%s: bad header\n", argv[1]); return 1; }
        size_t n = (size_t)h[0];
        double *lam = malloc(n * sizeof(double)), *work = malloc(n * sizeof(double));
        if (!lam || !work || fread(lam, sizeof(double), n, f) != n) { fprintf(stderr, "%s: short file\n", argv[1]); return 1; }
        fclose(f);
        tt_powerlaw_fit fit;
        int rc = tt_powerlaw_fit_sorted(lam, n, (size_t)h[1], work, &fit);
        printf("rc %d\n", rc);
        print_fit("", &fit);
        free(lam);
        free(work);
        return 0;
    }
    int64_t h[5];
    if (kind != 1 || fread(h, sizeof h, 1, f) != 1 || h[0] < 1 || h[1] < 1) { fprintf(stderr, "%s: bad header\n", argv[1]); return 1; }
    size_t rows = (size_t)h[0], cols = (size_t)h[1], n = rows * cols;
    o.windows = (int)h[2];
    o.win_size = (size_t)h[3];
    o.win_grid = (size_t)h[4];
    float *w = malloc(n * sizeof(float));
    if (!w || fread(w, sizeof(float), n, f) != n) { fprintf(stderr, "%s: short file\n", argv[1]); return 1; }
    fclose(f);
    /* Start from a smaller workspace than needed, so growing it is exercised as well. */
    tt_spectral_ws *ws = tt_spectral_ws_create(rows / 2, cols / 2, &o);
    if (!ws) { fprintf(stderr, "workspace\n"); return 1; }
    tt_spectrum_stats st;
    int rc = tt_spectral_compute(w, rows, cols, &o, &st, ws);
    printf("rc %d\n", rc);
    printf("n_eig %zu\n", st.n_eig);
    printf("lambda_max %.17g\n", st.lambda_max);
    printf("lambda_sum %.17g\n", st.lambda_sum);
    printf("stable_rank %.17g\n", st.stable_rank);
    printf("log_spectral_norm %.17g\n", st.log_spectral_norm);
    printf("log_norm %.17g\n", st.log_norm);
    print_fit("", &st.fit);
    print_fit("win_", &st.window);
    printf("esd_lo %.17g\n", st.esd_lo);
    printf("esd_hi %.17g\n", st.esd_hi);
    print_list("esd", st.esd, TT_SPECTRAL_ESD_BINS);
    size_t ne, nw;
    const double *e = tt_spectral_eigenvalues(ws, 0, &ne), *we = tt_spectral_eigenvalues(ws, 1, &nw);
    print_list("eigs", e, ne);
    print_list("win_eigs", we, nw);
    tt_spectral_ws_free(ws);
    free(w);
    return 0;
}
