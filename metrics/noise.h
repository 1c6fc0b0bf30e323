/* noise: gradient-noise statistics of METRICS.md §2 (noise scale, tests, GSNR, cross-rank), EMA, equilibrium angles. */
#ifndef TT_NOISE_H
#define TT_NOISE_H

#include <stddef.h>
#include <stdint.h>

/* From per-sample gradients g_i (of the mean loss's terms) of one batch of B, with Ḡ = mean_i g_i. */
typedef struct {
    double trace_sigma;         /* tr Σ̂ = (S − B‖Ḡ‖²)/(B − 1), S = Σ‖g_i‖² */
    double g2;                  /* |G|² = ‖Ḡ‖² − tr Σ̂/B (unbiased; can be < 0 when noise dominates) */
    double b_simple;            /* tr Σ̂ / |G|² (per step; smooth with tt_noise_scale) */
    double theta;               /* norm test sqrt(tr Σ̂ / (B‖Ḡ‖²)) */
    double var_inner, theta_inner;   /* (Σ P_i² − B‖Ḡ‖⁴)/(B − 1), sqrt(var_inner/(B‖Ḡ‖⁴)), P_i = ⟨g_i, Ḡ⟩ */
    double var_ortho, nu;            /* (S − Σ P_i²/‖Ḡ‖²)/(B − 1), sqrt(var_ortho/(B‖Ḡ‖²)) */
} tt_noise;

/* The three variances are ≥ 0 whenever Ḡ is the mean of the g_i; a value negative by no more than
 * float32 rounding of Ḡ (1e-6 of its terms) is taken as 0, a more negative one (Ḡ was not the mean
 * of these g_i) gives NaN. Every division by 0 (B < 2, ‖Ḡ‖ = 0, |G|² = 0) or non-finite input gives
 * NaN. sum_p2 NaN: the inner-product and orthogonality statistics are NaN. */
void tt_noise_from_sums(double B, double S, double sum_p2, double gbar2, tt_noise *out);
/* The same from the per-sample arrays of tt_dense_persample: g2 = ‖g_i‖², P = ⟨g_i, Ḡ⟩ (may be NULL). */
void tt_noise_persample(size_t B, const double *g2, const double *P, double gbar2, tt_noise *out);

/* Noise scale without per-sample data. trace_sigma is per sample (comparable with tt_noise's). */
typedef struct {
    double trace_sigma, g2, b_simple;
} tt_noise_est;

/* K data-parallel ranks, each with its local micro-batch gradient norm² ‖G_k‖² (taken before the
 * all-reduce) over b samples, and the reduced ‖Ḡ‖²: tr Σ_K = (mean_k‖G_k‖² − ‖Ḡ‖²)·K/(K − 1),
 * |G|² = (K‖Ḡ‖² − mean_k‖G_k‖²)/(K − 1); trace_sigma = b·tr Σ_K, b_simple = b·tr Σ_K/|G|². */
void tt_noise_cross_rank(size_t K, const double *local_norm2, double gbar2, double b, tt_noise_est *out);
/* Two batch sizes b < B: |G|² = (B‖G_B‖² − b‖G_b‖²)/(B − b), tr Σ = (‖G_b‖² − ‖G_B‖²)/(1/b − 1/B). */
void tt_noise_two_batch(double b, double gb_norm2, double B, double gB_norm2, tt_noise_est *out);

/* Bias-corrected exponential moving average: value ← β·value + (1 − β)·x, weight ← β·weight + (1 − β)
 * (= 1 − β^t after t updates); the estimate is value/weight. NaN/Inf samples are skipped and counted. */
typedef struct {
    double beta, value, weight;
    uint64_t t, skipped;
} tt_ema;

void tt_ema_init(tt_ema *e, double beta);
void tt_ema_add(tt_ema *e, double x);
double tt_ema_get(const tt_ema *e);              /* NaN before the first finite sample */

/* The noise scale's numerator (tr Σ) and denominator (|G|²) are smoothed separately, then divided:
 * the ratio of one step's noisy estimates is heavy-tailed (|G|² crosses 0), the ratio of the means is not. */
typedef struct {
    tt_ema num, den;
} tt_noise_scale;

void tt_noise_scale_init(tt_noise_scale *s, double beta);
void tt_noise_scale_add(tt_noise_scale *s, double trace_sigma, double g2);   /* skipped unless both finite */
double tt_noise_scale_get(const tt_noise_scale *s);  /* NaN while the smoothed |G|² ≤ 0 */

/* GSNR of a dense layer's weight, T = 1 only: for every parameter j, ḡ_j²/var_i(g_ij) with the
 * population variance var_i(g_ij) = Σ_i g_ij²/B − ḡ_j², and Σ_i g_ij² = scale²·((Δ∘Δ)ᵀ(A∘A))_j by one
 * GEMM on the squared inputs (each matrix scaled by a power of 2 first, so the squares of huge or
 * denormal inputs neither overflow nor flush to 0).
 * Returns the mean over parameters with var > 1e-6·Σ_i g_ij²/B (below that the variance is float32
 * rounding of a constant gradient and the ratio meaningless); *used (may be NULL) gets their count.
 * T > 1 is not supported (NaN): Σ_i (Σ_t δ_ito a_itk)² does not factor, it costs (T + 1)/2 layer
 * GEMMs on all pairs (t, s). NaN for B = 0, non-finite inputs, or no parameter with variance.
 * Gbar is mean_i g_i (tt_persample_mean_grad). scale as in tt_dense. */
size_t tt_gsnr_work_size(size_t B, size_t d_in, size_t d_out);   /* bytes */
double tt_gsnr_dense(size_t B, size_t T, size_t d_in, size_t d_out, const float *A, const float *D,
                     double scale, const float *Gbar, void *work, size_t *used);
/* The bias of the same layer: b_i = scale·Σ_t δ_it is cheap, so any T. bbar = mean_i b_i. */
double tt_gsnr_bias(size_t B, size_t T, size_t d_out, const float *D, double scale,
                    const float *bbar, size_t *used);

/* Scale invariance of a weight (rows×cols, e.g. before a normalisation layer): 1 when
 * max_rows |cos(g_row, w_row)| < 0.1/sqrt(cols), 0 when not, -1 when undecidable (non-finite
 * input, or every row of W or G is 0). *max_cos (may be NULL) gets the maximum, NaN when -1. */
int tt_scale_invariant(const float *W, const float *G, size_t rows, size_t cols, double *max_cos);
/* Effective step of a scale-invariant weight under SGD: lr/‖W‖². */
double tt_effective_step_sgd(double lr, double w_norm);
/* Predicted equilibrium angle per step, radians: AdamW sqrt(2·lr·wd·(1 − β1)/(1 + β1)),
 * SGD + momentum m (coupled wd) sqrt(2·lr·wd/(1 + m)). NaN for a negative radicand or 1 + β = 0. */
double tt_equilibrium_angle_adamw(double lr, double wd, double beta1);
double tt_equilibrium_angle_sgdm(double lr, double wd, double momentum);

#endif
