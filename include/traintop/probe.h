/* traintop probe: per-layer training statistics published from inside a training loop.
 *
 * Lifetime:  tt_probe_open → tt_probe_add_layer… → loop { tt_probe_scalar…; tt_probe_step } → tt_probe_close
 * Guarantees: no call blocks on the network or aborts the process. Sends are non-blocking; every message
 * is kept until the collector acknowledges it, and sent again after a reconnect or a collector restart;
 * what the memory budget cannot hold, and what is unacknowledged at close, goes to the spool (see
 * tt_probe_opts.spool). Only without a spool is a message dropped, and counted (tt_probe_counters). Errors are returned as -1 with one line in the caller's buffer.
 * A probe is not thread-safe: use it from the training thread. */
#ifndef TRAINTOP_PROBE_H
#define TRAINTOP_PROBE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the library's public functions: the only symbols libtraintop.so exports (it is built with
 * -fvisibility=hidden; a test compares its exported symbols with the TT_API declarations here). */
#if defined(__GNUC__) || defined(__clang__)
#define TT_API __attribute__((visibility("default")))
#else
#define TT_API
#endif

#define TT_PROTOCOL_VERSION 2          /* 2: acknowledged delivery (seq, base, ack); 1 still accepted */
#define TT_NAME_MAX 128          /* run, layer and scalar names, bytes including NUL */

typedef struct tt_probe tt_probe;

typedef struct {
    const char *run;             /* run name, required: [A-Za-z0-9_.:+=-]{1,127} */
    const char *endpoint;        /* NULL: $TRAINTOP_ENDPOINT, else the per-user default */
    int rank;                    /* this process's rank, 0 if not distributed */
    int world_size;              /* number of ranks, 1 if not distributed (0 means 1) */
    int every;                   /* a fixed schedule: layer and per-sample statistics every N steps
                                    (step % N == 0). 0: the overhead budget below chooses the steps */
    int spectral_every;          /* spectral statistics (α, stable rank, …) of every 2-D layer every N
                                    steps, computed on a snapshot in a background thread (0: off) */
    int persample_full;          /* per-sample statistics also compute ⟨g_i, Ḡ⟩ (inner-product and
                                    orthogonality tests) and GSNR: one more GEMM per layer */
    int gwa_window;              /* steps per GWA window (an epoch, say; 0: 50) */
    const char *spool;           /* where messages the collector has not acknowledged go when the memory
                                    budget is spent or at close: JSON lines that `traintop replay` reads.
                                    NULL: the default file under $XDG_STATE_HOME/traintop/spool/<endpoint>/,
                                    which a collector on that endpoint imports by itself; "": none (they
                                    are dropped, and counted) */
    double overhead;             /* the overhead budget (when every is 0), a fraction of the step time
                                    (0: 0.015). The probe measures its own cost per step (and what
                                    tt_probe_cost reports) against the time between steps, and samples §1
                                    and per-sample statistics each every k steps, k chosen so that the
                                    long-run cost stays within the budget (at least one sample of each per
                                    30 s). The achieved overhead is the scalar probe_overhead_pct */
} tt_probe_opts;

/* Opens a run. opts_size is sizeof(tt_probe_opts) as the caller was built (pass `sizeof opts`): a caller
 * built against an older, smaller struct keeps working (the fields it lacks are zero), and a larger one
 * is accepted when the bytes this library does not know are zero (else refused: an option it lacks).
 * Returns NULL and fills err on invalid options; never fails because the collector is absent. */
TT_API tt_probe *tt_probe_open(const tt_probe_opts *opts, size_t opts_size, char *err, size_t errlen);

/* Free-form hyperparameters, sent once with the run's start (before the first tt_probe_step). */
TT_API int tt_probe_hparam_num(tt_probe *p, const char *key, double value);
TT_API int tt_probe_hparam_str(tt_probe *p, const char *key, const char *value);

/* Registers a dense parameter of rows x cols float32 values (cols = 1 for a vector). The probe reads
 * w and g in place at each sampled step; they must stay valid until tt_probe_close. It keeps its own
 * copies of the previous-step and initial weights (taken now) for update and distance statistics.
 * Returns the layer's index (0, 1, …) or -1. Layers must be added before the first tt_probe_step. */
TT_API int tt_probe_add_layer(tt_probe *p, const char *name, size_t rows, size_t cols,
                       const float *w, const float *g, char *err, size_t errlen);

/* One dense layer's batch, for per-sample statistics (METRICS.md §2) — no per-sample gradient is
 * ever formed. Row-major float32, sample-major: B samples × T tokens (T = 1 for plain inputs). */
typedef struct {
    size_t batch, tokens;        /* B, T */
    const float *inputs;         /* the layer's inputs a: B×T×cols of the weight layer */
    const float *out_grads;      /* dL/dz for the layer's outputs z: B×T×rows */
    double grad_scale;           /* out_grads × grad_scale = each sample's own loss gradient:
                                    B for a mean-reduced loss, 1 for a summed one */
    const float *preact;         /* z = W a + b, B×T×rows, or NULL (then W a costs one more GEMM) */
    double gbar_scale;           /* the registered gradient × gbar_scale = the mean per-sample gradient:
                                    1 (or 0) for a mean-reduced loss, 1/B for a summed one */
} tt_dense_batch;

/* Hands in a dense layer's batch for the step about to be published, after the backward pass and
 * before the optimizer update. Under the overhead budget a batch for a step that does not sample
 * per-sample statistics is ignored (0 returned): tt_probe_sampled says which steps do. weight_layer
 * is the index tt_probe_add_layer gave the weight (rows = outputs, cols = inputs); bias_layer the
 * bias's, or -1. The registered gradient buffers must
 * hold the batch-mean gradient. The probe combines all layers of a step into the model's per-sample
 * alignment γ_i (GWA, published as the scalar "gwa" once per window) and gradient-noise statistics
 * (noise_scale, trace_sigma, …). Returns 0, or -1 with err. */
TT_API int tt_probe_dense_batch(tt_probe *p, int weight_layer, int bias_layer, const tt_dense_batch *b,
                         char *err, size_t errlen);

/* A dense layer's per-sample sums computed elsewhere — by the GPU backend (probes/cuda), or any code
 * that already has them — for the same model-level statistics as tt_probe_dense_batch. Arrays of
 * `batch` doubles, sample i's entry NaN when the sample is bad; Ḡ and b̄ are the mean per-sample
 * gradients (already scaled: the batch-mean gradient of a mean-reduced loss). */
typedef struct {
    size_t batch;
    const double *gw, *gg, *gG;  /* the weight's ⟨g_i, W⟩, ‖g_i‖², ⟨g_i, Ḡ⟩ (gG may be NULL) */
    const double *bw, *bb, *bB;  /* the bias's ⟨b_i, bias⟩, ‖b_i‖², ⟨b_i, b̄⟩ (NULL without a bias) */
    double w_norm2, bias_norm2;  /* ‖W‖², ‖bias‖² */
    double gbar_norm2, bbar_norm2; /* ‖Ḡ‖², ‖b̄‖² (NaN when unknown: no noise statistics then) */
} tt_persample_sums;

/* Hands in one dense layer's per-sample sums for the step about to be published; weight_layer and
 * bias_layer (-1: none) may be external layers. Layers of one step must agree on the batch size. In
 * full mode (persample_full) a layer without gG makes that step's inner/orthogonality tests NaN.
 * Returns 0, or -1 with err. */
TT_API int tt_probe_persample_sums(tt_probe *p, int weight_layer, int bias_layer, const tt_persample_sums *s,
                            char *err, size_t errlen);

/* Names the classifier head's weight layer (-1: none): its own per-sample γ_i fill a second GWA window,
 * published as "gwa_paper" (the reference's head-only GWA, hlzl/gwa), "gwa_paper_pole", "gwa_head_mean".
 * 0, or -1 for an unknown layer. */
TT_API int tt_probe_gwa_head(tt_probe *p, int weight_layer);

/* Points a registered layer at new buffers (a framework replaced the tensor or its gradient); the
 * probe's W_prev and W_0 copies stay. Same shape required. 0, or -1. */
TT_API int tt_probe_rebind_layer(tt_probe *p, int layer, const float *w, const float *g);

/* The optimizer of the step about to be published: "sgd" (momentum = SGD momentum, coupled weight
 * decay) or "adamw" (momentum = β1, decoupled weight decay). Gives the predicted equilibrium angle
 * (scalar "eq_angle") beside the measured one, and the effective step of scale-invariant weights. */
TT_API int tt_probe_optimizer(tt_probe *p, const char *kind, double lr, double wd, double momentum);

/* Layers whose statistics are computed elsewhere — on a GPU, or by torch ops on tensors that are not
 * float32 in host memory — and handed in each sampled step with tt_probe_layer_stats. The statistics
 * are METRICS.md §1 in this order (docs/metrics.md): */
#define TT_LAYER_NSTATS 12
/* w_norm, g_norm, w_rms, g_rms, w_var, update_norm, update_ratio, angle, angle_rows, gw_cos, dist_init,
 * nonfinite. Returns the layer's index or -1 with err. */
TT_API int tt_probe_add_external_layer(tt_probe *p, const char *name, size_t rows, size_t cols, char *err, size_t errlen);
/* Hands in the statistics of an external layer for the step about to be published (n must be
 * TT_LAYER_NSTATS; NaN where unknown). A sampled step without them publishes NaN for that layer. */
TT_API int tt_probe_layer_stats(tt_probe *p, int layer, const double *stats, int n);

/* What the probe samples at `step`, a step after the last published one: TT_SAMPLE_STATS (the layers'
 * §1 statistics: registered buffers are read at tt_probe_step), TT_SAMPLE_PERSAMPLE (per-sample
 * statistics: dense batches are used). 0: nothing is read at that step — skip hooks and copies.
 * Under the budget steps are counted one by one from the last published (`step` is the
 * (step - last)th to come) and the answer is exact for the next two steps; beyond them it is
 * conservative (sampled). Returns the bits, or -1 for a step that is not after the last. */
#define TT_SAMPLE_STATS 1
#define TT_SAMPLE_PERSAMPLE 2
TT_API int tt_probe_sampled(const tt_probe *p, int64_t step);

/* Time spent on the probe's behalf outside libtraintop for the step about to be published — a
 * framework's hooks and copies, GPU kernels — in seconds, for the work of `kind`: TT_SAMPLE_STATS,
 * TT_SAMPLE_PERSAMPLE, or 0 for what every step costs. Counted in the overhead budget and probe_ms.
 * 0, or -1 for a bad kind or time. */
TT_API int tt_probe_cost(tt_probe *p, int kind, double seconds);

/* Sets a named scalar (loss, lr, val_loss, …) for the step about to be published. */
TT_API int tt_probe_scalar(tt_probe *p, const char *name, double value);

/* System and GPU metrics on the probe's own timer: a background thread samples the process's CPU % and
 * resident memory and the host's memory (/proc), and — where an NVIDIA driver is installed, through NVML
 * loaded at run time — each GPU's utilisation, memory, power, temperature and SM clock, every
 * interval_s seconds (<= 0: 5 s). The next tt_probe_step after each sample publishes it as scalars:
 * sys_cpu_percent, sys_rss_bytes, sys_host_mem_used_bytes, sys_host_mem_total_bytes and
 * gpu<k>_{util_percent,mem_used_bytes,mem_total_bytes,power_watts,temp_celsius,sm_clock_mhz} (docs/metrics.md).
 * gpus: the CUDA device numbers to read ("0", "0,1"), NULL for every visible GPU (at most 4), "" for
 * none. Calling it again restarts the sampler with the new settings. 0, or -1 with err. */
TT_API int tt_probe_system_metrics(tt_probe *p, double interval_s, const char *gpus, char *err, size_t errlen);

/* Marks the end of a training step, after the optimizer update: computes the layer statistics when
 * the step is sampled and publishes the step with its scalars (probe_ms: this step's probe cost;
 * probe_overhead_pct on sampled steps: the achieved overhead, % of the step time over the last ~20 s).
 * Steps must increase. Returns 0, or -1 for a bad step. */
TT_API int tt_probe_step(tt_probe *p, int64_t step);

/* tt_probe_step for a step that ended at `ended` (seconds on CLOCK_MONOTONIC) and is published later:
 * a framework that lets a step's device values land before publishing it (no host wait) says when the
 * step really ended, so the step times the overhead budget measures stay the training's own. A time in
 * the future, or before the last step's, is taken as now. */
TT_API int tt_probe_step_at(tt_probe *p, int64_t step, double ended);

/* Non-zero once the collector (a rule or a user) asked this run to stop; reason gets why.
 * Cheap (no system call when nothing is pending): call it every step. */
TT_API int tt_probe_should_stop(tt_probe *p, char *reason, size_t len);

typedef struct {
    uint64_t sent;               /* messages handed to the transport */
    uint64_t dropped;            /* messages lost: the queue was full or nobody listened, and no spool */
    uint64_t steps;              /* tt_probe_step calls */
    double stats_seconds;        /* time spent computing statistics */
    double publish_seconds;      /* time spent encoding and sending */
    uint64_t spooled;            /* messages written to the spool file instead */
    uint64_t queued;             /* held until the collector acknowledges them (sent or not yet) */
    uint64_t resent;             /* messages sent again (a reconnect, a collector restart, a lost ack) */
} tt_probe_counters;

TT_API void tt_probe_get_counters(const tt_probe *p, tt_probe_counters *out);

/* Publishes the run's end ("finished", "stopped" or "failed"), waits at most linger_ms for the collector
 * to acknowledge everything, spools what it has not, and frees everything. NULL-safe. */
TT_API void tt_probe_close(tt_probe *p, const char *status, int linger_ms);

/* The endpoint a probe and a collector agree on: $TRAINTOP_ENDPOINT, else ipc://<runtime dir>/traintop/collector.sock
 * with the directory created mode 0700. Returns 0, or -1 with err filled. */
TT_API int tt_default_endpoint(char *out, size_t len, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
