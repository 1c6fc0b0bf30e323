/* tt_cuda_ps: METRICS.md §2 per-sample statistics of a dense layer on the device — the device twin of
 * metrics/persample.c (same outputs, same NaN rules, via ttc_ps_finish).
 *
 *   ‖g_i‖²     T = 1: ‖δ_i‖²·‖a_i‖² (a per-sample reduction in double). T > 1, by the cheaper form
 *              (ttc_ps_plan_make, host): the Gram form Σ_{t,s}(δ_it·δ_is)(a_it·a_is), two strided-
 *              batched GEMMs and their elementwise product summed in double; or g_i = D_iᵀA_i
 *              materialised by one strided-batched GEMM, then Σ g_i² (and ⟨g_i, W⟩, ⟨g_i, Ḡ⟩ with it).
 *   ⟨g_i, W⟩   from Z: Σ_t δ_it·(z_it − bias) in double, no GEMM; else from materialised g_i, or
 *              U = A·Wᵀ (cublasGemmEx), then Σ δ·U per sample.
 *   ⟨g_i, Ḡ⟩   from materialised g_i, or U = A·Ḡᵀ, one cublasGemmEx over all B·T rows (in chunks when
 *              the workspace cap asks), then Σ δ·U per sample.
 *   bias       b_i = Σ_t δ_it per sample: ‖b_i‖², ⟨b_i, bias⟩, ⟨b_i, b̄⟩ in double.
 * Every reduction runs on a grid of C chunks × samples; the final kernel sums the chunks in order.
 * GEMMs accumulate in fp32 on tensor cores: 16-bit operands as they are, fp32 ones as TF32 for the
 * ‖g_i‖² GEMMs (unless gemm_fp32) and in full fp32 for the U GEMMs (signed sums). Mixed operand
 * dtypes run on fp32 copies. Results of a call go to the host with one copy, filled in at collect. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "tt_cuda_internal.h"

/* raw per-sample sums, TTC_RAW_N arrays of B doubles */
enum { R_A2, R_D2, R_GWZ, R_BW, R_BB, R_BBAR, R_NFAD, R_NFZ, R_GWU, R_GGU, R_GRAM, TTC_RAW_N };

#define PS_THREADS 256
#define NORM_BLOCKS 256                       /* blocks per norm (W, bias, Ḡ, b̄): several per SM */
#define WS_BUDGET ((size_t)256 << 20)         /* GEMM workspace cap, bytes (one sample always fits) */

__device__ __forceinline__ float ldx(const void *p, int dt, size_t i)
{
    if (dt == TT_CUDA_F32) return ((const float *)p)[i];
    if (dt == TT_CUDA_F16) return __half2float(((const __half *)p)[i]);
    return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
}

/* f(j) for j = from, from + step, … < to, four at a time so that four independent loads are in flight
 * per thread (the reductions here are latency-bound otherwise); the same j order as a plain loop. */
template <class F> __device__ __forceinline__ void each4(uint64_t from, uint64_t to, uint64_t step, F &&f)
{
    uint64_t j = from;
    for (; j + 3 * step < to; j += 4 * step) { f(j); f(j + step); f(j + 2 * step); f(j + 3 * step); }
    for (; j < to; j += step) f(j);
}

/* Fixed-order sum over the block of N doubles; valid in thread 0. sh holds 32·N doubles. */
template <int N> __device__ __forceinline__ void bsum(double v[N], double *sh)
{
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
#pragma unroll
    for (int k = 0; k < N; k++)
        for (int o = 16; o > 0; o /= 2) v[k] += __shfl_down_sync(0xffffffffu, v[k], o);
    if (lane == 0)
#pragma unroll
        for (int k = 0; k < N; k++) sh[warp * N + k] = v[k];
    __syncthreads();
    if (warp == 0) {
#pragma unroll
        for (int k = 0; k < N; k++) {
            v[k] = lane < nw ? sh[lane * N + k] : 0.0;
            for (int o = 16; o > 0; o /= 2) v[k] += __shfl_down_sync(0xffffffffu, v[k], o);
        }
    }
    __syncthreads();
}

struct PsArgs {
    const void *A, *D, *Z, *W, *bias, *Gbar, *bbar;
    int at, wt, gt;
    uint64_t B, T, din, dout;
    uint32_t C;           /* chunks per sample: raw partial (q, i, c) at raw[(q·B + i)·C + c] */
    double *raw;          /* TTC_RAW_N × B × C partials, then 4 × NORM_BLOCKS × 2 norm partials */
    double *res;          /* TTC_PS_N × B, then TTC_PS_NORMS */
    int use_z, want_gw, want_gG, want_bias;
    double scale;
    const float *loss_scale;    /* device, or NULL */
};

/* Sample i's partials of chunk blockIdx.x (ttk_ps_sample). */
__device__ __forceinline__ void ps_sample_one(const PsArgs &a, uint64_t i)
{
    __shared__ double sh[32 * 8];
    const uint64_t TA = a.T * a.din, TD = a.T * a.dout;
    const uint32_t ch = blockIdx.x;
    uint64_t lo, hi;
    double v[8] = {0, 0, 0, 0, 0, 0, 0, 0};        /* a2 d2 gwz bw bb bB nfad nfz */
    ttc_chunk(TA, a.C, ch, &lo, &hi);
    each4(lo + threadIdx.x, hi, blockDim.x, [&](uint64_t j) {
        float x = ldx(a.A, a.at, i * TA + j);
        v[0] += (double)x * x;
        v[6] += !isfinite(x);
    });
    ttc_chunk(TD, a.C, ch, &lo, &hi);
    each4(lo + threadIdx.x, hi, blockDim.x, [&](uint64_t j) {
        float d = ldx(a.D, a.at, i * TD + j);
        v[1] += (double)d * d;
        v[6] += !isfinite(d);
        if (a.use_z) {
            float z = ldx(a.Z, a.at, i * TD + j);
            double b = a.bias ? (double)ldx(a.bias, a.wt, j % a.dout) : 0.0;
            v[2] += (double)d * ((double)z - b);
            v[7] += !isfinite(z);
        }
    });
    if (a.bias) {
        /* b_i = Σ_t δ_it for the chunk's outputs, 32 at a time: lane = output (coalesced rows of δ),
         * warp = a stride of tokens, so the T-long sums run 8 warps wide; then in warp order. */
        __shared__ double red[PS_THREADS / 32][32];
        const unsigned tx = threadIdx.x & 31u, ty = threadIdx.x >> 5, ny = blockDim.x >> 5;
        ttc_chunk(a.dout, a.C, ch, &lo, &hi);
        for (uint64_t o0 = lo; o0 < hi; o0 += 32) {  /* uniform over the block: barriers are safe */
            const uint64_t o = o0 + tx;
            double s = 0;
            if (o < hi) each4(ty, a.T, ny, [&](uint64_t t) { s += ldx(a.D, a.at, i * TD + t * a.dout + o); });
            red[ty][tx] = s;
            __syncthreads();
            if (ty == 0 && o < hi) {
                double b = 0;
                for (unsigned k = 0; k < ny; k++) b += red[k][tx];
                v[4] += b * b;
                v[3] += b * ldx(a.bias, a.wt, o);
                if (a.bbar) v[5] += b * ldx(a.bbar, a.gt, o);
            }
            __syncthreads();
        }
    }
    bsum<8>(v, sh);
    if (threadIdx.x == 0) {
        const int q[8] = {R_A2, R_D2, R_GWZ, R_BW, R_BB, R_BBAR, R_NFAD, R_NFZ};
        for (int k = 0; k < 8; k++) a.raw[(q[k] * a.B + i) * a.C + ch] = v[k];
    }
}

/* Chunk blockIdx.x of samples blockIdx.y, + gridDim.y, …: ‖a_i‖², ‖δ_i‖², ⟨δ_i, z_i − bias⟩, the bias
 * sums and the NaN/Inf counts over its share of A_i, D_i and of the outputs (a grid of C × min(B, 65535)
 * blocks). */
__global__ void __launch_bounds__(PS_THREADS) ttk_ps_sample(PsArgs a)
{
    for (uint64_t i = blockIdx.y; i < a.B; i += gridDim.y) ps_sample_one(a, i);
}

/* Σx² and the NaN/Inf count of W, bias, Ḡ, b̄ (blockIdx.y), NORM_BLOCKS partials each. */
__global__ void __launch_bounds__(PS_THREADS) ttk_ps_norms(PsArgs a)
{
    __shared__ double sh[32 * 2];
    const int k = blockIdx.y;
    const void *p = k == 0 ? a.W : k == 1 ? a.bias : k == 2 ? a.Gbar : a.bbar;
    const int dt = k < 2 ? a.wt : a.gt;
    const uint64_t n = (k == 0 || k == 2) ? a.dout * a.din : a.dout;
    double v[2] = {0, 0};
    if (p)
        each4((uint64_t)blockIdx.x * blockDim.x + threadIdx.x, n, (uint64_t)gridDim.x * blockDim.x, [&](uint64_t j) {
            float x = ldx(p, dt, j);
            v[0] += (double)x * x;
            v[1] += !isfinite(x);
        });
    bsum<2>(v, sh);
    if (threadIdx.x == 0) {
        double *q = a.raw + (size_t)TTC_RAW_N * a.B * a.C + ((size_t)k * gridDim.x + blockIdx.x) * 2;
        q[0] = v[0];
        q[1] = v[1];
    }
}

/* Σ_{t,o} δ_ito·U_ito over chunk blockIdx.x of the n samples of a round (blockIdx.y, + gridDim.y, …);
 * dst[i·C + c]. */
__global__ void __launch_bounds__(PS_THREADS) ttk_ps_rowdot(const void *D, int at, const float *U, uint64_t len,
                                                            uint64_t n, double *dst)
{
    __shared__ double sh[32];
    uint64_t lo, hi;
    ttc_chunk(len, gridDim.x, blockIdx.x, &lo, &hi);
    for (uint64_t i = blockIdx.y; i < n; i += gridDim.y) {
        double v[1] = {0};
        each4(lo + threadIdx.x, hi, blockDim.x, [&](uint64_t j) { v[0] += (double)ldx(D, at, i * len + j) * U[i * len + j]; });
        bsum<1>(v, sh);
        if (threadIdx.x == 0) dst[i * gridDim.x + blockIdx.x] = v[0];
    }
}

/* Σ Ka ⊙ Kd (T×T each) over chunk blockIdx.x of the n samples of a round; dst[i·C + c]. */
__global__ void __launch_bounds__(PS_THREADS) ttk_ps_gram(const float *Ka, const float *Kd, uint64_t TT, uint64_t n,
                                                          double *dst)
{
    __shared__ double sh[32];
    uint64_t lo, hi;
    ttc_chunk(TT, gridDim.x, blockIdx.x, &lo, &hi);
    for (uint64_t i = blockIdx.y; i < n; i += gridDim.y) {
        double v[1] = {0};
        each4(lo + threadIdx.x, hi, blockDim.x, [&](uint64_t j) { v[0] += (double)Ka[i * TT + j] * Kd[i * TT + j]; });
        bsum<1>(v, sh);
        if (threadIdx.x == 0) dst[i * gridDim.x + blockIdx.x] = v[0];
    }
}

/* Materialised g_i (fp32, d_out×d_in = len each): Σ g², Σ g·W and Σ g·Ḡ (when W / Ḡ are given) over
 * chunk blockIdx.x of the n samples of a round; dst_*[i·C + c]. */
__global__ void __launch_bounds__(PS_THREADS) ttk_ps_gsum(const float *G, uint64_t len, uint64_t n, const void *W, int wt,
                                                          const void *Gbar, int gt, double *dst_gg, double *dst_gw,
                                                          double *dst_gG)
{
    __shared__ double sh[32 * 3];
    uint64_t lo, hi;
    ttc_chunk(len, gridDim.x, blockIdx.x, &lo, &hi);
    for (uint64_t i = blockIdx.y; i < n; i += gridDim.y) {
        double v[3] = {0, 0, 0};
        each4(lo + threadIdx.x, hi, blockDim.x, [&](uint64_t j) {
            double g = G[i * len + j];
            v[0] += g * g;
            if (W) v[1] += g * ldx(W, wt, j);
            if (Gbar) v[2] += g * ldx(Gbar, gt, j);
        });
        bsum<3>(v, sh);
        if (threadIdx.x == 0) {
            const uint64_t k = i * gridDim.x + blockIdx.x;
            dst_gg[k] = v[0];
            if (W) dst_gw[k] = v[1];
            if (Gbar) dst_gG[k] = v[2];
        }
    }
}

__global__ void ttk_ps_convert(const void *src, int dt, float *dst, uint64_t n)
{
    for (uint64_t j = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (uint64_t)gridDim.x * blockDim.x)
        dst[j] = ldx(src, dt, j);
}

/* The C partials of raw quantity q of sample i, summed in chunk order. */
__device__ __forceinline__ double rsum(const PsArgs &a, int q, uint64_t i)
{
    const double *p = a.raw + ((size_t)q * a.B + i) * a.C;
    double s = 0;
    for (uint32_t c = 0; c < a.C; c++) s += p[c];
    return s;
}

/* The norms, then every sample's outputs with the CPU's rules. A loss scale S (mixed precision)
 * multiplied δ, Ḡ and b̄: quantities linear in δ are divided by S, those of δ and Ḡ (or b̄) by S². */
__global__ void __launch_bounds__(PS_THREADS) ttk_ps_final(PsArgs a)
{
    __shared__ double nrm[8];
    const double S = a.loss_scale ? (double)*a.loss_scale : 1.0;
    if (threadIdx.x < 4) {
        const int k = threadIdx.x;
        const void *p = k == 0 ? a.W : k == 1 ? a.bias : k == 2 ? a.Gbar : a.bbar;
        const double *q = a.raw + (size_t)TTC_RAW_N * a.B * a.C + (size_t)k * NORM_BLOCKS * 2;
        double s = 0, nf = 0;
        for (int b = 0; b < NORM_BLOCKS; b++) { s += q[2 * b]; nf += q[2 * b + 1]; }
        if (k >= 2) s /= S * S;                        /* Ḡ, b̄ */
        nrm[k] = p && isfinite(s) ? s : NAN;           /* norm2_counted: NaN when absent or not finite */
        nrm[4 + k] = p && !isfinite(s) ? nf : 0;
    }
    __syncthreads();
    const uint64_t B = a.B;
    if (blockIdx.x == 0 && threadIdx.x < 8) a.res[TTC_PS_N * B + threadIdx.x] = nrm[threadIdx.x];
    const uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B) return;
    const double a2 = rsum(a, R_A2, i), d2 = rsum(a, R_D2, i);
    double gg = a.T == 1 ? a2 * d2 : rsum(a, R_GRAM, i);
    double bb = a.T == 1 ? d2 : rsum(a, R_BB, i);
    double gw = a.use_z ? rsum(a, R_GWZ, i) : (a.want_gw ? rsum(a, R_GWU, i) : NAN);
    double gG = a.want_gG ? rsum(a, R_GGU, i) / S : NAN;
    double o[TTC_PS_N];
    ttc_ps_finish(gg, bb, gw, gG, rsum(a, R_BW, i), rsum(a, R_BBAR, i) / S, rsum(a, R_NFAD, i), rsum(a, R_NFZ, i),
                  a.use_z, a.want_gw, !isfinite(nrm[0]), a.want_gG, a.bias != NULL, a.bbar != NULL,
                  a.want_bias, a.scale / S, sqrt(nrm[0]), sqrt(nrm[1]), o);
#pragma unroll
    for (int k = 0; k < TTC_PS_N; k++) a.res[k * B + i] = o[k];
}

/* ---------------------------------------------------------------- host side */

static cudaDataType cuda_type(int dt)
{
    return dt == TT_CUDA_F32 ? CUDA_R_32F : dt == TT_CUDA_F16 ? CUDA_R_16F : CUDA_R_16BF;
}

static const char *blas_name(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
    }
}

static size_t raw_doubles(size_t B, uint32_t C)
{
    return (size_t)TTC_RAW_N * B * C + 8 * NORM_BLOCKS;
}

static int slot_ready(tt_cuda *c, ttc_ps_slot *s, size_t B, uint32_t C, char *err, size_t errlen)
{
    size_t need = B ? B : 1, need_raw = raw_doubles(need, C);
    if (s->d_res && s->capB >= need && s->cap_raw >= need_raw) return 0;
    cudaStreamSynchronize(c->stream);                /* rare: the first steps, or a bigger batch */
    ttc_dfree(c, s->d_res, (TTC_PS_N * s->capB + TTC_PS_NORMS) * sizeof(double));
    ttc_dfree(c, s->d_raw, s->cap_raw * sizeof(double));
    if (s->h_res) cudaFreeHost(s->h_res);
    s->d_res = s->d_raw = s->h_res = NULL;
    s->capB = s->cap_raw = 0;
    size_t res = (TTC_PS_N * need + TTC_PS_NORMS) * sizeof(double), raw = need_raw * sizeof(double);
    if (ttc_dmalloc(c, (void **)&s->d_res, res, err, errlen)) return -1;
    if (ttc_dmalloc(c, (void **)&s->d_raw, raw, err, errlen)) { ttc_dfree(c, s->d_res, res); s->d_res = NULL; return -1; }
    cudaError_t e = cudaMallocHost((void **)&s->h_res, res);
    if (e != cudaSuccess) {
        ttc_dfree(c, s->d_res, res);
        ttc_dfree(c, s->d_raw, raw);
        s->d_res = s->d_raw = s->h_res = NULL;
        return ttc_cuda_fail(err, errlen, "cudaMallocHost", e);
    }
    s->capB = need;
    s->cap_raw = need_raw;
    return 0;
}

static int ws_ready(tt_cuda *c, size_t bytes, char *err, size_t errlen)
{
    if (bytes <= c->ws_cap) return 0;
    cudaStreamSynchronize(c->stream);
    ttc_dfree(c, c->ws, c->ws_cap);
    c->ws = NULL;
    c->ws_cap = 0;
    if (ttc_dmalloc(c, &c->ws, bytes, err, errlen)) return -1;
    c->ws_cap = bytes;
    return 0;
}

static int launch_ok(const char *what, char *err, size_t errlen)
{
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? 0 : ttc_cuda_fail(err, errlen, what, e);
}

/* Samples on the grid's y axis (at most 65535 blocks): larger batches loop in the kernels. */
static unsigned grid_y(uint64_t n)
{
    return (unsigned)(n < 1 ? 1 : n > 65535 ? 65535 : n);
}

static unsigned grid_for(uint64_t n)
{
    uint64_t b = (n + PS_THREADS - 1) / PS_THREADS;
    return (unsigned)(b < 1 ? 1 : b > 4096 ? 4096 : b);
}

/* U = X·Mᵀ for `rows` rows of X (rows × din, row-major) and M (dout × din): column-major U' = Mᵀ'·X'. */
static cublasStatus_t gemm_xmt(cublasHandle_t h, const void *X, const void *M, cudaDataType t, uint64_t rows,
                               uint64_t din, uint64_t dout, float *U)
{
    const float one = 1.0f, zero = 0.0f;
    return cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)dout, (int)rows, (int)din, &one, M, t, (int)din, X, t,
                        (int)din, &zero, U, CUDA_R_32F, (int)dout, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

/* The compute type of a GEMM on operands of type t: fp32 operands on TF32 tensor cores unless the
 * backend was opened with gemm_fp32; fp16/bf16 operands on tensor cores as they are. Accumulation and
 * results are fp32 either way. */
static cublasComputeType_t compute_for(const tt_cuda *c, cudaDataType t)
{
    return t == CUDA_R_32F && !c->gemm_fp32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

/* The plan of a request (tt_cuda_host.c: Gram or materialised, chunks, GEMM rounds). */
static ttc_ps_plan plan_for(const tt_cuda *c, const tt_cuda_dense *L, int want_gw, int want_gG)
{
    return ttc_ps_plan_make(L->B, L->T, L->d_in, L->d_out, want_gw && !L->Z, want_gG, c->sm_count, WS_BUDGET);
}

/* The per-sample work of one request: everything but the slot bookkeeping. */
static int enqueue(tt_cuda *c, const tt_cuda_dense *L, const ttc_ps_plan *P, const tt_cuda_ps_out *out,
                   ttc_ps_slot *s, char *err, size_t errlen)
{
    const uint64_t B = L->B, T = L->T, din = L->d_in, dout = L->d_out;
    const uint32_t C = P->chunks;
    const size_t asz = ttc_dtype_size(L->a_dtype);
    PsArgs a;
    memset(&a, 0, sizeof a);
    a.A = L->A; a.D = L->D; a.Z = L->Z; a.W = L->W; a.bias = L->bias; a.Gbar = L->Gbar; a.bbar = L->bbar;
    a.at = L->a_dtype; a.wt = L->w_dtype; a.gt = L->g_dtype;
    a.B = B; a.T = T; a.din = din; a.dout = dout; a.C = C;
    a.raw = s->d_raw;
    a.res = s->d_res;
    a.use_z = L->Z != NULL;
    a.want_gw = out->gw || out->gamma;
    a.want_gG = out->gG && L->Gbar;
    a.want_bias = L->bias && (out->bw || out->bb || out->bgamma || (out->bB && L->bbar));
    a.scale = L->scale;
    a.loss_scale = L->loss_scale;
    double *raw_at[TTC_RAW_N];                       /* quantity q of sample i0: raw_at[q] + i0·C */
    for (int q = 0; q < TTC_RAW_N; q++) raw_at[q] = s->d_raw + (size_t)q * B * C;

    ttk_ps_norms<<<dim3(NORM_BLOCKS, 4), PS_THREADS, 0, c->stream>>>(a);
    if (launch_ok("per-sample norms", err, errlen)) return -1;
    if (B) {
        ttk_ps_sample<<<dim3(C, grid_y(B)), PS_THREADS, 0, c->stream>>>(a);
        if (launch_ok("per-sample sums", err, errlen)) return -1;

        const int need_w = P->u_w, need_g = P->u_g;
        if (need_w || need_g || T > 1) {
            if (!c->blas) {
                cublasStatus_t bs = cublasCreate(&c->blas);
                if (bs != CUBLAS_STATUS_SUCCESS) { c->blas = NULL; return ttc_fail(err, errlen, "cublasCreate: %s", blas_name(bs)); }
            }
            cublasSetStream(c->blas, c->stream);
            cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH);     /* precision chosen per call (compute_for) */
        }
        if (need_w || need_g) {
            /* operand types: the activations' own when every matrix has it, else everything in fp32 */
            const int mixed = (need_w && L->w_dtype != L->a_dtype) || (need_g && L->g_dtype != L->a_dtype);
            const int conv_a = mixed && L->a_dtype != TT_CUDA_F32;
            const int conv_w = mixed && need_w && L->w_dtype != TT_CUDA_F32;
            const int conv_g = mixed && need_g && L->g_dtype != TT_CUDA_F32;
            size_t fixed = (conv_w ? dout * din * 4 : 0) + (conv_g ? dout * din * 4 : 0);
            size_t per_sample = T * dout * 4 + (conv_a ? T * din * 4 : 0);
            uint64_t cs = WS_BUDGET > fixed ? (WS_BUDGET - fixed) / per_sample : 1;
            if (cs < 1) cs = 1;
            if (cs > B) cs = B;
            if (ws_ready(c, fixed + cs * per_sample, err, errlen)) return -1;
            char *ws = (char *)c->ws;
            float *U = (float *)ws, *Aconv = (float *)(ws + cs * T * dout * 4);
            float *Wc = (float *)(ws + cs * per_sample), *Gc = Wc + (conv_w ? dout * din : 0);
            if (conv_w) ttk_ps_convert<<<grid_for(dout * din), PS_THREADS, 0, c->stream>>>(L->W, L->w_dtype, Wc, dout * din);
            if (conv_g) ttk_ps_convert<<<grid_for(dout * din), PS_THREADS, 0, c->stream>>>(L->Gbar, L->g_dtype, Gc, dout * din);
            if (launch_ok("per-sample conversion", err, errlen)) return -1;
            const void *Mw = conv_w ? (const void *)Wc : L->W, *Mg = conv_g ? (const void *)Gc : L->Gbar;
            const cudaDataType t = mixed ? CUDA_R_32F : cuda_type(L->a_dtype);
            for (uint64_t i0 = 0; i0 < B; i0 += cs) {
                uint64_t n = B - i0 < cs ? B - i0 : cs, rows = n * T;
                const void *X = (const char *)L->A + i0 * T * din * asz;
                if (conv_a) {
                    ttk_ps_convert<<<grid_for(rows * din), PS_THREADS, 0, c->stream>>>(X, L->a_dtype, Aconv, rows * din);
                    if (launch_ok("per-sample conversion", err, errlen)) return -1;
                    X = Aconv;
                }
                const void *Dc = (const char *)L->D + i0 * T * dout * asz;
                for (int m = 0; m < 2; m++) {
                    if (m == 0 && !need_w) continue;
                    if (m == 1 && !need_g) continue;
                    const void *M = m == 0 ? Mw : Mg;
                    /* a signed sum (⟨g_i, W⟩ can cancel): kept in full fp32, no TF32 */
                    cublasStatus_t bs = gemm_xmt(c->blas, X, M, t, rows, din, dout, U);
                    if (bs != CUBLAS_STATUS_SUCCESS) return ttc_fail(err, errlen, "cublasGemmEx (per-sample A·%sᵀ): %s", m ? "Ḡ" : "W", blas_name(bs));
                    ttk_ps_rowdot<<<dim3(C, grid_y(n)), PS_THREADS, 0, c->stream>>>(Dc, L->a_dtype, U, T * dout, n,
                                                                                    raw_at[m == 0 ? R_GWU : R_GGU] + i0 * C);
                    if (launch_ok("per-sample dot", err, errlen)) return -1;
                }
            }
        }
        if (T > 1) {
            const uint64_t cs = P->gemm_chunk;
            const float one = 1.0f, zero = 0.0f;
            const cudaDataType t = cuda_type(L->a_dtype);
            const cublasComputeType_t ct = compute_for(c, t);
            if (ws_ready(c, cs * P->ws_per_sample, err, errlen)) return -1;
            for (uint64_t i0 = 0; i0 < B; i0 += cs) {
                uint64_t n = B - i0 < cs ? B - i0 : cs;
                const void *Ai = (const char *)L->A + i0 * T * din * asz, *Di = (const char *)L->D + i0 * T * dout * asz;
                cublasStatus_t bs;
                if (P->materialise) {
                    /* g_i = D_iᵀA_i, row-major d_out×d_in = column-major (d_in×T)·(T×d_out) */
                    float *G = (float *)c->ws;
                    bs = cublasGemmStridedBatchedEx(c->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)din, (int)dout, (int)T, &one,
                                                    Ai, t, (int)din, (long long)(T * din), Di, t, (int)dout, (long long)(T * dout),
                                                    &zero, G, CUDA_R_32F, (int)din, (long long)(din * dout), (int)n, ct, CUBLAS_GEMM_DEFAULT);
                    if (bs != CUBLAS_STATUS_SUCCESS) return ttc_fail(err, errlen, "cublasGemmStridedBatchedEx (per-sample gradients): %s", blas_name(bs));
                    const int gw_here = a.want_gw && !a.use_z;
                    ttk_ps_gsum<<<dim3(C, grid_y(n)), PS_THREADS, 0, c->stream>>>(
                        G, din * dout, n, gw_here ? L->W : NULL, L->w_dtype, a.want_gG ? L->Gbar : NULL, L->g_dtype,
                        raw_at[R_GRAM] + i0 * C, raw_at[R_GWU] + i0 * C, raw_at[R_GGU] + i0 * C);
                    if (launch_ok("per-sample gradient sums", err, errlen)) return -1;
                } else {
                    /* the Gram form: Ka = A_i A_iᵀ, Kd = D_i D_iᵀ per sample, strided-batched */
                    float *Ka = (float *)c->ws, *Kd = Ka + cs * T * T;
                    bs = cublasGemmStridedBatchedEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)T, (int)T, (int)din, &one,
                                                    Ai, t, (int)din, (long long)(T * din), Ai, t, (int)din, (long long)(T * din),
                                                    &zero, Ka, CUDA_R_32F, (int)T, (long long)(T * T), (int)n, ct, CUBLAS_GEMM_DEFAULT);
                    if (bs == CUBLAS_STATUS_SUCCESS)
                        bs = cublasGemmStridedBatchedEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)T, (int)T, (int)dout, &one,
                                                        Di, t, (int)dout, (long long)(T * dout), Di, t, (int)dout, (long long)(T * dout),
                                                        &zero, Kd, CUDA_R_32F, (int)T, (long long)(T * T), (int)n, ct, CUBLAS_GEMM_DEFAULT);
                    if (bs != CUBLAS_STATUS_SUCCESS) return ttc_fail(err, errlen, "cublasGemmStridedBatchedEx (Gram matrices): %s", blas_name(bs));
                    ttk_ps_gram<<<dim3(C, grid_y(n)), PS_THREADS, 0, c->stream>>>(Ka, Kd, T * T, n, raw_at[R_GRAM] + i0 * C);
                    if (launch_ok("per-sample Gram sums", err, errlen)) return -1;
                }
            }
        }
    }
    ttk_ps_final<<<grid_for(B), PS_THREADS, 0, c->stream>>>(a);
    if (launch_ok("per-sample final", err, errlen)) return -1;
    cudaError_t e = cudaMemcpyAsync(s->h_res, s->d_res, (TTC_PS_N * B + TTC_PS_NORMS) * sizeof(double),
                                    cudaMemcpyDeviceToHost, c->stream);
    if (e != cudaSuccess) return ttc_cuda_fail(err, errlen, "per-sample copy", e);
    return 0;
}

extern "C" int tt_cuda_dense_persample(tt_cuda *c, const tt_cuda_dense *L, tt_cuda_ps_out *out, char *err, size_t errlen)
{
    if (!c || !L || !out) return ttc_fail(err, errlen, "tt_cuda_dense_persample: NULL argument");
    if (!L->A || !L->D || !L->W || !L->T || !L->d_in || !L->d_out)
        return ttc_fail(err, errlen, "tt_cuda_dense_persample: expected A, D, W and positive T, d_in, d_out");
    if (!ttc_dtype_size(L->a_dtype) || !ttc_dtype_size(L->w_dtype) || !ttc_dtype_size(L->g_dtype))
        return ttc_fail(err, errlen, "tt_cuda_dense_persample: unknown dtype (a=%d w=%d g=%d)", L->a_dtype, L->w_dtype, L->g_dtype);
    if (L->d_in > INT_MAX || L->d_out > INT_MAX || L->T > 46340 || L->B * L->T > INT_MAX || L->B > INT_MAX)
        return ttc_fail(err, errlen, "tt_cuda_dense_persample: shape B=%zu T=%zu %zux%zu beyond the GEMM's int range",
                        L->B, L->T, L->d_out, L->d_in);
    if (c->nps_pending >= TTC_PS_MAX_PENDING)
        return ttc_fail(err, errlen, "tt_cuda_dense_persample: %d requests pending: call tt_cuda_collect", TTC_PS_MAX_PENDING);
    ttc_devguard guard(c->device);
    if (ttc_capturing(c))
        return ttc_fail(err, errlen, "tt_cuda_dense_persample: the stream is being captured into a CUDA graph; "
                        "per-sample statistics are taken only outside capture");
    ttc_clear_not_ready();
    ttc_ps_slot *s = &c->ps[c->nps_pending];
    const ttc_ps_plan P = plan_for(c, L, out->gw || out->gamma, out->gG && L->Gbar);
    if (slot_ready(c, s, L->B, P.chunks, err, errlen)) return -1;
    if (c->nps_pending >= c->nps_alloc) c->nps_alloc = c->nps_pending + 1;
    ttc_time_begin(c, TTC_KIND_PS);
    int rc = enqueue(c, L, &P, out, s, err, errlen);
    ttc_time_end(c);
    if (rc) return -1;
    s->B = L->B;
    s->out = out;
    s->feed_w = s->feed_b = -1;
    c->nps_pending++;
    c->pending = 1;
    c->ev_fresh = 0;
    return 0;
}

extern "C" int tt_cuda_dense_batch(tt_cuda *c, int weight_layer, int bias_layer, const tt_cuda_batch *b,
                                   char *err, size_t errlen)
{
    if (!c || !b) return ttc_fail(err, errlen, "tt_cuda_dense_batch: NULL argument");
    if (!c->probe) return ttc_fail(err, errlen, "tt_cuda_dense_batch: the backend was opened without a probe");
    if (weight_layer < 0 || weight_layer >= c->nlayers || bias_layer < -1 || bias_layer >= c->nlayers || bias_layer == weight_layer)
        return ttc_fail(err, errlen, "tt_cuda_dense_batch: layers %d and %d: expected backend layer indices (bias -1 for none)",
                        weight_layer, bias_layer);
    const ttc_layer *w = &c->layers[weight_layer], *bl = bias_layer >= 0 ? &c->layers[bias_layer] : NULL;
    const size_t d_out = c->shape[2 * weight_layer], d_in = c->shape[2 * weight_layer + 1];
    if (bl && (c->shape[2 * bias_layer] * c->shape[2 * bias_layer + 1] != d_out || bl->wt != w->wt || bl->gt != w->gt))
        return ttc_fail(err, errlen, "tt_cuda_dense_batch: bias layer %d: expected %zu entries of the weight's dtypes (%s, gradient %s)",
                        bias_layer, d_out, ttc_dtype_name(w->wt), ttc_dtype_name(w->gt));
    if (!(b->grad_scale > 0) || !isfinite(b->grad_scale))
        return ttc_fail(err, errlen, "tt_cuda_dense_batch: grad_scale %g: expected a positive number (B for a mean-reduced loss)",
                        b->grad_scale);
    if (!b->batch) return ttc_fail(err, errlen, "tt_cuda_dense_batch: expected a batch of at least one sample");
    if (c->feed_B && b->batch != c->feed_B)
        return ttc_fail(err, errlen, "tt_cuda_dense_batch: a batch of %zu samples: this step's other layers had %zu", b->batch, c->feed_B);
    tt_cuda_dense L;
    memset(&L, 0, sizeof L);
    L.B = b->batch; L.T = b->tokens ? b->tokens : 1; L.d_in = d_in; L.d_out = d_out;
    L.a_dtype = b->a_dtype; L.w_dtype = w->wt; L.g_dtype = w->gt;
    L.A = b->inputs; L.D = b->out_grads; L.scale = b->grad_scale; L.Z = b->preact;
    L.W = w->w; L.Gbar = w->g;
    L.loss_scale = b->loss_scale;
    L.bias = bl ? bl->w : NULL; L.bbar = bl ? bl->g : NULL;
    /* enqueue reads only which outputs are wanted; the results stay in the slot's pinned buffer */
    double want;
    tt_cuda_ps_out flags;
    memset(&flags, 0, sizeof flags);
    flags.gw = flags.gg = &want;
    flags.gG = b->full ? &want : NULL;
    if (bl) { flags.bw = flags.bb = &want; flags.bB = b->full ? &want : NULL; }
    if (tt_cuda_dense_persample(c, &L, &flags, err, errlen)) return -1;
    ttc_ps_slot *s = &c->ps[c->nps_pending - 1];
    s->out = NULL;
    s->feed_w = c->probe_index[weight_layer];
    s->feed_b = bl ? c->probe_index[bias_layer] : -1;
    s->feed_gG = b->full != 0;
    s->gbar_scale = b->gbar_scale > 0 ? b->gbar_scale : 1;
    c->feed_B = b->batch;
    return 0;
}

/* A probe-bound request's sums into the probe, read in place from the slot's pinned buffer. */
static void feed_probe(tt_cuda *c, ttc_ps_slot *s)
{
    const size_t B = s->B;
    double *r = s->h_res;
    const double *n = r + TTC_PS_N * B;
    const double gs = s->gbar_scale;
    if (s->feed_gG)                                  /* ⟨g_i, gs·G⟩: the layer's buffer holds Ḡ / gs */
        for (size_t i = 0; i < B; i++) { r[TTC_PS_GBAR * B + i] *= gs; r[TTC_PS_BBAR * B + i] *= gs; }
    tt_persample_sums sums;
    memset(&sums, 0, sizeof sums);
    sums.batch = B;
    sums.gw = r + TTC_PS_GW * B; sums.gg = r + TTC_PS_GG * B; sums.gG = s->feed_gG ? r + TTC_PS_GBAR * B : NULL;
    if (s->feed_b >= 0) { sums.bw = r + TTC_PS_BW * B; sums.bb = r + TTC_PS_BB * B; sums.bB = s->feed_gG ? r + TTC_PS_BBAR * B : NULL; }
    sums.w_norm2 = n[TTC_NORM_W];
    sums.bias_norm2 = s->feed_b >= 0 ? n[TTC_NORM_BIAS] : 0;
    sums.gbar_norm2 = gs * gs * n[TTC_NORM_GBAR];
    sums.bbar_norm2 = s->feed_b >= 0 ? gs * gs * n[TTC_NORM_BBAR] : NAN;
    char err[256];
    /* cannot fail on shapes (checked when enqueued); a refusal leaves the step without per-sample numbers */
    tt_probe_persample_sums(c->probe, s->feed_w, s->feed_b, &sums, err, sizeof err);
}

void ttc_ps_scatter(tt_cuda *c)
{
    for (int k = 0; k < c->nps_pending; k++) {
        ttc_ps_slot *s = &c->ps[k];
        tt_cuda_ps_out *o = s->out;
        const size_t B = s->B;
        const double *r = s->h_res;
        if (!o) {
            if (c->probe && s->feed_w >= 0) feed_probe(c, s);
            continue;
        }
        double *dst[8] = {o->gw, o->gg, o->gG, o->gamma, o->bw, o->bb, o->bB, o->bgamma};
        for (int j = 0; j < 8; j++)
            if (dst[j]) memcpy(dst[j], r + (size_t)j * B, B * sizeof(double));
        const double *n = r + TTC_PS_N * B;
        o->w_norm2 = n[TTC_NORM_W];
        o->bias_norm2 = n[TTC_NORM_BIAS];
        o->gbar_norm2 = n[TTC_NORM_GBAR];
        o->bbar_norm2 = n[TTC_NORM_BBAR];
        uint64_t nf = (uint64_t)(n[TTC_NF_W] + n[TTC_NF_BIAS] + n[TTC_NF_GBAR] + n[TTC_NF_BBAR]), bad = 0;
        for (size_t i = 0; i < B; i++) {
            double b = r[TTC_PS_BAD * B + i];
            if (b > 0) { nf += (uint64_t)b; bad++; }
        }
        o->nonfinite = nf;
        o->bad_samples = bad;
    }
    c->nps_pending = 0;
    c->feed_B = 0;
}

void ttc_ps_free(tt_cuda *c)
{
    for (int k = 0; k < c->nps_alloc; k++) {
        ttc_ps_slot *s = &c->ps[k];
        ttc_dfree(c, s->d_res, (TTC_PS_N * s->capB + TTC_PS_NORMS) * sizeof(double));
        ttc_dfree(c, s->d_raw, s->cap_raw * sizeof(double));
        if (s->h_res) cudaFreeHost(s->h_res);
        memset(s, 0, sizeof *s);
    }
    ttc_dfree(c, c->ws, c->ws_cap);
    c->ws = NULL;
    c->ws_cap = 0;
    if (c->blas) cublasDestroy(c->blas);
    c->blas = NULL;
}
