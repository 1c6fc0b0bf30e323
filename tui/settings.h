/* settings: the dashboard's settings in memory (theme, layout, sort, metrics, hidden columns, …) and
 * their defaults. The settings file (reading, writing, its path) is cli/config.c's: the dashboard only
 * asks for a save through tui_opts.settings when a key handler returned TUI_SAVE. */
#ifndef TUI_SETTINGS_H
#define TUI_SETTINGS_H

#include <stddef.h>

#define TUI_CFG_NAME 128
#define TUI_CFG_MAX_HIDDEN 64

typedef enum { TUI_COLOR_AUTO, TUI_COLOR_256, TUI_COLOR_16, TUI_COLOR_MONO } tui_color_mode;
typedef enum { TUI_LAYOUT_AUTO, TUI_LAYOUT_SIDE, TUI_LAYOUT_STACKED } tui_layout_mode;
/* The runs' orders: by name (the same at every start), worst health first, by loss, by val_loss, by step. */
enum { TUI_RSORT_NAME, TUI_RSORT_HEALTH, TUI_RSORT_LOSS, TUI_RSORT_VLOSS, TUI_RSORT_STEP, TUI_RSORT_N };
extern const char *const tui_run_sort_names[TUI_RSORT_N + 1];   /* NULL-terminated */

typedef struct {
    int light;                      /* "theme": "dark" | "light" */
    tui_color_mode color;           /* "color": "auto" | "256" | "16" | "mono" */
    int chart_style;                /* "chart_style": "braille" | "block" | "ascii" (TUI_CHART_*) */
    tui_layout_mode layout;         /* "layout": "auto" | "side" | "stacked" — the overview's panels */
    int view;                       /* "view": the view shown at start (TUI_V_*) */
    int vim;                        /* "keys": {"vim": bool} — h/l/^U/^D as in vim */
    int mouse;                      /* "mouse": bool */
    int refresh_ms;                 /* "refresh_ms": 50..5000 */
    char hidden[TUI_CFG_MAX_HIDDEN][TUI_CFG_NAME];   /* "layers": {"hidden": [statistic, …]} */
    int nhidden;
    char sort[TUI_CFG_NAME];        /* "layers": {"sort": "" | "name" | statistic, "reverse": bool} */
    int sort_rev;
    char heat_metric[TUI_CFG_NAME]; /* "heatmap": {"metric": statistic, "log": bool, "scale": "all" | "row"} */
    int heat_log;
    int heat_rows;                  /* each layer on its own colour scale */
    int log_y;                      /* "charts": {"log_y": bool, "x": "step" | "time"} */
    int x_time;
    char cmp_metric[TUI_CFG_NAME];  /* "compare": {"metric": scalar} */
    int run_sort;                   /* "runs": {"sort": "name" | "health" | "loss" | "val_loss" | "step", "reverse": bool} */
    int run_sort_rev;
} tui_config;

void tui_config_defaults(tui_config *c);
/* Whether statistic name is hidden; toggles it (returns the new hidden state). */
int tui_config_hidden(const tui_config *c, const char *name);
int tui_config_toggle_hidden(tui_config *c, const char *name);
/* Whether s is a valid statistic or metric name for the settings (printable, no quotes, < TUI_CFG_NAME). */
int tui_config_valid_name(const char *s);

/* Where the settings come from and go to (cli/config.c provides the file); NULL in tui_opts: nowhere. */
typedef struct tui_settings_io {
    /* The settings file's path; -1 when there is none. */
    int (*path)(char *out, size_t len);
    /* As tui_config_load / tui_config_save. */
    int (*load)(tui_config *c, const char *path, char *err, size_t errlen);
    int (*save)(const tui_config *c, const char *path, char *err, size_t errlen);
} tui_settings_io;

#endif
