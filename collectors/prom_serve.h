/* prom_serve: a collector's Prometheus endpoint — metrics_http serving prometheus' page of the collector's
 * store and counters. What `traintopd --metrics-listen` and `traintop --metrics-listen` run. */
#ifndef TT_PROM_SERVE_H
#define TT_PROM_SERVE_H

#include <stddef.h>
#include <stdio.h>
#include "collector.h"

typedef struct tt_prom_serve tt_prom_serve;

/* Listens on listen (HOST:PORT) for the collector c, with per-layer series for the layers whose whole
 * name matches layers_re (NULL: summaries only). token (when not empty) is required as a bearer token.
 * NULL with err naming the bad address or pattern. */
tt_prom_serve *tt_prom_serve_start(tt_collector *c, const char *listen, const char *layers_re, int allow_remote,
                                   const char *token, FILE *log, char *err, size_t errlen);
/* Readable when a scrape needs tt_prom_serve_run (poll it beside the collector's fds). */
int tt_prom_serve_fd(const tt_prom_serve *s);
void tt_prom_serve_run(tt_prom_serve *s);
const char *tt_prom_serve_url(const tt_prom_serve *s);
void tt_prom_serve_stop(tt_prom_serve *s);

#endif
