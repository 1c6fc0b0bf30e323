/* sparkline: level mapping and glyphs; drawing (colors, NaN marks) is the caller's. */
#include "sparkline.h"

#include <math.h>

int tui_spark_level(double v, double lo, double hi, int levels)
{
    if (!isfinite(v)) return TUI_SPARK_NAN;
    if (levels < 1) return 0;
    if (!isfinite(lo) || !isfinite(hi) || !(hi > lo)) return 0;   /* constant: a flat line along the bottom */
    double t = (v - lo) / (hi - lo);
    if (!(t > 0)) return 0;
    if (t >= 1) return levels - 1;
    int l = (int)lround(t * (levels - 1));
    return l < 0 ? 0 : l > levels - 1 ? levels - 1 : l;
}

int tui_spark_levels(const double *v, size_t n, int *levels, double *lo_out, double *hi_out)
{
    double lo = INFINITY, hi = -INFINITY;
    int finite = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        finite++;
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    for (size_t i = 0; i < n; i++) levels[i] = tui_spark_level(v[i], lo, hi, TUI_SPARK_LEVELS);
    if (lo_out) *lo_out = finite ? lo : NAN;
    if (hi_out) *hi_out = finite ? hi : NAN;
    return finite;
}

const char *tui_spark_glyph(int level, int ascii)
{
    static const char *const utf8[TUI_SPARK_LEVELS] = {
        "\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588",
    };
    static const char *const asc[TUI_SPARK_LEVELS] = { "_", ".", "-", ":", "=", "+", "*", "#" };
    if (level == TUI_SPARK_NAN) return ascii ? "!" : "\u00d7";   /* × */
    if (level < 0) return " ";
    if (level >= TUI_SPARK_LEVELS) level = TUI_SPARK_LEVELS - 1;
    return ascii ? asc[level] : utf8[level];
}
