/* recording: lines round-trip, a torn last line is skipped with a warning by the reader and moved to a
 * side file (<run>.torn) before anything is appended, and a collector restarted on the same directory
 * continues the same run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../collectors/collector.h"
#include "../../collectors/recording.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tt-test-rec-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

typedef struct { int n; char last[256]; } lines;

static int collect(void *ud, const char *line, size_t len)
{
    lines *l = ud;
    l->n++;
    snprintf(l->last, sizeof l->last, "%.*s", (int)len, line);
    return 0;
}

#define START "{\"v\":1,\"type\":\"run_start\",\"run\":\"rec\",\"rank\":0,\"world\":1,\"stats\":[\"w_norm\"],\"layers\":[{\"name\":\"fc\",\"rows\":1,\"cols\":1}]}"

static void step_msg(char *buf, size_t len, int step)
{
    snprintf(buf, len, "{\"v\":1,\"type\":\"step\",\"run\":\"rec\",\"rank\":0,\"step\":%d,\"scalars\":{\"loss\":%d},\"layers\":[[%d]]}", step, step, step);
}

static void torn_line_is_skipped_and_sealed(void **state)
{
    (void)state;
    char err[256], path[128], msg[256];
    tt_recorder *r = tt_recorder_open(dir, 0.01, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(tt_recorder_append(r, "torn", "{\"a\":\n1}", 8, err, sizeof err), 0);
    tt_recorder_close(r);
    snprintf(path, sizeof path, "%s/torn.jsonl", dir);
    FILE *f = fopen(path, "a");
    fputs("{\"half\":", f);              /* a writer killed mid-line */
    fclose(f);
    lines l = { 0 };
    FILE *warn = tmpfile();
    assert_int_equal(tt_recording_read(path, collect, &l, warn, err, sizeof err), 1);
    assert_string_equal(l.last, "{\"a\": 1}");   /* the embedded newline was folded */
    rewind(warn);
    char wl[512] = "";
    assert_non_null(fgets(wl, sizeof wl, warn));
    assert_non_null(strstr(wl, "line 2 is torn"));
    fclose(warn);
    /* A restart moves the torn line aside before appending: every line of the recording is whole. */
    r = tt_recorder_open(dir, 0.01, err, sizeof err);
    snprintf(msg, sizeof msg, "{\"b\":2}");
    assert_int_equal(tt_recorder_append(r, "torn", msg, strlen(msg), err, sizeof err), 0);
    tt_recorder_close(r);
    memset(&l, 0, sizeof l);
    assert_int_equal(tt_recording_read(path, collect, &l, NULL, err, sizeof err), 2);
    assert_string_equal(l.last, "{\"b\":2}");
    char side[160], torn[64] = "";
    snprintf(side, sizeof side, "%s/torn.torn", dir);
    f = fopen(side, "r");
    assert_non_null(f);
    assert_non_null(fgets(torn, sizeof torn, f));
    fclose(f);
    assert_string_equal(torn, "{\"half\":\n");
    assert_int_equal(tt_recording_repair(path, NULL, err, sizeof err), 0);      /* whole: untouched */
    /* a torn line longer than the repair's read block, and a file that is one torn line */
    f = fopen(path, "a");
    for (int i = 0; i < 3000; i++) fputs("{\"x\":", f);
    fclose(f);
    assert_int_equal(tt_recording_repair(path, NULL, err, sizeof err), 1);
    memset(&l, 0, sizeof l);
    assert_int_equal(tt_recording_read(path, collect, &l, NULL, err, sizeof err), 2);
    char only[160];
    snprintf(only, sizeof only, "%s/only.jsonl", dir);
    f = fopen(only, "w");
    fputs("{\"half", f);
    fclose(f);
    assert_int_equal(tt_recording_repair(only, NULL, err, sizeof err), 1);
    memset(&l, 0, sizeof l);
    assert_int_equal(tt_recording_read(only, collect, &l, NULL, err, sizeof err), 0);
    assert_int_equal(tt_recording_repair("/nonexistent/x.jsonl", NULL, err, sizeof err), 0);
    assert_int_equal(tt_recording_read("/nonexistent/x.jsonl", collect, &l, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.jsonl"));
}

static void restarted_collector_continues(void **state)
{
    (void)state;
    char err[256], ep[96], msg[256];
    snprintf(ep, sizeof ep, "ipc://%s/c.sock", dir);
    tt_collector_opts o = { .endpoint = ep, .record_dir = dir, .quiet = 1 };
    tt_collector *c = tt_collector_open(&o, err, sizeof err);
    assert_non_null(c);
    assert_int_equal(tt_collector_ingest(c, START, strlen(START), err, sizeof err), 0);
    for (int s = 1; s <= 50; s++) {
        step_msg(msg, sizeof msg, s);
        assert_int_equal(tt_collector_ingest(c, msg, strlen(msg), err, sizeof err), 0);
    }
    assert_int_equal(tt_collector_ingest(c, "{\"v\":1}", 7, err, sizeof err), -1);   /* rejected: not recorded */
    tt_collector_close(c);

    c = tt_collector_open(&o, err, sizeof err);
    assert_non_null(c);
    tt_run *r = tt_store_find(tt_collector_store(c), "rec", 0);
    assert_non_null(r);
    assert_int_equal(r->steps_received, 50);
    assert_int_equal(r->step, 50);
    step_msg(msg, sizeof msg, 51);
    assert_int_equal(tt_collector_ingest(c, msg, strlen(msg), err, sizeof err), 0);
    tt_collector_close(c);

    char path[128];
    snprintf(path, sizeof path, "%s/rec.jsonl", dir);
    lines l = { 0 };
    assert_int_equal(tt_recording_read(path, collect, &l, NULL, err, sizeof err), 52);   /* start + 51 steps */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(torn_line_is_skipped_and_sealed),
        cmocka_unit_test(restarted_collector_continues),
    };
    return cmocka_run_group_tests_name("recording", tests, setup, teardown);
}
