/* ingest: valid messages build the store; each hostile message is rejected with its cause and changes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../collectors/ingest.h"

#define START "{\"v\":1,\"type\":\"run_start\",\"run\":\"r1\",\"rank\":0,\"world\":1,\"every\":1," \
              "\"stats\":[\"w_norm\",\"g_norm\"],\"layers\":[{\"name\":\"fc1.weight\",\"rows\":4,\"cols\":3}," \
              "{\"name\":\"fc1.bias\",\"rows\":4,\"cols\":1}]}"

static int feed(tt_store *st, const char *msg, tt_ingest_result *r, char *err)
{
    return tt_ingest(st, msg, strlen(msg), 1.0, r, err, 512);
}

static void valid_run(void **state)
{
    (void)state;
    tt_store st;
    tt_store_init(&st, 16);
    tt_ingest_result r;
    char err[512];
    assert_int_equal(feed(&st, START, &r, err), 0);
    assert_int_equal(feed(&st, "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"step\":1,"
                               "\"scalars\":{\"loss\":2.5,\"odd\":\"-Inf\"},\"layers\":[[1,2],[\"NaN\",4]]}", &r, err), 0);
    assert_int_equal(r.layer_records, 2);
    assert_int_equal(feed(&st, "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"step\":2,\"scalars\":{\"loss\":2.0}}", &r, err), 0);
    tt_run *run = tt_store_find(&st, "r1", 0);
    assert_non_null(run);
    assert_int_equal(run->step, 2);
    assert_int_equal(run->steps_received, 2);
    assert_true(tt_run_scalar(run, "loss")->last == 2.0);
    assert_true(isinf(tt_run_scalar(run, "odd")->last));
    assert_true(isnan(run->layers[1].last[0]) && run->layers[1].last[1] == 4);
    assert_int_equal(run->last_layer_step, 1);
    assert_int_equal(feed(&st, "{\"v\":1,\"type\":\"run_end\",\"run\":\"r1\",\"rank\":0,\"step\":2,\"status\":\"finished\",\"dropped\":3}", &r, err), 0);
    assert_int_equal(r.type, TT_MSG_RUN_END);
    assert_int_equal(run->state, TT_RUN_FINISHED);
    assert_int_equal(run->probe_dropped, 3);
    /* The same start again (a probe asked to resend it) keeps the history. */
    assert_int_equal(feed(&st, START, &r, err), 0);
    assert_int_equal(tt_store_find(&st, "r1", 0)->steps_received, 2);
    tt_store_free(&st);
}

typedef struct { const char *msg; const char *cause; const char *needle; } bad_case;

static void hostile_messages(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        { "", "json", "not valid JSON" },
        { "{", "json", "not valid JSON" },
        { "[1,2]", "json", "expected a JSON object" },
        { "{\"v\":3,\"type\":\"step\",\"run\":\"r1\",\"rank\":0}", "version", "protocol version 1..2" },
        { "{\"v\":0,\"type\":\"step\",\"run\":\"r1\",\"rank\":0}", "version", "protocol version 1..2" },
        { "{\"v\":2,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"seq\":0,\"step\":3}", "field", "seq:" },
        { "{\"v\":2,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"seq\":1.5,\"step\":3}", "field", "seq:" },
        { "{\"v\":2,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"seq\":4,\"base\":4,\"step\":3}", "field", "base:" },
        { "{\"v\":2,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"seq\":4,\"base\":-1,\"step\":3}", "field", "base:" },
        { "{\"v\":2,\"type\":\"run_start\",\"run\":\"r2\",\"rank\":0,\"seq\":1,\"world\":1,\"stats\":[],\"layers\":[]}", "field", "seq:" },
        { "{\"v\":2,\"type\":\"run_end\",\"run\":\"r1\",\"rank\":0,\"step\":3,\"status\":\"finished\",\"steps\":-2}", "field", "steps:" },
        { "{\"type\":\"step\",\"run\":\"r1\",\"rank\":0}", "version", "protocol version" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"../etc\",\"rank\":0,\"step\":3}", "field", "run:" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":-1,\"step\":3}", "field", "rank:" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":0.5,\"step\":3}", "field", "rank:" },
        { "{\"v\":1,\"type\":\"bogus\",\"run\":\"r1\",\"rank\":0}", "type", "type 'bogus'" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"nobody\",\"rank\":0,\"step\":3}", "unknown_run", "run_start was not received" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"step\":1}", "order", "expected a step after 2" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"step\":\"3\"}", "field", "step:" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"step\":1e300}", "field", "step:" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"step\":3,\"scalars\":{\"loss\":\"high\"}}", "field", "scalars.loss" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"step\":3,\"scalars\":[1]}", "field", "scalars:" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"step\":3,\"layers\":[[1,2]]}", "field", "expected an array of 2 layer rows" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"step\":3,\"layers\":[[1,2],[3]]}", "field", "'fc1.bias': expected an array of 2" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"step\":3,\"layers\":[[1,2],[3,null]]}", "field", "g_norm" },
        { "{\"v\":1,\"type\":\"run_end\",\"run\":\"r1\",\"rank\":0,\"step\":3,\"status\":\"exploded\"}", "field", "status 'exploded'" },
        { "{\"v\":1,\"type\":\"run_start\",\"run\":\"r2\",\"rank\":3,\"world\":2,\"stats\":[],\"layers\":[]}", "field", "world:" },
        { "{\"v\":1,\"type\":\"run_start\",\"run\":\"r2\",\"rank\":0,\"world\":1,\"stats\":[\"a\",\"a\"],\"layers\":[]}", "field", "appears twice" },
        { "{\"v\":1,\"type\":\"run_start\",\"run\":\"r2\",\"rank\":0,\"world\":1,\"stats\":[],\"layers\":[{\"name\":\"x\",\"rows\":0,\"cols\":1}]}", "field", "rows and cols" },
        { "{\"v\":1,\"type\":\"run_start\",\"run\":\"r2\",\"rank\":0,\"world\":1,\"stats\":[],\"layers\":[{\"name\":\"a\\\"b\",\"rows\":1,\"cols\":1}]}", "field", "layers[0].name" },
        { "{\"v\":1,\"type\":\"run_start\",\"run\":\"r2\",\"rank\":0,\"world\":1,\"stats\":[],\"layers\":[],\"hparams\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}}", "field", "hparams" },
        { "{\"v\":1,\"type\":\"run_start\",\"run\":\"r1\",\"rank\":0,\"world\":1,\"stats\":[\"w_norm\"],\"layers\":[]}", "conflict", "differs" },
    };
    tt_store st;
    tt_store_init(&st, 16);
    tt_ingest_result r;
    char err[512];
    assert_int_equal(feed(&st, START, &r, err), 0);
    assert_int_equal(feed(&st, "{\"v\":1,\"type\":\"step\",\"run\":\"r1\",\"rank\":0,\"step\":2}", &r, err), 0);
    uint64_t version = st.version;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        err[0] = 0;
        int rc = feed(&st, cases[i].msg, &r, err);
        if (rc != -1 || strcmp(r.cause, cases[i].cause) || !strstr(err, cases[i].needle))
            fail_msg("case %zu: rc %d cause '%s' err '%s' (wanted cause '%s' containing '%s')",
                     i, rc, r.cause ? r.cause : "", err, cases[i].cause, cases[i].needle);
        assert_null(strchr(err, '\n'));          /* one line */
    }
    assert_int_equal(st.version, version);       /* nothing applied */
    assert_int_equal(st.nruns, 1);
    assert_int_equal(tt_store_find(&st, "r1", 0)->step, 2);
    tt_store_free(&st);
}

static void truncated_prefixes_never_crash(void **state)
{
    (void)state;
    const char *full = START;
    tt_store st;
    tt_store_init(&st, 16);
    tt_ingest_result r;
    char err[512];
    for (size_t n = 0; n < strlen(full); n++) assert_int_equal(tt_ingest(&st, full, n, 1.0, &r, err, sizeof err), -1);
    assert_int_equal(st.nruns, 0);
    tt_store_free(&st);
}

static void finished_run_restarted_with_new_layout(void **state)
{
    (void)state;
    tt_store st;
    tt_store_init(&st, 16);
    tt_ingest_result r;
    char err[512];
    assert_int_equal(feed(&st, START, &r, err), 0);
    assert_int_equal(feed(&st, "{\"v\":1,\"type\":\"run_end\",\"run\":\"r1\",\"rank\":0,\"step\":0,\"status\":\"stopped\"}", &r, err), 0);
    assert_int_equal(feed(&st, "{\"v\":1,\"type\":\"run_start\",\"run\":\"r1\",\"rank\":0,\"world\":1,\"stats\":[\"x\"],\"layers\":[]}", &r, err), 0);
    assert_int_equal(st.nruns, 1);
    assert_int_equal(tt_store_find(&st, "r1", 0)->nstats, 1);
    assert_int_equal(tt_store_find(&st, "r1", 0)->state, TT_RUN_RUNNING);
    tt_store_free(&st);
}

static void extra_statistics(void **state)
{
    (void)state;
    tt_store st;
    tt_store_init(&st, 16);
    tt_ingest_result r;
    char err[512];
    const char *start = "{\"v\":1,\"type\":\"run_start\",\"run\":\"x\",\"rank\":0,\"world\":1,\"row_stats\":1,"
                        "\"stats\":[\"w_norm\",\"alpha\"],\"layers\":[{\"name\":\"a\",\"rows\":4,\"cols\":4},{\"name\":\"b\",\"rows\":4,\"cols\":1}]}";
    assert_int_equal(feed(&st, start, &r, err), 0);
    assert_int_equal(feed(&st, "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":10,\"layers\":[[1],[2]],\"extra\":[[0,1,3.5,7]]}", &r, err), 0);
    tt_run *run = tt_store_find(&st, "x", 0);
    assert_int_equal(run->row_stats, 1);
    assert_true(run->layers[0].last[1] == 3.5);
    assert_int_equal(tt_series_last_step(run->layers[0].stat[1]), 7);
    assert_int_equal(r.layer_records, 3);
    /* rows must be row_stats long; extra indices and steps are checked */
    assert_int_equal(feed(&st, "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":11,\"layers\":[[1,2],[2,3]]}", &r, err), -1);
    assert_non_null(strstr(err, "expected an array of 1 statistics"));
    assert_int_equal(feed(&st, "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":11,\"extra\":[[2,1,3]]}", &r, err), -1);
    assert_non_null(strstr(err, "extra[0]: layer 2"));
    assert_int_equal(feed(&st, "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":11,\"extra\":[[0,1,3,12]]}", &r, err), -1);
    assert_int_equal(feed(&st, "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":11,\"extra\":[[0,1,3,5]]}", &r, err), -1);
    assert_string_equal(r.cause, "order");
    assert_int_equal(feed(&st, "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":11,\"extra\":[[1,0,\"NaN\"]]}", &r, err), 0);
    assert_true(isnan(run->layers[1].last[0]));
    tt_store_free(&st);
}

/* The fast path takes step messages with extra entries too, and keeps every decision and every value
 * of the general validator's: each message goes to a fast store and to a general-only one. */
static void extra_fast_path_matches_general(void **state)
{
    (void)state;
    tt_store fast, gen;
    tt_store_init(&fast, 8);
    tt_store_init(&gen, 8);
    gen.no_fast = 1;
    static const char *const msgs[] = {
        "{\"v\":1,\"type\":\"run_start\",\"run\":\"x\",\"rank\":0,\"world\":1,\"row_stats\":1,"
        "\"stats\":[\"w_norm\",\"alpha\"],\"layers\":[{\"name\":\"a\",\"rows\":4,\"cols\":4},{\"name\":\"b\",\"rows\":4,\"cols\":1}]}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":10,\"layers\":[[1],[2]],\"extra\":[[0,1,3.5,7],[1,1,\"-Inf\"]]}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":11,\"extra\":[]}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"extra\":[[0,0,1e-3],[0,1,2,11.0]],\"step\":12}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":13,\"extra\":[[0,1,3,10]]}",      /* before the series' last */
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":13,\"extra\":[[0,1,3,14]]}",      /* after the message */
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":13,\"extra\":[[2,0,3]]}",         /* no layer 2 */
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":13,\"extra\":[[0,2,3]]}",         /* no stat 2 */
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":13,\"extra\":[[0.5,0,3]]}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":13,\"extra\":[[-1,0,3]]}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":13,\"extra\":[[0,0,3,-1]]}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":13,\"extra\":[[0,0]]}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":13,\"extra\":[[0,0,1,13,5]]}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":13,\"extra\":[[0,0,\"nan\"]]}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":13,\"extra\":{}}",
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":13,\"extra\":[[0,0,1]],\"extra\":[[0,0,2]]}",   /* the general path reads the first */
        "{\"v\":1,\"type\":\"step\",\"run\":\"x\",\"rank\":0,\"step\":14,\"layers\":[[5],[6]],\"extra\":[[0,0,7,14],[1,1,-0.0,14]]}",
    };
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
        tt_ingest_result rf, rg;
        char ef[512], eg[512];
        int a = feed(&fast, msgs[i], &rf, ef), b = feed(&gen, msgs[i], &rg, eg);
        if (a != b) fail_msg("message %zu: fast path %d, general %d", i, a, b);
        if (a) { assert_string_equal(rf.cause, rg.cause); assert_string_equal(ef, eg); continue; }
        assert_int_equal(rf.layer_records, rg.layer_records);
        const tt_run *x = fast.runs[0], *y = gen.runs[0];
        assert_int_equal(x->step, y->step);
        assert_int_equal(x->last_layer_step, y->last_layer_step);
        for (int l = 0; l < x->nlayers; l++)
            for (int k = 0; k < x->nstats; k++) {
                assert_memory_equal(&x->layers[l].last[k], &y->layers[l].last[k], sizeof(double));
                assert_int_equal(tt_series_count(x->layers[l].stat[k]), tt_series_count(y->layers[l].stat[k]));
                assert_int_equal(tt_series_last_step(x->layers[l].stat[k]), tt_series_last_step(y->layers[l].stat[k]));
            }
    }
    const tt_run *x = fast.runs[0];
    assert_int_equal(x->step, 14);
    assert_true(x->layers[1].last[1] == 0 && signbit(x->layers[1].last[1]));   /* -0.0 at 14 replaced -Inf */
    assert_true(x->layers[0].last[0] == 7 && x->layers[0].last[1] == 2);
    /* the scanner takes them itself, not through the general path */
    tt_fast_step f;
    memset(&f, 0, sizeof f);
    assert_int_equal(tt_fast_step_scan(msgs[1], strlen(msgs[1]), &f), 0);
    assert_int_equal(f.nextra, 2);
    assert_true(f.extra[0].has_step && f.extra[0].step == 7 && !f.extra[1].has_step && isinf(f.extra[1].value));
    free(f.vals);
    free(f.extra);
    tt_store_free(&fast);
    tt_store_free(&gen);
}

/* Protocol version 2's delivery: sequence numbers, the probe's base, duplicates, gaps, the end; the fast
 * and the general path agree on every message. */
static void delivery_sequence(void **state)
{
    (void)state;
#define V2 "{\"v\":2,\"type\":\"step\",\"run\":\"s\",\"rank\":0,"
    static const struct { const char *msg; const char *cause; } msgs[] = {
        { "{\"v\":2,\"type\":\"run_start\",\"run\":\"s\",\"rank\":0,\"world\":1,\"stats\":[\"w_norm\"],"
          "\"layers\":[{\"name\":\"a\",\"rows\":1,\"cols\":1}]}", NULL },
        { V2 "\"seq\":1,\"step\":1,\"layers\":[[1]]}", NULL },
        { V2 "\"seq\":1,\"step\":1,\"layers\":[[1]]}", "duplicate" },       /* a resend of what we have */
        { V2 "\"seq\":3,\"base\":1,\"step\":3,\"layers\":[[3]]}", "gap" },  /* 2 is missing: refused until it comes */
        { V2 "\"seq\":2,\"base\":1,\"step\":2,\"layers\":[[2]]}", NULL },
        { V2 "\"seq\":3,\"base\":1,\"step\":3,\"layers\":[[3]]}", NULL },
        { V2 "\"seq\":10,\"base\":9,\"step\":10,\"layers\":[[10]]}", NULL },  /* 4..9 released by the probe: missing */
        { "{\"v\":1,\"type\":\"step\",\"run\":\"s\",\"rank\":0,\"step\":11}", NULL },   /* version 1: no sequence */
        { "{\"v\":2,\"type\":\"run_end\",\"run\":\"s\",\"rank\":0,\"seq\":11,\"base\":10,\"step\":11,"
          "\"status\":\"finished\",\"steps\":11,\"sent\":12,\"dropped\":0,\"spooled\":5}", NULL },
        { V2 "\"seq\":12,\"base\":11,\"step\":12}", "ended" },
        { "{\"v\":1,\"type\":\"step\",\"run\":\"s\",\"rank\":0,\"step\":13}", "ended" },
        { "{\"v\":2,\"type\":\"run_end\",\"run\":\"s\",\"rank\":0,\"seq\":11,\"step\":11,\"status\":\"finished\"}", "duplicate" },
    };
    tt_store fast, gen;
    tt_store_init(&fast, 8);
    tt_store_init(&gen, 8);
    gen.no_fast = 1;
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
        tt_ingest_result rf, rg;
        char ef[512], eg[512];
        int a = feed(&fast, msgs[i].msg, &rf, ef), b = feed(&gen, msgs[i].msg, &rg, eg);
        if (a != b || a != (msgs[i].cause ? -1 : 0) || (a && (strcmp(rf.cause, msgs[i].cause) || strcmp(rg.cause, msgs[i].cause))))
            fail_msg("message %zu: fast %d (%s), general %d (%s), wanted %s", i, a, a ? ef : "ok", b, b ? eg : "ok",
                     msgs[i].cause ? msgs[i].cause : "accepted");
        assert_int_equal(rf.duplicate, msgs[i].cause && !strcmp(msgs[i].cause, "duplicate"));
        assert_int_equal(rf.gap, msgs[i].cause && !strcmp(msgs[i].cause, "gap"));
    }
    for (int k = 0; k < 2; k++) {
        const tt_run *r = (k ? &gen : &fast)->runs[0];
        assert_int_equal(r->steps_received, 5);
        assert_int_equal(r->seq_last, 11);
        assert_int_equal(r->seq_dups, 2);
        assert_int_equal(r->seq_gaps, 1);
        assert_int_equal(r->seq_missing, 6);          /* 4..9 */
        assert_int_equal(r->after_end, 2);
        assert_int_equal(r->state, TT_RUN_FINISHED);
        assert_true(r->has_end_steps && r->probe_steps == 11 && r->probe_spooled == 5);
        assert_int_equal(tt_series_count(r->layers[0].stat[0]), 4);
    }
    /* A run_start resumes the ended run explicitly, with a new sequence. */
    tt_ingest_result r;
    char err[512];
    assert_int_equal(feed(&gen, msgs[0].msg, &r, err), 0);
    assert_int_equal(gen.runs[0]->state, TT_RUN_RUNNING);
    assert_int_equal(feed(&gen, V2 "\"seq\":1,\"step\":20}", &r, err), 0);
    assert_int_equal(gen.runs[0]->step, 20);
    /* Where nothing can be resent (a replay, a viewer), a gap is taken and counted as missing. */
    gen.seq_lenient = 1;
    assert_int_equal(feed(&gen, V2 "\"seq\":5,\"step\":21}", &r, err), 0);
    assert_int_equal(gen.runs[0]->seq_missing, 6 + 3);
#undef V2
    tt_store_free(&fast);
    tt_store_free(&gen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_run),
        cmocka_unit_test(hostile_messages),
        cmocka_unit_test(truncated_prefixes_never_crash),
        cmocka_unit_test(finished_run_restarted_with_new_layout),
        cmocka_unit_test(extra_statistics),
        cmocka_unit_test(extra_fast_path_matches_general),
        cmocka_unit_test(delivery_sequence),
    };
    return cmocka_run_group_tests_name("ingest", tests, NULL, NULL);
}
