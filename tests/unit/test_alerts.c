/* alerts: "did you mean" on every misspelt word (table-driven, exact lines), duplicate names, rule
 * state kept across a reload for unchanged rules and only for them, a broken file refusing the
 * reload, and rules over layers that appear later. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../collectors/alerts.h"
#include "../../collectors/ingest.h"
#include "../../collectors/suggest.h"

/* ---- helpers ---- */

typedef struct { char *buf; size_t len; FILE *f; } capture;

static void capture_open(capture *c) { c->buf = NULL; c->f = open_memstream(&c->buf, &c->len); }
/* Closes the stream; c->buf holds every line written (the caller frees it). */
static const char *capture_text(capture *c) { fclose(c->f); c->f = NULL; return c->buf; }

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup_dir(void **state)
{
    static char dir[] = "/tmp/tt-test-alerts-XXXXXX";
    if (!mkdtemp(dir)) return -1;
    setenv("XDG_CONFIG_HOME", dir, 1);    /* no user rules.json from the machine running the tests */
    *state = dir;
    return 0;
}

static int teardown_dir(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", (const char *)*state);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the suggestion itself ---- */

typedef struct { const char *word; const char *expect; } suggest_case;

static void suggestions(void **state)
{
    (void)state;
    static const char *const words[] = { "patience", "min_delta", "mode", "monitor", "stop", "bell", "max", "min",
                                         "window", "window_change", "threshold", NULL };
    static const suggest_case cases[] = {
        { "patiense", "patience" },    /* one letter replaced */
        { "patince", "patience" },     /* one dropped */
        { "pateince", "patience" },    /* two neighbours swapped: one edit */
        { "paitence", "patience" },
        { "Patience", "patience" },    /* case is no mistake worth an edit */
        { "pat", "patience" },         /* a prefix */
        { "stpo", "stop" },
        { "moed", "mode" },
        { "maxx", "max" },
        { "mni", "min" },
        { "windw", "window" },
        { "window_chnage", "window_change" },
        { "treshold", "threshold" },
        { "min_detla", "min_delta" },
        { "mse", NULL },               /* 2 edits from "max", but short words allow 1 */
        { "mx", NULL },                /* 2 characters: only case */
        { "frobnicate", NULL },
        { "patienceeee", NULL },       /* 3 edits */
        { "", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = tt_suggest(cases[i].word, words);
        if (cases[i].expect ? !got || strcmp(got, cases[i].expect) : got != NULL)
            fail_msg("tt_suggest(\"%s\"): expected %s, got %s", cases[i].word, cases[i].expect ? cases[i].expect : "none", got ? got : "none");
    }
    char buf[80];
    assert_string_equal(tt_did_you_mean(buf, sizeof buf, "stpo", words), "; did you mean \"stop\"?");
    assert_string_equal(tt_did_you_mean(buf, sizeof buf, "zzz", words), "");
}

/* ---- one line per mistake, in a rules file ---- */

typedef struct {
    const char *rule;          /* one entry of "rules" */
    const char *line;          /* what follows "traintop: PATH: " */
    int kept;                  /* 1: a warning, the rule is added */
} file_case;

static const file_case file_cases[] = {
    { "{\"name\":\"cd\",\"kind\":\"early_stop\",\"monitor\":\"gwa_robust\",\"confirm_drop\":0.2}",
      "rule \"cd\": field \"confirm_drop\": needs \"confirm\" (the run scalar whose drop confirms the stop)", 0 },
    { "{\"name\":\"cr\",\"kind\":\"early_stop\",\"monitor\":\"gwa_robust\",\"confirm\":\"gwa_gamma_median\",\"confirm_drop\":1.5}",
      "rule \"cr\": field \"confirm_drop\": expected a number in 0..1, got 1.5", 0 },
    { "{\"name\":\"cm\",\"kind\":\"early_stop\",\"monitor\":\"gwa_robust\",\"confirm_min\":0.1}",
      "rule \"cm\": field \"confirm_min\": needs \"confirm\" (the run scalar that confirms the stop)", 0 },
    { "{\"name\":\"co\",\"kind\":\"early_stop\",\"monitor\":\"gwa_robust\",\"confirm_once\":true}",
      "rule \"co\": field \"confirm_once\": needs \"confirm\" (the run scalar that confirms the stop)", 0 },
    { "{\"name\":\"ce\",\"kind\":\"early_stop\",\"monitor\":\"gwa_robust\",\"centred\":true}",
      "rule \"ce\": field \"centred\": needs \"smooth\" > 1 (the best step is the middle of the smoothed values)", 0 },
    { "{\"name\":\"cx\",\"kind\":\"threshold\",\"monitor\":\"loss\",\"op\":\">\",\"threshold\":1,\"smooth\":3,\"centred\":true}",
      "rule \"cx\": field \"centred\": not used by a threshold rule (early_stop only)", 0 },
    { "{\"name\":\"cb\",\"kind\":\"early_stop\",\"monitor\":\"gwa_robust\",\"confirm\":\"gwa_frac_neg\",\"confirm_min\":0.1,\"confirm_drop\":0.2}",
      "rule \"cb\": field \"confirm_min\": not with \"confirm_drop\" (a level or a drop confirms, not both)", 0 },
    { "{\"name\":\"cs\",\"kind\":\"early_stop\",\"monitor\":\"gwa_robust\",\"confirm\":\"gwa_frac_neg\",\"confirm_min\":\"x\"}",
      "rule \"cs\": field \"confirm_min\": expected a number, got \"x\"", 0 },
    { "{\"name\":\"ct\",\"kind\":\"threshold\",\"monitor\":\"loss\",\"op\":\">\",\"threshold\":1,\"confirm\":\"x\"}",
      "rule \"ct\": field \"confirm\": not used by a threshold rule (early_stop only)", 0 },
    { "{\"name\":\"gwa-stop\",\"kind\":\"early_stop\",\"monitor\":\"gwa\",\"patiense\":3}",
      "rule \"gwa-stop\": field \"patiense\": unknown; did you mean \"patience\"?", 0 },
    { "{\"name\":\"k\",\"kind\":\"early_stp\",\"monitor\":\"gwa\"}",
      "rule \"k\": field \"kind\": expected \"early_stop\", \"threshold\", \"spike\", \"window_change\" or \"stalled\", got \"early_stp\"; did you mean \"early_stop\"?", 0 },
    { "{\"name\":\"w\",\"kind\":\"window\",\"monitor\":\"loss\"}",
      "rule \"w\": field \"kind\": expected \"early_stop\", \"threshold\", \"spike\", \"window_change\" or \"stalled\", got \"window\"; did you mean \"window_change\"?", 0 },
    { "{\"name\":\"m\",\"kind\":\"early_stop\",\"monitor\":\"gwa\",\"mode\":\"maxx\"}",
      "rule \"m\": field \"mode\": expected \"min\" or \"max\", got \"maxx\"; did you mean \"max\"?", 0 },
    { "{\"name\":\"a\",\"kind\":\"spike\",\"monitor\":\"loss\",\"actions\":[\"alert\",\"stpo\"]}",
      "rule \"a\": field \"actions\": expected \"stop\", \"bell\" or \"alert\", got \"stpo\"; did you mean \"stop\"?", 0 },
    { "{\"name\":\"f\",\"kind\":\"threshold\",\"monitor\":\"loss\",\"op\":\">\",\"threshold\":1,\"for_step\":3}",
      "rule \"f\": field \"for_step\": unknown; did you mean \"for_steps\"?", 0 },
    { "{\"name\":\"x\",\"kind\":\"spike\",\"monitor\":\"loss\",\"frobnicate\":1}",
      "rule \"x\": field \"frobnicate\": unknown (docs/alerts.md lists the fields)", 0 },
    { "{\"name\":\"t\",\"kind\":\"threshold\",\"monitor\":\"loss\",\"op\":\">\",\"threshold\":1,\"patience\":3}",
      "rule \"t\": field \"patience\": not used by a threshold rule (early_stop only)", 0 },
    { "{\"name\":\"p\",\"kind\":\"early_stop\",\"monitor\":\"loss\",\"patience\":2.5}",
      "rule \"p\": field \"patience\": expected an integer in 0..1000000000, got 2.5", 0 },
    { "{\"name\":\"d\",\"kind\":\"spike\",\"monitor\":\"loss\",\"factor\":2,\"factor\":3}",
      "rule \"d\": field \"factor\": given twice", 0 },
    { "{\"name\":\"o\",\"kind\":\"threshold\",\"monitor\":\"loss\",\"op\":\"=>\",\"threshold\":1}",
      "rule \"o\": field \"op\": expected \">\", \">=\", \"<\" or \"<=\", got \"=>\"", 0 },
    { "{\"name\":\"wc\",\"kind\":\"window_change\",\"monitor\":\"loss\",\"op\":\">\"}",
      "rule \"wc\": field \"threshold\": missing (a window_change rule needs \"op\" and \"threshold\")", 0 },
    { "{\"name\":\"s\",\"kind\":\"stalled\",\"monitor\":\"loss\"}",
      "rule \"s\": field \"monitor\": not used by a stalled rule (early_stop, threshold, spike and window_change only)", 0 },
    { "{\"kind\":\"spike\",\"monitor\":\"loss\"}",
      "rules[0]: field \"name\": missing (every rule needs a unique name)", 0 },
    { "1", "rules[0]: expected an object {\"name\": …, \"kind\": …}", 0 },
    /* metric names are open: a near miss or a layer statistic without a layer warns, the rule stays */
    { "{\"name\":\"v\",\"kind\":\"early_stop\",\"monitor\":\"val_los\"}",
      "rule \"v\": warning: field \"monitor\": \"val_los\" is not a metric traintop knows; did you mean \"val_loss\"? (the rule is kept: a run may send its own names)", 1 },
    { "{\"name\":\"u\",\"kind\":\"threshold\",\"monitor\":\"update_ration\",\"layer\":\"*\",\"op\":\">\",\"threshold\":0.01}",
      "rule \"u\": warning: field \"monitor\": \"update_ration\" is not a metric traintop knows; did you mean \"update_ratio\"? (the rule is kept: a run may send its own names)", 1 },
    { "{\"name\":\"r\",\"kind\":\"threshold\",\"monitor\":\"update_ratio\",\"op\":\">\",\"threshold\":0.01}",
      "rule \"r\": warning: field \"monitor\": \"update_ratio\" is a layer statistic, not a run scalar: give it a layer (\"*\" for any) (the rule is kept: a run may send its own names)", 1 },
};

static void file_messages(void **state)
{
    char path[300], doc[1000], want[1200];
    snprintf(path, sizeof path, "%s/rules.json", (const char *)*state);
    for (size_t i = 0; i < sizeof file_cases / sizeof *file_cases; i++) {
        const file_case *k = &file_cases[i];
        snprintf(doc, sizeof doc, "{\"defaults\": false, \"rules\": [%s]}", k->rule);
        write_file(path, doc);
        tt_alerts *a = tt_alerts_new();
        capture c;
        capture_open(&c);
        int mistakes = 0, added = tt_alerts_load_file(a, path, c.f, &mistakes);
        const char *text = capture_text(&c);
        snprintf(want, sizeof want, "traintop: %s: %s\n", path, k->line);
        if (strcmp(text, want)) fail_msg("case %zu:\n got: %s want: %s", i, text, want);
        assert_int_equal(added, k->kept);
        assert_int_equal(mistakes, !k->kept);
        assert_int_equal(tt_alerts_count(a), k->kept);
        free(c.buf);
        tt_alerts_free(a);
    }
}

/* The file's own fields: a misspelt "rules" must not drop every rule silently, nor a misspelt default. */
static void file_level_messages(void **state)
{
    static const struct { const char *doc; const char *line; int added; } cases[] = {
        { "{\"rule\": []}", "field \"rule\": unknown; did you mean \"rules\"?\n"
                            "traintop: %s: expected {\"rules\": [...], \"defaults\": …} or an array of rules", -1 },
        { "{\"rules\": [], \"defualts\": false}", "field \"defualts\": unknown; did you mean \"defaults\"?", 0 },
        { "{\"rules\": [], \"defaults\": {\"stalld\": false}}", "field \"defaults\": \"stalld\": unknown; did you mean \"stalled\"?", 0 },
        { "{\"rules\": [], \"defaults\": \"no\"}",
          "field \"defaults\": expected true, false or {\"nonfinite_loss\", \"nonfinite_grad\", \"stalled\": true or false}", 0 },
        { "{\"rules\": [\n  {\"name\": x}\n]}", "not valid JSON (near line 2)", -1 },
    };
    char path[300], want[1200], line[800];
    snprintf(path, sizeof path, "%s/top.json", (const char *)*state);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_file(path, cases[i].doc);
        tt_alerts *a = tt_alerts_new();
        capture c;
        capture_open(&c);
        int mistakes = 0;
        assert_int_equal(tt_alerts_load_file(a, path, c.f, &mistakes), cases[i].added);
        const char *text = capture_text(&c);
        snprintf(line, sizeof line, cases[i].line, path);
        snprintf(want, sizeof want, "traintop: %s: %s\n", path, line);
        if (strcmp(text, want)) fail_msg("case %zu:\n got: %s want: %s", i, text, want);
        assert_int_equal(tt_alerts_unreadable(a), cases[i].added < 0);
        free(c.buf);
        tt_alerts_free(a);
    }
    /* a file that only turns the defaults off is fine */
    write_file(path, "{\"defaults\": {\"stalled\": false}}");
    tt_alerts *a = tt_alerts_new();
    tt_alerts_add_defaults(a);
    int mistakes = 0;
    assert_int_equal(tt_alerts_load_file(a, path, stderr, &mistakes), 0);
    assert_int_equal(mistakes, 0);
    assert_false(tt_alerts_rule(a, 2)->enabled);
    assert_true(tt_alerts_rule(a, 0)->enabled);
    tt_alerts_free(a);
    /* a missing file says so */
    unlink(path);
    a = tt_alerts_new();
    capture c;
    capture_open(&c);
    assert_int_equal(tt_alerts_load_file(a, path, c.f, &mistakes), -1);
    snprintf(want, sizeof want, "traintop: %s: cannot read: %s\n", path, strerror(ENOENT));
    assert_string_equal(capture_text(&c), want);
    free(c.buf);
    tt_alerts_free(a);
}

/* ---- one line per mistake, in an --alert spec ---- */

typedef struct { const char *spec; const char *line; int ok; } spec_case;

static const spec_case spec_cases[] = {
    { "val_loss min patiense=3", "--alert 'val_loss min patiense=3': 'patiense': unknown key; did you mean \"patience\"?", 0 },
    { "val_loss min frob=3", "--alert 'val_loss min frob=3': 'frob': unknown key; expected min_delta, patience, baseline, start, stop_at, "
                             "diverge, smooth, for, factor, alpha, warmup, window, seconds, exec or timeout", 0 },
    { "loss spkie", "--alert 'loss spkie': 'spkie': expected min, max, spike, change, an operator, stop, bell, relative or KEY=VALUE; did you mean \"spike\"?", 0 },
    { "val_loss mni", "--alert 'val_loss mni': 'mni': expected min, max, spike, change, an operator, stop, bell, relative or KEY=VALUE; did you mean \"min\"?", 0 },
    { "loss spike stpo", "--alert 'loss spike stpo': 'stpo': expected min, max, spike, change, an operator, stop, bell, relative or KEY=VALUE; did you mean \"stop\"?", 0 },
    { "loss > 1 patience=3", "--alert 'loss > 1 patience=3': 'patience': not used by a threshold rule (early_stop only)", 0 },
    { "loss > 5%", "--alert 'loss > 5%': '5%': relative is not used by a threshold rule (window_change only)", 0 },
    { "loss min spike", "--alert 'loss min spike': 'spike': one clause per rule, and 'min' came first", 0 },
    { "loss change", "--alert 'loss change': 'change': needs an operator and a number, e.g. change<-1%", 0 },
    { "loss min patience=-1", "--alert 'loss min patience=-1': 'patience=-1': expected an integer in 0..1000000000", 0 },
    { "loss min patience=2 patience=3", "--alert 'loss min patience=2 patience=3': 'patience': given twice", 0 },
    { "loss min patience", "--alert 'loss min patience': 'patience': expected patience=VALUE", 0 },
    { "stalled 300", "--alert 'stalled 300': '300': expected a duration in seconds, like 300s", 0 },
    { "loss", "--alert 'loss': expected min, max, spike, change or an operator after the metric", 0 },
    { "val_los min", "--alert 'val_los min': warning: \"val_los\" is not a metric traintop knows; did you mean \"val_loss\"? (the rule is kept: a run may send its own names)", 1 },
    { "update_ratio > 0.01", "--alert 'update_ratio > 0.01': warning: \"update_ratio\" is a layer statistic, not a run scalar: give it a layer (\"*\" for any) (the rule is kept: a run may send its own names)", 1 },
    { "loss[*] > 1", "--alert 'loss[*] > 1': warning: \"loss\" is a run scalar, not a layer statistic: drop the layer (the rule is kept: a run may send its own names)", 1 },
    { "w_norm[blocks[0].weight] > 1", "", 1 },
};

static void spec_messages(void **state)
{
    (void)state;
    char want[800];
    for (size_t i = 0; i < sizeof spec_cases / sizeof *spec_cases; i++) {
        const spec_case *k = &spec_cases[i];
        tt_alerts *a = tt_alerts_new();
        capture c;
        capture_open(&c);
        int rc = tt_alerts_add_spec(a, k->spec, c.f);
        const char *text = capture_text(&c);
        snprintf(want, sizeof want, k->line[0] ? "traintop: %s\n" : "%s", k->line);
        if (strcmp(text, want)) fail_msg("case %zu:\n got: %s want: %s", i, text, want);
        assert_int_equal(rc, k->ok ? 0 : -1);
        assert_int_equal(tt_alerts_count(a), k->ok);
        free(c.buf);
        tt_alerts_free(a);
    }
}

/* ---- duplicate names ---- */

static void duplicates(void **state)
{
    char path[300], want[2000];
    snprintf(path, sizeof path, "%s/dup.json", (const char *)*state);
    write_file(path, "{\"rules\": ["
                     "{\"name\":\"vl\",\"kind\":\"early_stop\",\"monitor\":\"val_loss\"},"
                     "{\"name\":\"vl\",\"kind\":\"spike\",\"monitor\":\"loss\"},"
                     "{\"name\":\"default:stalled\",\"kind\":\"stalled\"}]}");
    const char *files[] = { path };
    const char *specs[] = { "vl:loss spike", "loss spike", "loss spike",
                            /* two long specs that begin alike get different names */
                            "update_ratio[encoder.layers.*.attention.weight] > 0.01 for=20 bell",
                            "update_ratio[encoder.layers.*.attention.weight] > 0.02 for=20 bell" };
    tt_alerts_sources src = { files, 1, specs, 5, 1 };
    capture c;
    capture_open(&c);
    int errors = 0;
    tt_alerts *a = tt_alerts_build(&src, c.f, &errors);
    const char *text = capture_text(&c);
    snprintf(want, sizeof want,
             "traintop: %s: rule \"vl\": field \"name\": already used by rules[0] in %s (names must be unique)\n"
             "traintop: %s: rule \"default:stalled\": field \"name\": already used by the default rules (names must be unique)\n"
             "traintop: --alert 'vl:loss spike': name \"vl\": already used by rules[0] in %s (names must be unique)\n"
             "traintop: --alert 'loss spike': name \"loss spike\": already used by --alert 'loss spike' (names must be unique)\n",
             path, path, path, path);
    assert_string_equal(text, want);
    assert_int_equal(errors, 4);
    assert_int_equal(tt_alerts_count(a), 3 + 1 + 1 + 2);
    assert_string_not_equal(tt_alerts_rule(a, 5)->name, tt_alerts_rule(a, 6)->name);
    free(c.buf);
    tt_alerts_free(a);
}

/* 100k rules: every one found by name (the duplicate of one deep inside is reported against it), and
 * a rules file that is not a regular file, or too large, is refused unread with one line. */
static void many_rules(void **state)
{
    char path[300];
    snprintf(path, sizeof path, "%s/many.json", (const char *)*state);
    FILE *f = fopen(path, "w");
    fputs("{\"defaults\": false, \"rules\": [", f);
    for (int i = 0; i < 100000; i++) fprintf(f, "{\"name\":\"r%d\",\"kind\":\"spike\",\"monitor\":\"loss\"},", i);
    fputs("{\"name\":\"r54321\",\"kind\":\"spike\",\"monitor\":\"loss\"}]}", f);
    fclose(f);
    tt_alerts *a = tt_alerts_new();
    capture c;
    capture_open(&c);
    int mistakes = 0;
    assert_int_equal(tt_alerts_load_file(a, path, c.f, &mistakes), 100000);
    char want[700];
    snprintf(want, sizeof want, "traintop: %s: rule \"r54321\": field \"name\": already used by rules[54321] in %s (names must be unique)\n", path, path);
    assert_string_equal(capture_text(&c), want);
    assert_int_equal(mistakes, 1);
    assert_string_equal(tt_alerts_rule(a, 99999)->name, "r99999");
    free(c.buf);
    tt_alerts_free(a);

    a = tt_alerts_new();
    capture_open(&c);
    assert_int_equal(tt_alerts_load_file(a, "/dev/zero", c.f, &mistakes), -1);
    assert_string_equal(capture_text(&c), "traintop: /dev/zero: expected a regular file (at most 32 MiB)\n");
    free(c.buf);
    assert_int_equal(truncate(path, (off_t)TT_RULES_MAX_BYTES + 1), 0);   /* sparse: no disk spent */
    capture_open(&c);
    assert_int_equal(tt_alerts_load_file(a, path, c.f, &mistakes), -1);
    snprintf(want, sizeof want, "traintop: %s: expected a rules file of at most 32 MiB\n", path);
    assert_string_equal(capture_text(&c), want);
    free(c.buf);
    tt_alerts_free(a);
    unlink(path);
}

/* ---- state across a reload ---- */

#define START "{\"v\":1,\"type\":\"run_start\",\"run\":\"r\",\"rank\":0,\"world\":1,\"stats\":[],\"layers\":[]}"

static void start_run(tt_store *st, const char *msg)
{
    tt_ingest_result res;
    char err[512];
    if (tt_ingest(st, msg, strlen(msg), 1.0, &res, err, sizeof err)) fail_msg("%s", err);
}

/* One step of run "r" with a scalar; the names of the rules that fired, space-separated. */
static const char *step(tt_store *st, tt_alerts *a, int64_t n, const char *scalar, double v)
{
    static char fired_names[512];
    char msg[256], err[512];
    tt_ingest_result res;
    if (isnan(v)) snprintf(msg, sizeof msg, "{\"v\":1,\"type\":\"step\",\"run\":\"r\",\"rank\":0,\"step\":%lld,\"scalars\":{\"%s\":\"NaN\"}}", (long long)n, scalar);
    else snprintf(msg, sizeof msg, "{\"v\":1,\"type\":\"step\",\"run\":\"r\",\"rank\":0,\"step\":%lld,\"scalars\":{\"%s\":%.17g}}", (long long)n, scalar, v);
    if (tt_ingest(st, msg, strlen(msg), 1.0, &res, err, sizeof err)) fail_msg("%s", err);
    tt_alert out[8];
    int k = tt_alerts_on_step(a, tt_store_find(st, "r", 0), out, 8);
    fired_names[0] = 0;
    for (int i = 0; i < k; i++) {
        strcat(fired_names, i ? " " : "");
        strcat(fired_names, out[i].rule);
    }
    return fired_names;
}

#define ES(patience, extra) "{\"name\":\"es\",\"kind\":\"early_stop\",\"monitor\":\"val_loss\",\"patience\":" #patience extra "}"

/* The reload as traintopd does it: the set to use afterwards, the summary line checked. */
static tt_alerts *reload(tt_alerts *cur, const tt_alerts_sources *src, const char *summary)
{
    capture c;
    capture_open(&c);
    tt_alerts *next = tt_alerts_reload(cur, src, c.f);
    const char *text = capture_text(&c);
    if (!strstr(text, summary)) fail_msg("reload said:\n%s\nexpected: %s", text, summary);
    free(c.buf);
    if (next != cur) tt_alerts_free(cur);
    return next;
}

/* An early_stop rule with patience 3 that has counted 2 bad checks: the same definition after a
 * reload fires on the next bad check; a changed patience starts over. */
static void reload_keeps_state(void **state)
{
    char path[300];
    snprintf(path, sizeof path, "%s/es.json", (const char *)*state);
    const char *files[] = { path };
    tt_alerts_sources src = { files, 1, NULL, 0, 1 };
    int errors;
    tt_store st;
    tt_store_init(&st, 64);
    start_run(&st, START);

    write_file(path, "{\"rules\": [" ES(3, "") ", {\"name\":\"gone\",\"kind\":\"spike\",\"monitor\":\"lr\"}]}");
    tt_alerts *a = tt_alerts_build(&src, stderr, &errors);
    assert_int_equal(errors, 0);
    assert_string_equal(step(&st, a, 1, "val_loss", 1.0), "");
    assert_string_equal(step(&st, a, 2, "val_loss", 1.1), "");
    assert_string_equal(step(&st, a, 3, "val_loss", 1.2), "");     /* 2 checks without improvement */
    assert_string_equal(step(&st, a, 4, "loss", NAN), "default:nonfinite-loss");

    /* same definition, an action added, one rule removed: the count goes on, the default stays fired */
    write_file(path, "{\"rules\": [" ES(3, ",\"actions\":[\"bell\"]") "]}");
    a = reload(a, &src, "rules reloaded: 4 rules, 0 mistakes; 4 kept their state, 0 changed, 0 new, 1 removed");
    assert_string_equal(step(&st, a, 5, "loss", NAN), "");
    assert_string_equal(step(&st, a, 6, "val_loss", 1.3), "es");   /* the 3rd bad check */
    tt_alerts_free(a);
    tt_store_free(&st);

    /* the same history, then patience 4: a new rule as far as state goes */
    tt_store_init(&st, 64);
    start_run(&st, START);
    write_file(path, "{\"rules\": [" ES(3, "") "]}");
    a = tt_alerts_build(&src, stderr, &errors);
    assert_string_equal(step(&st, a, 1, "val_loss", 1.0), "");
    assert_string_equal(step(&st, a, 2, "val_loss", 1.1), "");
    assert_string_equal(step(&st, a, 3, "val_loss", 1.2), "");
    write_file(path, "{\"rules\": [" ES(4, "") ", {\"name\":\"new\",\"kind\":\"spike\",\"monitor\":\"loss\"}]}");
    a = reload(a, &src, "rules reloaded: 5 rules, 0 mistakes; 3 kept their state, 1 changed, 1 new, 0 removed");
    assert_string_equal(step(&st, a, 4, "val_loss", 1.3), "");      /* the first value: the best so far */
    assert_string_equal(step(&st, a, 5, "val_loss", 1.4), "");
    assert_string_equal(step(&st, a, 6, "val_loss", 1.5), "");
    assert_string_equal(step(&st, a, 7, "val_loss", 1.6), "");
    assert_string_equal(step(&st, a, 8, "val_loss", 1.7), "es");    /* 4 bad checks since step 4 */
    tt_alerts_free(a);
    tt_store_free(&st);
}

/* A file that cannot be read (half saved, deleted) refuses the reload: the old rules stay, counting. */
static void reload_broken_file(void **state)
{
    char path[300], want[600];
    snprintf(path, sizeof path, "%s/broken.json", (const char *)*state);
    const char *files[] = { path };
    tt_alerts_sources src = { files, 1, NULL, 0, 0 };
    int errors;
    tt_store st;
    tt_store_init(&st, 64);
    start_run(&st, START);
    write_file(path, "{\"rules\": [" ES(2, "") "]}");
    tt_alerts *a = tt_alerts_build(&src, stderr, &errors);
    assert_string_equal(step(&st, a, 1, "val_loss", 1.0), "");
    assert_string_equal(step(&st, a, 2, "val_loss", 1.1), "");

    write_file(path, "{\"rules\": [" ES(2, "") ",\n{\"name\": ");
    capture c;
    capture_open(&c);
    tt_alerts *next = tt_alerts_reload(a, &src, c.f);
    snprintf(want, sizeof want, "traintop: %s: not valid JSON (near line 2)\n"
                                "traintop: rules not reloaded: 1 rules file could not be read (above); keeping the 1 rules in use, with their state\n", path);
    assert_string_equal(capture_text(&c), want);
    free(c.buf);
    assert_ptr_equal(next, a);

    unlink(path);
    capture_open(&c);
    next = tt_alerts_reload(a, &src, c.f);
    assert_non_null(strstr(capture_text(&c), "rules not reloaded"));
    free(c.buf);
    assert_ptr_equal(next, a);
    assert_int_equal(tt_alerts_count(a), 1);
    assert_string_equal(step(&st, a, 3, "val_loss", 1.2), "es");     /* patience 2, counted on */

    /* a file with a mistake in one rule is no broken file: the valid rules are taken */
    write_file(path, "{\"rules\": [" ES(2, "") ", {\"name\":\"x\",\"kind\":\"spike\",\"monitor\":\"loss\",\"facter\":2}]}");
    a = reload(a, &src, "rules reloaded: 1 rules, 1 mistake; 1 kept their state, 0 changed, 0 new, 0 removed");
    tt_alerts_free(a);
    tt_store_free(&st);
}

/* A hook still running when the rules are reloaded is still killed at its deadline. */
static void reload_keeps_hooks(void **state)
{
    (void)state;
    tt_alerts *a = tt_alerts_new();
    assert_int_equal(tt_alerts_add_spec(a, "h:loss spike exec=/bin/sleep,5 timeout=0.1", stderr), 0);
    tt_alert al = { .run = "r", .rule = "h", .metric = "loss" };
    int pid = tt_alerts_exec(a, &al);
    assert_true(pid > 0);
    tt_alerts *b = tt_alerts_new();
    assert_int_equal(tt_alerts_add_spec(b, "h:loss spike exec=/bin/sleep,5 timeout=0.1", stderr), 0);
    assert_int_equal(tt_alerts_take_state(b, a), 1);
    tt_alerts_free(a);
    struct timespec pause = { 0, 20 * 1000 * 1000 };
    for (int i = 0; i < 100 && kill(pid, 0) == 0; i++) {     /* killed after 0.1 s, then reaped */
        tt_alerts_reap(b);
        nanosleep(&pause, NULL);
    }
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
    tt_alerts_free(b);
}

/* ---- layers ---- */

/* A rule over a layer pattern that matches nothing yet fires once a run with such a layer appears. */
static void layers_appear_later(void **state)
{
    (void)state;
    tt_store st;
    tt_store_init(&st, 64);
    tt_alerts *a = tt_alerts_new();
    assert_int_equal(tt_alerts_add_spec(a, "big:w_norm[fc*.weight] > 10", stderr), 0);
    tt_ingest_result res;
    char err[512];
    const char *msgs[] = {
        "{\"v\":1,\"type\":\"run_start\",\"run\":\"conv\",\"rank\":0,\"world\":1,\"stats\":[\"w_norm\"],\"layers\":[{\"name\":\"conv1.weight\",\"rows\":2,\"cols\":2}]}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"conv\",\"rank\":0,\"step\":1,\"layers\":[[50]]}",
        "{\"v\":1,\"type\":\"run_start\",\"run\":\"mlp\",\"rank\":0,\"world\":1,\"stats\":[\"w_norm\"],"
        "\"layers\":[{\"name\":\"conv1.weight\",\"rows\":2,\"cols\":2},{\"name\":\"fc2.weight\",\"rows\":2,\"cols\":2}]}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"mlp\",\"rank\":0,\"step\":1,\"layers\":[[50],[5]]}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"mlp\",\"rank\":0,\"step\":2,\"layers\":[[50],[12]]}",
    };
    const char *runs[] = { NULL, "conv", NULL, "mlp", "mlp" };
    int fired[5] = { 0 };
    tt_alert out[4];
    for (int i = 0; i < 5; i++) {
        if (tt_ingest(&st, msgs[i], strlen(msgs[i]), 1.0, &res, err, sizeof err)) fail_msg("%s", err);
        if (runs[i]) fired[i] = tt_alerts_on_step(a, tt_store_find(&st, runs[i], 0), out, 4);
    }
    assert_int_equal(fired[1], 0);               /* conv1.weight is no fc layer */
    assert_int_equal(fired[3], 0);
    assert_int_equal(fired[4], 1);
    assert_string_equal(out[0].layer, "fc2.weight");
    tt_alerts_free(a);
    tt_store_free(&st);
}

/* The paper's GWA sent with its pole flag: the windows at the pole never count as the best (the spike
 * there is no measurement), and check_finite never reads them as a divergence; stop_on_pole fires with
 * the pole's own reason. */
static void pole_flag(void **state)
{
    (void)state;
    for (int stop = 0; stop < 2; stop++) {
        tt_store st;
        tt_store_init(&st, 64);
        start_run(&st, START);
        tt_alerts *a = tt_alerts_new();
        char spec[128];
        snprintf(spec, sizeof spec, "{\"rules\":[{\"name\":\"g\",\"kind\":\"early_stop\",\"monitor\":\"gwa\",\"mode\":\"max\","
                 "\"patience\":3%s}]}", stop ? ",\"stop_on_pole\":true" : "");
        char path[300];
        snprintf(path, sizeof path, "/tmp/tt-pole-%d.json", (int)getpid());
        write_file(path, spec);
        const char *files[] = { path };
        tt_alerts_sources src = { .files = files, .nfiles = 1 };
        int errors = 0;
        tt_alerts_free(a);
        a = tt_alerts_build(&src, stderr, &errors);
        unlink(path);
        assert_int_equal(errors, 0);
        /* gwa 0.2, 0.3, then at the pole 40, NaN, −30, then 0.25 ×3: fires 3 checks after 0.3 */
        double v[] = { 0.2, 0.3, 40, NAN, -30, 0.25, 0.25, 0.25 };
        int pole[] = { 0, 0, 1, 1, 1, 0, 0, 0 };
        int fired_at = -1;
        for (int i = 0; i < 8 && fired_at < 0; i++) {
            char msg[256], err[512], num[32];
            snprintf(num, sizeof num, isnan(v[i]) ? "\"NaN\"" : "%.17g", v[i]);
            snprintf(msg, sizeof msg, "{\"v\":1,\"type\":\"step\",\"run\":\"r\",\"rank\":0,\"step\":%d,"
                     "\"scalars\":{\"gwa\":%s,\"gwa_pole\":%d}}", i + 1, num, pole[i]);
            tt_ingest_result res;
            if (tt_ingest(&st, msg, strlen(msg), 1.0, &res, err, sizeof err)) fail_msg("%s", err);
            tt_alert out[4];
            if (tt_alerts_on_step(a, tt_store_find(&st, "r", 0), out, 4)) {
                fired_at = i;
                if (stop) assert_non_null(strstr(out[0].reason, "at its pole"));
                else assert_true(out[0].best_step == 2);
            }
        }
        assert_int_equal(fired_at, stop ? 2 : 7);
        tt_alerts_free(a);
        tt_store_free(&st);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(suggestions),
        cmocka_unit_test(file_messages),
        cmocka_unit_test(file_level_messages),
        cmocka_unit_test(spec_messages),
        cmocka_unit_test(duplicates),
        cmocka_unit_test(many_rules),
        cmocka_unit_test(reload_keeps_state),
        cmocka_unit_test(reload_broken_file),
        cmocka_unit_test(reload_keeps_hooks),
        cmocka_unit_test(layers_appear_later),
        cmocka_unit_test(pole_flag),
    };
    return cmocka_run_group_tests_name("alerts", tests, setup_dir, teardown_dir);
}
