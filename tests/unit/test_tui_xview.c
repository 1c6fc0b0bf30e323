/* tui/widgets/xview and chart helpers: the time window (whole history following live, zoom around the
 * cursor, pan, the cursor clamped and kept in view), log axes in decades, the block-quadrant canvas,
 * step <-> column mapping, reading a series at a step, and the stable run colour hash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "../../tui/widgets/chart.h"
#include "../../tui/widgets/theme.h"
#include "../../tui/widgets/xview.h"

static void win(tui_xview *v, int64_t lo, int64_t hi, int64_t *f, int64_t *t) { tui_xview_window(v, lo, hi, f, t); }

static void test_follow_and_zoom(void **state)
{
    (void)state;
    tui_xview v;
    tui_xview_reset(&v);
    int64_t f, t;
    win(&v, 0, 1000, &f, &t);
    assert_true(f == 0 && t == 1000);
    tui_xview_zoom(&v, 1);                        /* following, no cursor: the right edge stays live */
    win(&v, 0, 1000, &f, &t);
    assert_true(t == 1000 && f == 500);
    win(&v, 0, 1200, &f, &t);                     /* data arrives: the window slides with it */
    assert_true(t == 1200 && f == 700);
    assert_true(fabs(tui_xview_factor(&v) - 1200.0 / 500) < 1e-9);
    tui_xview_zoom(&v, -1);
    win(&v, 0, 1200, &f, &t);
    assert_true(t == 1200 && f == 200);
    tui_xview_zoom(&v, -1);                       /* wider than the data: the whole history, live */
    win(&v, 0, 1200, &f, &t);
    assert_true(f == 0 && t == 1200 && v.span == 0 && v.follow);
    for (int i = 0; i < 40; i++) {                /* zooming in stops at the minimum span */
        tui_xview_zoom(&v, 1);
        win(&v, 0, 1200, &f, &t);
    }
    assert_true(t - f >= TUI_XVIEW_MIN_SPAN && t - f < 2 * TUI_XVIEW_MIN_SPAN);
}

static void test_cursor_zoom_pan(void **state)
{
    (void)state;
    tui_xview v;
    tui_xview_reset(&v);
    int64_t f, t;
    win(&v, 0, 1000, &f, &t);
    v.steps_per_col = 10;
    tui_xview_cursor(&v, -1);                     /* the first press shows the cursor at the right edge */
    assert_true(v.cursor_on && v.cursor == 1000);
    tui_xview_cursor(&v, -5);
    assert_true(v.cursor == 950);
    tui_xview_cursor(&v, INT32_MIN);
    assert_true(v.cursor == 0);
    tui_xview_cursor(&v, -3);                     /* clamped at the data's start */
    assert_true(v.cursor == 0);
    tui_xview_cursor(&v, INT32_MAX);
    assert_true(v.cursor == 1000);
    v.cursor = 200;
    tui_xview_zoom(&v, 1);                        /* around the cursor: it keeps its place */
    win(&v, 0, 1000, &f, &t);
    assert_true(f <= 200 && t >= 200 && t - f == 500 && !v.follow);
    int64_t f0 = f;
    tui_xview_pan(&v, -1);                        /* a quarter window back, clamped at 0 */
    win(&v, 0, 1000, &f, &t);
    assert_true(f == (f0 - 125 > 0 ? f0 - 125 : 0));
    for (int i = 0; i < 10; i++) tui_xview_pan(&v, 1);    /* reaching the end follows live again */
    win(&v, 0, 1000, &f, &t);
    assert_true(v.follow && t == 1000);
    win(&v, 0, 2000, &f, &t);
    assert_true(t == 2000 && f == 1500);
    v.steps_per_col = 10;
    v.cursor = 1600;
    tui_xview_cursor(&v, -20);                    /* leaving the window pans it to keep the cursor in view */
    win(&v, 0, 2000, &f, &t);
    assert_true(v.cursor == 1400 && f <= 1400 && t >= 1400);
    /* the whole history: no pan */
    tui_xview_reset(&v);
    win(&v, 0, 2000, &f, &t);
    tui_xview_pan(&v, -1);
    win(&v, 0, 2000, &f, &t);
    assert_true(f == 0 && t == 2000);
    /* keys ahead of the first frame: the cursor lands on the right edge once the window is known */
    tui_xview_reset(&v);
    tui_xview_cursor(&v, -1);
    tui_xview_cursor(&v, -1);
    win(&v, 10, 700, &f, &t);
    assert_true(v.cursor_on && v.cursor == 700);
    /* empty data */
    tui_xview_reset(&v);
    win(&v, 5, 5, &f, &t);
    tui_xview_zoom(&v, 1);
    tui_xview_cursor(&v, 3);
    win(&v, 5, 5, &f, &t);
    assert_true(f == 5 && t == 5 && v.cursor == 5);
}

static void test_log_axis(void **state)
{
    (void)state;
    tui_axis ax;
    assert_int_equal(tui_axis_compute_log(log10(3e-5), log10(0.4), 6, &ax), 0);   /* whole decades */
    assert_true(ax.lo == -5 && ax.hi == 0 && ax.step == 1 && ax.nticks == 6);
    assert_int_equal(tui_axis_compute_log(-12, 9, 5, &ax), 0);                     /* every 5 decades */
    assert_true((ax.step == 5 || ax.step == 10) && ax.lo <= -12 && ax.hi >= 9 && ax.nticks <= 5);
    for (int i = 0; i < ax.nticks; i++) assert_true(ax.tick[i] == floor(ax.tick[i]));
    assert_int_equal(tui_axis_compute_log(0.1, 0.5, 4, &ax), 0);                   /* within a decade: linear ticks */
    assert_true(ax.lo <= 0.1 && ax.hi >= 0.5);
    assert_int_equal(tui_axis_compute_log(NAN, 1, 4, &ax), -1);
}

static void test_block_canvas(void **state)
{
    (void)state;
    unsigned char bits[4], role[4];
    tui_canvas c;
    tui_canvas_init(&c, 2, 2, TUI_CHART_BLOCK, bits, role);
    assert_int_equal(c.dx, 2);
    assert_int_equal(c.dy, 2);
    char g[8];
    assert_null(tui_canvas_glyph(&c, 0, 0, g));
    tui_canvas_dot(&c, 0, 0, 3);
    assert_string_equal(tui_canvas_glyph(&c, 0, 0, g), "\u2598");     /* ▘ top-left */
    tui_canvas_dot(&c, 1, 1, 3);
    assert_string_equal(tui_canvas_glyph(&c, 0, 0, g), "\u259a");     /* ▚ */
    tui_canvas_dot(&c, 1, 0, 3);
    tui_canvas_dot(&c, 0, 1, 3);
    assert_string_equal(tui_canvas_glyph(&c, 0, 0, g), "\u2588");     /* █ */
    tui_canvas_line(&c, 2, 2, 3, 3, 1);
    assert_string_equal(tui_canvas_glyph(&c, 1, 1, g), "\u259a");
    tui_canvas_line(&c, 2, 0, 2, 1, 1);
    assert_string_equal(tui_canvas_glyph(&c, 1, 0, g), "\u258c");     /* ▌ left half */
    assert_string_equal(tui_chart_style_name(TUI_CHART_BLOCK), "block");
    assert_string_equal(tui_chart_style_name(TUI_CHART_ASCII), "ascii");
    assert_string_equal(tui_chart_style_name(TUI_CHART_BRAILLE), "braille");
}

static void test_step_col(void **state)
{
    (void)state;
    assert_int_equal(tui_chart_step_col(0, 100, 10, 0), 0);
    assert_int_equal(tui_chart_step_col(0, 100, 10, 100), 9);
    assert_int_equal(tui_chart_step_col(0, 100, 10, 55), 5);
    assert_int_equal(tui_chart_step_col(0, 100, 10, -5), 0);
    assert_int_equal(tui_chart_step_col(0, 100, 10, 500), 9);
    assert_int_equal(tui_chart_step_col(7, 7, 10, 7), 9);               /* a single step: the last column */
    for (int col = 0; col < 37; col++)                                  /* round trip */
        assert_int_equal(tui_chart_step_col(1000, 5000, 37, tui_chart_col_step(1000, 5000, 37, col)), col);
}

static void test_series_at(void **state)
{
    (void)state;
    tt_series *s = tt_series_new(8);
    for (int i = 1; i <= 100; i++) tt_series_append(s, i * 10, i == 50 ? NAN : i);
    int exact = -1;
    int64_t at = 0;
    double v = tui_series_at(s, 1000, 0, &exact, &at);                  /* recent: exact points */
    assert_true(v == 100 && exact == 1 && at == 1000);
    v = tui_series_at(s, 996, 5, &exact, &at);                          /* between points: the nearest */
    assert_true(v == 100 && exact == 1 && at == 1000);
    assert_true(isnan(tui_series_at(s, 995, 3, &exact, NULL)));       /* none within the tolerance */
    v = tui_series_at(s, 20, 0, &exact, NULL);                          /* old: a merged bucket's mean */
    assert_true(isfinite(v) && exact == 0);
    assert_true(isnan(tui_series_at(s, 5000, 10, &exact, NULL)));       /* nothing near */
    assert_true(isnan(tui_series_at(NULL, 5, 1, &exact, NULL)));
    tt_series_free(s);
}

static void test_run_colours(void **state)
{
    (void)state;
    assert_int_equal(tui_name_hash("sgd-lr0.01"), tui_name_hash("sgd-lr0.01"));
    assert_true(tui_name_hash("sgd-lr0.01") != tui_name_hash("sgd-lr0.05"));
    assert_int_equal(tui_name_hash(""), 2166136261u);                   /* FNV-1a offset basis */
    tui_theme_setup(TUI_DEPTH_MONO, 0);                                 /* no curses needed for mono */
    tui_role r = tui_run_role("adamw");
    assert_true((int)r >= TUI_A_RUN0 && (int)r < TUI_A_RUN0 + tui_run_colors());
    assert_int_equal(tui_run_role("adamw"), r);                         /* the same name, the same colour */
    assert_int_equal(tui_run_colors(), 4);
    assert_int_equal(tui_heat_levels(1), 9);
    assert_int_equal(tui_heat_levels(0), 5);
    assert_string_equal(tui_heat_glyph(0, 1), ".");
    assert_string_equal(tui_heat_glyph(99, 1), "@");
    assert_string_equal(tui_heat_glyph(4, 0), "\u2588");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follow_and_zoom),
        cmocka_unit_test(test_cursor_zoom_pan),
        cmocka_unit_test(test_log_axis),
        cmocka_unit_test(test_block_canvas),
        cmocka_unit_test(test_step_col),
        cmocka_unit_test(test_series_at),
        cmocka_unit_test(test_run_colours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
