/* config: the dashboard's settings in $XDG_CONFIG_HOME/traintop/config.json (else
 * ~/.config/traintop/config.json) — read once at start, written atomically (temp file, fsync, rename)
 * whenever the user changes a setting from the keyboard. A bad file costs one line naming the file and
 * the field; the defaults stand in for what could not be read. Fields unknown to this version are kept
 * when the file is rewritten. */
#ifndef TUI_CONFIG_H
#define TUI_CONFIG_H

#include <stddef.h>

#define TUI_CFG_NAME 128
#define TUI_CFG_MAX_HIDDEN 64

typedef enum { TUI_COLOR_AUTO, TUI_COLOR_256, TUI_COLOR_16, TUI_COLOR_MONO } tui_color_mode;
typedef enum { TUI_LAYOUT_AUTO, TUI_LAYOUT_SIDE, TUI_LAYOUT_STACKED } tui_layout_mode;

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
} tui_config;

void tui_config_defaults(tui_config *c);
/* The settings file's path (XDG_CONFIG_HOME, else HOME/.config); -1 when neither is set. */
int tui_config_path(char *out, size_t len);
/* Applies JSON text over c. Returns 0 when all was well; 1 when some fields were wrong (each keeps its
 * previous value; err names the first, "+N more" the rest); -1 when the text is not a JSON object
 * (c untouched). err is one line without the file name. */
int tui_config_parse(tui_config *c, const char *text, char *err, size_t errlen);
/* Reads path over c: 0 (also when the file does not exist), else as tui_config_parse, or -1 when the
 * file cannot be read; err is then one line naming the file ("PATH: field \"theme\": …"). */
int tui_config_load(tui_config *c, const char *path, char *err, size_t errlen);
/* The settings as JSON text (malloc'd), merged over the object in previous (may be NULL) so that its
 * other fields survive. NULL on OOM. */
char *tui_config_to_json(const tui_config *c, const char *previous);
/* Writes the settings to path atomically, creating its directory (0700). A file there that is not
 * JSON is left alone (the user is editing it): -1 with err. 0 on success. */
int tui_config_save(const tui_config *c, const char *path, char *err, size_t errlen);
/* Whether statistic name is hidden; toggles it (returns the new hidden state). */
int tui_config_hidden(const tui_config *c, const char *name);
int tui_config_toggle_hidden(tui_config *c, const char *name);

#endif
