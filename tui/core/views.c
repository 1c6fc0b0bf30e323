/* views: the views as data — each a name, a tab label and a layout that places its panels (the
 * registry says which panels a view has, in order) — and the view switch. */
#include <string.h>

#include "../panels/registry.h"
#include "../panels/system.h"
#include "app.h"

#define WIDE_W 110           /* from this width on, the overview's runs and charts sit side by side */
#define TABBAR_H 16          /* from this height on, a tab bar names the views */

const char *const tui_view_names[TUI_NVIEWS] = { "overview", "charts", "layers", "heatmap", "compare", "alerts", "plugins" };

int tui_view_by_name(const char *name)
{
    for (int i = 0; name && i < TUI_NVIEWS; i++)
        if (strcmp(tui_view_names[i], name) == 0) return i;
    return -1;
}

static void place(tui_panel *p, int y, int x, int h, int w)
{
    p->y = y;
    p->x = x;
    p->h = h;
    p->w = w;
    p->visible = h >= 2 && w >= 10;
}

static int runs_natural_width(tui_app *a)
{
    int name = 6;
    for (int i = 0; i < tui_model_nruns(&a->model); i++) {
        const tt_run *r = tui_model_run(&a->model, i);
        int w = tui_text_width(tui_run_name(r)) + (tui_run_world(r) > 1 ? 4 : 0);
        if (w > name) name = w;
    }
    return name + 66;        /* state, step, loss, val_loss, val_acc, health, since, alerts and their gaps */
}

/* The runs list, the selected run's charts and its layer table: side by side on a wide terminal, else
 * stacked, the charts shrinking first. */
static void layout_overview(tui_app *a, tui_panel **p, int np, int top, int body)
{
    if (np < 3) return;
    int W = COLS;
    const tt_run *r = tui_app_run(a);
    int nl = r ? tui_model_nlayers(&a->model, r) : 0;
    int nr = tui_model_nruns(&a->model);
    tui_panel *pr = p[0], *pc = p[1], *pl = p[2];
    int side = a->cfg.layout == TUI_LAYOUT_SIDE ? W >= 80 : a->cfg.layout == TUI_LAYOUT_STACKED ? 0 : W >= WIDE_W;
    if (side) {
        int lh = nl + 2 < 5 ? 5 : nl + 2;
        if (lh > body / 2) lh = body / 2;
        int ptop = body - lh;
        int rw = runs_natural_width(a);
        if (rw > W * 55 / 100) rw = W * 55 / 100;
        if (rw < 36) rw = 36;
        place(pr, top, 0, ptop, rw);
        place(pc, top, rw + 1, ptop, W - rw - 1);
        place(pl, top + ptop, 0, lh, W);
    } else {
        int rh = (nr < 1 ? 1 : nr) + 2;
        int rmax = body / 4 + 1 < 4 ? 4 : body / 4 + 1;
        if (rh > rmax) rh = rmax;
        int lh = nl + 2 < 5 ? 5 : nl + 2;
        int lmax = (body - rh) * 3 / 5 < 5 ? 5 : (body - rh) * 3 / 5;
        if (lh > lmax) lh = lmax;
        int ch = body - rh - lh;
        if (ch < 5) {                       /* short terminal: charts shrink, then go */
            lh = body - rh - 5;
            if (lh < 4) { lh = body - rh; ch = 0; }
            else ch = 5;
        }
        place(pr, top, 0, rh, W);
        place(pc, top + rh, 0, ch, W);
        place(pl, top + rh + ch, 0, lh, W);
    }
}

/* The first panel takes the whole body. */
static void layout_full(tui_app *a, tui_panel **p, int np, int top, int body)
{
    (void)a;
    if (np > 0) place(p[0], top, 0, body, COLS);
}

/* The run's charts, and under them its system strip when the run publishes system metrics. */
static void layout_charts_system(tui_app *a, tui_panel **p, int np, int top, int body)
{
    int sh = np >= 2 ? tui_system_rows(tui_app_run(a)) : 0;
    if (sh > body / 3) sh = body / 3;
    if (sh < 2) sh = 0;
    place(p[0], top, 0, body - sh, COLS);
    if (np >= 2) place(p[1], top + body - sh, 0, sh, COLS);
}

/* A short layer table leaves room under it for the selected layer's statistics. */
static void layout_table_detail(tui_app *a, tui_panel **p, int np, int top, int body)
{
    if (np < 2) { layout_full(a, p, np, top, body); return; }
    int W = COLS;
    const tt_run *r = tui_app_run(a);
    int need = (r ? tui_layersel_count(&a->ctx.layers, &a->model, r) : 0) + 2;
    if (need < 5) need = 5;
    if (r && body - need >= 12) {
        place(p[0], top, 0, need, W);
        place(p[1], top + need, 0, body - need, W);
    } else {
        place(p[0], top, 0, body, W);
    }
}

/* A list beside the main panel (under it when narrow). */
static void layout_list_main(tui_app *a, tui_panel **p, int np, int top, int body)
{
    if (np < 2) { layout_full(a, p, np, top, body); return; }
    int W = COLS, nr = tui_model_nruns(&a->model);
    int name = 8;
    for (int i = 0; i < nr; i++) {
        int w = tui_text_width(tui_run_name(tui_model_run(&a->model, i)));
        if (w > name) name = w;
    }
    if (W >= 70) {
        int lw = name + 9;
        if (lw > W / 3) lw = W / 3;
        if (lw < 18) lw = 18;
        place(p[0], top, 0, body, lw);
        place(p[1], top, lw + 1, body, W - lw - 1);
    } else {
        int lh = nr + 2;
        if (lh > body / 3) lh = body / 3;
        if (lh < 3) lh = 3;
        place(p[0], top, 0, lh, W);
        place(p[1], top + lh, 0, body - lh, W);
    }
}

const tui_view tui_views[TUI_NVIEWS] = {
    [TUI_V_OVERVIEW] = { "Overview", "Ovw", layout_overview, 1 },
    [TUI_V_CHARTS] = { "Charts", "Cht", layout_charts_system, 0 },
    [TUI_V_LAYERS] = { "Layers", "Lay", layout_table_detail, 1 },
    [TUI_V_HEATMAP] = { "Heatmap", "Heat", layout_full, 1 },
    [TUI_V_COMPARE] = { "Compare", "Cmp", layout_list_main, 0 },
    [TUI_V_ALERTS] = { "Alerts", "Alr", layout_full, 0 },
    [TUI_V_PLUGINS] = { "Panels", "Pnl", layout_full, 0 },
};

int tui_app_in_view(const tui_app *a, const tui_panel *p, int v)
{
    for (int i = 0; i < a->npanels && i < tui_panel_registry_n; i++)
        if (a->panel[i] == p) return (tui_panel_registry[i].views & TUI_VBIT(v)) != 0;
    return 0;
}

static int focusable(tui_app *a, tui_panel *p)
{
    return p->visible && p->cls->cursor && (!p->cls->focusable || p->cls->focusable(&a->ctx, p));
}

void tui_app_layout(tui_app *a)
{
    int H = LINES;
    a->tabbar = H >= TABBAR_H;
    int top = a->tabbar ? 2 : 1, body = H - top - 1;
    a->ctx.top = top;
    tui_panel *in[TUI_MAX_PANELS];
    int n = 0;
    for (int i = 0; i < a->npanels; i++) {
        a->panel[i]->visible = 0;
        if (tui_app_in_view(a, a->panel[i], a->view)) in[n++] = a->panel[i];
    }
    tui_views[a->view].layout(a, in, n, top, body);
    /* the view's remembered focus, else its first panel with a cursor */
    int f = a->vfocus[a->view];
    if (f < 0 || f >= a->npanels || !a->panel[f]->visible) {
        f = -1;
        for (int i = 0; i < a->npanels && f < 0; i++)
            if (focusable(a, a->panel[i])) f = i;
        if (f < 0) f = 0;
    }
    a->focus = f;
    a->ctx.focus = a->panel[f];
}

/* Which panels are the view's main ones (full size, their own time window). */
void tui_app_mark_main(tui_app *a)
{
    for (int i = 0; i < a->npanels && i < tui_panel_registry_n; i++)
        a->panel[i]->main = (tui_panel_registry[i].main_views & TUI_VBIT(a->view)) != 0;
}

void tui_app_set_view(tui_app *a, int v)
{
    if (v < 0 || v >= TUI_NVIEWS || a->npanels == 0) return;
    a->vfocus[a->view] = a->focus;
    a->view = v;
    for (int i = 0; i < a->npanels; i++)
        if (a->panel[i]->cls->reset) a->panel[i]->cls->reset(a->panel[i], TUI_RESET_VIEW);
    tui_app_mark_main(a);
    int f = a->vfocus[v];
    if (f < 0)      /* the view's first panel */
        for (int i = 0; i < a->npanels && f < 0; i++)
            if (tui_app_in_view(a, a->panel[i], v)) f = i;
    a->focus = f < 0 ? 0 : f;
    a->ctx.focus = a->panel[a->focus];
    if (stdscr && a->model.st && COLS >= TUI_MIN_W && LINES >= TUI_MIN_H) tui_app_layout(a);
}

tui_xview *tui_app_xview(tui_app *a)
{
    for (int i = 0; i < a->npanels; i++) {
        tui_panel *p = a->panel[i];
        if (p->main && p->cls->xview && tui_app_in_view(a, p, a->view)) return p->cls->xview(p);
    }
    return NULL;
}

int tui_app_view_has_layers(const tui_app *a) { return tui_views[a->view].layers; }
