/* panel: the base every dashboard panel embeds (htop's Panel, tmux's window_mode): a small class of
 * hooks, the rectangle of the last layout, and the context panels see — the model, the settings, the
 * selections several panels share. Key handlers return reaction bits (htop's Htop_Reaction) that the
 * loop applies once: a handler never writes the settings file, switches views or quits by itself. */
#ifndef TUI_PANEL_H
#define TUI_PANEL_H

#include <stdint.h>
#include <stdlib.h>
#include "model.h"
#include "layersel.h"
#include "runhealth.h"
#include "settings.h"
#include "tui.h"
#include "widgets/draw.h"
#include "widgets/xview.h"

typedef struct tui_ctx tui_ctx;
typedef struct tui_panel tui_panel;

/* What a handler asks the loop to do, or-ed together; applied once, after the handler. */
typedef unsigned tui_reaction;
enum {
    TUI_OK = 0,
    TUI_REDRAW = 1u << 0,      /* repaint the whole terminal, not only what changed */
    TUI_SAVE = 1u << 1,        /* a setting changed: write the settings file */
    TUI_RELAYOUT = 1u << 2,    /* place the panels again now, so the next key acts on the new layout */
    TUI_QUIT = 1u << 3,
    TUI_RETHEME = 1u << 4,     /* set the colours up again (the theme changed) */
    TUI_VIEW = 1u << 5,        /* switch to the view ctx->req.view; ctx->req.step / .scroll_home go with it */
    TUI_FOCUS = 1u << 6,       /* focus the panel ctx->req.focus (a registry id) when it is visible */
    TUI_IGNORED = 1u << 7,     /* the panel did not take the action: the view's next panel may */
};

/* Actions the key table hands to panels (the focused one first, then the view's others). */
typedef enum {
    TUI_ACT_METRIC,            /* arg ±1: the next or previous metric (or plugin panel) */
    TUI_ACT_LOG,               /* log scale on or off (charts: the y axis; heatmap: the colours) */
    TUI_ACT_COLUMNS,           /* open the column chooser */
} tui_action;

/* What reset() is asked for: the selected run changed; the panel is opened from another (scroll to the
 * top); the view changed (close overlays). */
enum { TUI_RESET_RUN, TUI_RESET_SCROLL, TUI_RESET_VIEW };

/* A kind of panel. Every hook but name, create, destroy and paint may be NULL. */
typedef struct {
    const char *name;          /* the footer's "[Name]" */
    /* A new panel with its state (calloc'd struct embedding tui_panel first); NULL on OOM. */
    tui_panel *(*create)(tui_ctx *c);
    void (*destroy)(tui_panel *p);
    void (*paint)(tui_ctx *c, tui_panel *p);
    /* Moves the cursor by delta rows (INT_MIN/INT_MAX: the ends). NULL: no cursor (never focused). */
    tui_reaction (*cursor)(tui_ctx *c, tui_panel *p, int delta);
    /* Left/Right by delta columns (INT_MIN/INT_MAX: the ends). */
    tui_reaction (*hmove)(tui_ctx *c, tui_panel *p, int delta);
    tui_reaction (*enter)(tui_ctx *c, tui_panel *p);        /* Enter on the cursor row */
    tui_reaction (*mark)(tui_ctx *c, tui_panel *p);         /* Space on the cursor row */
    /* A click at screen cell (y, x) inside the panel (the title row included). */
    tui_reaction (*click)(tui_ctx *c, tui_panel *p, int y, int x);
    /* A panel action from the key table; TUI_IGNORED when the panel has none such. */
    tui_reaction (*action)(tui_ctx *c, tui_panel *p, tui_action act, int arg);
    /* Whether Tab may focus the panel now (NULL: whenever visible). */
    int (*focusable)(tui_ctx *c, tui_panel *p);
    /* The panel's time window, which the zoom, pan and cursor keys move; NULL: none now. */
    tui_xview *(*xview)(tui_panel *p);
    /* The selected run changed (TUI_RESET_RUN), or the panel is opened from another (TUI_RESET_SCROLL). */
    void (*reset)(tui_panel *p, int what);
    /* A modal overlay the panel opened (the column chooser): paints over the frame; takes the keys while
     * open (returns 1 when it took the key, adding to *r). */
    void (*overlay)(tui_ctx *c, tui_panel *p);
    int (*modal_key)(tui_ctx *c, tui_panel *p, int ch, tui_reaction *r);
    int (*modal_open)(const tui_panel *p);                  /* whether the overlay is open */
    int wheel;                 /* rows a mouse-wheel notch moves the cursor; 0: 3 */
} tui_panel_class;

struct tui_panel {
    const tui_panel_class *cls;
    const char *id;            /* its registry id ("layers") */
    int y, x, h, w;            /* rectangle of the last layout, title row included */
    int visible;
    int main;                  /* the view shows it as its main panel (full size, its own time window) */
};

#define TUI_MAX_MARKS 64

/* What panels see of the dashboard. The core owns it; panels read it, and change the selections. */
struct tui_ctx {
    tui_model *m;              /* live-or-paused data: the only way to the store */
    tui_config *cfg;           /* settings: a handler that changes one returns TUI_SAVE */
    const tui_opts *opts;
    int ascii;
    int top;                   /* the first row under the header (and the tab bar) */
    double now;                /* monotonic seconds of this frame */
    const tui_panel *focus;
    tui_panel *const *panels;  /* every panel, in registry order */
    int npanels;

    /* selections shared by several panels */
    int run_cur;               /* the selected run, remembered by identity so arrivals never move it */
    char run_name[128];
    int run_rank;
    tui_layersel layers;       /* the selected layer, the filter and the sort (table, heatmap, detail) */
    tui_health health;         /* every run's health, judged on what the display shows */
    int run_sort;              /* the runs' order (TUI_RSORT_*), the same in every panel */
    int run_sort_rev;
    char marks[TUI_MAX_MARKS][160];   /* runs marked for comparison ("name:rank") */
    int nmarks;

    /* the footer's message until msg_until */
    char msg[256];
    int msg_bad;
    double msg_until;

    /* what a reaction bit refers to */
    struct {
        int view;              /* TUI_VIEW: this view */
        int64_t step;          /* …with its time cursor on this step (INT64_MIN: leave it) */
        int scroll_home;       /* …its main panel scrolled back to the top */
        const char *focus;     /* TUI_FOCUS: the registry id of the panel */
    } req;
};

/* The selected run (NULL when there is none); it follows the run when the store reorders. */
const tt_run *tui_ctx_run(tui_ctx *c);
/* Selects run i of the store and resets what every panel keeps of the previous run. */
void tui_ctx_select_run(tui_ctx *c, int i);
/* Indexes into the store of the runs the display shows (paused: those there at the pause), in the
 * run order (ctx->run_sort). */
int tui_ctx_shown_runs(tui_ctx *c, int *idx, int max);
/* A footer message for a few seconds. */
void tui_ctx_message(tui_ctx *c, int bad, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Draws a panel's title bar (reversed, accent when focused). */
void tui_ctx_title(tui_ctx *c, tui_panel *p, const char *text);
/* The dot style charts use now (ASCII when the terminal cannot show Unicode). */
int tui_ctx_chart_style(const tui_ctx *c);
/* Whether run r is marked for comparison; toggles it. */
int tui_ctx_marked(const tui_ctx *c, const tt_run *r);
void tui_ctx_toggle_mark(tui_ctx *c, const tt_run *r);
/* Asks for a view switch (returns TUI_VIEW). */
tui_reaction tui_ctx_goto(tui_ctx *c, int view, int64_t step, int scroll_home);
/* Short state label ("run", "done", …) and its theme role. */
const char *tui_state_label(tt_run_state s, int *role);

#define TUI_MSG_SECONDS 4

/* Frees a panel that holds no resources besides its struct (the usual destroy hook). */
void tui_panel_free(tui_panel *p);
/* Defines NAME_create(): a zeroed struct NAME (which embeds tui_panel as its first member, `super`). */
#define TUI_PANEL_SIMPLE_CREATE(NAME)                      \
    static tui_panel *NAME##_create(tui_ctx *c)            \
    {                                                      \
        (void)c;                                           \
        NAME *s = calloc(1, sizeof *s);                    \
        return s ? &s->super : NULL;                       \
    }

#endif
