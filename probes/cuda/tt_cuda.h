/* traintop GPU backend: METRICS.md §1 layer statistics and §2 per-sample statistics of tensors that
 * live in CUDA device memory, computed by fused kernels on the training stream and handed to a probe
 * as external layers (tt_probe_add_external_layer / tt_probe_layer_stats), plus per-step GPU timing
 * from CUPTI. Plain C: no CUDA type appears here (streams and device pointers are void *), so a C11
 * program includes this with -Iinclude -Iprobes/cuda and links lib/libtraintop_cuda.{a,so}.
 *
 * Lifetime (one training thread, one stream):
 *   c = tt_cuda_open(&opts)          opts.probe = the run's probe, opts.stream = the training stream
 *   tt_cuda_add_layer(c, …)…         before the first step; snapshots W_0 and W_prev on the device
 *   loop {
 *     forward; backward;
 *     tt_cuda_dense_persample(c, …)  optional, per dense layer: §2 on the device (before the update)
 *     optimizer update
 *     tt_cuda_step(c, step)          enqueues the fused statistics + ONE device→pinned copy + an event
 *     tt_cuda_collect(c, 1)          waits for that event, calls tt_probe_layer_stats for every layer
 *     tt_probe_step(probe, step)     publishes them (and the gpu_busy_ms/probe_gpu_ms scalars)
 *   }
 *   tt_cuda_close(c)
 *
 * Every function returns an error (-1 with one line in err, or NULL) instead of aborting; with no
 * CUDA device or driver, tt_cuda_open fails with "no CUDA device: …" and nothing else needs a GPU. */
#ifndef TRAINTOP_CUDA_H
#define TRAINTOP_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "traintop/probe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types of device tensors. */
enum { TT_CUDA_F32 = 0, TT_CUDA_F16 = 1, TT_CUDA_BF16 = 2 };

/* tt_cuda_collect results. */
enum { TT_CUDA_OK = 0, TT_CUDA_NOT_READY = 1, TT_CUDA_ERROR = -1 };

typedef struct tt_cuda tt_cuda;

typedef struct {
    tt_probe *probe;     /* statistics go to this probe at tt_cuda_collect (each layer registered in it
                            with tt_probe_add_external_layer); NULL: read them with tt_cuda_layer_result */
    int device;          /* CUDA device ordinal; -1: the calling thread's current device */
    void *stream;        /* the training loop's cudaStream_t; NULL: the legacy default stream. Every kernel
                            and copy of the backend is ordered on it, so the statistics read W and G after
                            the work enqueued before them and before the work enqueued after them */
    int every;           /* sampled steps: step % every == 0 — the probe's own `every`. 0: with a probe
                            whose library has tt_probe_sampled (the overhead budget), the steps it
                            samples §1 on; else 1. With timing on, collect also reports the backend's
                            GPU time to such a probe (tt_probe_cost, §1 and per-sample apart) */
    int timing;          /* per-step GPU timing. 0: none; 1: CUPTI (kernel records of the whole process),
                            or, when CUPTI is taken (another profiler, another backend), CUDA events
                            around the backend's own work (tt_cuda_timing_note says why); 2: events */
    int gemm_fp32;       /* 0: the per-sample ‖g_i‖² GEMMs on fp32 operands run on TF32 tensor cores
                            (fp32 accumulation; docs/gpu.md states the error); 1: full fp32 (slower) */
    int w0_every;        /* read W_0 for dist_init on every w0_every-th sampled step (the first included;
                            0 means 1); the other sampled steps skip that read (a quarter of an fp32
                            layer's traffic) and repeat the last dist_init computed */
} tt_cuda_opts;

/* Number of CUDA devices the runtime sees; 0 (and the reason in err) when there is no device or no
 * driver. Never fails otherwise. */
int tt_cuda_device_count(char *err, size_t errlen);

/* Opens the backend on a device. NULL with err ("no CUDA device: …", a bad option, out of memory). */
tt_cuda *tt_cuda_open(const tt_cuda_opts *opts, char *err, size_t errlen);

/* Registers a parameter: rows × cols row-major elements at device pointer w (dtype w_dtype) and its
 * gradient g (g_dtype: the same as w_dtype, or TT_CUDA_F32 — fp32 gradients of 16-bit weights). cols = 1
 * is a vector (a bias, a norm gain): one row, so angle_rows = angle, as in the C probe. The backend keeps
 * W_0 and W_prev on the device in w_dtype (exact copies: 2 × the parameter's bytes), taken now on the
 * stream. With a probe, the layer is also registered there as an external layer of the same name and
 * shape. Returns the backend's layer index (0, 1, …), or -1. Layers must be added before the first step. */
int tt_cuda_add_layer(tt_cuda *c, const char *name, size_t rows, size_t cols, int w_dtype, const void *w,
                      int g_dtype, const void *g, char *err, size_t errlen);

/* Points a layer at new device buffers (the framework reallocated them); the snapshots stay. */
int tt_cuda_rebind_layer(tt_cuda *c, int layer, const void *w, const void *g);

/* After the optimizer update of `step` (steps increase): on a sampled step, enqueues the fused
 * statistics of every layer (one kernel launch per step, whatever the number of layers) and ONE
 * cudaMemcpyAsync of all results into pinned host memory, then records an event. On the step before a
 * sampled one, W is copied into W_prev (fused into the statistics pass when both happen), so update
 * statistics describe one optimizer step. Never waits for the device. 0, or -1 with err. */
int tt_cuda_step(tt_cuda *c, int64_t step, char *err, size_t errlen);

/* tt_cuda_step on the caller's schedule: statistics when `sampled`, W_prev refreshed when
 * `next_sampled` (the next step is sampled) — for a probe whose schedule the caller knows step by step
 * (the overhead budget; the Python package passes what it asked tt_probe_sampled). */
int tt_cuda_step_sampled(tt_cuda *c, int64_t step, int sampled, int next_sampled, char *err, size_t errlen);

/* Completes the last tt_cuda_step: wait = 1 blocks on its event (only this backend's work and what was
 * enqueued before it on the stream); wait = 0 returns TT_CUDA_NOT_READY at once if it has not finished.
 * When done: with a probe, tt_probe_layer_stats for every layer of a sampled step and, with timing,
 * tt_probe_scalar gpu_busy_ms, probe_gpu_ms and gpu_kernels; the per-sample outputs handed to
 * tt_cuda_dense_persample since the previous collect are filled. TT_CUDA_OK (also when nothing was
 * pending), TT_CUDA_NOT_READY, or TT_CUDA_ERROR with err (a CUDA error: the stream's work failed).
 * While the stream is being captured into a CUDA graph, tt_cuda_step and tt_cuda_dense_persample refuse
 * (-1, nothing enqueued) and tt_cuda_collect returns TT_CUDA_NOT_READY with err set: collect after it. */
int tt_cuda_collect(tt_cuda *c, int wait, char *err, size_t errlen);

/* The statistics of the last collected sampled step (TT_LAYER_NSTATS values, the order of
 * tt_probe_layer_stats), NaN before the first. 0, or -1 for a bad layer. */
int tt_cuda_layer_result(const tt_cuda *c, int layer, double stats[TT_LAYER_NSTATS]);

/* The GPU time of the last collected step, per training step. CUPTI: from kernel activity records
 * (all streams of the process): gpu_busy_ms = the union of all kernels' execution intervals delivered
 * since the previous collect, probe_gpu_ms = that of the backend's own kernels (cuBLAS ones included),
 * kernels = their count. Events: probe_gpu_ms = the summed spans of the backend's enqueued work,
 * gpu_busy_ms = the stream's span between the last two collects (idle included: an upper bound; NaN at
 * the first), kernels = -1. A collect with only a W_prev refresh pending returns without waiting and
 * without timing: the next one covers its step. Any pointer may be NULL. 0, or -1 (NaN/-1 written)
 * when timing is off or was unavailable. */
int tt_cuda_step_timing(tt_cuda *c, double *gpu_busy_ms, double *probe_gpu_ms, int *kernels);

/* The timing in use: 0 none, 1 CUPTI, 2 CUDA events. */
int tt_cuda_timing_source(const tt_cuda *c);

/* "" or one line saying why events replaced CUPTI ("CUPTI is in use by another profiler (…): GPU time
 * from CUDA events"). Owned by the backend. */
const char *tt_cuda_timing_note(const tt_cuda *c);

/* Gives CUPTI up for event timing without touching CUPTI's state: for when another profiler started
 * after the backend (torch.profiler: its activity callbacks now replace ours, and disabling or flushing
 * would disturb it). why goes into the note. 0, or -1 when timing is off. */
int tt_cuda_use_event_timing(tt_cuda *c, const char *why);

/* One dense layer's batch on the device, for METRICS.md §2 — the tt_dense of metrics/persample.h with
 * device pointers and dtypes. Sample i has T rows a_it, δ_it; g_i = scale · Σ_t δ_it a_itᵀ. */
typedef struct {
    size_t B, T, d_in, d_out;    /* batch, tokens per sample (1 for plain inputs), layer shape */
    int a_dtype;                 /* of A, D and Z (activations and output gradients) */
    int w_dtype;                 /* of W and bias */
    int g_dtype;                 /* of Gbar and bbar */
    const void *A;               /* inputs, B×T×d_in */
    const void *D;               /* output gradients δ, B×T×d_out (each sample's own loss: see scale) */
    double scale;                /* B for δ of a mean-reduced loss, 1 for per-sample δ */
    const void *W;               /* d_out×d_in */
    const void *bias;            /* d_out, or NULL */
    const void *Z;               /* pre-activations W a + bias, B×T×d_out, or NULL (then one more GEMM) */
    const void *Gbar;            /* mean_i g_i (d_out×d_in), or NULL: ⟨g_i, Ḡ⟩ not computed */
    const void *bbar;            /* mean_i b_i (d_out), or NULL */
    const float *loss_scale;     /* device pointer to the loss scale S the backward pass ran with (mixed
                                    precision: GradScaler's scale tensor), or NULL for 1. D, Gbar and bbar
                                    then hold S × their values, and are divided by S on the device */
} tt_cuda_dense;

/* Host outputs, the layout and meaning of tt_persample_out (metrics/persample.h): arrays of B doubles
 * owned by the caller, each may be NULL; the scalars are always written. */
typedef struct {
    double *gw, *gg, *gG, *gamma;
    double *bw, *bb, *bB, *bgamma;
    double w_norm2, bias_norm2, gbar_norm2, bbar_norm2;
    uint64_t nonfinite, bad_samples;
} tt_cuda_ps_out;

/* Enqueues §2 for one dense layer on the stream — ⟨g_i, W⟩ from Z, ‖g_i‖² (T = 1: ‖δ_i‖²‖a_i‖²;
 * T > 1: the Gram form, two batched GEMMs, or g_i materialised by one batched GEMM, whichever the
 * host's cost model finds cheaper), ⟨g_i, W⟩ without Z and ⟨g_i, Ḡ⟩ from the materialised g_i or a GEMM
 * A·Mᵀ, the bias statistics and γ — with the semantics of tt_dense_persample (NaN rules included;
 * GEMM precision: docs/gpu.md). out is filled
 * at the next tt_cuda_collect (it must stay valid until then). Call it after the backward pass and
 * before the optimizer update. 0, or -1 with err. */
int tt_cuda_dense_persample(tt_cuda *c, const tt_cuda_dense *L, tt_cuda_ps_out *out, char *err, size_t errlen);

/* One dense layer's batch for the probe's model-level per-sample statistics (GWA, noise scale, the
 * layers' own γ and noise numbers): the tt_dense_batch of traintop/probe.h with device pointers. W,
 * Ḡ, bias and b̄ are the registered layers' tensors. */
typedef struct {
    size_t batch, tokens;        /* B, T (0 means 1) */
    int a_dtype;                 /* of inputs, out_grads and preact */
    const void *inputs;          /* B×T×cols of the weight layer */
    const void *out_grads;       /* dL/dz, B×T×rows */
    double grad_scale;           /* out_grads × grad_scale = each sample's own gradient: B for a mean loss */
    const void *preact;          /* z = W a + b, B×T×rows, or NULL (one more GEMM) */
    double gbar_scale;           /* the registered gradient × gbar_scale = the mean per-sample gradient (0 means 1) */
    int full;                    /* also ⟨g_i, Ḡ⟩ (inner-product and orthogonality tests): one more GEMM —
                                    pass the probe's persample_full */
    const float *loss_scale;     /* device pointer to the loss scale S (GradScaler's), or NULL: out_grads and
                                    the registered gradients are S × the loss's own; read on the device */
} tt_cuda_batch;

/* Enqueues §2 for a dense layer whose weight (and bias: -1 for none) were added to this backend, on
 * the stream, after the backward pass and before the optimizer update; at the next tt_cuda_collect
 * the per-sample sums go to the probe (tt_probe_persample_sums), before tt_probe_step publishes the
 * step. Needs a backend opened with a probe; all layers of a step must have the same batch size. 0,
 * or -1 with err. */
int tt_cuda_dense_batch(tt_cuda *c, int weight_layer, int bias_layer, const tt_cuda_batch *b, char *err, size_t errlen);

/* Device bytes the backend holds (snapshots, scratch, workspaces). */
size_t tt_cuda_device_bytes(const tt_cuda *c);

/* Waits for the stream, releases everything (CUPTI included). NULL-safe. */
void tt_cuda_close(tt_cuda *c);

#ifdef __cplusplus
}
#endif
#endif
