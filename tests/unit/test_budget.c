/* budget: the sampling schedule with injected costs — it converges to the budget, splits it between
 * §1 and per-sample statistics, holds its bounds, an explicit every= is fixed, the plan a framework
 * reads ahead is the schedule that happens, and the same inputs give the same schedule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../probes/budget.h"

#define STATS (1u << TT_BUDGET_STATS)
#define PS (1u << TT_BUDGET_PERSAMPLE)

/* A training loop's costs, in seconds: the step without the probe, what every step costs the probe,
 * a §1 sample, the W_prev refresh on the step before one, a per-sample sample. scale_at/scale: from
 * that step on, the step and the costs are scale times larger (a slower phase of training). */
typedef struct {
    double base, fixed, stats, refresh, ps;
    long scale_at;
    double scale;
    long pause_every;            /* every that many steps, one step takes pause seconds more */
    double pause;
} model;

typedef struct {
    long n[2];                   /* samples of each kind */
    double cost, base;           /* totals over the measured steps */
    unsigned char bits[20001];   /* the kinds sampled at each step */
} run;

/* Steps 1..steps; checks that plan() read before each step (one and two steps ahead, as a framework
 * does before the probe publishes) is what begin() then does. */
static void simulate(tt_budget *b, const model *m, long steps, run *r)
{
    memset(r, 0, sizeof *r);
    unsigned ahead2 = 0;
    for (long s = 1; s <= steps; s++) {
        unsigned plan1 = tt_budget_plan(b, s), plan2 = tt_budget_plan(b, s + 1);
        if (s > 1) assert_int_equal(plan1, ahead2);
        unsigned now = tt_budget_begin(b, s);
        assert_int_equal(now, plan1);
        ahead2 = plan2;
        double f = m->scale_at && s >= m->scale_at ? m->scale : 1;
        unsigned next = tt_budget_plan(b, s + 1);
        double cost[TT_COST_PARTS] = {
            [TT_COST_FIXED] = m->fixed * f,
            [TT_COST_STATS] = ((now & STATS) ? m->stats : (next & STATS) ? m->refresh : 0) * f,
            [TT_COST_PERSAMPLE] = ((now & PS) ? m->ps : 0) * f,
        };
        double pause = m->pause_every && s % m->pause_every == 0 ? m->pause : 0;
        tt_budget_end(b, s == 1 ? NAN : m->base * f + pause, cost);
        if (s > 1) {
            r->cost += cost[0] + cost[1] + cost[2];
            r->base += m->base * f;
        }
        r->n[0] += !!(now & STATS);
        r->n[1] += !!(now & PS);
        if (s < (long)sizeof r->bits) r->bits[s] = (unsigned char)now;
    }
}

static run R1, R2;

/* 1 ms steps; a §1 sample costs 0.2 ms, a per-sample one 0.5 ms, every step 5 µs; budget 2 %:
 * 15 µs per step are left, 7.5 µs for each kind, so k = ceil(200/7.5) = 27 and ceil(500/7.5) = 67. */
static void converges_to_budget(void **state)
{
    (void)state;
    tt_budget b;
    tt_budget_init(&b, 0, 0.02);
    model m = { .base = 1e-3, .fixed = 5e-6, .stats = 2e-4, .ps = 5e-4 };
    simulate(&b, &m, 20000, &R1);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_STATS), 27);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_PERSAMPLE), 67);
    double achieved = R1.cost / R1.base;
    assert_true(achieved <= 0.02 * 1.03);        /* within budget, up to the calibration steps */
    assert_true(achieved >= 0.02 * 0.9);         /* and spends it */
    assert_true(fabs(tt_budget_overhead(&b) - achieved) < 0.002);
    /* never starved: both kinds keep being sampled */
    assert_true(R1.n[0] >= 20000 / 27 - 5 && R1.n[1] >= 20000 / 67 - 5);
}

/* A refresh on the step before a §1 sample is part of that kind's cost per sample. */
static void refresh_counts(void **state)
{
    (void)state;
    tt_budget b;
    tt_budget_init(&b, 0, 0.02);
    model m = { .base = 1e-3, .stats = 1e-4, .refresh = 5e-5, .ps = 0 };
    simulate(&b, &m, 5000, &R1);
    /* per-sample work costs nothing here: §1 gets all 20 µs; (100 + 50)/20 → 8 */
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_STATS), 8);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_PERSAMPLE), 1);
    assert_true(R1.cost / R1.base <= 0.02 * 1.03);
}

/* A kind that needs less than its half at every step leaves the rest to the other. */
static void cheap_kind_leaves_its_share(void **state)
{
    (void)state;
    tt_budget b;
    tt_budget_init(&b, 0, 0.03);
    model m = { .base = 1e-3, .stats = 4e-6, .ps = 3e-4 };
    simulate(&b, &m, 5000, &R1);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_STATS), 1);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_PERSAMPLE), 12);   /* 300 / (30 − 4) */
    assert_true(R1.cost / R1.base <= 0.03 * 1.03);
}

/* The intervals follow the costs relative to the step: a phase where the step and the costs are both
 * 4× larger keeps them; costs 4× larger against the same step make them 4× longer. Costs are chosen
 * off integer ratios (195 µs / 10 µs = 19.5 → 20), away from rounding's edge. */
static void follows_changes(void **state)
{
    (void)state;
    tt_budget b;
    tt_budget_init(&b, 0, 0.02);
    model m = { .base = 1e-3, .stats = 1.95e-4, .ps = 4.95e-4 };
    simulate(&b, &m, 10000, &R1);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_STATS), 20);
    tt_budget_init(&b, 0, 0.02);
    model m2 = { .base = 1e-3, .stats = 1.95e-4, .ps = 4.95e-4, .scale_at = 3000, .scale = 4 };
    simulate(&b, &m2, 10000, &R2);
    /* the step and the costs scale together: the same intervals */
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_STATS), 20);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_PERSAMPLE), 50);
    tt_budget_init(&b, 0, 0.02);
    model m3 = { .base = 1e-3, .stats = 7.8e-4, .ps = 1.98e-3 };
    simulate(&b, &m3, 20000, &R2);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_STATS), 78);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_PERSAMPLE), 198);
}

/* Pauses (an evaluation, a checkpoint, another job's turn) do not pass for slow steps: 40 ms every
 * 200 steps of 1 ms leaves the budget and the sampling rate of converges_to_budget (k = 27 and 67). */
static void pauses_are_not_steps(void **state)
{
    (void)state;
    tt_budget b;
    tt_budget_init(&b, 0, 0.02);
    model m = { .base = 1e-3, .fixed = 5e-6, .stats = 2e-4, .ps = 5e-4, .pause_every = 200, .pause = 0.04 };
    simulate(&b, &m, 20000, &R1);
    assert_true(R1.cost / R1.base <= 0.02 * 1.05);           /* against the steps' own time, pauses left out */
    assert_true(R1.n[0] >= 20000 / 27 * 0.9 && R1.n[0] <= 20000 / 27 * 1.15);
    assert_true(R1.n[1] >= 20000 / 67 * 0.9 && R1.n[1] <= 20000 / 67 * 1.15);
}

/* Bounds: an expensive probe on slow steps is still sampled every max_gap_s; a fixed cost over the
 * budget leaves sampling half the budget (statistics still come); a probe that costs nothing samples
 * every step. */
static void bounds_hold(void **state)
{
    (void)state;
    tt_budget b;
    tt_budget_init(&b, 0, 0.02);
    model m = { .base = 1.0, .stats = 10.0, .ps = 10.0 };            /* 1 s steps, 10 s samples */
    simulate(&b, &m, 200, &R1);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_STATS), (int64_t)TT_BUDGET_MAX_GAP_S);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_PERSAMPLE), (int64_t)TT_BUDGET_MAX_GAP_S);
    for (long s = 100; s < 200; s++)                                  /* no gap longer than that */
        if (R1.bits[s] & STATS) {
            long t = s + 1;
            while (t < 200 && !(R1.bits[t] & STATS)) t++;
            assert_true(t - s <= (long)TT_BUDGET_MAX_GAP_S);
        }
    tt_budget_init(&b, 0, 0.02);
    model over = { .base = 1e-3, .fixed = 3e-5, .stats = 3.9e-5, .ps = 3.9e-5 };   /* 5 µs each: k = 8 */
    simulate(&b, &over, 3000, &R1);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_STATS), 8);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_PERSAMPLE), 8);
    assert_true(R1.cost / R1.base <= (30 + 2 * 39.0 / 8) * 1e-3 * 1.03);
    tt_budget_init(&b, 0, 0.02);
    model zero = { .base = 1e-3 };
    simulate(&b, &zero, 300, &R1);
    assert_int_equal(R1.n[0], 300);
    assert_int_equal(R1.n[1], 300);
}

/* An explicit every= is a fixed schedule whatever the costs; plan() says so ahead. */
static void every_is_fixed(void **state)
{
    (void)state;
    tt_budget b;
    tt_budget_init(&b, 3, 0.02);
    model m = { .base = 1e-3, .stats = 1.0, .ps = 1.0 };              /* far over any budget */
    simulate(&b, &m, 300, &R1);
    for (long s = 1; s <= 300; s++) assert_int_equal(R1.bits[s], s % 3 == 0 ? (STATS | PS) : 0);
    assert_int_equal(tt_budget_interval(&b, TT_BUDGET_STATS), 3);
    assert_true(tt_budget_overhead(&b) > 100);                        /* still measured and reported */
}

/* The first step is sampled, with the next two (calibration); budget <= 0 is the default. */
static void first_steps_and_defaults(void **state)
{
    (void)state;
    tt_budget b;
    tt_budget_init(&b, 0, 0);
    assert_true(b.budget == TT_BUDGET_DEFAULT);
    assert_true(isnan(tt_budget_overhead(&b)));
    assert_int_equal(tt_budget_plan(&b, 7), STATS | PS);
    model m = { .base = 1e-3, .stats = 1e-3, .ps = 1e-3 };
    simulate(&b, &m, 50, &R1);
    assert_int_equal(R1.bits[1], STATS | PS);
    assert_int_equal(R1.bits[2], STATS | PS);
    assert_int_equal(R1.bits[3], STATS | PS);
    assert_int_equal(R1.bits[4], 0);
}

/* The same inputs, the same schedule, step for step. */
static void deterministic(void **state)
{
    (void)state;
    tt_budget a, b;
    tt_budget_init(&a, 0, 0.02);
    tt_budget_init(&b, 0, 0.02);
    model m = { .base = 7e-4, .fixed = 2e-6, .stats = 1.3e-4, .refresh = 2e-5, .ps = 3.1e-4, .scale_at = 4000, .scale = 2.5 };
    simulate(&a, &m, 20000, &R1);
    simulate(&b, &m, 20000, &R2);
    assert_memory_equal(R1.bits, R2.bits, sizeof R1.bits);
    assert_true(R1.cost == R2.cost);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(converges_to_budget),
        cmocka_unit_test(refresh_counts),
        cmocka_unit_test(cheap_kind_leaves_its_share),
        cmocka_unit_test(follows_changes),
        cmocka_unit_test(pauses_are_not_steps),
        cmocka_unit_test(bounds_hold),
        cmocka_unit_test(every_is_fixed),
        cmocka_unit_test(first_steps_and_defaults),
        cmocka_unit_test(deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
