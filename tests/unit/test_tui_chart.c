/* tui/widgets/chart: nice numbers, axis scaling and ticks, value→dot mapping, the braille/ASCII canvas. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/widgets/chart.h"

static int is_nice(double s)
{
    double e = floor(log10(s));
    double f = s / pow(10, e);
    return fabs(f - 1) < 1e-9 || fabs(f - 2) < 1e-9 || fabs(f - 5) < 1e-9 || fabs(f - 10) < 1e-9;
}

static void test_nice_num(void **state)
{
    (void)state;
    assert_true(tui_nice_num(1, 0) == 1);
    assert_true(tui_nice_num(1.2, 0) == 2);
    assert_true(tui_nice_num(2.5, 0) == 5);
    assert_true(tui_nice_num(6, 0) == 10);
    assert_true(fabs(tui_nice_num(0.07, 1) - 0.1) < 1e-15);
    assert_true(fabs(tui_nice_num(0.0012, 1) - 0.001) < 1e-15);
    assert_true(tui_nice_num(2.9, 1) == 2);
    assert_true(tui_nice_num(3.1, 1) == 5);
    assert_true(tui_nice_num(0, 1) == 1);          /* degenerate input: a usable step */
    assert_true(tui_nice_num(NAN, 1) == 1);
}

static void test_axis_basic(void **state)
{
    (void)state;
    tui_axis ax;
    assert_int_equal(tui_axis_compute(0, 1, 3, &ax), 0);
    assert_true(ax.lo == 0 && ax.hi == 1 && ax.step == 0.5);
    assert_int_equal(ax.nticks, 3);
    assert_true(ax.tick[0] == 0 && ax.tick[1] == 0.5 && ax.tick[2] == 1);

    assert_int_equal(tui_axis_compute(0.13, 0.87, 6, &ax), 0);
    assert_true(fabs(ax.step - 0.2) < 1e-12);
    assert_true(ax.lo <= 0.13 && ax.hi >= 0.87);
    assert_int_equal(ax.nticks, 6);

    assert_int_equal(tui_axis_compute(-3.2, 7.9, 4, &ax), 0);       /* crosses zero: 0 is a tick */
    int has_zero = 0;
    for (int i = 0; i < ax.nticks; i++) has_zero |= ax.tick[i] == 0;
    assert_true(has_zero);

    assert_int_equal(tui_axis_compute(-3e-6, 2.7e-6, 2, &ax), 0);    /* 2 is raised to 3: -s, 0, s */
    assert_int_equal(ax.nticks, 3);
    assert_true(ax.lo < -3e-6 && ax.hi > 2.7e-6 && ax.hi < 1e-4);

    assert_int_equal(tui_axis_compute(5, 1, 4, &ax), 0);             /* swapped bounds */
    assert_true(ax.lo <= 1 && ax.hi >= 5);
}

static void test_axis_flat_and_bad(void **state)
{
    (void)state;
    tui_axis ax;
    assert_int_equal(tui_axis_compute(5, 5, 4, &ax), 0);
    assert_true(ax.lo < 5 && ax.hi > 5);
    assert_int_equal(tui_axis_compute(0, 0, 4, &ax), 0);
    assert_true(ax.lo <= -1 && ax.hi >= 1);
    assert_int_equal(tui_axis_compute(-0.001, -0.001, 3, &ax), 0);
    assert_true(ax.lo < -0.001 && ax.hi > -0.001);
    assert_int_equal(tui_axis_compute(NAN, 1, 4, &ax), -1);
    assert_int_equal(tui_axis_compute(0, INFINITY, 4, &ax), -1);
    assert_int_equal(tui_axis_compute(-INFINITY, 0, 4, &ax), -1);
    assert_int_equal(tui_axis_compute(-1e308, 1e308, 4, &ax), -1);   /* the loose range overflows */
}

/* Whatever the range: covers the data, ≤ max ticks, evenly spaced by a nice step, not absurdly loose. */
static void test_axis_properties(void **state)
{
    (void)state;
    srand(11);
    for (int i = 0; i < 20000; i++) {
        double scale = pow(10, rand() % 40 - 20);
        double a = ((double)rand() / RAND_MAX - 0.3) * scale;
        double b = a + (double)rand() / RAND_MAX * scale * pow(10, -(rand() % 6));
        int maxt = 3 + rand() % 8;
        tui_axis ax;
        assert_int_equal(tui_axis_compute(a, b, maxt, &ax), 0);
        assert_true(ax.nticks >= 2 && ax.nticks <= maxt);
        if (!(ax.lo <= a + fabs(a) * 1e-12 && ax.hi >= b - fabs(b) * 1e-12)) fail_msg("a=%.17g b=%.17g max=%d lo=%.17g hi=%.17g step=%g", a, b, maxt, ax.lo, ax.hi, ax.step);
        assert_true(is_nice(ax.step));
        for (int t = 1; t < ax.nticks; t++)           /* exact up to the rounding of the ticks' magnitude */
            assert_true(fabs(ax.tick[t] - ax.tick[t - 1] - ax.step) <= ax.step * 1e-9 + fabs(ax.tick[t]) * 1e-15);
        assert_true(ax.tick[0] == ax.lo && ax.tick[ax.nticks - 1] == ax.hi);
        if (b > a) assert_true(ax.hi - ax.lo <= (b - a) * 12 + ax.step * 2);
    }
}

static void test_axis_dot(void **state)
{
    (void)state;
    tui_axis ax;
    tui_axis_compute(0, 1, 3, &ax);
    assert_int_equal(tui_axis_dot(&ax, 1, 20), 0);           /* top */
    assert_int_equal(tui_axis_dot(&ax, 0, 20), 19);          /* bottom */
    assert_int_equal(tui_axis_dot(&ax, 0.5, 21), 10);
    assert_int_equal(tui_axis_dot(&ax, 7, 20), 0);           /* clamped */
    assert_int_equal(tui_axis_dot(&ax, -7, 20), 19);
    assert_int_equal(tui_axis_dot(&ax, NAN, 20), 0);         /* never out of the canvas */
    assert_int_equal(tui_axis_dot(&ax, 0.5, 1), 0);
}

static void test_canvas_braille(void **state)
{
    (void)state;
    unsigned char bits[6], role[6];
    tui_canvas c;
    tui_canvas_init(&c, 3, 2, 0, bits, role);
    assert_int_equal(c.dx, 2);
    assert_int_equal(c.dy, 4);
    char g[8];
    assert_null(tui_canvas_glyph(&c, 0, 0, g));
    tui_canvas_dot(&c, 0, 0, 5);
    assert_string_equal(tui_canvas_glyph(&c, 0, 0, g), "\u2801");     /* ⠁ dot 1 */
    assert_int_equal(role[0], 5);
    tui_canvas_dot(&c, 3, 3, 6);                                     /* cell 1, right column, bottom row */
    assert_string_equal(tui_canvas_glyph(&c, 1, 0, g), "\u2880");     /* ⢀ dot 8 */
    for (int y = 4; y < 8; y++) for (int x = 4; x < 6; x++) tui_canvas_dot(&c, x, y, 1);
    assert_string_equal(tui_canvas_glyph(&c, 2, 1, g), "\u28ff");     /* ⣿ full */
    tui_canvas_dot(&c, -1, 0, 1);                                    /* off canvas: ignored */
    tui_canvas_dot(&c, 6, 0, 1);
    tui_canvas_dot(&c, 0, 8, 1);
    assert_null(tui_canvas_glyph(&c, 2, 0, g));
    assert_null(tui_canvas_glyph(&c, 0, 1, g));
}

static void test_canvas_ascii_and_lines(void **state)
{
    (void)state;
    unsigned char bits[8], role[8];
    tui_canvas c;
    tui_canvas_init(&c, 4, 2, 1, bits, role);
    assert_int_equal(c.dx, 1);
    assert_int_equal(c.dy, 3);
    char g[8];
    tui_canvas_dot(&c, 0, 0, 1);
    assert_string_equal(tui_canvas_glyph(&c, 0, 0, g), "'");
    tui_canvas_dot(&c, 1, 1, 1);
    assert_string_equal(tui_canvas_glyph(&c, 1, 0, g), "-");
    tui_canvas_dot(&c, 2, 2, 1);
    assert_string_equal(tui_canvas_glyph(&c, 2, 0, g), "_");
    tui_canvas_line(&c, 3, 0, 3, 5, 2);                              /* vertical: both cells, stroke */
    assert_string_equal(tui_canvas_glyph(&c, 3, 0, g), "|");
    assert_string_equal(tui_canvas_glyph(&c, 3, 1, g), "|");
    assert_int_equal(role[3], 2);

    tui_canvas_init(&c, 4, 2, 1, bits, role);                        /* a line touches every column it spans */
    tui_canvas_line(&c, 0, 5, 3, 0, 1);
    for (int x = 0; x < 4; x++) {
        int any = bits[x] | bits[4 + x];
        assert_true(any != 0);
    }
    tui_canvas_line(&c, -10, -10, 100, 100, 1);                      /* clipped, terminates */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nice_num),
        cmocka_unit_test(test_axis_basic),
        cmocka_unit_test(test_axis_flat_and_bad),
        cmocka_unit_test(test_axis_properties),
        cmocka_unit_test(test_axis_dot),
        cmocka_unit_test(test_canvas_braille),
        cmocka_unit_test(test_canvas_ascii_and_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
