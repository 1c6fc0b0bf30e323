/* prometheus: the store as Prometheus text exposition (format 0.0.4) — names and labels in docs/prometheus.md. */
#ifndef TT_PROMETHEUS_H
#define TT_PROMETHEUS_H

#include <regex.h>
#include <stdio.h>
#include "collector.h"
#include "store.h"

/* What the exposition holds beyond the runs: the collector's counters (NULL: none, e.g. a replay) and
 * which layers get per-layer series (NULL: none, only the per-run summaries over all layers). */
typedef struct {
    const tt_collector_counters *counters;
    const regex_t *layers;     /* matched against the whole layer name (compile it with tt_prom_layers_regex) */
    double now;                /* the collector's monotonic clock, for the seconds since a run's last message */
} tt_prom_opts;

/* Writes the exposition of st to out. 0, or -1 on a write error. */
int tt_prom_render(const tt_store *st, const tt_prom_opts *o, FILE *out);

/* Compiles a --metrics-layers pattern (POSIX extended, anchored at both ends). 0, or -1 with err. */
int tt_prom_layers_regex(regex_t *re, const char *pattern, char *err, size_t errlen);

/* A name as a metric-name fragment: [a-zA-Z0-9_] kept, anything else '_' (e.g. "val/acc" → "val_acc"). */
void tt_prom_name(char *dst, size_t cap, const char *name);

#endif
