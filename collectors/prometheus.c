/* prometheus: the store as Prometheus text exposition. Every sample of a metric name must come in one
 * group under one TYPE line, so each family walks all runs; names that only some runs have (scalars,
 * statistics) are gathered first, in order of first appearance. */
#include "prometheus.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void tt_prom_name(char *dst, size_t cap, const char *name)
{
    size_t i = 0;
    for (; name[i] && i + 1 < cap; i++) {
        unsigned char ch = (unsigned char)name[i];
        dst[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ? (char)ch : '_';
    }
    if (cap) dst[i] = 0;
}

int tt_prom_layers_regex(regex_t *re, const char *pattern, char *err, size_t errlen)
{
    size_t n = strlen(pattern) + 5;
    char *anchored = malloc(n);
    if (!anchored) { snprintf(err, errlen, "out of memory"); return -1; }
    snprintf(anchored, n, "^(%s)$", pattern);
    int rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
    free(anchored);
    if (rc) {
        char why[128];
        regerror(rc, re, why, sizeof why);
        snprintf(err, errlen, "--metrics-layers '%s': expected a POSIX extended regular expression (%s)", pattern, why);
        return -1;
    }
    return 0;
}

/* The shortest text that reads back as the same double; Prometheus' spellings of the non-finite. */
static void put_value(FILE *out, double v)
{
    if (isnan(v)) { fputs("NaN", out); return; }
    if (isinf(v)) { fputs(v > 0 ? "+Inf" : "-Inf", out); return; }
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, out);
}

/* A label value with \\, \" and \n escaped as the format requires. */
static void put_label(FILE *out, const char *key, const char *val)
{
    fprintf(out, ",%s=\"", key);
    for (const char *p = val; *p; p++) {
        if (*p == '\\' || *p == '"') { fputc('\\', out); fputc(*p, out); }
        else if (*p == '\n') fputs("\\n", out);
        else fputc(*p, out);
    }
    fputc('"', out);
}

/* name{run="R",rank="K"  — the caller adds its own labels, then end_sample. */
static void begin_sample(FILE *out, const char *name, const tt_run *r)
{
    fprintf(out, "%s{run=\"%s\",rank=\"%d\"", name, r->name, r->rank);
}

static void end_sample(FILE *out, double v)
{
    fputs("} ", out);
    put_value(out, v);
    fputc('\n', out);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Distinct metric-name fragments, in order of first appearance. */
typedef struct {
    char (*v)[TT_NAME_MAX];
    int n, cap;
} name_set;

static int name_set_add(name_set *s, const char *raw)
{
    char frag[TT_NAME_MAX];
    tt_prom_name(frag, sizeof frag, raw);
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], frag)) return 0;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 32;
        void *v = realloc(s->v, (size_t)cap * sizeof *s->v);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    memcpy(s->v[s->n++], frag, sizeof frag);
    return 0;
}

/* A run's scalar / statistic whose fragment is frag, or -1. Only the first of names that map to the
 * same fragment is shown: a repeated series would make Prometheus refuse the whole scrape. */
static int scalar_index(const tt_run *r, const char *frag)
{
    char f[TT_NAME_MAX];
    for (int i = 0; i < r->nscalars; i++) {
        tt_prom_name(f, sizeof f, r->scalars[i].name);
        if (!strcmp(f, frag)) return i;
    }
    return -1;
}

static int stat_index(const tt_run *r, const char *frag)
{
    char f[TT_NAME_MAX];
    for (int i = 0; i < r->nstats; i++) {
        tt_prom_name(f, sizeof f, r->stat_names[i]);
        if (!strcmp(f, frag)) return i;
    }
    return -1;
}

static void collector_families(FILE *out, const tt_store *st, const tt_collector_counters *n)
{
    static const struct { const char *name, *help; size_t off; } counters[] = {
        { "traintop_collector_messages_received_total", "Messages read from the probe socket.", offsetof(tt_collector_counters, received) },
        { "traintop_collector_messages_accepted_total", "Messages that passed validation and were applied.", offsetof(tt_collector_counters, accepted) },
        { "traintop_collector_messages_rejected_total", "Messages refused (malformed, too large, no token, out of order).", offsetof(tt_collector_counters, rejected) },
        { "traintop_collector_layer_records_total", "Per-layer statistic rows ingested.", offsetof(tt_collector_counters, layer_records) },
        { "traintop_collector_queries_total", "Requests answered on the query socket.", offsetof(tt_collector_counters, queries) },
    };
    if (n)
        for (size_t i = 0; i < sizeof counters / sizeof *counters; i++) {
            family(out, counters[i].name, "counter", counters[i].help);
            fprintf(out, "%s %llu\n", counters[i].name, (unsigned long long)*(const uint64_t *)((const char *)n + counters[i].off));
        }
    family(out, "traintop_collector_runs", "gauge", "Runs (run, rank) the collector holds.");
    fprintf(out, "traintop_collector_runs %d\n", st->nruns);
}

static void run_families(FILE *out, const tt_store *st, double now)
{
    family(out, "traintop_run_info", "gauge", "One series per run and rank, labelled with the probe's host.");
    for (int i = 0; i < st->nruns; i++) {
        begin_sample(out, "traintop_run_info", st->runs[i]);
        put_label(out, "host", st->runs[i]->host);
        end_sample(out, 1);
    }
    family(out, "traintop_run_state", "gauge", "1 for the run's current state (running, finished, stopped, failed, stalled, no_end, crashed).");
    for (int i = 0; i < st->nruns; i++) {
        begin_sample(out, "traintop_run_state", st->runs[i]);
        put_label(out, "state", tt_run_state_name(st->runs[i]->state));
        end_sample(out, 1);
    }
    static const struct { const char *name, *type, *help; int which; } per_run[] = {
        { "traintop_run_step", "gauge", "Latest step received.", 0 },
        { "traintop_run_steps_per_second", "gauge", "Training speed by the probe's clock, smoothed.", 1 },
        { "traintop_run_last_message_age_seconds", "gauge", "Seconds since the run's last message reached the collector (its lag).", 2 },
        { "traintop_run_layers", "gauge", "Layers the probe watches.", 3 },
        { "traintop_run_alerts_total", "counter", "Alert rules that fired on the run.", 4 },
        { "traintop_run_probe_dropped_total", "counter", "Messages the probe dropped (as its run_end reports them).", 5 },
        { "traintop_run_stop_requested", "gauge", "1 once a stop was asked of the run.", 6 },
        { "traintop_run_messages_lost_total", "counter", "Messages the probe let go unacknowledged that never arrived.", 7 },
        { "traintop_run_messages_resent_total", "counter", "Messages that arrived twice (the copy was dropped).", 8 },
        { "traintop_run_steps_spooled_total", "counter", "Steps that came through the probe's spool file.", 9 },
        { "traintop_run_gaps_total", "counter", "Messages refused because an earlier one was missing (they came again).", 10 },
    };
    for (size_t k = 0; k < sizeof per_run / sizeof *per_run; k++) {
        family(out, per_run[k].name, per_run[k].type, per_run[k].help);
        for (int i = 0; i < st->nruns; i++) {
            const tt_run *r = st->runs[i];
            double v = 0;
            switch (per_run[k].which) {
            case 0: v = (double)r->step; break;
            case 1: v = r->steps_per_s; break;
            case 2: v = now - r->last_seen; break;
            case 3: v = r->nlayers; break;
            case 4: v = r->alerts; break;
            case 5: v = (double)r->probe_dropped; break;
            case 6: v = r->stop_requested != 0; break;
            case 7: v = (double)r->seq_missing; break;
            case 8: v = (double)r->seq_dups; break;
            case 9: v = (double)(r->from_spool > r->probe_spooled ? r->from_spool : r->probe_spooled); break;   /* as ls shows it */
            default: v = (double)r->seq_gaps; break;
            }
            begin_sample(out, per_run[k].name, r);
            end_sample(out, v);
        }
    }
}

static int scalar_families(FILE *out, const tt_store *st)
{
    name_set s = { 0 };
    for (int i = 0; i < st->nruns; i++)
        for (int k = 0; k < st->runs[i]->nscalars; k++)
            if (name_set_add(&s, st->runs[i]->scalars[k].name)) { free(s.v); return -1; }
    char name[TT_NAME_MAX + 32];
    for (int f = 0; f < s.n; f++) {
        snprintf(name, sizeof name, "traintop_scalar_%s", s.v[f]);
        family(out, name, "gauge", "Latest value of the scalar the probe publishes under this name.");
        for (int i = 0; i < st->nruns; i++) {
            int k = scalar_index(st->runs[i], s.v[f]);
            if (k < 0) continue;
            begin_sample(out, name, st->runs[i]);
            end_sample(out, st->runs[i]->scalars[k].last);
        }
    }
    free(s.v);
    return 0;
}

/* Per run, each statistic's min, mean and max over its layers' finite latest values: bounded
 * cardinality whatever the model's size. */
static void summary_samples(FILE *out, const char *name, const tt_run *r, int s)
{
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    int n = 0;
    for (int l = 0; l < r->nlayers; l++) {
        double v = r->layers[l].last[s];
        if (!isfinite(v)) continue;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
        n++;
    }
    if (!n) return;
    const char *aggs[] = { "min", "mean", "max" };
    double vals[] = { lo, sum / n, hi };
    for (int a = 0; a < 3; a++) {
        begin_sample(out, name, r);
        put_label(out, "agg", aggs[a]);
        end_sample(out, vals[a]);
    }
}

static int layer_families(FILE *out, const tt_store *st, const regex_t *re)
{
    name_set s = { 0 };
    for (int i = 0; i < st->nruns; i++)
        for (int k = 0; k < st->runs[i]->nstats; k++)
            if (name_set_add(&s, st->runs[i]->stat_names[k])) { free(s.v); return -1; }
    char name[TT_NAME_MAX + 32];
    for (int f = 0; f < s.n; f++) {
        snprintf(name, sizeof name, "traintop_layers_%s", s.v[f]);
        family(out, name, "gauge", "The statistic's min, mean and max over the run's layers (latest finite values).");
        for (int i = 0; i < st->nruns; i++) {
            int k = stat_index(st->runs[i], s.v[f]);
            if (k >= 0) summary_samples(out, name, st->runs[i], k);
        }
    }
    for (int f = 0; re && f < s.n; f++) {
        snprintf(name, sizeof name, "traintop_layer_%s", s.v[f]);
        family(out, name, "gauge", "Latest value of the statistic for each layer that --metrics-layers selects.");
        for (int i = 0; i < st->nruns; i++) {
            const tt_run *r = st->runs[i];
            int k = stat_index(r, s.v[f]);
            for (int l = 0; k >= 0 && l < r->nlayers; l++) {
                if (regexec(re, r->layers[l].name, 0, NULL, 0)) continue;
                begin_sample(out, name, r);
                put_label(out, "layer", r->layers[l].name);
                end_sample(out, r->layers[l].last[k]);
            }
        }
    }
    free(s.v);
    return 0;
}

int tt_prom_render(const tt_store *st, const tt_prom_opts *o, FILE *out)
{
    collector_families(out, st, o->counters);
    run_families(out, st, o->now);
    if (scalar_families(out, st) || layer_families(out, st, o->layers)) return -1;
    return ferror(out) ? -1 : 0;
}
