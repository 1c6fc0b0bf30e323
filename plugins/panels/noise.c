/* noise: the gradient-noise scale (critical batch size) over time with its raw per-step value, the
 * norm test, the trace of the gradient covariance, and — for data-parallel runs — the cross-rank
 * estimate and every rank's local gradient norm. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    if (run < 0 || !s->has_metric(s->host, run, -1, "noise_scale")) {
        s->text(s->host, f, 1, 1, "no noise statistics: hand per-sample batches to the probe (tt_probe_dense_batch)", TT_PLUGIN_DIM);
        return;
    }
    char line[200];
    snprintf(line, sizeof line, "critical batch size (B_simple, smoothed): %.4g   norm test: %.3g   tr Sigma: %.4g",
             s->last(s->host, run, -1, "noise_scale"), s->last(s->host, run, -1, "norm_test"), s->last(s->host, run, -1, "trace_sigma"));
    s->text(s->host, f, 0, 1, line, TT_PLUGIN_BOLD);
    int half = (f->h - 1) / 2;
    const char *m1[] = { "noise_scale", "noise_scale_ranks" };
    s->chart(s->host, f, 1, 0, half, f->w, "noise scale", run, -1, m1, s->has_metric(s->host, run, -1, "noise_scale_ranks") ? 2 : 1);
    /* per-rank local gradient norms: the runs with this name */
    const char *name = s->run_name(s->host, run);
    int y = 1 + half, shown = 0;
    for (int r = 0; r < s->run_count(s->host) && y + shown < f->h; r++) {
        if (strcmp(s->run_name(s->host, r), name) || !s->has_metric(s->host, r, -1, "local_grad_sq")) continue;
        tt_plugin_point pts[64];
        double v[64];
        size_t n = s->series(s->host, r, -1, "local_grad_sq", INT64_MIN, INT64_MAX, (size_t)(f->w - 24 > 64 ? 64 : f->w - 24), pts);
        for (size_t i = 0; i < n; i++) v[i] = pts[i].mean;
        snprintf(line, sizeof line, "rank %-3d %9.3g", s->run_rank(s->host, r), s->last(s->host, r, -1, "local_grad_sq"));
        s->text(s->host, f, y + shown, 1, line, TT_PLUGIN_NORMAL);
        s->sparkline(s->host, f, y + shown, 22, f->w - 23, v, n);
        shown++;
    }
    if (!shown) {
        const char *m2[] = { "norm_test", "inner_test", "ortho_test" };
        s->chart(s->host, f, y, 0, f->h - y, f->w, "gradient-noise tests", run, -1, m2, 3);
    }
}

static void fini(void *st) { free(st); }

static const tt_plugin_desc desc = {
    .size = sizeof(tt_plugin_desc), .abi_major = TT_PLUGIN_ABI_MAJOR, .abi_minor = TT_PLUGIN_ABI_MINOR,
    .name = "noise", .title = "Gradient noise",
    .description = "noise scale and critical batch size over time, per-rank gradient norms",
    .init = init, .draw = draw, .fini = fini,
};

const tt_plugin_desc *traintop_plugin(void) { return &desc; }
