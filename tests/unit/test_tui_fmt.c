/* tui/widgets/fmt: 4 significant digits, SI suffixes, short exponents, nan/inf, decade rounding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/widgets/fmt.h"

static void expect_num(double v, const char *want)
{
    char buf[TUI_FMT_MAX];
    tui_fmt_num(buf, sizeof buf, v);
    if (strcmp(buf, want) != 0) fail_msg("tui_fmt_num(%.17g) = \"%s\", want \"%s\"", v, buf, want);
}

static void test_plain(void **state)
{
    (void)state;
    expect_num(0, "0");
    expect_num(-0.0, "0");
    expect_num(0.5, "0.5");
    expect_num(-0.5, "-0.5");
    expect_num(1, "1");
    expect_num(3.14159265, "3.142");
    expect_num(100, "100");
    expect_num(1234, "1234");
    expect_num(-1234, "-1234");
    expect_num(0.1, "0.1");
    expect_num(0.30000000000000004, "0.3");
    expect_num(0.001234, "0.001234");
    expect_num(0.001, "0.001");
    expect_num(9.87654, "9.877");
}

static void test_si(void **state)
{
    (void)state;
    expect_num(12346, "12.35k");
    expect_num(10000, "10k");
    expect_num(123456, "123.5k");
    expect_num(1.5e9, "1.5G");
    expect_num(-2.5e6, "-2.5M");
    expect_num(7.25e12, "7.25T");
    expect_num(9.5e15, "9.5P");
    expect_num(9999.7, "10k");          /* rounds into the next decade: formatted from the rounded digits */
    expect_num(999960, "1M");
}

static void test_exponent(void **state)
{
    (void)state;
    expect_num(1.234e-5, "1.234e-5");
    expect_num(-1.234e-5, "-1.234e-5");
    expect_num(1e-4, "1e-4");
    expect_num(9.999e-4, "9.999e-4");
    expect_num(0.00099999, "0.001");    /* rounds up into the plain range */
    expect_num(1e18, "1e18");
    expect_num(1e21, "1e21");
    expect_num(9.9999e17, "1e18");
    expect_num(1e-300, "1e-300");
    expect_num(5e-324, "4.941e-324");
}

static void test_nonfinite(void **state)
{
    (void)state;
    expect_num(NAN, "nan");
    expect_num(-NAN, "nan");
    expect_num(INFINITY, "inf");
    expect_num(-INFINITY, "-inf");
}

/* Every magnitude: short, and parses back to the value within 4-digit rounding. */
static void test_width_and_roundtrip(void **state)
{
    (void)state;
    srand(7);
    for (int i = 0; i < 20000; i++) {
        double m = (double)rand() / RAND_MAX * 9 + 1;
        int e = rand() % 80 - 40;
        double v = m * pow(10, e) * (rand() % 2 ? -1 : 1);
        char buf[TUI_FMT_MAX];
        tui_fmt_num(buf, sizeof buf, v);
        size_t len = strlen(buf);
        assert_true(len >= 1 && len <= 10);
        char *end;
        double back = strtod(buf, &end);
        static const char suf[] = "kMGTP";
        if (*end) {
            const char *p = strchr(suf, *end);
            assert_non_null(p);
            assert_int_equal(end[1], '\0');
            back *= pow(1000, (double)(p - suf + 1));
        }
        if (fabs(back - v) > fabs(v) * 5.01e-4) fail_msg("%.17g -> %s -> %.17g", v, buf, back);
    }
}

static void test_small_buffer(void **state)
{
    (void)state;
    char buf[4];
    tui_fmt_num(buf, sizeof buf, 123456.0);
    assert_int_equal(strlen(buf), 3);       /* truncated, terminated */
    assert_null(tui_fmt_num(NULL, 0, 1.0));
}

static void test_count_and_duration(void **state)
{
    (void)state;
    char b[TUI_FMT_MAX];
    assert_string_equal(tui_fmt_count(b, sizeof b, 0), "0");
    assert_string_equal(tui_fmt_count(b, sizeof b, 99999), "99999");
    assert_string_equal(tui_fmt_count(b, sizeof b, 100000), "100k");
    assert_string_equal(tui_fmt_count(b, sizeof b, 123456), "123.5k");
    assert_string_equal(tui_fmt_count(b, sizeof b, 1234567890123ull), "1.235T");
    assert_string_equal(tui_fmt_duration(b, sizeof b, 42), "42s");
    assert_string_equal(tui_fmt_duration(b, sizeof b, 185), "3m05s");
    assert_string_equal(tui_fmt_duration(b, sizeof b, 7620), "2h07m");
    assert_string_equal(tui_fmt_duration(b, sizeof b, 273600), "3d04h");
    assert_string_equal(tui_fmt_duration(b, sizeof b, -1), "-");
    assert_string_equal(tui_fmt_duration(b, sizeof b, NAN), "-");
    assert_string_equal(tui_fmt_pct(b, sizeof b, 0.8123), "0.8%");
    assert_string_equal(tui_fmt_pct(b, sizeof b, 9.94), "9.9%");
    assert_string_equal(tui_fmt_pct(b, sizeof b, 9.96), "10%");
    assert_string_equal(tui_fmt_pct(b, sizeof b, 142.4), "142%");
    assert_string_equal(tui_fmt_pct(b, sizeof b, 3e9), ">1e6%");
    assert_string_equal(tui_fmt_pct(b, sizeof b, -1), "-");
    assert_string_equal(tui_fmt_pct(b, sizeof b, NAN), "-");
    assert_true(strlen(tui_fmt_pct(b, sizeof b, 999999)) < TUI_FMT_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_si),
        cmocka_unit_test(test_exponent),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_width_and_roundtrip),
        cmocka_unit_test(test_small_buffer),
        cmocka_unit_test(test_count_and_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
