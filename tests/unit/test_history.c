/* history: a store re-encoded and ingested into a fresh store gives the same runs, the same last
 * values, and keeps every bucket's extremes (a one-step spike survives the downsampling). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../collectors/history.h"
#include "../../collectors/ingest.h"

static void feed(tt_store *st, const char *m)
{
    tt_ingest_result r;
    char err[512];
    if (tt_ingest(st, m, strlen(m), 1.0, &r, err, sizeof err)) fail_msg("%s: %s", m, err);
}

static void roundtrip_keeps_extremes(void **state)
{
    (void)state;
    tt_store a, b;
    tt_store_init(&a, 16);
    tt_store_init(&b, 16);
    feed(&a, "{\"v\":1,\"type\":\"run_start\",\"run\":\"h\",\"rank\":0,\"world\":1,\"row_stats\":1,\"hparams\":{\"lr\":0.1},"
             "\"stats\":[\"w_norm\",\"alpha\"],\"layers\":[{\"name\":\"fc\",\"rows\":3,\"cols\":2}]}");
    char m[256];
    for (int s = 1; s <= 5000; s++) {
        double loss = s == 1234 ? 1000.0 : 1.0 / s;
        if (s % 100 == 0)
            snprintf(m, sizeof m, "{\"v\":1,\"type\":\"step\",\"run\":\"h\",\"rank\":0,\"step\":%d,\"scalars\":{\"loss\":%.17g},\"layers\":[[%d]],\"extra\":[[0,1,%d]]}", s, loss, s, s / 100);
        else
            snprintf(m, sizeof m, "{\"v\":1,\"type\":\"step\",\"run\":\"h\",\"rank\":0,\"step\":%d,\"scalars\":{\"loss\":%.17g},\"layers\":[[%d]]}", s, loss, s);
        feed(&a, m);
    }
    feed(&a, "{\"v\":1,\"type\":\"run_end\",\"run\":\"h\",\"rank\":0,\"step\":5000,\"status\":\"finished\"}");
    size_t len;
    char *h = tt_history_encode(&a, 100, 20, &len);
    assert_non_null(h);
    for (char *p = h, *end = h + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        *nl = 0;
        feed(&b, p);
        p = nl + 1;
    }
    free(h);
    const tt_run *ra = a.runs[0], *rb = tt_store_find(&b, "h", 0);
    assert_non_null(rb);
    assert_int_equal(rb->state, TT_RUN_FINISHED);
    assert_int_equal(rb->step, 5000);
    assert_int_equal(rb->row_stats, 1);
    assert_string_equal(rb->layers[0].name, "fc");
    assert_true(cJSON_GetObjectItem(rb->hparams, "lr")->valuedouble == 0.1);
    const tt_named_series *la = tt_run_scalar(ra, "loss"), *lb = tt_run_scalar(rb, "loss");
    assert_true(fabs(lb->last - la->last) <= 1e-7 * fabs(la->last));   /* buckets hold floats */
    assert_true(lb->max == 1000.0);                          /* the spike at step 1234 survived */
    assert_true(tt_series_count(lb->series) <= 300);         /* downsampled: 100 buckets, ≤ 3 points each */
    assert_true(rb->layers[0].last[0] == 5000 && rb->layers[0].last[1] == 50);
    tt_point pa[1], pb[1];
    tt_series_query(la->series, 0, 5000, 1, pa);
    tt_series_query(lb->series, 0, 5000, 1, pb);
    assert_true(pa[0].min == pb[0].min && pa[0].max == pb[0].max);
    /* live messages continue the copy */
    feed(&b, "{\"v\":1,\"type\":\"run_start\",\"run\":\"h2\",\"rank\":0,\"world\":1,\"stats\":[],\"layers\":[]}");
    tt_store_free(&a);
    tt_store_free(&b);
}

static void feed_lines(tt_store *st, char *h, size_t len);

/* A viewer's copy shows the collector's steps per second, not the pace at which it ingested the history:
 * for a finished run and for one still running, and untimed history steps never move it. */
static void history_carries_rates(void **state)
{
    (void)state;
    tt_store a, b;
    tt_store_init(&a, 16);
    tt_store_init(&b, 16);
    b.seq_lenient = 1;                         /* as tt_collector_open_mirror's store */
    char m[256];
    const double t0 = 1795388000.0;
    for (int k = 0; k < 2; k++) {
        const char *run = k ? "live" : "done";
        double dt = k ? 0.005 : 0.01;          /* 200 and 100 steps per second by the probe's clock */
        snprintf(m, sizeof m, "{\"v\":2,\"type\":\"run_start\",\"run\":\"%s\",\"rank\":0,\"time\":%.6f,\"world\":1,"
                 "\"stats\":[\"w_norm\"],\"layers\":[{\"name\":\"fc\",\"rows\":1,\"cols\":1}]}", run, t0);
        feed(&a, m);
        for (int s = 1; s <= 300; s++) {
            snprintf(m, sizeof m, "{\"v\":2,\"type\":\"step\",\"run\":\"%s\",\"rank\":0,\"seq\":%d,\"time\":%.6f,\"step\":%d,"
                     "\"scalars\":{\"loss\":1}}", run, s, t0 + s * dt, s);
            feed(&a, m);
        }
    }
    feed(&a, "{\"v\":2,\"type\":\"run_end\",\"run\":\"done\",\"rank\":0,\"seq\":301,\"time\":1795388003.0,\"step\":300,\"status\":\"finished\"}");
    const tt_run *done = tt_store_find(&a, "done", 0), *live = tt_store_find(&a, "live", 0);
    assert_true(fabs(done->steps_per_s - 100) < 1e-6);
    assert_true(fabs(live->steps_per_s - 200) < 1);
    size_t len;
    char *h = tt_history_encode(&a, 50, 20, &len);
    assert_non_null(h);
    feed_lines(&b, h, len);
    free(h);
    for (int k = 0; k < 2; k++) {
        const tt_run *x = k ? live : done, *y = tt_store_find(&b, x->name, 0);
        assert_non_null(y);
        if (fabs(y->steps_per_s - x->steps_per_s) > 1e-8 * x->steps_per_s)
            fail_msg("%s: the viewer's copy has %.10g steps/s, the collector %.10g", x->name, y->steps_per_s, x->steps_per_s);
    }
    tt_store_free(&a);
    tt_store_free(&b);
}

static void feed_lines(tt_store *st, char *h, size_t len)
{
    for (char *p = h, *end = h + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        *nl = 0;
        feed(st, p);
        *nl = '\n';
        p = nl + 1;
    }
}

static void same_series(const tt_series *x, const tt_series *y)
{
    tt_point px[64], py[64];
    size_t n = tt_series_query(x, 0, INT64_MAX, 64, px);
    assert_int_equal(tt_series_query(y, 0, INT64_MAX, 64, py), n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(px[i].step, py[i].step);
        assert_memory_equal(&px[i].last, &py[i].last, sizeof px[i].last);
        assert_memory_equal(&px[i].min, &py[i].min, sizeof px[i].min);
        assert_memory_equal(&px[i].max, &py[i].max, sizeof px[i].max);
    }
}

/* Steps where every layer has every row statistic travel as layer rows, the rest as extra entries (a
 * statistic on its own schedule, a series with two points at one step); the copy holds the source's
 * values bit for bit (floats in 9 digits), whether the viewer ingests on the fast or the general path. */
static void rows_and_extras(void **state)
{
    (void)state;
    tt_store a, b, c;
    tt_store_init(&a, 0);
    tt_store_init(&b, 0);
    tt_store_init(&c, 0);
    c.no_fast = 1;
    feed(&a, "{\"v\":1,\"type\":\"run_start\",\"run\":\"m\",\"rank\":0,\"world\":1,\"row_stats\":2,"
             "\"stats\":[\"w_norm\",\"g_norm\",\"alpha\"],\"layers\":[{\"name\":\"a\",\"rows\":2,\"cols\":2},"
             "{\"name\":\"b\",\"rows\":2,\"cols\":1},{\"name\":\"c\",\"rows\":1,\"cols\":1}]}");
    char m[512];
    for (int s = 1; s <= 60; s++) {          /* under 32 points a layer series: no bucket merges */
        float f = 1.0f / (float)s;
        int n = snprintf(m, sizeof m, "{\"v\":1,\"type\":\"step\",\"run\":\"m\",\"rank\":0,\"step\":%d,\"scalars\":{\"loss\":%.9g}", s, (double)f);
        if (s % 2 == 0)
            n += snprintf(m + n, sizeof m - (size_t)n, ",\"layers\":[[%.9g,%d],[%d,\"NaN\"],[%.9g,-0.0]]", (double)f, s, -s, (double)(f * 3));
        if (s % 7 == 0) n += snprintf(m + n, sizeof m - (size_t)n, ",\"extra\":[[%d,2,%.9g,%d]%s]", s % 3, (double)f, s - 3,
                                      s == 42 ? ",[1,0,5,42]" : "");    /* at 42 layer b's w_norm twice */
        snprintf(m + n, sizeof m - (size_t)n, "}");
        feed(&a, m);
    }
    size_t len;
    char *h = tt_history_encode(&a, 1000, 1000, &len);    /* no downsampling: every point comes back as sent */
    assert_non_null(h);
    assert_non_null(strstr(h, "\"step\":2,\"scalars\":{\"loss\":0.5},\"layers\":[[0.5,2],[-2,\"NaN\"],[1.5,-0]]}"));
    assert_non_null(strstr(h, "\"step\":4,\"scalars\":{\"loss\":0.25},\"layers\":[[0.25,4],[-4,\"NaN\"],[0.75,-0]],"
                              "\"extra\":[[1,2,0.142857149]]}"));                /* alpha sent at step 7 for step 4 */
    assert_non_null(strstr(h, "\"step\":39,\"scalars\":{\"loss\":0.025641026},\"extra\":[[0,2,0.0238095243]]}"));
    char *s42 = strstr(h, "\"step\":42,\"scalars\":{\"loss\":0.0238095243},\"extra\":[[");   /* a doubled point: no rows */
    assert_non_null(s42);
    assert_non_null(strstr(s42, "[1,0,-42],[1,0,5]]}"));
    feed_lines(&b, h, len);
    feed_lines(&c, h, len);
    free(h);
    const tt_run *ra = a.runs[0];
    for (int copy = 0; copy < 2; copy++) {
        const tt_run *rb = (copy ? &c : &b)->runs[0];
        assert_int_equal(rb->step, 60);
        assert_int_equal(rb->last_layer_step, ra->last_layer_step);
        for (int l = 0; l < 3; l++)
            for (int k = 0; k < 3; k++) {
                assert_int_equal(tt_series_count(rb->layers[l].stat[k]), tt_series_count(ra->layers[l].stat[k]));
                same_series(ra->layers[l].stat[k], rb->layers[l].stat[k]);
                assert_memory_equal(&rb->layers[l].last[k], &ra->layers[l].last[k], sizeof(double));
            }
        same_series(tt_run_scalar(ra, "loss")->series, tt_run_scalar(rb, "loss")->series);
    }
    assert_true(b.runs[0]->layers[1].last[0] == -60);
    assert_int_equal(tt_series_count(b.runs[0]->layers[1].stat[0]), 31);   /* 30 rows and the extra at 42 */
    tt_store_free(&a);
    tt_store_free(&b);
    tt_store_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(roundtrip_keeps_extremes), cmocka_unit_test(history_carries_rates),
                                        cmocka_unit_test(rows_and_extras) };
    return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}
