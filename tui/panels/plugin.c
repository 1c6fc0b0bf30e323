/* panel_plugin: the plugins view — one loaded plugin panel at a time, drawn through the services
 * table (plugin_services.c); m/M cycle panels, j/k (the panel cursor) go to the plugin's key(). */
#include "../core/app.h"
#include "../plugin_services.h"
#include "../../plugins/host.h"
#include "../widgets/theme.h"

#include <stdlib.h>
#include <string.h>

struct tui_plugin_state {
    tt_plugins ps;
    tt_plugin_host host;
    tt_plugin_services svc;
    tui_buf scratch;
    int cur;                   /* index into ps.v of the shown panel (a loaded one), -1: none */
};

void tui_plugins_open(tui_app *a)
{
    struct tui_plugin_state *s = calloc(1, sizeof *s);
    if (!s) return;
    s->host = (tt_plugin_host){ .store = a->st, .ascii = a->ascii, .scratch = &s->scratch };
    /* a plugin's log lines would garble the screen: they go nowhere while the dashboard runs */
    s->host.log = fopen("/dev/null", "w");
    tui_plugin_services(&s->host, &s->svc);
    char dir[600];
    tt_plugin_dir(dir, sizeof dir);
    tt_plugins_load(&s->ps, dir, a->o.plugins, a->o.nplugins, &s->svc);
    s->cur = -1;
    for (int i = 0; i < s->ps.n && s->cur < 0; i++) if (s->ps.v[i].loaded) s->cur = i;
    a->plug = s;
}

void tui_plugins_close(tui_app *a)
{
    struct tui_plugin_state *s = a->plug;
    if (!s) return;
    tt_plugins_unload(&s->ps);
    if (s->host.log) fclose(s->host.log);
    tui_buf_free(&s->scratch);
    free(s);
    a->plug = NULL;
}

void tui_plugins_next(tui_app *a, int delta)
{
    struct tui_plugin_state *s = a->plug;
    if (!s || s->cur < 0) return;
    for (int k = 1; k <= s->ps.n; k++) {
        int i = ((s->cur + delta * k) % s->ps.n + s->ps.n) % s->ps.n;
        if (s->ps.v[i].loaded) { s->cur = i; a->redraw_all = 1; return; }
    }
}

static void plugin_paint(tui_app *a, tui_panel *p)
{
    struct tui_plugin_state *s = a->plug;
    char title[200];
    const tt_plugin *pl = s && s->cur >= 0 ? &s->ps.v[s->cur] : NULL;
    int loaded = 0;
    for (int i = 0; s && i < s->ps.n; i++) loaded += s->ps.v[i].loaded;
    snprintf(title, sizeof title, "%s  (%d loaded; m/M: next/previous)", pl ? pl->desc->title : "Panels", loaded);
    tui_app_title(a, p, title);
    if (!pl) {
        tui_put(stdscr, p->y + 2, p->x, p->w, "no plugin panels: see `traintop plugins` and docs/plugins.md",
                tui_attr(TUI_A_DIM), TUI_CENTER, a->ascii);
        return;
    }
    s->host.store = a->st;
    s->host.ascii = a->ascii;
    tt_plugin_frame f = { .size = sizeof f, .y = p->y + 1, .x = p->x, .h = p->h - 1, .w = p->w,
                          .focused = 1, .ascii = a->ascii, .selected_run = a->run_cur };
    if (f.h > 0 && f.w > 0) pl->desc->draw(pl->state, &f);
}

/* j/k reach the plugin as keys (its own cursor, e.g. the spectrum panel's layer). */
static void plugin_cursor(tui_app *a, tui_panel *p, int delta)
{
    (void)p;
    struct tui_plugin_state *s = a->plug;
    if (!s || s->cur < 0) return;
    const tt_plugin *pl = &s->ps.v[s->cur];
    if (pl->desc->key && (delta == 1 || delta == -1)) pl->desc->key(pl->state, delta > 0 ? 'j' : 'k');
}

const tui_panel_class tui_panel_plugin = { .name = "Panels", .paint = plugin_paint, .cursor = plugin_cursor };
