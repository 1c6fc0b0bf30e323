/* gwa: the paper-exact value on both sides of its pole, the always-defined signals, the pole flag, the
 * γ histogram (hand-placed bins, zoom, merges in any order give identical windows). The scipy reference
 * on recorded γ is tests/ref/test_gwa.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "../../metrics/gwa.h"

#define assert_rel(a, b, rtol) assert_true(fabs((double)(a) - (double)(b)) <= (rtol) * fabs((double)(b)))

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static double uniform(void)
{
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)
{
    return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static void report_of(const double *g, size_t n, tt_gwa_report *r)
{
    tt_gwa_window w;
    tt_gwa_window_reset(&w);
    tt_gwa_window_add(&w, g, n);
    tt_gwa_window_report(&w, r);
}

/* {0, 1, 0, 1}: mean 1/2, excess kurtosis −2 (the minimum), past the pole: the paper's value is
 * 0.5/−0.8, negative, reported as is and flagged. */
static void past_the_pole(void **state)
{
    (void)state;
    double g[] = { 0, 1, 0, 1 };
    tt_gwa_report r;
    report_of(g, 4, &r);
    assert_rel(r.kurtosis, -2, 1e-14);
    assert_rel(r.gwa, -0.625, 1e-14);
    assert_int_equal(r.pole, 1);
    assert_rel(r.pearson, 1, 1e-14);
    assert_rel(r.robust, 0.5 * exp(2 / 1.2) / 1.2, 1e-14);
    /* n = 4: G1 = 0, G2 = ((n+1)k + 6)(n−1)/((n−2)(n−3)) = −6, BC = 1/(−6 + 27/2) */
    assert_rel(r.bimodality, 1 / 7.5, 1e-13);
    assert_rel(r.frac_neg, 0, 1);
    assert_true(r.mislabeled == 0);                     /* BC below 5/9 */
}

/* {1, 2, 3, 4, 10}/10 − 0.35: mean 0.05, excess kurtosis −0.212 (the moments test's hand case). */
static void hand_case(void **state)
{
    (void)state;
    double g[7];
    const double hand[] = { 1, 2, 3, 4, 10 };
    for (int i = 0; i < 5; i++) g[i] = hand[i] / 10 - 0.35;
    g[5] = NAN; g[6] = -INFINITY;
    tt_gwa_report r;
    report_of(g, 7, &r);
    assert_int_equal(r.count, 5);
    assert_int_equal(r.nonfinite, 2);
    assert_rel(r.mean, 0.05, 1e-13);
    assert_rel(r.std, sqrt(10) / 10, 1e-13);
    assert_rel(r.kurtosis, -0.212, 1e-12);
    assert_rel(r.gwa, 0.05 / 0.988, 1e-12);
    assert_int_equal(r.pole, 0);
    assert_rel(r.frac_neg, 0.6, 1e-15);
    assert_rel(r.robust, 0.05 * exp(0.212 / 1.2) / 1.2, 1e-12);
    /* skewness g1 = sqrt(5)·180/50^1.5; G1 = g1·sqrt(20)/3; G2 = (6k + 6)·4/6; BC = (G1²+1)/(G2 + 48/6) */
    double g1 = sqrt(5) * 180 / pow(50, 1.5), G1 = g1 * sqrt(20) / 3, G2 = (6 * -0.212 + 6) * 4 / 6;
    assert_rel(r.bimodality, (G1 * G1 + 1) / (G2 + 8), 1e-12);
}

/* The pole flag turns on below kurtosis + 1.2 = 0.1, on both sides of the pole. */
static void pole_flag(void **state)
{
    (void)state;
    tt_moments m = { .n = 100, .mean = 0.2, .m2 = 1 };
    tt_gwa_report r;
    double ks[] = { 0, -1.09, -1.11, -1.2 + 1e-9, -1.3 };
    int want[] = { 0, 0, 1, 1, 1 };
    for (int i = 0; i < 5; i++) {
        m.m4 = (ks[i] + 3) / 100;                     /* kurtosis = n·M4/M2² − 3 */
        tt_gwa_stats(&m, 0, &r);
        assert_int_equal(r.pole, want[i]);
        assert_rel(r.gwa, 0.2 / (ks[i] + 1.2), 1e-6);
        assert_true(isfinite(r.robust) && r.robust > 0);
    }
    tt_moments z = { .n = 5, .mean = 0.2, .m2 = 10, .m4 = 36 };   /* 5·36/100 − 3 + 1.2 is exactly 0 */
    tt_gwa_stats(&z, 0, &r);
    assert_true(isnan(r.gwa) && r.pole == 1 && isfinite(r.robust));
}

/* Two modes (40 % around −0.3, 60 % around +0.2): bimodal, the likely-mislabeled fraction is the
 * negative share; one Gaussian mode: not bimodal, 0. */
static void bimodal_and_mislabeled(void **state)
{
    (void)state;
    enum { N = 5000 };
    static double g[N];
    for (int i = 0; i < N; i++) g[i] = (i % 5 < 2 ? -0.3 : 0.2) + 0.02 * normal();
    tt_gwa_report r;
    report_of(g, N, &r);
    assert_true(r.bimodality > 5.0 / 9.0);
    assert_true(r.pole);                              /* a bimodal window sits past the pole */
    assert_rel(r.mislabeled, r.frac_neg, 0);
    assert_rel(r.frac_neg, 0.4, 0.01);
    for (int i = 0; i < N; i++) g[i] = 0.05 + 0.02 * normal();
    report_of(g, N, &r);
    assert_true(r.bimodality < 0.5 && r.mislabeled == 0 && !r.pole);
    assert_rel(r.robust, r.gwa, 0.05);                /* near the Gaussian, robust ≈ paper */
}

static void histogram_bins(void **state)
{
    (void)state;
    /* max |γ| 0.7: r = 1; [−0.5, 0.5) holds 3 of 4 (< 99 %): no zoom, 16 bins of width 1/8 */
    double g[] = { -0.3, 0.1, 0.2, 0.7, NAN };
    tt_gwa_report r;
    report_of(g, 5, &r);
    assert_true(r.hist_range == 1);
    uint64_t want[TT_GWA_HIST_BINS] = { 0 };
    want[5] = want[8] = want[9] = want[13] = 1;
    assert_memory_equal(r.hist, want, sizeof want);
    /* 1000 values in ±0.01 and one at 0.9: r = 1, zoomed 16× to ±1/16, the outlier in the last bin */
    double h[1001];
    for (int i = 0; i < 1000; i++) h[i] = 0.02 * uniform() - 0.01;
    h[1000] = 0.9;
    report_of(h, 1001, &r);
    assert_true(r.hist_range == 1.0 / 16);
    uint64_t total = 0, mid = 0;
    for (int k = 0; k < TT_GWA_HIST_BINS; k++) total += r.hist[k];
    mid = r.hist[5] + r.hist[6] + r.hist[7] + r.hist[8] + r.hist[9] + r.hist[10];   /* ±0.0117 */
    assert_int_equal(total, 1001);
    assert_int_equal(mid, 1000);
    assert_int_equal(r.hist[15], 1);
    /* all γ tiny: the range follows them down (no fixed [−1, 1] that would put them in two bins) */
    for (int i = 0; i < 1000; i++) h[i] = 1e-4 * normal();
    report_of(h, 1000, &r);
    assert_true(r.hist_range <= 1e-3 && r.hist_range >= 1e-4);
    int used = 0;
    for (int k = 0; k < TT_GWA_HIST_BINS; k++) used += r.hist[k] > 0;
    assert_true(used >= 6);
}

/* Windows merged in any order (ranks, steps) equal one window over everything, bin for bin. */
static void merge_any_order(void **state)
{
    (void)state;
    enum { N = 3000 };
    static double g[N];
    for (int i = 0; i < N; i++) g[i] = (i < 1000 ? 1e-3 : i < 2000 ? 0.05 : 0.4) * normal();
    tt_gwa_window all, a, b, c;
    tt_gwa_window_reset(&all);
    tt_gwa_window_add(&all, g, N);
    tt_gwa_window *parts[] = { &a, &b, &c };
    int orders[][3] = { { 0, 1, 2 }, { 2, 1, 0 }, { 1, 2, 0 } };
    for (int o = 0; o < 3; o++) {
        for (int k = 0; k < 3; k++) tt_gwa_window_reset(parts[k]);
        for (int k = 0; k < 3; k++) tt_gwa_window_add(parts[k], g + 1000 * k, 1000);
        tt_gwa_window *m = parts[orders[o][0]];
        tt_gwa_window_merge(m, parts[orders[o][1]]);
        tt_gwa_window_merge(m, parts[orders[o][2]]);
        assert_true(m->r == all.r);
        assert_memory_equal(m->fine, all.fine, sizeof all.fine);
        assert_int_equal(m->neg, all.neg);
        tt_gwa_report rm, ra;
        tt_gwa_window_report(m, &rm);
        tt_gwa_window_report(&all, &ra);
        assert_memory_equal(rm.hist, ra.hist, sizeof ra.hist);
        assert_rel(rm.gwa, ra.gwa, 1e-10);
        assert_rel(rm.bimodality, ra.bimodality, 1e-10);
    }
    /* merging an empty window changes nothing; into an empty one copies */
    tt_gwa_window e, f = all;
    tt_gwa_window_reset(&e);
    tt_gwa_window_merge(&f, &e);
    assert_memory_equal(f.fine, all.fine, sizeof all.fine);
    tt_gwa_window_merge(&e, &all);
    assert_memory_equal(e.fine, all.fine, sizeof all.fine);
    assert_true(e.r == all.r);
}

/* The median from the fine histogram: within one fine bin (r/128) of the exact one, and NaN when empty. */
static void median(void **state)
{
    (void)state;
    enum { N = 4001 };
    static double g[N], sorted[N];
    for (int i = 0; i < N; i++) g[i] = i < 1200 ? -0.02 + 0.005 * normal() : 0.03 + 0.01 * normal();   /* two modes */
    tt_gwa_report r;
    report_of(g, N, &r);
    memcpy(sorted, g, sizeof g);
    for (int i = 1; i < N; i++)                        /* insertion sort: small and exact */
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) { double t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t; }
    double r_fine = 0.125;                             /* max |γ| < 0.125 here: the fine range */
    for (int i = 0; i < N; i++) assert_true(fabs(g[i]) < r_fine);
    assert_true(fabs(r.median - sorted[N / 2]) <= 2 * r_fine / TT_GWA_FINE_BINS);
    assert_true(r.median > 0 && r.median > r.mean);   /* in the majority (positive) mode, above the mean */
    tt_gwa_window w;
    tt_gwa_window_reset(&w);
    tt_gwa_window_report(&w, &r);
    assert_true(isnan(r.median));
}

static void empty_and_degenerate(void **state)
{
    (void)state;
    tt_gwa_window w;
    tt_gwa_window_reset(&w);
    tt_gwa_report r;
    tt_gwa_window_report(&w, &r);
    assert_int_equal(r.count, 0);
    assert_true(isnan(r.gwa) && isnan(r.mean) && isnan(r.frac_neg) && isnan(r.robust) && isnan(r.bimodality));
    assert_true(isnan(r.hist_range) && isnan(r.mislabeled) && r.pole == 0);
    double c[] = { 0.1, 0.1, 0.1, 0.1, 0.1 };       /* constant: no kurtosis, nothing derived from it */
    report_of(c, 5, &r);
    assert_true(isnan(r.gwa) && isnan(r.robust) && isnan(r.bimodality) && r.pole == 0);
    assert_true(r.hist_range == 0.125);
    assert_int_equal(r.hist[14], 5);                  /* 0.1 in [−1/8 + 14/64, −1/8 + 15/64) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(past_the_pole),
        cmocka_unit_test(hand_case),
        cmocka_unit_test(pole_flag),
        cmocka_unit_test(bimodal_and_mislabeled),
        cmocka_unit_test(histogram_bins),
        cmocka_unit_test(merge_any_order),
        cmocka_unit_test(median),
        cmocka_unit_test(empty_and_degenerate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
