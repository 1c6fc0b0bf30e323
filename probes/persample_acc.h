/* persample_acc: the probe's per-step, model-wide accumulation of per-sample statistics (METRICS.md §2):
 * per-layer contributions summed into per-sample ⟨g_i,W⟩, ‖g_i‖², ⟨g_i,Ḡ⟩ of the whole model, then
 * γ_i into a GWA window and the gradient-noise statistics. The head layer's own γ_i (the paper's
 * classifier-head alignment) fill a second window. */
#ifndef TT_PERSAMPLE_ACC_H
#define TT_PERSAMPLE_ACC_H

#include <stddef.h>
#include <stdint.h>
#include "../metrics/gwa.h"
#include "../metrics/noise.h"
#include "../metrics/persample.h"
#include "traintop/probe.h"

/* One layer's own statistics for this step (NaN when not measured). */
typedef struct {
    double gamma_mean;         /* mean over samples of the layer's own γ_i */
    double trace_sigma;        /* tr Σ̂ of the layer's gradient (needs ⟨g_i,Ḡ⟩ sums: full mode or Ḡ norm) */
    double noise_scale;        /* tr Σ̂ / |G|², this step, unsmoothed */
    double norm_test;          /* θ */
    double gsnr;               /* layer-mean GSNR (full mode, T = 1) */
} tt_psacc_layer;

/* The model's statistics at the end of a step. */
typedef struct {
    size_t batch;              /* 0 when no layer reported this step */
    double gamma_mean;         /* over this step's samples */
    double trace_sigma, grad_sq, noise_scale_raw, noise_scale, norm_test, inner_test, ortho_test;
    int window_done;           /* the GWA window closed at this step: report is valid */
    tt_gwa_report report;
    int head_done;             /* ... and the head window had samples: head is valid */
    tt_gwa_report head;
} tt_psacc_step;

typedef struct {
    int full;                  /* also ⟨g_i,Ḡ⟩ (inner-product and orthogonality tests) and GSNR */
    size_t B, cap;             /* this step's batch; capacity of the arrays */
    double *gw, *gg, *gG;      /* per sample, summed over the layers seen this step */
    double *lw, *lg, *lG, *lgamma, *bw, *bb, *bB;   /* scratch: one layer's outputs */
    double *gamma;             /* model γ_i */
    void *work;
    size_t work_cap;
    double w2, gbar2;          /* Σ over layers of ‖W‖², ‖Ḡ‖² */
    int bad;                   /* batch sizes disagreed this step: nothing is reported */
    int64_t window_steps, in_window;
    tt_gwa_window window;
    tt_gwa_window head;        /* the head layer's own weight γ_i, over the same window */
    tt_noise_scale smooth;
} tt_psacc;

void tt_psacc_init(tt_psacc *a, int full, int64_t window_steps);
void tt_psacc_free(tt_psacc *a);

/* Adds one dense layer's batch. L->Gbar / L->bbar × gbar_scale should be the layer's mean gradients: they give
 * ‖Ḡ‖² and, in full mode, ⟨g_i,Ḡ⟩. weight_out and bias_out (NULL when not wanted) get the layer's own
 * statistics. Returns 0, or -1 with err (bad shapes, a batch size that differs from the step's, OOM). */
int tt_psacc_dense(tt_psacc *a, const tt_dense *L, double gbar_scale, int head, tt_psacc_layer *weight_out,
                   tt_psacc_layer *bias_out, char *err, size_t errlen);

/* head (both calls): the layer is the classifier head: its weight's own γ_i go to the head window.
 * Adds one layer's per-sample sums computed elsewhere (a GPU): the same accumulation as tt_psacc_dense.
 * gsnr / bias_gsnr are the layers' own GSNR (NaN: not computed). Returns 0, or -1 with err. */
int tt_psacc_sums(tt_psacc *a, const tt_persample_sums *s, double gsnr, double bias_gsnr, int head,
                  tt_psacc_layer *weight_out, tt_psacc_layer *bias_out, char *err, size_t errlen);

/* Closes the step: model γ_i into the window (reported every window_steps steps) and the noise
 * statistics; resets the per-step sums. */
void tt_psacc_step_end(tt_psacc *a, tt_psacc_step *out);

#endif
