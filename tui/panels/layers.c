/* layers: the selected run's per-layer table — name, every statistic that has data as a column
 * (hidden ones aside; Left/Right scroll the columns), a sparkline of the sorted statistic (update_ratio
 * by default). Sorting by any column, an instant regex filter on the layer name (the order is cached
 * per filter, so typing stays cheap at 1000 layers), NaN/Inf highlighted, and outliers — values more
 * than 3 robust deviations from their column's median — marked. Only visible rows query their series,
 * with as many points as the sparkline has cells, so a frame stays cheap at 1000 layers. Also the
 * column chooser (c), a modal overlay. The selected layer, the filter and the sort are the shared
 * layer selection (tui/layersel.h): the heatmap and the layer detail follow them. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../panel.h"
#include "../widgets/chart.h"
#include "../widgets/fmt.h"
#include "../widgets/robust.h"
#include "../widgets/sparkline.h"
#include "../widgets/theme.h"
#include "../views.h"
#include "columns.h"

#define COL_W 9
#define SPARK_MIN 10
#define SPARK_MAX 60
#define NAME_MAX_W 32
#define SPARK_DEFAULT "update_ratio"

#define PROB_W 8               /* the problem column ("outlier" and a space) */

typedef struct {
    int name_w, spark_w, first, ncol;      /* the visible columns: colstat[first .. first+ncol) */
    int prob_w;                            /* the problem column after the name (0: no layer has one) */
    int colstat[TUI_MAX_LCOLS], ntotal;
} table_geom;

/* The panel: its scroll (rows and columns), the last frame's geometry for clicks, the column chooser
 * and its scratch buffers. */
typedef struct {
    tui_panel super;
    int top;                   /* first visible row, in display order */
    int col_first;             /* first statistic column shown (horizontal scroll) */
    char shown_sort[128];      /* the sort whose column was last scrolled into view */
    table_geom tg;             /* the last frame's, for clicks */
    int tg_y, tg_x;
    int colsel, colsel_cur;    /* the column chooser is open; its cursor */
    tui_buf spark_buf, vals_buf;
} layers_panel;

/* ---- drawing ---- */

static int pos_of(const int *o, int n, int layer)
{
    for (int i = 0; i < n; i++) if (o[i] == layer) return i;
    return -1;
}

static void geometry(tui_ctx *ctx, tui_panel *p, const tt_run *r, const int *o, int n, table_geom *tg, int prob_w)
{
    layers_panel *lp = (layers_panel *)p;
    tui_panel q = *p;              /* the statistics share what the problem column leaves */
    q.w -= prob_w;
    p = &q;
    tg->ntotal = tui_table_columns(ctx, r, tg->colstat);
    int maxname = 5;
    for (int i = 0; i < n; i++) {
        int w = tui_text_width(tui_layer_name(r, o[i]));
        int gs = tui_layersel_group_size(&ctx->layers, o[i]);
        if (gs > 1) {                          /* "▸ blocks.3.* (4)" */
            char g[96];
            tui_layer_group(tui_layer_name(r, o[i]), g, sizeof g);
            w = tui_text_width(g) + 7 + (gs >= 10) + (gs >= 100) + (gs >= 1000);
        }
        if (w > maxname) maxname = w;
        if (maxname >= NAME_MAX_W) break;
    }
    int name_w = maxname < 10 ? 10 : maxname > NAME_MAX_W ? NAME_MAX_W : maxname;
    if (name_w > p->w / 3 && p->w < 80) name_w = p->w / 3 < 10 ? 10 : p->w / 3;
    /* horizontal scroll: keep the sorted column in view when the table is wider than the panel */
    int fit = (p->w - name_w - 1 - SPARK_MIN) / (COL_W + 1);
    if (fit < 1) fit = 1;
    /* a new sort brings its column into view once (Left/Right may scroll it away again) */
    if (strcmp(lp->shown_sort, ctx->layers.sort_key) != 0) {
        snprintf(lp->shown_sort, sizeof lp->shown_sort, "%s", ctx->layers.sort_key);
        int k = tui_layersel_sort_stat(&ctx->layers, r);
        for (int i = 0; k >= 0 && i < tg->ntotal; i++)
            if (tg->colstat[i] == k) {
                if (i < lp->col_first) lp->col_first = i;
                if (i >= lp->col_first + fit) lp->col_first = i - fit + 1;
            }
    }
    if (lp->col_first > tg->ntotal - fit) lp->col_first = tg->ntotal - fit;
    if (lp->col_first < 0) lp->col_first = 0;
    int ncol = tg->ntotal - lp->col_first < fit ? tg->ntotal - lp->col_first : fit;
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
    tg->first = lp->col_first;
    tg->ncol = ncol;
    tg->prob_w = prob_w;
}

static void layers_paint(tui_ctx *ctx, tui_panel *p)
{
    layers_panel *lp = (layers_panel *)p;
    const tt_run *r = tui_ctx_run(ctx);
    char title[600];
    const char *sk = !ctx->layers.sort_key[0] ? "order" : ctx->layers.sort_key;
    const char *dir = ctx->layers.sort_rev ? (ctx->ascii ? " (rev)" : " \u2191") : "";
    memset(&lp->tg, 0, sizeof lp->tg);
    if (!r) {
        tui_ctx_title(ctx, p, "Layers");
        if (p->h >= 3) tui_put(stdscr, p->y + 2, p->x, p->w, "waiting for runs...", tui_attr(TUI_A_DIM), TUI_CENTER, ctx->ascii);
        return;
    }
    const int *o;
    int n = tui_layersel_order(&ctx->layers, ctx->m, r, &o);
    int nl = tui_model_nlayers(ctx->m, r);
    char count[48], filt[TUI_FILTER_MAX + 16] = "", of[TT_NAME_MAX + 8] = "";
    if (tui_filter_on(&ctx->layers.filter) || ctx->layers.problems_only) {
        snprintf(count, sizeof count, "%d/%d", ctx->layers.nfiltered, nl);
        if (tui_filter_on(&ctx->layers.filter)) snprintf(filt, sizeof filt, "  filter: /%s/", ctx->layers.filter.active);
        if (ctx->layers.problems_only) {
            size_t l = strlen(filt);
            snprintf(filt + l, sizeof filt - l, "  problems only (P)");
        }
    } else {
        snprintf(count, sizeof count, "%d", nl);
    }
    if (ctx->layers.fold_all || ctx->layers.nfolds) {
        size_t l = strlen(filt);
        snprintf(filt + l, sizeof filt - l, "  %d rows, groups folded (+ - *)", n);
    }
    if (p->main) snprintf(of, sizeof of, " of %s", tui_run_name(r));
    snprintf(title, sizeof title, "Layers (%s)%s  sort: %s%s%s", count, of, sk, dir, filt);
    tui_ctx_title(ctx, p, title);
    if (p->h < 3) return;

    /* the problem column (runhealth), when some layer has one or the table is sorted by them */
    const tui_run_health *h = tui_health_of(&ctx->health, ctx->m, r);
    int sorted_problems = tui_layersel_sort_stat(&ctx->layers, r) == -3;
    table_geom tg;
    geometry(ctx, p, r, o, n, &tg, h->bad_layers || sorted_problems || ctx->layers.problems_only ? PROB_W : 0);
    lp->tg = tg;
    lp->tg_y = p->y + 1;
    lp->tg_x = p->x;
    int name_w = tg.name_w, spark_w = tg.spark_w;

    /* the sparkline's statistic: the sort key when it is one, else update_ratio, else the first */
    int sorted = tui_layersel_sort_stat(&ctx->layers, r);
    int sstat = sorted;
    if (sstat < 0) sstat = tt_run_stat_index(r, SPARK_DEFAULT);
    if (sstat < 0 && tui_run_nstats(r) > 0) sstat = 0;

    int y = p->y + 1;
    attr_t ha = tui_attr(TUI_A_COLHEAD), hs = ha | A_REVERSE;
    tui_fill(stdscr, y, p->x, p->w, ha);
    tui_put(stdscr, y, p->x, name_w, "layer", sorted == -2 ? hs : ha, TUI_LEFT, ctx->ascii);
    if (tg.prob_w) tui_put(stdscr, y, p->x + name_w + 1, tg.prob_w - 1, "problem", sorted_problems ? hs : ha, TUI_LEFT, ctx->ascii);
    int x = p->x + name_w + tg.prob_w;
    if (tg.first > 0) tui_puts(stdscr, y, x, 1, "<", tui_attr(TUI_A_WARN));
    for (int c = 0; c < tg.ncol; c++) {
        int k = tg.colstat[tg.first + c];
        tui_put(stdscr, y, x + 1, COL_W, tui_col_head(tui_run_stat_name(r, k)), k == sorted ? hs : ha, TUI_RIGHT, ctx->ascii);
        x += COL_W + 1;
    }
    if (tg.first + tg.ncol < tg.ntotal) tui_puts(stdscr, y, x, 1, ">", tui_attr(TUI_A_WARN));
    char sh[TT_NAME_MAX + 8];
    snprintf(sh, sizeof sh, "%s%s", ctx->ascii ? "~ " : "\u223f ", sstat >= 0 ? tui_run_stat_name(r, sstat) : "");
    tui_put(stdscr, y, x + 1, spark_w, sh, ha, TUI_LEFT, ctx->ascii);

    if (nl == 0) {
        tui_put(stdscr, p->y + 2, p->x, p->w, "no layer statistics yet", tui_attr(TUI_A_DIM), TUI_CENTER, ctx->ascii);
        return;
    }
    if (n == 0) {
        char m[TUI_FILTER_MAX + 48];
        if (ctx->layers.problems_only && !tui_filter_on(&ctx->layers.filter))
            snprintf(m, sizeof m, "no layer has a problem (P shows them all)");
        else
            snprintf(m, sizeof m, "no layer matches /%s/ (Esc clears the filter)", ctx->layers.filter.active);
        tui_put(stdscr, p->y + 2, p->x, p->w, m, tui_attr(TUI_A_DIM), TUI_CENTER, ctx->ascii);
        return;
    }
    int rows = p->h - 2;
    int cur = pos_of(o, n, ctx->layers.cur);
    if (cur < 0) { cur = 0; ctx->layers.cur = o[0]; }   /* filtered away: the first row */
    if (cur < lp->top) lp->top = cur;
    if (cur >= lp->top + rows) lp->top = cur - rows + 1;
    if (lp->top > n - rows) lp->top = n - rows;
    if (lp->top < 0) lp->top = 0;

    /* outliers: each visible column's median and MAD over the rows that pass the filter */
    tui_robust rob[TUI_MAX_LCOLS];
    double *colv = tui_buf_reserve(&lp->vals_buf, (size_t)(2 * n + 1) * sizeof(double));
    for (int c = 0; c < tg.ncol; c++) {
        rob[c] = (tui_robust){ NAN, NAN, 0 };
        int k = tg.colstat[tg.first + c];
        if (!colv || k == tt_run_stat_index(r, "nonfinite")) continue;
        for (int i = 0; i < n; i++) colv[i] = tui_model_layer_last(ctx->m, r, o[i], k);
        rob[c] = tui_robust_stats(colv, (size_t)n, colv + n);
    }

    int inonf = tt_run_stat_index(r, "nonfinite"), inoise = tt_run_stat_index(r, "noise_scale");
    tt_point *pts = tui_buf_reserve(&lp->spark_buf, (size_t)(spark_w + 1) * (sizeof(tt_point) + sizeof(double) + sizeof(int)));
    int64_t to = tui_model_layer_step(ctx->m, r);
    if (to < 0) to = tui_model_step(ctx->m, r);
    for (int row = 0; row < rows && lp->top + row < n; row++) {
        int li = o[lp->top + row];
        const char *lname = tui_layer_name(r, li);
        const double *last = tui_model_layer_row(ctx->m, r, li);
        int is_cur = li == ctx->layers.cur;
        attr_t base = is_cur ? tui_attr(ctx->focus == p ? TUI_A_CURSOR : TUI_A_CURSOR_DIM) : 0;
        y = p->y + 2 + row;
        tui_fill(stdscr, y, p->x, p->w, base);
        unsigned flags = li < h->nflags ? h->flags[li] : 0;
        int alarm = (inonf >= 0 && last && last[inonf] > 0) || (flags & TT_LH_NONFINITE);
        attr_t fa = flags ? tui_attr((tui_role)tui_health_layer_role(flags)) : base;
        char gname[160];
        int gsize = tui_layersel_group_size(&ctx->layers, li);
        if (gsize > 1) {                       /* it stands for its folded group (+ unfolds) */
            char g[96];
            tui_layer_group(lname, g, sizeof g);
            snprintf(gname, sizeof gname, "%s %s.* (%d)", ctx->ascii ? "+" : "\u25b8", g, gsize);
            lname = gname;
        }
        tui_put(stdscr, y, p->x, name_w, lname, alarm ? tui_attr(TUI_A_BAD) : flags && !is_cur ? fa : base | (is_cur ? A_BOLD : 0),
                gsize > 1 ? TUI_LEFT : TUI_KEEP_TAIL, ctx->ascii);
        if (tg.prob_w) tui_put(stdscr, y, p->x + name_w + 1, tg.prob_w - 1, tt_health_layer_name(flags), flags ? fa : base, TUI_LEFT, ctx->ascii);
        x = p->x + name_w + tg.prob_w;
        for (int c = 0; c < tg.ncol; c++) {
            int k = tg.colstat[tg.first + c];
            double v = last ? last[k] : NAN;
            char num[TUI_FMT_MAX];
            tui_fmt_num(num, sizeof num, v);
            /* A NaN among the every-step statistics is an alarm; among the occasional ones (spectra,
             * per-sample) it means "not defined for this layer" (< 50 eigenvalues, say): dim, not red. */
            int occasional = k >= tui_run_row_stats(r), none = !last || tui_series_count(tui_layer_series(r, li, k)) == 0;
            /* a negative noise scale is undefined (the |G|^2 estimate went below 0), not a -6G batch */
            if (none || (occasional && isnan(v)) || (k == inoise && v < 0)) {
                tui_put(stdscr, y, x + 1, COL_W, none ? "-" : "n/a", base | tui_attr(TUI_A_DIM), TUI_RIGHT, ctx->ascii);
                x += COL_W + 1;
                continue;
            }
            int bad = !isfinite(v) || (k == inonf && v > 0);
            attr_t at = base;
            if (bad) at = tui_attr(TUI_A_BAD);
            else if (tui_robust_outlier(&rob[c], v, TUI_OUTLIER_K)) at = tui_attr(TUI_A_OUTLIER);
            tui_put(stdscr, y, x + 1, COL_W, num, at, TUI_RIGHT, ctx->ascii);
            x += COL_W + 1;
        }
        const tt_series *ss = sstat >= 0 ? tui_layer_series(r, li, sstat) : NULL;
        if (!pts || spark_w == 0 || !ss) continue;
        size_t np = tui_query(ss, INT64_MIN, to, (size_t)spark_w, pts);
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
            tui_puts(stdscr, y, x + 1 + (int)i, 1, tui_spark_glyph(lev[i], ctx->ascii), nonfin ? tui_attr(TUI_A_BAD) : sa);
        }
    }
}

static tui_reaction layers_cursor(tui_ctx *ctx, tui_panel *p, int delta)
{
    (void)p;
    const tt_run *r = tui_ctx_run(ctx);
    if (r) tui_layersel_move(&ctx->layers, ctx->m, r, delta);
    return TUI_OK;
}

static tui_reaction layers_hmove(tui_ctx *ctx, tui_panel *p, int delta)
{
    layers_panel *lp = (layers_panel *)p;
    (void)ctx;
    if (delta == INT_MIN) lp->col_first = 0;
    else if (delta == INT_MAX) lp->col_first = TUI_MAX_LCOLS;
    else lp->col_first += delta;
    if (lp->col_first < 0) lp->col_first = 0;           /* the paint clamps the other end */
    return TUI_OK;
}

/* Enter: the heatmap of the sorted statistic (or the default one), on this layer. */
static tui_reaction layers_enter(tui_ctx *ctx, tui_panel *p)
{
    (void)p;
    const tt_run *r = tui_ctx_run(ctx);
    if (!r || tui_run_layers_total(r) == 0) return TUI_OK;
    int k = tui_layersel_sort_stat(&ctx->layers, r);
    if (k >= 0) snprintf(ctx->cfg->heat_metric, sizeof ctx->cfg->heat_metric, "%s", tui_run_stat_name(r, k));
    return tui_ctx_goto(ctx, TUI_V_HEATMAP, INT64_MIN, 1);
}

/* A click: on the header, sort by that column (again: reverse); on a row, select it. */
static tui_reaction layers_click(tui_ctx *ctx, tui_panel *p, int y, int x)
{
    layers_panel *lp = (layers_panel *)p;
    const tt_run *r = tui_ctx_run(ctx);
    if (!r) return TUI_OK;
    tui_layersel *ls = &ctx->layers;
    if (y == lp->tg_y) {
        const char *key = NULL;
        if (x < lp->tg_x + lp->tg.name_w) key = "name";
        else if (x < lp->tg_x + lp->tg.name_w + lp->tg.prob_w) key = "problems";
        int cx = lp->tg_x + lp->tg.name_w + lp->tg.prob_w;
        for (int c = 0; c < lp->tg.ncol && !key; c++, cx += COL_W + 1)
            if (x >= cx && x < cx + COL_W + 1) key = tui_run_stat_name(r, lp->tg.colstat[lp->tg.first + c]);
        if (!key) return TUI_OK;
        if (strcmp(ls->sort_key, key) == 0) ls->sort_rev = !ls->sort_rev;
        else { snprintf(ls->sort_key, sizeof ls->sort_key, "%s", key); ls->sort_rev = 0; }
        snprintf(ctx->cfg->sort, sizeof ctx->cfg->sort, "%s", ls->sort_key);
        ctx->cfg->sort_rev = ls->sort_rev;
        return TUI_SAVE;
    }
    int row = y - p->y - 2;
    const int *o;
    int n = tui_layersel_order(ls, ctx->m, r, &o);
    if (row >= 0 && lp->top + row < n) ls->cur = o[lp->top + row];
    return TUI_OK;
}

/* ---- the column chooser ---- */

static void colsel_paint(tui_ctx *ctx, tui_panel *p)
{
    layers_panel *lp = (layers_panel *)p;
    if (!lp->colsel) return;
    const tt_run *r = tui_ctx_run(ctx);
    if (!r) { lp->colsel = 0; return; }
    int stats[512];
    int n = tui_all_columns(r, stats);
    int top = ctx->top, maxh = LINES - 1 - top;
    int w = 44 < COLS - 2 ? 44 : COLS - 2, h = n + 3 < maxh ? n + 3 : maxh;
    int y0 = top + (maxh - h) / 2, x0 = (COLS - w) / 2;
    if (h < 4 || w < 20) return;
    if (lp->colsel_cur >= n) lp->colsel_cur = n - 1;
    if (lp->colsel_cur < 0) lp->colsel_cur = 0;
    int rows = h - 3, first = lp->colsel_cur >= rows ? lp->colsel_cur - rows + 1 : 0;
    attr_t tf = tui_attr(TUI_A_TITLE_FOCUS);
    tui_fill(stdscr, y0, x0, w, tf);
    tui_put(stdscr, y0, x0 + 1, w - 2, "Columns: Space shows/hides, a all, Esc done", tf, TUI_LEFT, ctx->ascii);
    for (int i = 0; i < rows + 2; i++) tui_fill(stdscr, y0 + 1 + i, x0, w, 0);
    for (int i = 0; i < rows && first + i < n; i++) {
        int k = stats[first + i];
        int hidden = tui_config_hidden(ctx->cfg, tui_run_stat_name(r, k));
        char line[160];
        snprintf(line, sizeof line, "[%s] %-18s %s", hidden ? " " : "x", tui_run_stat_name(r, k),
                 !tui_stat_has_data(r, k) ? "(no data)" : k < tui_run_row_stats(r) ? "every step" : "occasional");
        attr_t at = first + i == lp->colsel_cur ? tui_attr(TUI_A_CURSOR) : hidden ? tui_attr(TUI_A_DIM) : 0;
        tui_put(stdscr, y0 + 1 + i, x0 + 1, w - 2, line, at, TUI_LEFT, ctx->ascii);
    }
    char foot[64];
    snprintf(foot, sizeof foot, "%d hidden", ctx->cfg->nhidden);
    tui_put(stdscr, y0 + h - 1, x0 + 1, w - 2, foot, tui_attr(TUI_A_DIM), TUI_LEFT, ctx->ascii);
}

/* The chooser is modal: while open it takes every key but the mouse and resizes. */
static int colsel_key(tui_ctx *ctx, tui_panel *p, int ch, tui_reaction *re)
{
    layers_panel *lp = (layers_panel *)p;
    if (!lp->colsel) return 0;
    const tt_run *r = tui_ctx_run(ctx);
    if (!r) { lp->colsel = 0; return 0; }
    int stats[512];
    int n = tui_all_columns(r, stats);
    switch (ch) {
    case KEY_UP: case 'k': if (lp->colsel_cur > 0) lp->colsel_cur--; return 1;
    case KEY_DOWN: case 'j': if (lp->colsel_cur < n - 1) lp->colsel_cur++; return 1;
    case KEY_HOME: case 'g': lp->colsel_cur = 0; return 1;
    case KEY_END: case 'G': lp->colsel_cur = n - 1; return 1;
    case ' ': case '\n': case '\r': case KEY_ENTER:
        if (lp->colsel_cur >= 0 && lp->colsel_cur < n) {
            tui_config_toggle_hidden(ctx->cfg, tui_run_stat_name(r, stats[lp->colsel_cur]));
            *re |= TUI_SAVE;
        }
        return 1;
    case 'a':
        ctx->cfg->nhidden = 0;
        *re |= TUI_SAVE;
        return 1;
    case 27: case 'c': case 'q':
        lp->colsel = 0;
        return 1;
    default:
        return ch != KEY_MOUSE && ch != KEY_RESIZE;
    }
}

static int colsel_open(const tui_panel *p) { return ((const layers_panel *)p)->colsel; }

/* c: open the column chooser. */
static tui_reaction layers_action(tui_ctx *ctx, tui_panel *p, tui_action act, int arg)
{
    layers_panel *lp = (layers_panel *)p;
    (void)ctx;
    (void)arg;
    if (act != TUI_ACT_COLUMNS) return TUI_IGNORED;
    lp->colsel = 1;
    lp->colsel_cur = 0;
    return TUI_OK;
}

static void layers_reset(tui_panel *p, int what)
{
    layers_panel *lp = (layers_panel *)p;
    if (what == TUI_RESET_VIEW) lp->colsel = 0;
    else lp->top = 0;
}

TUI_PANEL_SIMPLE_CREATE(layers_panel)

static void layers_destroy(tui_panel *p)
{
    layers_panel *lp = (layers_panel *)p;
    tui_buf_free(&lp->spark_buf);
    tui_buf_free(&lp->vals_buf);
    free(lp);
}

const tui_panel_class tui_layers_panel = {
    .name = "Layers",
    .create = layers_panel_create,
    .destroy = layers_destroy,
    .paint = layers_paint,
    .cursor = layers_cursor,
    .hmove = layers_hmove,
    .enter = layers_enter,
    .click = layers_click,
    .action = layers_action,
    .reset = layers_reset,
    .overlay = colsel_paint,
    .modal_key = colsel_key,
    .modal_open = colsel_open,
};
