/* chart: line charts of series in a screen rectangle — braille dots (2×4 per cell) when UTF-8 is
 * usable, ASCII strokes (1×3) otherwise; auto-scaled y axis with "nice" tick labels; each bucket's
 * min–max envelope drawn under the line through its means, so a one-step spike stays visible. */
#ifndef TUI_CHART_H
#define TUI_CHART_H

#include <stdint.h>
#include "../collectors/series.h"
#include "draw.h"
#include "theme.h"

#define TUI_AXIS_MAX_TICKS 12

/* A y axis: [lo, hi] extended to multiples of step, ticks lo, lo+step, …, hi. */
typedef struct {
    double lo, hi, step;
    int nticks;
    double tick[TUI_AXIS_MAX_TICKS];
} tui_axis;

/* The "nice" number (1, 2, 5 × 10^k) closest to x (round) or not below x (!round). x > 0. */
double tui_nice_num(double x, int round);

/* Loose labeling of the data range [dmin, dmax] with at most max_ticks (3..TUI_AXIS_MAX_TICKS) ticks.
 * A flat range is widened (±10% of |v|, ±1 around 0). Returns 0, or -1 when the range is not finite. */
int tui_axis_compute(double dmin, double dmax, int max_ticks, tui_axis *ax);

/* Dot row (0 = top, ndots-1 = bottom) of value v on the axis; clamped into range. */
int tui_axis_dot(const tui_axis *ax, double v, int ndots);

/* Dot canvas over w×h cells; bits and color are caller-provided arrays of w*h bytes. */
typedef struct {
    int w, h;            /* cells */
    int dx, dy;          /* dots per cell: 2×4 braille, 1×3 ascii */
    int ascii;
    unsigned char *bits; /* per cell: dot bits */
    unsigned char *role; /* per cell: theme role of the last dot set (0: none) */
} tui_canvas;

void tui_canvas_init(tui_canvas *c, int w, int h, int ascii, unsigned char *bits, unsigned char *role);
void tui_canvas_dot(tui_canvas *c, int x, int y, int role);
void tui_canvas_line(tui_canvas *c, int x0, int y0, int x1, int y1, int role);
/* The glyph of cell (cx, cy) as UTF-8 in buf (≥ 8 bytes), or NULL when the cell has no dot. */
const char *tui_canvas_glyph(const tui_canvas *c, int cx, int cy, char buf[8]);

/* One line of a chart. */
typedef struct {
    const char *name;    /* the legend's label */
    const tt_series *s;
    double last;         /* shown in the legend */
} tui_chart_line;

/* Draws lines [from, to] of steps in the h×w rectangle at (y, x): a legend row (title, when not NULL,
 * then each line's label in its color and its last value; an entry that does not fit whole is left
 * out, never cut), then the plot with y tick labels (and step labels on the last row when h ≥ 8).
 * scratch holds the frame's buffers. */
void tui_chart_draw(WINDOW *win, int y, int x, int h, int w, const char *title, const tui_chart_line *lines, int nlines,
                    int64_t from, int64_t to, int ascii, tui_buf *scratch);

#endif
