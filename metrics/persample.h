/* persample: per-sample gradient statistics of dense layers and the softmax-CE head, never forming g_i (§2). */
#ifndef TT_PERSAMPLE_H
#define TT_PERSAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* A dense layer z = W a + bias seen by one batch. Sample i has T rows (tokens) a_it, δ_it; its
 * gradient is g_i = scale · Σ_t δ_it a_itᵀ and its bias gradient b_i = scale · Σ_t δ_it.
 *
 * δ must be the gradient of each sample's OWN loss. A framework that backpropagates the batch-mean
 * loss hands out δ_it / B: pass scale = B (then Ḡ = mean_i g_i is exactly the framework's gradient).
 * With a sum-reduced loss, or δ computed per sample, pass scale = 1.
 *
 * Weight and bias are separate parameters (as the probe registers fc.weight and fc.bias): the weight
 * statistics never include the bias, and the bias gets its own (bw, bb, bB, bgamma). */
typedef struct {
    size_t B, T, d_in, d_out;   /* batch, tokens per sample (1 for plain B×d inputs), layer shape */
    const float *A;             /* inputs, B×T×d_in, row-major */
    const float *D;             /* output gradients δ, B×T×d_out */
    double scale;               /* see above: B for a mean-reduced loss, 1 for per-sample δ */
    const float *W;             /* d_out×d_in */
    const float *bias;          /* d_out, or NULL when the layer has none */
    const float *Z;             /* pre-activations W a + bias, B×T×d_out, or NULL: W a then costs a GEMM */
    const float *Gbar;          /* mean_i g_i, d_out×d_in, or NULL: ⟨g_i, Ḡ⟩ is then not computed */
    const float *bbar;          /* mean_i b_i, d_out, or NULL */
} tt_dense;

/* Per-sample outputs are arrays of B doubles owned by the caller; each may be NULL (not wanted).
 * A sample whose own inputs (a_i, δ_i, z_i) hold NaN/Inf gets NaN in every output; NaN/Inf in W
 * makes ⟨g_i, W⟩ and γ NaN, in Ḡ every ⟨g_i, Ḡ⟩, in bias the bias statistics (and ⟨g_i, W⟩ when it
 * comes from Z − bias). Nothing non-finite is ever returned but NaN. */
typedef struct {
    double *gw;                 /* ⟨g_i, W⟩ */
    double *gg;                 /* ‖g_i‖² */
    double *gG;                 /* ⟨g_i, Ḡ⟩ (needs Gbar) */
    double *gamma;              /* γ_i = −⟨g_i, W⟩ / (‖g_i‖‖W‖ + 1e-12) */
    /* The bias parameter; all NaN when the layer has no bias (bias NULL). */
    double *bw;                 /* ⟨b_i, bias⟩ */
    double *bb;                 /* ‖b_i‖² */
    double *bB;                 /* ⟨b_i, b̄⟩ (needs bbar) */
    double *bgamma;             /* −⟨b_i, bias⟩ / (‖b_i‖‖bias‖ + 1e-12) */
    /* Always written (NaN when the input is absent or not finite). */
    double w_norm2, bias_norm2, gbar_norm2, bbar_norm2;
    uint64_t nonfinite;         /* NaN/Inf entries found in the inputs */
    uint64_t bad_samples;       /* samples whose outputs are all NaN (non-finite inputs, bad target) */
} tt_persample_out;

/* Bytes of workspace tt_dense_persample needs (any malloc'd block of this size; 0 when the call
 * needs none). The GEMMs run on chunks of samples, so this stays O(min(B·T, 512)·d_out). */
size_t tt_persample_work_size(size_t B, size_t T, size_t d_out);

/* Every wanted statistic in one pass over the samples. Cost: one GEMM A·Ḡᵀ when ⟨g_i, Ḡ⟩ is wanted,
 * one more A·Wᵀ when ⟨g_i, W⟩ or γ is wanted and Z is NULL (so pass Z: measured 1.1–1.2× one layer
 * GEMM with Z, 2.1–2.2× without), plus O(B·T²·(d_in + d_out)) for ‖g_i‖² (the two T×T Gram matrices
 * of each sample, in double). Returns 0, or -1 when A, D or W is NULL, T, d_in or d_out is 0, or
 * work is NULL while tt_persample_work_size is not 0. */
int tt_dense_persample(const tt_dense *L, void *work, tt_persample_out *out);

/* Ḡ = (scale/B)·Σ_{i,t} δ_it a_itᵀ with one GEMM (d_out×d_in into Gbar), and b̄ = (scale/B)·Σ_{i,t} δ_it
 * (into bbar, d_out, when not NULL, accumulated in double). NaN-filled when B = 0. */
void tt_persample_mean_grad(size_t B, size_t T, size_t d_in, size_t d_out, const float *A,
                            const float *D, double scale, float *Gbar, float *bbar);

/* The softmax-cross-entropy classifier head in closed form, no backward pass: with p_i =
 * softmax(logits_i) (computed stably, in double) and target y_i, δ_i = p_i·Σ_k y_ik − y_i (= p_i − y_i
 * for a distribution), W a_i = logits_i − bias, so ⟨g_i, W⟩ = δ_i·(logits_i − bias) and
 * ‖g_i‖² = ‖δ_i‖²‖a_i‖². δ_i is the gradient of sample i's own loss −Σ_k y_ik log p_ik (scale 1). */
typedef struct {
    size_t B, K, d;             /* batch, classes, features */
    const float *logits;        /* B×K, = W a + bias of the same step */
    const int *targets;         /* B class indices, or NULL when soft targets are given */
    const float *soft;          /* B×K target weights (label smoothing, mixup), or NULL; wins over targets */
    const float *feat;          /* penultimate features a_i, B×d */
    const float *W;             /* K×d */
    const float *bias;          /* K, or NULL */
} tt_softmax_head;

/* Fills gw, gg, gamma, bw, bb, bgamma and writes NaN to gG, bB: those need Ḡ, so pass delta_out
 * (B×K, may be NULL) and then call tt_persample_mean_grad and tt_dense_persample with D = delta_out,
 * Z = logits, T = 1, scale = 1. A target outside [0, K) or NaN/Inf in the sample's logits, features
 * or soft targets makes its outputs (and its δ row) NaN. Returns 0, or -1 when logits, feat, W, or
 * both targets and soft are NULL, or K or d is 0. */
int tt_softmax_ce_persample(const tt_softmax_head *h, tt_persample_out *out, float *delta_out);

#endif
