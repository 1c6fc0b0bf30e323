/* xview: the time window of a chart-like panel — the whole history following live data, or a zoomed
 * and panned window — and its cursor (a step, read out by the panel). Pure arithmetic over steps. */
#ifndef TUI_XVIEW_H
#define TUI_XVIEW_H

#include <stdint.h>

#define TUI_XVIEW_MIN_SPAN 8     /* zooming in stops at this many steps */

typedef struct {
    int64_t span;          /* steps in the window; 0: the whole history */
    int follow;            /* the window's right edge is the latest step */
    int64_t right;         /* right edge when not following */
    int cursor_on;
    int64_t cursor;        /* the cursor's step */
    /* from the last tui_xview_window call: the data's extent and the window */
    int64_t lo, hi, from, to;
    double steps_per_col;  /* set by the panel that drew the window (≥ 1 step per plot column) */
} tui_xview;

void tui_xview_reset(tui_xview *v);
/* The window over data extent [lo, hi] (lo ≤ hi): writes [*from, *to] and remembers them. */
void tui_xview_window(tui_xview *v, int64_t lo, int64_t hi, int64_t *from, int64_t *to);
/* Zooms in (dir > 0) or out (dir < 0) by 2×, around the cursor when it is on, else around the right
 * edge when following, else the window's centre. Zooming out to the whole history follows live again. */
void tui_xview_zoom(tui_xview *v, int dir);
/* Pans by a quarter window; reaching the latest step follows live again. */
void tui_xview_pan(tui_xview *v, int dir);
/* Moves the cursor by cols plot columns (INT32_MIN/MAX: the extent's ends), turning it on at the
 * window's right edge first; the window pans to keep it in view. */
void tui_xview_cursor(tui_xview *v, int cols);
/* Zoom factor of the last window (1 = whole history). */
double tui_xview_factor(const tui_xview *v);

#endif
