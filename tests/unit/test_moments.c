/* moments: hand-computed values, merge == one pass over the concatenation, guards (GWA itself: test_gwa.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "../../metrics/gwa.h"

#define assert_near(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))
#define assert_rel(a, b, rtol) assert_true(fabs((double)(a) - (double)(b)) <= (rtol) * fabs((double)(b)))

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static double uniform(void)
{
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)
{
    return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform());
}

/* x = {1, 2, 3, 4, 10}: mean 4, deviations −3 −2 −1 0 6, M2 = 50, M3 = 180, M4 = 1394. */
static const double hand[] = { 1, 2, 3, 4, 10 };

static void check_hand(const tt_moments *m)
{
    assert_int_equal(m->n, 5);
    assert_rel(m->mean, 4, 1e-15);
    assert_rel(m->m2, 50, 1e-14);
    assert_rel(m->m3, 180, 1e-14);
    assert_rel(m->m4, 1394, 1e-14);
    assert_rel(tt_moments_var(m), 10, 1e-14);
    assert_rel(tt_moments_std(m), sqrt(10), 1e-14);
    assert_rel(tt_moments_skewness(m), sqrt(5) * 180 / pow(50, 1.5), 1e-13);
    assert_rel(tt_moments_kurtosis(m), 5 * 1394 / 2500.0 - 3, 1e-13);     /* −0.212 */
    assert_rel(tt_gwa(m), 4 / (5 * 1394 / 2500.0 - 3 + 1.2), 1e-13);      /* 4/0.988 */
}

static void hand_computed(void **state)
{
    (void)state;
    tt_moments a = { 0 }, b, c = { 0 }, d = { 0 };
    for (int i = 0; i < 5; i++) tt_moments_add(&a, hand[i]);
    check_hand(&a);
    tt_moments_reset(&b);
    tt_moments_add_array(&b, hand, 5);
    check_hand(&b);
    tt_moments_add_array(&c, hand, 2);                  /* {1, 2} ∪ {3, 4, 10} */
    tt_moments_add_array(&d, hand + 2, 3);
    tt_moments_merge(&c, &d);
    check_hand(&c);
}

/* Welford's one pass rounds each x − mean at the scale of |mean|, so its error grows with |mean|/sd
 * (≈1e6 in the offset trials): the tolerance scales with that condition number. */
static void compare(const tt_moments *got, const tt_moments *want)
{
    assert_int_equal(got->n, want->n);
    assert_int_equal(got->nonfinite, want->nonfinite);
    double sd = sqrt(want->m2 / (double)want->n);
    double tol = 1e-13 * (1 + fabs(want->mean) / sd);
    /* Relative to the natural scale of each moment: M3 can be near 0 for symmetric data. */
    assert_near(got->mean, want->mean, 1e-15 * fabs(want->mean) + tol * sd);
    assert_near(got->m2, want->m2, tol * want->m2);
    assert_near(got->m3, want->m3, tol * want->m2 * sd);
    assert_near(got->m4, want->m4, tol * want->m4);
    double k = tt_moments_kurtosis(want);
    assert_near(tt_moments_kurtosis(got), k, 3 * tol * (3 + fabs(k)));
    assert_near(tt_gwa(got), tt_gwa(want), 10 * tol * (1 + fabs(tt_gwa(want))));
}

static void merge_equals_one_pass(void **state)
{
    (void)state;
    enum { N = 3000 };
    static double x[N];
    for (int trial = 0; trial < 40; trial++) {
        /* A large offset and a skewed, heavy-tailed spread: cancellation would show here. */
        double offset = trial % 2 ? 1e6 : 0.3;
        for (int i = 0; i < N; i++) {
            double z = normal();
            x[i] = offset + z + 0.3 * z * z * z;
        }
        if (trial % 5 == 0) { x[17] = NAN; x[1000] = INFINITY; }
        tt_moments one = { 0 };
        for (int i = 0; i < N; i++) tt_moments_add(&one, x[i]);

        /* Random split into pieces (some empty), each added one way or the other, merged left to right. */
        tt_moments fold = { 0 };
        tt_moments parts[16];
        int np = 0;
        for (int lo = 0; lo < N;) {
            int len = (int)(uniform() * 600) - 50;
            if (len < 0) len = 0;
            if (lo + len > N || np == 15) len = N - lo;
            tt_moments p = { 0 };
            if (uniform() < 0.5) tt_moments_add_array(&p, x + lo, (size_t)len);
            else for (int i = lo; i < lo + len; i++) tt_moments_add(&p, x[i]);
            tt_moments_merge(&fold, &p);
            parts[np++] = p;
            lo += len;
        }
        compare(&fold, &one);
        /* Merging in another order (pairwise, as ranks would) gives the same. */
        while (np > 1) {
            int k = 0;
            for (int i = 0; i + 1 < np; i += 2) { tt_moments_merge(&parts[i], &parts[i + 1]); parts[k++] = parts[i]; }
            if (np % 2) parts[k++] = parts[np - 1];
            np = k;
        }
        compare(&parts[0], &one);
        tt_moments arr = { 0 };
        tt_moments_add_array(&arr, x, N);
        compare(&arr, &one);
    }
}

static void guards(void **state)
{
    (void)state;
    tt_moments m = { 0 };
    /* empty */
    assert_true(isnan(tt_moments_mean(&m)) && isnan(tt_moments_var(&m)) && isnan(tt_moments_std(&m)));
    assert_true(isnan(tt_moments_kurtosis(&m)) && isnan(tt_moments_skewness(&m)) && isnan(tt_gwa(&m)));
    tt_moments_add_array(&m, NULL, 0);
    assert_int_equal(m.n, 0);
    /* one sample: variance 0, no kurtosis */
    tt_moments_add(&m, 0.25);
    assert_true(tt_moments_mean(&m) == 0.25 && tt_moments_var(&m) == 0);
    assert_true(isnan(tt_moments_kurtosis(&m)) && isnan(tt_gwa(&m)));
    /* constant input, by every path: m2 exactly 0, GWA NaN */
    double c[100];
    for (int i = 0; i < 100; i++) c[i] = 0.1;
    tt_moments a = { 0 }, b = { 0 }, d = { 0 };
    for (int i = 0; i < 100; i++) tt_moments_add(&a, 0.1);
    tt_moments_add_array(&b, c, 100);
    tt_moments_add_array(&d, c, 37);
    tt_moments e = { 0 };
    tt_moments_add_array(&e, c + 37, 63);
    tt_moments_merge(&d, &e);
    tt_moments *all[] = { &a, &b, &d };
    for (int k = 0; k < 3; k++) {
        assert_int_equal(all[k]->n, 100);
        assert_true(tt_moments_var(all[k]) == 0);
        assert_true(isnan(tt_moments_kurtosis(all[k])));
        assert_true(isnan(tt_gwa(all[k])));
        assert_near(tt_moments_mean(all[k]), 0.1, 1e-16);
    }
    /* two-point distribution: excess kurtosis −2, the minimum */
    tt_moments t = { 0 };
    double two[] = { -1, 1, -1, 1 };
    tt_moments_add_array(&t, two, 4);
    assert_near(tt_moments_kurtosis(&t), -2, 1e-15);
    /* NaN/Inf are counted, not folded in */
    tt_moments f = { 0 };
    double bad[] = { NAN, 1, INFINITY, 2, -INFINITY, 3, 10, 4 };
    tt_moments_add_array(&f, bad, 8);
    tt_moments_add(&f, NAN);
    assert_int_equal(f.n, 5);
    assert_int_equal(f.nonfinite, 4);
    assert_rel(tt_gwa(&f), 4 / 0.988, 1e-13);
    tt_moments allbad = { 0 };
    tt_moments_add_array(&allbad, bad, 1);
    assert_int_equal(allbad.n, 0);
    assert_int_equal(allbad.nonfinite, 1);
    tt_moments_merge(&allbad, &f);                      /* empty ∪ f keeps both counts */
    assert_int_equal(allbad.n, 5);
    assert_int_equal(allbad.nonfinite, 5);
    /* overflowing moments give NaN, not Inf */
    tt_moments h = { 0 };
    double huge[] = { -1e300, 1e300, 0, 5e299 };
    tt_moments_add_array(&h, huge, 4);
    assert_true(isnan(tt_moments_kurtosis(&h)) && isnan(tt_gwa(&h)));
    /* merging into itself an empty one changes nothing */
    tt_moments z = { 0 }, hc = { 0 };
    tt_moments_add_array(&hc, hand, 5);
    tt_moments_merge(&hc, &z);
    check_hand(&hc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hand_computed),
        cmocka_unit_test(merge_equals_one_pass),
        cmocka_unit_test(guards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
