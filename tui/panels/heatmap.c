/* heatmap: one statistic of the selected run as a layer × step heatmap — a row per layer (the
 * layer table's filter and order), a column per slice of the zoomable step window, each cell the mean
 * of the buckets it covers, coloured on a linear or log scale common to every layer that passes the
 * filter; NaN/Inf cells marked. A legend maps colours to values and a readout gives the layer, steps
 * and value under the cursor (Up/Down: layer, Left/Right: step). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../panel.h"
#include "../widgets/chart.h"
#include "../widgets/fmt.h"
#include "../widgets/theme.h"

#define NAME_MAX_W 28
#define QUERY_MAX 4096

typedef struct {
    double sum, lo, hi;
    uint32_t n;          /* finite points */
    uint32_t bad;        /* NaN/Inf points */
    uint32_t pts;        /* points of any kind */
} cell;

/* The colour scale of the last frame, reused while nothing it depends on moved. */
typedef struct {
    const tt_run *r;
    int k, log, pw, n, paused;
    int64_t from, to;
    uint64_t version;
    unsigned gen;
    double lo, hi;
} scale_cache;

/* The panel: its scroll (the cursor is the shared layer selection), its time window, the geometry of
 * the last frame for clicks, the scale cache and its scratch. */
typedef struct {
    tui_panel super;
    int top;
    tui_xview xv;
    struct { int y0, x0, rows, pw, name_w; int64_t from, to; } geom;
    scale_cache sc;
    tui_buf buf;
} heatmap_panel;

/* The statistic shown: the settings' when the run has data for it, else update_ratio, else the first
 * statistic with data. */
static int heat_stat(tui_ctx *ctx, const tt_run *r)
{
    const char *want[] = { ctx->cfg->heat_metric, "update_ratio" };
    for (int w = 0; w < 2; w++) {
        int k = tui_run_stat_index(r, want[w]);
        for (int l = 0; k >= 0 && l < tui_run_layers_total(r); l++)
            if (tui_series_count(tui_layer_series(r, l, k))) return k;
    }
    for (int k = 0; k < tui_run_nstats(r); k++)
        for (int l = 0; l < tui_run_layers_total(r); l++)
            if (tui_series_count(tui_layer_series(r, l, k))) return k;
    return -1;
}

static tui_reaction next_metric(tui_ctx *ctx, int dir)
{
    const tt_run *r = tui_ctx_run(ctx);
    int ns = r ? tui_run_nstats(r) : 0;
    if (ns == 0) return TUI_OK;
    int k = heat_stat(ctx, r);
    for (int i = 1; i <= ns; i++) {
        int j = ((k + dir * i) % ns + ns) % ns;
        for (int l = 0; l < tui_run_layers_total(r); l++)
            if (tui_series_count(tui_layer_series(r, l, j))) {
                snprintf(ctx->cfg->heat_metric, sizeof ctx->cfg->heat_metric, "%s", tui_run_stat_name(r, j));
                return TUI_SAVE;
            }
    }
    return TUI_OK;
}

/* Bins the buckets of s in [from, to] into pw columns. Statistics that need history (update_ratio,
 * angle) are undefined at the series' first step (start): a NaN there is "no data yet", not an alarm. */
static void bin(const tt_series *s, int64_t from, int64_t to, int64_t start, int pw, tt_point *q, cell *cells)
{
    for (int c = 0; c < pw; c++) cells[c] = (cell){ 0, INFINITY, -INFINITY, 0, 0, 0 };
    if (!s) return;
    size_t n = tui_query(s, from, to, QUERY_MAX, q);
    for (size_t i = 0; i < n; i++) {
        const tt_point *p = &q[i];
        int c0 = tui_chart_step_col(from, to, pw, p->first < from ? from : p->first);
        int c1 = tui_chart_step_col(from, to, pw, p->step > to ? to : p->step);
        for (int c = c0; c <= c1; c++) {
            cell *e = &cells[c];
            uint32_t bad = p->count - p->finite;
            if (bad == 1 && p->first == start) bad = 0;
            e->pts += p->count - (p->count - p->finite - bad);
            e->bad += bad;
            if (!p->finite) continue;
            e->sum += (double)p->mean * p->finite;
            e->n += p->finite;
            if (p->min < e->lo) e->lo = p->min;
            if (p->max > e->hi) e->hi = p->max;
        }
    }
}

static double cell_value(const cell *e) { return e->n ? e->sum / e->n : NAN; }

static int level_of(double v, double lo, double hi, int log_scale, int levels)
{
    if (!isfinite(v)) return -1;
    double t;
    if (log_scale) {
        if (!(v > 0)) return 0;
        double a = log10(lo), b = log10(hi), x = log10(v);
        t = b > a ? (x - a) / (b - a) : 0.5;
    } else {
        t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    }
    int l = (int)floor(t * levels);
    return l < 0 ? 0 : l >= levels ? levels - 1 : l;
}

static void layer_extent(tui_ctx *ctx, const tt_run *r, int k, int64_t *lo, int64_t *hi)
{
    int64_t from = INT64_MAX;
    for (int l = 0; l < tui_run_layers_total(r) && from == INT64_MAX; l++) {
        tt_point pt;
        if (tui_layer_series(r, l, k) && tui_query(tui_layer_series(r, l, k), INT64_MIN, INT64_MAX, 1, &pt) == 1) from = pt.first;
    }
    int64_t to = tui_model_layer_step(ctx->m, r);
    if (from == INT64_MAX) from = 0;
    if (to < from) to = from;
    *lo = from;
    *hi = to;
}


static void heat_paint(tui_ctx *ctx, tui_panel *p)
{
    heatmap_panel *hp = (heatmap_panel *)p;
    const tt_run *r = tui_ctx_run(ctx);
    memset(&hp->geom, 0, sizeof hp->geom);
    if (!r) {
        tui_ctx_title(ctx, p, "Heatmap");
        if (p->h >= 3) tui_put(stdscr, p->y + 2, p->x, p->w, "waiting for runs...", tui_attr(TUI_A_DIM), TUI_CENTER, ctx->ascii);
        return;
    }
    int k = heat_stat(ctx, r);
    int log_scale = ctx->cfg->heat_log;
    char title[512];
    snprintf(title, sizeof title, "Heatmap of %s: %s (layer x step, %s colours%s)%s  m: metric  y: log  n: rows", tui_run_name(r),
             k >= 0 ? tui_run_stat_name(r, k) : "-", log_scale ? "log" : "linear", ctx->cfg->heat_rows ? ", per layer" : "",
             ctx->layers.problems_only ? "  problem layers only (P)" : "");
    tui_ctx_title(ctx, p, title);
    const int *o;
    int n = tui_layersel_order(&ctx->layers, ctx->m, r, &o);
    if (k < 0 || n == 0) {
        const char *m = k < 0 ? "no layer statistics yet"
                        : ctx->layers.problems_only && !tui_filter_on(&ctx->layers.filter) ? "no layer has a problem (P shows them all)"
                                                                                            : "no layer matches the filter (Esc clears it)";
        if (p->h >= 3) tui_put(stdscr, p->y + 2, p->x, p->w, m, tui_attr(TUI_A_DIM), TUI_CENTER, ctx->ascii);
        return;
    }
    int extras = p->h >= 8 ? 3 : p->h >= 5 ? 1 : 0;     /* x labels, legend, readout */
    int rows = p->h - 1 - extras;
    if (rows < 1) return;
    int maxname = 5;
    for (int i = 0; i < n && maxname < NAME_MAX_W; i++) {
        int w = tui_text_width(tui_layer_name(r, o[i]));
        if (w > maxname) maxname = w;
    }
    int name_w = maxname > NAME_MAX_W ? NAME_MAX_W : maxname;
    if (name_w > p->w / 3) name_w = p->w / 3;
    int px = p->x + name_w + 1, pw = p->w - name_w - 1;
    if (pw < 4) return;

    int64_t lo, hi, from, to;
    layer_extent(ctx, r, k, &lo, &hi);
    tui_xview *v = &hp->xv;
    tui_xview_window(v, lo, hi, &from, &to);
    v->steps_per_col = to > from ? (double)(to - from) / pw : 1;

    size_t need = QUERY_MAX * sizeof(tt_point) + (size_t)(rows + 1) * (size_t)pw * sizeof(cell);
    unsigned char *mem = tui_buf_reserve(&hp->buf, need);
    if (!mem) return;
    tt_point *q = (tt_point *)mem;
    cell *grid = (cell *)(mem + QUERY_MAX * sizeof(tt_point));
    cell *tmp = grid + (size_t)rows * (size_t)pw;

    /* the colour scale: every cell of every layer that passes the filter (or each row's own) */
    int per_row = ctx->cfg->heat_rows;
    double vlo = INFINITY, vhi = -INFINITY;
    /* moving the cursor changes none of it: the scale is kept until the data, the window or the rows do */
    scale_cache *sc = &hp->sc;
    uint64_t version = tui_model_version(ctx->m);
    if (!per_row && sc->r == r && sc->k == k && sc->log == log_scale && sc->pw == pw && sc->n == n && sc->from == from &&
        sc->to == to && sc->version == version && sc->gen == ctx->layers.filter.gen && sc->paused == tui_model_paused(ctx->m)) {
        vlo = sc->lo;
        vhi = sc->hi;
    } else if (!per_row) {
        for (int i = 0; i < n; i++) {
            bin(tui_layer_series(r, o[i], k), from, to, lo, pw, q, tmp);
            for (int c = 0; c < pw; c++) {
                double val = cell_value(&tmp[c]);
                if (!isfinite(val) || (log_scale && !(val > 0))) continue;
                if (val < vlo) vlo = val;
                if (val > vhi) vhi = val;
            }
        }
        sc->r = r; sc->k = k; sc->log = log_scale; sc->pw = pw; sc->n = n; sc->from = from; sc->to = to;
        sc->version = version; sc->gen = ctx->layers.filter.gen; sc->paused = tui_model_paused(ctx->m); sc->lo = vlo; sc->hi = vhi;
    }

    /* rows: keep the cursor layer in view */
    int cur = 0;
    for (int i = 0; i < n; i++) if (o[i] == ctx->layers.cur) cur = i;
    ctx->layers.cur = o[cur];
    if (cur < hp->top) hp->top = cur;
    if (cur >= hp->top + rows) hp->top = cur - rows + 1;
    if (hp->top > n - rows) hp->top = n - rows;
    if (hp->top < 0) hp->top = 0;

    int levels = tui_heat_levels(ctx->ascii);
    int ccol = v->cursor_on ? tui_chart_step_col(from, to, pw, v->cursor) : pw - 1;
    const cell *ce = NULL;
    for (int row = 0; row < rows && hp->top + row < n; row++) {
        int li = o[hp->top + row];
        int y = p->y + 1 + row, is_cur = li == ctx->layers.cur;
        cell *cells = grid + (size_t)row * (size_t)pw;
        bin(tui_layer_series(r, li, k), from, to, lo, pw, q, cells);
        double rlo = vlo, rhi = vhi;
        if (per_row) {
            rlo = INFINITY;
            rhi = -INFINITY;
            for (int c = 0; c < pw; c++) {
                double val = cell_value(&cells[c]);
                if (!isfinite(val) || (log_scale && !(val > 0))) continue;
                if (val < rlo) rlo = val;
                if (val > rhi) rhi = val;
            }
        }
        char gl[128];
        const char *lname = tui_layer_name(r, li);
        if (tui_layersel_group_size(&ctx->layers, li) > 1) {   /* a folded group's row */
            char g[96];
            tui_layer_group(lname, g, sizeof g);
            snprintf(gl, sizeof gl, "%s.* (%d)", g, tui_layersel_group_size(&ctx->layers, li));
            lname = gl;
        }
        tui_put(stdscr, y, p->x, name_w, lname,
                is_cur ? tui_attr(ctx->focus == p ? TUI_A_CURSOR : TUI_A_CURSOR_DIM) : 0, TUI_KEEP_TAIL, ctx->ascii);
        for (int c = 0; c < pw; c++) {
            const cell *e = &cells[c];
            double val = cell_value(e);
            int here = is_cur && c == ccol;
            if (here) ce = e;
            if (e->bad) {
                tui_puts(stdscr, y, px + c, 1, ctx->ascii ? "!" : "\u00d7", tui_attr(TUI_A_BAD) | (here ? A_REVERSE : 0));
                continue;
            }
            if (!e->pts) {
                if (here) tui_puts(stdscr, y, px + c, 1, ctx->ascii ? "+" : "\u25c6", tui_attr(TUI_A_CURSORLINE) | A_REVERSE);
                continue;
            }
            int l = level_of(val, rlo, rhi, log_scale, levels);
            attr_t at = tui_heat_attr(l);
            if (here) tui_puts(stdscr, y, px + c, 1, ctx->ascii ? "+" : "\u25c6", at | A_BOLD | (tui_theme_depth() == TUI_DEPTH_MONO ? A_REVERSE : 0));
            else tui_puts(stdscr, y, px + c, 1, tui_heat_glyph(l, ctx->ascii), at);
        }
    }
    hp->geom.y0 = p->y + 1;
    hp->geom.x0 = px;
    hp->geom.rows = rows;
    hp->geom.pw = pw;
    hp->geom.name_w = name_w;
    hp->geom.from = from;
    hp->geom.to = to;
    if (extras == 0) return;

    int y = p->y + 1 + rows;
    tui_chart_opts xo = { .style = tui_ctx_chart_style(ctx), .cursor_on = v->cursor_on, .cursor = v->cursor };
    if (extras >= 3) {
        tui_chart_xaxis(stdscr, y, px, pw, from, to, &xo);
        y++;
        /* legend: low value, the ramp, high value */
        char a0[TUI_FMT_MAX], a1[TUI_FMT_MAX];
        tui_fmt_num(a0, sizeof a0, vlo);
        tui_fmt_num(a1, sizeof a1, vhi);
        int x = p->x;
        if (per_row) {
            x += tui_puts(stdscr, y, x, p->w, "row min ", 0);
            int per = levels <= 6 ? 2 : 1;
            for (int l = 0; l < levels && x < p->x + p->w; l++)
                for (int i = 0; i < per; i++) x += tui_puts(stdscr, y, x, p->x + p->w - x, tui_heat_glyph(l, ctx->ascii), tui_heat_attr(l));
            char tail[96];
            snprintf(tail, sizeof tail, " row max  %s scale per layer (n: one scale)  %s NaN/Inf", log_scale ? "log" : "linear",
                     ctx->ascii ? "!" : "\u00d7");
            tui_puts(stdscr, y, x, p->x + p->w - x, tail, tui_attr(TUI_A_DIM));
        } else if (!(vlo <= vhi)) {
            x += tui_puts(stdscr, y, x, p->w, log_scale ? "no positive values (log scale): y for linear" : "no finite values",
                          tui_attr(TUI_A_DIM));
        } else {
            x += tui_puts(stdscr, y, x, p->w, a0, 0);
            x += tui_puts(stdscr, y, x, p->x + p->w - x, " ", 0);
            int per = levels <= 6 ? 2 : 1;
            for (int l = 0; l < levels && x < p->x + p->w; l++)
                for (int i = 0; i < per; i++) x += tui_puts(stdscr, y, x, p->x + p->w - x, tui_heat_glyph(l, ctx->ascii), tui_heat_attr(l));
            x += tui_puts(stdscr, y, x, p->x + p->w - x, " ", 0);
            x += tui_puts(stdscr, y, x, p->x + p->w - x, a1, 0);
            char tail[96];
            snprintf(tail, sizeof tail, "  %s scale  %s NaN/Inf", log_scale ? "log" : "linear", ctx->ascii ? "!" : "\u00d7");
            tui_puts(stdscr, y, x, p->x + p->w - x, tail, tui_attr(TUI_A_DIM));
        }
        y++;
    }
    /* readout: the cell under the cursor */
    char line[512], s0[TUI_FMT_MAX], s1[TUI_FMT_MAX];
    int64_t c0 = tui_chart_col_step(from, to, pw, ccol), half = (int64_t)(v->steps_per_col / 2);
    tui_fmt_count(s0, sizeof s0, c0 - half < from ? (uint64_t)(from < 0 ? 0 : from) : (uint64_t)(c0 - half));
    tui_fmt_count(s1, sizeof s1, c0 + half > to ? (uint64_t)(to < 0 ? 0 : to) : (uint64_t)(c0 + half));
    const char *ln = tui_layer_name(r, ctx->layers.cur);
    if (ce && ce->n) {
        char m[TUI_FMT_MAX], mn[TUI_FMT_MAX], mx[TUI_FMT_MAX];
        tui_fmt_num(m, sizeof m, cell_value(ce));
        tui_fmt_num(mn, sizeof mn, ce->lo);
        tui_fmt_num(mx, sizeof mx, ce->hi);
        if (ce->n == 1) snprintf(line, sizeof line, "%s  step %s  %s = %s%s", ln, s1, tui_run_stat_name(r, k), m, ce->bad ? "  (NaN/Inf too)" : "");
        else snprintf(line, sizeof line, "%s  steps %s-%s  %s mean %s  min %s  max %s  (%u points%s)", ln, s0, s1,
                      tui_run_stat_name(r, k), m, mn, mx, ce->pts, ce->bad ? ", some NaN/Inf" : "");
    } else if (ce && ce->bad) {
        snprintf(line, sizeof line, "%s  steps %s-%s  %s: NaN/Inf only", ln, s0, s1, tui_run_stat_name(r, k));
    } else {
        snprintf(line, sizeof line, "%s  steps %s-%s  %s: no data", ln, s0, s1, tui_run_stat_name(r, k));
    }
    tui_put(stdscr, y, p->x, p->w, line, ce && ce->bad ? tui_attr(TUI_A_BAD) : tui_attr(TUI_A_INPUT), TUI_LEFT, ctx->ascii);
}

static tui_reaction heat_cursor(tui_ctx *ctx, tui_panel *p, int delta)
{
    (void)p;
    const tt_run *r = tui_ctx_run(ctx);
    if (r) tui_layersel_move(&ctx->layers, ctx->m, r, delta);
    return TUI_OK;
}

static tui_reaction heat_hmove(tui_ctx *ctx, tui_panel *p, int delta)
{
    (void)ctx;
    tui_xview_cursor(&((heatmap_panel *)p)->xv, delta == INT_MIN ? INT32_MIN : delta == INT_MAX ? INT32_MAX : delta);
    return TUI_OK;
}

static tui_reaction heat_click(tui_ctx *ctx, tui_panel *p, int y, int x)
{
    heatmap_panel *hp = (heatmap_panel *)p;
    const tt_run *r = tui_ctx_run(ctx);
    int row = y - hp->geom.y0, col = x - hp->geom.x0;
    if (!r || row < 0 || row >= hp->geom.rows) return TUI_OK;
    const int *o;
    int n = tui_layersel_order(&ctx->layers, ctx->m, r, &o);
    if (hp->top + row < n) ctx->layers.cur = o[hp->top + row];
    if (col >= 0 && col < hp->geom.pw) {
        hp->xv.cursor_on = 1;
        hp->xv.cursor = tui_chart_col_step(hp->geom.from, hp->geom.to, hp->geom.pw, col);
    }
    return TUI_OK;
}

/* m/M: the next or previous statistic; y: log colours (settings both). */
static tui_reaction heat_action(tui_ctx *ctx, tui_panel *p, tui_action act, int arg)
{
    (void)p;
    if (act == TUI_ACT_METRIC) return next_metric(ctx, arg);
    if (act != TUI_ACT_LOG) return TUI_IGNORED;
    ctx->cfg->heat_log = !ctx->cfg->heat_log;
    tui_ctx_message(ctx, 0, "heatmap colours: %s scale", ctx->cfg->heat_log ? "log" : "linear");
    return TUI_SAVE;
}

static tui_xview *heat_xview(tui_panel *p) { return &((heatmap_panel *)p)->xv; }

static void heat_reset(tui_panel *p, int what)
{
    if (what == TUI_RESET_VIEW) return;
    heatmap_panel *hp = (heatmap_panel *)p;
    hp->top = 0;
    if (what == TUI_RESET_RUN) hp->xv.cursor_on = 0;
}

static tui_panel *heat_create(tui_ctx *ctx)
{
    (void)ctx;
    heatmap_panel *hp = calloc(1, sizeof *hp);
    if (!hp) return NULL;
    tui_xview_reset(&hp->xv);
    return &hp->super;
}

static void heat_destroy(tui_panel *p)
{
    heatmap_panel *hp = (heatmap_panel *)p;
    tui_buf_free(&hp->buf);
    free(hp);
}

const tui_panel_class tui_heatmap_panel = {
    .name = "Heatmap",
    .create = heat_create,
    .destroy = heat_destroy,
    .paint = heat_paint,
    .cursor = heat_cursor,
    .hmove = heat_hmove,
    .click = heat_click,
    .action = heat_action,
    .xview = heat_xview,
    .reset = heat_reset,
};
