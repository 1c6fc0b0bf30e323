/* bench_prometheus: what one scrape of /metrics costs the collector's thread — the page rendered from a
 * store of 10 runs of 1000 layers × 12 statistics and 20 scalars, with summaries only (the default) and
 * with every layer's series (--metrics-layers '.*') — measured in this run. */
#include "../collectors/ingest.h"
#include "../collectors/prometheus.h"
#include "../proto/jsonw.h"

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

static void feed(tt_store *st, jsonw *w)
{
    size_t len;
    char *m = jw_take(w, &len), err[512];
    tt_ingest_result r;
    if (tt_ingest(st, m, len, 0, &r, err, sizeof err)) { fprintf(stderr, "bench_prometheus: %s\n", err); exit(1); }
    free(m);
    jw_reset(w);
}

/* Best of reps renders: milliseconds, and the page's bytes. */
static double render_ms(const tt_store *st, const regex_t *layers, int reps, size_t *bytes)
{
    double best = 1e9;
    for (int i = 0; i < reps; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        tt_collector_counters n = { 0 };
        const tt_prom_opts o = { &n, layers, 0 };
        double t0 = now();
        tt_prom_render(st, &o, f);
        fclose(f);
        double t = now() - t0;
        if (t < best) best = t;
        *bytes = len;
        free(buf);
    }
    return best * 1e3;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    const int nruns = quick ? 4 : 10, nlayers = 1000, nstats = 12, nscalars = 20;
    tt_store st;
    tt_store_init(&st, 0);
    jsonw w;
    jw_init(&w);
    for (int run = 0; run < nruns; run++) {
        char name[32];
        snprintf(name, sizeof name, "run-%d", run);
        jw_raw(&w, "{\"v\":1,\"type\":\"run_start\",\"run\":"); jw_str(&w, name);
        jw_raw(&w, ",\"rank\":0,\"world\":1,\"stats\":[");
        for (int k = 0; k < nstats; k++) { char n[16]; snprintf(n, sizeof n, "stat%d", k); jw_sep(&w); jw_str(&w, n); }
        jw_raw(&w, "],\"layers\":[");
        for (int l = 0; l < nlayers; l++) {
            char n[32];
            snprintf(n, sizeof n, "block%d.weight", l);
            jw_sep(&w); jw_raw(&w, "{\"name\":"); jw_str(&w, n); jw_raw(&w, ",\"rows\":64,\"cols\":64}");
        }
        jw_raw(&w, "]}");
        feed(&st, &w);
        jw_raw(&w, "{\"v\":1,\"type\":\"step\",\"run\":"); jw_str(&w, name); jw_raw(&w, ",\"rank\":0,\"step\":1,\"scalars\":{");
        for (int s = 0; s < nscalars; s++) { char n[16]; snprintf(n, sizeof n, "scalar%d", s); jw_sep(&w); jw_str(&w, n); jw_raw(&w, ":"); jw_num(&w, 0.5 + s); }
        jw_raw(&w, "},\"layers\":[");
        for (int l = 0; l < nlayers; l++) {
            jw_sep(&w); jw_raw(&w, "[");
            for (int k = 0; k < nstats; k++) { jw_sep(&w); jw_num(&w, 0.001 * (l + 1) * (k + 1)); }
            jw_raw(&w, "]");
        }
        jw_raw(&w, "]}");
        feed(&st, &w);
    }
    regex_t all;
    char err[256];
    if (tt_prom_layers_regex(&all, ".*", err, sizeof err)) { fprintf(stderr, "bench_prometheus: %s\n", err); return 1; }
    size_t b1, b2;
    double t1 = render_ms(&st, NULL, quick ? 3 : 10, &b1), t2 = render_ms(&st, &all, quick ? 2 : 5, &b2);
    printf("prom_page_summary_ms %.2f ms (%zu bytes; %d runs x %d layers x %d statistics, %d scalars: summaries only, the default)\n",
           t1, b1, nruns, nlayers, nstats, nscalars);
    printf("prom_page_all_layers_ms %.1f ms (%zu bytes, %d series; --metrics-layers '.*')\n", t2, b2, nruns * nlayers * nstats);
    regfree(&all);
    jw_free(&w);
    tt_store_free(&st);
    return 0;
}
