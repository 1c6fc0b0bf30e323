/* panel_charts: the selected run's scalars as a grid of charts. Scalars that differ only by a
 * train_/val_/test_/eval_ prefix share a chart (loss with val_loss, train_acc with val_acc). In the
 * charts view every chart shares one zoomable, pannable step window and one cursor whose values each
 * legend reads out; in the overview the charts show the whole history. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/app.h"
#include "../widgets/chart.h"
#include "../widgets/fmt.h"
#include "../freeze.h"
#include "../widgets/theme.h"

#define MAX_GROUPS 32
#define MAX_LINES 4
#define MIN_CHART_W 20
#define MIN_CHART_H 4

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
    for (int i = 0; i < r->nscalars; i++) {
        const char *b = base_name(r->scalars[i].name);
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
        const tt_named_series *s = &r->scalars[g->idx[k]];
        const char *b = base_name(s->name);
        if (g->n > 1 && b != s->name) {
            int plen = (int)(b - s->name) - 1;         /* without the underscore */
            snprintf(labels[k], TT_NAME_MAX, "%.*s", plen, s->name);
        } else {
            snprintf(labels[k], TT_NAME_MAX, "%s", s->name);
            base_is_line = 1;
        }
        lines[k].name = labels[k];
        lines[k].s = s->series;
        lines[k].last = s->last;
    }
    return g->n > 1 && !base_is_line ? g->base : NULL;
}

/* Grid for n charts in w×h: the column count whose cells are the most readable; rows beyond the
 * height scroll. */
static void grid(int n, int w, int h, int *gc, int *gr_visible)
{
    int best_c = 1, best_score = -1;
    for (int c = 1; c <= n && c <= 4; c++) {
        int r = (n + c - 1) / c;
        int cw = w / c;
        if (cw < MIN_CHART_W) break;
        int rows_fit = h / MIN_CHART_H;
        if (rows_fit < 1) rows_fit = 1;
        int vr = r < rows_fit ? r : rows_fit;
        int ch = h / vr;
        int score = (cw < 3 * ch ? cw : 3 * ch) * 100 - (vr < r ? 5000 : 0);
        if (score > best_score) { best_score = score; best_c = c; }
    }
    int r = (n + best_c - 1) / best_c;
    int rows_fit = h / MIN_CHART_H;
    if (rows_fit < 1) rows_fit = 1;
    *gc = best_c;
    *gr_visible = r < rows_fit ? r : rows_fit;
}

/* The run's step extent: from its first scalar step to the latest step the display shows. */
static void run_extent(tui_app *a, const tt_run *r, int64_t *lo, int64_t *hi)
{
    int64_t from = INT64_MAX, to = tui_app_step(a, r);
    for (int i = 0; i < r->nscalars; i++) {
        tt_point pt;
        if (r->scalars[i].series && tui_query(r->scalars[i].series, INT64_MIN, INT64_MAX, 1, &pt) == 1)
            if (pt.first < from) from = pt.first;
    }
    if (from == INT64_MAX) from = 0;
    if (to < from) to = from;
    *lo = from;
    *hi = to;
}

static tui_chart_geom g_geom;     /* the first chart of the last frame, for clicks */

/* The bottom line of the full-screen view: the window, the cursor, the scales. */
static void status_line(tui_app *a, tui_panel *p, const tui_xview *v, const tui_chart_opts *co, int y)
{
    char win[64], a0[TUI_FMT_MAX], a1[TUI_FMT_MAX], cur[96] = "", line[320];
    tui_fmt_count(a0, sizeof a0, v->from < 0 ? 0 : (uint64_t)v->from);
    tui_fmt_count(a1, sizeof a1, v->to < 0 ? 0 : (uint64_t)v->to);
    if (v->span <= 0) snprintf(win, sizeof win, "steps %s-%s (all%s)", a0, a1, a->paused ? ", paused" : ", live");
    else snprintf(win, sizeof win, "steps %s-%s (zoom %.3gx%s)", a0, a1, tui_xview_factor(v), v->follow && !a->paused ? ", live" : "");
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
             co->x_time ? "time" : a->cfg.x_time ? "step (no steps/s yet)" : "step", tui_chart_style_name(co->style));
    tui_put(stdscr, y, p->x, p->w, line, tui_attr(TUI_A_DIM), TUI_LEFT, a->ascii);
}

static void charts_paint(tui_app *a, tui_panel *p)
{
    tt_run *r = tui_app_run(a);
    char title[512];
    memset(&g_geom, 0, sizeof g_geom);
    if (!r) {
        tui_app_title(a, p, "Charts");
        a->chart_rows = a->chart_rows_total = 0;
        if (p->h >= 3) tui_put(stdscr, p->y + 1 + (p->h - 2) / 2, p->x, p->w, "waiting for runs...", tui_attr(TUI_A_DIM), TUI_CENTER, a->ascii);
        return;
    }
    char rate[TUI_FMT_MAX], up[16], step[TUI_FMT_MAX];
    int64_t rstep = tui_app_step(a, r);
    tui_fmt_num(rate, sizeof rate, tui_app_rate(a, r));
    tui_fmt_duration(up, sizeof up, r->last_seen - r->first_seen);
    tui_fmt_count(step, sizeof step, rstep < 0 ? 0 : (uint64_t)rstep);
    int state = tui_app_state(a, r);
    char probe[64] = "";
    double pct = tui_app_probe_pct(a, r), gpct = tui_app_probe_gpu_pct(a, r);
    if (isfinite(pct) || isfinite(gpct)) {
        char v[TUI_FMT_MAX] = "-", g[TUI_FMT_MAX];
        if (isfinite(pct)) tui_fmt_pct(v, sizeof v, pct);
        if (isfinite(gpct)) tui_fmt_pct(g, sizeof g, gpct);
        if (isfinite(gpct)) snprintf(probe, sizeof probe, "  probe cpu %s gpu %s", v, g);
        else snprintf(probe, sizeof probe, "  probe %s", v);
    }
    snprintf(title, sizeof title, "%s%s%.*s  step %s  %s st/s%s  up %s  pid %lld@%s", r->name,
             state == TT_RUN_RUNNING ? "" : " ", state == TT_RUN_RUNNING ? 0 : 32,
             state == TT_RUN_RUNNING ? "" : (r->end_status[0] ? r->end_status : tt_run_state_name((tt_run_state)state)),
             step, rate, probe, up, (long long)r->pid, r->host);
    tui_app_title(a, p, title);

    group g[MAX_GROUPS];
    int ng = make_groups(r, g);
    int full = a->view == TUI_V_CHARTS;
    int status = full && p->h >= 10;
    int ah = p->h - 1 - status, aw = p->w;
    if (ng == 0 || ah < 2) {
        a->chart_rows = a->chart_rows_total = 0;
        if (ah >= 1) tui_put(stdscr, p->y + 1 + (ah - 1) / 2, p->x, p->w, "no scalars yet", tui_attr(TUI_A_DIM), TUI_CENTER, a->ascii);
        return;
    }
    int gc, gr;
    grid(ng, aw, ah, &gc, &gr);
    int total_rows = (ng + gc - 1) / gc;
    a->chart_rows = gr;
    a->chart_rows_total = total_rows;
    if (a->chart_top > total_rows - gr) a->chart_top = total_rows - gr;
    if (a->chart_top < 0) a->chart_top = 0;

    /* one x window for every chart of the run: the view's zoom and pan, or the whole history */
    tui_xview whole, *v = full ? &a->xv_charts : &whole;
    if (!full) tui_xview_reset(&whole);
    int64_t lo, hi, from, to;
    run_extent(a, r, &lo, &hi);
    tui_xview_window(v, lo, hi, &from, &to);
    double rt = tui_app_rate(a, r);
    tui_chart_opts co = {
        .style = tui_app_chart_style(a),
        .log_y = a->cfg.log_y,
        .x_time = a->cfg.x_time && rt > 0,
        .sec_per_step = rt > 0 ? 1 / rt : 0,
        .t0_step = lo,
        .cursor_on = full && v->cursor_on,
        .cursor = v->cursor,
    };

    for (int vr = 0; vr < gr; vr++) {
        int row = a->chart_top + vr;
        int cy = p->y + 1 + vr * ah / gr, ch = (vr + 1) * ah / gr - vr * ah / gr;
        int in_row = ng - row * gc < gc ? ng - row * gc : gc;   /* a short last row shares its width */
        for (int c = 0; c < in_row; c++) {
            int gi = row * gc + c;
            int cx = p->x + c * aw / in_row, cw = (c + 1) * aw / in_row - c * aw / in_row;
            tui_chart_line lines[MAX_LINES];
            char labels[MAX_LINES][TT_NAME_MAX];
            co.title = label_lines(r, &g[gi], lines, labels);
            for (int k = 0; k < g[gi].n; k++) lines[k].last = tui_app_scalar_last(a, r, g[gi].idx[k]);
            tui_chart_geom geom;
            /* one column between charts, for a rule */
            tui_chart_draw_ex(stdscr, cy, cx, ch, cw - (c < in_row - 1), lines, g[gi].n, from, to, &co, &a->chart_buf, &geom);
            if (geom.pw > 0 && g_geom.pw == 0) g_geom = geom;
            if (c < in_row - 1)
                for (int yy = cy; yy < cy + ch; yy++)
                    tui_puts(stdscr, yy, cx + cw - 1, 1, a->ascii ? "|" : "\u2502", tui_attr(TUI_A_DIM));
        }
    }
    if (g_geom.pw > 0) v->steps_per_col = g_geom.steps_per_col;
    if (status) status_line(a, p, v, &co, p->y + p->h - 1);
    if (total_rows > gr) {
        char more[48];
        snprintf(more, sizeof more, " %d-%d/%d ", a->chart_top + 1, a->chart_top + gr, total_rows);
        int mw = (int)strlen(more);
        if (mw < p->w) tui_puts(stdscr, p->y, p->x + p->w - mw, mw, more,
                                tui_attr(a->focus == TUI_P_CHARTS ? TUI_A_TITLE_FOCUS : TUI_A_TITLE));
    }
}

static void charts_cursor(tui_app *a, tui_panel *p, int delta)
{
    (void)p;
    long t = (long)a->chart_top + delta;
    int maxt = a->chart_rows_total - a->chart_rows;
    if (delta == INT_MIN || t < 0) t = 0;
    if (delta == INT_MAX || t > maxt) t = maxt < 0 ? 0 : maxt;
    a->chart_top = (int)t;
}

static void charts_hmove(tui_app *a, tui_panel *p, int delta)
{
    (void)p;
    if (a->view != TUI_V_CHARTS) return;
    tui_xview_cursor(&a->xv_charts, delta == INT_MIN ? INT32_MIN : delta == INT_MAX ? INT32_MAX : delta);
}

static void charts_click(tui_app *a, tui_panel *p, int y, int x)
{
    (void)p;
    (void)y;
    if (a->view != TUI_V_CHARTS || g_geom.pw <= 0) return;
    int col = x - g_geom.px;
    if (col < 0 || col >= g_geom.pw) return;
    a->xv_charts.cursor_on = 1;
    a->xv_charts.cursor = tui_chart_col_step(g_geom.from, g_geom.to, g_geom.pw, col);
}

/* Focusable when some charts are scrolled out of view, or in the charts view. */
static int charts_focusable(tui_app *a, tui_panel *p)
{
    (void)p;
    return a->view == TUI_V_CHARTS || a->chart_rows_total > a->chart_rows;
}

const tui_panel_class tui_panel_charts = {
    .name = "Charts",
    .paint = charts_paint,
    .cursor = charts_cursor,
    .enter = NULL,
    .focusable = charts_focusable,
    .hmove = charts_hmove,
    .click = charts_click,
};
