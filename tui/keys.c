/* keys: bindings and their handlers. Handlers act on the focused panel through its class. */
#include "keys.h"

#include <limits.h>
#include <stddef.h>

#include "app.h"

static void focused_move(tui_app *a, int delta)
{
    tui_panel *p = &a->panel[a->focus];
    if (p->visible && p->cls->cursor) p->cls->cursor(a, p, delta);
}

static int page_rows(tui_app *a)
{
    int h = a->panel[a->focus].h - 2;
    return h > 1 ? h : 1;
}

static void k_quit(tui_app *a) { a->quit = 1; }
static void k_help(tui_app *a) { a->help = !a->help; }
static void k_up(tui_app *a) { focused_move(a, -1); }
static void k_down(tui_app *a) { focused_move(a, 1); }
static void k_pgup(tui_app *a) { focused_move(a, -page_rows(a)); }
static void k_pgdn(tui_app *a) { focused_move(a, page_rows(a)); }
static void k_home(tui_app *a) { focused_move(a, INT_MIN); }
static void k_end(tui_app *a) { focused_move(a, INT_MAX); }
static void k_redraw(tui_app *a) { a->redraw_all = 1; }
static void k_sort(tui_app *a) { tui_layers_cycle_sort(a); }
static void k_reverse(tui_app *a) { a->sort_rev = !a->sort_rev; }

static void cycle_focus(tui_app *a, int dir)
{
    for (int i = 1; i <= TUI_NPANELS; i++) {
        int f = ((a->focus + dir * i) % TUI_NPANELS + TUI_NPANELS) % TUI_NPANELS;
        tui_panel *p = &a->panel[f];
        if (!p->visible || !p->cls->cursor) continue;
        if (p->cls->focusable && !p->cls->focusable(a, p)) continue;
        a->focus = f;
        return;
    }
}

static void k_next(tui_app *a) { cycle_focus(a, 1); }
static void k_prev(tui_app *a) { cycle_focus(a, -1); }

static void k_enter(tui_app *a)
{
    tui_panel *p = &a->panel[a->focus];
    if (p->visible && p->cls->enter) p->cls->enter(a, p);
}

const tui_key tui_keys[] = {
    { { '\t' }, "Tab", "Tab", "Panel", "focus the next panel", k_next },
    { { KEY_BTAB }, "S-Tab", NULL, NULL, "focus the previous panel", k_prev },
    { { KEY_UP, 'k' }, "Up k", NULL, NULL, "move the cursor up in the focused panel", k_up },
    { { KEY_DOWN, 'j' }, "Down j", "jk", "Select", "move the cursor down in the focused panel", k_down },
    { { KEY_PPAGE, 2 /* ^B */ }, "PgUp ^B", NULL, NULL, "one page up", k_pgup },
    { { KEY_NPAGE, 6 /* ^F */ }, "PgDn ^F", NULL, NULL, "one page down", k_pgdn },
    { { KEY_HOME, 'g' }, "Home g", NULL, NULL, "first row", k_home },
    { { KEY_END, 'G' }, "End G", NULL, NULL, "last row", k_end },
    { { '\n', '\r', KEY_ENTER }, "Enter", "Enter", "Open", "on a run: focus its layer table", k_enter },
    { { 's' }, "s", "s", "Sort", "layer table: sort by the next column (order, name, each statistic)", k_sort },
    { { 'S' }, "S", "S", "Reverse", "layer table: reverse the sort order", k_reverse },
    { { 12 /* ^L */ }, "^L", NULL, NULL, "redraw the whole screen", k_redraw },
    { { '?', KEY_F(1), 'h' }, "? F1 h", "?", "Help", "show or hide this help", k_help },
    { { 'q', KEY_F(10) }, "q F10", "q", "Quit", "quit traintop", k_quit },
};
const int tui_nkeys = (int)(sizeof tui_keys / sizeof tui_keys[0]);

const tui_key *tui_key_find(int code)
{
    for (int i = 0; i < tui_nkeys; i++)
        for (int j = 0; j < TUI_KEY_MAX_CODES && tui_keys[i].codes[j]; j++)
            if (tui_keys[i].codes[j] == code) return &tui_keys[i];
    return NULL;
}

int tui_key_dispatch(tui_app *a, int code)
{
    const tui_key *k = tui_key_find(code);
    if (!k) return 0;
    k->fn(a);
    return 1;
}
