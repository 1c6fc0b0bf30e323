/* tt_cuda_host: the GPU backend's host-side logic in plain C, testable without a GPU — the work plan
 * of the fused statistics kernel (which block reads which elements), the sampling bookkeeping, the
 * per-step CUPTI timing arithmetic, and fp16/bf16 conversions for tests. Internal header. */
#ifndef TT_CUDA_HOST_H
#define TT_CUDA_HOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TTC_BLOCK 256            /* threads per block of the statistics kernel */
#define TTC_VEC 8                /* elements per vector access (16 B of fp16/bf16, 2 × 16 B of fp32) */
#define TTC_ROWS_MAX_COLS 8192   /* rows up to this long are handled whole by a group of lanes */
#define TTC_ITEM_MIN 4096        /* elements per block, bounds */
#define TTC_ITEM_MAX 65536
#define TTC_ITEMS_PER_SM 16      /* blocks per multiprocessor the item size aims at: many short waves */

/* One block's work: entries [e0, e0 + n) of one layer. In rows mode these are whole rows; in piece
 * mode a piece of one row (a row longer than TTC_ROWS_MAX_COLS is split into `pieces` items). */
typedef struct {
    uint64_t e0;
    uint32_t n;
    uint32_t layer;
} ttc_item;

/* A layer as the kernel sees it (the array is copied to the device as is). */
typedef struct {
    const void *w, *g;           /* the framework's tensors */
    void *prev;                  /* W_prev snapshot (w's dtype), refreshed by the kernel */
    const void *w0;              /* W_0 snapshot (w's dtype) */
    uint64_t n, rows, cols;      /* effective shape: a vector or a single row is 1 × n */
    uint32_t item0, nitems;      /* this layer's items */
    uint32_t pieces;             /* 0: rows mode; else items per row (piece mode) */
    uint32_t group;              /* rows mode: lanes per row, a power of two ≤ 32 */
    uint32_t piece_len;          /* piece mode: entries per piece (the last piece of a row is shorter) */
    uint8_t wt, gt;              /* TT_CUDA_F32/F16/BF16 of w (and prev, w0) and of g */
    uint8_t vec;                 /* 1: every row starts 16-byte aligned in all four tensors: vector loads */
    uint8_t pad;
} ttc_layer;

/* Bytes of one element of a dtype; 0 for an unknown dtype. */
size_t ttc_dtype_size(int dtype);
const char *ttc_dtype_name(int dtype);

/* Effective shape (a vector, cols = 1, is one row of n) and the vector-load test; sets l->n, rows,
 * cols, vec from the pointers (all four must be set). */
void ttc_layer_shape(ttc_layer *l, size_t rows, size_t cols);

/* Entries per work item for `total` entries over `sm_count` multiprocessors: a power of two in
 * [TTC_ITEM_MIN, TTC_ITEM_MAX] that gives each multiprocessor about TTC_ITEMS_PER_SM blocks (2 run at
 * a time: short waves keep the tail of the launch short). */
uint32_t ttc_item_elems(uint64_t total, int sm_count);

/* Splits every layer into items of about item_elems entries; sets each layer's item0, nitems,
 * pieces, piece_len and group. items may be NULL (count only). Returns the number of items. */
size_t ttc_plan(ttc_layer *layers, int nlayers, uint32_t item_elems, ttc_item *items);

/* §2 launch plan of one dense layer's request, chosen on the host.
 *
 * ‖g_i‖² for T > 1 has two forms. Gram: Σ_{t,s}(a_it·a_is)(δ_it·δ_is) from the T×T Gram matrices of
 * A_i and D_i, 2·B·T²·(d_in+d_out) flops. Materialised: g_i = D_iᵀA_i (d_out×d_in) by one batched
 * GEMM, 2·B·T·d_in·d_out flops, then one pass over g_i that also gives ⟨g_i, W⟩ and ⟨g_i, Ḡ⟩, which
 * the Gram form needs an A·Mᵀ GEMM (2·B·T·d_in·d_out) each for. Each form's cost adds its workspace
 * traffic (written once, read once) at TTC_PS_FLOP_PER_BYTE; the cheaper is taken, among the forms
 * whose one sample fits the workspace cap (both too big: the smaller workspace). Per-sample
 * reductions run as C chunks per sample (a C × B grid), enough blocks to fill the GPU. */
#define TTC_PS_MAX_CHUNKS 64
#define TTC_PS_CHUNK_MIN 2048          /* elements per block at least: a chunk is worth a block */
#define TTC_PS_BLOCKS_PER_SM 8         /* resident 256-thread blocks a per-sample launch aims at */
#define TTC_PS_FLOP_PER_BYTE 100.0     /* tensor-core flops per byte of HBM traffic (H100: ~300 bf16, ~150 TF32) */

typedef struct {
    uint32_t chunks;           /* C: blocks per sample in every per-sample reduction */
    int materialise;           /* T > 1: ‖g_i‖² (and ⟨g_i,W⟩, ⟨g_i,Ḡ⟩) from materialised g_i; 0: Gram form */
    int u_w, u_g;              /* GEMMs U = A·Wᵀ, A·Ḡᵀ still needed (Gram form or T = 1) */
    uint64_t gemm_chunk;       /* samples per round of the ‖g_i‖² GEMMs under the workspace cap (≥ 1) */
    size_t ws_per_sample;      /* workspace bytes per sample of those GEMMs (fp32 results) */
    double cost_gram, cost_mat;/* modelled costs, flop-equivalents (0 when T = 1) */
} ttc_ps_plan;

/* want_gw_u: ⟨g_i, W⟩ wanted and no Z (Z gives it without a GEMM); want_gG: ⟨g_i, Ḡ⟩ wanted.
 * ws_cap: workspace bytes (one sample always fits). */
ttc_ps_plan ttc_ps_plan_make(uint64_t B, uint64_t T, uint64_t din, uint64_t dout, int want_gw_u, int want_gG,
                             int sm_count, size_t ws_cap);

/* Sampling, as tt_probe_step: the statistics of a sampled step need W_prev from the step before, so
 * that step refreshes it. have_prev is the state kept between steps (1 after add). */
typedef struct {
    int sampled;                 /* compute statistics this step */
    int refresh;                 /* copy W into W_prev this step */
    int have_prev;               /* W_prev holds the previous step's weights for this step's statistics */
} ttc_step_plan;
ttc_step_plan ttc_step_decide(int64_t step, int every, int *have_prev);

/* Per-step GPU timing from kernel activity records. Records arrive in any order; ours are the
 * correlation ids tagged (external correlation) while the backend launched work. */
typedef struct {
    uint64_t start, end;
    uint32_t corr;
} ttc_kernel_rec;

typedef struct {
    ttc_kernel_rec *k;
    size_t nk, capk;
    uint32_t *ours;              /* tagged correlation ids of this step and the previous one */
    size_t nours, capours, ours_prev;   /* ours[0, ours_prev) came before the last step end */
    uint64_t dropped;            /* records lost to allocation failures */
} ttc_timing;

void ttc_timing_init(ttc_timing *t);
void ttc_timing_free(ttc_timing *t);
void ttc_timing_add_ours(ttc_timing *t, uint32_t corr);
void ttc_timing_add_kernel(ttc_timing *t, uint64_t start, uint64_t end, uint32_t corr);
/* Closes a step: the union of all kernel intervals (busy), of ours (probe), and the kernel count;
 * clears the kernels and keeps this step's tagged ids one more step (their records may come late). */
void ttc_timing_step(ttc_timing *t, double *busy_ms, double *probe_ms, int *kernels);
/* What one step's numbers become when the flush covered `steps` training steps (every > 1: the
 * backend collects only on sampled steps and the refresh step before them): the mean per step. */
void ttc_timing_per_step(int steps, double *busy_ms, double *probe_ms, int *kernels);

/* Length (ns) of the union of intervals, sorting them in place. */
uint64_t ttc_union_ns(ttc_kernel_rec *k, size_t n);

/* IEEE half and bfloat16 from/to float (round to nearest even), for tests and host staging. */
float ttc_h2f(uint16_t h);
uint16_t ttc_f2h(float f);
float ttc_bf2f(uint16_t b);
uint16_t ttc_f2bf(float f);
/* n elements of dtype at src (host memory) to float. */
void ttc_to_float(int dtype, const void *src, float *dst, size_t n);
void ttc_from_float(int dtype, const float *src, void *dst, size_t n);

#ifdef __cplusplus
}
#endif
#endif
