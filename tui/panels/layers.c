/* panel_layers: the selected run's per-layer table — name, every statistic that has data as a column
 * (hidden ones aside; Left/Right scroll the columns), a sparkline of the sorted statistic (update_ratio
 * by default). Sorting by any column, an instant regex filter on the layer name (the order is cached
 * per filter, so typing stays cheap at 1000 layers), NaN/Inf highlighted, and outliers — values more
 * than 3 robust deviations from their column's median — marked. Only visible rows query their series,
 * with as many points as the sparkline has cells, so a frame stays cheap at 1000 layers. Also the
 * filter line's and the column chooser's keys. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/app.h"
#include "../widgets/chart.h"
#include "../widgets/fmt.h"
#include "../freeze.h"
#include "../widgets/robust.h"
#include "../widgets/sparkline.h"
#include "../widgets/theme.h"

#define COL_W 9
#define SPARK_MIN 10
#define SPARK_MAX 60
#define NAME_MAX_W 32
#define SPARK_DEFAULT "update_ratio"

/* Known statistics: their column heads, and the order columns come in; others follow in wire order. */
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
    { "alpha_err", "alpha_err" },
    { "alpha_weighted", "alpha_wtd" },
    { "log_norm", "log_norm" },
};
#define NCOL_DEFS ((int)(sizeof col_defs / sizeof col_defs[0]))

static const char *col_head(const char *stat)
{
    for (int d = 0; d < NCOL_DEFS; d++) if (strcmp(col_defs[d].stat, stat) == 0) return col_defs[d].head;
    return stat;
}

/* Whether any layer of the run has received statistic k. */
static int stat_has_data(const tt_run *r, int k)
{
    for (int i = 0; i < r->nlayers; i++)
        if (r->layers[i].stat && tui_series_count(r->layers[i].stat[k])) return 1;
    return 0;
}

/* The table's statistic columns (indexes into stat_names), in display order; also a->lcols. */
static int table_columns(tui_app *a, const tt_run *r, int *colstat)
{
    int n = 0;
    unsigned char used[512] = { 0 };
    for (int d = 0; d < NCOL_DEFS && n < TUI_MAX_LCOLS; d++) {
        int k = tt_run_stat_index(r, col_defs[d].stat);
        if (k < 0 || k >= 512 || !stat_has_data(r, k)) continue;   /* declared but never sent (spectra off, …) */
        used[k] = 1;
        if (tui_config_hidden(&a->cfg, col_defs[d].stat)) continue;
        colstat[n++] = k;
    }
    for (int k = 0; k < r->nstats && k < 512 && n < TUI_MAX_LCOLS; k++) {
        if (used[k] || !stat_has_data(r, k) || tui_config_hidden(&a->cfg, r->stat_names[k])) continue;
        colstat[n++] = k;
    }
    a->nlcols = n;
    for (int i = 0; i < n; i++) a->lcols[i] = r->stat_names[colstat[i]];
    return n;
}

/* ---- order: filter (cached), then sort ---- */

static const tt_run *g_sort_run;     /* qsort context (single-threaded UI) */
static const double *g_sort_vals;
static int g_sort_stat, g_sort_rev;

static int cmp_layers(const void *pa, const void *pb)
{
    int ia = *(const int *)pa, ib = *(const int *)pb;
    int c = 0;
    if (g_sort_stat == -2) {
        c = strcmp(g_sort_run->layers[ia].name, g_sort_run->layers[ib].name);
    } else if (g_sort_stat >= 0) {
        double va = g_sort_vals[ia], vb = g_sort_vals[ib];
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

/* The filter's pass list, rebuilt only when the run, its layers or the filter change; -1 on OOM. */
static int filtered(tui_app *a, const tt_run *r)
{
    int nl = tui_app_nlayers(a, r);
    if (a->ord_run != (const void *)r || a->ord_nlayers != nl || a->ord_gen != a->filter.gen) {
        int *c = tui_buf_reserve(&a->ord_cache, (size_t)(nl > 0 ? nl : 1) * sizeof(int));
        if (!c) return -1;
        int n = 0;
        for (int i = 0; i < nl; i++) if (tui_filter_match(&a->filter, r->layers[i].name)) c[n++] = i;
        a->ord_run = r;
        a->ord_nlayers = nl;
        a->ord_gen = a->filter.gen;
        a->ord_n = n;
    }
    return a->ord_n;
}

int tui_layers_count(tui_app *a, const tt_run *r)
{
    int n = filtered(a, r);
    return n < 0 ? 0 : n;
}

int tui_layers_order(tui_app *a, const tt_run *r, const int **order)
{
    int nl = tui_app_nlayers(a, r);
    if (filtered(a, r) < 0) { *order = NULL; return 0; }
    int n = a->ord_n;
    int *o = tui_buf_reserve(&a->order, (size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!o) { *order = NULL; return 0; }
    memcpy(o, a->ord_cache.p, (size_t)n * sizeof(int));
    a->nshown = n;
    int k = sort_stat(a, r);
    if (k != -1 || a->sort_rev) {
        double *vals = NULL;
        if (k >= 0) {
            vals = tui_buf_reserve(&a->vals_buf, (size_t)(nl > 0 ? nl : 1) * sizeof(double));
            if (!vals) { *order = o; return n; }
            for (int i = 0; i < n; i++) vals[o[i]] = tui_app_layer_last(a, r, o[i], k);
        }
        g_sort_run = r;
        g_sort_vals = vals;
        g_sort_stat = k;
        g_sort_rev = a->sort_rev;
        qsort(o, (size_t)n, sizeof *o, cmp_layers);
    }
    *order = o;
    return n;
}

static int pos_of(const int *o, int n, int layer)
{
    for (int i = 0; i < n; i++) if (o[i] == layer) return i;
    return -1;
}

void tui_layers_cycle_sort(tui_app *a)
{
    /* "" → name → each column of the table → "" */
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

typedef struct {
    int name_w, spark_w, first, ncol;      /* the visible columns: colstat[first .. first+ncol) */
    int colstat[TUI_MAX_LCOLS], ntotal;
} table_geom;

static table_geom g_tg;                    /* the last frame's, for clicks */
static int g_tg_y, g_tg_x;

static void geometry(tui_app *a, tui_panel *p, const tt_run *r, const int *o, int n, table_geom *tg)
{
    tg->ntotal = table_columns(a, r, tg->colstat);
    int maxname = 5;
    for (int i = 0; i < n; i++) {
        int w = tui_text_width(r->layers[o[i]].name);
        if (w > maxname) maxname = w;
        if (maxname >= NAME_MAX_W) break;
    }
    int name_w = maxname < 10 ? 10 : maxname > NAME_MAX_W ? NAME_MAX_W : maxname;
    if (name_w > p->w / 3 && p->w < 80) name_w = p->w / 3 < 10 ? 10 : p->w / 3;
    /* horizontal scroll: keep the sorted column in view when the table is wider than the panel */
    int fit = (p->w - name_w - 1 - SPARK_MIN) / (COL_W + 1);
    if (fit < 1) fit = 1;
    if (a->lcol_first > tg->ntotal - fit) a->lcol_first = tg->ntotal - fit;
    if (a->lcol_first < 0) a->lcol_first = 0;
    int ncol = tg->ntotal - a->lcol_first < fit ? tg->ntotal - a->lcol_first : fit;
    if (ncol < 0) ncol = 0;
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
    tg->name_w = name_w;
    tg->spark_w = spark_w;
    tg->first = a->lcol_first;
    tg->ncol = ncol;
}

static void layers_paint(tui_app *a, tui_panel *p)
{
    tt_run *r = tui_app_run(a);
    char title[600];
    const char *sk = !a->sort_key[0] ? "order" : a->sort_key;
    const char *dir = a->sort_rev ? (a->ascii ? " (rev)" : " \u2191") : "";
    memset(&g_tg, 0, sizeof g_tg);
    if (!r) {
        tui_app_title(a, p, "Layers");
        if (p->h >= 3) tui_put(stdscr, p->y + 2, p->x, p->w, "waiting for runs...", tui_attr(TUI_A_DIM), TUI_CENTER, a->ascii);
        return;
    }
    const int *o;
    int n = tui_layers_order(a, r, &o);
    int nl = tui_app_nlayers(a, r);
    char count[48], filt[TUI_FILTER_MAX + 16] = "", of[TT_NAME_MAX + 8] = "";
    if (tui_filter_on(&a->filter)) {
        snprintf(count, sizeof count, "%d/%d", n, nl);
        snprintf(filt, sizeof filt, "  filter: /%s/", a->filter.active);
    } else {
        snprintf(count, sizeof count, "%d", nl);
    }
    if (a->view != TUI_V_OVERVIEW) snprintf(of, sizeof of, " of %s", r->name);
    snprintf(title, sizeof title, "Layers (%s)%s  sort: %s%s%s", count, of, sk, dir, filt);
    tui_app_title(a, p, title);
    if (p->h < 3) return;

    table_geom tg;
    geometry(a, p, r, o, n, &tg);
    g_tg = tg;
    g_tg_y = p->y + 1;
    g_tg_x = p->x;
    int name_w = tg.name_w, spark_w = tg.spark_w;

    /* the sparkline's statistic: the sort key when it is one, else update_ratio, else the first */
    int sorted = sort_stat(a, r);
    int sstat = sorted;
    if (sstat < 0) sstat = tt_run_stat_index(r, SPARK_DEFAULT);
    if (sstat < 0 && r->nstats > 0) sstat = 0;

    int y = p->y + 1;
    attr_t ha = tui_attr(TUI_A_COLHEAD), hs = ha | A_REVERSE;
    tui_fill(stdscr, y, p->x, p->w, ha);
    tui_put(stdscr, y, p->x, name_w, "layer", sorted == -2 ? hs : ha, TUI_LEFT, a->ascii);
    int x = p->x + name_w;
    if (tg.first > 0) tui_puts(stdscr, y, x, 1, "<", tui_attr(TUI_A_WARN));
    for (int c = 0; c < tg.ncol; c++) {
        int k = tg.colstat[tg.first + c];
        tui_put(stdscr, y, x + 1, COL_W, col_head(r->stat_names[k]), k == sorted ? hs : ha, TUI_RIGHT, a->ascii);
        x += COL_W + 1;
    }
    if (tg.first + tg.ncol < tg.ntotal) tui_puts(stdscr, y, x, 1, ">", tui_attr(TUI_A_WARN));
    char sh[TT_NAME_MAX + 8];
    snprintf(sh, sizeof sh, "%s%s", a->ascii ? "~ " : "\u223f ", sstat >= 0 ? r->stat_names[sstat] : "");
    tui_put(stdscr, y, x + 1, spark_w, sh, ha, TUI_LEFT, a->ascii);

    if (nl == 0) {
        tui_put(stdscr, p->y + 2, p->x, p->w, "no layer statistics yet", tui_attr(TUI_A_DIM), TUI_CENTER, a->ascii);
        return;
    }
    if (n == 0) {
        char m[TUI_FILTER_MAX + 48];
        snprintf(m, sizeof m, "no layer matches /%s/ (Esc clears the filter)", a->filter.active);
        tui_put(stdscr, p->y + 2, p->x, p->w, m, tui_attr(TUI_A_DIM), TUI_CENTER, a->ascii);
        return;
    }
    int rows = p->h - 2;
    int cur = pos_of(o, n, a->layer_cur);
    if (cur < 0) { cur = 0; a->layer_cur = o[0]; }   /* filtered away: the first row */
    if (cur < a->layer_top) a->layer_top = cur;
    if (cur >= a->layer_top + rows) a->layer_top = cur - rows + 1;
    if (a->layer_top > n - rows) a->layer_top = n - rows;
    if (a->layer_top < 0) a->layer_top = 0;

    /* outliers: each visible column's median and MAD over the rows that pass the filter */
    tui_robust rob[TUI_MAX_LCOLS];
    double *colv = tui_buf_reserve(&a->vals_buf, (size_t)(2 * n + 1) * sizeof(double));
    for (int c = 0; c < tg.ncol; c++) {
        rob[c] = (tui_robust){ NAN, NAN, 0 };
        int k = tg.colstat[tg.first + c];
        if (!colv || k == tt_run_stat_index(r, "nonfinite")) continue;
        for (int i = 0; i < n; i++) colv[i] = tui_app_layer_last(a, r, o[i], k);
        rob[c] = tui_robust_stats(colv, (size_t)n, colv + n);
    }

    int inonf = tt_run_stat_index(r, "nonfinite");
    tt_point *pts = tui_buf_reserve(&a->spark_buf, (size_t)(spark_w + 1) * (sizeof(tt_point) + sizeof(double) + sizeof(int)));
    int64_t to = tui_app_layer_step(a, r);
    if (to < 0) to = tui_app_step(a, r);
    for (int row = 0; row < rows && a->layer_top + row < n; row++) {
        int li = o[a->layer_top + row];
        const tt_layer *L = &r->layers[li];
        const double *last = tui_app_layer_row(a, r, li);
        int is_cur = li == a->layer_cur;
        attr_t base = is_cur ? tui_attr(a->focus == TUI_P_LAYERS ? TUI_A_CURSOR : TUI_A_CURSOR_DIM) : 0;
        y = p->y + 2 + row;
        tui_fill(stdscr, y, p->x, p->w, base);
        int alarm = inonf >= 0 && last && last[inonf] > 0;
        tui_put(stdscr, y, p->x, name_w, L->name, alarm ? tui_attr(TUI_A_BAD) : base | (is_cur ? A_BOLD : 0),
                TUI_KEEP_TAIL, a->ascii);
        x = p->x + name_w;
        for (int c = 0; c < tg.ncol; c++) {
            int k = tg.colstat[tg.first + c];
            double v = last ? last[k] : NAN;
            char num[TUI_FMT_MAX];
            tui_fmt_num(num, sizeof num, v);
            /* A NaN among the every-step statistics is an alarm; among the occasional ones (spectra,
             * per-sample) it means "not defined for this layer" (< 50 eigenvalues, say): dim, not red. */
            int occasional = k >= r->row_stats, none = !last || !L->stat || tui_series_count(L->stat[k]) == 0;
            if (none || (occasional && isnan(v))) {
                tui_put(stdscr, y, x + 1, COL_W, none ? "-" : "n/a", base | tui_attr(TUI_A_DIM), TUI_RIGHT, a->ascii);
                x += COL_W + 1;
                continue;
            }
            int bad = !isfinite(v) || (k == inonf && v > 0);
            attr_t at = base;
            if (bad) at = tui_attr(TUI_A_BAD);
            else if (tui_robust_outlier(&rob[c], v, TUI_OUTLIER_K)) at = tui_attr(TUI_A_OUTLIER);
            tui_put(stdscr, y, x + 1, COL_W, num, at, TUI_RIGHT, a->ascii);
            x += COL_W + 1;
        }
        if (!pts || spark_w == 0 || sstat < 0 || !L->stat || !L->stat[sstat]) continue;
        size_t np = tui_query(L->stat[sstat], INT64_MIN, to, (size_t)spark_w, pts);
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
            tui_puts(stdscr, y, x + 1 + (int)i, 1, tui_spark_glyph(lev[i], a->ascii), nonfin ? tui_attr(TUI_A_BAD) : sa);
        }
    }
}

static void layers_cursor(tui_app *a, tui_panel *p, int delta)
{
    (void)p;
    tt_run *r = tui_app_run(a);
    if (!r || r->nlayers == 0) return;
    const int *o;
    int n = tui_layers_order(a, r, &o);
    if (n == 0) return;
    int cur = pos_of(o, n, a->layer_cur);
    long pos = (long)(cur < 0 ? 0 : cur) + delta;
    if (delta == INT_MIN || pos < 0) pos = 0;
    if (delta == INT_MAX || pos >= n) pos = n - 1;
    a->layer_cur = o[pos];
}

static void layers_hmove(tui_app *a, tui_panel *p, int delta)
{
    (void)p;
    if (delta == INT_MIN) a->lcol_first = 0;
    else if (delta == INT_MAX) a->lcol_first = TUI_MAX_LCOLS;
    else a->lcol_first += delta;
    if (a->lcol_first < 0) a->lcol_first = 0;           /* the paint clamps the other end */
}

/* Enter: the heatmap of the sorted statistic (or the default one), on this layer. */
static void layers_enter(tui_app *a, tui_panel *p)
{
    (void)p;
    tt_run *r = tui_app_run(a);
    if (!r || r->nlayers == 0) return;
    int k = sort_stat(a, r);
    if (k >= 0) snprintf(a->cfg.heat_metric, sizeof a->cfg.heat_metric, "%s", r->stat_names[k]);
    a->heat_top = 0;
    tui_app_set_view(a, TUI_V_HEATMAP);
}

/* A click: on the header, sort by that column (again: reverse); on a row, select it. */
static void layers_click(tui_app *a, tui_panel *p, int y, int x)
{
    tt_run *r = tui_app_run(a);
    if (!r) return;
    if (y == g_tg_y) {
        const char *key = NULL;
        if (x < g_tg_x + g_tg.name_w) key = "name";
        int cx = g_tg_x + g_tg.name_w;
        for (int c = 0; c < g_tg.ncol && !key; c++, cx += COL_W + 1)
            if (x >= cx && x < cx + COL_W + 1) key = r->stat_names[g_tg.colstat[g_tg.first + c]];
        if (!key) return;
        if (strcmp(a->sort_key, key) == 0) a->sort_rev = !a->sort_rev;
        else { snprintf(a->sort_key, sizeof a->sort_key, "%s", key); a->sort_rev = 0; }
        snprintf(a->cfg.sort, sizeof a->cfg.sort, "%s", a->sort_key);
        a->cfg.sort_rev = a->sort_rev;
        tui_app_save_config(a);
        return;
    }
    int row = y - p->y - 2;
    const int *o;
    int n = tui_layers_order(a, r, &o);
    if (row >= 0 && a->layer_top + row < n) a->layer_cur = o[a->layer_top + row];
}

const tui_panel_class tui_panel_layers = {
    .name = "Layers",
    .paint = layers_paint,
    .cursor = layers_cursor,
    .enter = layers_enter,
    .focusable = NULL,
    .hmove = layers_hmove,
    .click = layers_click,
};

/* ---- the filter line ---- */

void tui_layers_filter_begin(tui_app *a)
{
    a->input = 1;
    snprintf(a->input_prev, sizeof a->input_prev, "%s", a->filter.active);
    snprintf(a->filter.pattern, sizeof a->filter.pattern, "%s", a->filter.active);
    a->filter.err[0] = '\0';
    if (a->view == TUI_V_OVERVIEW && a->panel[TUI_P_LAYERS].visible) {
        a->focus = TUI_P_LAYERS;
        a->vfocus[a->view] = TUI_P_LAYERS;
    }
}

/* Keys while the filter line is open; returns 0 for the keys it leaves to the table (arrows). */
int tui_layers_input_key(tui_app *a, int ch)
{
    char pat[TUI_FILTER_MAX];
    snprintf(pat, sizeof pat, "%s", a->filter.pattern);
    size_t n = strlen(pat);
    switch (ch) {
    case '\n': case '\r': case KEY_ENTER:
        a->input = 0;
        if (a->filter.err[0]) {          /* an invalid pattern is not kept: the last valid one is */
            snprintf(a->filter.pattern, sizeof a->filter.pattern, "%s", a->filter.active);
            a->filter.err[0] = '\0';
        }
        return 1;
    case 27:
        a->input = 0;
        tui_filter_set(&a->filter, a->input_prev);
        a->filter.err[0] = '\0';
        return 1;
    case KEY_BACKSPACE: case 127: case 8:
        if (n == 0) {                    /* backspace on an empty line closes it */
            a->input = 0;
            return 1;
        }
        pat[n - 1] = '\0';
        tui_filter_set(&a->filter, pat);
        return 1;
    case 21:                             /* ^U */
        tui_filter_set(&a->filter, "");
        return 1;
    default:
        if (ch >= 0x20 && ch < 0x7f) {
            if (n + 1 < sizeof pat) {
                pat[n] = (char)ch;
                pat[n + 1] = '\0';
                tui_filter_set(&a->filter, pat);
            }
            return 1;
        }
        return 0;
    }
}

/* ---- the column chooser ---- */

static int colsel_list(tui_app *a, const tt_run *r, int *stats)
{
    int n = 0;
    unsigned char used[512] = { 0 };
    for (int d = 0; d < NCOL_DEFS; d++) {
        int k = tt_run_stat_index(r, col_defs[d].stat);
        if (k < 0 || k >= 512) continue;
        used[k] = 1;
        stats[n++] = k;
    }
    for (int k = 0; k < r->nstats && k < 512; k++) if (!used[k]) stats[n++] = k;
    (void)a;
    return n;
}

void tui_layers_colsel_paint(tui_app *a)
{
    tt_run *r = tui_app_run(a);
    if (!r) { a->colsel = 0; return; }
    int stats[512];
    int n = colsel_list(a, r, stats);
    int top = a->tabbar ? 2 : 1, maxh = LINES - 1 - top;
    int w = 44 < COLS - 2 ? 44 : COLS - 2, h = n + 3 < maxh ? n + 3 : maxh;
    int y0 = top + (maxh - h) / 2, x0 = (COLS - w) / 2;
    if (h < 4 || w < 20) return;
    if (a->colsel_cur >= n) a->colsel_cur = n - 1;
    if (a->colsel_cur < 0) a->colsel_cur = 0;
    int rows = h - 3, first = a->colsel_cur >= rows ? a->colsel_cur - rows + 1 : 0;
    attr_t tf = tui_attr(TUI_A_TITLE_FOCUS);
    tui_fill(stdscr, y0, x0, w, tf);
    tui_put(stdscr, y0, x0 + 1, w - 2, "Columns: Space shows/hides, a all, Esc done", tf, TUI_LEFT, a->ascii);
    for (int i = 0; i < rows + 2; i++) tui_fill(stdscr, y0 + 1 + i, x0, w, 0);
    for (int i = 0; i < rows && first + i < n; i++) {
        int k = stats[first + i];
        int hidden = tui_config_hidden(&a->cfg, r->stat_names[k]);
        char line[160];
        snprintf(line, sizeof line, "[%s] %-18s %s", hidden ? " " : "x", r->stat_names[k],
                 !stat_has_data(r, k) ? "(no data)" : k < r->row_stats ? "every step" : "occasional");
        attr_t at = first + i == a->colsel_cur ? tui_attr(TUI_A_CURSOR) : hidden ? tui_attr(TUI_A_DIM) : 0;
        tui_put(stdscr, y0 + 1 + i, x0 + 1, w - 2, line, at, TUI_LEFT, a->ascii);
    }
    char foot[64];
    snprintf(foot, sizeof foot, "%d hidden", a->cfg.nhidden);
    tui_put(stdscr, y0 + h - 1, x0 + 1, w - 2, foot, tui_attr(TUI_A_DIM), TUI_LEFT, a->ascii);
}

int tui_layers_colsel_key(tui_app *a, int ch)
{
    tt_run *r = tui_app_run(a);
    if (!r) { a->colsel = 0; return 0; }
    int stats[512];
    int n = colsel_list(a, r, stats);
    switch (ch) {
    case KEY_UP: case 'k': if (a->colsel_cur > 0) a->colsel_cur--; return 1;
    case KEY_DOWN: case 'j': if (a->colsel_cur < n - 1) a->colsel_cur++; return 1;
    case KEY_HOME: case 'g': a->colsel_cur = 0; return 1;
    case KEY_END: case 'G': a->colsel_cur = n - 1; return 1;
    case ' ': case '\n': case '\r': case KEY_ENTER:
        if (a->colsel_cur >= 0 && a->colsel_cur < n) {
            tui_config_toggle_hidden(&a->cfg, r->stat_names[stats[a->colsel_cur]]);
            tui_app_save_config(a);
        }
        return 1;
    case 'a':
        a->cfg.nhidden = 0;
        tui_app_save_config(a);
        return 1;
    case 27: case 'c': case 'q':
        a->colsel = 0;
        return 1;
    default:
        return ch != KEY_MOUSE && ch != KEY_RESIZE;   /* the chooser is modal */
    }
}

/* ---- the selected layer's statistics, under a short table ---- */

static void detail_paint(tui_app *a, tui_panel *p)
{
    tt_run *r = tui_app_run(a);
    if (!r || a->layer_cur < 0 || a->layer_cur >= tui_app_nlayers(a, r)) {
        tui_app_title(a, p, "Layer");
        return;
    }
    const tt_layer *L = &r->layers[a->layer_cur];
    char title[TT_NAME_MAX + 96];
    snprintf(title, sizeof title, "Layer %s (%lldx%lld): its statistics over the steps", L->name, (long long)L->rows,
             (long long)L->cols);
    tui_app_title(a, p, title);
    int colstat[TUI_MAX_LCOLS];
    int n = table_columns(a, r, colstat), inonf = tt_run_stat_index(r, "nonfinite");
    int ks[TUI_MAX_LCOLS], nk = 0;
    for (int i = 0; i < n; i++) if (colstat[i] != inonf) ks[nk++] = colstat[i];
    int h = p->h - 1, w = p->w;
    if (nk == 0 || h < 5) return;
    int cols = w / 36 < 1 ? 1 : w / 36;
    if (cols > nk) cols = nk;
    int rows = (nk + cols - 1) / cols;
    if (rows > h / 5) rows = h / 5;
    if (rows < 1) rows = 1;
    if (nk > rows * cols) nk = rows * cols;
    int64_t to = tui_app_layer_step(a, r), from = INT64_MAX;
    for (int i = 0; i < nk && from == INT64_MAX; i++) {
        tt_point pt;
        if (L->stat && tui_query(L->stat[ks[i]], INT64_MIN, INT64_MAX, 1, &pt) == 1) from = pt.first;
    }
    if (from == INT64_MAX || to < from) return;
    tui_chart_opts co = { .style = tui_app_chart_style(a), .log_y = a->cfg.log_y };
    for (int i = 0; i < nk; i++) {
        int rr = i / cols, cc = i % cols;
        int in_row = nk - rr * cols < cols ? nk - rr * cols : cols;
        int cy = p->y + 1 + rr * h / rows, ch = (rr + 1) * h / rows - rr * h / rows;
        int cx = p->x + cc * w / in_row, cw = (cc + 1) * w / in_row - cc * w / in_row;
        tui_chart_line line = { r->stat_names[ks[i]], L->stat ? L->stat[ks[i]] : NULL, tui_app_layer_last(a, r, a->layer_cur, ks[i]),
                                TUI_A_SERIES0 };
        tui_chart_draw_ex(stdscr, cy, cx, ch, cw - (cc < in_row - 1), &line, 1, from, to, &co, &a->chart_buf, NULL);
        if (cc < in_row - 1)
            for (int yy = cy; yy < cy + ch; yy++) tui_puts(stdscr, yy, cx + cw - 1, 1, a->ascii ? "|" : "\u2502", tui_attr(TUI_A_DIM));
    }
}

const tui_panel_class tui_panel_ldetail = {
    .name = "Layer",
    .paint = detail_paint,
};
