/* app: the dashboard's state shared by the screen manager, the views, the panels and the key handlers. */
#ifndef TUI_APP_H
#define TUI_APP_H

#include <stdint.h>
#include "../tui.h"
#include "../widgets/tui_curses.h"
#include "../widgets/draw.h"
#include "../settings.h"
#include "../widgets/filter.h"
#include "../views.h"
#include "../widgets/xview.h"

typedef struct tui_app tui_app;
typedef struct tui_panel tui_panel;

/* A kind of panel (htop's Panel class): how it draws and how the keys and the mouse act on it. */
typedef struct {
    const char *name;
    void (*paint)(tui_app *a, tui_panel *p);
    /* Moves the cursor by delta rows (clamped; INT_MIN/INT_MAX reach the ends). NULL: no cursor. */
    void (*cursor)(tui_app *a, tui_panel *p, int delta);
    /* Enter on the cursor row. NULL: nothing. */
    void (*enter)(tui_app *a, tui_panel *p);
    /* Whether Tab may focus the panel now (NULL: whenever visible). */
    int (*focusable)(tui_app *a, tui_panel *p);
    /* Left/Right by delta columns (INT_MIN/INT_MAX: the ends). NULL: nothing. */
    void (*hmove)(tui_app *a, tui_panel *p, int delta);
    /* Space on the cursor row. NULL: nothing. */
    void (*mark)(tui_app *a, tui_panel *p);
    /* A click at screen cell (y, x) inside the panel (the title row included). NULL: focus only. */
    void (*click)(tui_app *a, tui_panel *p, int y, int x);
} tui_panel_class;

struct tui_panel {
    const tui_panel_class *cls;
    int y, x, h, w;            /* rectangle of the last layout, title row included */
    int visible;
};

enum { TUI_P_RUNS, TUI_P_CHARTS, TUI_P_LAYERS, TUI_P_HEATMAP, TUI_P_CMPRUNS, TUI_P_COMPARE, TUI_P_ALERTS, TUI_P_LDETAIL,
       TUI_P_PLUGIN, TUI_NPANELS };

extern const tui_panel_class tui_panel_runs, tui_panel_charts, tui_panel_layers, tui_panel_heatmap, tui_panel_cmpruns,
    tui_panel_compare, tui_panel_alerts, tui_panel_ldetail, tui_panel_plugin;

#define TUI_MAX_LCOLS 64
#define TUI_MAX_MARKS 64

/* A run as it was when the display was paused: what the views show until it resumes. */
typedef struct {
    char name[128];
    int rank;
    int64_t step, layer_step;
    double steps_per_s;
    int state;                 /* tt_run_state */
    char end_status[32];
    int alerts;
    int nlayers, nstats, nscalars;
    double *layer_last;        /* nlayers × nstats */
    double *scalar_last;       /* nscalars */
} tui_frozen_run;

struct tui_app {
    struct tui_plugin_state *plug;   /* loaded plugin panels (panel_plugin.c) */
    tt_collector *c;
    tt_store *st;
    tui_opts o;
    tui_config cfg;
    char cfg_path[1024];       /* where settings are saved; "" : never (tests, or no HOME) */
    int ascii, color, color_init;
    int quit, help, redraw_all;
    int help_top;              /* first line of the help screen */
    int view;                  /* TUI_V_* */
    int focus;                 /* TUI_P_* */
    int vfocus[TUI_NVIEWS];    /* the focused panel of each view */
    tui_panel panel[TUI_NPANELS];
    double now;                /* monotonic seconds of this frame */

    /* status line: a message shown in the footer until msg_until (monotonic) */
    char msg[256];
    int msg_bad;
    double msg_until;

    /* pause: the display shows the runs as they were; ingest goes on */
    int paused;
    tui_frozen_run *frozen;
    int nfrozen;
    const tt_run *fz_run;      /* lookup cache */
    const tui_frozen_run *fz_hit;
    uint64_t frozen_alerts_n, frozen_accepted;

    /* runs list: the selected run, remembered by identity so arrivals never move it */
    int run_cur, run_top;
    char run_name[128];
    int run_rank;

    /* charts */
    int chart_top;             /* first visible grid row */
    int chart_rows, chart_rows_total;
    tui_xview xv_charts, xv_heat, xv_cmp;

    /* layer table */
    int layer_cur;             /* index into run->layers */
    int layer_top;             /* first visible row, in sorted order */
    int lcol_first;            /* first statistic column shown (horizontal scroll) */
    char sort_key[128];        /* "" wire order, "name", or a statistic name */
    int sort_rev;
    const char *lcols[TUI_MAX_LCOLS];   /* statistic columns of the table (all with data, not hidden) */
    int nlcols;
    int nshown;                /* rows that pass the filter (last frame) */
    tui_filter filter;
    int input;                 /* the filter line is being edited */
    char input_prev[TUI_FILTER_MAX];
    int colsel, colsel_cur;    /* the column chooser is open */

    /* heatmap */
    int heat_top;

    /* compare */
    int cmp_cur, cmp_top;
    char cmp_marks[TUI_MAX_MARKS][160];
    int ncmp_marks;

    /* alerts */
    int alert_cur, alert_top;

    char clock[32];            /* the header's frozen clock ("" : the wall clock) */
    int tabbar;                /* the last frame had a tab bar (row 1) */

    /* mouse: the tab bar's cells of the last frame */
    int tab_y, tab_x0[TUI_NVIEWS], tab_x1[TUI_NVIEWS];
    uint64_t bells_seen;

    tui_buf order, chart_buf, spark_buf, vals_buf, heat_buf;
    /* the filtered order's cache: rebuilt when the run, its layer count or the filter changes */
    const void *ord_run;
    int ord_nlayers, ord_n;
    unsigned ord_gen;
    tui_buf ord_cache;
};

/* Sets up the state over a collector with the default settings (no terminal work, no settings file);
 * -1 when the collector has no store. */
int tui_app_init(tui_app *a, tt_collector *c, const tui_opts *o, int force_ascii);
/* Takes settings (view, sort, metrics, styles, …) into the state. */
void tui_app_apply_config(tui_app *a, const tui_config *cfg);
/* Builds a whole frame on stdscr (curses must be up); tui_app_frame also refreshes the terminal. */
void tui_app_paint(tui_app *a);
void tui_app_frame(tui_app *a);
/* Frees the frame buffers and the pause snapshot. */
void tui_app_free(tui_app *a);
/* Handles one key code as the loop does (help, the filter line and the column chooser take keys first). */
void tui_app_key(tui_app *a, int code);
/* Plugin panels: loaded at init (bundled, user's, --plugin), unloaded at free. */
void tui_plugins_open(tui_app *a);
void tui_plugins_close(tui_app *a);
/* Cycles the plugin panel shown in the plugins view. */
void tui_plugins_next(tui_app *a, int delta);

/* Switches to view v (TUI_V_*). */
void tui_app_set_view(tui_app *a, int v);
/* Sets the colour roles up again for the settings' theme and colour mode (curses must be up). */
void tui_app_retheme(tui_app *a);
/* Saves the settings when there is a settings file, saying so in the footer. */
void tui_app_save_config(tui_app *a);
/* A footer message for a few seconds. */
void tui_app_message(tui_app *a, int bad, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Pauses (snapshot) or resumes the display. */
void tui_app_pause(tui_app *a, int on);

/* The run under the runs cursor (NULL when there is none). */
tt_run *tui_app_run(tui_app *a);
/* Moves the runs cursor to index i of the store and resets the per-run views. */
void tui_app_select_run(tui_app *a, int i);
/* Draws a panel's title bar (reversed, accent when focused). */
void tui_app_title(tui_app *a, tui_panel *p, const char *text);
/* Short state label ("run", "done", …) and its theme role. */
const char *tui_state_label(tt_run_state s, int *role);
/* The dot style charts use now (ASCII when the terminal cannot show Unicode). */
int tui_app_chart_style(const tui_app *a);

/* What the display shows of a run: live values, or the paused snapshot's. */
int tui_app_run_shown(tui_app *a, const tt_run *r);   /* paused: was it there at the pause */
int64_t tui_app_step(tui_app *a, const tt_run *r);
int64_t tui_app_layer_step(tui_app *a, const tt_run *r);
double tui_app_rate(tui_app *a, const tt_run *r);
double tui_app_probe_pct(tui_app *a, const tt_run *r);  /* probe_ms as % of the step time, NaN unknown */
double tui_app_probe_gpu_pct(tui_app *a, const tt_run *r);  /* probe_gpu_ms (CUPTI) likewise */
int tui_app_state(tui_app *a, const tt_run *r);
int tui_app_alerts(tui_app *a, const tt_run *r);      /* the alert-count hook: tt_run.alerts */
int tui_app_nlayers(tui_app *a, const tt_run *r);
double tui_app_layer_last(tui_app *a, const tt_run *r, int layer, int stat);
/* A layer's latest value of every statistic (run->nstats of them), or NULL when the pause has none. */
const double *tui_app_layer_row(tui_app *a, const tt_run *r, int layer);
double tui_app_scalar_last(tui_app *a, const tt_run *r, int scalar);
/* Alerts the display shows (the store's ring, newest first; paused: those before the pause). */
int tui_app_alert_count(tui_app *a);
const tt_store_alert *tui_app_alert(tui_app *a, int i);

/* Layer table helpers used by the keys, the heatmap and the tests. */
void tui_layers_cycle_sort(tui_app *a);
/* The run's layers in display order (filter, then sort): returns the count; *order points into a. */
int tui_layers_order(tui_app *a, const tt_run *r, const int **order);
/* How many of the run's layers pass the filter. */
int tui_layers_count(tui_app *a, const tt_run *r);
/* Opens the filter line. */
void tui_layers_filter_begin(tui_app *a);
/* Heatmap / compare metric cycling (dir ±1). */
void tui_heatmap_next_metric(tui_app *a, int dir);
void tui_compare_next_metric(tui_app *a, int dir);
/* Whether run r is marked for comparison; toggles it. */
int tui_compare_marked(const tui_app *a, const tt_run *r);
void tui_compare_toggle(tui_app *a, const tt_run *r);
/* The x view of the current view's time axis (NULL when it has none). */
tui_xview *tui_app_xview(tui_app *a);

#endif
