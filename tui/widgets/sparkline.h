/* sparkline: a one-row trend of a series, ▁▂▃▄▅▆▇█ (or "_.-:=+*#" in ASCII), auto-scaled per line. */
#ifndef TUI_SPARKLINE_H
#define TUI_SPARKLINE_H

#include <stddef.h>

#define TUI_SPARK_LEVELS 8
#define TUI_SPARK_NAN (-1)    /* level of a NaN/Inf value (drawn as a highlighted mark) */
#define TUI_SPARK_EMPTY (-2)  /* no data for this cell */

/* Level 0..levels-1 of v within [lo, hi]; lo == hi (a constant) maps to level 0, a flat line,
 * a value outside the range is clamped; NaN/Inf → TUI_SPARK_NAN. */
int tui_spark_level(double v, double lo, double hi, int levels);

/* Levels of n values auto-scaled to their finite min/max; NaN entries give TUI_SPARK_NAN.
 * Returns the number of finite values. */
int tui_spark_levels(const double *v, size_t n, int *levels, double *lo, double *hi);

/* The glyph of a level as a NUL-terminated UTF-8 (or ASCII) string. */
const char *tui_spark_glyph(int level, int ascii);

#endif
