/* schedule: the statistics that do not come as a step's layer rows. Spectra are computed on a snapshot
 * in a background thread and arrive steps later (their entries carry the step they describe);
 * per-sample statistics arrive during the step and are published with it. */
#include "probe_internal.h"
#include "schedule.h"
#include "../metrics/noise.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void tt_sched_init(tt_schedule *s, int spectral_every, int persample_full, int gwa_window)
{
    s->spectral_every = spectral_every > 0 ? spectral_every : 0;
    s->gwa_head = -1;
    tt_psacc_init(&s->ps, persample_full, gwa_window);
}

void tt_sched_free(tt_schedule *s)
{
    tt_spectral_worker_destroy(s->spectral);
    s->spectral = NULL;
    free(s->extras);
    s->extras = NULL;
    s->nextras = s->cap_extras = 0;
    tt_psacc_free(&s->ps);
}

void tt_sched_add_extra(tt_probe *p, int layer, int stat, double value, int64_t step)
{
    tt_schedule *s = &p->sched;
    if (s->nextras == s->cap_extras) {
        size_t cap = s->cap_extras ? 2 * s->cap_extras : 64;
        if (cap > TT_MAX_EXTRAS) return;           /* the protocol's bound: a flood is cut, not queued */
        tt_extra *ne = realloc(s->extras, cap * sizeof *ne);
        if (!ne) return;
        s->extras = ne;
        s->cap_extras = cap;
    }
    s->extras[s->nextras++] = (tt_extra){ layer, stat, value, step };
}

void tt_sched_write_extras(tt_probe *p)
{
    tt_schedule *s = &p->sched;
    if (!s->nextras) return;
    tt_enc_extras_begin(&p->w);
    for (size_t i = 0; i < s->nextras; i++) {
        const tt_extra *e = &s->extras[i];
        tt_enc_extra(&p->w, e->layer, e->stat, e->value, e->step);
    }
    tt_enc_extras_end(&p->w);
    s->nextras = 0;
}

void tt_sched_spectral(tt_probe *p, int64_t step)
{
    tt_schedule *s = &p->sched;
    if (!s->spectral_every) return;
    if (!s->spectral) {
        tt_spectral_worker_opts wo;
        tt_spectral_worker_opts_default(&wo);
        wo.blas_threads = 0;              /* a library must not change the process's BLAS threading */
        if (!(s->spectral = tt_spectral_worker_create((size_t)p->nlayers, &wo))) { s->spectral_every = 0; return; }
    }
    tt_spectral_result r;
    while (tt_spectral_worker_poll(s->spectral, &r) == 1) {
        const tt_spectrum_stats *st = &r.stats;
        const double v[] = { st->fit.alpha, st->fit.alpha_err, st->fit.alpha_weighted, st->stable_rank,
                             st->log_spectral_norm, st->log_norm, st->window.alpha };
        _Static_assert(sizeof v / sizeof *v == TT_X_ALPHA_WINDOW - TT_X_ALPHA + 1, "one value per spectral statistic");
        for (int k = 0; k <= TT_X_ALPHA_WINDOW - TT_X_ALPHA; k++) tt_sched_add_extra(p, (int)r.layer, TT_X_ALPHA + k, v[k], r.step);
    }
    if (step % s->spectral_every == 0)
        for (int i = 0; i < p->nlayers; i++) {
            tt_probe_layer *l = &p->layers[i];
            if (l->rows < 2 || l->cols < 2 || l->external) continue;
            tt_spectral_worker_submit(s->spectral, (size_t)i, step, l->w, l->rows, l->cols);
            /* Scale invariance (a weight before a normalisation layer): its effective step is lr/‖W‖². */
            double max_cos;
            int inv = tt_scale_invariant(l->w, l->g, l->rows, l->cols, &max_cos);
            tt_sched_add_extra(p, i, TT_X_SCALE_INV_COS, max_cos, step);
            if (inv == 1 && s->opt_lr > 0) {
                double n2 = 0;
                for (size_t k = 0; k < l->rows * l->cols; k++) n2 += (double)l->w[k] * l->w[k];
                tt_sched_add_extra(p, i, TT_X_EFF_STEP, tt_effective_step_sgd(s->opt_lr, sqrt(n2)), step);
            }
        }
}

void tt_sched_persample_scalars(tt_probe *p)
{
    tt_psacc_step r;
    tt_psacc_step_end(&p->sched.ps, &r);
    double covered = p->sched.ps_covered, total = 0;
    p->sched.ps_covered = 0;
    if (!r.batch) return;
    for (int i = 0; i < p->nlayers; i++) total += (double)p->layers[i].rows * (double)p->layers[i].cols;
    tt_probe_scalar(p, "gamma_coverage", total > 0 ? covered / total : NAN);
    tt_probe_scalar(p, "gamma_mean", r.gamma_mean);
    tt_probe_scalar(p, "noise_scale", r.noise_scale);
    tt_probe_scalar(p, "noise_scale_raw", r.noise_scale_raw);
    tt_probe_scalar(p, "trace_sigma", r.trace_sigma);
    tt_probe_scalar(p, "grad_sq", r.grad_sq);
    tt_probe_scalar(p, "norm_test", r.norm_test);
    if (p->sched.ps.full) {
        tt_probe_scalar(p, "inner_test", r.inner_test);
        tt_probe_scalar(p, "ortho_test", r.ortho_test);
    }
    if (r.window_done) {
        const tt_gwa_report *w = &r.report;
        tt_probe_scalar(p, "gwa", w->gwa);
        tt_probe_scalar(p, "gwa_pole", w->pole);
        tt_probe_scalar(p, "gwa_robust", w->robust);
        tt_probe_scalar(p, "gwa_gamma_mean", w->mean);
        tt_probe_scalar(p, "gwa_gamma_std", w->std);
        tt_probe_scalar(p, "gwa_kurtosis", w->kurtosis);
        tt_probe_scalar(p, "gwa_pearson", w->pearson);
        tt_probe_scalar(p, "gwa_frac_neg", w->frac_neg);
        tt_probe_scalar(p, "gwa_bimodality", w->bimodality);
        tt_probe_scalar(p, "gwa_gamma_median", w->median);
        tt_probe_scalar(p, "mislabeled_frac", w->mislabeled);
        /* the γ histogram: fractions of the window's finite γ over [−range, range] */
        tt_probe_scalar(p, "gwa_hist_range", w->hist_range);
        for (int k = 0; k < TT_GWA_HIST_BINS; k++) {
            char name[16];
            snprintf(name, sizeof name, "gwa_hist_%02d", k);
            tt_probe_scalar(p, name, w->count ? (double)w->hist[k] / (double)w->count : NAN);
        }
    }
    if (r.head_done) {
        tt_probe_scalar(p, "gwa_paper", r.head.gwa);
        tt_probe_scalar(p, "gwa_paper_pole", r.head.pole);
        tt_probe_scalar(p, "gwa_head_mean", r.head.mean);
    }
}

void tt_sched_layer_extras(tt_probe *p, int li, const tt_psacc_layer *s)
{
    tt_sched_add_extra(p, li, TT_X_GAMMA_MEAN, s->gamma_mean, TT_ENC_AT_STEP);
    tt_sched_add_extra(p, li, TT_X_TRACE_SIGMA, s->trace_sigma, TT_ENC_AT_STEP);
    tt_sched_add_extra(p, li, TT_X_NOISE_SCALE, s->noise_scale, TT_ENC_AT_STEP);
    tt_sched_add_extra(p, li, TT_X_NORM_TEST, s->norm_test, TT_ENC_AT_STEP);
    if (p->sched.ps.full) tt_sched_add_extra(p, li, TT_X_GSNR, s->gsnr, TT_ENC_AT_STEP);
}

int tt_sched_dense_layers_ok(const tt_probe *p, int weight_layer, int bias_layer, const char *what, char *err, size_t errlen)
{
    if (weight_layer < 0 || weight_layer >= p->nlayers || bias_layer < -1 || bias_layer >= p->nlayers || bias_layer == weight_layer) {
        snprintf(err, errlen, "%s: layers %d and %d: expected registered layer indices (bias -1 for none)", what, weight_layer, bias_layer);
        return -1;
    }
    const tt_probe_layer *w = &p->layers[weight_layer], *bl = bias_layer >= 0 ? &p->layers[bias_layer] : NULL;
    if (bl && bl->rows * bl->cols != w->rows) {
        snprintf(err, errlen, "%s: bias '%s' has %zu entries: expected %zu, the rows of '%s'", what, bl->name, bl->rows * bl->cols, w->rows, w->name);
        return -1;
    }
    return 0;
}
