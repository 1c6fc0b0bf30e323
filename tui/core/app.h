/* app: the dashboard's core state — the model, the settings, the panels (one of each registered kind),
 * the views and the frame — and the entry points the loop and the tests use. Panels see only the
 * context (ctx); the core applies the reaction bits their handlers return, in one place (app.c). */
#ifndef TUI_CORE_APP_H
#define TUI_CORE_APP_H

#include <stdint.h>
#include "../panel.h"
#include "../views.h"
#include "../widgets/tui_curses.h"

#define TUI_MAX_PANELS 32

typedef struct tui_app tui_app;

struct tui_app {
    tui_ctx ctx;               /* what the panels see */
    tui_model model;
    tui_config cfg;
    tui_opts o;
    char cfg_path[1024];       /* where settings are saved; "" : never (tests, or no settings file) */
    int ascii, color, color_init;
    int quit, help, redraw_all;
    int help_top;              /* first line of the help screen */
    int view;                  /* TUI_V_* */
    int focus;                 /* index into panel[] */
    int vfocus[TUI_NVIEWS];    /* the focused panel of each view, -1: its first */
    tui_panel *panel[TUI_MAX_PANELS];   /* one per registry entry, in registry order */
    int npanels;

    char clock[32];            /* the header's frozen clock ("" : the wall clock) */
    int tabbar;                /* the last frame had a tab bar (row 1) */
    int tab_y, tab_x0[TUI_NVIEWS], tab_x1[TUI_NVIEWS];   /* the tab bar's cells, for the mouse */
    uint64_t bells_seen;
    int problem_next;          /* `!`: the problem it shows next (an index into the worst-first list) */
};

/* Sets up the state over a collector with the default settings (no terminal work, no settings file);
 * -1 when the collector has no store. */
int tui_app_init(tui_app *a, tt_collector *c, const tui_opts *o, int force_ascii);
/* Takes settings (view, sort, metrics, styles, …) into the state. */
void tui_app_apply_config(tui_app *a, const tui_config *cfg);
/* Frees the panels, the layer selection and the pause snapshot. */
void tui_app_free(tui_app *a);

/* Handles one key code as the loop does (help, the filter line and modal overlays take keys first),
 * then applies what the handler returned. */
void tui_app_key(tui_app *a, int code);
/* Applies a handler's reaction bits: the one place that switches views on request, saves the settings
 * file, rethemes and quits. */
void tui_app_react(tui_app *a, tui_reaction r);

/* Builds a whole frame on stdscr (curses must be up); tui_app_frame also refreshes the terminal. */
void tui_app_paint(tui_app *a);
void tui_app_frame(tui_app *a);

/* Switches to view v (TUI_V_*), laying it out at once so keys before the next frame act on it. */
void tui_app_set_view(tui_app *a, int v);
/* Marks the panels the current view shows as its main ones (views.c). */
void tui_app_mark_main(tui_app *a);
/* Places the view's panels for the terminal's size (views.c). */
void tui_app_layout(tui_app *a);
/* Sets the colour roles up again for the settings' theme and colour mode (curses must be up). */
void tui_app_retheme(tui_app *a);
/* Pauses (snapshot) or resumes the display, saying so in the footer. */
void tui_app_pause(tui_app *a, int on);

/* The focused panel (NULL when it is not visible). */
tui_panel *tui_app_focused(tui_app *a);
/* The panel with registry id `id`, NULL when there is none. */
tui_panel *tui_app_panel(tui_app *a, const char *id);
/* Whether panel p appears in view v. */
int tui_app_in_view(const tui_app *a, const tui_panel *p, int v);
/* The time window of the current view (its main panel's), NULL when it has none. */
tui_xview *tui_app_xview(tui_app *a);
/* Whether the current view shows the layer selection (its filter acts there). */
int tui_app_view_has_layers(const tui_app *a);
/* Whether a panel's modal overlay (the column chooser) is open. */
int tui_app_modal(tui_app *a);
/* The selected run, as tui_ctx_run. */
const tt_run *tui_app_run(tui_app *a);

/* views.c: the view table. */
typedef struct {
    const char *name, *abbrev;   /* the tab bar's labels */
    void (*layout)(tui_app *a, tui_panel **p, int np, int top, int body);   /* places the view's panels */
    int layers;                  /* shows the layer selection (the filter's state is in the tab bar) */
} tui_view;
extern const tui_view tui_views[TUI_NVIEWS];

/* frame.c */
void tui_frame_header(tui_app *a);
void tui_frame_tabbar(tui_app *a);
void tui_frame_footer(tui_app *a);
void tui_frame_help(tui_app *a);
void tui_frame_too_small(void);

#define TUI_MIN_W 40
#define TUI_MIN_H 10

#endif
