/* rule: each parameter and the order of evaluation against hand-computed sequences (table-driven). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../metrics/rule.h"
#include "../../collectors/alerts.h"

typedef struct {
    const char *what;
    void (*setup)(tt_rule *r);
    double seq[16];
    int n;
    int fires_at;            /* index into seq of the firing check, -1: never */
    const char *reason;      /* a piece of the reason */
} es_case;

static void es_min(tt_rule *r) { r->kind = TT_RULE_EARLY_STOP; r->patience = 2; }
static void es_delta(tt_rule *r) { es_min(r); r->min_delta = 0.125; }   /* exact in binary */
static void es_max(tt_rule *r) { es_min(r); r->mode_max = 1; }
static void es_base(tt_rule *r) { es_min(r); r->baseline = 0.5; }
static void es_start(tt_rule *r) { es_min(r); r->start_step = 3; }
static void es_stop_thr(tt_rule *r) { es_min(r); r->stopping_threshold = 0.2; r->patience = 100; }
static void es_div(tt_rule *r) { es_min(r); r->divergence_threshold = 5; r->patience = 100; }
static void es_nofin(tt_rule *r) { es_min(r); r->check_finite = 0; r->patience = 100; }
static void es_order(tt_rule *r) { es_min(r); r->stopping_threshold = 0; r->patience = 100; }
static void es_p0(tt_rule *r) { es_min(r); r->patience = 0; }
static void es_smooth(tt_rule *r) { es_max(r); r->smooth = 3; }

static const es_case es_cases[] = {
    { "patience 2: fires on the 2nd check without improvement", es_min, { 3, 2, 2.5, 2.1 }, 4, 3, "for 2 checks" },
    { "improvement resets the count", es_min, { 3, 3.5, 2, 2.5, 2.2, 2.1 }, 6, 4, "best 2 at step" },
    { "min_delta is strict: exactly 0.125 better is no improvement", es_delta, { 1.0, 0.875, 0.9 }, 3, 2, "by more than 0.125" },
    { "min_delta: more than 0.125 better improves", es_delta, { 1.0, 0.8, 0.6, 0.4 }, 4, -1, NULL },
    { "max mode mirrors min", es_max, { 1, 2, 1.5, 1.9 }, 4, 3, NULL },
    { "baseline not beaten: patience counts from the start", es_base, { 0.6, 0.7 }, 2, 1, "best 0.5" },
    { "baseline beaten: then a normal best", es_base, { 0.4, 0.45, 0.3 }, 3, -1, NULL },
    { "start_step: earlier checks are ignored", es_start, { 9, 9, 9, 5, 6, 7 }, 6, 5, NULL },
    { "stopping threshold fires at once", es_stop_thr, { 1, 0.5, 0.2 }, 3, 2, "stopping threshold" },
    { "divergence threshold fires at once", es_div, { 1, 0.5, 6 }, 3, 2, "divergence threshold" },
    { "non-finite fires at once", es_min, { 1, NAN }, 2, 1, "is nan" },
    { "check_finite off: NaN is just no improvement", es_nofin, { 1, NAN, INFINITY }, 3, -1, NULL },
    { "order: finite before the stopping threshold (-inf meets both)", es_order, { 1, -INFINITY }, 2, 1, "is -inf" },
    { "patience 0: the first check without improvement", es_p0, { 1, 1 }, 2, 1, NULL },
    /* means of 3: (1,2,3)=2, (2,3,30)=11.67, (3,30,4)=12.33, (30,4,5)=13, (4,5,5)=4.67, (5,5,5)=5 */
    { "smooth 3: no check before 3 values, then the moving mean", es_smooth, { 1, 2, 3, 30, 4, 5, 5, 5 }, 8, 7,
      "m (mean of 3) did not improve" },
    { "smooth: NaN passes through to check_finite", es_smooth, { 1, 2, NAN }, 3, 2, "is nan" },
};

static void early_stop_table(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof es_cases / sizeof *es_cases; c++) {
        const es_case *k = &es_cases[c];
        tt_rule r;
        tt_rule_defaults(&r);
        snprintf(r.name, sizeof r.name, "t");
        snprintf(r.monitor, sizeof r.monitor, "m");
        k->setup(&r);
        tt_rule_state s;
        tt_rule_state_init(&s);
        tt_rule_event ev;
        int fired = -1;
        for (int i = 0; i < k->n; i++)
            if (tt_rule_check(&r, &s, i, k->seq[i], &ev)) { fired = i; break; }
        if (fired != k->fires_at) fail_msg("%s: fired at %d, expected %d", k->what, fired, k->fires_at);
        if (k->reason && fired >= 0 && !strstr(ev.reason, k->reason)) fail_msg("%s: reason '%s' lacks '%s'", k->what, ev.reason, k->reason);
        if (fired >= 0) assert_false(tt_rule_check(&r, &s, 100, k->seq[0], &ev));   /* once */
    }
}

/* A value at its pole is skipped (no improvement, no patience, no smoothing), or fires with its own
 * reason when stop_on_pole is set. */
static void pole(void **state)
{
    (void)state;
    tt_rule r;
    tt_rule_defaults(&r);
    snprintf(r.name, sizeof r.name, "g");
    snprintf(r.monitor, sizeof r.monitor, "gwa");
    es_max(&r);
    tt_rule_state s;
    tt_rule_state_init(&s);
    tt_rule_event ev;
    assert_false(tt_rule_check(&r, &s, 1, 0.3, &ev));
    for (int i = 2; i < 10; i++) assert_false(tt_rule_check_pole(&r, &s, i, i % 2 ? 50.0 : -40.0, &ev));
    assert_true(s.best == 0.3 && s.wait == 0 && s.checks == 1);
    assert_false(tt_rule_check(&r, &s, 10, 0.4, &ev));
    r.stop_on_pole = 1;
    assert_true(tt_rule_check_pole(&r, &s, 11, 80, &ev));
    assert_non_null(strstr(ev.reason, "gwa is at its pole at step 11"));
    assert_null(strstr(ev.reason, "is nan"));
}

/* Feeds the confirm and the monitor values of n checks (steps 1..n) to a fresh state: the index of the
 * check that fired, or -1. */
static int first_fire(const tt_rule *r, tt_rule_state *s, const double *mon, const double *conf, int n, tt_rule_event *ev)
{
    tt_rule_state_init(s);
    for (int i = 0; i < n; i++) {
        tt_rule_confirm_value(r, s, conf[i]);
        if (tt_rule_check(r, s, i + 1, mon[i], ev)) return i;
    }
    return -1;
}

/* confirm: patience runs out, but the stop waits until the confirm monitor (smoothed like the monitor)
 * has fallen more than confirm_drop·|peak| below its peak; it then selects the monitor's best step. */
static void confirm(void **state)
{
    (void)state;
    tt_rule r;
    tt_rule_defaults(&r);
    snprintf(r.name, sizeof r.name, "c");
    snprintf(r.monitor, sizeof r.monitor, "gwa_robust");
    snprintf(r.confirm, sizeof r.confirm, "gwa_gamma_median");
    r.kind = TT_RULE_EARLY_STOP;
    r.mode_max = 1;
    r.patience = 2;
    r.smooth = 2;
    r.confirm_drop = 0.2;
    tt_rule_state s;
    tt_rule_event ev;
    /* the monitor's smoothed peak is 2.5 at step 3; the confirm's smoothed peak is 1.0, then it slides */
    double mon[] = { 1, 3, 2, 1, 1, 1, 1, 1 }, conf[] = { 1, 1, 0.95, 0.9, 0.85, 0.8, 0.7, 0.7 };
    /* patience (2 checks) ran out at i = 4; the smoothed confirm is 0.75 < 0.8 only at i = 6 */
    assert_int_equal(first_fire(&r, &s, mon, conf, 8, &ev), 6);
    assert_int_equal(ev.best_step, 3);
    assert_non_null(strstr(ev.reason, "gwa_gamma_median fell 25% below its peak 1"));
    /* without confirm the same rule fires when patience runs out */
    r.confirm[0] = 0;
    assert_int_equal(first_fire(&r, &s, mon, conf, 8, &ev), 4);
    /* a confirm that never drops never stops the run; confirm is a parameter of the rule's state */
    snprintf(r.confirm, sizeof r.confirm, "gwa_gamma_median");
    double flat[] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    assert_int_equal(first_fire(&r, &s, mon, flat, 8, &ev), -1);
    tt_rule b = r;
    b.confirm_drop = 0.3;
    assert_false(tt_rule_same_params(&r, &b));
    b = r;
    b.confirm[0] = 0;
    assert_false(tt_rule_same_params(&r, &b));
    assert_true(tt_rule_same_params(&r, &r));
}

/* confirm_min: the confirm holds while its smoothed value is at least a level (not a drop); confirm_once:
 * it is consulted once, when patience first runs out — unconfirmed, the rule is settled and never fires. */
static void confirm_level(void **state)
{
    (void)state;
    tt_rule r;
    tt_rule_defaults(&r);
    assert_true(isnan(r.confirm_min));
    assert_false(r.confirm_once);
    snprintf(r.name, sizeof r.name, "l");
    snprintf(r.monitor, sizeof r.monitor, "gwa_robust");
    snprintf(r.confirm, sizeof r.confirm, "gwa_frac_neg");
    r.kind = TT_RULE_EARLY_STOP;
    r.mode_max = 1;
    r.patience = 2;
    r.smooth = 2;
    r.confirm_min = 0.1;
    tt_rule_state s;
    tt_rule_event ev;
    /* the monitor's smoothed peak is 2.5 at step 3, patience runs out at i = 4 */
    double mon[] = { 1, 3, 2, 1, 1, 1, 1, 1 };
    double noisy[] = { 0.4, 0.3, 0.3, 0.2, 0.2, 0.2, 0.1, 0.1 };     /* a negative mode persists: smoothed 0.2 */
    double clean[] = { 0.4, 0.1, 0.05, 0.02, 0.01, 0.0, 0.3, 0.3 };  /* fitted: smoothed 0.015, later back up */
    assert_int_equal(first_fire(&r, &s, mon, noisy, 8, &ev), 4);
    assert_int_equal(ev.best_step, 3);
    assert_non_null(strstr(ev.reason, "gwa_frac_neg is 0.2, at least 0.1"));
    /* without once, a clean run waits and fires when the level comes back (i = 6: smoothed 0.15) */
    assert_int_equal(first_fire(&r, &s, mon, clean, 8, &ev), 6);
    /* with once, the unconfirmed decision at i = 4 settles it: never fires */
    r.confirm_once = 1;
    assert_int_equal(first_fire(&r, &s, mon, clean, 8, &ev), -1);
    assert_true(s.fired);
    /* once and confirmed: fires at the same check as without once */
    assert_int_equal(first_fire(&r, &s, mon, noisy, 8, &ev), 4);
    /* both are parameters of the rule's state */
    tt_rule b = r;
    b.confirm_min = 0.2;
    assert_false(tt_rule_same_params(&r, &b));
    b = r;
    b.confirm_once = 0;
    assert_false(tt_rule_same_params(&r, &b));
    b = r;
    b.confirm_min = NAN;
    assert_false(tt_rule_same_params(&r, &b));
}

/* centred: with smooth > 1 the best step is the middle of the smoothed values (the step their trailing mean
 * describes), not the last; the decision (when patience runs out) is the same as without it. */
static void centred_best(void **state)
{
    (void)state;
    tt_rule r;
    tt_rule_defaults(&r);
    assert_false(r.centred);
    snprintf(r.name, sizeof r.name, "c");
    snprintf(r.monitor, sizeof r.monitor, "gwa_robust");
    r.kind = TT_RULE_EARLY_STOP;
    r.mode_max = 1;
    r.patience = 3;
    r.smooth = 3;
    /* raw peak 9 at step 40; the trailing mean of 3 peaks at step 50 (mean of steps 30, 40, 50: 6) */
    double v[] = { 1, 2, 3, 9, 6, 1, 1, 1, 1 };
    tt_rule_state s;
    tt_rule_event ev;
    int fired[2] = { -1, -1 };
    int64_t best[2] = { 0, 0 };
    for (int c = 0; c < 2; c++) {
        r.centred = c;
        tt_rule_state_init(&s);
        for (int i = 0; i < 9 && fired[c] < 0; i++)
            if (tt_rule_check(&r, &s, 10 * (i + 1), v[i], &ev)) { fired[c] = i; best[c] = ev.best_step; }
    }
    assert_int_equal(fired[0], 7);
    assert_int_equal(fired[1], fired[0]);
    assert_int_equal(best[0], 50);
    assert_int_equal(best[1], 40);          /* the middle of steps 30, 40, 50 */
    assert_true(fabs(ev.best - 6) < 1e-12);
    /* a non-finite value is not smoothed and does not shift the steps (check_finite off) */
    r.check_finite = 0;
    tt_rule_state_init(&s);
    double w[] = { 1, 2, NAN, 3, 9, 6, 1, 1, 1, 1 };
    int f = -1;
    for (int i = 0; i < 10 && f < 0; i++)
        if (tt_rule_check(&r, &s, 10 * (i + 1), w[i], &ev)) f = i;
    assert_int_equal(f, 8);
    assert_int_equal(ev.best_step, 50);     /* the middle of steps 40, 50, 60 (the NaN at 30 skipped) */
    /* smooth 4: the later of the two middle values ((4−1)/2 = 1 check before the last) */
    r.smooth = 4;
    r.check_finite = 1;
    tt_rule_state_init(&s);
    double u[] = { 1, 2, 3, 9, 6, 1, 1, 1, 1, 1 };
    f = -1;
    for (int i = 0; i < 10 && f < 0; i++)
        if (tt_rule_check(&r, &s, 10 * (i + 1), u[i], &ev)) f = i;
    assert_true(f >= 0);
    assert_int_equal(ev.best_step, 40);     /* best mean (2+3+9+6)/4 at step 50: steps 20..50, 1 check before the last */
    /* a parameter of the rule's state */
    tt_rule b = r;
    b.centred = 0;
    assert_false(tt_rule_same_params(&r, &b));
}

static void other_kinds(void **state)
{
    (void)state;
    tt_rule r;
    tt_rule_state s;
    tt_rule_event ev;
    /* threshold held for 3 consecutive checks */
    tt_rule_defaults(&r); r.kind = TT_RULE_THRESHOLD; r.op = TT_OP_GT; r.threshold = 1; r.for_steps = 3;
    tt_rule_state_init(&s);
    double t[] = { 2, 2, 0.5, 2, 2, 2 };
    int fired = -1;
    for (int i = 0; i < 6 && fired < 0; i++) if (tt_rule_check(&r, &s, i, t[i], &ev)) fired = i;
    assert_int_equal(fired, 5);
    /* spike: after the warm-up, a value over factor × EMA */
    tt_rule_defaults(&r); r.kind = TT_RULE_SPIKE; r.factor = 3; r.warmup = 3; r.alpha = 0.5;
    tt_rule_state_init(&s);
    double sp[] = { 1, 1, 100, 1, 1, 2.9, 3.5 };          /* 100 comes during the warm-up: ignored */
    fired = -1;
    for (int i = 0; i < 7 && fired < 0; i++) if (tt_rule_check(&r, &s, i, sp[i], &ev)) fired = i;
    assert_int_equal(fired, -1);                             /* the EMA absorbed the early 100 */
    tt_rule_state_init(&s);
    double sp2[] = { 1, 1, 1, 1, 1, 3.5 };
    fired = -1;
    for (int i = 0; i < 6 && fired < 0; i++) if (tt_rule_check(&r, &s, i, sp2[i], &ev)) fired = i;
    assert_int_equal(fired, 5);
    /* window change: relative improvement of the mean below 10% → a plateau */
    tt_rule_defaults(&r); r.kind = TT_RULE_WINDOW_CHANGE; r.window = 2; r.relative = 1; r.op = TT_OP_GT; r.threshold = -0.1;
    tt_rule_state_init(&s);
    double w[] = { 10, 10, 5, 5, 4.9, 4.8 };                 /* means 10→5 (−50%), 5→4.85 (−3%) */
    fired = -1;
    for (int i = 0; i < 6 && fired < 0; i++) if (tt_rule_check(&r, &s, i, w[i], &ev)) fired = i;
    assert_int_equal(fired, 5);
    /* stalled, on the clock */
    tt_rule_defaults(&r); r.kind = TT_RULE_STALLED; r.seconds = 10;
    tt_rule_state_init(&s);
    assert_false(tt_rule_tick(&r, &s, 9.9, 5, &ev));
    assert_true(tt_rule_tick(&r, &s, 10, 5, &ev));
    assert_false(tt_rule_check(&r, &s, 6, 1, &ev));
    /* layer matching */
    snprintf(r.layer, sizeof r.layer, "fc*.weight");
    assert_true(tt_rule_matches_layer(&r, "fc12.weight"));
    assert_false(tt_rule_matches_layer(&r, "fc1.bias"));
    assert_false(tt_rule_matches_layer(&r, NULL));
    r.layer[0] = 0;
    assert_true(tt_rule_matches_layer(&r, NULL));
    /* a layer name with brackets is matched as itself, though as a pattern it would not match */
    snprintf(r.layer, sizeof r.layer, "blocks[0].weight");
    assert_true(tt_rule_matches_layer(&r, "blocks[0].weight"));
    assert_false(tt_rule_matches_layer(&r, "blocks[1].weight"));
}

/* Whether a rule's state can survive a reload: every evaluated parameter counts, NaN equals NaN, the
 * name and the actions do not. */
static void same_params(void **state)
{
    (void)state;
    tt_rule a, b;
    tt_rule_defaults(&a);
    a.kind = TT_RULE_EARLY_STOP;
    a.patience = 3;
    snprintf(a.monitor, sizeof a.monitor, "val_loss");
    b = a;
    assert_true(tt_rule_same_params(&a, &b));                /* baseline and thresholds are NaN in both */
    snprintf(b.name, sizeof b.name, "other");
    b.actions = TT_ACT_STOP | TT_ACT_BELL;
    assert_true(tt_rule_same_params(&a, &b));
    b = a; b.patience = 4;              assert_false(tt_rule_same_params(&a, &b));
    b = a; b.baseline = 0.5;            assert_false(tt_rule_same_params(&a, &b));
    b = a; b.min_delta = 1e-3;          assert_false(tt_rule_same_params(&a, &b));
    b = a; b.mode_max = 1;              assert_false(tt_rule_same_params(&a, &b));
    b = a; b.layer[0] = '*'; b.layer[1] = 0; assert_false(tt_rule_same_params(&a, &b));
    b = a; b.enabled = 0;               assert_false(tt_rule_same_params(&a, &b));
    b = a; b.window = 50;               assert_false(tt_rule_same_params(&a, &b));
    b = a; b.seconds = 60;              assert_false(tt_rule_same_params(&a, &b));
}

/* Closes an open_memstream and returns what was written to it (the caller frees it). */
static char *captured(FILE *f, char **buf)
{
    fclose(f);
    return *buf;
}

static void sources(void **state)
{
    (void)state;
    char path[] = "/tmp/tt-test-rules-XXXXXX";
    int fd = mkstemp(path);
    const char *json =
        "{\"defaults\": {\"stalled\": false}, \"rules\": ["
        "{\"name\":\"ok\",\"kind\":\"early_stop\",\"monitor\":\"val_loss\",\"patience\":3,\"actions\":[\"stop\"]},"
        "{\"name\":\"typo\",\"kind\":\"early_stop\",\"monitor\":\"val_loss\",\"patince\":3},"
        "{\"name\":\"bad-window\",\"kind\":\"window_change\",\"monitor\":\"loss\",\"op\":\">\",\"threshold\":0,\"window\":\"ten\"},"
        "{\"name\":\"ok\",\"kind\":\"spike\",\"monitor\":\"loss\"},"
        "{\"name\":\"shell\",\"kind\":\"spike\",\"monitor\":\"loss\",\"exec\":[\"notify $(rm -rf /)\"]}]}";
    assert_true(write(fd, json, strlen(json)) == (ssize_t)strlen(json));
    close(fd);
    tt_alerts *a = tt_alerts_new();
    tt_alerts_add_defaults(a);
    char *buf = NULL;
    size_t blen = 0;
    FILE *errs = open_memstream(&buf, &blen);
    int mistakes = 0;
    assert_int_equal(tt_alerts_load_file(a, path, errs, &mistakes), 1);
    assert_int_equal(mistakes, 4);
    char *all = captured(errs, &buf);
    unlink(path);
    assert_non_null(strstr(all, "rule \"typo\": field \"patince\": unknown; did you mean \"patience\"?"));
    assert_non_null(strstr(all, "rule \"bad-window\": field \"window\": expected an integer in 2..1024, got \"ten\""));
    assert_non_null(strstr(all, "rule \"ok\": field \"name\": already used by rules[0] in "));
    assert_non_null(strstr(all, "rule \"shell\": field \"exec\": \"notify $(rm -rf /)\": expected an absolute path"));
    free(all);
    assert_int_equal(tt_alerts_count(a), 4);                 /* 3 defaults + "ok" */
    for (int i = 0; i < tt_alerts_count(a); i++)
        if (!strcmp(tt_alerts_rule(a, i)->name, "default:stalled")) assert_false(tt_alerts_rule(a, i)->enabled);
    /* the short form makes the same rule as the JSON form */
    errs = open_memstream(&buf, &blen);
    assert_int_equal(tt_alerts_add_spec(a, "vl:val_loss min patience=3 stop", errs), 0);
    const tt_rule *j = NULL, *s = NULL;
    for (int i = 0; i < tt_alerts_count(a); i++) {
        if (!strcmp(tt_alerts_rule(a, i)->name, "ok")) j = tt_alerts_rule(a, i);
        if (!strcmp(tt_alerts_rule(a, i)->name, "vl")) s = tt_alerts_rule(a, i);
    }
    assert_non_null(j); assert_non_null(s);
    assert_true(j->kind == s->kind && j->patience == s->patience && j->actions == s->actions && !strcmp(j->monitor, s->monitor));
    assert_int_equal(tt_alerts_add_spec(a, "update_ratio[fc*] >0.01 for=20", errs), 0);
    assert_int_equal(tt_alerts_add_spec(a, "plateau:loss change>-1% window=50", errs), 0);
    assert_int_equal(tt_alerts_add_spec(a, "stalled 30s", errs), 0);
    const tt_rule *last = tt_alerts_rule(a, tt_alerts_count(a) - 1), *pl = tt_alerts_rule(a, tt_alerts_count(a) - 2);
    assert_int_equal(last->kind, TT_RULE_STALLED);
    assert_true(last->seconds == 30);
    assert_true(pl->kind == TT_RULE_WINDOW_CHANGE && pl->relative && fabs(pl->threshold + 0.01) < 1e-12 && pl->window == 50);
    assert_int_equal(tt_alerts_add_spec(a, "loss frobnicate", errs), -1);
    assert_int_equal(tt_alerts_add_spec(a, "loss > abc", errs), -1);
    assert_int_equal(tt_alerts_add_spec(a, "loss min exec=sh,-c,reboot", errs), -1);
    all = captured(errs, &buf);
    assert_non_null(strstr(all, "--alert 'loss frobnicate': 'frobnicate': expected min, max"));
    assert_non_null(strstr(all, "--alert 'loss > abc': 'abc': expected a number"));
    assert_non_null(strstr(all, "--alert 'loss min exec=sh,-c,reboot': 'exec': expected an absolute path"));
    free(all);
    tt_alerts_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(early_stop_table),
        cmocka_unit_test(pole),
        cmocka_unit_test(confirm),
        cmocka_unit_test(confirm_level),
        cmocka_unit_test(centred_best),
        cmocka_unit_test(other_kinds),
        cmocka_unit_test(same_params),
        cmocka_unit_test(sources),
    };
    return cmocka_run_group_tests_name("rule", tests, NULL, NULL);
}
