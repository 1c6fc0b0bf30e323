/* health: each learning state from a synthetic series (through the real series store), with the step
 * it began; each layer flag among many healthy layers; a live run of the store judged end to end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../collectors/health.h"

/* A series of n steps from f(step), queried back as the dashboard does (64 buckets). */
typedef double (*curve_fn)(int64_t step);
typedef struct {
    tt_point p[TT_HEALTH_POINTS];
    size_t n;
} pts;

static void series_of(pts *out, int64_t steps, int64_t every, curve_fn f)
{
    tt_series *s = tt_series_new(512);
    for (int64_t t = every; t <= steps; t += every) assert_int_equal(tt_series_append(s, t, f(t)), 0);
    out->n = tt_series_query(s, INT64_MIN, INT64_MAX, TT_HEALTH_POINTS, out->p);
    tt_series_free(s);
}

/* a little deterministic minibatch noise */
static double noise(int64_t t) { return 0.03 * sin((double)t * 12.9898) * cos((double)t * 4.1414); }
static double falling(int64_t t) { return 2.3 * exp(-(double)t / 400) + 0.2 + noise(t); }
static double flat(int64_t t) { return t < 300 ? 2.3 - 0.005 * (double)t : 0.8 + 0.3 * noise(t); }
static double val_u(int64_t t) { double d = ((double)t - 500) / 500; return 0.7 + 0.6 * d * d + noise(t); }  /* low at 500 */
static double blowup(int64_t t) { return t < 1200 ? 2.3 * exp(-(double)t / 300) + 0.5 : 0.5 + (double)(t - 1200) / 100; }
static double nan_after(int64_t t) { return t < 900 ? falling(t) : NAN; }
static double acc_chance(int64_t t) { return 0.1 + 0.02 * sin((double)t); }
static double acc_good(int64_t t) { return 0.8 - 0.6 * exp(-(double)t / 200); }

static void judge(const pts *loss, const pts *val, const pts *acc, double chance, tt_health_learning *out)
{
    tt_health_input in = { loss ? loss->p : NULL, loss ? loss->n : 0, val ? val->p : NULL, val ? val->n : 0,
                           acc ? acc->p : NULL,  acc ? acc->n : 0,   chance };
    tt_health_learn(&in, out);
}

static void improving(void **state)
{
    (void)state;
    pts loss, val, acc;
    series_of(&loss, 2000, 1, falling);
    series_of(&val, 2000, 10, falling);
    series_of(&acc, 2000, 10, acc_good);
    tt_health_learning h;
    judge(&loss, &val, &acc, 0.1, &h);
    assert_int_equal(h.state, TT_LEARN_IMPROVING);
    assert_false(tt_health_learn_bad(h.state));
    assert_string_equal(tt_health_learn_name(h.state), "improving");
}

static void overfitting_since_the_validation_low(void **state)
{
    (void)state;
    pts loss, val;
    series_of(&loss, 2000, 1, falling);
    series_of(&val, 2000, 10, val_u);
    tt_health_learning h;
    judge(&loss, &val, NULL, NAN, &h);
    assert_int_equal(h.state, TT_LEARN_OVERFITTING);
    assert_true(h.since >= 400 && h.since <= 600);     /* the low is at 500; buckets are ~30 steps */
    assert_non_null(strstr(h.why, "val_loss up"));
    /* the same validation curve with a training loss that rose too is not overfitting */
    pts up;
    series_of(&up, 2000, 1, val_u);
    judge(&up, &val, NULL, NAN, &h);
    assert_int_not_equal(h.state, TT_LEARN_OVERFITTING);
}

static void diverging_since_the_low(void **state)
{
    (void)state;
    pts loss;
    series_of(&loss, 2000, 1, blowup);
    tt_health_learning h;
    judge(&loss, NULL, NULL, NAN, &h);
    assert_int_equal(h.state, TT_LEARN_DIVERGING);
    assert_true(h.since >= 1100 && h.since <= 1300);
    assert_true(tt_health_learn_bad(h.state));
    /* a falling loss whose noise is large next to its (small) value is not diverging */
    pts small;
    series_of(&small, 2000, 1, falling);
    for (size_t i = 0; i < small.n; i++) small.p[i].mean = small.p[i].mean - 0.19f;   /* low near 0.01, noise 0.03 */
    judge(&small, NULL, NULL, NAN, &h);
    assert_int_not_equal(h.state, TT_LEARN_DIVERGING);
}

static void nonfinite_loss_since_it_went(void **state)
{
    (void)state;
    pts loss;
    series_of(&loss, 2000, 1, nan_after);
    tt_health_learning h;
    judge(&loss, NULL, NULL, NAN, &h);
    assert_int_equal(h.state, TT_LEARN_NONFINITE);
    assert_true(h.since >= 850 && h.since <= 900);
    assert_non_null(strstr(h.why, "NaN"));
}

static void at_chance(void **state)
{
    (void)state;
    pts loss, acc;
    series_of(&loss, 2000, 1, flat);
    series_of(&acc, 2000, 10, acc_chance);
    tt_health_learning h;
    judge(&loss, NULL, &acc, 0.1, &h);
    assert_int_equal(h.state, TT_LEARN_CHANCE);
    judge(&loss, NULL, &acc, NAN, &h);                /* no class count: never judged at chance */
    assert_int_not_equal(h.state, TT_LEARN_CHANCE);
}

static void plateau_since(void **state)
{
    (void)state;
    pts loss;
    series_of(&loss, 2000, 1, flat);
    tt_health_learning h;
    judge(&loss, NULL, NULL, NAN, &h);
    assert_int_equal(h.state, TT_LEARN_PLATEAU);
    assert_true(h.since >= 250 && h.since <= 700);
}

static void too_few_points(void **state)
{
    (void)state;
    pts loss;
    series_of(&loss, 3, 1, falling);
    tt_health_learning h;
    judge(&loss, NULL, NULL, NAN, &h);
    assert_int_equal(h.state, TT_LEARN_UNKNOWN);
    assert_string_equal(tt_health_learn_name(h.state), "n/a");
    judge(NULL, NULL, NULL, NAN, &h);
    assert_int_equal(h.state, TT_LEARN_UNKNOWN);
    assert_string_equal(h.why, "the run sends no loss");
}

/* ---- layers: 1000 healthy layers with one of each problem ---- */

enum { W, G, GRMS, UR, NF, NS };
#define NL 1000

static void layer_flags(void **state)
{
    (void)state;
    static double data[NL][NS];
    const double *rows[NL];
    for (int l = 0; l < NL; l++) {
        double k = 1 + 0.5 * sin(l);      /* a spread of healthy scales */
        data[l][W] = 10 * k, data[l][G] = 0.3 * k, data[l][GRMS] = 0.003 * k, data[l][UR] = 1e-3 * k, data[l][NF] = 0;
        rows[l] = data[l];
    }
    data[10][NF] = 3;                     /* NaN gradients counted */
    data[20][G] = 0, data[20][GRMS] = 0;  /* dead */
    data[30][UR] = 0.5;                   /* exploding */
    data[40][UR] = 1e-9;                  /* vanishing */
    data[50][GRMS] = 3;                   /* 1000x its peers */
    data[60][W] = NAN;                    /* a NaN weight norm */
    rows[70] = NULL;                      /* no row yet: nothing said */
    tt_health_cols c = { W, G, GRMS, UR, NF };
    unsigned flags[NL];
    static double scratch[2 * NL];
    int bad = tt_health_layers(rows, NL, &c, 500, flags, scratch);
    assert_int_equal(bad, 6);
    assert_int_equal(flags[10], TT_LH_NONFINITE);
    assert_int_equal(flags[20], TT_LH_DEAD);
    assert_int_equal(flags[30], TT_LH_EXPLODING);
    assert_int_equal(flags[40], TT_LH_VANISHING);
    assert_int_equal(flags[50], TT_LH_OUTLIER);
    assert_int_equal(flags[60], TT_LH_NONFINITE);
    assert_int_equal(flags[70], 0);
    assert_string_equal(tt_health_layer_name(flags[50]), "outlier");
    assert_true(tt_health_layer_severity(flags[10]) > tt_health_layer_severity(flags[20]));
    assert_true(tt_health_layer_severity(flags[40]) > tt_health_layer_severity(flags[50]));
    /* early steps: update ratios are not judged yet (zero-initialised biases move by more than their size) */
    bad = tt_health_layers(rows, NL, &c, 3, flags, scratch);
    assert_int_equal(flags[30], 0);
    assert_int_equal(flags[40], 0);
    assert_int_equal(bad, 4);
}

/* ---- a live run of the store ---- */

static void live_run(void **state)
{
    (void)state;
    tt_run *r = calloc(1, sizeof *r);
    r->hparams = cJSON_Parse("{\"classes\": 10}");
    assert_true(fabs(tt_health_chance(r) - 0.1) < 1e-12);
    r->nscalars = 2;
    r->scalars = calloc(2, sizeof *r->scalars);
    strcpy(r->scalars[0].name, "loss");
    strcpy(r->scalars[1].name, "val_loss");
    for (int i = 0; i < 2; i++) r->scalars[i].series = tt_series_new(64);
    for (int64_t t = 1; t <= 2000; t++) {
        tt_series_append(r->scalars[0].series, t, falling(t));
        if (t % 10 == 0) tt_series_append(r->scalars[1].series, t, val_u(t));
    }
    tt_health h;
    assert_int_equal(tt_health_run(r, &h), 0);
    assert_int_equal(h.learn.state, TT_LEARN_OVERFITTING);
    assert_int_equal(h.worst_layer, -1);
    for (int i = 0; i < 2; i++) tt_series_free(r->scalars[i].series);
    free(r->scalars);
    cJSON_Delete(r->hparams);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(improving),
        cmocka_unit_test(overfitting_since_the_validation_low),
        cmocka_unit_test(diverging_since_the_low),
        cmocka_unit_test(nonfinite_loss_since_it_went),
        cmocka_unit_test(at_chance),
        cmocka_unit_test(plateau_since),
        cmocka_unit_test(too_few_points),
        cmocka_unit_test(layer_flags),
        cmocka_unit_test(live_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
