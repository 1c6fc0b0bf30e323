/* panel_compare: one scalar across runs. A list of the runs with marks (Space/Enter), each in its own
 * colour — a hash of the run's name, so a run keeps its colour across views and sessions — and a chart
 * overlaying the metric of the marked runs (all of them while none is marked), with the chart keys:
 * cursor, zoom, pan, log y, x by step or time. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/app.h"
#include "../widgets/chart.h"
#include "../widgets/fmt.h"
#include "../freeze.h"
#include "../widgets/theme.h"

#define MAX_CMP 16

static void run_key(const tt_run *r, char *out, size_t len)
{
    snprintf(out, len, "%s:%d", r->name, r->rank);
}

int tui_compare_marked(const tui_app *a, const tt_run *r)
{
    char k[160];
    run_key(r, k, sizeof k);
    for (int i = 0; i < a->ncmp_marks; i++) if (strcmp(a->cmp_marks[i], k) == 0) return 1;
    return 0;
}

void tui_compare_toggle(tui_app *a, const tt_run *r)
{
    char k[160];
    run_key(r, k, sizeof k);
    for (int i = 0; i < a->ncmp_marks; i++)
        if (strcmp(a->cmp_marks[i], k) == 0) {
            memmove(a->cmp_marks[i], a->cmp_marks[i + 1], (size_t)(a->ncmp_marks - i - 1) * sizeof a->cmp_marks[0]);
            a->ncmp_marks--;
            return;
        }
    if (a->ncmp_marks < TUI_MAX_MARKS) snprintf(a->cmp_marks[a->ncmp_marks++], sizeof a->cmp_marks[0], "%s", k);
}

static int shown_runs(tui_app *a, int *idx, int max)
{
    int n = 0;
    for (int i = 0; i < a->st->nruns && n < max; i++)
        if (tui_app_run_shown(a, a->st->runs[i])) idx[n++] = i;
    return n;
}

/* Every scalar name of the shown runs, loss first, then in order of first appearance. */
static int metric_names(tui_app *a, const char **names, int max)
{
    int n = 0;
    for (int i = 0; i < a->st->nruns; i++) {
        const tt_run *r = a->st->runs[i];
        if (!tui_app_run_shown(a, r)) continue;
        for (int k = 0; k < r->nscalars && n < max; k++) {
            int seen = 0;
            for (int j = 0; j < n && !seen; j++) seen = strcmp(names[j], r->scalars[k].name) == 0;
            if (!seen) names[n++] = r->scalars[k].name;
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

void tui_compare_next_metric(tui_app *a, int dir)
{
    const char *names[256];
    int n = metric_names(a, names, 256);
    if (n == 0) return;
    int cur = -1;
    for (int i = 0; i < n; i++) if (strcmp(names[i], a->cfg.cmp_metric) == 0) cur = i;
    int next = cur < 0 ? 0 : ((cur + dir) % n + n) % n;
    snprintf(a->cfg.cmp_metric, sizeof a->cfg.cmp_metric, "%s", names[next]);
    tui_app_save_config(a);
}

/* ---- the runs list ---- */

static void list_paint(tui_app *a, tui_panel *p)
{
    int idx[1024];
    int n = shown_runs(a, idx, 1024);
    char title[64];
    snprintf(title, sizeof title, "Runs (%d marked)", a->ncmp_marks);
    tui_app_title(a, p, title);
    int rows = p->h - 1;
    if (n == 0) {
        if (rows > 0) tui_put(stdscr, p->y + 1, p->x, p->w, "waiting for runs...", tui_attr(TUI_A_DIM), TUI_CENTER, a->ascii);
        return;
    }
    if (a->cmp_cur >= n) a->cmp_cur = n - 1;
    if (a->cmp_cur < 0) a->cmp_cur = 0;
    if (a->cmp_cur < a->cmp_top) a->cmp_top = a->cmp_cur;
    if (a->cmp_cur >= a->cmp_top + rows) a->cmp_top = a->cmp_cur - rows + 1;
    if (a->cmp_top < 0) a->cmp_top = 0;
    for (int r = 0; r < rows && a->cmp_top + r < n; r++) {
        int i = a->cmp_top + r;
        const tt_run *run = a->st->runs[idx[i]];
        int is_cur = i == a->cmp_cur, y = p->y + 1 + r;
        attr_t base = is_cur ? tui_attr(a->focus == TUI_P_CMPRUNS ? TUI_A_CURSOR : TUI_A_CURSOR_DIM) : 0;
        tui_fill(stdscr, y, p->x, p->w, base);
        int x = p->x;
        x += tui_puts(stdscr, y, x, p->w, tui_compare_marked(a, run) ? "[x] " : "[ ] ", base);
        x += tui_puts(stdscr, y, x, p->x + p->w - x, a->ascii ? "# " : "\u2588 ", tui_attr(tui_run_role(run->name)));
        char lab[160];
        if (run->world > 1) snprintf(lab, sizeof lab, "%s:%d", run->name, run->rank);
        else snprintf(lab, sizeof lab, "%s", run->name);
        tui_put(stdscr, y, x, p->x + p->w - x, lab, base | (is_cur ? A_BOLD : 0), TUI_LEFT, a->ascii);
    }
}

static void list_cursor(tui_app *a, tui_panel *p, int delta)
{
    (void)p;
    int idx[1024];
    int n = shown_runs(a, idx, 1024);
    if (n == 0) return;
    long i = (long)a->cmp_cur + delta;
    if (delta == INT_MIN || i < 0) i = 0;
    if (delta == INT_MAX || i >= n) i = n - 1;
    a->cmp_cur = (int)i;
}

static void list_mark(tui_app *a, tui_panel *p)
{
    (void)p;
    int idx[1024];
    int n = shown_runs(a, idx, 1024);
    if (a->cmp_cur >= 0 && a->cmp_cur < n) tui_compare_toggle(a, a->st->runs[idx[a->cmp_cur]]);
}

static void list_click(tui_app *a, tui_panel *p, int y, int x)
{
    int row = y - p->y - 1;
    int idx[1024];
    int n = shown_runs(a, idx, 1024);
    if (row < 0 || a->cmp_top + row >= n) return;
    a->cmp_cur = a->cmp_top + row;
    if (x < p->x + 4) list_mark(a, p);          /* on the box: toggle */
}

static void chart_hmove(tui_app *a, tui_panel *p, int delta);

const tui_panel_class tui_panel_cmpruns = {
    .name = "Runs",
    .paint = list_paint,
    .cursor = list_cursor,
    .enter = list_mark,
    .focusable = NULL,
    .hmove = chart_hmove,
    .mark = list_mark,
    .click = list_click,
};

/* ---- the chart ---- */

static tui_chart_geom g_geom;

static void chart_paint(tui_app *a, tui_panel *p)
{
    memset(&g_geom, 0, sizeof g_geom);
    int idx[1024];
    int n = shown_runs(a, idx, 1024);
    const char *metric = a->cfg.cmp_metric;
    char title[256];
    snprintf(title, sizeof title, "Compare: %s  (%s)  m: metric  y: log  x: step/time", metric,
             a->ncmp_marks ? "marked runs" : "all runs; Space marks");
    tui_app_title(a, p, title);
    if (p->h < 4) return;

    tui_chart_line lines[MAX_CMP];
    int nl = 0, missing = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    double rate = 0;
    int64_t t0 = 0;
    for (int i = 0; i < n && nl < MAX_CMP; i++) {
        const tt_run *r = a->st->runs[idx[i]];
        if (a->ncmp_marks && !tui_compare_marked(a, r)) continue;
        int k = tt_run_scalar_index(r, metric);
        if (k < 0 || !r->scalars[k].series) { missing++; continue; }
        tt_point pt;
        int64_t to = tui_app_step(a, r);
        if (tui_query(r->scalars[k].series, INT64_MIN, to, 1, &pt) != 1) { missing++; continue; }
        if (pt.first < lo) lo = pt.first;
        if (to > hi) hi = to;
        if (nl == 0) { rate = tui_app_rate(a, r); t0 = pt.first; }
        lines[nl++] = (tui_chart_line){ r->name, r->scalars[k].series, tui_app_scalar_last(a, r, k), tui_run_role(r->name) };
    }
    int status = p->h >= 10;
    if (nl == 0) {
        char m[200];
        snprintf(m, sizeof m, "no run has \"%s\" yet (m: another metric)", metric);
        tui_put(stdscr, p->y + 1 + (p->h - 2) / 2, p->x, p->w, m, tui_attr(TUI_A_DIM), TUI_CENTER, a->ascii);
        return;
    }
    tui_xview *v = &a->xv_cmp;
    int64_t from, to;
    tui_xview_window(v, lo, hi, &from, &to);
    /* runs differ in speed: wall time uses the first run's steps/s (the status line says so) */
    tui_chart_opts co = {
        .style = tui_app_chart_style(a),
        .log_y = a->cfg.log_y,
        .x_time = a->cfg.x_time && rate > 0,
        .sec_per_step = rate > 0 ? 1 / rate : 0,
        .t0_step = t0,
        .cursor_on = v->cursor_on,
        .cursor = v->cursor,
        .no_envelope = nl > 1,
    };
    tui_chart_draw_ex(stdscr, p->y + 1, p->x, p->h - 1 - status, p->w, lines, nl, from, to, &co, &a->chart_buf, &g_geom);
    if (g_geom.pw > 0) v->steps_per_col = g_geom.steps_per_col;
    if (status) {
        char line[256], c[TUI_FMT_MAX], cur[48] = "";
        if (v->cursor_on) {
            tui_fmt_count(c, sizeof c, v->cursor < 0 ? 0 : (uint64_t)v->cursor);
            snprintf(cur, sizeof cur, "  cursor: step %s", c);
        }
        snprintf(line, sizeof line, "%d runs%s  %s%s  y %s  x %s", nl, missing ? " (others lack it)" : "",
                 v->span > 0 ? "zoomed" : "all steps", cur, co.log_y ? "log" : "lin",
                 co.x_time ? "time (first run's steps/s)" : "step");
        tui_put(stdscr, p->y + p->h - 1, p->x, p->w, line, tui_attr(TUI_A_DIM), TUI_LEFT, a->ascii);
    }
}

static void chart_cursor(tui_app *a, tui_panel *p, int delta)
{
    (void)p;
    (void)a;
    (void)delta;
}

static void chart_hmove(tui_app *a, tui_panel *p, int delta)
{
    (void)p;
    tui_xview_cursor(&a->xv_cmp, delta == INT_MIN ? INT32_MIN : delta == INT_MAX ? INT32_MAX : delta);
}

static void chart_click(tui_app *a, tui_panel *p, int y, int x)
{
    (void)p;
    (void)y;
    if (g_geom.pw <= 0 || x < g_geom.px || x >= g_geom.px + g_geom.pw) return;
    a->xv_cmp.cursor_on = 1;
    a->xv_cmp.cursor = tui_chart_col_step(g_geom.from, g_geom.to, g_geom.pw, x - g_geom.px);
}

const tui_panel_class tui_panel_compare = {
    .name = "Compare",
    .paint = chart_paint,
    .cursor = chart_cursor,
    .enter = NULL,
    .focusable = NULL,
    .hmove = chart_hmove,
    .click = chart_click,
};
