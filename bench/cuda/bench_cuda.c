/* bench_cuda: the fused GPU statistics against the device's own copy speed over the same bytes, in the
 * same run. A device-to-device copy of N bytes reads N bytes; the statistics of layers holding N bytes
 * in W, G, W_prev and W_0 read the same N (and write W_prev back, N/4, in the probe's configuration).
 *   cuda_stats_bandwidth_fraction = (N / t_stats) / (N / t_copy)      target >= 0.75
 * Also: the same without the W_prev refresh, per dtype; CUPTI's probe_gpu_ms against event timing;
 * per-sample statistics against the layer's forward GEMM; against a naive per-tensor version (one cuBLAS
 * call or kernel per operation, as eager frameworks run them; bench/cuda/pertensor.cu), which needs no
 * torch:
 *   cuda_stats_vs_pertensor_speedup = t_pertensor / t_fused (host time to results, fp32)
 * Prints `name value unit (…)` lines, or
 * "skipped: no CUDA device" without a GPU. --quick: fewer layers and repetitions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "pertensor.h"
#include "tt_cuda.h"
#include "tt_cuda_host.h"

#define CU(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { fprintf(stderr, "bench_cuda: %s: %s\n", #x, cudaGetErrorString(e_)); exit(1); } } while (0)

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static __attribute__((noinline)) void fill_dev(void *d, size_t n, int dt, float scale)
{
    float *h = malloc(n * 4);
    void *t = malloc(n * ttc_dtype_size(dt));
    for (size_t i = 0; i < n; i++) h[i] = scale * (float)((i * 2654435761u) % 1000) * 1e-3f;
    ttc_from_float(dt, h, t, n);
    CU(cudaMemcpy(d, t, n * ttc_dtype_size(dt), cudaMemcpyHostToDevice));
    free(h);
    free(t);
}

/* Median device time (ms) of the statistics step over reps, measured with events on the stream. */
static double time_stats(int wt, int gt, size_t rows, size_t cols, int nlayers, int every, int reps, int timing,
                         double *probe_ms_cupti, double *bytes_out)
{
    char err[256];
    cudaStream_t s;
    CU(cudaStreamCreate(&s));
    tt_cuda_opts o = {NULL, -1, s, every, timing, 0, 0};
    tt_cuda *c = tt_cuda_open(&o, err, sizeof err);
    if (!c) { fprintf(stderr, "bench_cuda: %s\n", err); exit(1); }
    size_t n = rows * cols;
    void **w = calloc((size_t)nlayers, sizeof *w), **g = calloc((size_t)nlayers, sizeof *g);
    for (int l = 0; l < nlayers; l++) {
        CU(cudaMalloc(&w[l], n * ttc_dtype_size(wt)));
        CU(cudaMalloc(&g[l], n * ttc_dtype_size(gt)));
        fill_dev(w[l], n, wt, 1.0f);
        fill_dev(g[l], n, gt, 1e-3f);
        char name[32];
        snprintf(name, sizeof name, "layer%d", l);
        if (tt_cuda_add_layer(c, name, rows, cols, wt, w[l], gt, g[l], err, sizeof err) < 0) { fprintf(stderr, "bench_cuda: %s\n", err); exit(1); }
    }
    cudaEvent_t a, b;
    CU(cudaEventCreate(&a));
    CU(cudaEventCreate(&b));
    double *t = malloc((size_t)reps * sizeof *t), *pc = malloc((size_t)reps * sizeof *pc);
    int k = 0;
    for (int64_t step = 0; k < reps; step++) {
        int sampled = step % every == 0;
        CU(cudaEventRecord(a, s));
        if (tt_cuda_step(c, step, err, sizeof err)) { fprintf(stderr, "bench_cuda: %s\n", err); exit(1); }
        CU(cudaEventRecord(b, s));
        if (tt_cuda_collect(c, 1, err, sizeof err)) { fprintf(stderr, "bench_cuda: %s\n", err); exit(1); }
        CU(cudaEventSynchronize(b));
        if (!sampled || step < 2) continue;              /* warm-up, and steps that only refresh */
        float ms;
        CU(cudaEventElapsedTime(&ms, a, b));
        t[k] = ms;
        double busy, own = NAN;
        int kernels;
        if (timing) tt_cuda_step_timing(c, &busy, &own, &kernels);
        pc[k] = own;
        k++;
    }
    double med = median(t, reps);
    if (probe_ms_cupti) *probe_ms_cupti = timing ? median(pc, reps) : NAN;
    *bytes_out = (double)nlayers * (double)n * (2.0 * ttc_dtype_size(wt) + ttc_dtype_size(gt) + ttc_dtype_size(wt));
    tt_cuda_close(c);
    for (int l = 0; l < nlayers; l++) { cudaFree(w[l]); cudaFree(g[l]); }
    free(w); free(g); free(t); free(pc);
    cudaEventDestroy(a); cudaEventDestroy(b);
    cudaStreamDestroy(s);
    return med;
}

/* Median time (ms) of a device-to-device copy that reads `bytes`. */
static double time_copy(double bytes, int reps)
{
    size_t nb = (size_t)bytes;
    void *src, *dst;
    CU(cudaMalloc(&src, nb));
    CU(cudaMalloc(&dst, nb));
    CU(cudaMemset(src, 1, nb));
    cudaEvent_t a, b;
    CU(cudaEventCreate(&a));
    CU(cudaEventCreate(&b));
    double *t = malloc((size_t)reps * sizeof *t);
    for (int r = -2; r < reps; r++) {
        CU(cudaEventRecord(a, 0));
        CU(cudaMemcpyAsync(dst, src, nb, cudaMemcpyDeviceToDevice, 0));
        CU(cudaEventRecord(b, 0));
        CU(cudaEventSynchronize(b));
        float ms;
        CU(cudaEventElapsedTime(&ms, a, b));
        if (r >= 0) t[r] = ms;
    }
    double med = median(t, reps);
    cudaFree(src); cudaFree(dst); free(t);
    cudaEventDestroy(a); cudaEventDestroy(b);
    return med;
}

/* Per-sample statistics of one dense layer (B×d_in → d_out, T = 1, Z given, ⟨g_i, Ḡ⟩ wanted) against
 * its forward GEMM, both timed on the device. */
static void bench_persample(int reps)
{
    const size_t B = 256, din = 1024, dout = 1024;
    char err[256];
    void *A, *D, *Z, *W, *bias, *G, *bb;
    CU(cudaMalloc(&A, B * din * 4)); CU(cudaMalloc(&D, B * dout * 4)); CU(cudaMalloc(&Z, B * dout * 4));
    CU(cudaMalloc(&W, dout * din * 4)); CU(cudaMalloc(&bias, dout * 4)); CU(cudaMalloc(&G, dout * din * 4)); CU(cudaMalloc(&bb, dout * 4));
    fill_dev(A, B * din, 0, 1); fill_dev(D, B * dout, 0, 1e-3f); fill_dev(Z, B * dout, 0, 1); fill_dev(W, dout * din, 0, 0.1f);
    fill_dev(bias, dout, 0, 0.1f); fill_dev(G, dout * din, 0, 1e-3f); fill_dev(bb, dout, 0, 1e-3f);
    tt_cuda_opts o = {NULL, -1, NULL, 1, 0, 0, 0};
    tt_cuda *c = tt_cuda_open(&o, err, sizeof err);
    if (!c) { fprintf(stderr, "bench_cuda: %s\n", err); exit(1); }
    double *out = malloc(8 * B * sizeof(double));
    tt_cuda_ps_out po;
    memset(&po, 0, sizeof po);
    double **pp = &po.gw;
    for (int k = 0; k < 8; k++) pp[k] = out + k * B;
    tt_cuda_dense L = {B, 1, din, dout, TT_CUDA_F32, TT_CUDA_F32, TT_CUDA_F32, A, D, (double)B, W, bias, Z, G, bb, NULL};
    cublasHandle_t h;
    cublasCreate(&h);
    const float one = 1, zero = 0;
    cudaEvent_t a, b;
    CU(cudaEventCreate(&a));
    CU(cudaEventCreate(&b));
    double *tp = malloc((size_t)reps * sizeof *tp), *tg = malloc((size_t)reps * sizeof *tg);
    for (int r = -2; r < reps; r++) {
        float ms;
        CU(cudaEventRecord(a, 0));
        if (tt_cuda_dense_persample(c, &L, &po, err, sizeof err)) { fprintf(stderr, "bench_cuda: %s\n", err); exit(1); }
        CU(cudaEventRecord(b, 0));
        tt_cuda_collect(c, 1, err, sizeof err);
        CU(cudaEventSynchronize(b));
        CU(cudaEventElapsedTime(&ms, a, b));
        if (r >= 0) tp[r] = ms;
        CU(cudaEventRecord(a, 0));
        cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)dout, (int)B, (int)din, &one, W, CUDA_R_32F, (int)din, A, CUDA_R_32F,
                     (int)din, &zero, Z, CUDA_R_32F, (int)dout, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        CU(cudaEventRecord(b, 0));
        CU(cudaEventSynchronize(b));
        CU(cudaEventElapsedTime(&ms, a, b));
        if (r >= 0) tg[r] = ms;
    }
    double p = median(tp, reps), g = median(tg, reps);
    printf("cuda_persample_ms %.4f ms (B=%zu, %zux%zu fp32, T=1, Z given, with <g_i, Gbar>: one GEMM)\n", p, B, dout, din);
    printf("cuda_persample_vs_forward_gemm %.2f ratio (the layer's own forward GEMM: %.4f ms)\n", p / g, g);
    cublasDestroy(h);
    tt_cuda_close(c);
    cudaFree(A); cudaFree(D); cudaFree(Z); cudaFree(W); cudaFree(bias); cudaFree(G); cudaFree(bb);
    free(out); free(tp); free(tg);
    cudaEventDestroy(a); cudaEventDestroy(b);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* The fused step against the per-tensor baseline on the same fp32 tensors: host time from the call
 * to the statistics being on the host, medians; and a check that both computed the same norms. */
static void bench_vs_pertensor(int nl, size_t rows, size_t cols, int reps)
{
    char err[256];
    const size_t n = rows * cols;
    cudaStream_t s;
    CU(cudaStreamCreate(&s));
    float **w = calloc((size_t)nl, sizeof *w), **g = calloc((size_t)nl, sizeof *g);
    tt_cuda_opts o = {NULL, -1, s, 1, 0, 0, 0};
    tt_cuda *c = tt_cuda_open(&o, err, sizeof err);
    if (!c || !w || !g) { fprintf(stderr, "bench_cuda: %s\n", c ? "out of memory" : err); exit(1); }
    for (int l = 0; l < nl; l++) {
        CU(cudaMalloc((void **)&w[l], n * 4));
        CU(cudaMalloc((void **)&g[l], n * 4));
        fill_dev(w[l], n, TT_CUDA_F32, 1.0f + 0.01f * (float)l);
        fill_dev(g[l], n, TT_CUDA_F32, 1e-3f);
        if (tt_cuda_add_layer(c, "layer", rows, cols, TT_CUDA_F32, w[l], TT_CUDA_F32, g[l], err, sizeof err) < 0) {
            fprintf(stderr, "bench_cuda: %s\n", err);
            exit(1);
        }
    }
    tt_pertensor *pt = tt_pertensor_open((const float *const *)w, (const float *const *)g, nl, rows, cols, s, err, sizeof err);
    if (!pt) { fprintf(stderr, "bench_cuda: %s\n", err); exit(1); }
    double *tf = malloc((size_t)reps * sizeof *tf), *tp = malloc((size_t)reps * sizeof *tp);
    for (int r = -2; r < reps; r++) {
        double t0 = now_ms();
        if (tt_cuda_step(c, r + 2, err, sizeof err) || tt_cuda_collect(c, 1, err, sizeof err)) { fprintf(stderr, "bench_cuda: %s\n", err); exit(1); }
        double t1 = now_ms();
        if (tt_pertensor_step(pt, err, sizeof err)) { fprintf(stderr, "bench_cuda: %s\n", err); exit(1); }
        double t2 = now_ms();
        if (r >= 0) { tf[r] = t1 - t0; tp[r] = t2 - t1; }
    }
    /* the norms both must agree on (fp32 sums in the baseline: ~1e-6) */
    double worst = 0;
    const int cmp[] = {0, 1, 2, 3, 9};
    for (int l = 0; l < nl; l++) {
        double ours[12];
        tt_cuda_layer_result(c, l, ours);
        const float *base = tt_pertensor_result(pt, l);
        for (int k = 0; k < 5; k++) {
            double a = ours[cmp[k]], b = base[cmp[k]], d = fabs(a - b) / fmax(fabs(a), 1e-30);
            if (!(d <= worst)) worst = d;            /* NaN wins */
        }
    }
    double f = median(tf, reps), p = median(tp, reps);
    printf("cuda_pertensor_ms %.4f ms (naive: %d fp32 layers of %zux%zu, ~18 cuBLAS calls and kernels per tensor, one host copy)\n",
           p, nl, rows, cols);
    printf("cuda_stats_vs_pertensor_speedup %.2f x (fused step + collect %.4f ms; the torch comparison is bench_cuda_torch.py)\n",
           p / f, f);
    printf("check_pertensor_max_rel_diff %.2e ratio (w_norm, grad_norm, w_rms, g_rms, gw_cos: fp32 baseline vs the kernel)\n", worst);
    tt_pertensor_close(pt);
    tt_cuda_close(c);
    for (int l = 0; l < nl; l++) { cudaFree(w[l]); cudaFree(g[l]); }
    free(w); free(g); free(tf); free(tp);
    cudaStreamDestroy(s);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    char why[256];
    if (tt_cuda_device_count(why, sizeof why) == 0) {
        printf("skipped: no CUDA device (%s)\n", why);
        return 0;
    }
    struct cudaDeviceProp prop;
    CU(cudaGetDeviceProperties(&prop, 0));
    printf("# device: %s, sm_%d%d, %d SMs\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    const int reps = quick ? 5 : 21;
    const int nl = quick ? 8 : 24;
    const size_t rows = 1024, cols = 1024;
    double bytes, probe_cupti;
    /* the probe's configuration (every = 1: W_prev refreshed in the same pass), fp32 */
    double ts = time_stats(TT_CUDA_F32, TT_CUDA_F32, rows, cols, nl, 1, reps, 0, NULL, &bytes);
    double tc = time_copy(bytes, reps);
    printf("cuda_copy_read_gbs %.1f GB/s (device-to-device copy reading %.0f MB)\n", bytes / tc / 1e6, bytes / 1e6);
    printf("cuda_stats_gbs %.1f GB/s (W, G, W_prev, W_0 read, W_prev written; %d fp32 layers of %zux%zu; %.4f ms)\n",
           bytes / ts / 1e6, nl, rows, cols, ts);
    printf("cuda_stats_bandwidth_fraction %.3f ratio (target >= 0.75)\n", tc / ts);
    /* without the refresh (every = 2, the sampled steps) */
    double ts2 = time_stats(TT_CUDA_F32, TT_CUDA_F32, rows, cols, nl, 2, reps, 0, NULL, &bytes);
    printf("cuda_stats_bandwidth_fraction_no_refresh %.3f ratio (every=2: sampled steps read only)\n", tc / ts2);
    /* 16-bit weights */
    const int dts[][2] = {{TT_CUDA_BF16, TT_CUDA_BF16}, {TT_CUDA_F16, TT_CUDA_F16}, {TT_CUDA_BF16, TT_CUDA_F32}};
    for (int k = 0; k < 3; k++) {
        double t16 = time_stats(dts[k][0], dts[k][1], rows, cols, nl, 1, reps, 0, NULL, &bytes);
        double c16 = time_copy(bytes, reps);
        printf("cuda_stats_bandwidth_fraction_%s_%s %.3f ratio (%.1f GB/s; %.4f ms)\n", ttc_dtype_name(dts[k][0]),
               ttc_dtype_name(dts[k][1]), c16 / t16, bytes / t16 / 1e6, t16);
    }
    /* many small layers: one launch regardless of the count */
    double tsm = time_stats(TT_CUDA_F32, TT_CUDA_F32, 64, 64, 512, 1, reps, 0, NULL, &bytes);
    printf("cuda_stats_512_small_layers_ms %.4f ms (512 layers of 64x64: one launch)\n", tsm);
    /* CUPTI's view of the probe's own GPU time against the events' */
    double tt = time_stats(TT_CUDA_F32, TT_CUDA_F32, rows, cols, nl, 1, reps, 1, &probe_cupti, &bytes);
    printf("cuda_probe_gpu_ms_cupti %.4f ms (event-timed step: %.4f ms; the kernel alone is counted by CUPTI)\n", probe_cupti, tt);
    bench_vs_pertensor(nl, rows, cols, reps);
    bench_persample(reps);
    return 0;
}
