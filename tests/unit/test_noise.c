/* noise: the §2 noise formulas on hand-computed small cases, their guards, EMA bias correction,
 * GSNR, scale invariance and the equilibrium angles; plus a per-sample → noise end-to-end case. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "../../metrics/noise.h"
#include "../../metrics/persample.h"

#define assert_rel(a, b, rtol) assert_true(fabs((double)(a) - (double)(b)) <= (rtol) * fabs((double)(b)))
#define assert_near(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

/* Three per-sample gradients g = (1,0), (0,1), (2,2): Ḡ = (1,1), ‖Ḡ‖² = 2, S = 10, P = 1, 1, 4.
 * tr Σ̂ = (10 − 6)/2 = 2 (= Σ‖g_i − Ḡ‖²/2 = (1 + 1 + 2)/2), |G|² = 2 − 2/3 = 4/3, B_simple = 1.5,
 * θ = sqrt(2/6), var_inner = (18 − 12)/2 = 3, θ_inner = sqrt(3/12) = 0.5,
 * var_ortho = (10 − 18/2)/2 = 0.5 (residuals (.5,−.5), (−.5,.5), (0,0)), ν = sqrt(0.5/6). */
static void check_three(const tt_noise *n)
{
    assert_rel(n->trace_sigma, 2, 1e-15);
    assert_rel(n->g2, 4.0 / 3, 1e-15);
    assert_rel(n->b_simple, 1.5, 1e-15);
    assert_rel(n->theta, sqrt(1.0 / 3), 1e-15);
    assert_rel(n->var_inner, 3, 1e-15);
    assert_rel(n->theta_inner, 0.5, 1e-15);
    assert_rel(n->var_ortho, 0.5, 1e-15);
    assert_rel(n->nu, sqrt(0.5 / 6), 1e-15);
}

static void hand_computed(void **state)
{
    (void)state;
    tt_noise n;
    tt_noise_from_sums(3, 10, 18, 2, &n);
    check_three(&n);
    double g2[] = { 1, 1, 8 }, P[] = { 1, 1, 4 };
    tt_noise_persample(3, g2, P, 2, &n);
    check_three(&n);
    /* without P: the inner/orthogonality statistics are NaN, the rest unchanged */
    tt_noise_persample(3, g2, NULL, 2, &n);
    assert_rel(n.b_simple, 1.5, 1e-15);
    assert_true(isnan(n.var_inner) && isnan(n.theta_inner) && isnan(n.var_ortho) && isnan(n.nu));
}

/* The same three samples through tt_dense_persample: d_out = 1, δ_i = 1, a_i = g_i. */
static void persample_end_to_end(void **state)
{
    (void)state;
    const float A[] = { 1, 0, 0, 1, 2, 2 }, D[] = { 1, 1, 1 }, W[] = { 0.5f, -1 };
    float Gbar[2], bbar[1];
    tt_persample_mean_grad(3, 1, 2, 1, A, D, 1, Gbar, bbar);
    assert_true(Gbar[0] == 1 && Gbar[1] == 1 && bbar[0] == 1);
    double gw[3], gg[3], gG[3], gamma[3];
    tt_persample_out o = { .gw = gw, .gg = gg, .gG = gG, .gamma = gamma };
    tt_dense L = { .B = 3, .T = 1, .d_in = 2, .d_out = 1, .A = A, .D = D, .scale = 1, .W = W, .Gbar = Gbar };
    void *work = malloc(tt_persample_work_size(3, 1, 1));
    assert_int_equal(tt_dense_persample(&L, work, &o), 0);
    const double want_gw[] = { 0.5, -1, -1 }, want_gg[] = { 1, 1, 8 }, want_P[] = { 1, 1, 4 };
    for (int i = 0; i < 3; i++) {
        assert_rel(gw[i], want_gw[i], 1e-15);
        assert_rel(gg[i], want_gg[i], 1e-15);
        assert_rel(gG[i], want_P[i], 1e-15);
        assert_rel(gamma[i], -want_gw[i] / (sqrt(want_gg[i]) * sqrt(1.25) + 1e-12), 1e-15);
    }
    assert_rel(o.gbar_norm2, 2, 1e-15);
    assert_rel(o.w_norm2, 1.25, 1e-15);
    tt_noise n;
    tt_noise_persample(3, gg, gG, o.gbar_norm2, &n);
    check_three(&n);
    /* The framework's mean-loss δ/B with scale = B gives the same per-sample gradients. */
    const float Dm[] = { 1.0f / 4, 1.0f / 4, 1.0f / 4, 1.0f / 4 };
    const float A4[] = { 1, 0, 0, 1, 2, 2, 1, 1 };
    tt_dense L4 = { .B = 4, .T = 1, .d_in = 2, .d_out = 1, .A = A4, .D = Dm, .scale = 4, .W = W };
    double gg4[4];
    tt_persample_out o4 = { .gg = gg4 };
    void *work4 = malloc(tt_persample_work_size(4, 1, 1));
    assert_int_equal(tt_dense_persample(&L4, work4, &o4), 0);
    assert_rel(gg4[2], 8, 1e-15);
    assert_rel(gg4[3], 2, 1e-15);
    free(work);
    free(work4);
}

static void guards(void **state)
{
    (void)state;
    tt_noise n;
    /* B = 1: nothing is defined */
    tt_noise_from_sums(1, 4, 16, 4, &n);
    assert_true(isnan(n.trace_sigma) && isnan(n.g2) && isnan(n.b_simple) && isnan(n.theta));
    assert_true(isnan(n.var_inner) && isnan(n.theta_inner) && isnan(n.var_ortho) && isnan(n.nu));
    tt_noise_from_sums(0, 0, 0, 0, &n);
    assert_true(isnan(n.trace_sigma) && isnan(n.nu));
    /* Ḡ = 0 with noise: tr Σ̂ = S/(B−1) defined, the tests that divide by ‖Ḡ‖ are NaN */
    tt_noise_from_sums(4, 12, 0, 0, &n);
    assert_rel(n.trace_sigma, 4, 1e-15);
    assert_rel(n.g2, -1, 1e-15);
    assert_true(isnan(n.theta) && isnan(n.theta_inner) && isnan(n.nu));
    /* identical samples: tr Σ̂ = 0 exactly or by rounding → 0, |G|² = ‖Ḡ‖², B_simple = 0 */
    tt_noise_from_sums(4, 4 * 3.0, 4 * 9.0, 3.0 * (1 + 1e-9), &n);
    assert_true(n.trace_sigma == 0 && n.var_inner == 0 && n.theta == 0);
    assert_true(n.b_simple == 0);
    /* inconsistent sums (Ḡ was not the mean of these g_i): clearly negative variance → NaN */
    tt_noise_from_sums(4, 4, 16, 2, &n);
    assert_true(isnan(n.trace_sigma) && isnan(n.g2) && isnan(n.b_simple) && isnan(n.theta));
    /* non-finite inputs */
    tt_noise_from_sums(3, NAN, 18, 2, &n);
    assert_true(isnan(n.trace_sigma) && isnan(n.nu));
    tt_noise_from_sums(3, 10, INFINITY, 2, &n);
    assert_rel(n.trace_sigma, 2, 1e-15);
    assert_true(isnan(n.var_inner) && isnan(n.nu));
    double g2[] = { 1, NAN, 8 }, P[] = { 1, 1, 4 };
    tt_noise_persample(3, g2, P, 2, &n);
    assert_true(isnan(n.trace_sigma) && isnan(n.b_simple));
    /* |G|² = 0 exactly: B_simple NaN, not Inf */
    tt_noise_from_sums(2, 4, 4, 1, &n);                 /* tr = 2, |G|² = 1 − 1 = 0 */
    assert_rel(n.trace_sigma, 2, 1e-15);
    assert_true(n.g2 == 0 && isnan(n.b_simple));
}

static void cross_rank(void **state)
{
    (void)state;
    /* G_1 = (3,1), G_2 = (1,1): ‖·‖² 10 and 2, mean 6; Ḡ = (2,1), ‖Ḡ‖² = 5; b = 8 per rank.
     * tr Σ_K = (6 − 5)·2/1 = 2, |G|² = (2·5 − 6)/1 = 4, trace = 8·2 = 16, B_simple = 16/4 = 4. */
    double loc[] = { 10, 2 };
    tt_noise_est e;
    tt_noise_cross_rank(2, loc, 5, 8, &e);
    assert_rel(e.trace_sigma, 16, 1e-15);
    assert_rel(e.g2, 4, 1e-15);
    assert_rel(e.b_simple, 4, 1e-15);
    /* Two batch sizes b = 8 (one rank), B = 16 (both): the same estimate. */
    tt_noise_two_batch(8, 6, 16, 5, &e);
    assert_rel(e.trace_sigma, 16, 1e-15);
    assert_rel(e.g2, 4, 1e-15);
    assert_rel(e.b_simple, 4, 1e-15);
    /* K = B ranks of one sample each is the per-sample estimate (the three-sample case). */
    double one[] = { 1, 1, 8 };
    tt_noise_cross_rank(3, one, 2, 1, &e);
    assert_rel(e.trace_sigma, 2, 1e-15);
    assert_rel(e.g2, 4.0 / 3, 1e-15);
    assert_rel(e.b_simple, 1.5, 1e-15);
    /* guards */
    tt_noise_cross_rank(1, loc, 5, 8, &e);
    assert_true(isnan(e.trace_sigma) && isnan(e.g2) && isnan(e.b_simple));
    tt_noise_cross_rank(2, loc, 5, 0, &e);
    assert_true(isnan(e.b_simple));
    double bad[] = { 10, NAN };
    tt_noise_cross_rank(2, bad, 5, 8, &e);
    assert_true(isnan(e.b_simple) && isnan(e.g2));
    tt_noise_two_batch(16, 5, 16, 5, &e);               /* b = B */
    assert_true(isnan(e.trace_sigma) && isnan(e.g2) && isnan(e.b_simple));
    tt_noise_two_batch(0, 5, 16, 5, &e);
    assert_true(isnan(e.b_simple));
    tt_noise_two_batch(8, 5, 16, 5, &e);                /* no noise seen: tr = 0, |G|² = 5 */
    assert_true(e.trace_sigma == 0 && e.b_simple == 0);
    assert_rel(e.g2, 5, 1e-15);
}

static void ema(void **state)
{
    (void)state;
    tt_ema e;
    tt_ema_init(&e, 0.9);
    assert_true(isnan(tt_ema_get(&e)));
    /* One sample: raw value 0.1·5 = 0.5, corrected by 1 − 0.9 → exactly the sample. */
    tt_ema_add(&e, 5);
    assert_rel(tt_ema_get(&e), 5, 1e-15);
    assert_rel(e.value, 0.5, 1e-15);
    tt_ema_add(&e, 5);
    assert_rel(tt_ema_get(&e), 5, 1e-15);              /* a constant stays constant from step 1 */
    /* x = 5, 5, 1, 2: value = Σ 0.1·0.9^(t−k) x_k, corrected by 1 − 0.9^4 */
    tt_ema_add(&e, 1);
    tt_ema_add(&e, NAN);                                /* skipped, counted */
    tt_ema_add(&e, 2);
    double v = 0.1 * (5 * pow(0.9, 3) + 5 * pow(0.9, 2) + 1 * 0.9 + 2);
    assert_rel(e.value, v, 1e-14);
    assert_rel(tt_ema_get(&e), v / (1 - pow(0.9, 4)), 1e-14);
    assert_rel(e.weight, 1 - pow(0.9, 4), 1e-14);
    assert_int_equal(e.t, 4);
    assert_int_equal(e.skipped, 1);
    /* β = 0: the last sample */
    tt_ema_init(&e, 0);
    tt_ema_add(&e, 3);
    tt_ema_add(&e, 7);
    assert_true(tt_ema_get(&e) == 7);
}

static void noise_scale_smoother(void **state)
{
    (void)state;
    tt_noise_scale s;
    tt_noise_scale_init(&s, 0.5);
    assert_true(isnan(tt_noise_scale_get(&s)));
    tt_noise_scale_add(&s, 2, 1);
    assert_rel(tt_noise_scale_get(&s), 2, 1e-15);
    /* |G|² of one step negative: the smoothed denominator (0.5·1 − 0.5)/0.75 < 0 → NaN, not a
     * negative or infinite batch size */
    tt_noise_scale_add(&s, 4, -1);
    assert_true(isnan(tt_noise_scale_get(&s)));
    tt_noise_scale_add(&s, 0, 3);
    /* num: 0.5·(0.5·(0.5·2) + 0.5·4) + 0 = 1.25, den: 0.5·(0.5·0.5 − 0.5) + 1.5 = 1.375 (the
     * corrections 1 − 0.5³ cancel): the ratio of the means, not the mean of the ratios */
    assert_rel(tt_noise_scale_get(&s), 1.25 / 1.375, 1e-15);
    tt_noise_scale_add(&s, NAN, 3);                     /* both or neither */
    assert_int_equal(s.num.t, 3);
    assert_int_equal(s.den.t, 3);
    assert_rel(tt_noise_scale_get(&s), 1.25 / 1.375, 1e-15);
}

static void gsnr(void **state)
{
    (void)state;
    /* B = 2, one weight: a = (1, 2), δ = (1, 1) → g = (1, 2), ḡ = 1.5, var = 2.5 − 2.25 = 0.25 → 9.
     * Second weight column a = (1, 1): g = (1, 1), var 0 → left out of the mean. */
    const float A[] = { 1, 1, 2, 1 }, D[] = { 1, 1 };
    float G[2];
    tt_persample_mean_grad(2, 1, 2, 1, A, D, 1, G, NULL);
    void *work = malloc(tt_gsnr_work_size(2, 2, 1));
    size_t used;
    assert_rel(tt_gsnr_dense(2, 1, 2, 1, A, D, 1, G, work, &used), 9, 1e-12);
    assert_int_equal(used, 1);
    /* Mean-loss δ/B with scale = B: same; scaled inputs (GSNR is scale free): same. */
    const float Dm[] = { 0.5f, 0.5f }, Ab[] = { 1e30f, 1e30f, 2e30f, 1e30f };
    float Gb[2];
    assert_rel(tt_gsnr_dense(2, 1, 2, 1, A, Dm, 2, G, work, NULL), 9, 1e-12);
    tt_persample_mean_grad(2, 1, 2, 1, Ab, D, 1, Gb, NULL);
    assert_rel(tt_gsnr_dense(2, 1, 2, 1, Ab, D, 1, Gb, work, NULL), 9, 1e-5);   /* float Ḡ, var/m2 = 0.1 */
    /* T > 1 is not supported; NaN input; all-constant gradients → NaN */
    assert_true(isnan(tt_gsnr_dense(1, 2, 2, 1, A, D, 1, G, work, &used)) && used == 0);
    const float An[] = { 1, NAN, 2, 1 };
    assert_true(isnan(tt_gsnr_dense(2, 1, 2, 1, An, D, 1, G, work, NULL)));
    const float Ac[] = { 1, 1, 1, 1 };
    float Gc[2];
    tt_persample_mean_grad(2, 1, 2, 1, Ac, D, 1, Gc, NULL);
    assert_true(isnan(tt_gsnr_dense(2, 1, 2, 1, Ac, D, 1, Gc, work, &used)) && used == 0);
    free(work);
    /* Bias, T = 2: b_i = Σ_t δ_it = (1, 3) → b̄ = 2, var = 5 − 4 = 1 → 4. */
    const float Db[] = { 0.5f, 0.5f, 1, 2 };
    float bb[1];
    tt_persample_mean_grad(2, 2, 0, 1, NULL, Db, 1, NULL, bb);
    assert_rel(bb[0], 2, 1e-15);
    assert_rel(tt_gsnr_bias(2, 2, 1, Db, 1, bb, &used), 4, 1e-15);
    assert_int_equal(used, 1);
    assert_true(isnan(tt_gsnr_bias(0, 2, 1, Db, 1, bb, NULL)));
}

static void scale_invariance(void **state)
{
    (void)state;
    /* Rows of G orthogonal to the rows of W (the gradient of a scale-invariant loss) → 1. */
    const float W[] = { 1, 0, 0, 0, 0, 2, 0, 0 }, Go[] = { 0, 1, 3, 0, 1, 0, 0, 5 };
    double c;
    assert_int_equal(tt_scale_invariant(W, Go, 2, 4, &c), 1);
    assert_true(c == 0);
    /* G = W: cos 1 → 0 */
    assert_int_equal(tt_scale_invariant(W, W, 2, 4, &c), 0);
    assert_rel(c, 1, 1e-15);
    /* threshold 0.1/sqrt(4) = 0.05: cos 0.04 passes, 0.06 does not */
    const float W1[] = { 1, 0, 0, 0 };
    float G1[] = { 0.04f, (float)sqrt(1 - 0.04 * 0.04), 0, 0 };
    assert_int_equal(tt_scale_invariant(W1, G1, 1, 4, &c), 1);
    G1[0] = 0.06f; G1[1] = (float)sqrt(1 - 0.06 * 0.06);
    assert_int_equal(tt_scale_invariant(W1, G1, 1, 4, &c), 0);
    assert_rel(c, 0.06, 1e-6);
    /* zero gradient rows are skipped; nothing left, or NaN → undecidable */
    const float Z[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(tt_scale_invariant(W, Z, 2, 4, &c), -1);
    assert_true(isnan(c));
    const float Gn[] = { 0, NAN, 0, 0, 0, 0, 0, 1 };
    assert_int_equal(tt_scale_invariant(W, Gn, 2, 4, NULL), -1);
}

static void angles_and_steps(void **state)
{
    (void)state;
    /* AdamW lr 1e-3, wd 0.1, β1 0.9: sqrt(2e-4·0.1/1.9); SGD lr 1e-3, wd 0.1, m 0.9: sqrt(2e-4/1.9). */
    assert_rel(tt_equilibrium_angle_adamw(1e-3, 0.1, 0.9), sqrt(2e-4 * 0.1 / 1.9), 1e-15);
    assert_rel(tt_equilibrium_angle_sgdm(1e-3, 0.1, 0.9), sqrt(2e-4 / 1.9), 1e-15);
    assert_rel(tt_equilibrium_angle_sgdm(0.1, 5e-4, 0), sqrt(1e-4), 1e-15);
    assert_true(tt_equilibrium_angle_adamw(1e-3, 0, 0.9) == 0);
    assert_true(isnan(tt_equilibrium_angle_adamw(1e-3, 0.1, -1)));
    assert_true(isnan(tt_equilibrium_angle_sgdm(-1e-3, 0.1, 0.9)));
    assert_true(isnan(tt_equilibrium_angle_sgdm(NAN, 0.1, 0.9)));
    assert_rel(tt_effective_step_sgd(0.1, 2), 0.025, 1e-15);
    assert_true(isnan(tt_effective_step_sgd(0.1, 0)));
    assert_true(isnan(tt_effective_step_sgd(0.1, INFINITY)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hand_computed),
        cmocka_unit_test(persample_end_to_end),
        cmocka_unit_test(guards),
        cmocka_unit_test(cross_rank),
        cmocka_unit_test(ema),
        cmocka_unit_test(noise_scale_smoother),
        cmocka_unit_test(gsnr),
        cmocka_unit_test(scale_invariance),
        cmocka_unit_test(angles_and_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
