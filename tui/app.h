/* app: the dashboard's state shared by the screen manager, the panels and the key handlers. */
#ifndef TUI_APP_H
#define TUI_APP_H

#include <stdint.h>
#include "tui.h"
#include "tui_curses.h"
#include "draw.h"

typedef struct tui_app tui_app;
typedef struct tui_panel tui_panel;

/* A kind of panel (htop's Panel class): how it draws and how the cursor keys act on it. */
typedef struct {
    const char *name;
    void (*paint)(tui_app *a, tui_panel *p);
    /* Moves the cursor by delta rows (clamped; INT_MIN/INT_MAX reach the ends). NULL: no cursor. */
    void (*cursor)(tui_app *a, tui_panel *p, int delta);
    /* Enter on the cursor row. NULL: nothing. */
    void (*enter)(tui_app *a, tui_panel *p);
    /* Whether Tab may focus the panel now (NULL: whenever visible). */
    int (*focusable)(tui_app *a, tui_panel *p);
} tui_panel_class;

struct tui_panel {
    const tui_panel_class *cls;
    int y, x, h, w;            /* rectangle of the last layout, title row included */
    int visible;
};

enum { TUI_P_RUNS, TUI_P_CHARTS, TUI_P_LAYERS, TUI_NPANELS };

extern const tui_panel_class tui_panel_runs, tui_panel_charts, tui_panel_layers;

#define TUI_MAX_LCOLS 16

struct tui_app {
    tt_collector *c;
    tt_store *st;
    tui_opts o;
    int ascii, color, color_init;
    int quit, help, redraw_all;
    int focus;                 /* TUI_P_* */
    tui_panel panel[TUI_NPANELS];
    double now;                /* monotonic seconds of this frame */

    /* runs list: the selected run, remembered by identity so arrivals never move it */
    int run_cur, run_top;
    char run_name[128];
    int run_rank;

    /* charts */
    int chart_top;             /* first visible grid row */
    int chart_rows, chart_rows_total;

    /* layer table */
    int layer_cur;             /* index into run->layers */
    int layer_top;             /* first visible row, in sorted order */
    char sort_key[128];        /* "" wire order, "name", or a statistic name */
    int sort_rev;
    const char *lcols[TUI_MAX_LCOLS];   /* statistic columns shown by the last frame */
    int nlcols;

    tui_buf order, chart_buf, spark_buf;
};

/* Sets up the state over a collector (no terminal work); -1 when the collector has no store. */
int tui_app_init(tui_app *a, tt_collector *c, const tui_opts *o, int force_ascii);
/* Builds a whole frame on stdscr (curses must be up); tui_app_frame also refreshes the terminal. */
void tui_app_paint(tui_app *a);
void tui_app_frame(tui_app *a);
/* Frees the frame buffers. */
void tui_app_free(tui_app *a);
/* Handles one key code as the loop does (the help screen swallows any key). */
void tui_app_key(tui_app *a, int code);

/* The run under the runs cursor (NULL when there is none). */
tt_run *tui_app_run(tui_app *a);
/* Moves the runs cursor to index i of the store and resets the per-run views. */
void tui_app_select_run(tui_app *a, int i);
/* Draws a panel's title bar (reversed, accent when focused). */
void tui_app_title(tui_app *a, tui_panel *p, const char *text);
/* Short state label ("run", "done", …) and its theme role. */
const char *tui_state_label(tt_run_state s, int *role);

/* Layer table helpers used by the sort key. */
void tui_layers_cycle_sort(tui_app *a);

#endif
