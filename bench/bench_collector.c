/* bench_collector: ingest throughput on one core, memory of the multi-resolution store at scale, and
 * the cost of a full-history query — each measured in this run. */
#include "../collectors/ingest.h"
#include "../collectors/series.h"
#include "../collectors/history.h"
#include "../proto/jsonw.h"
#include "../proto/jsonstrip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A step message as the probe writes it: nlayers rows of nstats values. */
static char *step_msg(jsonw *w, int64_t step, int nlayers, int nstats, size_t *len)
{
    jw_reset(w);
    jw_raw(w, "{\"v\":2,\"type\":\"step\",\"run\":\"bench\",\"rank\":0,\"seq\":");
    jw_int(w, step);
    jw_raw(w, ",\"base\":");
    jw_int(w, step - 1);
    jw_raw(w, ",\"time\":1795388342.938003,\"step\":");
    jw_int(w, step);
    jw_raw(w, ",\"scalars\":{\"loss\":");
    jw_num(w, 1.0 / (double)step);
    jw_raw(w, "},\"layers\":[");
    for (int l = 0; l < nlayers; l++) {
        jw_sep(w); jw_raw(w, "[");
        for (int k = 0; k < nstats; k++) { jw_sep(w); jw_num(w, 0.001 * (l + 1) * (k + 1) + 1e-7 * (double)step); }
        jw_raw(w, "]");
    }
    jw_raw(w, "]}");
    return jw_take(w, len);
}

/* Layer records per second of ingesting the messages into a fresh store that knows the run: through the
 * fast path (fastjson), or with no_fast through the general decoder (cJSON) only. -1 on a rejection. */
static double ingest_rate(const char *start, size_t slen, char **m, const size_t *ml, int msgs, int no_fast)
{
    tt_store st;
    tt_store_init(&st, 0);
    st.no_fast = no_fast;
    tt_ingest_result r;
    char err[512];
    double rate = -1;
    if (tt_ingest(&st, start, slen, 0, &r, err, sizeof err)) { fprintf(stderr, "bench_collector: %s\n", err); goto out; }
    double t0 = now();
    uint64_t records = 0;
    for (int i = 0; i < msgs; i++) {
        if (tt_ingest(&st, m[i], ml[i], 1, &r, err, sizeof err)) { fprintf(stderr, "bench_collector: %s\n", err); goto out; }
        records += r.layer_records;
    }
    rate = (double)records / (now() - t0);
out:
    tt_store_free(&st);
    return rate;
}

int main(int argc, char **argv)
{
    int quick = 0, hl = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--history-layers") && i + 1 < argc) hl = atoi(argv[++i]);
        else { fprintf(stderr, "bench_collector: unknown option '%s' (expected --quick, --history-layers N)\n", argv[i]); return 2; }
    }
    if (!hl) hl = quick ? 50 : 100;   /* layers of the late viewer's run */
    const int nlayers = 1000, nstats = 12, msgs = quick ? 40 : 200;
    char err[512];
    tt_store st;
    double t0;
    jsonw w;
    jw_init(&w);
    /* run_start with 1000 layers */
    jw_raw(&w, "{\"v\":1,\"type\":\"run_start\",\"run\":\"bench\",\"rank\":0,\"world\":1,\"stats\":[");
    for (int k = 0; k < nstats; k++) { char n[16]; snprintf(n, sizeof n, "s%d", k); jw_sep(&w); jw_str(&w, n); }
    jw_raw(&w, "],\"layers\":[");
    for (int l = 0; l < nlayers; l++) {
        char n[32];
        snprintf(n, sizeof n, "block%d.weight", l);
        jw_sep(&w); jw_raw(&w, "{\"name\":"); jw_str(&w, n); jw_raw(&w, ",\"rows\":1024,\"cols\":1024}");
    }
    jw_raw(&w, "]}");
    size_t len;
    char *start = jw_take(&w, &len);
    tt_ingest_result r;
    char **m = malloc((size_t)msgs * sizeof *m);
    size_t *ml = malloc((size_t)msgs * sizeof *ml);
    for (int i = 0; i < msgs; i++) m[i] = step_msg(&w, i + 1, nlayers, nstats, &ml[i]);
    /* the same messages through both decoders, alternately, best of three each: the ratio is what the
     * hand-written fast path buys on this machine now */
    double fast = 0, general = 0;
    for (int rep = 0; rep < 3; rep++) {
        double f = ingest_rate(start, len, m, ml, msgs, 0), g = ingest_rate(start, len, m, ml, msgs, 1);
        if (f < 0 || g < 0) return 1;
        if (f > fast) fast = f;
        if (g > general) general = g;
    }
    free(start);
    printf("ingest_records_per_s %.0f records/s (target >= 1000000; %d-layer x %d-statistic step messages, JSON parse + validation + store, one core)\n",
           fast, nlayers, nstats);
    printf("ingest_mb_per_s %.1f MB/s (message bytes)\n", fast / nlayers * (double)ml[0] / 1e6);
    printf("ingest_cjson_records_per_s %.0f records/s (the same messages through the general cJSON decoder only)\n", general);
    printf("ingest_fast_vs_cjson_speedup %.2fx (fast path / cJSON path, same messages, same run)\n", fast / general);
    /* The collector takes the token out of each accepted message before recording and relaying it: the
     * same messages with a token, one pass each, best of three, against their ingest time. */
    double strip_s = 1e30;
    size_t tl = ml[0] + 32;
    char *with = malloc(tl), *out = malloc(tl);
    for (int rep = 0; rep < 3; rep++) {
        double t = now();
        size_t total = 0;
        for (int i = 0; i < msgs; i++) {
            int n = snprintf(with, tl, "{\"token\":\"bench-token\",%s", m[i] + 1);
            total += tt_json_strip_member(with, (size_t)n, "token", out);
        }
        t = now() - t;
        if (total && t < strip_s) strip_s = t;
    }
    printf("ingest_token_strip_overhead %.1f%% (removing the token from the same messages before recording and relaying, vs their ingest)\n",
           100.0 * strip_s / ((double)msgs * nlayers / fast));
    free(with); free(out);
    for (int i = 0; i < msgs; i++) free(m[i]);
    free(m); free(ml);

    /* Memory: one layer series fed 1M steps, times 1000 layers × 10 statistics. */
    tt_store_init(&st, 0);
    tt_series *s = tt_series_new(st.layer_level_cap);
    for (int64_t i = 1; i <= 1000000; i++) tt_series_append(s, i, (double)(i % 977));
    double mb = (double)tt_series_bytes(s) * 1000 * 10 / 1e6;
    printf("store_mb_1M_steps %.1f MB (target <= 256; 1M steps x 1000 layers x 10 metrics, %zu bytes a series, min/max/mean/last per bucket)\n",
           mb, tt_series_bytes(s));
    /* History: a viewer's full-history request at step 100,000 — every scalar and every layer statistic
     * of a 1000-layer run, 500 points each. */
    tt_series *scalar = tt_series_new(st.level_cap), *layer = tt_series_new(st.layer_level_cap);
    for (int64_t i = 1; i <= 100000; i++) { tt_series_append(scalar, i, (double)i); tt_series_append(layer, i, (double)i); }
    tt_point pts[500];
    t0 = now();
    size_t got = 0;
    for (int q = 0; q < 20; q++) got += tt_series_query(scalar, 0, 100000, 500, pts);
    for (int q = 0; q < 1000 * nstats; q++) got += tt_series_query(layer, 0, 100000, 500, pts);
    printf("history_query_ms %.1f ms (target <= 1000; 20 scalars + %d layer series to 500 points each, store side; %zu buckets)\n",
           (now() - t0) * 1e3, 1000 * nstats, got);
    tt_series_free(s); tt_series_free(scalar); tt_series_free(layer);
    tt_store_free(&st);

    /* The whole request at step 100,000 as a late viewer makes it: the collector encodes every series
     * of the run downsampled, the viewer ingests it into its own store. */
    tt_store_init(&st, 0);
    jw_reset(&w);
    jw_raw(&w, "{\"v\":1,\"type\":\"run_start\",\"run\":\"hist\",\"rank\":0,\"world\":1,\"stats\":[");
    for (int k = 0; k < nstats; k++) { char n[16]; snprintf(n, sizeof n, "s%d", k); jw_sep(&w); jw_str(&w, n); }
    jw_raw(&w, "],\"layers\":[");
    for (int l = 0; l < hl; l++) { char n[32]; snprintf(n, sizeof n, "l%d", l); jw_sep(&w); jw_raw(&w, "{\"name\":"); jw_str(&w, n); jw_raw(&w, ",\"rows\":8,\"cols\":8}"); }
    jw_raw(&w, "]}");
    start = jw_take(&w, &len);
    tt_ingest(&st, start, len, 0, &r, err, sizeof err);
    free(start);
    tt_run *run = st.runs[0];
    const char *names[] = { "loss", "val_loss", "val_acc", "lr", "gwa", "noise_scale" };
    for (int i = 0; i < 6; i++) {
        char msg[160];
        snprintf(msg, sizeof msg, "{\"v\":1,\"type\":\"step\",\"run\":\"hist\",\"rank\":0,\"step\":%d,\"scalars\":{\"%s\":1}}", i + 1, names[i]);
        tt_ingest(&st, msg, strlen(msg), 1, &r, err, sizeof err);
    }
    /* series by series: the same store as step by step, without a cache miss a point (1000 layers: 12 s, not 90) */
    for (int k = 0; k < run->nscalars; k++)
        for (int64_t i = 7; i <= 100000; i++) tt_series_append(run->scalars[k].series, i, 1.0 / (double)i);
    for (int l = 0; l < hl; l++)
        for (int k = 0; k < nstats; k++)
            for (int64_t i = 7; i <= 100000; i++) tt_series_append(run->layers[l].stat[k], i, (double)(i % 1000));
    run->step = 100000;
    t0 = now();
    size_t hlen;
    char *h = tt_history_encode(&st, 2000, 200, &hlen);
    double te = now() - t0;
    tt_store mirror;
    tt_store_init(&mirror, 0);
    size_t lines = 0;
    for (char *p = h, *end = h + hlen; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n && tt_ingest(&mirror, p, n, 1, &r, err, sizeof err) == 0) lines++;
        p += n + 1;
    }
    double tt = now() - t0;
    printf("history_request_ms %.0f ms (target <= 1000; a late viewer at step 100,000 of a %d-layer run: encode %.0f ms + ingest, %.1f MB, %zu messages)\n",
           tt * 1e3, hl, te * 1e3, (double)hlen / 1e6, lines);
    free(h);
    tt_store_free(&mirror);
    tt_store_free(&st);
    jw_free(&w);
    return 0;
}
