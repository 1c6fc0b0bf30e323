/* plugin: the plugins view — one loaded plugin panel (.so, include/traintop/plugin.h) at a time, drawn
 * through the services table (tui/plugin_services.c); m/M cycle the loaded panels, j/k (the panel
 * cursor) go to the plugin's key(). The panel loads the plugins when created (bundled, the user's,
 * --plugin) and unloads them when destroyed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/host.h"
#include "../panel.h"
#include "../plugin_services.h"
#include "../widgets/theme.h"

typedef struct {
    tui_panel super;
    tt_plugins ps;
    tt_plugin_host host;
    tt_plugin_services svc;
    tui_buf scratch;
    int cur;                   /* index into ps.v of the shown panel (a loaded one), -1: none */
} plugin_panel;

static tui_panel *plugin_create(tui_ctx *ctx)
{
    plugin_panel *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->host = (tt_plugin_host){ .store = tui_model_store(ctx->m), .ascii = ctx->ascii, .scratch = &s->scratch };
    /* a plugin's log lines would garble the screen: they go nowhere while the dashboard runs */
    s->host.log = fopen("/dev/null", "w");
    tui_plugin_services(&s->host, &s->svc);
    char dir[600];
    tt_plugin_dir(dir, sizeof dir);
    tt_plugins_load(&s->ps, dir, ctx->opts ? ctx->opts->plugins : NULL, ctx->opts ? ctx->opts->nplugins : 0, &s->svc);
    s->cur = -1;
    for (int i = 0; i < s->ps.n && s->cur < 0; i++) if (s->ps.v[i].loaded) s->cur = i;
    return &s->super;
}

static void plugin_destroy(tui_panel *p)
{
    plugin_panel *s = (plugin_panel *)p;
    tt_plugins_unload(&s->ps);
    if (s->host.log) fclose(s->host.log);
    tui_buf_free(&s->scratch);
    free(s);
}

static void plugin_paint(tui_ctx *ctx, tui_panel *p)
{
    plugin_panel *s = (plugin_panel *)p;
    char title[200];
    const tt_plugin *pl = s->cur >= 0 ? &s->ps.v[s->cur] : NULL;
    int loaded = 0;
    for (int i = 0; i < s->ps.n; i++) loaded += s->ps.v[i].loaded;
    snprintf(title, sizeof title, "%s  (%d loaded; m/M: next/previous)", pl ? pl->desc->title : "Panels", loaded);
    tui_ctx_title(ctx, p, title);
    if (!pl) {
        tui_put(stdscr, p->y + 2, p->x, p->w, "no plugin panels: see `traintop plugins` and docs/plugins.md",
                tui_attr(TUI_A_DIM), TUI_CENTER, ctx->ascii);
        return;
    }
    s->host.store = tui_model_store(ctx->m);
    s->host.ascii = ctx->ascii;
    tt_plugin_frame f = { .size = sizeof f, .y = p->y + 1, .x = p->x, .h = p->h - 1, .w = p->w,
                          .focused = 1, .ascii = ctx->ascii, .selected_run = ctx->run_cur };
    if (f.h > 0 && f.w > 0) pl->desc->draw(pl->state, &f);
}

/* j/k reach the plugin as keys (its own cursor, e.g. the spectrum panel's layer). */
static tui_reaction plugin_cursor(tui_ctx *ctx, tui_panel *p, int delta)
{
    plugin_panel *s = (plugin_panel *)p;
    (void)ctx;
    if (s->cur < 0) return TUI_OK;
    const tt_plugin *pl = &s->ps.v[s->cur];
    if (pl->desc->key && (delta == 1 || delta == -1)) pl->desc->key(pl->state, delta > 0 ? 'j' : 'k');
    return TUI_OK;
}

/* m/M: the next or previous loaded plugin panel. */
static tui_reaction plugin_action(tui_ctx *ctx, tui_panel *p, tui_action act, int delta)
{
    plugin_panel *s = (plugin_panel *)p;
    (void)ctx;
    if (act != TUI_ACT_METRIC) return TUI_IGNORED;
    if (s->cur < 0) return TUI_OK;
    for (int k = 1; k <= s->ps.n; k++) {
        int i = ((s->cur + delta * k) % s->ps.n + s->ps.n) % s->ps.n;
        if (s->ps.v[i].loaded) { s->cur = i; return TUI_REDRAW; }
    }
    return TUI_OK;
}

const tui_panel_class tui_plugin_panel = {
    .name = "Panels",
    .create = plugin_create,
    .destroy = plugin_destroy,
    .paint = plugin_paint,
    .cursor = plugin_cursor,
    .action = plugin_action,
};
