/* keys: bindings and their handlers. A handler acts on the app's selections and settings, or hands the
 * key to the focused panel through its class (panel actions go on to the view's other panels when the
 * focused one has none); it returns what the loop should do. The table below is the only place a key
 * is given a meaning, and it drives the footer hints and the help screen. */
#include "keys.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "../widgets/chart.h"

#define V(x) TUI_VBIT(TUI_V_##x)
#define CHARTLIKE (V(CHARTS) | V(HEATMAP) | V(COMPARE))
#define TABLES (V(OVERVIEW) | V(LAYERS) | V(HEATMAP))
#define SORTS (V(OVERVIEW) | V(LAYERS))

enum { MV_PAGE = 2, MV_HALF = 3, MV_END = 4 };

static int page_rows(tui_app *a, int half)
{
    int h = a->panel[a->focus]->h - 2;
    if (half) h /= 2;
    return h > 1 ? h : 1;
}

static tui_reaction k_quit(tui_app *a, int arg) { (void)a; (void)arg; return TUI_QUIT; }
static tui_reaction k_help(tui_app *a, int arg) { (void)arg; a->help = !a->help; a->help_top = 0; return TUI_OK; }
static tui_reaction k_redraw(tui_app *a, int arg) { (void)a; (void)arg; return TUI_REDRAW; }
static tui_reaction k_view(tui_app *a, int v) { return tui_ctx_goto(&a->ctx, v, INT64_MIN, 0); }

static tui_reaction k_vert(tui_app *a, int arg)
{
    tui_panel *p = tui_app_focused(a);
    if (!p || !p->cls->cursor) return TUI_OK;
    int d = arg;
    if (arg == MV_PAGE || arg == -MV_PAGE) d = (arg > 0 ? 1 : -1) * page_rows(a, 0);
    else if (arg == MV_HALF || arg == -MV_HALF) d = (arg > 0 ? 1 : -1) * page_rows(a, 1);
    else if (arg == MV_END) d = INT_MAX;
    else if (arg == -MV_END) d = INT_MIN;
    return p->cls->cursor(&a->ctx, p, d);
}

/* Left/Right: the focused panel's; a panel that passes them on (the compare list) leaves them to the
 * view's next panel with columns. */
static tui_reaction k_horz(tui_app *a, int arg)
{
    tui_panel *f = tui_app_focused(a);
    if (!f || !f->cls->hmove) return TUI_OK;
    tui_reaction r = f->cls->hmove(&a->ctx, f, arg);
    for (int i = 0; i < a->npanels && (r & TUI_IGNORED); i++) {
        tui_panel *p = a->panel[i];
        if (p != f && p->cls->hmove && tui_app_in_view(a, p, a->view)) r = p->cls->hmove(&a->ctx, p, arg);
    }
    return r & ~TUI_IGNORED;
}

static tui_reaction k_focus(tui_app *a, int dir)
{
    int n = a->npanels;
    for (int i = 1; i <= n; i++) {
        int f = ((a->focus + dir * i) % n + n) % n;
        tui_panel *p = a->panel[f];
        if (!p->visible || !p->cls->cursor) continue;
        if (p->cls->focusable && !p->cls->focusable(&a->ctx, p)) continue;
        a->focus = f;
        a->ctx.focus = p;
        a->vfocus[a->view] = f;
        return TUI_OK;
    }
    return TUI_OK;
}

static tui_reaction k_enter(tui_app *a, int arg)
{
    (void)arg;
    tui_panel *p = tui_app_focused(a);
    return p && p->cls->enter ? p->cls->enter(&a->ctx, p) : TUI_OK;
}

static tui_reaction k_mark(tui_app *a, int arg)
{
    (void)arg;
    tui_panel *p = tui_app_focused(a);
    return p && p->cls->mark ? p->cls->mark(&a->ctx, p) : TUI_OK;
}

/* Panel actions (m/M, y, c): the focused panel's, else the first of the view's panels that has one. */
static tui_reaction k_action(tui_app *a, tui_action act, int arg)
{
    tui_panel *f = tui_app_focused(a);
    tui_reaction r = f && f->cls->action ? f->cls->action(&a->ctx, f, act, arg) : TUI_IGNORED;
    for (int i = 0; i < a->npanels && (r & TUI_IGNORED); i++) {
        tui_panel *p = a->panel[i];
        if (p != f && p->cls->action && tui_app_in_view(a, p, a->view)) r = p->cls->action(&a->ctx, p, act, arg);
    }
    return r & ~TUI_IGNORED;
}

static tui_reaction k_metric(tui_app *a, int dir) { return k_action(a, TUI_ACT_METRIC, dir); }
static tui_reaction k_log(tui_app *a, int arg) { return k_action(a, TUI_ACT_LOG, arg); }
static tui_reaction k_columns(tui_app *a, int arg) { return k_action(a, TUI_ACT_COLUMNS, arg); }

/* ] [: the next or previous run in the runs' order (the runs table's). */
static tui_reaction k_run(tui_app *a, int dir)
{
    int idx[1024];
    int n = tui_ctx_shown_runs(&a->ctx, idx, 1024);
    if (n == 0) return TUI_OK;
    tui_ctx_run(&a->ctx);
    int cur = 0;
    for (int i = 0; i < n; i++) if (idx[i] == a->ctx.run_cur) cur = i;
    tui_ctx_select_run(&a->ctx, idx[((cur + dir) % n + n) % n]);
    return TUI_OK;
}

/* !: the worst problem of every run shown — the run selected, and a sick layer selected in the layer
 * table; again: the next one. */
static tui_reaction k_worst(tui_app *a, int arg)
{
    (void)arg;
    tui_ctx *c = &a->ctx;
    int idx[1024];
    int n = tui_ctx_shown_runs(c, idx, 1024);
    static const int max = 4096;
    tui_problem *pr = malloc((size_t)max * sizeof *pr);
    if (!pr) return TUI_OK;
    int np = tui_health_problems(&c->health, c->m, idx, n, pr, max);
    if (np == 0) {
        free(pr);
        tui_ctx_message(c, 0, n ? "no problem found: no NaN, divergence, overfitting or sick layer" : "no runs yet");
        return TUI_OK;
    }
    int k = a->problem_next % np;
    a->problem_next = k + 1;
    tui_problem p = pr[k];
    free(pr);
    for (int i = 0; i < tui_model_nruns(c->m); i++)
        if (tui_model_run(c->m, i) == p.run) tui_ctx_select_run(c, i);
    const tui_run_health *h = tui_health_of(&c->health, c->m, p.run);
    if (p.layer < 0) {
        tui_ctx_message(c, 1, "%s: %s (%d/%d; ! next)", tui_run_name(p.run), h->learn.why, k + 1, np);
        return tui_ctx_goto(c, TUI_V_OVERVIEW, INT64_MIN, 0);
    }
    c->layers.cur = p.layer;
    if (tui_filter_on(&c->layers.filter) && !tui_filter_match(&c->layers.filter, tui_layer_name(p.run, p.layer)))
        tui_filter_set(&c->layers.filter, "");    /* the filter hid it */
    unsigned f = p.layer < h->nflags ? h->flags[p.layer] : 0;
    static const char *const what[] = { "", "an outlier against the other layers", "vanishing updates (update_ratio < 1e-7)",
                                        "exploding updates (update_ratio > 0.1)", "dead: a zero gradient", "NaN or Inf values" };
    tui_ctx_message(c, 1, "%s: layer %s: %s (%d/%d; ! next)", tui_run_name(p.run), tui_layer_name(p.run, p.layer),
                    what[tt_health_layer_severity(f)], k + 1, np);
    return tui_ctx_goto(c, TUI_V_LAYERS, INT64_MIN, 0);
}

/* < >: the focused table's sort column, previous or next (the runs table: name, health, loss, val_loss,
 * step; the layer table: order, problems, name, each statistic). */
static tui_reaction k_sortcol(tui_app *a, int dir)
{
    tui_ctx *c = &a->ctx;
    tui_panel *f = tui_app_focused(a);
    if (f && !strcmp(f->id, "runs")) {
        c->run_sort = ((c->run_sort + dir) % TUI_RSORT_N + TUI_RSORT_N) % TUI_RSORT_N;
        a->cfg.run_sort = c->run_sort;
        tui_ctx_message(c, 0, "runs by %s%s", tui_run_sort_names[c->run_sort], c->run_sort_rev ? ", inverted" : "");
        return TUI_SAVE;
    }
    if (dir > 0) {
        tui_layersel_cycle_sort(&c->layers);
    } else {              /* the previous: cycle round to the key before this one */
        char start[128];
        snprintf(start, sizeof start, "%s", c->layers.sort_key);
        for (int i = 0; i < TUI_MAX_LCOLS + 4; i++) {
            char prev[128];
            snprintf(prev, sizeof prev, "%s", c->layers.sort_key);
            tui_layersel_cycle_sort(&c->layers);
            if (!strcmp(c->layers.sort_key, start)) {
                snprintf(c->layers.sort_key, sizeof c->layers.sort_key, "%s", prev);
                break;
            }
        }
    }
    snprintf(a->cfg.sort, sizeof a->cfg.sort, "%s", c->layers.sort_key);
    return TUI_SAVE;
}

/* I: inverts the focused table's order. */
static tui_reaction k_invert(tui_app *a, int arg)
{
    (void)arg;
    tui_panel *f = tui_app_focused(a);
    if (f && !strcmp(f->id, "runs")) {
        a->ctx.run_sort_rev = !a->ctx.run_sort_rev;
        a->cfg.run_sort_rev = a->ctx.run_sort_rev;
        return TUI_SAVE;
    }
    a->ctx.layers.sort_rev = !a->ctx.layers.sort_rev;
    a->cfg.sort_rev = a->ctx.layers.sort_rev;
    return TUI_SAVE;
}

/* - + *: fold the selected layer's group (blocks.3.*) into one row, unfold it; fold or unfold them all. */
static tui_reaction k_fold(tui_app *a, int how)
{
    tui_ctx *c = &a->ctx;
    tui_layersel *ls = &c->layers;
    const tt_run *r = tui_ctx_run(c);
    if (!r || tui_run_layers_total(r) == 0) return TUI_OK;
    char g[96];
    tui_layer_group(tui_layer_name(r, ls->cur < tui_run_layers_total(r) ? ls->cur : 0), g, sizeof g);
    if (how == 2) {
        tui_layersel_fold_all(ls, !ls->fold_all);
        tui_ctx_message(c, 0, "%s", ls->fold_all ? "every group folded: + unfolds one, * all" : "every group unfolded");
    } else {
        tui_layersel_fold(ls, g, how);
    }
    const int *o;                /* the cursor stays on the group: its first row now */
    int n = tui_layersel_order(ls, c->m, r, &o);
    for (int i = 0; i < n; i++) {
        char g2[96];
        tui_layer_group(tui_layer_name(r, o[i]), g2, sizeof g2);
        if (!strcmp(g, g2)) { ls->cur = o[i]; break; }
    }
    return TUI_OK;
}

/* P: only the layers with a problem, in the table and the heatmap. */
static tui_reaction k_problems(tui_app *a, int arg)
{
    (void)arg;
    tui_layersel *ls = &a->ctx.layers;
    ls->problems_only = !ls->problems_only;
    tui_ctx_message(&a->ctx, 0, "%s", ls->problems_only ? "layers: only those with a problem (P: all)" : "layers: all");
    return TUI_OK;
}

static tui_reaction k_pause(tui_app *a, int arg) { (void)arg; tui_app_pause(a, !a->model.paused); return TUI_OK; }

static tui_reaction k_escape(tui_app *a, int arg)
{
    (void)arg;
    tui_xview *v = tui_app_xview(a);
    if (v && v->cursor_on) { v->cursor_on = 0; return TUI_OK; }
    if (tui_filter_on(&a->ctx.layers.filter) && tui_app_view_has_layers(a)) {
        tui_filter_set(&a->ctx.layers.filter, "");
        tui_ctx_message(&a->ctx, 0, "filter cleared");
    }
    return TUI_OK;
}

static tui_reaction k_zoom(tui_app *a, int dir)
{
    tui_xview *v = tui_app_xview(a);
    if (v) tui_xview_zoom(v, dir);
    return TUI_OK;
}

static tui_reaction k_pan(tui_app *a, int dir)
{
    tui_xview *v = tui_app_xview(a);
    if (v) tui_xview_pan(v, dir);
    return TUI_OK;
}

static tui_reaction k_reset(tui_app *a, int arg)
{
    (void)arg;
    tui_xview *v = tui_app_xview(a);
    if (v) tui_xview_reset(v);
    return TUI_OK;
}

static tui_reaction k_rows(tui_app *a, int arg)
{
    (void)arg;
    a->cfg.heat_rows = !a->cfg.heat_rows;
    tui_ctx_message(&a->ctx, 0, "heatmap colours: %s", a->cfg.heat_rows ? "each layer on its own scale" : "one scale for every layer");
    return TUI_SAVE;
}

static tui_reaction k_xtime(tui_app *a, int arg)
{
    (void)arg;
    a->cfg.x_time = !a->cfg.x_time;
    tui_ctx_message(&a->ctx, 0, "x axis: %s", a->cfg.x_time ? "wall time (from each run's steps/s)" : "step");
    return TUI_SAVE;
}

static tui_reaction k_style(tui_app *a, int arg)
{
    (void)arg;
    if (a->ascii) {
        tui_ctx_message(&a->ctx, 1, "charts stay ASCII: the terminal is not UTF-8 (or --ascii)");
        return TUI_OK;
    }
    static const int next[TUI_CHART_NSTYLES] = { [TUI_CHART_BRAILLE] = TUI_CHART_BLOCK, [TUI_CHART_BLOCK] = TUI_CHART_ASCII,
                                                 [TUI_CHART_ASCII] = TUI_CHART_BRAILLE };
    int s = a->cfg.chart_style;
    a->cfg.chart_style = next[s >= 0 && s < TUI_CHART_NSTYLES ? s : 0];
    tui_ctx_message(&a->ctx, 0, "chart dots: %s", tui_chart_style_name(a->cfg.chart_style));
    return TUI_SAVE;
}

static tui_reaction k_sort(tui_app *a, int arg)
{
    (void)arg;
    tui_layersel_cycle_sort(&a->ctx.layers);
    snprintf(a->cfg.sort, sizeof a->cfg.sort, "%s", a->ctx.layers.sort_key);
    return TUI_SAVE;
}

static tui_reaction k_reverse(tui_app *a, int arg)
{
    (void)arg;
    a->ctx.layers.sort_rev = !a->ctx.layers.sort_rev;
    a->cfg.sort_rev = a->ctx.layers.sort_rev;
    return TUI_SAVE;
}

/* /: the filter line; in the overview the layer table takes the focus. */
static tui_reaction k_filter(tui_app *a, int arg)
{
    (void)arg;
    tui_layersel_filter_begin(&a->ctx.layers);
    if (a->view != TUI_V_OVERVIEW) return TUI_OK;
    a->ctx.req.focus = "layers";
    return TUI_FOCUS;
}

static tui_reaction k_layout(tui_app *a, int arg)
{
    (void)arg;
    static const char *const names[] = { "auto (side by side from 110 columns)", "side by side", "stacked" };
    a->cfg.layout = (tui_layout_mode)((a->cfg.layout + 1) % 3);
    tui_ctx_message(&a->ctx, 0, "overview layout: %s", names[a->cfg.layout]);
    return TUI_SAVE;
}

static tui_reaction k_theme(tui_app *a, int arg)
{
    (void)arg;
    a->cfg.light = !a->cfg.light;
    tui_ctx_message(&a->ctx, 0, "%s theme", a->cfg.light ? "light" : "dark");
    return TUI_RETHEME | TUI_SAVE;
}

/* ---- the mouse ---- */

static tui_panel *panel_at(tui_app *a, int y, int x)
{
    for (int i = 0; i < a->npanels; i++) {
        tui_panel *p = a->panel[i];
        if (p->visible && y >= p->y && y < p->y + p->h && x >= p->x && x < p->x + p->w) return p;
    }
    return NULL;
}

static tui_reaction k_mouse(tui_app *a, int arg)
{
    (void)arg;
    MEVENT ev;
    if (getmouse(&ev) != OK) return TUI_OK;
    if (ev.y == a->tab_y && (ev.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED))) {
        for (int v = 0; v < TUI_NVIEWS; v++)
            if (ev.x >= a->tab_x0[v] && ev.x < a->tab_x1[v]) return k_view(a, v);
    }
    tui_panel *p = panel_at(a, ev.y, ev.x);
    if (!p) return TUI_OK;
    int wheel = 0;
#ifdef BUTTON5_PRESSED
    if (ev.bstate & BUTTON5_PRESSED) wheel = 1;
#endif
    if (ev.bstate & BUTTON4_PRESSED) wheel = -1;
    if (wheel) return p->cls->cursor ? p->cls->cursor(&a->ctx, p, wheel * (p->cls->wheel ? p->cls->wheel : 3)) : TUI_OK;
    if (!(ev.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED))) return TUI_OK;
    if (p->cls->cursor && (!p->cls->focusable || p->cls->focusable(&a->ctx, p)))
        for (int i = 0; i < a->npanels; i++)
            if (a->panel[i] == p) {
                a->focus = i;
                a->ctx.focus = p;
                a->vfocus[a->view] = i;
            }
    return p->cls->click ? p->cls->click(&a->ctx, p, ev.y, ev.x) : TUI_OK;
}

/* The table: sections in help order. Codes: ^B 2, ^D 4, ^F 6, ^L 12, ^U 21, Esc 27.
 * Fields: codes, label, footer key, footer hint, help, handler, its argument, views (0: all),
 * vim (1: only with vim keys, -1: only without), help section, views whose footer shows the hint. */
#define ROWS (V(OVERVIEW) | V(LAYERS) | V(ALERTS))
const tui_key tui_keys[] = {
    { { '?', KEY_F(1) }, "? F1", "?", "Help", "show or hide this help", k_help, 0, 0, 0, "General", 0 },
    { { 'h' }, "h", NULL, NULL, "help, with vim keys off", k_help, 0, 0, -1, NULL, 0 },
    { { 'q', KEY_F(10) }, "q F10", "q", "Quit", "quit traintop", k_quit, 0, 0, 0, NULL, 0 },
    { { 'T' }, "T", NULL, NULL, "dark or light theme (saved)", k_theme, 0, 0, 0, NULL, 0 },
    { { 12 }, "^L", NULL, NULL, "redraw the whole screen", k_redraw, 0, 0, 0, NULL, 0 },
    { { 'p' }, "p", "p", "Pause", "pause the display (data keeps arriving); p again resumes", k_pause, 0, 0, 0, NULL, 0 },
    { { 'L' }, "L", NULL, NULL, "overview layout: auto, side by side, stacked (saved)", k_layout, 0, V(OVERVIEW), 0, NULL, 0 },

    { { '1' }, "1", "1-7", "View", "Overview: every run, the selected run's charts and layers", k_view, TUI_V_OVERVIEW, 0, 0, "Views", V(OVERVIEW) | V(ALERTS) },
    { { '2' }, "2", NULL, NULL, "Charts: the selected run's scalars (cursor, zoom, pan)", k_view, TUI_V_CHARTS, 0, 0, NULL, 0 },
    { { '3' }, "3", NULL, NULL, "Layers: every statistic; sort, filter, outliers", k_view, TUI_V_LAYERS, 0, 0, NULL, 0 },
    { { '4' }, "4", NULL, NULL, "Heatmap: one statistic, layer x step", k_view, TUI_V_HEATMAP, 0, 0, NULL, 0 },
    { { '5' }, "5", NULL, NULL, "Compare: one metric across the marked runs", k_view, TUI_V_COMPARE, 0, 0, NULL, 0 },
    { { '6' }, "6", NULL, NULL, "Alerts: the rules that fired, newest first", k_view, TUI_V_ALERTS, 0, 0, NULL, 0 },
    { { '7' }, "7", NULL, NULL, "Panels: plugin panels (spectrum, noise, gwa, yours)", k_view, TUI_V_PLUGINS, 0, 0, NULL, 0 },
    { { '\t' }, "Tab", "Tab", "Panel", "focus the next panel", k_focus, 1, V(OVERVIEW) | V(COMPARE), 0, NULL, 0 },
    { { KEY_BTAB }, "S-Tab", NULL, NULL, "focus the previous panel", k_focus, -1, V(OVERVIEW) | V(COMPARE), 0, NULL, 0 },
    { { '!' }, "!", "!", "Worst", "the worst problem: its run, its layer; again: the next problem", k_worst, 0, 0, 0, NULL,
      V(OVERVIEW) | V(LAYERS) },
    { { ']' }, "]", NULL, NULL, "select the next run (in every view)", k_run, 1, 0, 0, NULL, 0 },
    { { '[' }, "[", NULL, NULL, "select the previous run", k_run, -1, 0, 0, NULL, 0 },

    { { KEY_UP, 'k' }, "Up k", NULL, NULL, "move the cursor up (charts: scroll the grid)", k_vert, -1, 0, 0, "Moving", 0 },
    { { KEY_DOWN, 'j' }, "Down j", "jk", "Select", "move the cursor down", k_vert, 1, 0, 0, NULL, ROWS },
    { { KEY_PPAGE, 2 }, "PgUp ^B", NULL, NULL, "one page up", k_vert, -MV_PAGE, 0, 0, NULL, 0 },
    { { KEY_NPAGE, 6 }, "PgDn ^F", NULL, NULL, "one page down", k_vert, MV_PAGE, 0, 0, NULL, 0 },
    { { 21 }, "^U", NULL, NULL, "half a page up (vim keys)", k_vert, -MV_HALF, 0, 1, NULL, 0 },
    { { 4 }, "^D", NULL, NULL, "half a page down (vim keys)", k_vert, MV_HALF, 0, 1, NULL, 0 },
    { { KEY_HOME, 'g' }, "Home g", NULL, NULL, "first row", k_vert, -MV_END, 0, 0, NULL, 0 },
    { { KEY_END, 'G' }, "End G", NULL, NULL, "last row", k_vert, MV_END, 0, 0, NULL, 0 },
    { { KEY_LEFT }, "Left", "Arrows", "Cursor", "cursor one column left (charts, heatmap); tables: scroll", k_horz, -1, 0, 0, NULL,
      CHARTLIKE },
    { { KEY_RIGHT }, "Right", NULL, NULL, "cursor one column right; tables: scroll right", k_horz, 1, 0, 0, NULL, 0 },
    { { 'h' }, "h (vim)", NULL, NULL, "as Left, with vim keys on", k_horz, -1, 0, 1, NULL, 0 },
    { { 'l' }, "l (vim)", NULL, NULL, "as Right, with vim keys on", k_horz, 1, 0, 1, NULL, 0 },
    { { KEY_SLEFT }, "S-Left", NULL, NULL, "cursor ten columns left", k_horz, -10, 0, 0, NULL, 0 },
    { { KEY_SRIGHT }, "S-Right", NULL, NULL, "cursor ten columns right", k_horz, 10, 0, 0, NULL, 0 },
    { { '\n', '\r', KEY_ENTER }, "Enter", "Enter", "Open", "run: its layers; layer: its heatmap; alert: its chart", k_enter, 0, 0, 0,
      NULL, ROWS },
    { { ' ' }, "Space", "Space", "Mark", "compare: mark or unmark the run (Enter too)", k_mark, 0, V(COMPARE), 0, NULL, 0 },
    { { 27 }, "Esc", NULL, NULL, "hide the chart cursor, else clear the layer filter", k_escape, 0, 0, 0, NULL, 0 },
    { { KEY_MOUSE }, "Mouse", NULL, NULL, "click: select, sort, switch view; wheel: scroll", k_mouse, 0, 0, 0, NULL, 0 },

    { { '+', '=' }, "+ =", "+-", "Zoom", "zoom in on the steps (around the cursor)", k_zoom, 1, CHARTLIKE, 0, "Charts and heatmap", 0 },
    { { '-', '_' }, "- _", NULL, NULL, "zoom out (all the way: follow live again)", k_zoom, -1, CHARTLIKE, 0, NULL, 0 },
    { { '<', ',' }, "< ,", "<>", "Pan", "pan a quarter window back in history", k_pan, -1, CHARTLIKE, 0, NULL, 0 },
    { { '>', '.' }, "> .", NULL, NULL, "pan forward (to the end: follow live)", k_pan, 1, CHARTLIKE, 0, NULL, 0 },
    { { '0' }, "0", "0", "All", "whole history, following live; cursor off", k_reset, 0, CHARTLIKE, 0, NULL, 0 },
    { { 'y' }, "y", "y", "Log", "log scale: charts' y axis; heatmap colours (saved)", k_log, 0, CHARTLIKE, 0, NULL, 0 },
    { { 'x' }, "x", "x", "Time", "x axis by step or by wall time (saved)", k_xtime, 0, V(CHARTS) | V(COMPARE), 0, NULL, 0 },
    { { 'b' }, "b", NULL, NULL, "chart dots: braille, block, ASCII (saved)", k_style, 0, 0, 0, NULL, 0 },
    { { 'm' }, "m", "m", "Metric", "next metric (heatmap, compare; saved); view 7: next panel", k_metric, 1,
      V(HEATMAP) | V(COMPARE) | V(PLUGINS), 0, NULL, 0 },
    { { 'M' }, "M", NULL, NULL, "previous metric (panels view: previous panel)", k_metric, -1, V(HEATMAP) | V(COMPARE) | V(PLUGINS), 0, NULL, 0 },
    { { 'n' }, "n", "n", "Rows", "heatmap: one colour scale per layer, or one for all (saved)", k_rows, 0, V(HEATMAP), 0, NULL, 0 },

    { { '>', '.' }, "> (tables)", "<>", "Sort", "sort the focused table (runs or layers) by the next column", k_sortcol, 1, SORTS, 0, "Tables", 0 },
    { { '<', ',' }, "< (tables)", NULL, NULL, "sort the focused table by the previous column", k_sortcol, -1, SORTS, 0, NULL, 0 },
    { { 'I' }, "I", NULL, NULL, "invert the focused table's order", k_invert, 0, SORTS, 0, NULL, 0 },
    { { 's' }, "s", NULL, NULL, "sort layers by the next column: order, problems, name, each statistic", k_sort, 0, TABLES, 0, NULL, 0 },
    { { 'S' }, "S", NULL, NULL, "reverse the layers' sort order", k_reverse, 0, TABLES, 0, NULL, 0 },
    { { 'P' }, "P", "P", "Problems", "only the layers with a problem (table and heatmap)", k_problems, 0, TABLES, 0, NULL,
      V(LAYERS) | V(HEATMAP) },
    { { '-' }, "- (layers)", NULL, NULL, "fold the selected layer's group (blocks.3.*) into one row", k_fold, 1, SORTS, 0, NULL, 0 },
    { { '+' }, "+ (layers)", NULL, NULL, "unfold the selected group", k_fold, 0, SORTS, 0, NULL, 0 },
    { { '*' }, "*", NULL, NULL, "fold every group, or unfold them all (the heatmap follows)", k_fold, 2, SORTS, 0, NULL, 0 },
    { { '/' }, "/", "/", "Filter", "filter layers by name: POSIX extended regex, as you type", k_filter, 0, TABLES, 0, NULL, 0 },
    { { 'c' }, "c", "c", "Columns", "choose the layer table's columns (saved)", k_columns, 0, V(OVERVIEW) | V(LAYERS), 0, NULL,
      V(LAYERS) },

};
const int tui_nkeys = (int)(sizeof tui_keys / sizeof tui_keys[0]);

int tui_key_in_view(const tui_key *k, int view, int vim)
{
    if (k->views && !(k->views & TUI_VBIT(view))) return 0;
    if (k->vim == 1 && !vim) return 0;
    if (k->vim == -1 && vim) return 0;
    return 1;
}

const tui_key *tui_key_lookup(int code, int view, int vim)
{
    if (code == 0) return NULL;
    for (int i = 0; i < tui_nkeys; i++) {
        if (!tui_key_in_view(&tui_keys[i], view, vim)) continue;
        for (int j = 0; j < TUI_KEY_MAX_CODES && tui_keys[i].codes[j]; j++)
            if (tui_keys[i].codes[j] == code) return &tui_keys[i];
    }
    return NULL;
}

const tui_key *tui_key_find(int code)
{
    for (int v = 0; v < TUI_NVIEWS; v++) {
        const tui_key *k = tui_key_lookup(code, v, 0);
        if (k) return k;
    }
    return NULL;
}

int tui_key_dispatch(tui_app *a, int code)
{
    const tui_key *k = tui_key_lookup(code, a->view, a->cfg.vim);
    if (!k) return 0;
    tui_app_react(a, k->fn(a, k->arg));
    return 1;
}

int tui_key_escape(int (*next)(void *ud), void (*unget)(int key, void *ud), void *ud)
{
    int c = next(ud);
    if (c < 0) return 27;                            /* Esc alone */
    if (c == 27) {                                   /* Esc, Esc: two presses, the second comes next */
        unget(c, ud);
        return 27;
    }
    if (c != '[' && c != 'O') return 0;              /* Alt with a key (or Esc Esc): not a keystroke */
    char seq[16];
    int n = 0, k;
    /* CSI / SS3: parameter and intermediate bytes (0x20-0x3f), then one final byte (0x40-0x7e) */
    while ((k = next(ud)) >= 0) {
        if (n < (int)sizeof seq - 1) seq[n++] = (char)k;
        if (k >= 0x40 && k <= 0x7e) break;
        if (k < 0x20 || k > 0x3f) return 0;          /* not a sequence after all: drop it */
    }
    seq[n] = '\0';
    static const struct { char intro; const char *rest; int key; } known[] = {
        { '[', "A", KEY_UP }, { '[', "B", KEY_DOWN }, { '[', "C", KEY_RIGHT }, { '[', "D", KEY_LEFT },
        { 'O', "A", KEY_UP }, { 'O', "B", KEY_DOWN }, { 'O', "C", KEY_RIGHT }, { 'O', "D", KEY_LEFT },
        { '[', "H", KEY_HOME }, { '[', "F", KEY_END }, { 'O', "H", KEY_HOME }, { 'O', "F", KEY_END },
        { '[', "1~", KEY_HOME }, { '[', "7~", KEY_HOME }, { '[', "4~", KEY_END }, { '[', "8~", KEY_END },
        { '[', "5~", KEY_PPAGE }, { '[', "6~", KEY_NPAGE }, { '[', "Z", KEY_BTAB },
        { 'O', "P", KEY_F(1) }, { '[', "11~", KEY_F(1) }, { '[', "21~", KEY_F(10) },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].intro == c && strcmp(known[i].rest, seq) == 0) return known[i].key;
    return 0;
}

/* The key entry point: the help screen, the filter line and a panel's modal overlay take keys first. */
void tui_app_key(tui_app *a, int ch)
{
    if (ch == KEY_RESIZE || ch == ERR || ch == 0) return;
    if (a->help) {               /* the help screen scrolls with the moving keys; ?, q, Esc leave it */
        switch (ch) {
        case KEY_UP: case 'k': a->help_top--; return;
        case KEY_DOWN: case 'j': a->help_top++; return;
        case KEY_PPAGE: case 2: a->help_top -= LINES / 2; return;
        case KEY_NPAGE: case 6: case ' ': a->help_top += LINES / 2; return;
        case KEY_HOME: case 'g': a->help_top = 0; return;
        case KEY_END: case 'G': a->help_top = 1 << 20; return;
        case '?': case 'h': case 'q': case 27: case KEY_F(1): case KEY_F(10): case '\n': case '\r': case KEY_ENTER:
            a->help = 0;
            return;
        default:                 /* any other key leaves the help and does what it does (1-7: that view) */
            a->help = 0;
            break;
        }
    }
    if (a->ctx.layers.input && tui_layersel_input_key(&a->ctx.layers, ch)) return;
    for (int i = 0; i < a->npanels; i++) {        /* a panel's modal overlay takes the keys while open */
        tui_reaction r = TUI_OK;
        tui_panel *p = a->panel[i];
        if (p->cls->modal_key && p->cls->modal_key(&a->ctx, p, ch, &r)) {
            tui_app_react(a, r);
            return;
        }
    }
    tui_key_dispatch(a, ch);
}
