/* chart: line charts of series in a screen rectangle — braille dots (2×4 per cell), block quadrants
 * (2×2) or ASCII strokes (1×3); auto-scaled y axis (linear or log) with padding and "nice" tick labels;
 * an x axis by step or by elapsed time with tick labels; each bucket's min–max envelope drawn under the
 * line through its means, so a one-step spike stays visible; an optional cursor column whose values
 * the legend reads out. */
#ifndef TUI_CHART_H
#define TUI_CHART_H

#include <stdint.h>
#include "../../collectors/series.h"
#include "draw.h"
#include "theme.h"

#define TUI_AXIS_MAX_TICKS 12

/* Dot styles; TUI_CHART_ASCII is 1 so that a plain "ascii" flag selects it. */
enum { TUI_CHART_BRAILLE = 0, TUI_CHART_ASCII = 1, TUI_CHART_BLOCK = 2, TUI_CHART_NSTYLES };
const char *tui_chart_style_name(int style);

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
/* The same in decades: dmin, dmax are log10 of positive values; across a decade or more the ticks are
 * whole powers of ten. */
int tui_axis_compute_log(double lmin, double lmax, int max_ticks, tui_axis *ax);

/* Dot row (0 = top, ndots-1 = bottom) of value v on the axis; clamped into range. */
int tui_axis_dot(const tui_axis *ax, double v, int ndots);

/* Dot canvas over w×h cells; bits and color are caller-provided arrays of w*h bytes. */
typedef struct {
    int w, h;            /* cells */
    int dx, dy;          /* dots per cell: 2×4 braille, 2×2 block, 1×3 ascii */
    int ascii;           /* the style (TUI_CHART_*) */
    unsigned char *bits; /* per cell: dot bits */
    unsigned char *role; /* per cell: theme role of the last dot set (0: none) */
} tui_canvas;

/* style: TUI_CHART_BRAILLE, TUI_CHART_ASCII (any other non-zero value but BLOCK) or TUI_CHART_BLOCK. */
void tui_canvas_init(tui_canvas *c, int w, int h, int style, unsigned char *bits, unsigned char *role);
void tui_canvas_dot(tui_canvas *c, int x, int y, int role);
void tui_canvas_line(tui_canvas *c, int x0, int y0, int x1, int y1, int role);
/* The glyph of cell (cx, cy) as UTF-8 in buf (≥ 8 bytes), or NULL when the cell has no dot. */
const char *tui_canvas_glyph(const tui_canvas *c, int cx, int cy, char buf[8]);

/* One line of a chart. */
typedef struct {
    const char *name;    /* the legend's label */
    const tt_series *s;
    double last;         /* shown in the legend when there is no cursor */
    int role;            /* theme role of the line; 0: the series colours in legend order */
} tui_chart_line;

typedef struct {
    const char *title;   /* the legend's first entry (bold), or NULL */
    int style;           /* TUI_CHART_* */
    int log_y;           /* log10 y axis: values ≤ 0 are left out */
    int x_time;          /* x tick labels as elapsed time: (step - t0_step) * sec_per_step */
    double sec_per_step;
    int64_t t0_step;
    int cursor_on;       /* a cursor column at step cursor; the legend reads its values */
    int64_t cursor;
    int no_envelope;     /* lines only (overlays of many series stay readable) */
    int unit_range;      /* a fraction (accuracy): the y axis spans 0-1 while the data stays inside it */
    int nan_undefined;   /* NaN means "not defined here" (an occasional statistic), not an alarm: no × marks */
} tui_chart_opts;

/* What a drawn chart covers on screen, for cursors and the mouse. */
typedef struct {
    int px, py, pw, ph;  /* plot rectangle (cells); pw == 0 when nothing was plotted */
    int64_t from, to;
    double steps_per_col;
} tui_chart_geom;

/* Draws lines [from, to] of steps in the h×w rectangle at (y, x): a legend row (title, then each
 * line's label in its colour and its last value — or its value at the cursor; an entry that does not
 * fit whole is left out, never cut), then the plot with y tick labels and x tick labels on the last row
 * when h ≥ 8. scratch holds the frame's buffers; g (may be NULL) receives the plot's geometry. */
void tui_chart_draw_ex(WINDOW *win, int y, int x, int h, int w, const tui_chart_line *lines, int nlines, int64_t from,
                       int64_t to, const tui_chart_opts *o, tui_buf *scratch, tui_chart_geom *g);
/* The original interface: linear y, x by step, no cursor; ascii picks ASCII over braille. */
void tui_chart_draw(WINDOW *win, int y, int x, int h, int w, const char *title, const tui_chart_line *lines, int nlines,
                    int64_t from, int64_t to, int ascii, tui_buf *scratch);

/* Tick labels of the window [from, to] on row ry under the plot columns [px, px+pw): steps, or elapsed
 * time when o->x_time. */
void tui_chart_xaxis(WINDOW *win, int ry, int px, int pw, int64_t from, int64_t to, const tui_chart_opts *o);

/* The value of a series near step: the bucket holding step, else the nearest within ±tol steps.
 * *exact (may be NULL) is 1 when that bucket is a single point; *at gets its step (the cursor's for a
 * merged bucket, INT64_MIN when there is none). NaN when none. */
double tui_series_at(const tt_series *s, int64_t step, int64_t tol, int *exact, int64_t *at);

/* Step of plot column col (0..pw-1) and column of a step, for a window [from, to] over pw columns. */
int64_t tui_chart_col_step(int64_t from, int64_t to, int pw, int col);
int tui_chart_step_col(int64_t from, int64_t to, int pw, int64_t step);

#endif
