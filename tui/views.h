/* views: the dashboard's screens, each a layout of panels, switched with 1–7. */
#ifndef TUI_VIEWS_H
#define TUI_VIEWS_H

typedef enum {
    TUI_V_OVERVIEW,      /* every run, and the selected run's charts and layers */
    TUI_V_CHARTS,        /* the selected run's scalars, a grid of charts */
    TUI_V_LAYERS,        /* the per-layer table, every statistic a column */
    TUI_V_HEATMAP,       /* one statistic, layer × step */
    TUI_V_COMPARE,       /* one metric across runs */
    TUI_V_ALERTS,        /* the rules that fired */
    TUI_V_PLUGINS,       /* plugin panels (.so), one at a time */
    TUI_NVIEWS
} tui_view_id;

#define TUI_VBIT(v) (1u << (v))
#define TUI_VALL ((1u << TUI_NVIEWS) - 1)

/* Lower-case names as the settings file and --view spell them; -1 for an unknown name. */
extern const char *const tui_view_names[TUI_NVIEWS];
int tui_view_by_name(const char *name);

#endif
