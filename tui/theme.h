/* theme: the screen's roles (header, titles, series, states, alarms) mapped to curses attributes,
 * with a monochrome fallback that keeps every distinction visible through bold/reverse/underline. */
#ifndef TUI_THEME_H
#define TUI_THEME_H

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
    TUI_A_WARN,          /* stalled */
    TUI_A_GOOD,          /* running */
    TUI_A_INFO,          /* finished */
    TUI_A_AXIS,          /* chart tick labels */
    TUI_A_SERIES0,       /* chart series colors, in legend order */
    TUI_A_SERIES1,
    TUI_A_SERIES2,
    TUI_A_SERIES3,
    TUI_A_SPARK,
    TUI_A_NROLES
} tui_role;

#define TUI_NSERIES 4

/* Sets up color pairs when color is non-zero (call after initscr/start_color). */
void tui_theme_init(int color);
attr_t tui_attr(tui_role r);
/* color pair number of a role (0 when monochrome), for wattr_set/wchgat. */
short tui_pair(tui_role r);

#endif
