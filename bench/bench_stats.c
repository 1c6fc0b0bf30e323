/* bench_stats: the single-pass layer statistics against the machine's plain memory-read speed over
 * the same buffers, measured in the same run. Prints `name value unit (target …)` lines. */
#include "../metrics/layerstats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The baseline: read every float of the four arrays once, as fast as the compiler can vectorise it. */
static float read_all(const float *a, const float *b, const float *c, const float *d, size_t n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+:s0,s1,s2,s3)
    for (size_t i = 0; i < n; i++) { s0 += a[i]; s1 += b[i]; s2 += c[i]; s3 += d[i]; }
    return s0 + s1 + s2 + s3;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    /* Layers of a mid-sized MLP/transformer block: 24 × (1024 × 1024) ≈ 25M parameters, 400 MB per array set. */
    const size_t rows = 1024, cols = 1024, nlayers = quick ? 8 : 24;
    const size_t n = rows * cols;
    const int reps = quick ? 3 : 7;
    float **w = malloc(nlayers * sizeof *w), **g = malloc(nlayers * sizeof *g);
    float **p = malloc(nlayers * sizeof *p), **z = malloc(nlayers * sizeof *z);
    for (size_t l = 0; l < nlayers; l++) {
        w[l] = malloc(n * 4); g[l] = malloc(n * 4); p[l] = malloc(n * 4); z[l] = malloc(n * 4);
        if (!w[l] || !g[l] || !p[l] || !z[l]) { fprintf(stderr, "bench_stats: out of memory\n"); return 1; }
        for (size_t i = 0; i < n; i++) {
            w[l][i] = (float)((i * 2654435761u) % 1000) * 1e-3f;
            g[l][i] = (float)((i * 40503u) % 997) * 1e-5f;
            p[l][i] = w[l][i] * 0.999f;
            z[l][i] = w[l][i] * 0.9f;
        }
    }
    double best_read = 1e30, best_stats = 1e30, sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (size_t l = 0; l < nlayers; l++) sink += read_all(w[l], g[l], p[l], z[l], n);
        double t1 = now();
        for (size_t l = 0; l < nlayers; l++) {
            double out[TT_NSTATS];
            /* the probe's configuration: W_prev refreshed in place in the same pass */
            tt_layer_stats(w[l], g[l], p[l], z[l], p[l], rows, cols, out);
            sink += out[TT_W_NORM];
            memcpy(p[l], w[l], 0);
        }
        double t2 = now();
        if (t1 - t0 < best_read) best_read = t1 - t0;
        if (t2 - t1 < best_stats) best_stats = t2 - t1;
        for (size_t l = 0; l < nlayers; l++) for (size_t i = 0; i < n; i += 4096) p[l][i] *= 0.999f;
    }
    double bytes = 4.0 * 4.0 * (double)n * (double)nlayers;   /* W, G, W_prev, W_0 */
    printf("read_bandwidth_gbs %.2f GB/s (baseline: plain read of W, G, W_prev, W_0; %zu layers of %zux%zu)\n",
           bytes / best_read / 1e9, nlayers, rows, cols);
    printf("stats_bandwidth_gbs %.2f GB/s (the same bytes through tt_layer_stats, W_prev refreshed in place)\n", bytes / best_stats / 1e9);
    printf("stats_bandwidth_fraction %.3f ratio (target >= 0.7)\n", best_read / best_stats);
    printf("stats_ms_per_1M_params %.4f ms\n", best_stats * 1e3 / ((double)n * (double)nlayers / 1e6));
    if (sink == 12345) printf("\n");
    for (size_t l = 0; l < nlayers; l++) { free(w[l]); free(g[l]); free(p[l]); free(z[l]); }
    free(w); free(g); free(p); free(z);
    return 0;
}
