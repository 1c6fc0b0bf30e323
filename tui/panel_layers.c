/* panel_layers: the selected run's per-layer table — name, the key statistics as far as the width
 * allows, and a sparkline of the sorted statistic (update_ratio by default). Only visible rows query
 * their series, with as many points as the sparkline has cells, so a frame stays cheap at 1000 layers. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "fmt.h"
#include "sparkline.h"
#include "theme.h"

#define COL_W 9
#define SPARK_MIN 10
#define SPARK_MAX 60
#define SPARK_DEFAULT "update_ratio"

/* Statistic columns in the order they are added as the width grows. */
static const struct { const char *stat, *head; } col_defs[] = {
    { "w_norm", "w_norm" },
    { "g_norm", "g_norm" },
    { "update_ratio", "upd_ratio" },
    { "gw_cos", "gw_cos" },
    { "gamma_mean", "gamma" },
    { "angle", "angle" },
    { "noise_scale", "noise_sc" },
    { "alpha", "alpha" },
    { "stable_rank", "st_rank" },
    { "dist_init", "dist_init" },
    { "norm_test", "norm_test" },
    { "gsnr", "gsnr" },
    { "alpha_window", "alpha_win" },
    { "nonfinite", "nonfinite" },
    { "g_rms", "g_rms" },
    { "w_rms", "w_rms" },
    { "update_norm", "upd_norm" },
    { "angle_rows", "ang_rows" },
    { "w_var", "w_var" },
    { "trace_sigma", "trace_sig" },
    { "log_spectral_norm", "log_specn" },
    { "scale_inv_cos", "sinv_cos" },
    { "eff_step", "eff_step" },
};
#define NCOL_DEFS ((int)(sizeof col_defs / sizeof col_defs[0]))

/* Whether any layer of the run has received statistic k. */
static int stat_has_data(const tt_run *r, int k)
{
    for (int i = 0; i < r->nlayers; i++)
        if (r->layers[i].stat && tt_series_count(r->layers[i].stat[k])) return 1;
    return 0;
}

/* ---- sorting ---- */

static const tt_run *g_sort_run;     /* qsort context (single-threaded UI) */
static int g_sort_stat, g_sort_rev;

static int cmp_layers(const void *pa, const void *pb)
{
    int ia = *(const int *)pa, ib = *(const int *)pb;
    const tt_layer *a = &g_sort_run->layers[ia], *b = &g_sort_run->layers[ib];
    int c = 0;
    if (g_sort_stat == -2) {
        c = strcmp(a->name, b->name);
    } else if (g_sort_stat >= 0) {
        double va = a->last[g_sort_stat], vb = b->last[g_sort_stat];
        int fa = isfinite(va), fb = isfinite(vb);
        if (fa != fb) return fa - fb;             /* NaN/Inf first, whatever the direction */
        if (fa) c = va < vb ? 1 : va > vb ? -1 : 0; /* statistics: largest first */
    }
    if (g_sort_rev) c = -c;
    return c ? c : (ia > ib) - (ia < ib);
}

/* Sort statistic index for the run: -1 wire order, -2 name, ≥0 a statistic. */
static int sort_stat(const tui_app *a, const tt_run *r)
{
    if (!a->sort_key[0]) return -1;
    if (strcmp(a->sort_key, "name") == 0) return -2;
    int k = tt_run_stat_index(r, a->sort_key);
    return k >= 0 ? k : -1;
}

/* Fills a->order with the run's layer indexes in display order; returns the count (0 on OOM). */
static int layer_order(tui_app *a, const tt_run *r)
{
    int n = r->nlayers;
    int *o = tui_buf_reserve(&a->order, (size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!o) return 0;
    for (int i = 0; i < n; i++) o[i] = i;
    int k = sort_stat(a, r);
    if (k != -1 || a->sort_rev) {
        g_sort_run = r;
        g_sort_stat = k;
        g_sort_rev = a->sort_rev;
        qsort(o, (size_t)n, sizeof *o, cmp_layers);
    }
    return n;
}

static int pos_of(const tui_app *a, int n, int layer)
{
    const int *o = a->order.p;
    for (int i = 0; i < n; i++) if (o[i] == layer) return i;
    return 0;
}

void tui_layers_cycle_sort(tui_app *a)
{
    /* "" → name → each shown statistic column → "" */
    const char *next = "name";
    if (strcmp(a->sort_key, "name") == 0) {
        next = a->nlcols > 0 ? a->lcols[0] : "";
    } else if (a->sort_key[0]) {
        next = "";
        for (int i = 0; i < a->nlcols; i++)
            if (strcmp(a->lcols[i], a->sort_key) == 0) { next = i + 1 < a->nlcols ? a->lcols[i + 1] : ""; break; }
    }
    snprintf(a->sort_key, sizeof a->sort_key, "%s", next);
}

/* ---- drawing ---- */

static void layers_paint(tui_app *a, tui_panel *p)
{
    tt_run *r = tui_app_run(a);
    char title[512];
    const char *sk = !a->sort_key[0] ? "order" : a->sort_key;
    const char *dir = a->sort_rev ? (a->ascii ? " (rev)" : " \u2191") : "";
    if (!r) {
        tui_app_title(a, p, "Layers");
        return;
    }
    snprintf(title, sizeof title, "Layers (%d)  sort: %s%s", r->nlayers, sk, dir);
    tui_app_title(a, p, title);
    if (p->h < 3) return;

    /* the columns that fit */
    int maxname = 5;
    for (int i = 0; i < r->nlayers; i++) {
        int w = tui_text_width(r->layers[i].name);
        if (w > maxname) maxname = w;
    }
    int name_w = maxname < 10 ? 10 : maxname > 28 ? 28 : maxname;
    int colk[TUI_MAX_LCOLS], colstat[TUI_MAX_LCOLS], ncol = 0;
    a->nlcols = 0;
    for (int d = 0; d < NCOL_DEFS && ncol < TUI_MAX_LCOLS; d++) {
        int k = tt_run_stat_index(r, col_defs[d].stat);
        if (k < 0 || !stat_has_data(r, k)) continue;   /* declared but never sent (spectra off, …) */
        if (name_w + (ncol + 1) * (COL_W + 1) + 1 + SPARK_MIN > p->w) break;
        colk[ncol] = d;
        colstat[ncol] = k;
        a->lcols[a->nlcols++] = col_defs[d].stat;
        ncol++;
    }
    if (name_w + ncol * (COL_W + 1) + 1 + SPARK_MIN > p->w) name_w = p->w - ncol * (COL_W + 1) - 1 - SPARK_MIN;
    if (name_w < 4) name_w = 4;
    int spark_w = p->w - name_w - ncol * (COL_W + 1) - 1;
    if (spark_w > SPARK_MAX) {
        int give = spark_w - SPARK_MAX;
        if (name_w + give > maxname) give = maxname > name_w ? maxname - name_w : 0;
        name_w += give;
        spark_w -= give;
        if (spark_w > SPARK_MAX) spark_w = SPARK_MAX;
    }
    if (spark_w < 0) spark_w = 0;

    /* the sparkline's statistic: the sort key when it is one, else update_ratio, else the first */
    int sstat = sort_stat(a, r);
    if (sstat < 0) sstat = tt_run_stat_index(r, SPARK_DEFAULT);
    if (sstat < 0 && r->nstats > 0) sstat = 0;

    int sorted = sort_stat(a, r);
    int y = p->y + 1;
    attr_t ha = tui_attr(TUI_A_COLHEAD), hs = ha | A_REVERSE;
    tui_fill(stdscr, y, p->x, p->w, ha);
    tui_put(stdscr, y, p->x, name_w, "layer", sorted == -2 ? hs : ha, TUI_LEFT, a->ascii);
    int x = p->x + name_w;
    for (int c = 0; c < ncol; c++) {
        tui_put(stdscr, y, x + 1, COL_W, col_defs[colk[c]].head, colstat[c] == sorted ? hs : ha, TUI_RIGHT, a->ascii);
        x += COL_W + 1;
    }
    char sh[TT_NAME_MAX + 8];
    snprintf(sh, sizeof sh, "%s%s", a->ascii ? "~ " : "\u223f ", sstat >= 0 ? r->stat_names[sstat] : "");
    tui_put(stdscr, y, x + 1, spark_w, sh, ha, TUI_LEFT, a->ascii);

    if (r->nlayers == 0) {
        tui_put(stdscr, p->y + 2, p->x, p->w, "no layer statistics yet", tui_attr(TUI_A_DIM), TUI_CENTER, a->ascii);
        return;
    }
    int n = layer_order(a, r);
    if (n == 0) return;
    const int *o = a->order.p;
    int rows = p->h - 2;
    if (a->layer_cur < 0 || a->layer_cur >= n) a->layer_cur = 0;
    int cur = pos_of(a, n, a->layer_cur);
    if (cur < a->layer_top) a->layer_top = cur;
    if (cur >= a->layer_top + rows) a->layer_top = cur - rows + 1;
    if (a->layer_top > n - rows) a->layer_top = n - rows;
    if (a->layer_top < 0) a->layer_top = 0;

    int inonf = tt_run_stat_index(r, "nonfinite");
    tt_point *pts = tui_buf_reserve(&a->spark_buf, (size_t)(spark_w + 1) * (sizeof(tt_point) + sizeof(double) + sizeof(int)));
    int64_t to = r->last_layer_step >= 0 ? r->last_layer_step : r->step;
    for (int row = 0; row < rows && a->layer_top + row < n; row++) {
        int li = o[a->layer_top + row];
        const tt_layer *L = &r->layers[li];
        int is_cur = li == a->layer_cur;
        attr_t base = is_cur ? tui_attr(a->focus == TUI_P_LAYERS ? TUI_A_CURSOR : TUI_A_CURSOR_DIM) : 0;
        y = p->y + 2 + row;
        tui_fill(stdscr, y, p->x, p->w, base);
        int alarm = inonf >= 0 && L->last[inonf] > 0;
        tui_put(stdscr, y, p->x, name_w, L->name, alarm ? tui_attr(TUI_A_BAD) : base | (is_cur ? A_BOLD : 0),
                TUI_KEEP_TAIL, a->ascii);
        x = p->x + name_w;
        for (int c = 0; c < ncol; c++) {
            int k = colstat[c];
            double v = L->last[k];
            char num[TUI_FMT_MAX];
            tui_fmt_num(num, sizeof num, v);
            /* A NaN among the every-step statistics is an alarm; among the occasional ones (spectra,
             * per-sample) it means "not defined for this layer" (< 50 eigenvalues, say): dim, not red. */
            int occasional = k >= r->row_stats, none = !L->stat || tt_series_count(L->stat[k]) == 0;
            if (none || (occasional && isnan(v))) {
                tui_put(stdscr, y, x + 1, COL_W, none ? "-" : "n/a", base | tui_attr(TUI_A_DIM), TUI_RIGHT, a->ascii);
                x += COL_W + 1;
                continue;
            }
            int bad = !isfinite(v) || (k == inonf && v > 0);
            tui_put(stdscr, y, x + 1, COL_W, num, bad ? tui_attr(TUI_A_BAD) : base, TUI_RIGHT, a->ascii);
            x += COL_W + 1;
        }
        if (!pts || spark_w == 0 || sstat < 0 || !L->stat || !L->stat[sstat]) continue;
        size_t np = tt_series_query(L->stat[sstat], INT64_MIN, to, (size_t)spark_w, pts);
        double *vals = (double *)(pts + spark_w);
        int *lev = (int *)(vals + spark_w);
        for (size_t i = 0; i < np; i++) vals[i] = pts[i].finite ? (double)pts[i].mean : NAN;
        tui_spark_levels(vals, np, lev, NULL, NULL);
        /* statistics that need history (update_ratio, angle) are undefined at the first step: a
         * leading all-NaN stretch is "no data yet", not an alarm */
        for (size_t i = 0; i < np && pts[i].finite == 0; i++) lev[i] = TUI_SPARK_EMPTY;
        attr_t sa = is_cur ? base : tui_attr(TUI_A_SPARK);
        for (size_t i = 0; i < np; i++) {
            int nonfin = pts[i].finite < pts[i].count && lev[i] != TUI_SPARK_EMPTY;
            tui_puts(stdscr, y, x + 1 + (int)i, 1, tui_spark_glyph(lev[i], a->ascii),
                     nonfin ? tui_attr(TUI_A_BAD) : sa);
        }
    }
}

static void layers_cursor(tui_app *a, tui_panel *p, int delta)
{
    (void)p;
    tt_run *r = tui_app_run(a);
    if (!r || r->nlayers == 0) return;
    int n = layer_order(a, r);
    if (n == 0) return;
    long pos = (long)pos_of(a, n, a->layer_cur) + delta;
    if (delta == INT_MIN || pos < 0) pos = 0;
    if (delta == INT_MAX || pos >= n) pos = n - 1;
    a->layer_cur = ((const int *)a->order.p)[pos];
}

const tui_panel_class tui_panel_layers = {
    .name = "Layers",
    .paint = layers_paint,
    .cursor = layers_cursor,
    .enter = NULL,
    .focusable = NULL,
};
