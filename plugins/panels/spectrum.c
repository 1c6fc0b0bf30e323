/* spectrum: per-layer power-law exponent α, stable rank and the α of the sub-window spectra, how they
 * moved over the run, and α's trajectory for the selected layer (α < 2 over-trained, 2–6 well
 * trained, > 6 under-trained, as a heuristic). Keys: j/k choose the layer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "traintop/plugin.h"

typedef struct { const tt_plugin_services *s; int layer; } state;

static int init(const tt_plugin_services *s, void **st)
{
    state *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->s = s;
    *st = p;
    return 0;
}

static const char *verdict(double a)
{
    return isnan(a) ? "n/a: too small" : a < 2 ? "over-trained?" : a > 6 ? "under-trained?" : "well trained";
}

static void draw(void *st, const tt_plugin_frame *f)
{
    state *p = st;
    const tt_plugin_services *s = p->s;
    int run = f->selected_run;
    if (run < 0 || !s->has_metric(s->host, run, 0, "alpha")) {
        s->text(s->host, f, 1, 1, "no spectra yet: probes compute them every spectral_every steps", TT_PLUGIN_DIM);
        return;
    }
    int nl = s->layer_count(s->host, run);
    if (p->layer >= nl) p->layer = nl - 1;
    if (p->layer < 0) p->layer = 0;
    static const int wid[] = { 22, 9, 9, 9, 16 };
    const char *head[] = { "layer", "alpha", "st_rank", "alpha_win", "reading" };
    int rows = f->h / 2 - 2 > 0 ? f->h / 2 - 2 : 1;
    if (rows > nl) rows = nl;
    char *cells[64 * 5];
    char buf[64][5][32];
    int first = p->layer >= rows ? p->layer - rows + 1 : 0;
    int n = 0;
    for (int l = first; l < nl && n < rows && n < 64; l++, n++) {
        double a = s->last(s->host, run, l, "alpha"), sr = s->last(s->host, run, l, "stable_rank"), aw = s->last(s->host, run, l, "alpha_window");
        snprintf(buf[n][0], 32, "%s%s", l == p->layer ? "> " : "  ", s->layer_name(s->host, run, l));
        /* NaN: not defined for this layer (fewer than 50 eigenvalues, a vector) */
        snprintf(buf[n][1], 32, isnan(a) ? "n/a" : "%.3g", a);
        snprintf(buf[n][2], 32, isnan(sr) ? "n/a" : "%.3g", sr);
        snprintf(buf[n][3], 32, isnan(aw) ? "n/a" : "%.3g", aw);
        snprintf(buf[n][4], 32, "%s", verdict(a));
        for (int c = 0; c < 5; c++) cells[n * 5 + c] = buf[n][c];
    }
    s->table(s->host, f, 0, 0, 5, wid, head, (const char *const *)cells, n);
    const char *m[] = { "alpha", "alpha_window" };
    char title[160];
    snprintf(title, sizeof title, "alpha of %s over the run (j/k: layer)", s->layer_name(s->host, run, p->layer));
    s->chart(s->host, f, n + 2, 0, f->h - n - 2, f->w, title, run, p->layer, m, 2);
}

static int key(void *st, int k)
{
    state *p = st;
    if (k == 'j') { p->layer++; return 1; }
    if (k == 'k' && p->layer > 0) { p->layer--; return 1; }
    return 0;
}

static void fini(void *st) { free(st); }

static const tt_plugin_desc desc = {
    .size = sizeof(tt_plugin_desc), .abi_major = TT_PLUGIN_ABI_MAJOR, .abi_minor = TT_PLUGIN_ABI_MINOR,
    .name = "spectrum", .title = "Spectra",
    .description = "per-layer power-law alpha, stable rank and their trajectories",
    .init = init, .draw = draw, .key = key, .fini = fini,
};

const tt_plugin_desc *traintop_plugin(void) { return &desc; }
