/* tt_cuda: the fused METRICS.md §1 statistics of every registered layer in one kernel launch, and the
 * backend's runtime (layers, snapshots, sampling, the one copy per step, collect).
 *
 * The kernel: one block per work item (tt_cuda_host.c plans them: whole rows, or pieces of a long
 * row), 256 threads, 16-byte loads of W, G, W_prev, W_0 (any mix of fp32/fp16/bf16 weights with
 * same-dtype or fp32 gradients), every sum in double per thread (a product of two floats is exact in
 * double; the FP64 rate of sm_80/sm_90 parts is far above what the memory rate demands), then a
 * fixed-order block reduction into the item's partial sums. The last block of a layer to finish (a
 * per-layer counter) sums the layer's partials in item order — deterministic, no floating-point
 * atomics — and writes the 12 statistics with the very code of the CPU reference (tt_cuda_math.h).
 * W_prev is refreshed in the same pass when the next step is sampled. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "tt_cuda_internal.h"

/* ---------------------------------------------------------------- errors and allocation */

int ttc_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int ttc_cuda_fail(char *err, size_t errlen, const char *what, cudaError_t e)
{
    return ttc_fail(err, errlen, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

int ttc_dmalloc(tt_cuda *c, void **p, size_t bytes, char *err, size_t errlen)
{
    *p = NULL;
    if (!bytes) return 0;
    cudaError_t e = cudaMalloc(p, bytes);
    if (e != cudaSuccess) {
        *p = NULL;
        return ttc_fail(err, errlen, "cudaMalloc of %zu bytes: %s", bytes, cudaGetErrorString(e));
    }
    c->dev_bytes += bytes;
    return 0;
}

void ttc_dfree(tt_cuda *c, void *p, size_t bytes)
{
    if (!p) return;
    cudaFree(p);
    c->dev_bytes -= bytes;
}

/* ---------------------------------------------------------------- device helpers */

__device__ __forceinline__ float tof(float x) { return x; }
__device__ __forceinline__ float tof(__half x) { return __half2float(x); }
__device__ __forceinline__ float tof(__nv_bfloat16 x) { return __bfloat162float(x); }

/* Eight consecutive elements as raw 16-byte words: 2 for fp32, 1 for fp16/bf16. */
template <class T> struct V8 { uint4 u[sizeof(T) / 2]; };

template <class T> __device__ __forceinline__ V8<T> ld8(const T *p)
{
    V8<T> v;
    const uint4 *q = reinterpret_cast<const uint4 *>(p);
#pragma unroll
    for (int k = 0; k < (int)(sizeof(T) / 2); k++) v.u[k] = q[k];
    return v;
}

template <class T> __device__ __forceinline__ void st8(T *p, const V8<T> &v)
{
    uint4 *q = reinterpret_cast<uint4 *>(p);
#pragma unroll
    for (int k = 0; k < (int)(sizeof(T) / 2); k++) q[k] = v.u[k];
}

__device__ __forceinline__ void cvt8(const V8<float> &v, float f[8])
{
    f[0] = __uint_as_float(v.u[0].x); f[1] = __uint_as_float(v.u[0].y);
    f[2] = __uint_as_float(v.u[0].z); f[3] = __uint_as_float(v.u[0].w);
    f[4] = __uint_as_float(v.u[1].x); f[5] = __uint_as_float(v.u[1].y);
    f[6] = __uint_as_float(v.u[1].z); f[7] = __uint_as_float(v.u[1].w);
}

__device__ __forceinline__ float2 h2f2(unsigned x)
{
    __half2 h;
    memcpy(&h, &x, 4);
    return __half22float2(h);
}

__device__ __forceinline__ void cvt8(const V8<__half> &v, float f[8])
{
    float2 a = h2f2(v.u[0].x), b = h2f2(v.u[0].y), c = h2f2(v.u[0].z), d = h2f2(v.u[0].w);
    f[0] = a.x; f[1] = a.y; f[2] = b.x; f[3] = b.y; f[4] = c.x; f[5] = c.y; f[6] = d.x; f[7] = d.y;
}

/* bf16 → fp32 is exact: the 16 bits are the float's upper half. */
__device__ __forceinline__ void cvt8(const V8<__nv_bfloat16> &v, float f[8])
{
    const unsigned w[4] = {v.u[0].x, v.u[0].y, v.u[0].z, v.u[0].w};
#pragma unroll
    for (int k = 0; k < 4; k++) {
        f[2 * k] = __uint_as_float(w[k] << 16);
        f[2 * k + 1] = __uint_as_float(w[k] & 0xffff0000u);
    }
}

/* Per-thread accumulators. */
struct Acc {
    ttc_rowsums r;       /* totals of the row sums */
    ttc_elsums e;
    double ra2, ran;
};

struct StatsArgs {
    const ttc_layer *layers;
    const ttc_item *items;
    double *part;
    unsigned *count;
    double *out;
    int have_prev, refresh;
    int with_w0;         /* read W_0 (the distance from init) this step */
};

/* z (W_0) is NULL on a step that skips the distance from init: z = w, so its sum is 0. */
template <class TW, class TG>
__device__ __forceinline__ void elem8(const TW *w, const TG *g, TW *p, const TW *z, uint64_t i, double K,
                                      int hp, int rf, ttc_rowsums &rs, ttc_elsums &es)
{
    V8<TW> wv = ld8(w + i), zv, pv;
    V8<TG> gv = ld8(g + i);
    float wf[8], gf[8], zf[8], pf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (z) zv = ld8(z + i);
    if (hp) { pv = ld8(p + i); cvt8(pv, pf); }
    if (rf) st8(p + i, wv);                     /* after the read: W_prev becomes this step's W */
    cvt8(wv, wf); cvt8(gv, gf);
    if (z) cvt8(zv, zf);
    else
#pragma unroll
        for (int k = 0; k < 8; k++) zf[k] = wf[k];
#pragma unroll
    for (int k = 0; k < 8; k++) ttc_elem(&rs, &es, wf[k], gf[k], pf[k], zf[k], K, hp);
}

template <class TW, class TG>
__device__ __forceinline__ void elem1(const TW *w, const TG *g, TW *p, const TW *z, uint64_t i, double K,
                                      int hp, int rf, ttc_rowsums &rs, ttc_elsums &es)
{
    TW wr = w[i];
    float pf = 0;
    if (hp) pf = tof(p[i]);
    if (rf) p[i] = wr;
    ttc_elem(&rs, &es, tof(wr), tof(g[i]), pf, z ? tof(z[i]) : tof(wr), K, hp);
}

/* Entries [base, base + n) by `lanes` lanes, lane `lane`: vector loads when the layer allows. */
template <class TW, class TG>
__device__ __forceinline__ void span(const ttc_layer &L, uint64_t base, uint64_t n, unsigned lane, unsigned lanes,
                                     double K, int hp, int rf, int w0, ttc_rowsums &rs, ttc_elsums &es)
{
    const TW *w = (const TW *)L.w;
    const TG *g = (const TG *)L.g;
    TW *p = (TW *)L.prev;
    const TW *z = w0 ? (const TW *)L.w0 : NULL;
    uint64_t done = 0;
    if (L.vec) {
        uint64_t nv = n / 8;
        uint64_t v = lane;
        /* two vectors in flight per lane before the first use */
        for (; v + lanes < nv; v += 2 * (uint64_t)lanes) {
            elem8<TW, TG>(w, g, p, z, base + v * 8, K, hp, rf, rs, es);
            elem8<TW, TG>(w, g, p, z, base + (v + lanes) * 8, K, hp, rf, rs, es);
        }
        if (v < nv) elem8<TW, TG>(w, g, p, z, base + v * 8, K, hp, rf, rs, es);
        done = nv * 8;
    }
    for (uint64_t c = done + lane; c < n; c += lanes) elem1<TW, TG>(w, g, p, z, base + c, K, hp, rf, rs, es);
}

template <class TW, class TG>
__device__ void item_body(const ttc_layer &L, const ttc_item &it, double K, int hp, int rf, int w0, Acc &a)
{
    if (L.pieces) {                                  /* a piece of one row: the whole block */
        ttc_rowsums rs = {0, 0, 0};
        span<TW, TG>(L, it.e0, it.n, threadIdx.x, blockDim.x, K, hp, rf, w0, rs, a.e);
        a.r.ww += rs.ww; a.r.pp += rs.pp; a.r.dd += rs.dd;
        return;
    }
    /* whole rows, a group of G lanes per row */
    const unsigned G = L.group, lane = threadIdx.x & (G - 1), grp = threadIdx.x / G, ngrp = blockDim.x / G;
    const unsigned mask = G >= 32 ? 0xffffffffu : (((1u << G) - 1u) << ((threadIdx.x & 31u) & ~(G - 1u)));
    const uint64_t cols = L.cols, r0 = it.e0 / cols, nr = it.n / cols;
    const int rowang = hp && L.rows > 1;
    for (uint64_t r = grp; r < nr; r += ngrp) {
        ttc_rowsums rs = {0, 0, 0};
        span<TW, TG>(L, (r0 + r) * cols, cols, lane, G, K, hp, rf, w0, rs, a.e);
        a.r.ww += rs.ww; a.r.pp += rs.pp; a.r.dd += rs.dd;
        if (rowang) {
            for (unsigned o = G / 2; o > 0; o /= 2) {
                rs.ww += __shfl_xor_sync(mask, rs.ww, o);
                rs.pp += __shfl_xor_sync(mask, rs.pp, o);
                rs.dd += __shfl_xor_sync(mask, rs.dd, o);
            }
            if (lane == 0) ttc_row_angle(&a.ra2, &a.ran, rs.pp, rs.ww, rs.dd);
        }
    }
}

/* Fixed-order block sum of TTC_NPRIM doubles; the result is valid in thread 0. */
__device__ __forceinline__ void block_sum(double v[TTC_NPRIM], double *sh)
{
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
    for (int k = 0; k < TTC_NPRIM; k++)
        for (int o = 16; o > 0; o /= 2) v[k] += __shfl_down_sync(0xffffffffu, v[k], o);
    if (lane == 0)
#pragma unroll
        for (int k = 0; k < TTC_NPRIM; k++) sh[warp * TTC_NPRIM + k] = v[k];
    __syncthreads();
    if (warp == 0) {
#pragma unroll
        for (int k = 0; k < TTC_NPRIM; k++) {
            v[k] = lane < nw ? sh[lane * TTC_NPRIM + k] : 0.0;
            for (int o = 16; o > 0; o /= 2) v[k] += __shfl_down_sync(0xffffffffu, v[k], o);
        }
    }
    __syncthreads();
}

__device__ __forceinline__ double layer_shift(const ttc_layer &L)
{
    float k;
    if (L.wt == TT_CUDA_F32) k = ((const float *)L.w)[0];
    else if (L.wt == TT_CUDA_F16) k = tof(((const __half *)L.w)[0]);
    else k = tof(((const __nv_bfloat16 *)L.w)[0]);
    return isfinite(k) ? (double)k : 0.0;
}

__global__ void __launch_bounds__(TTC_BLOCK) ttk_stats(StatsArgs a)
{
    __shared__ double sh[(TTC_BLOCK / 32) * TTC_NPRIM];
    __shared__ int last;
    const ttc_item it = a.items[blockIdx.x];
    const ttc_layer L = a.layers[it.layer];
    const double K = layer_shift(L);
    Acc acc;
    acc.r.ww = acc.r.pp = acc.r.dd = 0;
    acc.e.gg = acc.e.gw = acc.e.sw = acc.e.sw2 = acc.e.d0 = 0;
    acc.e.nf = 0;
    acc.ra2 = acc.ran = 0;
    const int hp = a.have_prev, rf = a.refresh, w0 = a.with_w0;
    switch (L.wt * 4 + L.gt) {
    case TT_CUDA_F32 * 4 + TT_CUDA_F32: item_body<float, float>(L, it, K, hp, rf, w0, acc); break;
    case TT_CUDA_F16 * 4 + TT_CUDA_F16: item_body<__half, __half>(L, it, K, hp, rf, w0, acc); break;
    case TT_CUDA_BF16 * 4 + TT_CUDA_BF16: item_body<__nv_bfloat16, __nv_bfloat16>(L, it, K, hp, rf, w0, acc); break;
    case TT_CUDA_F16 * 4 + TT_CUDA_F32: item_body<__half, float>(L, it, K, hp, rf, w0, acc); break;
    case TT_CUDA_BF16 * 4 + TT_CUDA_F32: item_body<__nv_bfloat16, float>(L, it, K, hp, rf, w0, acc); break;
    default: break;
    }
    double v[TTC_NPRIM];
    v[TTC_WW] = acc.r.ww; v[TTC_GG] = acc.e.gg; v[TTC_GW] = acc.e.gw; v[TTC_SW] = acc.e.sw;
    v[TTC_SW2] = acc.e.sw2; v[TTC_DD] = acc.r.dd; v[TTC_PP] = acc.r.pp; v[TTC_D0] = acc.e.d0;
    v[TTC_RA2] = acc.ra2; v[TTC_RAN] = acc.ran; v[TTC_NF] = (double)acc.e.nf;
    block_sum(v, sh);
    if (threadIdx.x == 0) {
        double *q = a.part + (size_t)blockIdx.x * TTC_NPRIM;
#pragma unroll
        for (int k = 0; k < TTC_NPRIM; k++) q[k] = v[k];
        __threadfence();                             /* partials visible before the count */
        last = atomicAdd(&a.count[it.layer], 1u) == L.nitems - 1;
    }
    __syncthreads();
    if (!last) return;

    /* the layer's last block: its partials in item order, then the per-row angles of split rows */
    __threadfence();
#pragma unroll
    for (int k = 0; k < TTC_NPRIM; k++) v[k] = 0;
    for (uint32_t j = threadIdx.x; j < L.nitems; j += blockDim.x) {
        const double *q = a.part + (size_t)(L.item0 + j) * TTC_NPRIM;
#pragma unroll
        for (int k = 0; k < TTC_NPRIM; k++) v[k] += __ldcg(q + k);
    }
    if (L.pieces && hp && L.rows > 1) {
        for (uint64_t r = threadIdx.x; r < L.rows; r += blockDim.x) {
            double ww = 0, pp = 0, dd = 0;
            for (uint32_t j = 0; j < L.pieces; j++) {
                const double *q = a.part + (size_t)(L.item0 + r * L.pieces + j) * TTC_NPRIM;
                ww += __ldcg(q + TTC_WW); pp += __ldcg(q + TTC_PP); dd += __ldcg(q + TTC_DD);
            }
            ttc_row_angle(&v[TTC_RA2], &v[TTC_RAN], pp, ww, dd);
        }
    }
    block_sum(v, sh);
    if (threadIdx.x == 0) {
        double s[12];
        ttc_finish(v, (double)L.n, (double)L.rows, hp, s);
        double *o = a.out + (size_t)it.layer * 12;
#pragma unroll
        for (int k = 0; k < 12; k++) o[k] = s[k];
        a.count[it.layer] = 0;                       /* ready for the next launch */
    }
}

/* W → W_prev on a step that only refreshes (the step before a sampled one, every > 1). */
__global__ void __launch_bounds__(TTC_BLOCK) ttk_refresh(const ttc_layer *layers, const ttc_item *items)
{
    const ttc_item it = items[blockIdx.x];
    const ttc_layer L = layers[it.layer];
    const size_t es = L.wt == TT_CUDA_F32 ? 4 : 2;
    const char *src = (const char *)L.w + it.e0 * es;
    char *dst = (char *)L.prev + it.e0 * es;
    size_t bytes = (size_t)it.n * es, done = 0;
    if ((((uintptr_t)src | (uintptr_t)dst) & 15u) == 0) {
        size_t nv = bytes / 16;
        for (size_t v = threadIdx.x; v < nv; v += blockDim.x)
            ((uint4 *)dst)[v] = ((const uint4 *)src)[v];
        done = nv * 16;
    }
    if (es == 4)
        for (size_t b = done / 4 + threadIdx.x; b < bytes / 4; b += blockDim.x) ((uint32_t *)dst)[b] = ((const uint32_t *)src)[b];
    else
        for (size_t b = done / 2 + threadIdx.x; b < bytes / 2; b += blockDim.x) ((uint16_t *)dst)[b] = ((const uint16_t *)src)[b];
}

/* ---------------------------------------------------------------- runtime */

/* Whether the stream is being captured into a CUDA graph (or may not be used because another stream
 * captures in global mode). Nothing may be enqueued or waited for then: a graph replay runs no host
 * code, so the statistics could never be collected, and a synchronisation would end the capture. */
int ttc_capturing(tt_cuda *c)
{
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    cudaError_t e = cudaStreamIsCapturing(c->stream, &st);
    if (e == cudaErrorStreamCaptureImplicit) {       /* the legacy stream while another one captures */
        cudaGetLastError();                          /* not sticky: clear it */
        return 1;
    }
    return e == cudaSuccess && st != cudaStreamCaptureStatusNone;   /* other errors: the caller's next call reports them */
}

/* A query that found work unfinished (ours, torch's, the user's) may leave cudaErrorNotReady as the
 * thread's last error; it is not an error, and the cudaGetLastError after our launches must not
 * take it for one. Any other pending error stays, to be reported. */
void ttc_clear_not_ready(void)
{
    if (cudaPeekAtLastError() == cudaErrorNotReady) cudaGetLastError();
}

extern "C" int tt_cuda_device_count(char *err, size_t errlen)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();                          /* not sticky: clear it */
        ttc_fail(err, errlen, "no CUDA device: %s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
        return 0;
    }
    if (n == 0) ttc_fail(err, errlen, "no CUDA device: the driver reports none");
    return n;
}

extern "C" tt_cuda *tt_cuda_open(const tt_cuda_opts *o, char *err, size_t errlen)
{
    if (!o) { ttc_fail(err, errlen, "tt_cuda_open: no options"); return NULL; }
    if (o->every < 0) { ttc_fail(err, errlen, "tt_cuda_open: every must be >= 0, got %d", o->every); return NULL; }
    char why[200];
    int n = tt_cuda_device_count(why, sizeof why);
    if (n <= 0) { ttc_fail(err, errlen, "%s", why); return NULL; }
    int dev = o->device;
    cudaError_t e;
    if (dev < 0) {
        if ((e = cudaGetDevice(&dev)) != cudaSuccess) { ttc_cuda_fail(err, errlen, "cudaGetDevice", e); return NULL; }
    } else if (dev >= n) {
        ttc_fail(err, errlen, "tt_cuda_open: device %d requested, %d present", dev, n);
        return NULL;
    }
    ttc_devguard guard(dev);
    tt_cuda *c = (tt_cuda *)calloc(1, sizeof *c);
    if (!c) { ttc_fail(err, errlen, "tt_cuda_open: out of memory"); return NULL; }
    c->probe = o->probe;
    c->device = dev;
    c->every = o->every > 0 ? o->every : 1;
    c->gemm_fp32 = o->gemm_fp32 != 0;
    if (o->w0_every < 0) {
        cudaEventDestroy(c->ev);
        free(c);
        ttc_fail(err, errlen, "tt_cuda_open: w0_every must be >= 0, got %d", o->w0_every);
        return NULL;
    }
    c->w0_every = o->w0_every > 0 ? o->w0_every : 1;
#ifdef TT_SAMPLE_STATS
    c->follow_probe = o->every == 0 && o->probe;     /* the probe's own schedule (its overhead budget) */
#endif
    c->stream = (cudaStream_t)o->stream;
    c->have_prev = 1;
    c->last_step = INT64_MIN;
    c->t_busy = c->t_probe = NAN;
    c->t_kernels = -1;
    cudaDeviceProp prop;
    if ((e = cudaGetDeviceProperties(&prop, dev)) != cudaSuccess) { ttc_cuda_fail(err, errlen, "cudaGetDeviceProperties", e); free(c); return NULL; }
    c->sm_count = prop.multiProcessorCount;
    if ((e = cudaEventCreateWithFlags(&c->ev, cudaEventDisableTiming)) != cudaSuccess) {
        ttc_cuda_fail(err, errlen, "cudaEventCreate", e);
        free(c);
        return NULL;
    }
    if (o->timing < 0 || o->timing > 2) {
        cudaEventDestroy(c->ev);
        free(c);
        ttc_fail(err, errlen, "tt_cuda_open: timing %d: expected 0 (off), 1 (CUPTI, else events) or 2 (events)", o->timing);
        return NULL;
    }
    if (o->timing == 1) {
        char why[sizeof c->timing_note - 40];
        if (ttc_cupti_start(why, sizeof why) == 0) {
            c->timing = TTC_TIMING_CUPTI;
        } else {
            c->timing = TTC_TIMING_EVENTS;
            snprintf(c->timing_note, sizeof c->timing_note, "%s: GPU time from CUDA events", why);
        }
    } else if (o->timing == 2) {
        c->timing = TTC_TIMING_EVENTS;
    }
    return c;
}

/* ---------------------------------------------------------------- timing */

/* Event pairs are recorded in both modes: they split the probe's GPU time by kind for the probe's
 * overhead budget (tt_probe_cost); CUPTI adds the process's busy time and kernel counts. */
void ttc_time_begin(tt_cuda *c, int kind)
{
    c->tev_open = 0;
    if (c->timing == TTC_TIMING_OFF) return;
    if (c->timing == TTC_TIMING_CUPTI) ttc_cupti_push();
    if (c->ntev + 2 > c->captev) {                   /* rare: grows to the number of enqueues of a step */
        int cap = c->captev ? 2 * c->captev : 16;
        cudaEvent_t *t = (cudaEvent_t *)realloc(c->tev, (size_t)cap * sizeof *t);
        if (!t) return;
        c->tev = t;
        unsigned char *k = (unsigned char *)realloc(c->tev_kind, (size_t)cap / 2);
        if (!k) return;
        c->tev_kind = k;
        for (; c->captev < cap; c->captev++)
            if (cudaEventCreate(&c->tev[c->captev]) != cudaSuccess) { cudaGetLastError(); return; }
    }
    c->tev_kind[c->ntev / 2] = (unsigned char)kind;
    c->tev_open = cudaEventRecord(c->tev[c->ntev], c->stream) == cudaSuccess;
}

void ttc_time_end(tt_cuda *c)
{
    if (c->timing == TTC_TIMING_CUPTI) ttc_cupti_pop();
    if (!c->tev_open) return;
    c->tev_open = 0;
    if (cudaEventRecord(c->tev[c->ntev + 1], c->stream) == cudaSuccess) c->ntev += 2;
}

/* The event pairs since the last collect (the stream has passed them all): their spans by kind. */
static void event_spans(tt_cuda *c)
{
    c->t_kind_ms[0] = c->t_kind_ms[1] = c->t_kind_ms[2] = 0;
    for (int k = 0; k + 1 < c->ntev; k += 2) {
        float ms;
        if (cudaEventElapsedTime(&ms, c->tev[k], c->tev[k + 1]) == cudaSuccess) c->t_kind_ms[c->tev_kind[k / 2] % 3] += ms;
        else cudaGetLastError();
    }
    c->ntev = 0;
}

/* Event timing at collect: probe = the sum of the enqueues' spans, busy = the stream's span between
 * this collect and the previous one (it includes the stream's idle time: an upper bound of busy
 * time). Totals: the caller divides by the steps they cover. */
static int event_timing(tt_cuda *c)
{
    double busy = NAN;
    int cur = c->tmark_n & 1;
    if (cudaEventSynchronize(c->tmark[cur]) != cudaSuccess) { cudaGetLastError(); return -1; }
    float span;
    if (c->tmark_n > 0 && cudaEventElapsedTime(&span, c->tmark[cur ^ 1], c->tmark[cur]) == cudaSuccess) busy = span;
    cudaGetLastError();
    c->tmark_n++;
    c->t_busy = busy;
    c->t_probe = c->t_kind_ms[TTC_KIND_STATS] + c->t_kind_ms[TTC_KIND_PS];
    c->t_kernels = -1;
    return 0;
}

extern "C" const char *tt_cuda_timing_note(const tt_cuda *c)
{
    return c ? c->timing_note : "";
}

extern "C" int tt_cuda_timing_source(const tt_cuda *c)
{
    return c ? c->timing : 0;
}

extern "C" int tt_cuda_use_event_timing(tt_cuda *c, const char *why)
{
    if (!c || c->timing == TTC_TIMING_OFF) return -1;
    if (c->timing == TTC_TIMING_CUPTI) {
        ttc_cupti_abandon();
        c->timing = TTC_TIMING_EVENTS;
        c->tmark_n = 0;
        snprintf(c->timing_note, sizeof c->timing_note, "%s: GPU time from CUDA events", why && *why ? why : "CUPTI given up");
    }
    return 0;
}

extern "C" int tt_cuda_add_layer(tt_cuda *c, const char *name, size_t rows, size_t cols, int w_dtype, const void *w,
                                 int g_dtype, const void *g, char *err, size_t errlen)
{
    if (!c) return ttc_fail(err, errlen, "tt_cuda_add_layer: no backend");
    if (c->started) return ttc_fail(err, errlen, "layer '%s': layers must be added before the first step", name ? name : "(null)");
    if (!rows || !cols || rows > ((size_t)1 << 40) / cols)
        return ttc_fail(err, errlen, "layer '%s': shape %zux%zu: expected positive dimensions", name ? name : "(null)", rows, cols);
    if (!ttc_dtype_size(w_dtype) || !ttc_dtype_size(g_dtype) || (g_dtype != w_dtype && g_dtype != TT_CUDA_F32))
        return ttc_fail(err, errlen, "layer '%s': dtypes w=%d g=%d: expected fp32/fp16/bf16 weights with gradients of the same dtype or fp32",
                        name ? name : "(null)", w_dtype, g_dtype);
    if (!w || !g) return ttc_fail(err, errlen, "layer '%s': expected device pointers for the weight and the gradient", name ? name : "(null)");
    ttc_devguard guard(c->device);
    cudaPointerAttributes pa;
    const void *ptrs[2] = {w, g};
    for (int k = 0; k < 2; k++) {
        if (cudaPointerGetAttributes(&pa, ptrs[k]) != cudaSuccess || (pa.type != cudaMemoryTypeDevice && pa.type != cudaMemoryTypeManaged)) {
            cudaGetLastError();
            return ttc_fail(err, errlen, "layer '%s': the %s pointer is not device memory", name ? name : "(null)", k ? "gradient" : "weight");
        }
        if (pa.type == cudaMemoryTypeDevice && pa.device != c->device)
            return ttc_fail(err, errlen, "layer '%s': the %s is on device %d, the backend on device %d", name ? name : "(null)",
                            k ? "gradient" : "weight", pa.device, c->device);
    }
    if (c->nlayers == c->caplayers) {
        int cap = c->caplayers ? 2 * c->caplayers : 16;
        ttc_layer *nl = (ttc_layer *)realloc(c->layers, (size_t)cap * sizeof *nl);
        if (!nl) return ttc_fail(err, errlen, "layer '%s': out of memory", name);
        c->layers = nl;
        int *pi = (int *)realloc(c->probe_index, (size_t)cap * sizeof *pi);
        if (!pi) return ttc_fail(err, errlen, "layer '%s': out of memory", name);
        c->probe_index = pi;
        size_t *sh = (size_t *)realloc(c->shape, (size_t)cap * 2 * sizeof *sh);
        if (!sh) return ttc_fail(err, errlen, "layer '%s': out of memory", name);
        c->shape = sh;
        c->caplayers = cap;
    }
    /* device memory first: when it fails, nothing is registered in the probe, so the caller can still
     * give the parameter another path (the Python probe falls back to torch ops) */
    size_t bytes = rows * cols * ttc_dtype_size(w_dtype);
    void *prev = NULL, *w0 = NULL;
    if (ttc_dmalloc(c, &prev, bytes, err, errlen) || ttc_dmalloc(c, &w0, bytes, err, errlen)) {
        ttc_dfree(c, prev, bytes);
        return -1;
    }
    cudaError_t e;
    if ((e = cudaMemcpyAsync(prev, w, bytes, cudaMemcpyDeviceToDevice, c->stream)) != cudaSuccess ||
        (e = cudaMemcpyAsync(w0, w, bytes, cudaMemcpyDeviceToDevice, c->stream)) != cudaSuccess) {
        ttc_dfree(c, prev, bytes);
        ttc_dfree(c, w0, bytes);
        return ttc_cuda_fail(err, errlen, "snapshot copy", e);
    }
    int pidx = -1;
    if (c->probe && (pidx = tt_probe_add_external_layer(c->probe, name, rows, cols, err, errlen)) < 0) {
        cudaStreamSynchronize(c->stream);            /* the snapshot copies still read w */
        ttc_dfree(c, prev, bytes);
        ttc_dfree(c, w0, bytes);
        return -1;
    }
    ttc_layer *l = &c->layers[c->nlayers];
    memset(l, 0, sizeof *l);
    l->w = w; l->g = g; l->prev = prev; l->w0 = w0;
    l->wt = (uint8_t)w_dtype;
    l->gt = (uint8_t)g_dtype;
    ttc_layer_shape(l, rows, cols);
    c->probe_index[c->nlayers] = pidx;
    c->shape[2 * c->nlayers] = rows;
    c->shape[2 * c->nlayers + 1] = cols;
    return c->nlayers++;
}

extern "C" int tt_cuda_rebind_layer(tt_cuda *c, int layer, const void *w, const void *g)
{
    if (!c || layer < 0 || layer >= c->nlayers || !w || !g) return -1;
    ttc_layer *l = &c->layers[layer];
    l->w = w;
    l->g = g;
    uint64_t rows = l->rows, cols = l->cols;
    ttc_layer_shape(l, rows, cols);                  /* alignment may differ */
    c->dirty = 1;
    return 0;
}

/* First step: the work plan, the device tables and the result buffers. */
static int plan(tt_cuda *c, char *err, size_t errlen)
{
    uint64_t total = 0;
    for (int i = 0; i < c->nlayers; i++) total += c->layers[i].n;
    uint32_t ie = ttc_item_elems(total, c->sm_count);
    size_t ni = ttc_plan(c->layers, c->nlayers, ie, NULL);
    ttc_item *items = (ttc_item *)malloc((ni ? ni : 1) * sizeof *items);
    if (!items) return ttc_fail(err, errlen, "tt_cuda_step: out of memory for %zu work items", ni);
    ttc_plan(c->layers, c->nlayers, ie, items);
    size_t nl = (size_t)c->nlayers;
    cudaError_t e;
    if (ttc_dmalloc(c, (void **)&c->d_layers, nl * sizeof(ttc_layer), err, errlen) ||
        ttc_dmalloc(c, (void **)&c->d_items, ni * sizeof(ttc_item), err, errlen) ||
        ttc_dmalloc(c, (void **)&c->d_part, ni * TTC_NPRIM * sizeof(double), err, errlen) ||
        ttc_dmalloc(c, (void **)&c->d_count, nl * sizeof(unsigned), err, errlen) ||
        ttc_dmalloc(c, (void **)&c->d_out, nl * 12 * sizeof(double), err, errlen)) {
        free(items);
        return -1;
    }
    if ((e = cudaMallocHost((void **)&c->h_out, nl * 12 * sizeof(double))) != cudaSuccess) {
        c->h_out = NULL;
        free(items);
        return ttc_cuda_fail(err, errlen, "cudaMallocHost", e);
    }
    c->result = (double *)malloc(nl * 12 * sizeof(double));
    c->last_dist = (double *)malloc(nl * sizeof(double));
    if (!c->result || !c->last_dist) { free(items); return ttc_fail(err, errlen, "tt_cuda_step: out of memory"); }
    for (size_t k = 0; k < nl; k++) c->last_dist[k] = NAN;
    for (size_t k = 0; k < nl * 12; k++) c->result[k] = c->h_out[k] = NAN;
    /* pageable sources: staged by the runtime before the call returns */
    if ((e = cudaMemcpyAsync(c->d_items, items, ni * sizeof *items, cudaMemcpyHostToDevice, c->stream)) != cudaSuccess ||
        (e = cudaMemcpyAsync(c->d_layers, c->layers, nl * sizeof(ttc_layer), cudaMemcpyHostToDevice, c->stream)) != cudaSuccess ||
        (e = cudaMemsetAsync(c->d_count, 0, nl * sizeof(unsigned), c->stream)) != cudaSuccess) {
        free(items);
        return ttc_cuda_fail(err, errlen, "tt_cuda_step: uploading the plan", e);
    }
    /* the pageable copies may still read `items` after returning on some drivers: wait once */
    cudaStreamSynchronize(c->stream);
    free(items);
    c->nitems = ni;
    c->planned = 1;
    c->dirty = 0;
    return 0;
}

/* Sampled and refresh steps: the caller's (forced: sampled, next_sampled ≥ 0), or every N, or (every =
 * 0 with a probe) the probe's schedule, asked for this step and the next (tt_probe_sampled is exact for
 * the two steps after the last published). */
static ttc_step_plan decide(tt_cuda *c, int64_t step, int sampled, int next_sampled)
{
    if (sampled >= 0) {
        ttc_step_plan sp;
        sp.sampled = sampled != 0;
        sp.refresh = next_sampled != 0;
        sp.have_prev = c->have_prev;
        if (sp.sampled) c->have_prev = sp.refresh;   /* as ttc_step_decide */
        else if (sp.refresh) c->have_prev = 1;
        return sp;
    }
#ifdef TT_SAMPLE_STATS
    if (c->follow_probe) {
        int now = tt_probe_sampled(c->probe, step), next = tt_probe_sampled(c->probe, step + 1);
        ttc_step_plan sp;
        sp.sampled = now > 0 && (now & TT_SAMPLE_STATS);
        sp.refresh = next > 0 && (next & TT_SAMPLE_STATS);
        sp.have_prev = c->have_prev;
        if (sp.sampled) c->have_prev = sp.refresh;   /* as ttc_step_decide */
        else if (sp.refresh) c->have_prev = 1;
        return sp;
    }
#endif
    return ttc_step_decide(step, c->every, &c->have_prev);
}

static int step_impl(tt_cuda *c, int64_t step, int sampled, int next_sampled, char *err, size_t errlen);

extern "C" int tt_cuda_step(tt_cuda *c, int64_t step, char *err, size_t errlen)
{
    return step_impl(c, step, -1, -1, err, errlen);
}

extern "C" int tt_cuda_step_sampled(tt_cuda *c, int64_t step, int sampled, int next_sampled, char *err, size_t errlen)
{
    return step_impl(c, step, sampled != 0, next_sampled != 0, err, errlen);
}

static int step_impl(tt_cuda *c, int64_t step, int sampled, int next_sampled, char *err, size_t errlen)
{
    if (!c) return ttc_fail(err, errlen, "tt_cuda_step: no backend");
    if (step <= c->last_step || step < 0) return ttc_fail(err, errlen, "tt_cuda_step: step %lld after %lld: steps must increase", (long long)step, (long long)c->last_step);
    c->last_step = step;
    c->started = 1;
    c->t_steps++;
    if (!c->nlayers) return 0;
    cudaError_t e;
    ttc_devguard guard(c->device);
    if (ttc_capturing(c)) {
        /* skipped: a W_prev refresh that does not happen leaves no valid W_prev */
        ttc_step_plan sp = decide(c, step, sampled, next_sampled);
        if (sp.sampled || sp.refresh) c->have_prev = 0;
        return ttc_fail(err, errlen, "tt_cuda_step: step %lld: the stream is being captured into a CUDA graph; "
                        "statistics are taken only outside capture", (long long)step);
    }
    ttc_clear_not_ready();
    if (!c->planned && plan(c, err, errlen)) return -1;
    if (c->dirty) {
        if ((e = cudaMemcpyAsync(c->d_layers, c->layers, (size_t)c->nlayers * sizeof(ttc_layer), cudaMemcpyHostToDevice, c->stream)) != cudaSuccess)
            return ttc_cuda_fail(err, errlen, "tt_cuda_step: uploading rebound layers", e);
        c->dirty = 0;
    }
    ttc_step_plan sp = decide(c, step, sampled, next_sampled);
    if (!sp.sampled && !sp.refresh) return 0;
    ttc_time_begin(c, TTC_KIND_STATS);
    if (sp.sampled) {
        StatsArgs a;
        a.layers = c->d_layers; a.items = c->d_items; a.part = c->d_part; a.count = c->d_count; a.out = c->d_out;
        a.have_prev = sp.have_prev;
        a.refresh = sp.refresh;
        a.with_w0 = c->nsampled++ % c->w0_every == 0;    /* the slow schedule of the distance from init */
        c->pending_w0 = a.with_w0;
        ttk_stats<<<(unsigned)c->nitems, TTC_BLOCK, 0, c->stream>>>(a);
        e = cudaGetLastError();
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(c->h_out, c->d_out, (size_t)c->nlayers * 12 * sizeof(double), cudaMemcpyDeviceToHost, c->stream);
    } else {
        ttk_refresh<<<(unsigned)c->nitems, TTC_BLOCK, 0, c->stream>>>(c->d_layers, c->d_items);
        e = cudaGetLastError();
    }
    ttc_time_end(c);
    if (e != cudaSuccess) return ttc_cuda_fail(err, errlen, "tt_cuda_step: launch", e);
    if ((e = cudaEventRecord(c->ev, c->stream)) != cudaSuccess) return ttc_cuda_fail(err, errlen, "cudaEventRecord", e);
    c->pending = 1;
    c->ev_fresh = 1;
    c->pending_sampled |= sp.sampled;
    return 0;
}

extern "C" int tt_cuda_collect(tt_cuda *c, int wait, char *err, size_t errlen)
{
    if (!c) return ttc_fail(err, errlen, "tt_cuda_collect: no backend");
    if (!c->pending) return TT_CUDA_OK;
    cudaError_t e;
    ttc_devguard guard(c->device);
    if (ttc_capturing(c)) {                          /* not even an event record: it would join the graph */
        ttc_fail(err, errlen, "tt_cuda_collect: the stream is being captured into a CUDA graph; collect after the capture");
        return TT_CUDA_NOT_READY;
    }
    if (!c->pending_sampled && !c->nps_pending) {
        c->pending = 0;                              /* a W_prev refresh only: nothing to read, so no wait */
        return TT_CUDA_OK;
    }
    if (!c->ev_fresh) {                              /* per-sample work enqueued after the last step */
        if ((e = cudaEventRecord(c->ev, c->stream)) != cudaSuccess) return ttc_cuda_fail(err, errlen, "cudaEventRecord", e);
        c->ev_fresh = 1;
    }
    if (c->timing == TTC_TIMING_EVENTS && !c->tmark_rec) {
        if (!c->tmark[0] && (cudaEventCreate(&c->tmark[0]) != cudaSuccess || cudaEventCreate(&c->tmark[1]) != cudaSuccess)) {
            cudaGetLastError();
            c->timing = TTC_TIMING_OFF;              /* no events: no timing, the statistics go on */
        } else if (cudaEventRecord(c->tmark[c->tmark_n & 1], c->stream) == cudaSuccess) {
            c->tmark_rec = 1;
        }
    }
    if (!wait) {
        e = cudaEventQuery(c->ev);
        if (e == cudaErrorNotReady) { ttc_clear_not_ready(); return TT_CUDA_NOT_READY; }
    } else {
        e = cudaEventSynchronize(c->ev);
    }
    if (e != cudaSuccess) {
        c->pending = 0;
        c->tmark_rec = 0;
        c->nps_pending = 0;
        c->feed_B = 0;
        return ttc_cuda_fail(err, errlen, "tt_cuda_collect: the stream's work failed", e);
    }
    if (c->pending_sampled) {
        memcpy(c->result, c->h_out, (size_t)c->nlayers * 12 * sizeof(double));
        /* dist_init: this step's when W_0 was read, else the last one computed (repeated as it is) */
        for (int i = 0; i < c->nlayers; i++) {
            double *d = &c->result[12 * i + TTC_DIST_INIT];
            if (c->pending_w0) c->last_dist[i] = *d;
            else if (c->result[12 * i + 11] == 0) *d = c->last_dist[i];   /* NaN/Inf: everything stays NaN */
        }
        if (c->probe)
            for (int i = 0; i < c->nlayers; i++)
                if (c->probe_index[i] >= 0) tt_probe_layer_stats(c->probe, c->probe_index[i], c->result + 12 * i, TT_LAYER_NSTATS);
    }
    ttc_ps_scatter(c);
    if (c->timing) {
        event_spans(c);
#ifdef TT_SAMPLE_STATS
        /* the probe's overhead budget counts the GPU work done on its behalf (seconds, by kind) */
        if (c->probe) {
            tt_probe_cost(c->probe, TT_SAMPLE_STATS, c->t_kind_ms[TTC_KIND_STATS] * 1e-3);
            tt_probe_cost(c->probe, TT_SAMPLE_PERSAMPLE, c->t_kind_ms[TTC_KIND_PS] * 1e-3);
        }
#endif
        if (c->timing == TTC_TIMING_CUPTI)
            c->t_valid = ttc_cupti_step(&c->t_busy, &c->t_probe, &c->t_kernels) == 0;
        else
            c->t_valid = c->tmark_rec && event_timing(c) == 0;
        c->tmark_rec = 0;
        if (c->t_valid) ttc_timing_per_step(c->t_steps, &c->t_busy, &c->t_probe, &c->t_kernels);
        c->t_steps = 0;
        if (c->t_valid && c->probe) {
            if (!isnan(c->t_busy)) tt_probe_scalar(c->probe, "gpu_busy_ms", c->t_busy);
            tt_probe_scalar(c->probe, "probe_gpu_ms", c->t_probe);
            if (c->t_kernels >= 0) tt_probe_scalar(c->probe, "gpu_kernels", (double)c->t_kernels);
        }
    }
    c->pending = 0;
    c->pending_sampled = 0;
    return TT_CUDA_OK;
}

extern "C" int tt_cuda_layer_result(const tt_cuda *c, int layer, double stats[TT_LAYER_NSTATS])
{
    if (!c || layer < 0 || layer >= c->nlayers || !stats) return -1;
    for (int k = 0; k < TT_LAYER_NSTATS; k++) stats[k] = c->result ? c->result[12 * layer + k] : NAN;
    return 0;
}

extern "C" int tt_cuda_step_timing(tt_cuda *c, double *gpu_busy_ms, double *probe_gpu_ms, int *kernels)
{
    int ok = c && c->timing && c->t_valid;
    if (gpu_busy_ms) *gpu_busy_ms = ok ? c->t_busy : NAN;
    if (probe_gpu_ms) *probe_gpu_ms = ok ? c->t_probe : NAN;
    if (kernels) *kernels = ok ? c->t_kernels : -1;
    return ok ? 0 : -1;
}

extern "C" size_t tt_cuda_device_bytes(const tt_cuda *c)
{
    return c ? c->dev_bytes : 0;
}

extern "C" void tt_cuda_close(tt_cuda *c)
{
    if (!c) return;
    ttc_devguard guard(c->device);
    cudaStreamSynchronize(c->stream);
    for (int i = 0; i < c->nlayers; i++) {
        size_t bytes = c->layers[i].n * ttc_dtype_size(c->layers[i].wt);
        ttc_dfree(c, c->layers[i].prev, bytes);
        ttc_dfree(c, (void *)c->layers[i].w0, bytes);
    }
    size_t nl = (size_t)c->nlayers;
    if (c->planned) {
        ttc_dfree(c, c->d_layers, nl * sizeof(ttc_layer));
        ttc_dfree(c, c->d_items, c->nitems * sizeof(ttc_item));
        ttc_dfree(c, c->d_part, c->nitems * TTC_NPRIM * sizeof(double));
        ttc_dfree(c, c->d_count, nl * sizeof(unsigned));
        ttc_dfree(c, c->d_out, nl * 12 * sizeof(double));
    }
    if (c->h_out) cudaFreeHost(c->h_out);
    ttc_ps_free(c);
    if (c->timing == TTC_TIMING_CUPTI) ttc_cupti_stop();
    for (int k = 0; k < c->captev; k++) cudaEventDestroy(c->tev[k]);
    free(c->tev);
    free(c->tev_kind);
    if (c->tmark[0]) { cudaEventDestroy(c->tmark[0]); cudaEventDestroy(c->tmark[1]); }
    cudaEventDestroy(c->ev);
    free(c->result);
    free(c->last_dist);
    free(c->layers);
    free(c->probe_index);
    free(c->shape);
    free(c);
}
