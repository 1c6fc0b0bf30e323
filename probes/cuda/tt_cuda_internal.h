/* tt_cuda_internal: the backend's state, shared by tt_cuda.cu (statistics, runtime) and
 * tt_cuda_ps.cu (per-sample statistics). CUDA C++ only. */
#ifndef TT_CUDA_INTERNAL_H
#define TT_CUDA_INTERNAL_H

#include <cuda_runtime.h>
#include <cublas_v2.h>

#include "tt_cuda.h"
#include "tt_cuda_host.h"
#include "tt_cuda_math.h"

#define TTC_PS_MAX_PENDING 256     /* per-sample requests between two collects */

#define TTC_DIST_INIT 10           /* dist_init's place among the 12 statistics */

enum { TTC_TIMING_OFF = 0, TTC_TIMING_CUPTI = 1, TTC_TIMING_EVENTS = 2 };

/* One per-sample request: its device results and their pinned host copy. Slot k serves the k-th
 * request after each collect, so buffers are reused from step to step. */
typedef struct {
    double *d_res;                 /* TTC_PS_N × B outputs, then TTC_PS_NORMS doubles */
    double *h_res;                 /* pinned copy */
    double *d_raw;                 /* TTC_RAW_N × B raw sums, then the norm partials */
    size_t capB;                   /* capacity in samples (d_res, h_res) */
    size_t cap_raw;                /* capacity of d_raw in doubles (samples × chunks) */
    size_t B;                      /* of the pending request */
    tt_cuda_ps_out *out;           /* where collect scatters the results (NULL: to the probe only) */
    int feed_w, feed_b;            /* the probe's weight and bias layer (-1) the sums go to at collect */
    int feed_gG;                   /* ⟨g_i,Ḡ⟩ was computed (full mode) */
    double gbar_scale;             /* the registered gradient × gbar_scale = Ḡ */
} ttc_ps_slot;

/* Norms of W, bias, Gbar, bbar and their NaN/Inf counts, after the outputs. */
enum { TTC_NORM_W, TTC_NORM_BIAS, TTC_NORM_GBAR, TTC_NORM_BBAR,
       TTC_NF_W, TTC_NF_BIAS, TTC_NF_GBAR, TTC_NF_BBAR, TTC_PS_NORMS };

struct tt_cuda {
    tt_probe *probe;
    int device, sm_count, every, timing, owns_stream;
    int gemm_fp32;                 /* per-sample GEMMs on fp32 operands without TF32 */
    int follow_probe;              /* every = 0 with a probe: sample as the probe's schedule says */
    cudaStream_t stream;
    /* layers */
    int nlayers, caplayers;
    ttc_layer *layers;             /* host copy of the kernel's layer table */
    int *probe_index;              /* the probe's external-layer index of each layer */
    size_t *shape;                 /* rows, cols of each layer as registered */
    size_t feed_B;                 /* batch size of this step's probe-bound per-sample requests (0: none) */
    int planned, dirty, started, have_prev;
    int64_t last_step;
    size_t nitems;
    ttc_layer *d_layers;
    ttc_item *d_items;
    double *d_part;                /* TTC_NPRIM per item */
    unsigned *d_count;             /* per layer: items done this launch (reset by the finisher) */
    double *d_out;                 /* 12 per layer */
    double *h_out;                 /* pinned: the one copy per step lands here */
    double *result;                /* last collected statistics (host, 12 per layer) */
    double *last_dist;             /* per layer: dist_init of the last step that read W_0 */
    int w0_every, pending_w0;      /* W_0 read every w0_every-th sampled step; the pending step does */
    int64_t nsampled;              /* sampled steps enqueued so far */
    /* completion */
    cudaEvent_t ev;
    int pending;                   /* work enqueued and not yet collected */
    int ev_fresh;                  /* ev recorded after every pending enqueue */
    int pending_sampled;
    /* per-sample */
    cublasHandle_t blas;
    ttc_ps_slot ps[TTC_PS_MAX_PENDING];
    int nps_alloc, nps_pending;
    void *ws;                      /* GEMM workspace */
    size_t ws_cap;
    /* timing: TTC_TIMING_OFF, _CUPTI, or _EVENTS (pairs around each enqueue; marks at each collect) */
    char timing_note[200];         /* why events replaced CUPTI ("" otherwise) */
    cudaEvent_t *tev;              /* 2 per timed enqueue since the last collect (both timing modes) */
    unsigned char *tev_kind;       /* TTC_KIND_* of each pair */
    int ntev, captev, tev_open;
    double t_kind_ms[3];           /* the last collect's event spans by kind, totals (not per step) */
    cudaEvent_t tmark[2];          /* the stream's position at the last two collects */
    int tmark_n, tmark_rec;        /* marks recorded so far; this collect's is recorded */
    double t_busy, t_probe;
    int t_kernels, t_valid;
    int t_steps;                   /* tt_cuda_step calls since the last timing flush */
    size_t dev_bytes;
};

/* Makes the backend's device current for a call and restores the caller's afterwards. */
struct ttc_devguard {
    int old;
    explicit ttc_devguard(int dev) : old(-1)
    {
        int cur;
        if (cudaGetDevice(&cur) == cudaSuccess && cur != dev && cudaSetDevice(dev) == cudaSuccess) old = cur;
    }
    ~ttc_devguard() { if (old >= 0) cudaSetDevice(old); }
};

/* Error text helpers (tt_cuda.cu). */
int ttc_fail(char *err, size_t errlen, const char *fmt, ...);
int ttc_cuda_fail(char *err, size_t errlen, const char *what, cudaError_t e);
/* Device allocation counted in dev_bytes. */
int ttc_dmalloc(tt_cuda *c, void **p, size_t bytes, char *err, size_t errlen);
void ttc_dfree(tt_cuda *c, void *p, size_t bytes);
/* The backend's stream is being captured into a CUDA graph (tt_cuda.cu). */
int ttc_capturing(tt_cuda *c);
/* Clears a pending cudaErrorNotReady (from anyone's query) before launches are checked. */
void ttc_clear_not_ready(void);
/* Brackets the backend's own enqueued work for timing: CUPTI correlation tags, or an event pair. */
enum { TTC_KIND_STATS = 1, TTC_KIND_PS = 2 };   /* the probe's TT_SAMPLE_STATS / TT_SAMPLE_PERSAMPLE */
void ttc_time_begin(tt_cuda *c, int kind);
void ttc_time_end(tt_cuda *c);
/* The per-sample slots' results into the callers' structures (after the event). */
void ttc_ps_scatter(tt_cuda *c);
void ttc_ps_free(tt_cuda *c);

/* CUPTI (tt_cupti.c, C linkage). */
extern "C" {
int ttc_cupti_start(char *err, size_t errlen);
void ttc_cupti_stop(void);
void ttc_cupti_push(void);
void ttc_cupti_pop(void);
void ttc_cupti_abandon(void);
int ttc_cupti_step(double *busy_ms, double *probe_ms, int *kernels);
}

#endif
