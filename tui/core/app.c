/* app: the core's state — set up from the registry and the settings, torn down — the one place that
 * applies reaction bits (views, focus, the settings file, the theme, quitting), and pause. The key entry
 * point is keys.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../panels/registry.h"
#include "../widgets/theme.h"
#include "app.h"

void tui_app_apply_config(tui_app *a, const tui_config *cfg)
{
    a->cfg = *cfg;
    snprintf(a->ctx.layers.sort_key, sizeof a->ctx.layers.sort_key, "%s", cfg->sort);
    a->ctx.layers.sort_rev = cfg->sort_rev;
    a->ctx.run_sort = cfg->run_sort >= 0 && cfg->run_sort < TUI_RSORT_N ? cfg->run_sort : TUI_RSORT_NAME;
    a->ctx.run_sort_rev = cfg->run_sort_rev;
    if (cfg->view >= 0 && cfg->view < TUI_NVIEWS && cfg->view != a->view) {
        a->view = cfg->view;
        tui_app_mark_main(a);
    }
    if (cfg->refresh_ms > 0 && a->o.refresh_ms <= 0) a->o.refresh_ms = cfg->refresh_ms;
}

int tui_app_init(tui_app *a, tt_collector *c, const tui_opts *o, int force_ascii)
{
    memset(a, 0, sizeof *a);
    tui_model_init(&a->model, c);
    if (o) a->o = *o;
    a->ascii = a->o.ascii || force_ascii;
    tui_ctx *x = &a->ctx;
    x->m = &a->model;
    x->cfg = &a->cfg;
    x->opts = &a->o;
    x->ascii = a->ascii;
    x->run_cur = -1;
    x->req.step = INT64_MIN;
    x->panels = a->panel;
    tui_layersel_init(&x->layers);
    tui_health_init(&x->health);
    x->health.replay = a->o.replay;
    x->layers.health = &x->health;
    for (int v = 0; v < TUI_NVIEWS; v++) a->vfocus[v] = -1;
    a->vfocus[TUI_V_OVERVIEW] = 0;
    for (int i = 0; i < tui_panel_registry_n && i < TUI_MAX_PANELS; i++) {
        tui_panel *p = tui_panel_registry[i].cls->create(x);
        if (!p) {
            fprintf(stderr, "traintop: out of memory creating the %s panel\n", tui_panel_registry[i].id);
            tui_app_free(a);
            return -1;
        }
        p->cls = tui_panel_registry[i].cls;
        p->id = tui_panel_registry[i].id;
        a->panel[a->npanels++] = p;
        x->npanels = a->npanels;
    }
    a->focus = 0;
    x->focus = a->panel[0];
    tui_app_mark_main(a);
    tui_config cfg;
    tui_config_defaults(&cfg);
    tui_app_apply_config(a, &cfg);
    a->tab_y = -1;
    const char *clk = a->o.clock ? a->o.clock : getenv("TRAINTOP_CLOCK");
    if (clk) snprintf(a->clock, sizeof a->clock, "%.12s", clk);
    if (a->o.refresh_ms <= 0) a->o.refresh_ms = 200;
    return a->model.st ? 0 : -1;
}

void tui_app_free(tui_app *a)
{
    for (int i = 0; i < a->npanels; i++) a->panel[i]->cls->destroy(a->panel[i]);
    a->npanels = 0;
    a->ctx.npanels = 0;
    tui_layersel_free(&a->ctx.layers);
    tui_health_free(&a->ctx.health);
    tui_model_free(&a->model);
}

void tui_app_retheme(tui_app *a)
{
    tui_depth d = TUI_DEPTH_MONO;
    if (a->color) {
        switch (a->cfg.color) {
        case TUI_COLOR_MONO: d = TUI_DEPTH_MONO; break;
        case TUI_COLOR_16: d = TUI_DEPTH_16; break;
        case TUI_COLOR_256: d = COLORS >= 256 ? TUI_DEPTH_256 : TUI_DEPTH_16; break;
        default: d = COLORS >= 256 && COLOR_PAIRS >= 64 ? TUI_DEPTH_256 : TUI_DEPTH_16; break;
        }
    }
    tui_theme_setup(d, a->cfg.light);
    a->color_init = 1;
}

/* The settings file is written here and nowhere else: when a handler returned TUI_SAVE. */
static void save_settings(tui_app *a)
{
    if (!a->cfg_path[0] || !a->o.settings) return;
    char err[1200];
    if (a->o.settings->save(&a->cfg, a->cfg_path, err, sizeof err) != 0) tui_ctx_message(&a->ctx, 1, "%s", err);
}

tui_panel *tui_app_focused(tui_app *a)
{
    if (a->focus < 0 || a->focus >= a->npanels) return NULL;
    tui_panel *p = a->panel[a->focus];
    return p->visible ? p : NULL;
}

tui_panel *tui_app_panel(tui_app *a, const char *id)
{
    for (int i = 0; i < a->npanels; i++)
        if (strcmp(a->panel[i]->id, id) == 0) return a->panel[i];
    return NULL;
}

int tui_app_modal(tui_app *a)
{
    for (int i = 0; i < a->npanels; i++)
        if (a->panel[i]->cls->modal_open && a->panel[i]->cls->modal_open(a->panel[i])) return 1;
    return 0;
}

const tt_run *tui_app_run(tui_app *a) { return tui_ctx_run(&a->ctx); }

void tui_app_react(tui_app *a, tui_reaction r)
{
    tui_ctx *x = &a->ctx;
    if (r & TUI_VIEW) {
        tui_app_set_view(a, x->req.view);
        for (int i = 0; i < a->npanels; i++) {      /* what goes with the switch reaches the main panel */
            tui_panel *p = a->panel[i];
            if (!p->main || !tui_app_in_view(a, p, a->view)) continue;
            tui_xview *v = p->cls->xview ? p->cls->xview(p) : NULL;
            if (v && x->req.step != INT64_MIN) {
                v->cursor_on = 1;
                v->cursor = x->req.step;
            }
            if (x->req.scroll_home && p->cls->reset) p->cls->reset(p, TUI_RESET_SCROLL);
        }
        x->req.step = INT64_MIN;
        x->req.scroll_home = 0;
    }
    if (r & TUI_FOCUS) {
        for (int i = 0; x->req.focus && i < a->npanels; i++)
            if (strcmp(a->panel[i]->id, x->req.focus) == 0 && a->panel[i]->visible) {
                a->focus = i;
                x->focus = a->panel[i];
                a->vfocus[a->view] = i;
            }
        x->req.focus = NULL;
    }
    if (r & TUI_RELAYOUT && stdscr && a->model.st && COLS >= TUI_MIN_W && LINES >= TUI_MIN_H) tui_app_layout(a);
    if (r & TUI_RETHEME) tui_app_retheme(a);
    if (r & TUI_SAVE) save_settings(a);
    if (r & TUI_REDRAW) a->redraw_all = 1;
    if (r & TUI_QUIT) a->quit = 1;
}

void tui_app_pause(tui_app *a, int on)
{
    if (!a->model.st) return;
    if (!on) {
        tui_model_pause(&a->model, 0, NULL, NULL);
        tui_ctx_message(&a->ctx, 0, "resumed: showing live data");
        return;
    }
    if (a->model.paused) return;
    int complete = 1;
    if (tui_model_pause(&a->model, 1, tui_app_run(a), &complete) != 0) {
        tui_ctx_message(&a->ctx, 1, "cannot pause: out of memory");
        return;
    }
    if (!complete)
        tui_ctx_message(&a->ctx, 0, "paused: frozen; history past %zu MB of copies stays live (p resumes)", tui_freeze_bytes() >> 20);
    else
        tui_ctx_message(&a->ctx, 0, "paused: the display is frozen, data keeps arriving (p resumes)");
}
