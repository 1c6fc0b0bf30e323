/* pertensor: bench_cuda's naive baseline, needing no torch. The 12 statistics of each fp32 tensor the
 * way an eager framework computes them (bench/bench_torch.py's torch_layer_stats, op for op): one
 * cuBLAS call or small kernel per operation, each reading whole tensors, the scalars left on the
 * device and copied to the host once per step. cuBLAS runs in device pointer mode, so nothing waits
 * between operations: the cost measured is the operations' own, not host round trips. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "pertensor.h"

#define PT_THREADS 256

/* out = a − b */
__global__ void k_sub(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = a[i] - b[i];
}

/* The block's sum of every thread's s, in float as eager frameworks reduce; valid in thread 0. */
static __device__ float block_sum(float s)
{
    __shared__ float sh[PT_THREADS];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int o = PT_THREADS / 2; o > 0; o /= 2) {
        if ((int)threadIdx.x < o) sh[threadIdx.x] += sh[threadIdx.x + o];
        __syncthreads();
    }
    return sh[0];
}

/* out[r] = Σ_c x[r,c]·y[r,c], one block per row (norm(dim=1)² and (w*p).sum(1)) */
__global__ void k_rowdot(float *out, const float *x, const float *y, size_t cols)
{
    const float *xr = x + (size_t)blockIdx.x * cols, *yr = y + (size_t)blockIdx.x * cols;
    float s = 0;
    for (size_t c = threadIdx.x; c < cols; c += PT_THREADS) s += xr[c] * yr[c];
    s = block_sum(s);
    if (threadIdx.x == 0) out[blockIdx.x] = s;
}

/* sqrt(mean over rows of acos(clamp(cos_r))²), one block (acos(rc.clamp).pow(2).mean().sqrt()) */
__global__ void k_rowangle(float *out, const float *ww, const float *pp, const float *wp, size_t rows)
{
    float s = 0;
    for (size_t r = threadIdx.x; r < rows; r += PT_THREADS) {
        float c = wp[r] / (sqrtf(ww[r]) * sqrtf(pp[r]));
        c = fminf(1.0f, fmaxf(-1.0f, c));
        float a = acosf(c);
        s += a * a;
    }
    s = block_sum(s);
    if (threadIdx.x == 0) *out = sqrtf(s / (float)rows);
}

/* NaN/Inf entries of w and g ((~isfinite(w)).sum() + (~isfinite(g)).sum()) */
__global__ void k_nonfinite(float *out, const float *w, const float *g, size_t n)
{
    float bad = 0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        bad += (float)(!isfinite(w[i])) + (float)(!isfinite(g[i]));
    if (bad > 0) atomicAdd(out, bad);
}

__global__ void k_fill(float *x, float v, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) x[i] = v;
}

/* the scalar ops (torch.stack of the 12) from the reductions */
enum { R_WN, R_GN, R_PN, R_DN, R_WP, R_RA, R_GW, R_SUM, R_D0, R_NF, R_N };

__global__ void k_finish(float *out, const float *r, size_t n)
{
    const float wn = r[R_WN], gn = r[R_GN], pn = r[R_PN], dn = r[R_DN], sq = sqrtf((float)n), mean = r[R_SUM] / (float)n;
    out[0] = wn;
    out[1] = gn;
    out[2] = wn / sq;
    out[3] = gn / sq;
    out[4] = wn * wn / (float)n - mean * mean;
    out[5] = dn;
    out[6] = dn / pn;
    out[7] = acosf(fminf(1.0f, fmaxf(-1.0f, r[R_WP] / (wn * pn))));
    out[8] = r[R_RA];
    out[9] = -r[R_GW] / (gn * wn);
    out[10] = r[R_D0];
    out[11] = r[R_NF];
}

static unsigned blocks(size_t n)
{
    size_t b = (n + PT_THREADS - 1) / PT_THREADS;
    return (unsigned)(b > 4096 ? 4096 : b < 1 ? 1 : b);
}

struct tt_pertensor {
    int nl;
    size_t rows, cols, n;
    const float *const *w, *const *g;
    float **prev, **w0;            /* the baseline's own snapshots */
    float *tmp, *ones, *rowbuf, *red, *out;
    float *h_out;
    cublasHandle_t h;
    cudaStream_t s;
};

static int fail(char *err, size_t len, const char *what, cudaError_t e)
{
    snprintf(err, len, "pertensor: %s: %s", what, cudaGetErrorString(e));
    return -1;
}

tt_pertensor *tt_pertensor_open(const float *const *w, const float *const *g, int nl, size_t rows, size_t cols,
                                void *stream, char *err, size_t errlen)
{
    tt_pertensor *p = (tt_pertensor *)calloc(1, sizeof *p);
    if (!p) { snprintf(err, errlen, "pertensor: out of memory"); return NULL; }
    p->nl = nl; p->rows = rows; p->cols = cols; p->n = rows * cols;
    p->w = w; p->g = g;
    p->s = (cudaStream_t)stream;
    p->prev = (float **)calloc((size_t)nl, sizeof *p->prev);
    p->w0 = (float **)calloc((size_t)nl, sizeof *p->w0);
    if (!p->prev || !p->w0) { snprintf(err, errlen, "pertensor: out of memory"); tt_pertensor_close(p); return NULL; }
    cudaError_t e = cudaSuccess;
    const size_t bytes = p->n * 4;
    for (int l = 0; l < nl && e == cudaSuccess; l++) {
        if ((e = cudaMalloc((void **)&p->prev[l], bytes)) == cudaSuccess && (e = cudaMalloc((void **)&p->w0[l], bytes)) == cudaSuccess &&
            (e = cudaMemcpy(p->prev[l], w[l], bytes, cudaMemcpyDeviceToDevice)) == cudaSuccess)
            e = cudaMemcpy(p->w0[l], w[l], bytes, cudaMemcpyDeviceToDevice);
    }
    if (e == cudaSuccess) e = cudaMalloc((void **)&p->tmp, bytes);
    if (e == cudaSuccess) e = cudaMalloc((void **)&p->ones, bytes);
    if (e == cudaSuccess) e = cudaMalloc((void **)&p->rowbuf, 3 * rows * 4);
    if (e == cudaSuccess) e = cudaMalloc((void **)&p->red, (size_t)nl * R_N * 4);
    if (e == cudaSuccess) e = cudaMalloc((void **)&p->out, (size_t)nl * 12 * 4);
    if (e == cudaSuccess) e = cudaMallocHost((void **)&p->h_out, (size_t)nl * 12 * 4);
    if (e != cudaSuccess) { fail(err, errlen, "allocation", e); tt_pertensor_close(p); return NULL; }
    k_fill<<<blocks(p->n), PT_THREADS>>>(p->ones, 1.0f, p->n);
    if (cublasCreate(&p->h) != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, errlen, "pertensor: cublasCreate failed");
        p->h = NULL;
        tt_pertensor_close(p);
        return NULL;
    }
    cublasSetStream(p->h, p->s);
    cublasSetPointerMode(p->h, CUBLAS_POINTER_MODE_DEVICE);
    cublasSetMathMode(p->h, CUBLAS_DEFAULT_MATH);
    if ((e = cudaDeviceSynchronize()) != cudaSuccess) { fail(err, errlen, "setup", e); tt_pertensor_close(p); return NULL; }
    return p;
}

int tt_pertensor_step(tt_pertensor *p, char *err, size_t errlen)
{
    const int n = (int)p->n;
    const size_t rows = p->rows;
    float *rw = p->rowbuf, *rp = rw + rows, *rwp = rp + rows;
    for (int l = 0; l < p->nl; l++) {
        const float *w = p->w[l], *g = p->g[l];
        float *prev = p->prev[l], *r = p->red + (size_t)l * R_N;
        cublasSnrm2(p->h, n, w, 1, r + R_WN);
        cublasSnrm2(p->h, n, g, 1, r + R_GN);
        cublasSnrm2(p->h, n, prev, 1, r + R_PN);
        k_sub<<<blocks(p->n), PT_THREADS, 0, p->s>>>(p->tmp, w, prev, p->n);
        cublasSnrm2(p->h, n, p->tmp, 1, r + R_DN);
        cublasSdot(p->h, n, w, 1, prev, 1, r + R_WP);
        k_rowdot<<<(unsigned)rows, PT_THREADS, 0, p->s>>>(rw, w, w, p->cols);
        k_rowdot<<<(unsigned)rows, PT_THREADS, 0, p->s>>>(rp, prev, prev, p->cols);
        k_rowdot<<<(unsigned)rows, PT_THREADS, 0, p->s>>>(rwp, w, prev, p->cols);
        k_rowangle<<<1, PT_THREADS, 0, p->s>>>(r + R_RA, rw, rp, rwp, rows);
        cublasSdot(p->h, n, g, 1, w, 1, r + R_GW);
        cublasSdot(p->h, n, w, 1, p->ones, 1, r + R_SUM);
        k_sub<<<blocks(p->n), PT_THREADS, 0, p->s>>>(p->tmp, w, p->w0[l], p->n);
        cublasSnrm2(p->h, n, p->tmp, 1, r + R_D0);
        cudaMemsetAsync(r + R_NF, 0, 4, p->s);
        k_nonfinite<<<blocks(p->n), PT_THREADS, 0, p->s>>>(r + R_NF, w, g, p->n);
        k_finish<<<1, 1, 0, p->s>>>(p->out + (size_t)l * 12, r, p->n);
        cudaMemcpyAsync(prev, w, p->n * 4, cudaMemcpyDeviceToDevice, p->s);
    }
    cudaMemcpyAsync(p->h_out, p->out, (size_t)p->nl * 12 * 4, cudaMemcpyDeviceToHost, p->s);
    cudaError_t e = cudaStreamSynchronize(p->s);
    if (e == cudaSuccess) e = cudaGetLastError();
    return e == cudaSuccess ? 0 : fail(err, errlen, "step", e);
}

const float *tt_pertensor_result(const tt_pertensor *p, int layer)
{
    return p->h_out + (size_t)layer * 12;
}

void tt_pertensor_close(tt_pertensor *p)
{
    if (!p) return;
    for (int l = 0; p->prev && p->w0 && l < p->nl; l++) {
        cudaFree(p->prev[l]);
        cudaFree(p->w0[l]);
    }
    free(p->prev);
    free(p->w0);
    cudaFree(p->tmp); cudaFree(p->ones); cudaFree(p->rowbuf); cudaFree(p->red); cudaFree(p->out);
    if (p->h_out) cudaFreeHost(p->h_out);
    if (p->h) cublasDestroy(p->h);
    free(p);
}
