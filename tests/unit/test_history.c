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

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(roundtrip_keeps_extremes) };
    return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}
