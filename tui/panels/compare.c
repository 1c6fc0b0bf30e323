/* compare: one scalar across runs. A list of the runs with marks (Space/Enter), each in its own
 * colour — a hash of the run's name, so a run keeps its colour across views and sessions — and a chart
 * overlaying the metric of the marked runs (all of them while none is marked), with the chart keys:
 * cursor, zoom, pan, log y, x by step or time. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../panel.h"
#include "../widgets/chart.h"
#include "../widgets/fmt.h"
#include "../widgets/theme.h"

#define MAX_CMP 16

/* The runs list: its cursor and scroll (the marks are a selection the chart shares: tui_ctx.marks). */
typedef struct {
    tui_panel super;
    int cur, top;
} cmpruns_panel;

/* The chart: its time window, the geometry of the last frame (clicks) and its scratch. */
typedef struct {
    tui_panel super;
    tui_xview xv;
    tui_chart_geom geom;
    tui_buf chart_buf;
} compare_panel;

/* Every scalar name of the shown runs, loss first, then in order of first appearance. */
static int metric_names(tui_ctx *ctx, const char **names, int max)
{
    int n = 0;
    for (int i = 0; i < tui_model_nruns(ctx->m); i++) {
        const tt_run *r = tui_model_run(ctx->m, i);
        if (!tui_model_run_shown(ctx->m, r)) continue;
        for (int k = 0; k < tui_run_nscalars(r) && n < max; k++) {
            int seen = 0;
            for (int j = 0; j < n && !seen; j++) seen = strcmp(names[j], tui_scalar_name(r, k)) == 0;
            if (!seen) names[n++] = tui_scalar_name(r, k);
        }
    }
    for (int j = 1; j < n; j++)
        if (strcmp(names[j], "loss") == 0) {
            const char *t = names[j];
            memmove(names + 1, names, (size_t)j * sizeof *names);
            names[0] = t;
        }
    return n;
}

static tui_reaction next_metric(tui_ctx *ctx, int dir)
{
    const char *names[256];
    int n = metric_names(ctx, names, 256);
    if (n == 0) return TUI_OK;
    int cur = -1;
    for (int i = 0; i < n; i++) if (strcmp(names[i], ctx->cfg->cmp_metric) == 0) cur = i;
    int next = cur < 0 ? 0 : ((cur + dir) % n + n) % n;
    snprintf(ctx->cfg->cmp_metric, sizeof ctx->cfg->cmp_metric, "%s", names[next]);
    return TUI_SAVE;
}

/* ---- the runs list ---- */

static void list_paint(tui_ctx *ctx, tui_panel *p)
{
    cmpruns_panel *lp = (cmpruns_panel *)p;
    int idx[1024];
    int n = tui_ctx_shown_runs(ctx, idx, 1024);
    char title[64];
    snprintf(title, sizeof title, "Runs (%d marked)", ctx->nmarks);
    tui_ctx_title(ctx, p, title);
    int rows = p->h - 1;
    if (n == 0) {
        if (rows > 0) tui_put(stdscr, p->y + 1, p->x, p->w, "waiting for runs...", tui_attr(TUI_A_DIM), TUI_CENTER, ctx->ascii);
        return;
    }
    if (lp->cur >= n) lp->cur = n - 1;
    if (lp->cur < 0) lp->cur = 0;
    if (lp->cur < lp->top) lp->top = lp->cur;
    if (lp->cur >= lp->top + rows) lp->top = lp->cur - rows + 1;
    if (lp->top < 0) lp->top = 0;
    for (int r = 0; r < rows && lp->top + r < n; r++) {
        int i = lp->top + r;
        const tt_run *run = tui_model_run(ctx->m, idx[i]);
        int is_cur = i == lp->cur, y = p->y + 1 + r;
        attr_t base = is_cur ? tui_attr(ctx->focus == p ? TUI_A_CURSOR : TUI_A_CURSOR_DIM) : 0;
        tui_fill(stdscr, y, p->x, p->w, base);
        int x = p->x;
        x += tui_puts(stdscr, y, x, p->w, tui_ctx_marked(ctx, run) ? "[x] " : "[ ] ", base);
        x += tui_puts(stdscr, y, x, p->x + p->w - x, ctx->ascii ? "# " : "\u2588 ", tui_attr(tui_run_role(tui_run_name(run))));
        char lab[160];
        if (tui_run_world(run) > 1) snprintf(lab, sizeof lab, "%s:%d", tui_run_name(run), tui_run_rank(run));
        else snprintf(lab, sizeof lab, "%s", tui_run_name(run));
        tui_put(stdscr, y, x, p->x + p->w - x, lab, base | (is_cur ? A_BOLD : 0), TUI_LEFT, ctx->ascii);
    }
}

static tui_reaction list_cursor(tui_ctx *ctx, tui_panel *p, int delta)
{
    cmpruns_panel *lp = (cmpruns_panel *)p;
    int idx[1024];
    int n = tui_ctx_shown_runs(ctx, idx, 1024);
    if (n == 0) return TUI_OK;
    long i = (long)lp->cur + delta;
    if (delta == INT_MIN || i < 0) i = 0;
    if (delta == INT_MAX || i >= n) i = n - 1;
    lp->cur = (int)i;
    return TUI_OK;
}

static tui_reaction list_mark(tui_ctx *ctx, tui_panel *p)
{
    cmpruns_panel *lp = (cmpruns_panel *)p;
    int idx[1024];
    int n = tui_ctx_shown_runs(ctx, idx, 1024);
    if (lp->cur >= 0 && lp->cur < n) tui_ctx_toggle_mark(ctx, tui_model_run(ctx->m, idx[lp->cur]));
    return TUI_OK;
}

static tui_reaction list_click(tui_ctx *ctx, tui_panel *p, int y, int x)
{
    cmpruns_panel *lp = (cmpruns_panel *)p;
    int row = y - p->y - 1;
    int idx[1024];
    int n = tui_ctx_shown_runs(ctx, idx, 1024);
    if (row < 0 || lp->top + row >= n) return TUI_OK;
    lp->cur = lp->top + row;
    if (x < p->x + 4) list_mark(ctx, p);          /* on the box: toggle */
    return TUI_OK;
}

/* Left/Right move the chart's cursor: the list passes them on to the view's next panel. */
static tui_reaction list_hmove(tui_ctx *ctx, tui_panel *p, int delta)
{
    (void)ctx;
    (void)p;
    (void)delta;
    return TUI_IGNORED;
}

TUI_PANEL_SIMPLE_CREATE(cmpruns_panel)

const tui_panel_class tui_cmpruns_panel = {
    .name = "Runs",
    .create = cmpruns_panel_create,
    .destroy = tui_panel_free,
    .paint = list_paint,
    .cursor = list_cursor,
    .enter = list_mark,
    .hmove = list_hmove,
    .mark = list_mark,
    .click = list_click,
};

/* ---- the chart ---- */

static void chart_paint(tui_ctx *ctx, tui_panel *p)
{
    compare_panel *cp = (compare_panel *)p;
    memset(&cp->geom, 0, sizeof cp->geom);
    int idx[1024];
    int n = tui_ctx_shown_runs(ctx, idx, 1024);
    const char *metric = ctx->cfg->cmp_metric;
    char title[256];
    snprintf(title, sizeof title, "Compare: %s  (%s)  m: metric  y: log  x: step/time", metric,
             ctx->nmarks ? "marked runs" : "all runs; Space marks");
    tui_ctx_title(ctx, p, title);
    if (p->h < 4) return;

    tui_chart_line lines[MAX_CMP];
    int nl = 0, missing = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    double rate = 0;
    int64_t t0 = 0;
    for (int i = 0; i < n && nl < MAX_CMP; i++) {
        const tt_run *r = tui_model_run(ctx->m, idx[i]);
        if (ctx->nmarks && !tui_ctx_marked(ctx, r)) continue;
        int k = tui_run_scalar_index(r, metric);
        if (k < 0 || !tui_scalar_series(r, k)) { missing++; continue; }
        tt_point pt;
        int64_t to = tui_model_step(ctx->m, r);
        if (tui_query(tui_scalar_series(r, k), INT64_MIN, to, 1, &pt) != 1) { missing++; continue; }
        if (pt.first < lo) lo = pt.first;
        if (to > hi) hi = to;
        if (nl == 0) { rate = tui_model_rate(ctx->m, r); t0 = pt.first; }
        lines[nl++] = (tui_chart_line){ tui_run_name(r), tui_scalar_series(r, k), tui_model_scalar_last(ctx->m, r, k),
                                        tui_run_role(tui_run_name(r)) };
    }
    int status = p->h >= 10;
    if (nl == 0) {
        char m[200];
        snprintf(m, sizeof m, "no run has \"%s\" yet (m: another metric)", metric);
        tui_put(stdscr, p->y + 1 + (p->h - 2) / 2, p->x, p->w, m, tui_attr(TUI_A_DIM), TUI_CENTER, ctx->ascii);
        return;
    }
    tui_xview *v = &cp->xv;
    int64_t from, to;
    tui_xview_window(v, lo, hi, &from, &to);
    /* runs differ in speed: wall time uses the first run's steps/s (the status line says so) */
    tui_chart_opts co = {
        .style = tui_ctx_chart_style(ctx),
        .log_y = ctx->cfg->log_y,
        .x_time = ctx->cfg->x_time && rate > 0,
        .sec_per_step = rate > 0 ? 1 / rate : 0,
        .t0_step = t0,
        .cursor_on = v->cursor_on,
        .cursor = v->cursor,
        .no_envelope = nl > 1,
    };
    tui_chart_draw_ex(stdscr, p->y + 1, p->x, p->h - 1 - status, p->w, lines, nl, from, to, &co, &cp->chart_buf, &cp->geom);
    if (cp->geom.pw > 0) v->steps_per_col = cp->geom.steps_per_col;
    if (status) {
        char line[256], c[TUI_FMT_MAX], cur[48] = "";
        if (v->cursor_on) {
            tui_fmt_count(c, sizeof c, v->cursor < 0 ? 0 : (uint64_t)v->cursor);
            snprintf(cur, sizeof cur, "  cursor: step %s", c);
        }
        snprintf(line, sizeof line, "%d runs%s  %s%s  y %s  x %s", nl, missing ? " (others lack it)" : "",
                 v->span > 0 ? "zoomed" : "all steps", cur, co.log_y ? "log" : "lin",
                 co.x_time ? "time (first run's steps/s)" : "step");
        tui_put(stdscr, p->y + p->h - 1, p->x, p->w, line, tui_attr(TUI_A_DIM), TUI_LEFT, ctx->ascii);
    }
}

/* The chart has no rows: it takes the focus (Tab) for the arrows, which move its cursor. */
static tui_reaction chart_cursor(tui_ctx *ctx, tui_panel *p, int delta)
{
    (void)p;
    (void)ctx;
    (void)delta;
    return TUI_OK;
}

static tui_reaction chart_hmove(tui_ctx *ctx, tui_panel *p, int delta)
{
    (void)ctx;
    tui_xview_cursor(&((compare_panel *)p)->xv, delta == INT_MIN ? INT32_MIN : delta == INT_MAX ? INT32_MAX : delta);
    return TUI_OK;
}

static tui_reaction chart_click(tui_ctx *ctx, tui_panel *p, int y, int x)
{
    compare_panel *cp = (compare_panel *)p;
    (void)ctx;
    (void)y;
    if (cp->geom.pw <= 0 || x < cp->geom.px || x >= cp->geom.px + cp->geom.pw) return TUI_OK;
    cp->xv.cursor_on = 1;
    cp->xv.cursor = tui_chart_col_step(cp->geom.from, cp->geom.to, cp->geom.pw, x - cp->geom.px);
    return TUI_OK;
}

/* m/M: the next or previous metric; y: log y axis (settings both). */
static tui_reaction chart_action(tui_ctx *ctx, tui_panel *p, tui_action act, int arg)
{
    (void)p;
    if (act == TUI_ACT_METRIC) return next_metric(ctx, arg);
    if (act != TUI_ACT_LOG) return TUI_IGNORED;
    ctx->cfg->log_y = !ctx->cfg->log_y;
    tui_ctx_message(ctx, 0, "charts: %s y axis", ctx->cfg->log_y ? "log" : "linear");
    return TUI_SAVE;
}

static tui_xview *chart_xview(tui_panel *p) { return &((compare_panel *)p)->xv; }

static tui_panel *chart_create(tui_ctx *ctx)
{
    (void)ctx;
    compare_panel *cp = calloc(1, sizeof *cp);
    if (!cp) return NULL;
    tui_xview_reset(&cp->xv);
    return &cp->super;
}

static void chart_destroy(tui_panel *p)
{
    compare_panel *cp = (compare_panel *)p;
    tui_buf_free(&cp->chart_buf);
    free(cp);
}

const tui_panel_class tui_compare_panel = {
    .name = "Compare",
    .create = chart_create,
    .destroy = chart_destroy,
    .paint = chart_paint,
    .cursor = chart_cursor,
    .hmove = chart_hmove,
    .click = chart_click,
    .action = chart_action,
    .xview = chart_xview,
};
