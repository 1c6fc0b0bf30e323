/* probe ↔ collector over a real ipc socket in one process: every step arrives with the statistics the
 * probe computed, stop reaches the probe, the end is acknowledged; without a collector nothing blocks,
 * and nothing is lost: what no collector acknowledged is spooled, imported, or resent to a new one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/wait.h>
#include <utime.h>
#include <time.h>
#include <unistd.h>

#include "traintop/probe.h"
#include "../../collectors/collector.h"
#include "../../probes/transport.h"
#include "../../proto/endpoint.h"
#include "../../metrics/layerstats.h"
#include "../../metrics/gwa.h"
#include "../../metrics/persample.h"

static char endpoint[128];
static char state_dir[64];     /* XDG_STATE_HOME: the default spools of this test's probes */

static int setup(void **state)
{
    (void)state;
    snprintf(endpoint, sizeof endpoint, "ipc:///tmp/tt-test-probe-%d.sock", (int)getpid());
    snprintf(state_dir, sizeof state_dir, "/tmp/tt-test-state.XXXXXX");
    if (!mkdtemp(state_dir)) return -1;
    setenv("XDG_STATE_HOME", state_dir, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The whole spools (FILE.jsonl) in the default spool directory of ep: how many, and the first one's path. */
static int spools(const char *ep, char *first, size_t len)
{
    char dir[400], err[256];
    assert_int_equal(tt_spool_dir(ep, dir, sizeof dir, err, sizeof err), 0);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t k = strlen(e->d_name);
        if (k < 7 || strcmp(e->d_name + k - 6, ".jsonl")) continue;
        if (!n++ && first) snprintf(first, len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    return n;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static _Atomic int closed;
static double close_seconds;

static void *close_stopped(void *p)
{
    double t0 = mono();
    tt_probe_close(p, "stopped", 10000);
    close_seconds = mono() - t0;
    closed = 1;
    return NULL;
}

static void *close_finished(void *p)
{
    tt_probe_close(p, "finished", 20000);
    closed = 1;
    return NULL;
}

static void rejects_bad_options(void **state)
{
    (void)state;
    char err[256];
    tt_probe_opts o = { .run = "bad name", .endpoint = endpoint };
    assert_null(tt_probe_open(&o, sizeof o, err, sizeof err));
    assert_non_null(strstr(err, "run name 'bad name'"));
    o.run = "ok";
    o.rank = 2; o.world_size = 2;
    assert_null(tt_probe_open(&o, sizeof o, err, sizeof err));
    assert_non_null(strstr(err, "rank 2"));
    o.rank = 0; o.world_size = 1;
    o.endpoint = "http://x";
    assert_null(tt_probe_open(&o, sizeof o, err, sizeof err));
    assert_non_null(strstr(err, "expected ipc://"));
    o.endpoint = endpoint;
    tt_probe *p = tt_probe_open(&o, sizeof o, err, sizeof err);
    assert_non_null(p);
    float w[6] = { 1, 2, 3, 4, 5, 6 }, g[6] = { 0 };
    assert_int_equal(tt_probe_add_layer(p, "fc", 2, 3, w, g, err, sizeof err), 0);
    assert_int_equal(tt_probe_add_layer(p, "fc", 2, 3, w, g, err, sizeof err), -1);
    assert_non_null(strstr(err, "already registered"));
    assert_int_equal(tt_probe_add_layer(p, "z", 0, 3, w, g, err, sizeof err), -1);
    assert_int_equal(tt_probe_step(p, 5), 0);
    assert_int_equal(tt_probe_step(p, 5), -1);             /* steps must increase */
    assert_int_equal(tt_probe_step_at(p, 5, mono()), -1);  /* published late or not */
    assert_int_equal(tt_probe_step_at(p, -1, mono()), -1);
    /* an end in the past, in the future, before the last step's, or none: all published as steps */
    assert_int_equal(tt_probe_step_at(p, 6, mono() - 1e-3), 0);
    assert_int_equal(tt_probe_step_at(p, 7, mono() + 3600), 0);
    assert_int_equal(tt_probe_step_at(p, 8, 0), 0);
    assert_int_equal(tt_probe_step_at(p, 9, NAN), 0);
    tt_probe_counters pc;
    tt_probe_get_counters(p, &pc);
    assert_int_equal(pc.steps, 5);
    assert_int_equal(tt_probe_add_layer(p, "late", 1, 1, w, g, err, sizeof err), -1);
    assert_int_equal(tt_probe_hparam_num(p, "late", 1), -1);
    tt_probe_close(p, NULL, 0);
}

/* The options travel with their size: an older caller's smaller struct has zero for what it lacks, a
 * newer caller's larger struct is accepted only when the bytes this library does not know are zero. */
static void options_size_checked(void **state)
{
    (void)state;
    char err[256];
    typedef struct { const char *run; const char *endpoint; } opts_v0;    /* before rank existed */
    opts_v0 old = { "old-caller", endpoint };
    tt_probe *p = tt_probe_open((const tt_probe_opts *)&old, sizeof old, err, sizeof err);
    assert_non_null(p);
    tt_probe_close(p, NULL, 0);
    /* what lies beyond the given size is never read: an invalid `every` past it does not matter */
    tt_probe_opts o = { .run = "sized", .endpoint = endpoint, .every = -1 };
    assert_null(tt_probe_open(&o, sizeof o, err, sizeof err));
    assert_non_null(strstr(err, "every=-1"));
    assert_non_null(p = tt_probe_open(&o, offsetof(tt_probe_opts, every), err, sizeof err));
    tt_probe_close(p, NULL, 0);
    o.every = 0;
    struct { tt_probe_opts o; int future_option; } newer = { o, 0 };
    assert_non_null(p = tt_probe_open(&newer.o, sizeof newer, err, sizeof err));
    tt_probe_close(p, NULL, 0);
    newer.future_option = 1;
    assert_null(tt_probe_open(&newer.o, sizeof newer, err, sizeof err));
    assert_non_null(strstr(err, "beyond the"));
    assert_null(tt_probe_open(&o, 4, err, sizeof err));
    assert_non_null(strstr(err, "options of 4 bytes"));
}

static tt_probe *lonely_probe(const char *ep, const char *spool, int steps)
{
    char err[256];
    tt_probe_opts o = { .run = "lonely", .endpoint = ep, .spool = spool, .every = 1 };
    tt_probe *p = tt_probe_open(&o, sizeof o, err, sizeof err);
    assert_non_null(p);
    static float w[64], g[64];
    for (int i = 0; i < 64; i++) { w[i] = (float)i; g[i] = 1; }
    assert_int_equal(tt_probe_add_layer(p, "fc", 8, 8, w, g, err, sizeof err), 0);
    for (int s = 1; s <= steps; s++) {
        tt_probe_scalar(p, "loss", 1.0 / s);
        assert_int_equal(tt_probe_step(p, s), 0);
    }
    return p;
}

/* Spooling off: the memory budget holds the newest messages, every other one is counted as dropped. */
static void no_collector_no_spool_counts_every_drop(void **state)
{
    (void)state;
    enum { STEPS = TT_QUEUE_MSGS + 1000 };
    tt_probe *p = lonely_probe("ipc:///tmp/tt-test-nobody-here.sock", "", STEPS);
    tt_probe_counters c;
    tt_probe_get_counters(p, &c);
    assert_int_equal(c.sent, 0);
    assert_int_equal(c.queued, TT_QUEUE_MSGS);            /* the bounded queue holds the newest */
    assert_int_equal(c.dropped, STEPS - TT_QUEUE_MSGS);
    assert_int_equal(c.spooled, 0);
    assert_int_equal(c.steps, STEPS);
    char reason[64];
    assert_int_equal(tt_probe_should_stop(p, reason, sizeof reason), 0);
    tt_probe_close(p, "finished", 50);                     /* bounded wait for an ack that never comes */
}

/* A message larger than the protocol allows is dropped and counted, and gives up no sequence number
 * (the next message takes it, so the collector sees no gap). */
static void oversized_message_is_dropped_and_counted(void **state)
{
    (void)state;
    tt_probe_counters c = { 0 };
    tt_transport t = { .push = -1, .sub = -1, .c = &c, .run = "big" };
    char err[256];
    assert_int_equal(tt_tx_open(&t, "ipc:///tmp/tt-test-nobody-here.sock", "ipc:///tmp/tt-test-nobody-here.sock.ctl", "", err, sizeof err), 0);
    tt_enc_sender s = { 0 };
    tt_tx_stamp(&t, &s);
    assert_int_equal(s.seq, 1);
    char *big = malloc(TT_MSG_MAX_BYTES + 1);
    assert_non_null(big);
    memset(big, ' ', TT_MSG_MAX_BYTES + 1);
    tt_tx_send(&t, big, TT_MSG_MAX_BYTES + 1);
    assert_int_equal(c.dropped, 1);
    assert_int_equal(t.q.count, 0);
    tt_tx_stamp(&t, &s);
    assert_int_equal(s.seq, 1);                            /* not used up */
    tt_tx_send(&t, strdup("{}"), 2);
    assert_int_equal(t.q.count, 1);
    tt_tx_stamp(&t, &s);
    assert_true(s.seq == 2 && s.base == 0);                /* seq 1 is held, unacknowledged */
    tt_tx_close(&t);
    assert_int_equal(c.dropped, 2);                        /* spooling off: the held one too, counted */
}

/* No collector during the whole run: everything is in the default spool, which a collector started
 * later on that endpoint imports by itself — the run complete, the spool gone. */
static void no_collector_spools_and_a_later_collector_imports(void **state)
{
    (void)state;
    char ep[160], err[256], path[600];
    snprintf(ep, sizeof ep, "%s.late", endpoint);
    enum { STEPS = 3000 };
    tt_probe *p = lonely_probe(ep, NULL, STEPS);
    assert_int_equal(spools(ep, NULL, 0), 0);             /* written as .part until the probe closes */
    tt_probe_close(p, "finished", 50);
    assert_int_equal(spools(ep, path, sizeof path), 1);
    /* the spool: run_start, then every step and the end, in sequence */
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    long n = 0;
    while (fgets(line, sizeof line, f)) {
        cJSON *m = cJSON_Parse(line);
        assert_non_null(m);
        if (n == 0) assert_string_equal(cJSON_GetObjectItem(m, "type")->valuestring, "run_start");
        else assert_int_equal((long)cJSON_GetObjectItem(m, "seq")->valuedouble, n);
        cJSON_Delete(m);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 1 + STEPS + 1);

    tt_collector_opts co = { .endpoint = ep, .quiet = 1 };
    tt_collector *c = tt_collector_open(&co, err, sizeof err);
    assert_non_null(c);
    tt_run *r = tt_store_find(tt_collector_store(c), "lonely", 0);
    assert_non_null(r);
    assert_int_equal(r->steps_received, STEPS);
    assert_int_equal(r->state, TT_RUN_FINISHED);
    assert_int_equal(r->probe_steps, STEPS);
    assert_int_equal(r->seq_missing, 0);
    assert_int_equal(spools(ep, NULL, 0), 0);             /* imported whole: removed */
    tt_collector_close(c);
}

/* A spool that a probe was still writing when it died (.part) is imported once its pid is gone and the
 * file has rested a minute. */
static void abandoned_part_spool_is_imported(void **state)
{
    (void)state;
    char ep[160], dir[400], path[600], err[256];
    snprintf(ep, sizeof ep, "%s.part", endpoint);
    assert_int_equal(tt_spool_dir(ep, dir, sizeof dir, err, sizeof err), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    snprintf(path, sizeof path, "%s/dead.0.%d.1796458686819683.jsonl.part", dir, (int)child);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"v\":2,\"type\":\"run_start\",\"run\":\"dead\",\"rank\":0,\"world\":1,\"stats\":[],\"layers\":[]}\n", f);
    for (int s = 1; s <= 5; s++) fprintf(f, "{\"v\":2,\"type\":\"step\",\"run\":\"dead\",\"rank\":0,\"seq\":%d,\"step\":%d}\n", s, s);
    fclose(f);
    tt_collector_opts co = { .endpoint = ep, .quiet = 1 };
    tt_collector *c = tt_collector_open(&co, err, sizeof err);
    assert_non_null(c);
    assert_null(tt_store_find(tt_collector_store(c), "dead", 0));   /* fresh: its writer may be elsewhere */
    tt_collector_close(c);
    struct utimbuf old = { time(NULL) - 120, time(NULL) - 120 };
    assert_int_equal(utime(path, &old), 0);
    c = tt_collector_open(&co, err, sizeof err);
    assert_non_null(c);
    tt_run *r = tt_store_find(tt_collector_store(c), "dead", 0);
    assert_non_null(r);
    assert_int_equal(r->steps_received, 5);
    assert_int_equal(access(path, F_OK), -1);
    tt_collector_close(c);
}

/* A collector that dies with messages in its socket: the new one on the same endpoint does not know the
 * run, asks for its start, and gets every message no collector acknowledged. */
static void unacknowledged_messages_reach_a_restarted_collector(void **state)
{
    (void)state;
    char err[256];
    tt_collector_opts co = { .endpoint = endpoint, .quiet = 1 };
    tt_collector *a = tt_collector_open(&co, err, sizeof err);
    assert_non_null(a);
    tt_probe_opts o = { .run = "r-restart", .endpoint = endpoint, .every = 1 };
    tt_probe *p = tt_probe_open(&o, sizeof o, err, sizeof err);
    assert_non_null(p);
    float w[16] = { 1 }, g[16] = { 1 };
    assert_int_equal(tt_probe_add_layer(p, "fc", 4, 4, w, g, err, sizeof err), 0);
    /* steps 1..20 reach collector a, which acknowledges them */
    int s = 1;
    double t0 = mono();
    tt_run *r = NULL;
    for (; s <= 20; s++) assert_int_equal(tt_probe_step(p, s), 0);
    tt_probe_counters pc;
    do {
        tt_collector_wait(a, 10);
        tt_probe_should_stop(p, NULL, 0);
        tt_probe_get_counters(p, &pc);
    } while (pc.queued && mono() - t0 < 10);
    assert_int_equal(pc.queued, 0);
    /* 21..40 are sent while a reads nothing, then a dies with them */
    for (; s <= 40; s++) assert_int_equal(tt_probe_step(p, s), 0);
    tt_collector_close(a);
    tt_collector *b = tt_collector_open(&co, err, sizeof err);
    assert_non_null(b);
    for (; s <= 60; s++) {
        assert_int_equal(tt_probe_step(p, s), 0);
        tt_collector_wait(b, 5);
    }
    t0 = mono();
    while (mono() - t0 < 20 && (!(r = tt_store_find(tt_collector_store(b), "r-restart", 0)) || r->steps_received < 40)) {
        tt_probe_should_stop(p, NULL, 0);
        tt_collector_wait(b, 10);
    }
    assert_non_null(r);
    assert_int_equal(r->steps_received, 40);               /* 21..60: all that a did not acknowledge */
    assert_int_equal(r->seq_missing, 0);
    assert_int_equal(tt_series_count(r->layers[0].stat[0]), 40);
    tt_probe_get_counters(p, &pc);
    assert_int_equal(pc.dropped, 0);
    assert_true(pc.resent >= 20);
    closed = 0;
    pthread_t closer;
    assert_int_equal(pthread_create(&closer, NULL, close_finished, p), 0);
    t0 = mono();
    while (mono() - t0 < 20 && !closed) tt_collector_wait(b, 10);
    pthread_join(closer, NULL);
    closed = 0;
    assert_int_equal(r->state, TT_RUN_FINISHED);
    assert_int_equal(r->probe_steps, 60);
    assert_int_equal(spools(endpoint, NULL, 0), 0);        /* all acknowledged: nothing spooled */
    tt_collector_close(b);
}

static void steps_arrive_with_exact_stats(void **state)
{
    (void)state;
    char err[256];
    tt_collector_opts co = { .endpoint = endpoint, .quiet = 1 };
    tt_collector *c = tt_collector_open(&co, err, sizeof err);
    assert_non_null(c);
    tt_probe_opts o = { .run = "r-exact", .endpoint = endpoint, .every = 2 };
    tt_probe *p = tt_probe_open(&o, sizeof o, err, sizeof err);
    assert_non_null(p);
    enum { R = 16, C = 24, N = R * C, STEPS = 200 };
    static float w[N], g[N], b[R], gb[R], prev[N], w0[N];
    for (int i = 0; i < N; i++) w[i] = w0[i] = sinf((float)i);
    for (int i = 0; i < R; i++) b[i] = 0.1f * (float)i;
    assert_int_equal(tt_probe_hparam_num(p, "lr", 0.1), 0);
    assert_int_equal(tt_probe_hparam_str(p, "optimizer", "sgd"), 0);
    assert_int_equal(tt_probe_add_layer(p, "fc.weight", R, C, w, g, err, sizeof err), 0);
    assert_int_equal(tt_probe_add_layer(p, "fc.bias", R, 1, b, gb, err, sizeof err), 1);
    double want[TT_NSTATS];
    for (int s = 1; s <= STEPS; s++) {
        memcpy(prev, w, sizeof w);
        for (int i = 0; i < N; i++) { g[i] = cosf((float)(i + s)); w[i] -= 0.01f * g[i]; }
        for (int i = 0; i < R; i++) { gb[i] = 0.5f; b[i] -= 0.01f * gb[i]; }
        if (s == STEPS) tt_layer_stats(w, g, prev, w0, NULL, R, C, want);
        tt_probe_scalar(p, "loss", 1.0 / s);
        if (s % 10 == 0) tt_probe_scalar(p, "val_loss", 2.0 / s);
        assert_int_equal(tt_probe_step(p, s), 0);
        tt_collector_process(c, 1000);
    }
    /* Everything arrives (the queue rides out the connection's start-up). */
    double t0 = mono();
    tt_run *r = NULL;
    while (mono() - t0 < 5 && (!(r = tt_store_find(tt_collector_store(c), "r-exact", 0)) || r->steps_received < STEPS)) {
        tt_probe_should_stop(p, NULL, 0);   /* also sends what the probe still queues */
        tt_collector_wait(c, 10);
    }
    /* Stop from the collector reaches the probe. */
    assert_int_equal(tt_collector_stop_run(c, "r-exact", "rule: patience"), 0);
    char reason[64] = "";
    while (!tt_probe_should_stop(p, reason, sizeof reason) && mono() - t0 < 5) tt_collector_wait(c, 10);
    assert_string_equal(reason, "rule: patience");
    assert_int_equal(tt_collector_stop_run(c, "nope", "x"), -1);

    assert_non_null(r);
    assert_int_equal(r->steps_received, STEPS);
    assert_int_equal(r->step, STEPS);
    assert_int_equal(r->last_layer_step, STEPS);
    assert_int_equal(r->every, 2);
    assert_int_equal(tt_series_count(r->layers[0].stat[0]), STEPS / 2);
    assert_int_equal(tt_series_count(tt_run_scalar(r, "val_loss")->series), STEPS / 10);
    for (int k = 0; k < TT_NSTATS; k++) {
        int idx = tt_run_stat_index(r, tt_stat_names[k]);
        assert_true(idx >= 0);
        double got = r->layers[0].last[idx];
        /* the wire carries 10 significant digits */
        if (fabs(got - want[k]) > 1e-9 * fabs(want[k]) + 1e-15)
            fail_msg("%s: collector has %.17g, probe computed %.17g", tt_stat_names[k], got, want[k]);
    }
    assert_true(fabs(tt_run_scalar(r, "loss")->last - 1.0 / STEPS) < 1e-12);
    assert_string_equal(cJSON_GetObjectItem(r->hparams, "optimizer")->valuestring, "sgd");

    /* The end: the probe lingers until the collector acknowledges it. */
    tt_probe_counters pc;
    tt_probe_get_counters(p, &pc);
    assert_int_equal(pc.dropped, 0);
    assert_int_equal(pc.spooled, 0);
    pthread_t closer;
    assert_int_equal(pthread_create(&closer, NULL, close_stopped, p), 0);
    t0 = mono();
    while (mono() - t0 < 5 && !closed) tt_collector_wait(c, 10);
    pthread_join(closer, NULL);
    assert_int_equal(r->state, TT_RUN_STOPPED);
    assert_true(close_seconds < 4);                  /* it left on the ack, not on the 10 s linger */
    tt_collector_counters cc;
    tt_collector_get_counters(c, &cc);
    assert_int_equal(cc.rejected, 0);
    assert_int_equal(cc.layer_records, 2 * STEPS / 2);
    tt_collector_close(c);
}

/* Per-sample statistics and spectra travel as scalars and extra entries; GWA equals the moments of the
 * model-level γ_i computed here independently from the same batches, gwa_paper those of the head
 * weight's own γ_i (tt_probe_gwa_head), and the coverage is whole. */
static void persample_and_spectral_statistics_arrive(void **state)
{
    (void)state;
    char err[256];
    tt_collector_opts co = { .endpoint = endpoint, .quiet = 1 };
    tt_collector *c = tt_collector_open(&co, err, sizeof err);
    assert_non_null(c);
    tt_probe_opts o = { .run = "r-ps", .endpoint = endpoint, .every = 1, .spectral_every = 3, .gwa_window = 4, .persample_full = 1 };
    tt_probe *p = tt_probe_open(&o, sizeof o, err, sizeof err);
    assert_non_null(p);
    enum { B = 8, DIN = 60, DOUT = 64, STEPS = 12 };
    static float w[DOUT * DIN], g[DOUT * DIN], b[DOUT], gb[DOUT], A[B * DIN], D[B * DOUT], Z[B * DOUT];
    unsigned seed = 7;
    for (int i = 0; i < DOUT * DIN; i++) w[i] = (float)((seed = seed * 1103515245u + 12345u) % 2001) / 1000.0f - 1.0f;
    for (int i = 0; i < DOUT; i++) b[i] = 0.01f * (float)i;
    assert_int_equal(tt_probe_add_layer(p, "fc.weight", DOUT, DIN, w, g, err, sizeof err), 0);
    assert_int_equal(tt_probe_add_layer(p, "fc.bias", DOUT, 1, b, gb, err, sizeof err), 1);
    assert_int_equal(tt_probe_gwa_head(p, 2), -1);                            /* no such layer */
    assert_int_equal(tt_probe_gwa_head(p, 0), 0);
    tt_gwa_window win, head;
    tt_gwa_window_reset(&win);
    tt_gwa_window_reset(&head);
    double gwa_want = NAN, paper_want = NAN;
    for (int s = 1; s <= STEPS; s++) {
        for (int i = 0; i < B * DIN; i++) A[i] = (float)((seed = seed * 1103515245u + 12345u) % 2001) / 1000.0f - 1.0f;
        for (int i = 0; i < B * DOUT; i++) D[i] = (float)((seed = seed * 1103515245u + 12345u) % 2001) / 8000.0f - 0.125f;
        for (int i = 0; i < B; i++)
            for (int o2 = 0; o2 < DOUT; o2++) {
                double z = b[o2];
                for (int k = 0; k < DIN; k++) z += (double)w[o2 * DIN + k] * A[i * DIN + k];
                Z[i * DOUT + o2] = (float)z;
            }
        tt_persample_mean_grad(B, 1, DIN, DOUT, A, D, B, g, gb);
        /* the independent model-level γ_i: weight and bias blocks summed */
        double gw[B], gg[B], bw[B], bb[B], gamma[B], hgamma[B];
        tt_dense L = { .B = B, .T = 1, .d_in = DIN, .d_out = DOUT, .A = A, .D = D, .scale = B, .W = w, .bias = b, .Z = Z };
        tt_persample_out po = { .gw = gw, .gg = gg, .bw = bw, .bb = bb };
        void *work = malloc(tt_persample_work_size(B, 1, DOUT) + 1);
        assert_int_equal(tt_dense_persample(&L, work, &po), 0);
        free(work);
        for (int i = 0; i < B; i++) {
            gamma[i] = -(gw[i] + bw[i]) / (sqrt(gg[i] + bb[i]) * sqrt(po.w_norm2 + po.bias_norm2) + 1e-12);
            hgamma[i] = -gw[i] / (sqrt(gg[i]) * sqrt(po.w_norm2) + 1e-12);
        }
        tt_gwa_window_add(&win, gamma, B);
        tt_gwa_window_add(&head, hgamma, B);
        if (s % 4 == 0) {
            tt_gwa_report rep;
            tt_gwa_window_report(&win, &rep);
            gwa_want = rep.gwa;
            tt_gwa_window_report(&head, &rep);
            paper_want = rep.gwa;
            tt_gwa_window_reset(&win);
            tt_gwa_window_reset(&head);
        }
        tt_dense_batch db = { .batch = B, .tokens = 1, .inputs = A, .out_grads = D, .grad_scale = B, .preact = Z };
        assert_int_equal(tt_probe_dense_batch(p, 0, 1, &db, err, sizeof err), 0);
        assert_int_equal(tt_probe_optimizer(p, "sgd", 0.1, 1e-4, 0.9), 0);
        assert_int_equal(tt_probe_step(p, s), 0);
        for (int i = 0; i < DOUT * DIN; i++) w[i] -= 0.1f * g[i];
        usleep(20000);                      /* lets the spectral worker finish between steps */
        tt_collector_process(c, 1000);
    }
    /* The spectral worker runs beside the steps: on a loaded machine it can finish after the last one,
     * and its results go out with a later step. Steps without batches until they have (no new γ). */
    int extra = 0;
    double t0 = mono();
    tt_run *r = NULL;
    for (;;) {
        while (mono() - t0 < 60 && (!(r = tt_store_find(tt_collector_store(c), "r-ps", 0)) || r->steps_received < (uint64_t)(STEPS + extra))) {
            tt_probe_should_stop(p, NULL, 0);
            tt_collector_wait(c, 10);
        }
        assert_non_null(r);
        assert_int_equal(r->steps_received, STEPS + extra);
        int a = tt_run_stat_index(r, "alpha");
        if ((a >= 0 && tt_series_count(r->layers[0].stat[a]) >= 1) || mono() - t0 > 60) break;
        usleep(20000);
        assert_int_equal(tt_probe_step(p, STEPS + ++extra), 0);
    }
    tt_dense_batch small = { .batch = B - 1, .tokens = 1, .inputs = A, .out_grads = D, .grad_scale = B };
    tt_dense_batch full = { .batch = B, .tokens = 1, .inputs = A, .out_grads = D, .grad_scale = B };
    assert_int_equal(tt_probe_dense_batch(p, 0, 1, &small, err, sizeof err), 0);   /* first layer of a step */
    assert_int_equal(tt_probe_dense_batch(p, 0, 1, &full, err, sizeof err), -1);   /* another batch size */
    assert_non_null(strstr(err, "this step's other layers had 7"));
    tt_dense_batch bad = full;
    assert_int_equal(tt_probe_dense_batch(p, 5, -1, &bad, err, sizeof err), -1);
    const tt_named_series *gwa = tt_run_scalar(r, "gwa");
    assert_non_null(gwa);
    assert_int_equal(tt_series_count(gwa->series), STEPS / 4);
    if (!(fabs(gwa->last - gwa_want) <= 1e-6 * fabs(gwa_want) + 1e-9)) fail_msg("gwa %.10g, want %.10g", gwa->last, gwa_want);
    const tt_named_series *paper = tt_run_scalar(r, "gwa_paper"), *cov = tt_run_scalar(r, "gamma_coverage");
    assert_non_null(paper);
    assert_int_equal(tt_series_count(paper->series), STEPS / 4);
    if (!(fabs(paper->last - paper_want) <= 1e-6 * fabs(paper_want) + 1e-9))
        fail_msg("gwa_paper %.10g, want %.10g", paper->last, paper_want);
    assert_non_null(cov);
    assert_true(cov->last == 1);                                               /* weight and bias covered */
    assert_non_null(tt_run_scalar(r, "gwa_robust"));
    assert_non_null(tt_run_scalar(r, "gwa_hist_15"));
    assert_non_null(tt_run_scalar(r, "noise_scale"));
    assert_non_null(tt_run_scalar(r, "inner_test"));
    assert_non_null(tt_run_scalar(r, "eq_angle"));
    int alpha = tt_run_stat_index(r, "alpha"), gmean = tt_run_stat_index(r, "gamma_mean");
    assert_true(alpha >= 0 && gmean >= 0);
    assert_true(tt_series_count(r->layers[0].stat[alpha]) >= 1);              /* spectra came back */
    assert_true(isfinite(r->layers[0].last[alpha]) || isnan(r->layers[0].last[alpha]));
    assert_int_equal(tt_series_count(r->layers[0].stat[gmean]), STEPS);
    assert_int_equal(tt_series_count(r->layers[1].stat[gmean]), STEPS);
    tt_collector_counters cc;
    tt_collector_get_counters(c, &cc);
    assert_int_equal(cc.rejected, 0);
    tt_probe_close(p, NULL, 0);
    tt_collector_close(c);
}

/* Per-sample sums computed elsewhere (what the GPU backend hands in, on external layers) give the same
 * model and layer statistics as the probe's own dense-batch path over the same batches. */
static int close_rel(double a, double b, double rtol)
{
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return fabs(a - b) <= rtol * fabs(b) + 1e-12;
}

static void persample_sums_match_dense_batch(void **state)
{
    (void)state;
    char err[256];
    tt_collector_opts co = { .endpoint = endpoint, .quiet = 1 };
    tt_collector *c = tt_collector_open(&co, err, sizeof err);
    assert_non_null(c);
    tt_probe_opts oh = { .run = "r-host", .endpoint = endpoint, .every = 1, .gwa_window = 3, .persample_full = 1 };
    tt_probe_opts oe = { .run = "r-sums", .endpoint = endpoint, .every = 1, .gwa_window = 3, .persample_full = 1 };
    tt_probe *ph = tt_probe_open(&oh, sizeof oh, err, sizeof err), *pe = tt_probe_open(&oe, sizeof oe, err, sizeof err);
    assert_non_null(ph);
    assert_non_null(pe);
    enum { B = 6, T = 3, DIN = 20, DOUT = 12, STEPS = 9 };
    static float w[DOUT * DIN], g[DOUT * DIN], b[DOUT], gb[DOUT], A[B * T * DIN], D[B * T * DOUT];
    unsigned seed = 11;
#define RND(scale) ((float)((seed = seed * 1103515245u + 12345u) % 2001) / 1000.0f - 1.0f) * (scale)
    for (int i = 0; i < DOUT * DIN; i++) w[i] = RND(0.5f);
    for (int i = 0; i < DOUT; i++) b[i] = RND(0.1f);
    assert_int_equal(tt_probe_add_layer(ph, "fc.weight", DOUT, DIN, w, g, err, sizeof err), 0);
    assert_int_equal(tt_probe_add_layer(ph, "fc.bias", DOUT, 1, b, gb, err, sizeof err), 1);
    assert_int_equal(tt_probe_add_external_layer(pe, "fc.weight", DOUT, DIN, err, sizeof err), 0);
    assert_int_equal(tt_probe_add_external_layer(pe, "fc.bias", DOUT, 1, err, sizeof err), 1);
    void *work = malloc(tt_persample_work_size(B, T, DOUT) + 1);
    for (int s = 1; s <= STEPS; s++) {
        for (int i = 0; i < B * T * DIN; i++) A[i] = RND(1.0f);
        for (int i = 0; i < B * T * DOUT; i++) D[i] = RND(0.2f);
        tt_persample_mean_grad(B, T, DIN, DOUT, A, D, B, g, gb);
        tt_dense_batch db = { .batch = B, .tokens = T, .inputs = A, .out_grads = D, .grad_scale = B };
        assert_int_equal(tt_probe_dense_batch(ph, 0, 1, &db, err, sizeof err), 0);

        double gw[B], gg[B], gG[B], bw[B], bb[B], bB[B];
        tt_dense L = { .B = B, .T = T, .d_in = DIN, .d_out = DOUT, .A = A, .D = D, .scale = B, .W = w, .bias = b,
                       .Gbar = g, .bbar = gb };
        tt_persample_out po = { .gw = gw, .gg = gg, .gG = gG, .bw = bw, .bb = bb, .bB = bB };
        assert_int_equal(tt_dense_persample(&L, work, &po), 0);
        tt_persample_sums ps = { .batch = B, .gw = gw, .gg = gg, .gG = gG, .bw = bw, .bb = bb, .bB = bB,
                                 .w_norm2 = po.w_norm2, .bias_norm2 = po.bias_norm2,
                                 .gbar_norm2 = po.gbar_norm2, .bbar_norm2 = po.bbar_norm2 };
        assert_int_equal(tt_probe_persample_sums(pe, 0, 1, &ps, err, sizeof err), 0);
        assert_int_equal(tt_probe_step(ph, s), 0);
        assert_int_equal(tt_probe_step(pe, s), 0);
        for (int i = 0; i < DOUT * DIN; i++) w[i] -= 0.05f * g[i];
        tt_collector_process(c, 1000);
    }
    free(work);
#undef RND
    /* refusals: missing arrays, a bias named without its arrays, bias arrays without a bias layer */
    double x[B] = { 0 };
    tt_persample_sums none = { .batch = B };
    assert_int_equal(tt_probe_persample_sums(pe, 0, -1, &none, err, sizeof err), -1);
    assert_non_null(strstr(err, "gw and gg"));
    tt_persample_sums nobias = { .batch = B, .gw = x, .gg = x };
    assert_int_equal(tt_probe_persample_sums(pe, 0, 1, &nobias, err, sizeof err), -1);
    assert_non_null(strstr(err, "bw/bb are missing"));
    tt_persample_sums extra = { .batch = B, .gw = x, .gg = x, .bw = x, .bb = x };
    assert_int_equal(tt_probe_persample_sums(pe, 0, -1, &extra, err, sizeof err), -1);
    assert_int_equal(tt_probe_persample_sums(pe, 7, -1, &extra, err, sizeof err), -1);
    assert_int_equal(tt_probe_persample_sums(NULL, 0, -1, &extra, err, sizeof err), -1);

    double t0 = mono();
    tt_run *rh = NULL, *re = NULL;
    while (mono() - t0 < 5 && (!(rh = tt_store_find(tt_collector_store(c), "r-host", 0)) || rh->steps_received < STEPS ||
                               !(re = tt_store_find(tt_collector_store(c), "r-sums", 0)) || re->steps_received < STEPS)) {
        tt_probe_should_stop(ph, NULL, 0);          /* lets the probes send what they queued */
        tt_probe_should_stop(pe, NULL, 0);
        tt_collector_wait(c, 10);
    }
    assert_non_null(rh);
    assert_non_null(re);
    const char *scalars[] = { "gwa", "gwa_gamma_std", "gamma_mean", "noise_scale", "noise_scale_raw", "trace_sigma",
                              "grad_sq", "norm_test", "inner_test", "ortho_test" };
    for (size_t k = 0; k < sizeof scalars / sizeof *scalars; k++) {
        const tt_named_series *h = tt_run_scalar(rh, scalars[k]), *e = tt_run_scalar(re, scalars[k]);
        if (!h || !e) fail_msg("scalar %s missing (host %p, sums %p)", scalars[k], (void *)h, (void *)e);
        assert_int_equal(tt_series_count(h->series), tt_series_count(e->series));
        if (!close_rel(e->last, h->last, 1e-6)) fail_msg("%s: sums %.10g, dense batch %.10g", scalars[k], e->last, h->last);
    }
    const char *stats[] = { "gamma_mean", "trace_sigma", "noise_scale", "norm_test" };
    for (size_t k = 0; k < sizeof stats / sizeof *stats; k++) {
        int ih = tt_run_stat_index(rh, stats[k]), ie = tt_run_stat_index(re, stats[k]);
        assert_true(ih >= 0 && ie >= 0);
        for (int l = 0; l < 2; l++)
            if (!close_rel(re->layers[l].last[ie], rh->layers[l].last[ih], 1e-6))
                fail_msg("layer %d %s: sums %.10g, dense batch %.10g", l, stats[k], re->layers[l].last[ie], rh->layers[l].last[ih]);
    }
    tt_probe_close(ph, NULL, 0);
    tt_probe_close(pe, NULL, 0);
    tt_collector_close(c);
}

/* Statistics computed elsewhere (GPU, torch) go out exactly as handed in; a step without them is NaN. */
static void external_layer_statistics(void **state)
{
    (void)state;
    char err[256];
    tt_collector_opts co = { .endpoint = endpoint, .quiet = 1 };
    tt_collector *c = tt_collector_open(&co, err, sizeof err);
    assert_non_null(c);
    tt_probe_opts o = { .run = "r-ext", .endpoint = endpoint, .every = 1 };
    tt_probe *p = tt_probe_open(&o, sizeof o, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(tt_probe_add_external_layer(p, "gpu.weight", 4096, 1024, err, sizeof err), 0);
    assert_int_equal(tt_probe_add_external_layer(p, "gpu.weight", 2, 2, err, sizeof err), -1);
    assert_int_equal(tt_probe_add_external_layer(p, "zero", 0, 2, err, sizeof err), -1);
    double st[TT_LAYER_NSTATS];
    for (int k = 0; k < TT_LAYER_NSTATS; k++) st[k] = 0.5 + k;
    assert_int_equal(tt_probe_layer_stats(p, 0, st, TT_LAYER_NSTATS - 1), -1);
    assert_int_equal(tt_probe_layer_stats(p, 0, st, TT_LAYER_NSTATS), 0);
    assert_int_equal(tt_probe_step(p, 1), 0);
    assert_int_equal(tt_probe_step(p, 2), 0);               /* nothing handed in: NaN */
    double t0 = mono();
    tt_run *r = NULL;
    while (mono() - t0 < 5 && (!(r = tt_store_find(tt_collector_store(c), "r-ext", 0)) || r->steps_received < 2)) {
        tt_probe_should_stop(p, NULL, 0);
        tt_collector_wait(c, 10);
    }
    assert_non_null(r);
    assert_int_equal(r->layers[0].rows, 4096);
    tt_point pt[2];
    assert_int_equal(tt_series_query(r->layers[0].stat[7], 0, 10, 2, pt), 2);
    assert_true(pt[0].last == 7.5f && isnan(pt[1].last));
    tt_probe_close(p, NULL, 0);
    tt_collector_close(c);
}

/* A version 2 run whose process is gone without its end is "no_end", not "crashed", while its spool may
 * still bring the end; the end then finishes it. */
static void gone_probe_without_end_is_no_end(void **state)
{
    (void)state;
    char err[256], host[64] = "", msg[512];
    gethostname(host, sizeof host - 1);
    pid_t child = fork();
    if (child == 0) _exit(0);
    assert_true(child > 0);
    waitpid(child, NULL, 0);                                /* a pid that no longer exists */
    tt_collector_opts co = { .endpoint = endpoint, .quiet = 1 };
    tt_collector *c = tt_collector_open(&co, err, sizeof err);
    assert_non_null(c);
    snprintf(msg, sizeof msg, "{\"v\":2,\"type\":\"run_start\",\"run\":\"gone\",\"rank\":0,\"world\":1,\"pid\":%d,"
             "\"host\":\"%s\",\"stats\":[],\"layers\":[]}", (int)child, host);
    assert_int_equal(tt_collector_ingest(c, msg, strlen(msg), err, sizeof err), 0);
    const char *step = "{\"v\":2,\"type\":\"step\",\"run\":\"gone\",\"rank\":0,\"seq\":1,\"step\":1}";
    assert_int_equal(tt_collector_ingest(c, step, strlen(step), err, sizeof err), 0);
    tt_collector_tick(c);
    tt_run *r = tt_store_find(tt_collector_store(c), "gone", 0);
    assert_int_equal(r->state, TT_RUN_NO_END);
    assert_string_equal(tt_run_state_name(r->state), "no_end");
    tt_collector_tick(c);
    assert_int_equal(r->state, TT_RUN_NO_END);              /* still: the grace is seconds, not ticks */
    const char *end = "{\"v\":2,\"type\":\"run_end\",\"run\":\"gone\",\"rank\":0,\"seq\":2,\"base\":1,\"step\":1,\"status\":\"finished\",\"steps\":1}";
    assert_int_equal(tt_collector_ingest(c, end, strlen(end), err, sizeof err), 0);
    assert_int_equal(r->state, TT_RUN_FINISHED);
    tt_collector_close(c);
}

/* The overhead budget (every = 0): a framework-reported cost four times the step makes the probe
 * sample rarely; every step whose rows arrive is one tt_probe_sampled announced two steps ahead,
 * per-sample statistics arrive exactly on the per-sample steps (batches handed in on other steps are
 * ignored), and probe_overhead_pct comes with each measured sampled step. Timings decide how rare,
 * never whether the test passes: a 25 % budget against a cost of 4 steps is an interval of ~16, and
 * the test only needs it above 2 (a loaded machine stretches both sleeps alike). */
static void budget_schedule_is_what_arrives(void **state)
{
    (void)state;
    char err[256];
    tt_probe_opts bad = { .run = "r-bad", .endpoint = endpoint, .overhead = 1.5 };
    assert_null(tt_probe_open(&bad, sizeof bad, err, sizeof err));
    assert_non_null(strstr(err, "overhead=1.5"));
    bad.overhead = -0.01;
    assert_null(tt_probe_open(&bad, sizeof bad, err, sizeof err));
    tt_collector_opts co = { .endpoint = endpoint, .quiet = 1 };
    tt_collector *c = tt_collector_open(&co, err, sizeof err);
    assert_non_null(c);
    tt_probe_opts o = { .run = "r-budget", .endpoint = endpoint, .gwa_window = 2, .overhead = 0.25 };
    tt_probe *p = tt_probe_open(&o, sizeof o, err, sizeof err);
    assert_non_null(p);
    enum { B = 4, DIN = 6, DOUT = 5, STEPS = 120 };
    static float w[DOUT * DIN], g[DOUT * DIN], A[B * DIN], D[B * DOUT];
    for (int i = 0; i < DOUT * DIN; i++) w[i] = 0.1f * (float)(i % 7) - 0.3f;
    for (int i = 0; i < B * DIN; i++) A[i] = 0.2f * (float)(i % 5) - 0.4f;
    for (int i = 0; i < B * DOUT; i++) D[i] = 0.01f * (float)(i % 3) - 0.01f;
    assert_int_equal(tt_probe_add_layer(p, "fc.weight", DOUT, DIN, w, g, err, sizeof err), 0);
    assert_int_equal(tt_probe_cost(p, 5, 1e-3), -1);
    assert_int_equal(tt_probe_cost(p, TT_SAMPLE_STATS, -1), -1);
    assert_int_equal(tt_probe_cost(p, TT_SAMPLE_STATS, NAN), -1);
    int plan[STEPS + 2];
    int n_stats = 0, n_ps = 0, n_measured = 0;
    for (int s = 1; s <= STEPS; s++) {
        int now = tt_probe_sampled(p, s), after = tt_probe_sampled(p, s + 1);
        assert_true(now >= 0 && after >= 0);
        if (s > 1) assert_int_equal(now, plan[s]);          /* what was announced two steps ahead */
        plan[s] = now;
        plan[s + 1] = after;
        usleep(1000);                                         /* the training step */
        tt_dense_batch db = { .batch = B, .tokens = 1, .inputs = A, .out_grads = D, .grad_scale = B };
        assert_int_equal(tt_probe_dense_batch(p, 0, -1, &db, err, sizeof err), 0);
        if (now & TT_SAMPLE_STATS) {                          /* a framework's copies for this sample */
            double t0 = mono();
            usleep(4000);
            assert_int_equal(tt_probe_cost(p, TT_SAMPLE_STATS, mono() - t0), 0);
            n_measured += s > 3;                              /* the first steps have no step time yet */
        }
        n_stats += !!(now & TT_SAMPLE_STATS);
        n_ps += !!(now & TT_SAMPLE_PERSAMPLE);
        assert_int_equal(tt_probe_step(p, s), 0);
        tt_collector_process(c, 1000);
    }
    assert_int_equal(tt_probe_sampled(p, STEPS), -1);        /* not after the last */
    assert_true(plan[1] == (TT_SAMPLE_STATS | TT_SAMPLE_PERSAMPLE) && plan[2] == plan[1] && plan[3] == plan[1]);
    assert_true(n_stats < STEPS / 2);                         /* far from every step */
    double t0 = mono();
    tt_run *r = NULL;
    while (mono() - t0 < 5 && (!(r = tt_store_find(tt_collector_store(c), "r-budget", 0)) || r->steps_received < STEPS)) {
        tt_probe_should_stop(p, NULL, 0);
        tt_collector_wait(c, 10);
    }
    assert_non_null(r);
    assert_int_equal(r->steps_received, STEPS);
    tt_point pt[STEPS];
    int rows = (int)tt_series_query(r->layers[0].stat[0], 0, STEPS + 1, STEPS, pt);
    assert_int_equal(rows, n_stats);
    for (int i = 0; i < rows; i++) assert_true(plan[(int)pt[i].step] & TT_SAMPLE_STATS);
    int gmean = tt_run_stat_index(r, "gamma_mean");
    assert_true(gmean >= 0);
    assert_int_equal(tt_series_count(r->layers[0].stat[gmean]), n_ps);
    const tt_named_series *pct = tt_run_scalar(r, "probe_overhead_pct");
    assert_non_null(pct);
    assert_true((int)tt_series_count(pct->series) >= n_measured && (int)tt_series_count(pct->series) <= n_stats);
    assert_true(isfinite(pct->last) && pct->last > 0);
    tt_probe_close(p, NULL, 0);
    tt_collector_close(c);
}

static void second_collector_on_same_endpoint_is_refused(void **state)
{
    (void)state;
    char err[256];
    tt_collector_opts co = { .endpoint = endpoint, .quiet = 1 };
    tt_collector *a = tt_collector_open(&co, err, sizeof err);
    assert_non_null(a);
    tt_collector *b = tt_collector_open(&co, err, sizeof err);
    assert_null(b);
    assert_non_null(strstr(err, "already listening"));
    tt_collector_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rejects_bad_options),
        cmocka_unit_test(options_size_checked),
        cmocka_unit_test(oversized_message_is_dropped_and_counted),
        cmocka_unit_test(no_collector_no_spool_counts_every_drop),
        cmocka_unit_test(no_collector_spools_and_a_later_collector_imports),
        cmocka_unit_test(unacknowledged_messages_reach_a_restarted_collector),
        cmocka_unit_test(abandoned_part_spool_is_imported),
        cmocka_unit_test(steps_arrive_with_exact_stats),
        cmocka_unit_test(persample_and_spectral_statistics_arrive),
        cmocka_unit_test(external_layer_statistics),
        cmocka_unit_test(persample_sums_match_dense_batch),
        cmocka_unit_test(gone_probe_without_end_is_no_end),
        cmocka_unit_test(budget_schedule_is_what_arrives),
        cmocka_unit_test(second_collector_on_same_endpoint_is_refused),
    };
    return cmocka_run_group_tests_name("probe", tests, setup, teardown);
}
