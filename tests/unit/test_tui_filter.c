/* tui/widgets/filter and robust: the layer filter (POSIX extended regex, smart case, an invalid pattern
 * reported and the last valid one kept) and the outlier statistics (selection, median, MAD, the
 * robust z rule). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/widgets/filter.h"
#include "../../tui/widgets/robust.h"

static void test_filter_basics(void **state)
{
    (void)state;
    tui_filter f;
    tui_filter_init(&f);
    assert_false(tui_filter_on(&f));
    assert_true(tui_filter_match(&f, "anything"));
    unsigned g0 = f.gen;
    assert_int_equal(tui_filter_set(&f, "fc[12]\\.weight$"), 0);
    assert_true(tui_filter_on(&f));
    assert_true(f.gen != g0);
    assert_true(tui_filter_match(&f, "fc1.weight"));
    assert_true(tui_filter_match(&f, "blocks.3.fc2.weight"));
    assert_false(tui_filter_match(&f, "fc3.weight"));
    assert_false(tui_filter_match(&f, "fc1.weight.bias"));
    assert_false(tui_filter_match(&f, NULL));
    /* extended syntax: alternation, groups, counts */
    assert_int_equal(tui_filter_set(&f, "^(attn|mlp)\\.(q|k){1}_proj"), 0);
    assert_true(tui_filter_match(&f, "attn.q_proj"));
    assert_false(tui_filter_match(&f, "xattn.q_proj"));
    /* the same pattern again changes nothing */
    unsigned g1 = f.gen;
    assert_int_equal(tui_filter_set(&f, "^(attn|mlp)\\.(q|k){1}_proj"), 0);
    assert_int_equal(f.gen, g1);
    /* empty: everything again */
    assert_int_equal(tui_filter_set(&f, ""), 0);
    assert_false(tui_filter_on(&f));
    assert_true(tui_filter_match(&f, "x"));
    tui_filter_free(&f);
}

static void test_filter_smart_case(void **state)
{
    (void)state;
    tui_filter f;
    tui_filter_init(&f);
    assert_int_equal(tui_filter_set(&f, "qproj"), 0);
    assert_true(tui_filter_match(&f, "QPROJ"));
    assert_int_equal(tui_filter_set(&f, "QProj"), 0);          /* a capital: exact case */
    assert_false(tui_filter_match(&f, "qproj"));
    assert_true(tui_filter_match(&f, "x.QProj"));
    tui_filter_free(&f);
}

static void test_filter_invalid(void **state)
{
    (void)state;
    tui_filter f;
    tui_filter_init(&f);
    assert_int_equal(tui_filter_set(&f, "fc"), 0);
    unsigned g = f.gen;
    const char *bad[] = { "fc[", "fc(", "(", "a{2,1}", "*[", "fc\\" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tui_filter_set(&f, bad[i]), -1);
        assert_true(f.err[0] != '\0');                          /* why, from regerror */
        assert_string_equal(f.pattern, bad[i]);                 /* as typed */
        assert_string_equal(f.active, "fc");                    /* the last valid one stays in force */
        assert_int_equal(f.gen, g);
        assert_true(tui_filter_match(&f, "fc1"));
        assert_false(tui_filter_match(&f, "conv"));
    }
    assert_int_equal(tui_filter_set(&f, "fc[1]"), 0);           /* fixed: the error goes */
    assert_string_equal(f.err, "");
    tui_filter_free(&f);
    tui_filter_free(&f);                                        /* twice is harmless */
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_select_kth(void **state)
{
    (void)state;
    srand(3);
    double a[257], b[257];
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + (size_t)(rand() % 257);
        for (size_t i = 0; i < n; i++) a[i] = trial % 3 == 0 ? (double)(rand() % 5) : (double)rand() / RAND_MAX - 0.5;
        memcpy(b, a, n * sizeof *a);
        qsort(b, n, sizeof *b, cmpd);
        size_t k = (size_t)rand() % n;
        assert_true(tui_select_kth(a, n, k) == b[k]);
        for (size_t i = 0; i < k; i++) assert_true(a[i] <= b[k]);   /* partitioned around it */
    }
    assert_true(isnan(tui_select_kth(a, 0, 0)));
}

static void test_robust(void **state)
{
    (void)state;
    double v[] = { 1, 2, 3, 4, 100, NAN, INFINITY }, s[7];
    tui_robust r = tui_robust_stats(v, 7, s);
    assert_int_equal(r.n, 5);
    assert_true(r.median == 3);
    assert_true(r.mad == 1);                 /* |x - 3| = 2 1 0 1 97 → 1 */
    assert_true(tui_robust_outlier(&r, 100, TUI_OUTLIER_K));
    assert_false(tui_robust_outlier(&r, 4, TUI_OUTLIER_K));
    assert_true(tui_robust_outlier(&r, 3 - 3 * 1.4826 - 0.01, 3));
    assert_false(tui_robust_outlier(&r, 3 - 3 * 1.4826 + 0.01, 3));
    assert_false(tui_robust_outlier(&r, NAN, 3));               /* NaN is the alarm's business */
    double even[] = { 1, 2, 3, 4 };
    r = tui_robust_stats(even, 4, s);
    assert_true(r.median == 2.5);
    assert_false(tui_robust_outlier(&r, 1000, 3));               /* fewer than 5 values: none */
    double flat[] = { 2, 2, 2, 2, 2, 2, 9 };
    r = tui_robust_stats(flat, 7, s);
    assert_true(r.mad == 0);
    assert_false(tui_robust_outlier(&r, 9, 3));                  /* MAD 0: no scale, no verdict */
    double none[] = { NAN, NAN };
    r = tui_robust_stats(none, 2, s);
    assert_int_equal(r.n, 0);
    assert_true(isnan(r.median));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_basics),
        cmocka_unit_test(test_filter_smart_case),
        cmocka_unit_test(test_filter_invalid),
        cmocka_unit_test(test_select_kth),
        cmocka_unit_test(test_robust),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
