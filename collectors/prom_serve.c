/* prom_serve: the page is rendered on the thread that calls tt_prom_serve_run — the collector's — so it
 * reads the store without a lock, fresh for every scrape. */
#include "prom_serve.h"
#include "metrics_http.h"
#include "prometheus.h"

#include <stdlib.h>
#include <time.h>

struct tt_prom_serve {
    tt_collector *c;
    regex_t layers;
    int has_layers;
    tt_metrics_http *http;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int render(void *ud, FILE *out)
{
    tt_prom_serve *s = ud;
    tt_collector_counters n;
    tt_collector_get_counters(s->c, &n);
    const tt_prom_opts po = { &n, s->has_layers ? &s->layers : NULL, mono() };
    return tt_prom_render(tt_collector_store(s->c), &po, out);
}

tt_prom_serve *tt_prom_serve_start(tt_collector *c, const char *listen, const char *layers_re, int allow_remote,
                                   const char *token, FILE *log, char *err, size_t errlen)
{
    tt_prom_serve *s = calloc(1, sizeof *s);
    if (!s) { snprintf(err, errlen, "out of memory"); return NULL; }
    s->c = c;
    if (layers_re) {
        if (tt_prom_layers_regex(&s->layers, layers_re, err, errlen)) { free(s); return NULL; }
        s->has_layers = 1;
    }
    const tt_metrics_http_opts o = { listen, allow_remote, token, render, s, log };
    if (!(s->http = tt_metrics_http_start(&o, err, errlen))) { tt_prom_serve_stop(s); return NULL; }
    return s;
}

int tt_prom_serve_fd(const tt_prom_serve *s) { return tt_metrics_http_fd(s->http); }
void tt_prom_serve_run(tt_prom_serve *s) { tt_metrics_http_run(s->http); }
const char *tt_prom_serve_url(const tt_prom_serve *s) { return tt_metrics_http_url(s->http); }

void tt_prom_serve_stop(tt_prom_serve *s)
{
    if (!s) return;
    tt_metrics_http_stop(s->http);
    if (s->has_layers) regfree(&s->layers);
    free(s);
}
