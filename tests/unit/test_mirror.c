/* mirror: a viewer's copy follows a real collector through the query socket alone — its history, then
 * live messages; when it falls behind what the collector keeps (a gap) and when the collector is a new
 * one on the same endpoint (another epoch), it reloads the history and goes on. The collector runs in a
 * thread of its own; probes' messages arrive over a real PUSH socket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../collectors/collector.h"
#include "../../collectors/series.h"

static char dir[64], ep[128];

typedef struct { tt_collector *c; volatile int stop; pthread_t t; } serving;

static void *serve(void *arg)
{
    serving *s = arg;
    while (!s->stop) tt_collector_wait(s->c, 10);
    return NULL;
}

static void start(serving *s)
{
    char err[512];
    tt_collector_opts o = { .endpoint = ep, .quiet = 1 };
    s->stop = 0;
    s->c = tt_collector_open(&o, err, sizeof err);
    if (!s->c) fail_msg("%s", err);
    assert_int_equal(pthread_create(&s->t, NULL, serve, s), 0);
}

static void stop(serving *s)
{
    s->stop = 1;
    pthread_join(s->t, NULL);
    tt_collector_close(s->c);
}

static void push(int sock, const char *msg)
{
    assert_true(nn_send(sock, msg, strlen(msg), 0) >= 0);
}

static void steps(int sock, const char *run, int from, int to)
{
    char m[256];
    for (int i = from; i <= to; i++) {
        snprintf(m, sizeof m, "{\"v\":1,\"type\":\"step\",\"run\":\"%s\",\"rank\":0,\"step\":%d,\"scalars\":{\"loss\":%g}}", run, i, 1.0 / i);
        push(sock, m);
    }
}

static void begin(int sock, const char *run)
{
    char m[256];
    snprintf(m, sizeof m, "{\"v\":1,\"type\":\"run_start\",\"run\":\"%s\",\"rank\":0,\"world\":1,\"stats\":[],\"layers\":[]}", run);
    push(sock, m);
}

/* Lets the mirror work until its copy of run has step want (30 s at most: a loaded machine). */
static int64_t follow(tt_collector *m, const char *run, int64_t want)
{
    const tt_run *r = NULL;
    for (int i = 0; i < 3000 && !(r && r->step >= want); i++) {
        tt_collector_wait(m, 10);
        r = tt_store_find(tt_collector_store(m), run, 0);
    }
    return r ? r->step : -1;
}

/* The copy's loss points between steps from and to: none when those messages were skipped. */
static size_t loss_points(tt_collector *m, const char *run, int64_t from, int64_t to)
{
    const tt_run *r = tt_store_find(tt_collector_store(m), run, 0);
    static tt_point pts[64];
    for (int i = 0; r && i < r->nscalars; i++)
        if (!strcmp(r->scalars[i].name, "loss")) return tt_series_query(r->scalars[i].series, from, to, 64, pts);
    return 0;
}

static void follows_gaps_and_restarts(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tt-mirror-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(ep, sizeof ep, "ipc://%s/c.sock", dir);
    serving s;
    start(&s);
    int sock = nn_socket(AF_SP, NN_PUSH);
    assert_true(sock >= 0 && nn_connect(sock, ep) >= 0);
    begin(sock, "a");
    steps(sock, "a", 1, 20);

    char err[512];
    tt_collector *m = NULL;
    for (int i = 0; i < 100 && !m; i++) m = tt_collector_open_mirror(ep, 5000, NULL, err, sizeof err);
    if (!m) fail_msg("%s", err);
    assert_int_equal(follow(m, "a", 20), 20);                  /* the history, or live: step 20 arrives */
    steps(sock, "a", 21, 40);
    assert_int_equal(follow(m, "a", 40), 40);                  /* live */

    /* far behind: more messages than the collector keeps for viewers, while the viewer is not asking */
    steps(sock, "a", 41, 10040);
    assert_int_equal(follow(m, "a", 10040), 10040);            /* a gap, the history again, then live */
    assert_true(loss_points(m, "a", 100, 1000) > 0);           /* what the viewer never got live came with it */

    /* a new collector on the same endpoint: its numbers are another epoch's */
    stop(&s);
    start(&s);
    begin(sock, "b");
    steps(sock, "b", 1, 5);
    assert_int_equal(follow(m, "b", 5), 5);
    steps(sock, "b", 6, 9);
    assert_int_equal(follow(m, "b", 9), 9);

    tt_collector_close(m);
    nn_close(sock);
    stop(&s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(follows_gaps_and_restarts),
    };
    return cmocka_run_group_tests_name("mirror", tests, NULL, NULL);
}
