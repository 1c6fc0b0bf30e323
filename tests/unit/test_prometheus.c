/* prometheus: the text exposition of a store — grouped families, exact values, escaped labels, bounded
 * layer series, and names a scrape accepts whatever the probe called its scalars. */
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
#include "../../collectors/prometheus.h"

static void feed(tt_store *st, const char *msg)
{
    tt_ingest_result r;
    char err[512];
    if (tt_ingest(st, msg, strlen(msg), 10.0, &r, err, sizeof err)) fail_msg("%s", err);
}

/* Two runs: one with layers (one of them with a value that is not finite) and awkward scalar names. */
static void two_runs(tt_store *st)
{
    tt_store_init(st, 16);
    feed(st, "{\"v\":1,\"type\":\"run_start\",\"run\":\"a\",\"rank\":0,\"world\":1,\"host\":\"h\\\"1\","
             "\"stats\":[\"w_norm\",\"update_ratio\"],\"layers\":[{\"name\":\"fc1.weight\",\"rows\":4,\"cols\":3},"
             "{\"name\":\"fc1.bias\",\"rows\":4,\"cols\":1},{\"name\":\"head\",\"rows\":2,\"cols\":4}]}");
    feed(st, "{\"v\":1,\"type\":\"step\",\"run\":\"a\",\"rank\":0,\"step\":7,"
             "\"scalars\":{\"loss\":0.1,\"val/acc\":0.5,\"val_acc\":0.25,\"bad\":\"NaN\"},"
             "\"layers\":[[1,0.001],[3,\"Inf\"],[8,0.004]]}");
    feed(st, "{\"v\":1,\"type\":\"run_start\",\"run\":\"b\",\"rank\":1,\"world\":2,\"stats\":[],\"layers\":[]}");
    feed(st, "{\"v\":1,\"type\":\"step\",\"run\":\"b\",\"rank\":1,\"step\":3,\"scalars\":{\"loss\":2}}");
}

static char *render(const tt_store *st, const regex_t *layers, const tt_collector_counters *n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const tt_prom_opts o = { n, layers, 12.5 };
    assert_int_equal(tt_prom_render(st, &o, f), 0);
    fclose(f);
    return buf;
}

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n') return 1;
    return 0;
}

static void values_and_labels(void **state)
{
    (void)state;
    tt_store st;
    two_runs(&st);
    tt_collector_counters n = { .received = 5, .accepted = 4, .rejected = 1, .layer_records = 3 };
    char *t = render(&st, NULL, &n);
    assert_true(has_line(t, "traintop_collector_messages_received_total 5"));
    assert_true(has_line(t, "traintop_collector_messages_rejected_total 1"));
    assert_true(has_line(t, "traintop_collector_runs 2"));
    assert_true(has_line(t, "traintop_scalar_loss{run=\"a\",rank=\"0\"} 0.1"));
    assert_true(has_line(t, "traintop_scalar_loss{run=\"b\",rank=\"1\"} 2"));
    assert_true(has_line(t, "traintop_scalar_bad{run=\"a\",rank=\"0\"} NaN"));
    /* "val/acc" and "val_acc" map to one name: only the first is shown, never the same series twice */
    assert_true(has_line(t, "traintop_scalar_val_acc{run=\"a\",rank=\"0\"} 0.5"));
    assert_null(strstr(t, "} 0.25\n"));
    assert_true(has_line(t, "traintop_run_info{run=\"a\",rank=\"0\",host=\"h\\\"1\"} 1"));
    assert_true(has_line(t, "traintop_run_state{run=\"b\",rank=\"1\",state=\"running\"} 1"));
    assert_true(has_line(t, "traintop_run_step{run=\"a\",rank=\"0\"} 7"));
    assert_true(has_line(t, "traintop_run_last_message_age_seconds{run=\"a\",rank=\"0\"} 2.5"));
    /* summaries over layers skip the non-finite value */
    assert_true(has_line(t, "traintop_layers_w_norm{run=\"a\",rank=\"0\",agg=\"min\"} 1"));
    assert_true(has_line(t, "traintop_layers_w_norm{run=\"a\",rank=\"0\",agg=\"mean\"} 4"));
    assert_true(has_line(t, "traintop_layers_w_norm{run=\"a\",rank=\"0\",agg=\"max\"} 8"));
    assert_true(has_line(t, "traintop_layers_update_ratio{run=\"a\",rank=\"0\",agg=\"max\"} 0.004"));
    assert_null(strstr(t, "traintop_layer_"));       /* no per-layer series unless asked */
    free(t);
    tt_store_free(&st);
}

/* The format's rules a scrape enforces: each family's samples in one group after its TYPE line,
 * metric names [a-zA-Z_:][a-zA-Z0-9_:]*, no series twice. */
static void families_are_well_formed(void **state)
{
    (void)state;
    tt_store st;
    two_runs(&st);
    regex_t re;
    char err[256];
    assert_int_equal(tt_prom_layers_regex(&re, ".*", err, sizeof err), 0);
    char *t = render(&st, &re, NULL);
    char typed[64][128] = { { 0 } }, series[256][256] = { { 0 } };
    int ntyped = 0, nseries = 0;
    char current[128] = "";
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "# HELP ", 7)) continue;
        if (!strncmp(line, "# TYPE ", 7)) {
            assert_int_equal(sscanf(line + 7, "%127s", current), 1);
            for (int i = 0; i < ntyped; i++) assert_string_not_equal(typed[i], current);
            assert_true(ntyped < 64);
            snprintf(typed[ntyped++], 128, "%s", current);
            continue;
        }
        size_t name_len = strcspn(line, "{ ");
        assert_true(name_len > 0 && (line[0] < '0' || line[0] > '9'));
        for (size_t i = 0; i < name_len; i++)
            assert_true(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:", line[i]));
        assert_int_equal(strlen(current), name_len);
        assert_memory_equal(line, current, name_len);
        const char *sp = strrchr(line, ' ');
        for (int i = 0; i < nseries; i++)
            assert_false(strlen(series[i]) == (size_t)(sp - line) && !strncmp(series[i], line, (size_t)(sp - line)));
        assert_true(nseries < 256);
        snprintf(series[nseries++], 256, "%.*s", (int)(sp - line), line);
    }
    assert_true(nseries > 20);
    regfree(&re);
    free(t);
    tt_store_free(&st);
}

static void layer_filter(void **state)
{
    (void)state;
    tt_store st;
    two_runs(&st);
    regex_t re;
    char err[256];
    assert_int_equal(tt_prom_layers_regex(&re, "fc1\\..*", err, sizeof err), 0);
    char *t = render(&st, &re, NULL);
    assert_true(has_line(t, "traintop_layer_w_norm{run=\"a\",rank=\"0\",layer=\"fc1.weight\"} 1"));
    assert_true(has_line(t, "traintop_layer_update_ratio{run=\"a\",rank=\"0\",layer=\"fc1.bias\"} +Inf"));
    assert_null(strstr(t, "layer=\"head\""));
    free(t);
    regfree(&re);
    /* anchored: "fc1" alone matches no whole name */
    assert_int_equal(tt_prom_layers_regex(&re, "fc1", err, sizeof err), 0);
    t = render(&st, &re, NULL);
    assert_null(strstr(t, "layer=\""));
    free(t);
    regfree(&re);
    assert_int_equal(tt_prom_layers_regex(&re, "fc(", err, sizeof err), -1);
    assert_non_null(strstr(err, "--metrics-layers 'fc(': expected a POSIX extended regular expression"));
    tt_store_free(&st);
}

static void names(void **state)
{
    (void)state;
    char out[16];
    tt_prom_name(out, sizeof out, "val/acc-top.5");
    assert_string_equal(out, "val_acc_top_5");
    tt_prom_name(out, sizeof out, "a-very-long-scalar-name");
    assert_string_equal(out, "a_very_long_sca");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_and_labels),
        cmocka_unit_test(families_are_well_formed),
        cmocka_unit_test(layer_filter),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
