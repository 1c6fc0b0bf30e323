/* charts: the selected run's scalars as a grid of charts. Scalars that differ only by a
 * train_/val_/test_/eval_ prefix share a chart (loss with val_loss, train_acc with val_acc). In the
 * charts view every chart shares one zoomable, pannable step window and one cursor whose values each
 * legend reads out; in the overview the charts show the whole history. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../panel.h"
#include "../widgets/chart.h"
#include "../widgets/fmt.h"
#include "../widgets/theme.h"

/* The panel: the grid's scroll, its time window (as the main panel of the charts view) and the first
 * chart's geometry of the last frame, for clicks. */
typedef struct {
    tui_panel super;
    int top;                   /* first visible grid row */
    int rows, rows_total;
    tui_xview xv;
    tui_chart_geom geom;
    tui_buf chart_buf;
} charts_panel;

#define MAX_GROUPS 32
#define MAX_LINES 4
#define MIN_CHART_W 20
#define MIN_CHART_H 4
#define VIEW_CHART_W 34        /* the charts view: readable charts (legends whole), the rest a page away */
#define VIEW_CHART_H 8

typedef struct {
    char base[TT_NAME_MAX];
    int idx[MAX_LINES];        /* scalar indexes */
    int n;
    int prio;
} group;

static const char *base_name(const char *s)
{
    static const char *const pre[] = { "train_", "val_", "valid_", "test_", "eval_" };
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
        size_t n = strlen(pre[i]);
        if (strncmp(s, pre[i], n) == 0 && s[n]) return s + n;
    }
    return s;
}

static int prio_of(const char *base)
{
    if (strcmp(base, "loss") == 0) return 0;
    if (strcmp(base, "acc") == 0 || strcmp(base, "accuracy") == 0) return 1;
    if (strcmp(base, "lr") == 0) return 3;
    return 2;
}

/* Groups a run's scalars; returns the count, ordered loss, accuracy, others, lr (stable). */
static int make_groups(const tt_run *r, group *g)
{
    int ng = 0;
    for (int i = 0; i < tui_run_nscalars(r); i++) {
        const char *b = base_name(tui_scalar_name(r, i));
        int k;
        for (k = 0; k < ng; k++) if (strcmp(g[k].base, b) == 0 && g[k].n < MAX_LINES) break;
        if (k == ng) {
            if (ng == MAX_GROUPS) continue;
            snprintf(g[ng].base, sizeof g[ng].base, "%s", b);
            g[ng].n = 0;
            g[ng].prio = prio_of(b);
            ng++;
        }
        g[k].idx[g[k].n++] = i;
    }
    for (int i = 1; i < ng; i++) {             /* insertion sort: stable */
        group t = g[i];
        int j = i - 1;
        while (j >= 0 && g[j].prio > t.prio) { g[j + 1] = g[j]; j--; }
        g[j + 1] = t;
    }
    return ng;
}

/* Fills a group's lines. In a group of several, a line is labelled by its prefix ("val" for val_loss)
 * and the line named like the base keeps its name; the base becomes the title when no line has it. */
static const char *label_lines(const tt_run *r, const group *g, tui_chart_line *lines, char labels[][TT_NAME_MAX])
{
    int base_is_line = 0;
    for (int k = 0; k < g->n; k++) {
        const char *name = tui_scalar_name(r, g->idx[k]);
        const char *b = base_name(name);
        if (g->n > 1 && b != name) {
            int plen = (int)(b - name) - 1;            /* without the underscore */
            snprintf(labels[k], TT_NAME_MAX, "%.*s", plen, name);
        } else {
            snprintf(labels[k], TT_NAME_MAX, "%s", name);
            base_is_line = 1;
        }
        lines[k].name = labels[k];
        lines[k].s = tui_scalar_series(r, g->idx[k]);
        lines[k].last = NAN;                           /* the caller sets what the display shows */
    }
    return g->n > 1 && !base_is_line ? g->base : NULL;
}

/* Grid for n charts in w×h: the column count whose cells are the most readable; rows beyond the
 * height scroll. */
static void grid(int n, int w, int h, int min_w, int min_h, int *gc, int *gr_visible)
{
    int best_c = 1, best_score = -1;
    for (int c = 1; c <= n && c <= 4; c++) {
        int r = (n + c - 1) / c;
        int cw = w / c;
        if (cw < min_w) break;
        int rows_fit = h / min_h;
        if (rows_fit < 1) rows_fit = 1;
        int vr = r < rows_fit ? r : rows_fit;
        int ch = h / vr;
        int score = (cw < 3 * ch ? cw : 3 * ch) * 100 - (vr < r ? 5000 : 0);
        if (score > best_score) { best_score = score; best_c = c; }
    }
    int r = (n + best_c - 1) / best_c;
    int rows_fit = h / min_h;
    if (rows_fit < 1) rows_fit = 1;
    *gc = best_c;
    *gr_visible = r < rows_fit ? r : rows_fit;
}

/* The run's step extent: from its first scalar step to the latest step the display shows. */
static void run_extent(tui_ctx *ctx, const tt_run *r, int64_t *lo, int64_t *hi)
{
    int64_t from = INT64_MAX, to = tui_model_step(ctx->m, r);
    for (int i = 0; i < tui_run_nscalars(r); i++) {
        tt_point pt;
        if (tui_scalar_series(r, i) && tui_query(tui_scalar_series(r, i), INT64_MIN, INT64_MAX, 1, &pt) == 1)
            if (pt.first < from) from = pt.first;
    }
    if (from == INT64_MAX) from = 0;
    if (to < from) to = from;
    *lo = from;
    *hi = to;
}


/* The bottom line of the full-screen view: the window, the cursor, the scales. */
static void status_line(tui_ctx *ctx, tui_panel *p, const tui_xview *v, const tui_chart_opts *co, int y)
{
    char win[64], a0[TUI_FMT_MAX], a1[TUI_FMT_MAX], cur[96] = "", line[320];
    tui_fmt_count(a0, sizeof a0, v->from < 0 ? 0 : (uint64_t)v->from);
    tui_fmt_count(a1, sizeof a1, v->to < 0 ? 0 : (uint64_t)v->to);
    int st = tui_model_state(ctx->m, tui_ctx_run(ctx));
    const char *how = tui_model_paused(ctx->m) ? ", paused" : st == TT_RUN_RUNNING ? ", live" : st == TT_RUN_STALLED ? ", stalled" : ", ended";
    if (v->span <= 0) snprintf(win, sizeof win, "steps %s-%s (all%s)", a0, a1, how);
    else snprintf(win, sizeof win, "steps %s-%s (zoom %.3gx%s)", a0, a1, tui_xview_factor(v), v->follow && !tui_model_paused(ctx->m) ? ", live" : "");
    if (co->cursor_on) {
        char c[TUI_FMT_MAX], t[16];
        tui_fmt_count(c, sizeof c, co->cursor < 0 ? 0 : (uint64_t)co->cursor);
        if (co->sec_per_step > 0) {
            tui_fmt_duration(t, sizeof t, (double)(co->cursor - co->t0_step) * co->sec_per_step);
            snprintf(cur, sizeof cur, "  cursor: step %s (~%s)", c, t);
        } else {
            snprintf(cur, sizeof cur, "  cursor: step %s", c);
        }
    }
    snprintf(line, sizeof line, "%s%s  y %s  x %s  %s", win, cur, co->log_y ? "log" : "lin",
             co->x_time ? "time" : ctx->cfg->x_time ? "step (no steps/s yet)" : "step", tui_chart_style_name(co->style));
    tui_put(stdscr, y, p->x, p->w, line, tui_attr(TUI_A_DIM), TUI_LEFT, ctx->ascii);
}

static void charts_paint(tui_ctx *ctx, tui_panel *p)
{
    charts_panel *cp = (charts_panel *)p;
    const tt_run *r = tui_ctx_run(ctx);
    char title[512];
    memset(&cp->geom, 0, sizeof cp->geom);
    if (!r) {
        tui_ctx_title(ctx, p, "Charts");
        cp->rows = cp->rows_total = 0;
        if (p->h >= 3) tui_put(stdscr, p->y + 1 + (p->h - 2) / 2, p->x, p->w, "waiting for runs...", tui_attr(TUI_A_DIM), TUI_CENTER, ctx->ascii);
        return;
    }
    char rate[TUI_FMT_MAX], up[16], step[TUI_FMT_MAX];
    int64_t rstep = tui_model_step(ctx->m, r);
    tui_fmt_num(rate, sizeof rate, tui_model_rate(ctx->m, r));
    tui_fmt_duration(up, sizeof up, tui_run_uptime(r));
    tui_fmt_count(step, sizeof step, rstep < 0 ? 0 : (uint64_t)rstep);
    int state = tui_model_state(ctx->m, r);
    char probe[64] = "";
    double pct = tui_model_probe_pct(ctx->m, r), gpct = tui_model_probe_gpu_pct(ctx->m, r);
    if (isfinite(pct) || isfinite(gpct)) {
        char v[TUI_FMT_MAX] = "-", g[TUI_FMT_MAX];
        if (isfinite(pct)) tui_fmt_pct(v, sizeof v, pct);
        if (isfinite(gpct)) tui_fmt_pct(g, sizeof g, gpct);
        if (isfinite(gpct)) snprintf(probe, sizeof probe, "  probe cpu %s gpu %s", v, g);
        else snprintf(probe, sizeof probe, "  probe %s", v);
    }
    snprintf(title, sizeof title, "%s%s%.*s  step %s  %s st/s%s  up %s  pid %lld@%s", tui_run_name(r),
             state == TT_RUN_RUNNING ? "" : " ", state == TT_RUN_RUNNING ? 0 : 32,
             state == TT_RUN_RUNNING ? "" : (tui_run_end_status(r)[0] ? tui_run_end_status(r) : tt_run_state_name((tt_run_state)state)),
             step, rate, probe, up, tui_run_pid(r), tui_run_host(r));
    tui_ctx_title(ctx, p, title);

    group g[MAX_GROUPS];
    int ng = make_groups(r, g);
    int full = p->main;
    int status = full && p->h >= 10;
    int ah = p->h - 1 - status, aw = p->w;
    if (ng == 0 || ah < 2) {
        cp->rows = cp->rows_total = 0;
        if (ah >= 1) tui_put(stdscr, p->y + 1 + (ah - 1) / 2, p->x, p->w, "no scalars yet", tui_attr(TUI_A_DIM), TUI_CENTER, ctx->ascii);
        return;
    }
    int gc, gr;
    grid(ng, aw, ah, full ? VIEW_CHART_W : MIN_CHART_W, full ? VIEW_CHART_H : MIN_CHART_H, &gc, &gr);
    int total_rows = (ng + gc - 1) / gc;
    cp->rows = gr;
    cp->rows_total = total_rows;
    if (cp->top > total_rows - gr) cp->top = total_rows - gr;
    if (cp->top < 0) cp->top = 0;

    /* one x window for every chart of the run: the view's zoom and pan, or the whole history */
    tui_xview whole, *v = full ? &cp->xv : &whole;
    if (!full) tui_xview_reset(&whole);
    int64_t lo, hi, from, to;
    run_extent(ctx, r, &lo, &hi);
    tui_xview_window(v, lo, hi, &from, &to);
    double rt = tui_model_rate(ctx->m, r);
    tui_chart_opts co = {
        .style = tui_ctx_chart_style(ctx),
        .log_y = ctx->cfg->log_y,
        .x_time = ctx->cfg->x_time && rt > 0,
        .sec_per_step = rt > 0 ? 1 / rt : 0,
        .t0_step = lo,
        .cursor_on = full && v->cursor_on,
        .cursor = v->cursor,
    };

    for (int vr = 0; vr < gr; vr++) {
        int row = cp->top + vr;
        int cy = p->y + 1 + vr * ah / gr, ch = (vr + 1) * ah / gr - vr * ah / gr;
        int in_row = ng - row * gc < gc ? ng - row * gc : gc;   /* a short last row shares its width */
        for (int c = 0; c < in_row; c++) {
            int gi = row * gc + c;
            int cx = p->x + c * aw / in_row, cw = (c + 1) * aw / in_row - c * aw / in_row;
            tui_chart_line lines[MAX_LINES];
            char labels[MAX_LINES][TT_NAME_MAX];
            co.title = label_lines(r, &g[gi], lines, labels);
            co.unit_range = g[gi].prio == 1;            /* accuracy: 0-1 */
            for (int k = 0; k < g[gi].n; k++) lines[k].last = tui_model_scalar_last(ctx->m, r, g[gi].idx[k]);
            tui_chart_geom geom;
            /* one column between charts, for a rule */
            tui_chart_draw_ex(stdscr, cy, cx, ch, cw - (c < in_row - 1), lines, g[gi].n, from, to, &co, &cp->chart_buf, &geom);
            if (geom.pw > 0 && cp->geom.pw == 0) cp->geom = geom;
            if (c < in_row - 1)
                for (int yy = cy; yy < cy + ch; yy++)
                    tui_puts(stdscr, yy, cx + cw - 1, 1, ctx->ascii ? "|" : "\u2502", tui_attr(TUI_A_DIM));
        }
    }
    if (cp->geom.pw > 0) v->steps_per_col = cp->geom.steps_per_col;
    if (status) status_line(ctx, p, v, &co, p->y + p->h - 1);
    if (total_rows > gr) {
        char more[48];
        snprintf(more, sizeof more, " %d-%d/%d ", cp->top + 1, cp->top + gr, total_rows);
        int mw = (int)strlen(more);
        if (mw < p->w) tui_puts(stdscr, p->y, p->x + p->w - mw, mw, more,
                                tui_attr(ctx->focus == p ? TUI_A_TITLE_FOCUS : TUI_A_TITLE));
    }
}

static tui_reaction charts_cursor(tui_ctx *ctx, tui_panel *p, int delta)
{
    charts_panel *cp = (charts_panel *)p;
    (void)ctx;
    long t = (long)cp->top + delta;
    int maxt = cp->rows_total - cp->rows;
    if (delta == INT_MIN || t < 0) t = 0;
    if (delta == INT_MAX || t > maxt) t = maxt < 0 ? 0 : maxt;
    cp->top = (int)t;
    return TUI_OK;
}

static tui_reaction charts_hmove(tui_ctx *ctx, tui_panel *p, int delta)
{
    charts_panel *cp = (charts_panel *)p;
    (void)ctx;
    if (!p->main) return TUI_OK;
    tui_xview_cursor(&cp->xv, delta == INT_MIN ? INT32_MIN : delta == INT_MAX ? INT32_MAX : delta);
    return TUI_OK;
}

static tui_reaction charts_click(tui_ctx *ctx, tui_panel *p, int y, int x)
{
    charts_panel *cp = (charts_panel *)p;
    (void)ctx;
    (void)y;
    if (!p->main || cp->geom.pw <= 0) return TUI_OK;
    int col = x - cp->geom.px;
    if (col < 0 || col >= cp->geom.pw) return TUI_OK;
    cp->xv.cursor_on = 1;
    cp->xv.cursor = tui_chart_col_step(cp->geom.from, cp->geom.to, cp->geom.pw, col);
    return TUI_OK;
}

/* y: the charts' y axis, linear or log (a setting). */
static tui_reaction charts_action(tui_ctx *ctx, tui_panel *p, tui_action act, int arg)
{
    (void)p;
    (void)arg;
    if (act != TUI_ACT_LOG) return TUI_IGNORED;
    ctx->cfg->log_y = !ctx->cfg->log_y;
    tui_ctx_message(ctx, 0, "charts: %s y axis", ctx->cfg->log_y ? "log" : "linear");
    return TUI_SAVE;
}

/* Focusable when some charts are scrolled out of view, or as the charts view's main panel. */
static int charts_focusable(tui_ctx *ctx, tui_panel *p)
{
    charts_panel *cp = (charts_panel *)p;
    (void)ctx;
    return p->main || cp->rows_total > cp->rows;
}

static tui_xview *charts_xview(tui_panel *p) { return p->main ? &((charts_panel *)p)->xv : NULL; }

static void charts_reset(tui_panel *p, int what)
{
    if (what == TUI_RESET_VIEW) return;
    charts_panel *cp = (charts_panel *)p;
    cp->top = 0;
    if (what == TUI_RESET_RUN) cp->xv.cursor_on = 0;
}

static tui_panel *charts_create(tui_ctx *ctx)
{
    (void)ctx;
    charts_panel *cp = calloc(1, sizeof *cp);
    if (!cp) return NULL;
    tui_xview_reset(&cp->xv);
    return &cp->super;
}

static void charts_destroy(tui_panel *p)
{
    charts_panel *cp = (charts_panel *)p;
    tui_buf_free(&cp->chart_buf);
    free(cp);
}

const tui_panel_class tui_charts_panel = {
    .name = "Charts",
    .create = charts_create,
    .destroy = charts_destroy,
    .paint = charts_paint,
    .cursor = charts_cursor,
    .hmove = charts_hmove,
    .click = charts_click,
    .action = charts_action,
    .focusable = charts_focusable,
    .xview = charts_xview,
    .reset = charts_reset,
    .wheel = 1,
};
