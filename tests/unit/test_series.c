/* series: bounded memory, spikes survive merging, queries honour range and point budget. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "../../collectors/series.h"

static void exact_while_small(void **state)
{
    (void)state;
    tt_series *s = tt_series_new(16);
    for (int i = 1; i <= 10; i++) assert_int_equal(tt_series_append(s, i, i * 2.0), 0);
    tt_point p[32];
    size_t n = tt_series_query(s, 0, 100, 32, p);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p[i].step, (int64_t)i + 1);
        assert_true(p[i].mean == (float)(2.0 * (i + 1)) && p[i].count == 1);
    }
    assert_true(tt_series_last(s) == 20.0);
    assert_int_equal(tt_series_last_step(s), 10);
    tt_series_free(s);
}

static void spike_survives_and_memory_is_bounded(void **state)
{
    (void)state;
    tt_series *s = tt_series_new(64);
    const int64_t N = 1000000;
    for (int64_t i = 1; i <= N; i++) tt_series_append(s, i, i == 1234 ? 1e6 : 1.0);
    /* 64 buckets per level, log2(N/64) ≈ 14 levels → well under 64 KiB. */
    assert_true(tt_series_bytes(s) < 64 * 1024);
    tt_point p[8];
    size_t n = tt_series_query(s, 0, N, 8, p);
    assert_true(n >= 1 && n <= 8);
    float mx = 0;
    uint64_t count = 0;
    for (size_t i = 0; i < n; i++) { if (p[i].max > mx) mx = p[i].max; count += p[i].count; }
    assert_true(mx == 1e6f);                   /* the one-step spike is still there */
    assert_int_equal(count, (uint64_t)N);      /* every point is accounted for */
    for (size_t i = 1; i < n; i++) assert_true(p[i].first > p[i - 1].step);   /* ordered, disjoint */
    assert_int_equal(p[n - 1].step, N);
    assert_true(p[n - 1].last == 1.0f);
    tt_series_free(s);
}

static void mean_is_weighted_and_nan_is_skipped(void **state)
{
    (void)state;
    tt_series *s = tt_series_new(4);
    double v[] = { 1, 2, NAN, 4, 5, 6, 7, 8, 9, 10 };
    for (int i = 0; i < 10; i++) tt_series_append(s, i, v[i]);
    tt_point p[1];
    assert_int_equal(tt_series_query(s, 0, 9, 1, p), 1);
    assert_int_equal(p[0].count, 10);
    assert_int_equal(p[0].finite, 9);
    assert_float_equal(p[0].mean, 52.0 / 9.0, 1e-5);
    assert_true(p[0].min == 1 && p[0].max == 10 && p[0].last == 10);
    tt_series_free(s);
}

static void range_query(void **state)
{
    (void)state;
    tt_series *s = tt_series_new(8);
    for (int i = 0; i < 1000; i++) tt_series_append(s, i, i);
    tt_point p[64];
    size_t n = tt_series_query(s, 990, 999, 64, p);
    /* Level 0 keeps the newest cap-2..cap points exact; older ones are pairs. */
    assert_true(n >= 6 && n <= 10);
    uint64_t count = 0;
    for (size_t i = 0; i < n; i++) count += p[i].count;
    assert_true(count >= 10 && count <= 11);   /* a pair may straddle step 990 */
    assert_true(p[0].first <= 990 && p[n - 1].step == 999);
    for (size_t i = n - 6; i < n; i++) assert_int_equal(p[i].count, 1);
    assert_int_equal(tt_series_query(s, 2000, 3000, 64, p), 0);
    tt_series_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_while_small),
        cmocka_unit_test(spike_survives_and_memory_is_bounded),
        cmocka_unit_test(mean_is_weighted_and_nan_is_skipped),
        cmocka_unit_test(range_query),
    };
    return cmocka_run_group_tests_name("series", tests, NULL, NULL);
}
