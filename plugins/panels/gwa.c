/* gwa: gradient-weight alignment — the per-window γ histogram (a second mode below 0 is the likely
 * mislabeled share), the always-defined signals (mean γ, robust GWA, bimodality) and the paper's GWA
 * with its pole windows marked, the γ coverage of the run. k and j (the panel cursor) step to older and
 * newer windows. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "traintop/plugin.h"

#define BINS 16
#define MAX_WINDOWS 2048

typedef struct {
    const tt_plugin_services *s;
    int back;                          /* windows before the latest one shown (0: the latest) */
} state;

static int init(const tt_plugin_services *s, void **st)
{
    state *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->s = s;
    *st = p;
    return 0;
}

static double at(const tt_plugin_services *s, int run, const char *metric, int64_t step)
{
    tt_plugin_point pt;
    return s->series(s->host, run, -1, metric, step, step, 1, &pt) == 1 && pt.step == step ? pt.last : NAN;
}

/* The histogram of the window closing at `step`: one row per bin, γ < 0 in the "bad" colour. */
static void histogram(state *p, const tt_plugin_frame *f, int run, int64_t step, int nwin, int y, int x, int h, int w)
{
    const tt_plugin_services *s = p->s;
    double v[BINS], top = 0, range = at(s, run, "gwa_hist_range", step);
    char name[16], line[256];
    for (int k = 0; k < BINS; k++) {
        snprintf(name, sizeof name, "gwa_hist_%02d", k);
        v[k] = at(s, run, name, step);
        if (v[k] > top) top = v[k];
    }
    snprintf(line, sizeof line, "γ histogram at step %lld: window %d/%d (j/k)", (long long)step, nwin - p->back, nwin);
    s->text(s->host, f, y, x, line, TT_PLUGIN_BOLD);
    if (!(top > 0) || !isfinite(range)) { s->text(s->host, f, y + 1, x, "no γ in this window", TT_PLUGIN_DIM); return; }
    int rows = h - 1 < BINS ? h - 1 : BINS, per = (BINS + rows - 1) / rows, barw = w - 31;
    if (barw < 4) barw = 4;
    for (int r = 0; r * per < BINS && r < rows; r++) {
        double frac = 0;
        for (int k = r * per; k < (r + 1) * per && k < BINS; k++) frac += isfinite(v[k]) ? v[k] : 0;
        double lo = -range + 2 * range * r * per / BINS, hi = -range + 2 * range * ((r + 1) * per) / BINS;
        if (hi > range) hi = range;
        int n = (int)lround(frac / (top * per) * barw);
        if (n > barw) n = barw;
        char bar[1024] = "";
        size_t len = 0;
        for (int i = 0; i < n && len + 4 < sizeof bar; i++) len += (size_t)snprintf(bar + len, sizeof bar - len, "%s", f->ascii ? "#" : "█");
        /* the end rows also hold the values beyond the range */
        const char *edge = r == 0 ? (f->ascii ? "<" : "≤") : (r + 1) * per >= BINS ? (f->ascii ? ">" : "≥") : " ";
        snprintf(line, sizeof line, "%s%9.2g..%-9.2g %5.1f%% ", edge, lo, hi, 100 * frac);
        s->text(s->host, f, y + 1 + r, x, line, TT_PLUGIN_DIM);
        s->text(s->host, f, y + 1 + r, x + 30, bar, hi <= 0 ? TT_PLUGIN_BAD : lo >= 0 ? TT_PLUGIN_GOOD : TT_PLUGIN_NORMAL);
    }
}

static void draw(void *st, const tt_plugin_frame *f)
{
    state *p = st;
    const tt_plugin_services *s = p->s;
    int run = f->selected_run;
    if (run < 0 || !s->has_metric(s->host, run, -1, "gwa")) {
        s->text(s->host, f, 1, 1, "no GWA yet: it comes once per window of per-sample batches", TT_PLUGIN_DIM);
        return;
    }
    static tt_plugin_point pts[MAX_WINDOWS];
    size_t n = s->series(s->host, run, -1, "gwa_hist_range", INT64_MIN, INT64_MAX, MAX_WINDOWS, pts);
    if (p->back > (int)n - 1) p->back = n ? (int)n - 1 : 0;
    char line[300];
    double cov = s->last(s->host, run, -1, "gamma_coverage"), mis = s->last(s->host, run, -1, "mislabeled_frac");
    int pole = s->last(s->host, run, -1, "gwa_pole") == 1;
    snprintf(line, sizeof line, "GWA (paper) %.3g%s  robust %.3g  mean γ %.3g  bimodality %.2f  likely mislabeled %.1f%%  "
             "γ coverage %.0f%%", s->last(s->host, run, -1, "gwa"), pole ? " [pole]" : "", s->last(s->host, run, -1, "gwa_robust"),
             s->last(s->host, run, -1, "gwa_gamma_mean"), s->last(s->host, run, -1, "gwa_bimodality"), 100 * mis, 100 * cov);
    s->text(s->host, f, 0, 1, line, TT_PLUGIN_BOLD);
    int top = 1;
    if (isfinite(cov) && cov < 0.5) {
        s->text(s->host, f, top++, 1, "low γ coverage: per-sample statistics see only part of the model's parameters",
                TT_PLUGIN_WARN);
    }
    int h = f->h - top, wide = f->w >= 100;
    int cw = wide ? f->w / 2 - 2 : f->w, ch = wide ? h / 2 : h / 3;
    const char *m1[] = { "gwa_robust", "gwa_gamma_mean" };
    s->chart(s->host, f, top, 0, ch, cw, "robust GWA = mean·exp(−kurtosis/1.2)/1.2, mean γ", run, -1, m1, 2);
    const char *m2[] = { "gwa", "gwa_paper" };
    s->chart(s->host, f, top + ch, 0, wide ? h - ch : ch, cw, "GWA = mean / (excess kurtosis + 1.2), paper head-only",
             run, -1, m2, 2);
    if (n) histogram(p, f, run, pts[n - 1 - (size_t)p->back].step, (int)n, wide ? top : top + 2 * ch, wide ? cw + 3 : 1,
                     wide ? h : h - 2 * ch, wide ? f->w - cw - 3 : f->w - 1);
}

static int key(void *st, int k)
{
    state *p = st;
    if (k == 'k') { p->back++; return 1; }                /* older; clamped to the windows there are at draw */
    if (k == 'j') { if (p->back > 0) p->back--; return 1; }   /* newer */
    return 0;
}

static void fini(void *st) { free(st); }

static const tt_plugin_desc desc = {
    .size = sizeof(tt_plugin_desc), .abi_major = TT_PLUGIN_ABI_MAJOR, .abi_minor = TT_PLUGIN_ABI_MINOR,
    .name = "gwa", .title = "Alignment (GWA)",
    .description = "the γ histogram per window, robust GWA, mean γ, the paper's GWA and its pole, γ coverage",
    .init = init, .draw = draw, .key = key, .fini = fini,
};

const tt_plugin_desc *traintop_plugin(void) { return &desc; }
