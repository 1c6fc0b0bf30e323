/* tui/widgets/sparkline: level mapping, auto-scaling, NaN handling and glyphs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "../../tui/widgets/sparkline.h"

static void test_level_ends_and_middle(void **state)
{
    (void)state;
    assert_int_equal(tui_spark_level(0, 0, 1, 8), 0);
    assert_int_equal(tui_spark_level(1, 0, 1, 8), 7);
    assert_int_equal(tui_spark_level(0.5, 0, 1, 8), 4);        /* 3.5 rounds up */
    assert_int_equal(tui_spark_level(0.49, 0, 1, 8), 3);
    assert_int_equal(tui_spark_level(1.0 / 7, 0, 1, 8), 1);
    assert_int_equal(tui_spark_level(-5, -10, 0, 8), 4);
    assert_int_equal(tui_spark_level(2e-9, 1e-9, 3e-9, 8), 4);  /* tiny magnitudes scale like any other */
}

static void test_level_clamps_and_flat(void **state)
{
    (void)state;
    assert_int_equal(tui_spark_level(-1, 0, 1, 8), 0);
    assert_int_equal(tui_spark_level(2, 0, 1, 8), 7);
    assert_int_equal(tui_spark_level(3, 3, 3, 8), 0);           /* a constant is a flat line along the bottom (▁▁▁, not ▄▄▄) */
    assert_int_equal(tui_spark_level(3, 3, 3, 1), 0);
    assert_int_equal(tui_spark_level(3, NAN, 5, 8), 0);         /* no usable range: flat too */
}

static void test_level_nonfinite(void **state)
{
    (void)state;
    assert_int_equal(tui_spark_level(NAN, 0, 1, 8), TUI_SPARK_NAN);
    assert_int_equal(tui_spark_level(INFINITY, 0, 1, 8), TUI_SPARK_NAN);
    assert_int_equal(tui_spark_level(-INFINITY, 0, 1, 8), TUI_SPARK_NAN);
}

static void test_level_monotone(void **state)
{
    (void)state;
    int prev = -1;
    for (int i = 0; i <= 1000; i++) {
        int l = tui_spark_level(i / 1000.0, 0, 1, TUI_SPARK_LEVELS);
        assert_true(l >= prev);
        assert_true(l >= 0 && l < TUI_SPARK_LEVELS);
        prev = l;
    }
    assert_int_equal(prev, TUI_SPARK_LEVELS - 1);
}

static void test_levels_autoscale(void **state)
{
    (void)state;
    double v[] = { 2, 4, NAN, 9, 2, INFINITY };
    int lev[6];
    double lo, hi;
    assert_int_equal(tui_spark_levels(v, 6, lev, &lo, &hi), 4);
    assert_true(lo == 2 && hi == 9);
    assert_int_equal(lev[0], 0);
    assert_int_equal(lev[1], 2);
    assert_int_equal(lev[2], TUI_SPARK_NAN);
    assert_int_equal(lev[3], 7);
    assert_int_equal(lev[4], 0);
    assert_int_equal(lev[5], TUI_SPARK_NAN);

    double all_nan[] = { NAN, NAN };
    assert_int_equal(tui_spark_levels(all_nan, 2, lev, &lo, &hi), 0);
    assert_true(isnan(lo) && isnan(hi));
    assert_int_equal(lev[0], TUI_SPARK_NAN);
    assert_int_equal(tui_spark_levels(v, 0, lev, NULL, NULL), 0);
}

static void test_glyphs(void **state)
{
    (void)state;
    assert_string_equal(tui_spark_glyph(0, 0), "\u2581");
    assert_string_equal(tui_spark_glyph(7, 0), "\u2588");
    assert_string_equal(tui_spark_glyph(0, 1), "_");
    assert_string_equal(tui_spark_glyph(7, 1), "#");
    assert_string_equal(tui_spark_glyph(TUI_SPARK_NAN, 1), "!");
    assert_string_equal(tui_spark_glyph(TUI_SPARK_NAN, 0), "\u00d7");
    assert_string_equal(tui_spark_glyph(TUI_SPARK_EMPTY, 0), " ");
    assert_string_equal(tui_spark_glyph(99, 1), "#");
    for (int l = 0; l < TUI_SPARK_LEVELS; l++) {        /* distinct, one column each */
        assert_int_equal(strlen(tui_spark_glyph(l, 1)), 1);
        assert_int_equal(strlen(tui_spark_glyph(l, 0)), 3);
        for (int m = 0; m < l; m++) {
            assert_string_not_equal(tui_spark_glyph(l, 0), tui_spark_glyph(m, 0));
            assert_string_not_equal(tui_spark_glyph(l, 1), tui_spark_glyph(m, 1));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_ends_and_middle),
        cmocka_unit_test(test_level_clamps_and_flat),
        cmocka_unit_test(test_level_nonfinite),
        cmocka_unit_test(test_level_monotone),
        cmocka_unit_test(test_levels_autoscale),
        cmocka_unit_test(test_glyphs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
