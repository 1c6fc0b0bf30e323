/* test_cuda_gpu: the GPU backend on a real device against the CPU references, on the same data.
 *
 *  §1  every statistic of every layer, every sampled step, for fp32, fp16 and bf16 weights (gradients of
 *      the same dtype and fp32), vectors, short rows, rows split into pieces, unaligned (scalar-load)
 *      layers, every = 1 and every = 3, NaN/Inf — against metrics/layerstats.c tt_layer_stats run on
 *      the host copies of the very values on the device, with the probe's W_prev bookkeeping.
 *      Tolerances: norms, ratios, gw_cos, dist_init ≤ 1e-10 relative; angle, angle_rows, w_var ≤ 1e-8
 *      relative (both sides sum the same floats in double, in different orders); nonfinite exact.
 *  §2  per-sample outputs against metrics/persample.c tt_dense_persample on the host copies:
 *      double-accumulated ones (⟨g_i,W⟩ from Z, ‖g_i‖² for T = 1, bias statistics) ≤ 1e-9 relative;
 *      GEMM-based ones (⟨g_i,Ḡ⟩, ⟨g_i,W⟩ without Z, ‖g_i‖² for T > 1: fp32 accumulation on both sides
 *      or on the device only) ≤ 2e-4 relative to the sample's magnitude.
 *  The probe path (statistics in a probe's step messages, via its spool file), CUPTI timing, rebind.
 * Without a device it prints "skipped: no CUDA device" and exits 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cuda_runtime_api.h>

#include "../../metrics/layerstats.h"
#include "../../metrics/persample.h"
#include "tt_cuda.h"
#include "tt_cuda_host.h"

static int passed, failed;
static uint64_t rng = 0x2545f4914f6cdd1dull;

static double urand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)urand(); }

#define CHECK(cond, ...) do { if (cond) passed++; else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)
#define CU(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); failed++; return; } } while (0)

static int close_rel(double got, double ref, double tol)
{
    if (isnan(ref) || isnan(got)) return isnan(ref) && isnan(got);
    return fabs(got - ref) <= tol * fmax(fabs(ref), 1e-300) + 1e-300;
}

static int stats_match(const double *got, const double *ref, char *why, size_t len)
{
    for (int k = 0; k < TT_NSTATS; k++) {
        double tol = (k == TT_ANGLE || k == TT_ANGLE_ROWS || k == TT_W_VAR) ? 1e-8 : 1e-10;
        if (k == TT_NONFINITE) tol = 0;
        if (!close_rel(got[k], ref[k], tol)) {
            snprintf(why, len, "%s = %.17g, CPU reference %.17g", tt_stat_names[k], got[k], ref[k]);
            return 0;
        }
    }
    return 1;
}

/* A layer on the device and its host mirror (floats holding exactly the device values). */
typedef struct {
    size_t rows, cols, n;
    int wt, gt, offset;                 /* offset: elements the device pointers are shifted (unaligned) */
    void *dw_base, *dg_base, *dw, *dg;
    float *w, *g, *w0, *prev;
    int have_prev;
} layer;

static void to_device(const float *src, int dt, void *dst, size_t n)
{
    size_t es = ttc_dtype_size(dt);
    void *tmp = malloc(n * es);
    ttc_from_float(dt, src, tmp, n);
    cudaMemcpy(dst, tmp, n * es, cudaMemcpyHostToDevice);
    free(tmp);
}

/* rounds x to dt in place: the host mirror then holds what the device holds */
static void round_to(float *x, size_t n, int dt)
{
    if (dt == TT_CUDA_F32) return;
    uint16_t *t = malloc(n * 2);
    ttc_from_float(dt, x, t, n);
    ttc_to_float(dt, t, x, n);
    free(t);
}

static int layer_init(layer *l, size_t rows, size_t cols, int wt, int gt, int offset)
{
    memset(l, 0, sizeof *l);
    l->rows = rows; l->cols = cols; l->n = rows * cols; l->wt = wt; l->gt = gt; l->offset = offset;
    size_t n = l->n;
    l->w = malloc(n * 4); l->g = malloc(n * 4); l->w0 = malloc(n * 4); l->prev = malloc(n * 4);
    if (cudaMalloc(&l->dw_base, (n + 8) * ttc_dtype_size(wt)) != cudaSuccess ||
        cudaMalloc(&l->dg_base, (n + 8) * ttc_dtype_size(gt)) != cudaSuccess)
        return -1;
    l->dw = (char *)l->dw_base + offset * ttc_dtype_size(wt);
    l->dg = (char *)l->dg_base + offset * ttc_dtype_size(gt);
    for (size_t i = 0; i < n; i++) { l->w[i] = frand(-0.1f, 0.12f) + 0.05f; l->g[i] = frand(-1e-2f, 1e-2f); }
    round_to(l->w, n, wt);
    round_to(l->g, n, gt);
    memcpy(l->w0, l->w, n * 4);
    memcpy(l->prev, l->w, n * 4);
    l->have_prev = 1;
    to_device(l->w, wt, l->dw, n);
    to_device(l->g, gt, l->dg, n);
    return 0;
}

static void layer_free(layer *l)
{
    cudaFree(l->dw_base); cudaFree(l->dg_base);
    free(l->w); free(l->g); free(l->w0); free(l->prev);
}

/* An optimizer step on the host mirror, uploaded: W ← W − lr·G (rounded to W's dtype), a new G. */
static void layer_update(layer *l, float lr, const char *inject)
{
    for (size_t i = 0; i < l->n; i++) l->w[i] -= lr * l->g[i] + frand(-1e-4f, 1e-4f);
    round_to(l->w, l->n, l->wt);
    for (size_t i = 0; i < l->n; i++) l->g[i] = frand(-1e-2f, 1e-2f);
    round_to(l->g, l->n, l->gt);
    if (inject && !strcmp(inject, "nan_w")) l->w[l->n / 2] = NAN;
    if (inject && !strcmp(inject, "inf_g")) l->g[0] = INFINITY;
    to_device(l->w, l->wt, l->dw, l->n);
    to_device(l->g, l->gt, l->dg, l->n);
}

/* tt_probe_step's own bookkeeping on the host mirror: the reference statistics of a step. */
static void reference_step(layer *l, int sampled, int next_sampled, double ref[TT_NSTATS])
{
    if (sampled) {
        tt_layer_stats(l->w, l->g, l->have_prev ? l->prev : NULL, l->w0, next_sampled ? l->prev : NULL, l->rows, l->cols, ref);
        l->have_prev = next_sampled;
    } else if (next_sampled) {
        memcpy(l->prev, l->w, l->n * 4);
        l->have_prev = 1;
    }
}

static const size_t shapes[][2] = {{1, 1}, {300, 1}, {1, 777}, {64, 64}, {3, 5}, {1000, 3}, {17, 768}, {2, 8193},
                                   {3, 20000}, {1, 70001}, {256, 1024}, {33, 40}};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

/* w0e > 1: dist_init read every w0e-th sampled step, the last value repeated in between. every < 0:
 * the caller's irregular schedule (as an overhead budget makes it) through tt_cuda_step_sampled. */
static const int irregular[8] = {1, 1, 0, 0, 1, 0, 1, 0};

static void test_layerstats(int wt, int gt, int every, int unaligned, const char *inject, int w0e)
{
    char err[256], why[256];
    tt_cuda_opts o = {NULL, -1, NULL, every > 0 ? every : 1, 0, 0, w0e};
    double last_dist[NSHAPES];
    int nsampled = 0;
    tt_cuda *c = tt_cuda_open(&o, err, sizeof err);
    CHECK(c != NULL, "tt_cuda_open: %s", err);
    if (!c) return;
    layer L[NSHAPES];
    for (size_t k = 0; k < NSHAPES; k++) {
        if (layer_init(&L[k], shapes[k][0], shapes[k][1], wt, gt, unaligned ? (int)(k % 3) : 0)) { CHECK(0, "cudaMalloc"); return; }
        char name[32];
        snprintf(name, sizeof name, "l%zu", k);
        int idx = tt_cuda_add_layer(c, name, L[k].rows, L[k].cols, wt, L[k].dw, gt, L[k].dg, err, sizeof err);
        CHECK(idx == (int)k, "tt_cuda_add_layer %s: %s", name, err);
    }
    int bad_steps = 0;
    for (int64_t step = 0; step < 7; step++) {
        int sampled = every > 0 ? step % every == 0 : irregular[step];
        int next = every > 0 ? (step + 1) % every == 0 : irregular[step + 1];
        const char *inj = (inject && step == 4) ? inject : NULL;
        if (step > 0) for (size_t k = 0; k < NSHAPES; k++) layer_update(&L[k], 0.05f, k == 3 ? inj : NULL);
        cudaDeviceSynchronize();
        int rc = every > 0 ? tt_cuda_step(c, step, err, sizeof err) : tt_cuda_step_sampled(c, step, sampled, next, err, sizeof err);
        CHECK(rc == 0, "tt_cuda_step: %s", err);
        CHECK(tt_cuda_collect(c, 1, err, sizeof err) == TT_CUDA_OK, "tt_cuda_collect: %s", err);
        for (size_t k = 0; k < NSHAPES; k++) {
            double ref[TT_NSTATS], got[TT_NSTATS];
            reference_step(&L[k], sampled, next, ref);
            if (!sampled) continue;
            if (nsampled % (w0e > 1 ? w0e : 1) == 0) last_dist[k] = ref[TT_DIST_INIT];
            else ref[TT_DIST_INIT] = last_dist[k];
            tt_cuda_layer_result(c, (int)k, got);
            if (!stats_match(got, ref, why, sizeof why)) {
                if (bad_steps++ < 5)
                    printf("  %s/%s every=%d %s %s step %lld layer %zux%zu: %s\n", ttc_dtype_name(wt), ttc_dtype_name(gt), every,
                           unaligned ? "unaligned" : "aligned", inject ? inject : "", (long long)step, L[k].rows, L[k].cols, why);
            }
        }
        nsampled += sampled;
    }
    CHECK(bad_steps == 0, "§1 statistics w=%s g=%s every=%d w0_every=%d %s %s: %d mismatches", ttc_dtype_name(wt), ttc_dtype_name(gt),
          every, w0e, unaligned ? "unaligned" : "aligned", inject ? inject : "", bad_steps);
    if (bad_steps == 0)
        printf("ok  §1 w=%s g=%s every=%d w0_every=%d %s%s%s: %zu layers × 7 steps match tt_layer_stats\n", ttc_dtype_name(wt),
               ttc_dtype_name(gt), every, w0e, unaligned ? "unaligned" : "aligned", inject ? " " : "", inject ? inject : "", NSHAPES);
    tt_cuda_close(c);
    for (size_t k = 0; k < NSHAPES; k++) layer_free(&L[k]);
}

/* The statistics reach a probe: its step messages (spooled to a file, no collector listening) carry them. */
static void test_probe_path(void)
{
    char err[256], spool[128], ep[160];
    snprintf(spool, sizeof spool, "/tmp/tt_cuda_gpu_%d.jsonl", (int)getpid());
    snprintf(ep, sizeof ep, "ipc:///tmp/tt_cuda_gpu_%d.sock", (int)getpid());
    unlink(spool);
    tt_probe_opts po;
    memset(&po, 0, sizeof po);
    po.run = "cuda-test"; po.endpoint = ep; po.every = 1; po.spool = spool;
    tt_probe *p = tt_probe_open(&po, sizeof po, err, sizeof err);
    CHECK(p != NULL, "tt_probe_open: %s", err);
    if (!p) return;
    tt_cuda_opts o = {p, -1, NULL, 1, 1, 0, 0};
    tt_cuda *c = tt_cuda_open(&o, err, sizeof err);
    CHECK(c != NULL, "tt_cuda_open with a probe and timing: %s", err);
    if (!c) { tt_probe_close(p, NULL, 0); return; }
    layer L;
    if (layer_init(&L, 128, 96, TT_CUDA_BF16, TT_CUDA_F32, 0)) { CHECK(0, "cudaMalloc"); return; }
    CHECK(tt_cuda_add_layer(c, "fc.weight", 128, 96, TT_CUDA_BF16, L.dw, TT_CUDA_F32, L.dg, err, sizeof err) == 0, "%s", err);
    double want[3][TT_NSTATS];
    int timing_ok = 1;
    for (int step = 0; step < 3; step++) {
        if (step) layer_update(&L, 0.1f, NULL);
        CHECK(tt_cuda_step(c, step, err, sizeof err) == 0, "%s", err);
        CHECK(tt_cuda_collect(c, 1, err, sizeof err) == TT_CUDA_OK, "%s", err);
        tt_cuda_layer_result(c, 0, want[step]);
        double busy, own;
        int kernels;
        if (tt_cuda_step_timing(c, &busy, &own, &kernels) != 0 || !(busy > 0) || !(own > 0) || own > busy + 1e-9 || kernels < 1) {
            timing_ok = 0;
            printf("  timing step %d: busy %.6f ms, probe %.6f ms, %d kernels\n", step, busy, own, kernels);
        }
        tt_probe_step(p, step);
    }
    CHECK(timing_ok, "CUPTI timing: gpu_busy_ms >= probe_gpu_ms > 0 and kernels >= 1 every step");
    tt_cuda_close(c);
    tt_probe_close(p, "finished", 0);
    layer_free(&L);
    FILE *f = fopen(spool, "r");
    CHECK(f != NULL, "the probe's spool %s", spool);
    if (!f) return;
    char line[1 << 16];
    int steps_seen = 0, values_ok = 1, scalars_ok = 1;
    while (fgets(line, sizeof line, f)) {
        cJSON *m = cJSON_Parse(line);
        if (!m) continue;
        cJSON *type = cJSON_GetObjectItem(m, "type"), *step = cJSON_GetObjectItem(m, "step");
        if (cJSON_IsString(type) && !strcmp(type->valuestring, "step") && cJSON_IsNumber(step) && step->valueint < 3) {
            cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "layers"), 0);
            for (int k = 0; k < TT_NSTATS; k++) {
                cJSON *v = cJSON_GetArrayItem(row, k);
                double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
                if (!close_rel(x, want[step->valueint][k], 2e-9)) values_ok = 0;
            }
            cJSON *sc = cJSON_GetObjectItem(m, "scalars");
            if (!cJSON_IsNumber(cJSON_GetObjectItem(sc, "gpu_busy_ms")) || !cJSON_IsNumber(cJSON_GetObjectItem(sc, "probe_gpu_ms")))
                scalars_ok = 0;
            steps_seen++;
        }
        cJSON_Delete(m);
    }
    fclose(f);
    unlink(spool);
    CHECK(steps_seen == 3 && values_ok, "probe step messages carry the backend's statistics (%d steps seen)", steps_seen);
    CHECK(scalars_ok, "probe step messages carry gpu_busy_ms and probe_gpu_ms");
    printf("ok  probe path: statistics and timing scalars in the probe's step messages\n");
}

static void test_rebind_and_errors(void)
{
    char err[256];
    tt_cuda_opts o = {NULL, -1, NULL, 1, 0, 0, 0};
    tt_cuda *c = tt_cuda_open(&o, err, sizeof err);
    if (!c) { CHECK(0, "%s", err); return; }
    float host[4] = {1, 2, 3, 4};
    CHECK(tt_cuda_add_layer(c, "host", 2, 2, TT_CUDA_F32, host, TT_CUDA_F32, host, err, sizeof err) < 0 && strstr(err, "device memory"),
          "a host pointer is refused: %s", err);
    layer L;
    if (layer_init(&L, 40, 24, TT_CUDA_F16, TT_CUDA_F16, 0)) { CHECK(0, "cudaMalloc"); return; }
    CHECK(tt_cuda_add_layer(c, "a", 40, 24, TT_CUDA_F16, L.dw, TT_CUDA_F32, L.dg, err, sizeof err) == 0, "%s", err);
    CHECK(tt_cuda_add_layer(c, "bad", 40, 24, TT_CUDA_F16, L.dw, TT_CUDA_BF16, L.dg, err, sizeof err) < 0, "fp16 weights with bf16 gradients are refused");
    tt_cuda_close(c);
    /* rebind: a new buffer with other values, same shape */
    c = tt_cuda_open(&o, err, sizeof err);
    CHECK(tt_cuda_add_layer(c, "a", 40, 24, TT_CUDA_F16, L.dw, TT_CUDA_F16, L.dg, err, sizeof err) == 0, "%s", err);
    CHECK(tt_cuda_step(c, 0, err, sizeof err) == 0 && tt_cuda_collect(c, 1, err, sizeof err) == 0, "%s", err);
    reference_step(&L, 1, 1, (double[TT_NSTATS]){0});
    void *nw;
    cudaMalloc(&nw, L.n * 2);
    for (size_t i = 0; i < L.n; i++) L.w[i] *= 1.01f;
    round_to(L.w, L.n, TT_CUDA_F16);
    to_device(L.w, TT_CUDA_F16, nw, L.n);
    CHECK(tt_cuda_rebind_layer(c, 0, nw, L.dg) == 0, "rebind");
    CHECK(tt_cuda_step(c, 1, err, sizeof err) == 0 && tt_cuda_collect(c, 1, err, sizeof err) == 0, "%s", err);
    double ref[TT_NSTATS], got[TT_NSTATS];
    char why[200];
    reference_step(&L, 1, 1, ref);
    tt_cuda_layer_result(c, 0, got);
    CHECK(stats_match(got, ref, why, sizeof why), "after rebind: %s", why);
    CHECK(tt_cuda_step(c, 1, err, sizeof err) < 0, "a repeated step is refused");
    /* not ready: a collect that does not wait never blocks, and completes later */
    CHECK(tt_cuda_step(c, 2, err, sizeof err) == 0, "%s", err);
    int r = tt_cuda_collect(c, 0, err, sizeof err);
    CHECK(r == TT_CUDA_OK || r == TT_CUDA_NOT_READY, "collect without waiting: %d", r);
    CHECK(tt_cuda_collect(c, 1, err, sizeof err) == TT_CUDA_OK, "%s", err);
    CHECK(tt_cuda_device_bytes(c) >= 2 * L.n * 2, "device bytes %zu", tt_cuda_device_bytes(c));
    tt_cuda_close(c);
    cudaFree(nw);
    layer_free(&L);
    printf("ok  errors, rebind, non-blocking collect\n");
}

/* A backend on `stream` with one fp32 16×12 layer L; NULL (a failed check) when it cannot be made. */
static tt_cuda *one_layer_backend(void *stream, layer *L)
{
    char err[256];
    tt_cuda_opts o = {NULL, -1, stream, 1, 0, 0, 0};
    tt_cuda *c = tt_cuda_open(&o, err, sizeof err);
    if (!c) { CHECK(0, "%s", err); return NULL; }
    if (layer_init(L, 16, 12, TT_CUDA_F32, TT_CUDA_F32, 0)) { CHECK(0, "cudaMalloc"); tt_cuda_close(c); return NULL; }
    if (tt_cuda_add_layer(c, "a", 16, 12, TT_CUDA_F32, L->dw, TT_CUDA_F32, L->dg, err, sizeof err) != 0) {
        CHECK(0, "%s", err);
        tt_cuda_close(c);
        layer_free(L);
        return NULL;
    }
    return c;
}

/* Event timing (timing = 2, what timing = 1 falls back to beside another profiler): probe_gpu_ms > 0
 * every sampled step, gpu_busy_ms NaN at the first collect and ≥ probe_gpu_ms after it, no kernel
 * count; every = 2: the refresh step's collect does not wait and the next covers both steps. */
static void test_event_timing(void)
{
    char err[256];
    tt_cuda_opts o = {NULL, -1, NULL, 2, 2, 0, 0};
    tt_cuda *c = tt_cuda_open(&o, err, sizeof err);
    CHECK(c != NULL, "tt_cuda_open(timing = 2): %s", err);
    if (!c) return;
    CHECK(tt_cuda_timing_source(c) == 2 && !strcmp(tt_cuda_timing_note(c), ""), "event timing, no note");
    layer L;
    if (layer_init(&L, 512, 384, TT_CUDA_F32, TT_CUDA_F32, 0)) { CHECK(0, "cudaMalloc"); tt_cuda_close(c); return; }
    CHECK(tt_cuda_add_layer(c, "a", 512, 384, TT_CUDA_F32, L.dw, TT_CUDA_F32, L.dg, err, sizeof err) == 0, "%s", err);
    int ok = 1, timed = 0;
    for (int step = 0; step < 6; step++) {
        if (step) layer_update(&L, 0.1f, NULL);
        CHECK(tt_cuda_step(c, step, err, sizeof err) == 0 && tt_cuda_collect(c, 1, err, sizeof err) == TT_CUDA_OK, "%s", err);
        double busy, own;
        int k;
        int rc = tt_cuda_step_timing(c, &busy, &own, &k);
        if (step % 2 == 1) continue;                   /* refresh steps: the last sampled step's numbers stay */
        if (rc != 0 || !(own > 0) || k != -1 || (timed ? !(busy >= own) : !isnan(busy))) {
            ok = 0;
            printf("  event timing step %d: rc %d busy %g probe %g kernels %d\n", step, rc, busy, own, k);
        }
        timed++;
    }
    CHECK(ok, "event timing: probe_gpu_ms > 0, gpu_busy_ms NaN first then >= probe_gpu_ms, kernels -1");
    tt_cuda_close(c);
    layer_free(&L);
    printf("ok  event timing\n");
}

/* A CUDA graph capture on the backend's stream: step and per-sample requests are refused without
 * touching the stream (the capture stays valid and captures nothing of ours), collect is NOT_READY,
 * and after the capture everything works; the skipped refresh leaves no W_prev (NaN update). */
static void test_graph_capture(void)
{
    char err[256];
    cudaStream_t st;
    CU(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    layer L;
    tt_cuda *c = one_layer_backend(st, &L);
    if (!c) { cudaStreamDestroy(st); return; }
    CHECK(tt_cuda_step(c, 0, err, sizeof err) == 0, "%s", err);                 /* pending, not collected */
    float *d;
    CU(cudaMalloc((void **)&d, 64));   /* before the capture: cudaMalloc inside a global-mode capture breaks it */
    CU(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
    CHECK(tt_cuda_step(c, 1, err, sizeof err) < 0 && strstr(err, "captured"), "step during capture: %s", err);
    CHECK(tt_cuda_collect(c, 1, err, sizeof err) == TT_CUDA_NOT_READY && strstr(err, "captured"), "collect during capture: %s", err);
    tt_cuda_dense D = {0};
    D.B = 1; D.T = 1; D.d_in = 12; D.d_out = 16; D.A = d; D.D = d; D.W = L.dw;
    double gw[1];
    tt_cuda_ps_out out = {0};
    out.gw = gw;
    CHECK(tt_cuda_dense_persample(c, &D, &out, err, sizeof err) < 0 && strstr(err, "captured"), "per-sample during capture: %s", err);
    cudaGraph_t g = NULL;
    CHECK(cudaStreamEndCapture(st, &g) == cudaSuccess && g, "the capture survived");
    size_t nodes = 1;
    if (g) { cudaGraphGetNodes(g, NULL, &nodes); cudaGraphDestroy(g); }
    CHECK(nodes == 0, "nothing of ours was captured (%zu nodes)", nodes);
    CHECK(tt_cuda_collect(c, 1, err, sizeof err) == TT_CUDA_OK, "collect after the capture: %s", err);
    CHECK(tt_cuda_step(c, 2, err, sizeof err) == 0 && tt_cuda_collect(c, 1, err, sizeof err) == TT_CUDA_OK, "%s", err);
    double got[TT_NSTATS];
    tt_cuda_layer_result(c, 0, got);
    CHECK(isnan(got[TT_UPDATE_NORM]) && !isnan(got[TT_W_NORM]), "step 2 after a skipped refresh: update NaN (%g), w_norm %g",
          got[TT_UPDATE_NORM], got[TT_W_NORM]);
    tt_cuda_close(c);
    cudaFree(d);
    layer_free(&L);
    cudaStreamDestroy(st);
    printf("ok  CUDA graph capture: refused, capture intact, collected after\n");
}

/* Someone's query of unfinished work leaves cudaErrorNotReady as the thread's last error: the next
 * step and per-sample request must not take it for a launch failure. */
static void test_pending_not_ready(void)
{
    char err[256];
    layer L;
    tt_cuda *c = one_layer_backend(NULL, &L);
    if (!c) return;
    const size_t big = (size_t)1 << 30;
    void *src = NULL, *dst = NULL;
    cudaEvent_t ev;
    CU(cudaEventCreate(&ev));
    int tried = 0, left = 0;
    if (cudaMalloc(&src, big) == cudaSuccess && cudaMalloc(&dst, big) == cudaSuccess) {
        for (int k = 0; k < 8 && !left; k++) {            /* a 1 GiB copy: the query comes before its end */
            cudaMemcpyAsync(dst, src, big, cudaMemcpyDeviceToDevice, 0);
            cudaEventRecord(ev, 0);
            tried = 1;
            left = cudaEventQuery(ev) == cudaErrorNotReady && cudaPeekAtLastError() == cudaErrorNotReady;
            if (!left) { cudaDeviceSynchronize(); cudaGetLastError(); }   /* else the leftover waits for the step */
        }
    }
    CHECK(tt_cuda_step(c, 0, err, sizeof err) == 0 && tt_cuda_collect(c, 1, err, sizeof err) == TT_CUDA_OK,
          "a step after a query left cudaErrorNotReady pending: %s", err);
    printf("ok  a pending cudaErrorNotReady is not a launch failure (%s)\n",
           left ? "the runtime left it pending, and it was cleared" : tried ? "this runtime does not leave it pending" : "no memory for the copy");
    cudaDeviceSynchronize();
    cudaGetLastError();
    cudaFree(src); cudaFree(dst);
    cudaEventDestroy(ev);
    tt_cuda_close(c);
    layer_free(&L);
}

/* ------------------------------------------------------------------ §2 */

static void *dev_copy(const float *x, size_t n, int dt)
{
    if (!x) return NULL;
    void *d;
    if (cudaMalloc(&d, n * ttc_dtype_size(dt) + 16) != cudaSuccess) return NULL;
    to_device(x, dt, d, n);
    return d;
}

static void test_persample(size_t B, size_t T, size_t din, size_t dout, int at, int wt, int gt, int with_z, int with_bias,
                           const char *inject)
{
    char err[256];
    size_t R = B * T;
    float *A = malloc(R * din * 4), *D = malloc(R * dout * 4), *W = malloc(dout * din * 4), *bias = NULL, *Z = NULL;
    float *Gbar = malloc(dout * din * 4), *bbar = malloc(dout * 4);
    for (size_t j = 0; j < R * din; j++) A[j] = frand(-1, 1);
    for (size_t j = 0; j < R * dout; j++) D[j] = frand(-1e-2f, 1e-2f);
    for (size_t j = 0; j < dout * din; j++) W[j] = frand(-0.2f, 0.2f);
    round_to(A, R * din, at); round_to(D, R * dout, at); round_to(W, dout * din, wt);
    if (with_bias) {
        bias = malloc(dout * 4);
        for (size_t j = 0; j < dout; j++) bias[j] = frand(-0.1f, 0.1f);
        round_to(bias, dout, wt);
    }
    if (with_z) {
        Z = malloc(R * dout * 4);
        for (size_t r = 0; r < R; r++)
            for (size_t k = 0; k < dout; k++) {
                double s = bias ? bias[k] : 0;
                for (size_t j = 0; j < din; j++) s += (double)W[k * din + j] * A[r * din + j];
                Z[r * dout + k] = (float)s;
            }
        round_to(Z, R * dout, at);
    }
    tt_persample_mean_grad(B, T, din, dout, A, D, (double)B, Gbar, bbar);
    round_to(Gbar, dout * din, gt); round_to(bbar, dout, gt);
    if (inject && !strcmp(inject, "nan_a")) A[din + 2] = NAN;
    if (inject && !strcmp(inject, "nan_w")) W[1] = NAN;
    if (inject && !strcmp(inject, "inf_d")) D[R * dout - 1] = INFINITY;

    void *dA = dev_copy(A, R * din, at), *dD = dev_copy(D, R * dout, at), *dW = dev_copy(W, dout * din, wt);
    void *dZ = dev_copy(Z, R * dout, at), *db = dev_copy(bias, dout, wt), *dG = dev_copy(Gbar, dout * din, gt), *dbb = dev_copy(bbar, dout, gt);

    tt_cuda_opts o = {NULL, -1, NULL, 1, 0, 0, 0};
    tt_cuda *c = tt_cuda_open(&o, err, sizeof err);
    if (!c) { CHECK(0, "%s", err); return; }
    double *gout = malloc(8 * B * sizeof(double)), *rout = malloc(8 * B * sizeof(double));
    tt_cuda_ps_out go;
    tt_persample_out ro;
    memset(&go, 0, sizeof go);
    memset(&ro, 0, sizeof ro);
    double **gp = &go.gw, **rp = &ro.gw;
    for (int k = 0; k < 8; k++) { gp[k] = gout + k * B; rp[k] = rout + k * B; }
    tt_cuda_dense L = {B, T, din, dout, at, wt, gt, dA, dD, (double)B, dW, db, dZ, dG, dbb, NULL};
    int rc = tt_cuda_dense_persample(c, &L, &go, err, sizeof err);
    CHECK(rc == 0, "tt_cuda_dense_persample: %s", err);
    CHECK(tt_cuda_collect(c, 1, err, sizeof err) == TT_CUDA_OK, "collect: %s", err);
    tt_dense H = {B, T, din, dout, A, D, (double)B, W, bias, Z, Gbar, bbar};
    void *work = malloc(tt_persample_work_size(B, T, dout) + 16);
    tt_dense_persample(&H, work, &ro);
    static const char *names[8] = {"gw", "gg", "gG", "gamma", "bw", "bb", "bB", "bgamma"};
    /* GEMM-based outputs (⟨g,Ḡ⟩; ⟨g,W⟩ without Z; ‖g‖² for T > 1; γ from them) against the bound of
     * their rounding: each entry of g_i = s·Σ_t δ_t a_tᵀ (or of a Gram matrix) is off by at most
     * u·(s·Σ_t|δ_t||a_t|ᵀ) =: u·|g|_i, so ‖g‖² by 2u·Σ|g|², ⟨g,M⟩ by u·Σ|M||g|. u = 2^-10 covers TF32
     * (fp32 operands: both inputs rounded to 11 bits, 2·2^-11) and fp32 accumulation over these short
     * sums; fp16/bf16 operands multiply exactly. The double-accumulated outputs: 1e-9 relative. */
    const double u = ldexp(1.0, -10);
    double *sc_gg = calloc(B ? B : 1, sizeof(double)), *sc_gw = calloc(B ? B : 1, sizeof(double)), *sc_gG = calloc(B ? B : 1, sizeof(double));
    for (size_t i = 0; i < B; i++)
        for (size_t o = 0; o < dout; o++)
            for (size_t j = 0; j < din; j++) {
                double ga = 0;
                for (size_t t = 0; t < T; t++) ga += fabs((double)D[(i * T + t) * dout + o]) * fabs((double)A[(i * T + t) * din + j]);
                ga *= (double)B;
                sc_gg[i] += ga * ga;
                sc_gw[i] += ga * fabs((double)W[o * din + j]);
                sc_gG[i] += ga * fabs((double)Gbar[o * din + j]);
            }
    double wnorm = sqrt(ro.w_norm2);
    int bad = 0;
    for (int k = 0; k < 8; k++)
        for (size_t i = 0; i < B; i++) {
            double g = gp[k][i], r = rp[k][i];
            const int gw_gemm = !with_z, gg_gemm = T > 1;
            double tol;
            if (k == 0 && gw_gemm) tol = u * sc_gw[i];
            else if (k == 1 && gg_gemm) tol = 2 * u * sc_gg[i];
            else if (k == 2) tol = u * sc_gG[i];
            else if (k == 3 && (gw_gemm || gg_gemm))   /* γ = −gw/(√gg‖W‖): gw's error over √gg‖W‖, gg's halved */
                tol = (gw_gemm ? u * sc_gw[i] / (sqrt(rp[1][i]) * wnorm) : 0) + fabs(r) * (gg_gemm ? u * sc_gg[i] / rp[1][i] : 0)
                      + 1e-9 * fabs(r);
            else tol = 1e-9 * fmax(fabs(r), k == 3 ? 1e-3 : fabs(rp[1][i]) * 1e-3);
            int ok = (isnan(g) && isnan(r)) || (!isnan(g) && !isnan(r) && fabs(g - r) <= fmax(tol, 1e-300));
            if (!ok && bad++ < 5) printf("  B=%zu T=%zu %s/%s/%s %s: %s[%zu] = %.12g, CPU %.12g\n", B, T, ttc_dtype_name(at),
                                         ttc_dtype_name(wt), ttc_dtype_name(gt), inject ? inject : "", names[k], i, g, r);
        }
    double gn[4] = {go.w_norm2, go.bias_norm2, go.gbar_norm2, go.bbar_norm2}, rn[4] = {ro.w_norm2, ro.bias_norm2, ro.gbar_norm2, ro.bbar_norm2};
    for (int k = 0; k < 4; k++)
        if (!close_rel(gn[k], rn[k], 1e-10)) { bad++; printf("  norm %d: %.17g vs %.17g\n", k, gn[k], rn[k]); }
    if (go.nonfinite != ro.nonfinite || go.bad_samples != ro.bad_samples) {
        bad++;
        printf("  nonfinite %llu/%llu bad %llu/%llu\n", (unsigned long long)go.nonfinite, (unsigned long long)ro.nonfinite,
               (unsigned long long)go.bad_samples, (unsigned long long)ro.bad_samples);
    }
    CHECK(bad == 0, "§2 B=%zu T=%zu %zux%zu a=%s w=%s g=%s z=%d bias=%d %s: %d mismatches", B, T, dout, din, ttc_dtype_name(at),
          ttc_dtype_name(wt), ttc_dtype_name(gt), with_z, with_bias, inject ? inject : "", bad);
    if (!bad) printf("ok  §2 B=%zu T=%zu %zux%zu a=%s w=%s g=%s z=%d bias=%d %s\n", B, T, dout, din, ttc_dtype_name(at),
                     ttc_dtype_name(wt), ttc_dtype_name(gt), with_z, with_bias, inject ? inject : "");
    if (!inject && B) {
        /* mixed precision: δ, Ḡ and b̄ scaled by a loss scale S = 1024 (exact in every dtype here), S handed over
         * as a device scalar: the same outputs, to rounding of the final divisions */
        const float S = 1024.0f;
        float *Ds = malloc(R * dout * 4), *Gs = malloc(dout * din * 4), *bs = malloc(dout * 4);
        for (size_t j = 0; j < R * dout; j++) Ds[j] = D[j] * S;
        for (size_t j = 0; j < dout * din; j++) Gs[j] = Gbar[j] * S;
        for (size_t j = 0; j < dout; j++) bs[j] = bbar[j] * S;
        void *dDs = dev_copy(Ds, R * dout, at), *dGs = dev_copy(Gs, dout * din, gt), *dbs = dev_copy(bs, dout, gt), *dS = NULL;
        cudaMalloc(&dS, sizeof S);
        cudaMemcpy(dS, &S, sizeof S, cudaMemcpyHostToDevice);
        double *sout = malloc(8 * B * sizeof(double));
        tt_cuda_ps_out so = go;
        double **sp = &so.gw;
        for (int k = 0; k < 8; k++) sp[k] = sout + k * B;
        tt_cuda_dense Ls = L;
        Ls.D = dDs; Ls.Gbar = dGs; Ls.bbar = dbs; Ls.loss_scale = (const float *)dS;
        int srcs = tt_cuda_dense_persample(c, &Ls, &so, err, sizeof err) == 0 && tt_cuda_collect(c, 1, err, sizeof err) == TT_CUDA_OK;
        int sbad = !srcs;
        for (int k = 0; k < 8 && srcs; k++)
            for (size_t i = 0; i < B; i++) {
                double a = sp[k][i], b = gp[k][i];
                if (!((isnan(a) && isnan(b)) || fabs(a - b) <= 1e-12 * fmax(fabs(b), fabs(gp[1][i]) * 1e-3) + 1e-300)) {
                    if (sbad++ < 3) printf("  loss scale: %s[%zu] = %.17g, unscaled %.17g\n", names[k], i, a, b);
                }
            }
        if (srcs && (!close_rel(so.gbar_norm2, go.gbar_norm2, 1e-12) || !close_rel(so.bbar_norm2, go.bbar_norm2, 1e-12))) sbad++;
        CHECK(sbad == 0, "§2 with a loss scale, B=%zu T=%zu %s: %d mismatches (%s)", B, T, ttc_dtype_name(at), sbad, err);
        cudaFree(dDs); cudaFree(dGs); cudaFree(dbs); cudaFree(dS);
        free(Ds); free(Gs); free(bs); free(sout);
    }
    tt_cuda_close(c);
    cudaFree(dA); cudaFree(dD); cudaFree(dW); cudaFree(dZ); cudaFree(db); cudaFree(dG); cudaFree(dbb);
    free(A); free(D); free(W); free(bias); free(Z); free(Gbar); free(bbar); free(gout); free(rout); free(work);
    free(sc_gg); free(sc_gw); free(sc_gG);
}

/* The values of one scalar by step in a probe's spool file (NaN where absent). */
static void spool_scalar(const char *path, const char *name, double *out, int nsteps)
{
    for (int k = 0; k < nsteps; k++) out[k] = NAN;
    FILE *f = fopen(path, "r");
    if (!f) return;
    static char line[1 << 16];
    while (fgets(line, sizeof line, f)) {
        cJSON *m = cJSON_Parse(line);
        if (!m) continue;
        cJSON *step = cJSON_GetObjectItem(m, "step"), *v = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "scalars"), name);
        if (cJSON_IsNumber(step) && step->valueint >= 1 && step->valueint <= nsteps && cJSON_IsNumber(v))
            out[step->valueint - 1] = v->valuedouble;
        cJSON_Delete(m);
    }
    fclose(f);
}

/* tt_cuda_dense_batch feeds the probe's model statistics (GWA, noise scale, tests) the same numbers as
 * the CPU probe's own tt_probe_dense_batch over the same batches: two layers, bias, tokens, full mode. */
static void test_probe_persample(int T)
{
    enum { B = 12, STEPS = 6, NL = 2 };
    const size_t din[NL] = {40, 24}, dout[NL] = {24, 10};
    char err[256], spool[2][128], ep[160];
    tt_probe *p[2];
    for (int k = 0; k < 2; k++) {
        snprintf(spool[k], sizeof spool[k], "/tmp/tt_cuda_ps_%d_%d.jsonl", (int)getpid(), k);
        unlink(spool[k]);
        snprintf(ep, sizeof ep, "ipc:///tmp/tt_cuda_ps_%d.sock", (int)getpid());
        tt_probe_opts po;
        memset(&po, 0, sizeof po);
        po.run = k ? "gpu" : "cpu"; po.endpoint = ep; po.spool = spool[k]; po.persample_full = 1; po.gwa_window = 2;
        po.every = 1;   /* both every step, as the backend (the default budget would skip the CPU's batches) */
        p[k] = tt_probe_open(&po, sizeof po, err, sizeof err);
        if (!p[k]) { CHECK(0, "tt_probe_open: %s", err); return; }
    }
    tt_cuda_opts o = {p[1], -1, NULL, 1, 0, 1, 0};     /* gemm_fp32: this checks the path, to 1e-4, not TF32 */
    tt_cuda *c = tt_cuda_open(&o, err, sizeof err);
    if (!c) { CHECK(0, "tt_cuda_open: %s", err); return; }
    float *W[NL], *G[NL], *bias[NL], *gb[NL], *A[NL], *D[NL];
    void *dW[NL], *dG[NL], *db[NL], *dgb[NL], *dA[NL], *dD[NL];
    for (int l = 0; l < NL; l++) {
        W[l] = malloc(dout[l] * din[l] * 4); G[l] = malloc(dout[l] * din[l] * 4);
        bias[l] = malloc(dout[l] * 4); gb[l] = malloc(dout[l] * 4);
        A[l] = malloc(B * T * din[l] * 4); D[l] = malloc(B * T * dout[l] * 4);
        for (size_t j = 0; j < dout[l] * din[l]; j++) W[l][j] = frand(-0.3f, 0.3f);
        for (size_t j = 0; j < dout[l]; j++) bias[l][j] = frand(-0.1f, 0.1f);
        dW[l] = dev_copy(W[l], dout[l] * din[l], TT_CUDA_F32); dG[l] = dev_copy(G[l], dout[l] * din[l], TT_CUDA_F32);
        db[l] = dev_copy(bias[l], dout[l], TT_CUDA_F32); dgb[l] = dev_copy(gb[l], dout[l], TT_CUDA_F32);
        dA[l] = dev_copy(A[l], B * T * din[l], TT_CUDA_F32); dD[l] = dev_copy(D[l], B * T * dout[l], TT_CUDA_F32);
        char name[32];
        snprintf(name, sizeof name, "fc%d.weight", l);
        CHECK(tt_probe_add_layer(p[0], name, dout[l], din[l], W[l], G[l], err, sizeof err) == 2 * l, "%s", err);
        CHECK(tt_cuda_add_layer(c, name, dout[l], din[l], TT_CUDA_F32, dW[l], TT_CUDA_F32, dG[l], err, sizeof err) == 2 * l, "%s", err);
        snprintf(name, sizeof name, "fc%d.bias", l);
        CHECK(tt_probe_add_layer(p[0], name, dout[l], 1, bias[l], gb[l], err, sizeof err) == 2 * l + 1, "%s", err);
        CHECK(tt_cuda_add_layer(c, name, dout[l], 1, TT_CUDA_F32, db[l], TT_CUDA_F32, dgb[l], err, sizeof err) == 2 * l + 1, "%s", err);
    }
    for (int step = 1; step <= STEPS; step++) {
        for (int l = 0; l < NL; l++) {
            for (size_t j = 0; j < B * T * din[l]; j++) A[l][j] = frand(-1, 1);
            for (size_t j = 0; j < B * T * dout[l]; j++) D[l][j] = frand(-0.05f, 0.05f);
            tt_persample_mean_grad(B, T, din[l], dout[l], A[l], D[l], (double)B, G[l], gb[l]);
            to_device(A[l], TT_CUDA_F32, dA[l], B * T * din[l]); to_device(D[l], TT_CUDA_F32, dD[l], B * T * dout[l]);
            to_device(G[l], TT_CUDA_F32, dG[l], dout[l] * din[l]); to_device(gb[l], TT_CUDA_F32, dgb[l], dout[l]);
            tt_dense_batch hb = {B, (size_t)T, A[l], D[l], (double)B, NULL, 0};
            CHECK(tt_probe_dense_batch(p[0], 2 * l, 2 * l + 1, &hb, err, sizeof err) == 0, "%s", err);
            tt_cuda_batch cb = {B, (size_t)T, TT_CUDA_F32, dA[l], dD[l], (double)B, NULL, 0, 1, NULL};
            CHECK(tt_cuda_dense_batch(c, 2 * l, 2 * l + 1, &cb, err, sizeof err) == 0, "tt_cuda_dense_batch: %s", err);
        }
        if (step == 1) {     /* a different batch size in the same step is refused, as on the CPU */
            tt_cuda_batch bad = {B - 1, (size_t)T, TT_CUDA_F32, dA[0], dD[0], (double)B, NULL, 0, 1, NULL};
            CHECK(tt_cuda_dense_batch(c, 0, 1, &bad, err, sizeof err) == -1 && strstr(err, "other layers had"),
                  "a second batch size in one step is refused (%s)", err);
        }
        CHECK(tt_cuda_step(c, step, err, sizeof err) == 0, "%s", err);
        CHECK(tt_cuda_collect(c, 1, err, sizeof err) == TT_CUDA_OK, "%s", err);
        tt_probe_step(p[0], step);
        tt_probe_step(p[1], step);
        for (int l = 0; l < NL; l++) {
            for (size_t j = 0; j < dout[l] * din[l]; j++) W[l][j] -= 0.1f * G[l][j];
            to_device(W[l], TT_CUDA_F32, dW[l], dout[l] * din[l]);
        }
    }
    tt_cuda_close(c);
    tt_probe_close(p[0], "finished", 0);
    tt_probe_close(p[1], "finished", 0);
    static const char *names[] = {"gamma_mean", "noise_scale_raw", "trace_sigma", "grad_sq", "norm_test", "inner_test",
                                  "ortho_test", "gwa"};
    int bad = 0;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        double cpu[STEPS], gpu[STEPS];
        spool_scalar(spool[0], names[k], cpu, STEPS);
        spool_scalar(spool[1], names[k], gpu, STEPS);
        for (int s = 0; s < STEPS; s++)
            if ((isnan(cpu[s]) != isnan(gpu[s])) || (!isnan(cpu[s]) && fabs(gpu[s] - cpu[s]) > 1e-4 * fabs(cpu[s]) + 1e-9)) {
                if (bad++ < 5) printf("  T=%d step %d %s: GPU %.10g, CPU %.10g\n", T, s + 1, names[k], gpu[s], cpu[s]);
            }
        if (isnan(cpu[STEPS - 1]) && strcmp(names[k], "gwa")) { bad++; printf("  %s never published\n", names[k]); }
    }
    CHECK(bad == 0, "per-sample sums through tt_cuda_dense_batch match the CPU probe (T=%d): %d mismatches", T, bad);
    if (!bad) printf("ok  probe per-sample path T=%d: GWA, noise scale and tests match the CPU probe\n", T);
    for (int l = 0; l < NL; l++) {
        free(W[l]); free(G[l]); free(bias[l]); free(gb[l]); free(A[l]); free(D[l]);
        cudaFree(dW[l]); cudaFree(dG[l]); cudaFree(db[l]); cudaFree(dgb[l]); cudaFree(dA[l]); cudaFree(dD[l]);
    }
    unlink(spool[0]);
    unlink(spool[1]);
}

int main(void)
{
    char why[256];
    if (tt_cuda_device_count(why, sizeof why) == 0) {
        printf("skipped: no CUDA device (%s)\n", why);
        return 0;
    }
    struct cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    printf("device: %s, sm_%d%d, %d SMs\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
    const int combos[][2] = {{TT_CUDA_F32, TT_CUDA_F32}, {TT_CUDA_F16, TT_CUDA_F16}, {TT_CUDA_BF16, TT_CUDA_BF16},
                             {TT_CUDA_F16, TT_CUDA_F32}, {TT_CUDA_BF16, TT_CUDA_F32}};
    for (int k = 0; k < 5; k++) {
        test_layerstats(combos[k][0], combos[k][1], 1, 0, NULL, 0);
        test_layerstats(combos[k][0], combos[k][1], 3, 1, NULL, 0);
    }
    test_layerstats(TT_CUDA_F32, TT_CUDA_F32, 1, 0, "nan_w", 0);
    test_layerstats(TT_CUDA_BF16, TT_CUDA_BF16, 1, 1, "inf_g", 0);
    test_layerstats(TT_CUDA_F32, TT_CUDA_F32, 1, 0, NULL, 3);        /* W_0 read on sampled steps 0, 3, 6 */
    test_layerstats(TT_CUDA_BF16, TT_CUDA_F32, 3, 1, NULL, 2);
    test_layerstats(TT_CUDA_F32, TT_CUDA_F32, -1, 0, NULL, 0);       /* the caller's schedule: 1 1 0 0 1 0 1 */
    test_layerstats(TT_CUDA_BF16, TT_CUDA_BF16, -1, 1, NULL, 2);
    test_probe_path();
    test_rebind_and_errors();
    test_graph_capture();
    test_event_timing();
    test_pending_not_ready();
    for (int dt = 0; dt < 3; dt++) {
        test_persample(8, 1, 24, 10, dt, dt, dt, 1, 1, NULL);
        test_persample(8, 1, 24, 10, dt, dt, dt, 0, 1, NULL);
        test_persample(6, 5, 16, 12, dt, dt, dt, 1, 0, NULL);
        test_persample(6, 5, 16, 12, dt, dt, dt, 0, 1, NULL);
    }
    for (int dt = 0; dt < 3; dt++) {                 /* T² ≫ d_in·d_out: g_i materialised (ttc_ps_plan_make) */
        test_persample(5, 64, 8, 6, dt, dt, dt, 1, 1, NULL);
        test_persample(5, 64, 8, 6, dt, dt, dt, 0, 1, NULL);
    }
    test_persample(3, 700, 24, 16, TT_CUDA_F32, TT_CUDA_F32, TT_CUDA_F32, 0, 0, NULL);  /* many chunks per sample */
    test_persample(70000, 2, 4, 3, TT_CUDA_F32, TT_CUDA_F32, TT_CUDA_F32, 0, 1, NULL);  /* > 65535 samples: the y grid loops */
    test_persample(7, 3, 20, 9, TT_CUDA_BF16, TT_CUDA_F32, TT_CUDA_F32, 0, 1, NULL);   /* mixed: the fp32 GEMM path */
    test_persample(7, 1, 20, 9, TT_CUDA_F16, TT_CUDA_F16, TT_CUDA_F32, 0, 1, NULL);
    test_persample(9, 1, 30, 8, TT_CUDA_F32, TT_CUDA_F32, TT_CUDA_F32, 1, 1, "nan_a");
    test_persample(9, 1, 30, 8, TT_CUDA_F32, TT_CUDA_F32, TT_CUDA_F32, 1, 1, "nan_w");
    test_persample(9, 4, 30, 8, TT_CUDA_F32, TT_CUDA_F32, TT_CUDA_F32, 0, 1, "inf_d");
    test_persample(300, 1, 256, 128, TT_CUDA_F32, TT_CUDA_F32, TT_CUDA_F32, 1, 1, NULL);
    test_persample(0, 1, 16, 8, TT_CUDA_F32, TT_CUDA_F32, TT_CUDA_F32, 1, 1, NULL);      /* an empty batch: norms only */
    test_probe_persample(1);
    test_probe_persample(4);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
