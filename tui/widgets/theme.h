/* theme: the screen's roles (header, titles, series, states, alarms) mapped to curses attributes for
 * a dark or a light terminal at 256, 16 or no colours; the monochrome mapping keeps every distinction
 * visible through bold/reverse/underline. Also the stable per-run colours (a hash of the run's name)
 * and the heatmap's colour ramp. */
#ifndef TUI_THEME_H
#define TUI_THEME_H

#include <stdint.h>
#include "tui_curses.h"

typedef enum {
    TUI_A_NORMAL,
    TUI_A_DIM,           /* secondary text: units, column separators */
    TUI_A_HEADER,        /* the top line */
    TUI_A_FOOTER,        /* the key-hint line */
    TUI_A_FOOTER_KEY,    /* a key in the footer */
    TUI_A_TITLE,         /* an unfocused panel's title bar */
    TUI_A_TITLE_FOCUS,   /* the focused panel's title bar */
    TUI_A_COLHEAD,       /* column headers */
    TUI_A_CURSOR,        /* selected row of the focused panel */
    TUI_A_CURSOR_DIM,    /* selected row of an unfocused panel */
    TUI_A_BAD,           /* NaN / Inf / failed */
    TUI_A_WARN,          /* stalled, alerts */
    TUI_A_GOOD,          /* running */
    TUI_A_INFO,          /* finished */
    TUI_A_AXIS,          /* chart tick labels */
    TUI_A_SERIES0,       /* chart series colors, in legend order */
    TUI_A_SERIES1,
    TUI_A_SERIES2,
    TUI_A_SERIES3,
    TUI_A_SPARK,
    TUI_A_OUTLIER,       /* a table value far from its column's median */
    TUI_A_CURSORLINE,    /* a chart's cursor column */
    TUI_A_PAUSED,        /* the pause badge */
    TUI_A_TAB,           /* a view's tab */
    TUI_A_TAB_ACTIVE,    /* the current view's tab */
    TUI_A_INPUT,         /* the filter line */
    TUI_A_RUN0,          /* per-run colours (tui_run_role), TUI_NRUNCOLORS of them */
    TUI_A_RUN_LAST = TUI_A_RUN0 + 11,
    TUI_A_NROLES
} tui_role;

#define TUI_NSERIES 4
#define TUI_NRUNCOLORS 12

typedef enum { TUI_DEPTH_MONO, TUI_DEPTH_16, TUI_DEPTH_256 } tui_depth;

/* Sets up the roles (call after start_color when depth is not mono). light: a light terminal. */
void tui_theme_setup(tui_depth depth, int light);
/* Compatibility: colour (the best depth the terminal has, dark) or monochrome. */
void tui_theme_init(int color);
tui_depth tui_theme_depth(void);
int tui_theme_light(void);
attr_t tui_attr(tui_role r);
/* color pair number of a role (0 when monochrome), for wattr_set/wchgat. */
short tui_pair(tui_role r);

/* FNV-1a of a string: the stable hash behind a run's colour. */
uint32_t tui_name_hash(const char *s);
/* The colour role of a run: the same name always gets the same colour (among the depth's palette:
 * 12 at 256 colours, 6 at 16, 4 attribute styles in monochrome). */
tui_role tui_run_role(const char *name);
/* Distinct run colours at the current depth. */
int tui_run_colors(void);

/* Heatmap ramp: levels at the current depth (16 at 256 colours, 6 at 16, glyph density in mono). */
int tui_heat_levels(int ascii);
/* Attribute and glyph of level l (0 = lowest) of the ramp. */
attr_t tui_heat_attr(int l);
const char *tui_heat_glyph(int l, int ascii);

#endif
