/* crossrank: the collector's noise scale from per-rank local gradient norms equals the formula of
 * METRICS.md §2 computed by hand, once every rank has reported the step, whatever their order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../collectors/crossrank.h"
#include "../../collectors/ingest.h"

static void feed(tt_store *st, const char *m)
{
    tt_ingest_result r;
    char err[512];
    if (tt_ingest(st, m, strlen(m), 1.0, &r, err, sizeof err)) fail_msg("%s: %s", m, err);
}

static void noise_scale_from_ranks(void **state)
{
    (void)state;
    tt_store st;
    tt_store_init(&st, 16);
    char m[400];
    for (int k = 0; k < 3; k++) {
        snprintf(m, sizeof m, "{\"v\":1,\"type\":\"run_start\",\"run\":\"dp\",\"rank\":%d,\"world\":3,\"hparams\":{\"batch\":8},"
                              "\"stats\":[\"w_norm\",\"g_norm\"],\"layers\":[{\"name\":\"a\",\"rows\":2,\"cols\":2},{\"name\":\"b\",\"rows\":2,\"cols\":1}]}", k);
        feed(&st, m);
    }
    const double local[3] = { 2.0, 3.0, 4.5 };
    /* ranks 2 and 1 first: nothing yet */
    for (int k = 2; k >= 1; k--) {
        snprintf(m, sizeof m, "{\"v\":1,\"type\":\"step\",\"run\":\"dp\",\"rank\":%d,\"step\":7,\"scalars\":{\"local_grad_sq\":%g}}", k, local[k]);
        feed(&st, m);
        assert_int_equal(tt_crossrank_step(&st, tt_store_find(&st, "dp", k), 7), 0);
    }
    /* rank 0 carries the reduced gradient's layer norms: ‖Ḡ‖² = 1.0² + 0.5² */
    snprintf(m, sizeof m, "{\"v\":1,\"type\":\"step\",\"run\":\"dp\",\"rank\":0,\"step\":7,\"scalars\":{\"local_grad_sq\":%g},\"layers\":[[3,1.0],[1,0.5]]}", local[0]);
    feed(&st, m);
    tt_run *r0 = tt_store_find(&st, "dp", 0);
    assert_int_equal(tt_crossrank_step(&st, r0, 7), 1);
    double gbar2 = 1.25, mean_local = (2.0 + 3.0 + 4.5) / 3, K = 3, b = 8;
    double trace = (mean_local - gbar2) * K / (K - 1), g2 = (K * gbar2 - mean_local) / (K - 1);
    assert_true(fabs(tt_run_scalar(r0, "grad_sq_ranks")->last - g2) < 1e-12);
    assert_true(fabs(tt_run_scalar(r0, "trace_sigma_ranks")->last - b * trace) < 1e-12);
    assert_true(fabs(tt_run_scalar(r0, "noise_scale_ranks")->last - b * trace / g2) < 1e-9);
    /* a single-rank run never gets them */
    feed(&st, "{\"v\":1,\"type\":\"run_start\",\"run\":\"solo\",\"rank\":0,\"world\":1,\"stats\":[],\"layers\":[]}");
    feed(&st, "{\"v\":1,\"type\":\"step\",\"run\":\"solo\",\"rank\":0,\"step\":1,\"scalars\":{\"local_grad_sq\":1}}");
    assert_int_equal(tt_crossrank_step(&st, tt_store_find(&st, "solo", 0), 1), 0);
    tt_store_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(noise_scale_from_ranks) };
    return cmocka_run_group_tests_name("crossrank", tests, NULL, NULL);
}
