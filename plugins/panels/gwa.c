/* gwa: gradient-weight alignment — the GWA curve with its maximum marked (the early-stopping point
 * the method proposes), the fraction of samples whose gradient points against the weights (mislabelled
 * or hard samples), and the mean/std of the per-sample alignment over time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "traintop/plugin.h"

typedef struct { const tt_plugin_services *s; } state;

static int init(const tt_plugin_services *s, void **st)
{
    state *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->s = s;
    *st = p;
    return 0;
}

static void draw(void *st, const tt_plugin_frame *f)
{
    const tt_plugin_services *s = ((state *)st)->s;
    int run = f->selected_run;
    if (run < 0 || !s->has_metric(s->host, run, -1, "gwa")) {
        s->text(s->host, f, 1, 1, "no GWA yet: it comes once per window of per-sample batches", TT_PLUGIN_DIM);
        return;
    }
    /* the maximum, exactly: scan the series' buckets for the highest max */
    tt_plugin_point pts[2048];
    size_t n = s->series(s->host, run, -1, "gwa", INT64_MIN, INT64_MAX, 2048, pts);
    double best = -INFINITY;
    int64_t best_step = -1;
    for (size_t i = 0; i < n; i++)
        if (pts[i].finite && pts[i].max > best) { best = pts[i].max; best_step = pts[i].step; }
    char line[200];
    snprintf(line, sizeof line, "GWA %.4g now; maximum %.4g at step %lld%s   negative samples: %.1f%%",
             s->last(s->host, run, -1, "gwa"), best, (long long)best_step,
             best_step == s->run_step(s->host, run) ? " (rising)" : "", 100 * s->last(s->host, run, -1, "gwa_frac_neg"));
    s->text(s->host, f, 0, 1, line, TT_PLUGIN_BOLD);
    int h1 = (f->h - 1) / 2;
    const char *m1[] = { "gwa" };
    s->chart(s->host, f, 1, 0, h1, f->w, "GWA = mean / (excess kurtosis + 1.2)", run, -1, m1, 1);
    const char *m2[] = { "gwa_frac_neg", "gwa_gamma_mean", "gwa_gamma_std" };
    s->chart(s->host, f, 1 + h1, 0, f->h - 1 - h1, f->w, "per-sample alignment: fraction < 0, mean, std", run, -1, m2, 3);
}

static void fini(void *st) { free(st); }

static const tt_plugin_desc desc = {
    .size = sizeof(tt_plugin_desc), .abi_major = TT_PLUGIN_ABI_MAJOR, .abi_minor = TT_PLUGIN_ABI_MINOR,
    .name = "gwa", .title = "Alignment (GWA)",
    .description = "the GWA curve with its maximum, the share of negatively aligned samples",
    .init = init, .draw = draw, .fini = fini,
};

const tt_plugin_desc *traintop_plugin(void) { return &desc; }
