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

int tt_psacc_dense(tt_psacc *a, const tt_dense *L, double gbar_scale, tt_psacc_layer *weight_out,
                   tt_psacc_layer *bias_out, char *err, size_t errlen)
{
    double gs = gbar_scale > 0 ? gbar_scale : 1;
    if (!L->A || !L->D || !L->W || !L->B || !L->T || !L->d_in || !L->d_out) {
        snprintf(err, errlen, "dense batch: expected inputs, output gradients, weights and positive B, T, d_in, d_out");
        return -1;
    }
    if (a->B && L->B != a->B) {
        a->bad = 1;
        snprintf(err, errlen, "dense batch of %zu samples: this step's other layers had %zu", L->B, a->B);
        return -1;
    }
    if (reserve(a, L->B)) { snprintf(err, errlen, "out of memory for a batch of %zu", L->B); return -1; }
    size_t need = tt_persample_work_size(L->B, L->T, L->d_out);
    if (need > a->work_cap) {
        void *w = realloc(a->work, need);
        if (!w) { snprintf(err, errlen, "out of memory for per-sample workspace"); return -1; }
        a->work = w;
        a->work_cap = need;
    }
    if (a->full && L->T == 1 && L->Gbar) {
        size_t gw = tt_gsnr_work_size(L->B, L->d_in, L->d_out);
        if (gw > a->work_cap) {
            void *w = realloc(a->work, gw);
            if (!w) { snprintf(err, errlen, "out of memory for GSNR workspace"); return -1; }
            a->work = w;
            a->work_cap = gw;
        }
    }
    tt_dense l = *L;
    if (!a->full) l.Gbar = l.bbar = NULL;          /* ⟨g_i,Ḡ⟩ costs a GEMM: full mode only */
    int has_bias = L->bias != NULL;
    tt_persample_out o = { .gw = a->lw, .gg = a->lg, .gG = a->full ? a->lG : NULL, .gamma = a->lgamma,
                           .bw = has_bias ? a->bw : NULL, .bb = has_bias ? a->bb : NULL,
                           .bB = has_bias && a->full ? a->bB : NULL };
    if (tt_dense_persample(&l, a->work, &o)) { snprintf(err, errlen, "dense batch: per-sample statistics refused the shapes"); return -1; }

    /* ‖Ḡ‖² from the layer's gradient buffers: cheap, and needed by the noise scale in every mode. */
    double gbar2 = L->Gbar ? gs * gs * sum_sq(L->Gbar, L->d_out * L->d_in) : 0, bbar2 = L->bbar ? gs * gs * sum_sq(L->bbar, L->d_out) : 0;
    if (!a->B) {
        a->B = L->B;
        memset(a->gw, 0, L->B * sizeof(double));
        memset(a->gg, 0, L->B * sizeof(double));
        memset(a->gG, 0, L->B * sizeof(double));
    }
    for (size_t i = 0; i < L->B; i++) {
        a->gw[i] += a->lw[i] + (has_bias ? a->bw[i] : 0);
        a->gg[i] += a->lg[i] + (has_bias ? a->bb[i] : 0);
        if (a->full) a->gG[i] += gs * (a->lG[i] + (has_bias ? a->bB[i] : 0));
    }
    a->w2 += o.w_norm2 + (has_bias ? o.bias_norm2 : 0);
    a->gbar2 += gbar2 + (has_bias ? bbar2 : 0);

    if (weight_out) {
        weight_out->gamma_mean = mean_finite(a->lgamma, L->B);
        layer_noise(L->B, a->lg, L->Gbar ? gbar2 : NAN, weight_out);
        size_t used;
        weight_out->gsnr = a->full && L->T == 1 && L->Gbar
            ? tt_gsnr_dense(L->B, L->T, L->d_in, L->d_out, L->A, L->D, L->scale, L->Gbar, a->work, &used) : NAN;
    }
    if (bias_out && has_bias) {
        /* the bias's own γ_i from its per-sample ⟨b_i, bias⟩ and ‖b_i‖² */
        double bn = sqrt(o.bias_norm2);
        for (size_t i = 0; i < L->B; i++) a->lgamma[i] = -a->bw[i] / (sqrt(a->bb[i]) * bn + 1e-12);
        bias_out->gamma_mean = mean_finite(a->lgamma, L->B);
        layer_noise(L->B, a->bb, L->bbar ? bbar2 : NAN, bias_out);
        size_t used;
        bias_out->gsnr = a->full && L->bbar ? tt_gsnr_bias(L->B, L->T, L->d_out, L->D, L->scale, L->bbar, &used) : NAN;
    }
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
            a->in_window = 0;
        }
    }
    a->B = 0;
    a->bad = 0;
    a->w2 = a->gbar2 = 0;
}
