/* persample_acc: sums of per-layer per-sample quantities are the per-sample quantities of the whole
 * model (⟨g_i,W⟩ and ‖g_i‖² add over disjoint parameter blocks), so γ_i and the noise scale of the
 * model come from the same per-layer calls that give each layer its own numbers. */
#include "persample_acc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tt_psacc_init(tt_psacc *a, int full, int64_t window_steps)
{
    memset(a, 0, sizeof *a);
    a->full = full;
    a->window_steps = window_steps > 0 ? window_steps : 50;
    tt_gwa_window_reset(&a->window);
    tt_gwa_window_reset(&a->head);
    tt_noise_scale_init(&a->smooth, 0.99);
}

void tt_psacc_free(tt_psacc *a)
{
    double **arrays[] = { &a->gw, &a->gg, &a->gG, &a->lw, &a->lg, &a->lG, &a->lgamma, &a->bw, &a->bb, &a->bB, &a->gamma };
    for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++) { free(*arrays[i]); *arrays[i] = NULL; }
    free(a->work);
    a->work = NULL;
}

static int reserve(tt_psacc *a, size_t B)
{
    if (B <= a->cap) return 0;
    double **arrays[] = { &a->gw, &a->gg, &a->gG, &a->lw, &a->lg, &a->lG, &a->lgamma, &a->bw, &a->bb, &a->bB, &a->gamma };
    for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++) {
        double *p = realloc(*arrays[i], B * sizeof(double));
        if (!p) return -1;
        *arrays[i] = p;
    }
    a->cap = B;
    return 0;
}

static double sum_sq(const float *x, size_t n)
{
    double s = 0;
#pragma omp simd reduction(+:s)
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

static double mean_finite(const double *x, size_t n)
{
    double s = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) if (isfinite(x[i])) { s += x[i]; k++; }
    return k ? s / (double)k : NAN;
}

/* A layer's own noise statistics from its per-sample ‖g_i‖² and ‖Ḡ‖². */
static void layer_noise(size_t B, const double *gg, double gbar2, tt_psacc_layer *o)
{
    tt_noise n;
    tt_noise_persample(B, gg, NULL, gbar2, &n);
    o->trace_sigma = n.trace_sigma;
    o->noise_scale = n.b_simple;
    o->norm_test = n.theta;
}

/* Makes sure the arrays hold a batch of B and that B is this step's batch size. */
static int begin_layer(tt_psacc *a, size_t B, char *err, size_t errlen)
{
    if (!B) { snprintf(err, errlen, "per-sample statistics: expected a batch of at least one sample"); return -1; }
    if (a->B && B != a->B) {
        a->bad = 1;
        snprintf(err, errlen, "dense batch of %zu samples: this step's other layers had %zu", B, a->B);
        return -1;
    }
    if (reserve(a, B)) { snprintf(err, errlen, "out of memory for a batch of %zu", B); return -1; }
    return 0;
}

/* The model sums (⟨g_i,W⟩, ‖g_i‖², ⟨g_i,Ḡ⟩ add over disjoint parameter blocks) and each layer's own γ
 * and noise numbers, from one layer's per-sample sums however they were computed. */
static void accumulate(tt_psacc *a, const tt_persample_sums *s, double gsnr, double bias_gsnr, int head,
                       tt_psacc_layer *weight_out, tt_psacc_layer *bias_out)
{
    const size_t B = s->batch;
    const int has_bias = s->bw && s->bb;
    if (!a->B) {
        a->B = B;
        memset(a->gw, 0, B * sizeof(double));
        memset(a->gg, 0, B * sizeof(double));
        memset(a->gG, 0, B * sizeof(double));
    }
    for (size_t i = 0; i < B; i++) {
        a->gw[i] += s->gw[i] + (has_bias ? s->bw[i] : 0);
        a->gg[i] += s->gg[i] + (has_bias ? s->bb[i] : 0);
        if (a->full)   /* a layer without ⟨g_i,Ḡ⟩ leaves the model's unknown: NaN, not a partial sum */
            a->gG[i] += (s->gG ? s->gG[i] : NAN) + (has_bias ? (s->bB ? s->bB[i] : NAN) : 0);
    }
    a->w2 += s->w_norm2 + (has_bias ? s->bias_norm2 : 0);
    a->gbar2 += s->gbar_norm2 + (has_bias ? s->bbar_norm2 : 0);

    if (weight_out || head) {
        double wn = sqrt(s->w_norm2);
        for (size_t i = 0; i < B; i++) a->lgamma[i] = -s->gw[i] / (sqrt(s->gg[i]) * wn + 1e-12);
        if (head) tt_gwa_window_add(&a->head, a->lgamma, B);   /* weight only, as the reference */
    }
    if (weight_out) {
        weight_out->gamma_mean = mean_finite(a->lgamma, B);
        layer_noise(B, s->gg, s->gbar_norm2, weight_out);
        weight_out->gsnr = gsnr;
    }
    if (bias_out && has_bias) {
        double bn = sqrt(s->bias_norm2);
        for (size_t i = 0; i < B; i++) a->lgamma[i] = -s->bw[i] / (sqrt(s->bb[i]) * bn + 1e-12);
        bias_out->gamma_mean = mean_finite(a->lgamma, B);
        layer_noise(B, s->bb, s->bbar_norm2, bias_out);
        bias_out->gsnr = bias_gsnr;
    }
}

static int reserve_work(tt_psacc *a, size_t need, char *err, size_t errlen)
{
    if (need <= a->work_cap) return 0;
    void *w = realloc(a->work, need);
    if (!w) { snprintf(err, errlen, "out of memory for a per-sample workspace of %zu bytes", need); return -1; }
    a->work = w;
    a->work_cap = need;
    return 0;
}

int tt_psacc_dense(tt_psacc *a, const tt_dense *L, double gbar_scale, int head, tt_psacc_layer *weight_out,
                   tt_psacc_layer *bias_out, char *err, size_t errlen)
{
    double gs = gbar_scale > 0 ? gbar_scale : 1;
    if (!L->A || !L->D || !L->W || !L->B || !L->T || !L->d_in || !L->d_out) {
        snprintf(err, errlen, "dense batch: expected inputs, output gradients, weights and positive B, T, d_in, d_out");
        return -1;
    }
    if (begin_layer(a, L->B, err, errlen)) return -1;
    if (reserve_work(a, tt_persample_work_size(L->B, L->T, L->d_out), err, errlen)) return -1;
    if (a->full && L->T == 1 && L->Gbar && reserve_work(a, tt_gsnr_work_size(L->B, L->d_in, L->d_out), err, errlen))
        return -1;
    tt_dense l = *L;
    if (!a->full) l.Gbar = l.bbar = NULL;          /* ⟨g_i,Ḡ⟩ costs a GEMM: full mode only */
    int has_bias = L->bias != NULL;
    tt_persample_out o = { .gw = a->lw, .gg = a->lg, .gG = a->full ? a->lG : NULL,
                           .bw = has_bias ? a->bw : NULL, .bb = has_bias ? a->bb : NULL,
                           .bB = has_bias && a->full ? a->bB : NULL };
    if (tt_dense_persample(&l, a->work, &o)) { snprintf(err, errlen, "dense batch: per-sample statistics refused the shapes"); return -1; }
    if (a->full)   /* ⟨g_i, gs·G⟩: the registered buffers hold Ḡ / gs */
        for (size_t i = 0; i < L->B; i++) { a->lG[i] *= gs; if (has_bias) a->bB[i] *= gs; }

    /* ‖Ḡ‖² from the layer's gradient buffers: cheap, and needed by the noise scale in every mode. */
    tt_persample_sums s = { .batch = L->B, .gw = a->lw, .gg = a->lg, .gG = a->full ? a->lG : NULL,
                            .bw = has_bias ? a->bw : NULL, .bb = has_bias ? a->bb : NULL,
                            .bB = has_bias && a->full ? a->bB : NULL,
                            .w_norm2 = o.w_norm2, .bias_norm2 = has_bias ? o.bias_norm2 : 0,
                            .gbar_norm2 = L->Gbar ? gs * gs * sum_sq(L->Gbar, L->d_out * L->d_in) : NAN,
                            .bbar_norm2 = L->bbar ? gs * gs * sum_sq(L->bbar, L->d_out) : NAN };
    size_t used;
    double gsnr = weight_out && a->full && L->T == 1 && L->Gbar
        ? tt_gsnr_dense(L->B, L->T, L->d_in, L->d_out, L->A, L->D, L->scale, L->Gbar, a->work, &used) : NAN;
    double bias_gsnr = bias_out && has_bias && a->full && L->bbar
        ? tt_gsnr_bias(L->B, L->T, L->d_out, L->D, L->scale, L->bbar, &used) : NAN;
    accumulate(a, &s, gsnr, bias_gsnr, head, weight_out, bias_out);
    return 0;
}

int tt_psacc_sums(tt_psacc *a, const tt_persample_sums *s, double gsnr, double bias_gsnr, int head,
                  tt_psacc_layer *weight_out, tt_psacc_layer *bias_out, char *err, size_t errlen)
{
    if (!s->gw || !s->gg) {
        snprintf(err, errlen, "per-sample sums: expected the per-sample arrays gw and gg");
        return -1;
    }
    if (!s->bw != !s->bb) {
        snprintf(err, errlen, "per-sample sums: expected both bias arrays bw and bb, or neither");
        return -1;
    }
    if (begin_layer(a, s->batch, err, errlen)) return -1;
    accumulate(a, s, gsnr, bias_gsnr, head, weight_out, bias_out);
    return 0;
}

void tt_psacc_step_end(tt_psacc *a, tt_psacc_step *out)
{
    memset(out, 0, sizeof *out);
    out->gamma_mean = out->trace_sigma = out->grad_sq = out->noise_scale_raw = NAN;
    out->noise_scale = out->norm_test = out->inner_test = out->ortho_test = NAN;
    if (a->B && !a->bad) {
        size_t B = a->B;
        double wn = sqrt(a->w2);
        for (size_t i = 0; i < B; i++) a->gamma[i] = -a->gw[i] / (sqrt(a->gg[i]) * wn + 1e-12);
        tt_gwa_window_add(&a->window, a->gamma, B);
        tt_noise n;
        tt_noise_persample(B, a->gg, a->full ? a->gG : NULL, a->gbar2, &n);
        tt_noise_scale_add(&a->smooth, n.trace_sigma, n.g2);
        out->batch = B;
        out->gamma_mean = mean_finite(a->gamma, B);
        out->trace_sigma = n.trace_sigma;
        out->grad_sq = n.g2;
        out->noise_scale_raw = n.b_simple;
        out->noise_scale = tt_noise_scale_get(&a->smooth);
        out->norm_test = n.theta;
        out->inner_test = a->full ? n.theta_inner : NAN;
        out->ortho_test = a->full ? n.nu : NAN;
        if (++a->in_window >= a->window_steps) {
            tt_gwa_window_report(&a->window, &out->report);
            out->window_done = 1;
            tt_gwa_window_reset(&a->window);
            if (a->head.m.n || a->head.m.nonfinite) {
                tt_gwa_window_report(&a->head, &out->head);
                out->head_done = 1;
            }
            tt_gwa_window_reset(&a->head);
            a->in_window = 0;
        }
    }
    a->B = 0;
    a->bad = 0;
    a->w2 = a->gbar2 = 0;
}
