/* ingest: the protocol's validator (docs/protocol.md). Every check names the run and the field, and
 * nothing in the store changes until the whole message has passed. */
#include "ingest.h"
#include "../probes/names.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STATS 64
#define MAX_LAYERS 4000
#define MAX_SCALARS 64
#define MAX_DEPTH 8
#define MAX_STEP 9007199254740992.0    /* 2^53: larger integers are not exact in JSON numbers */

typedef struct {
    tt_ingest_result *res;
    char *err;
    size_t errlen;
} ctx;

static int fail(ctx *c, const char *cause, const char *fmt, ...)
{
    char body[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    c->res->cause = cause;
    if (c->res->run[0])
        snprintf(c->err, c->errlen, "run '%s' rank %d: %s", c->res->run, c->res->rank, body);
    else
        snprintf(c->err, c->errlen, "%s", body);
    /* Messages echo what the sender wrote: keep the log one line per rejection whatever it was. */
    for (char *p = c->err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return -1;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* An integral number in [lo, hi] (finite bounds, so Inf and NaN fail): the test is_int applies to a JSON
 * number and the fast path to a number its scanner read. */
static int int_in(double d, double lo, double hi) { return d == floor(d) && d >= lo && d <= hi; }

static int is_int(const cJSON *v, double lo, double hi)
{
    return cJSON_IsNumber(v) && int_in(v->valuedouble, lo, hi);
}

/* A metric value: a JSON number, or one of the strings "NaN", "Inf", "-Inf". */
static int metric_value(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v)) { *out = v->valuedouble; return 0; }
    if (cJSON_IsString(v)) {
        if (!strcmp(v->valuestring, "NaN")) { *out = NAN; return 0; }
        if (!strcmp(v->valuestring, "Inf")) { *out = INFINITY; return 0; }
        if (!strcmp(v->valuestring, "-Inf")) { *out = -INFINITY; return 0; }
    }
    return -1;
}

static int depth(const cJSON *v)
{
    int d = 0;
    for (const cJSON *ch = v->child; ch; ch = ch->next) {
        int k = depth(ch);
        if (k > d) d = k;
    }
    return d + (cJSON_IsArray(v) || cJSON_IsObject(v));
}

/* Steps per second from the probe's own clock when it sends one, so a replayed recording shows the
 * training speed, not the replay's. */
static double sender_time(const cJSON *m, double now)
{
    const cJSON *t = get(m, "time");
    return cJSON_IsNumber(t) && isfinite(t->valuedouble) && t->valuedouble > 0 ? t->valuedouble : now;
}

static void touch_rate(tt_run *r, int64_t step, double now)
{
    if (r->rate_t0 == 0) { r->rate_t0 = now; r->rate_step0 = step; return; }
    double dt = now - r->rate_t0;
    if (dt < 0 || dt > 600) { r->rate_t0 = now; r->rate_step0 = step; return; }   /* another clock (a viewer's history) */
    if (dt < 0.5) return;
    double rate = (double)(step - r->rate_step0) / dt;
    r->steps_per_s = r->steps_per_s > 0 ? 0.5 * r->steps_per_s + 0.5 * rate : rate;
    r->rate_t0 = now;
    r->rate_step0 = step;
}

/* ---- run_start ---- */

static int same_layout(const tt_run *r, const cJSON *stats, const cJSON *layers)
{
    if (r->nstats != cJSON_GetArraySize(stats) || r->nlayers != cJSON_GetArraySize(layers)) return 0;
    int k = 0;
    for (const cJSON *s = stats->child; s; s = s->next, k++)
        if (strcmp(r->stat_names[k], s->valuestring)) return 0;
    k = 0;
    for (const cJSON *l = layers->child; l; l = l->next, k++)
        if (strcmp(r->layers[k].name, get(l, "name")->valuestring) ||
            r->layers[k].rows != (int64_t)get(l, "rows")->valuedouble ||
            r->layers[k].cols != (int64_t)get(l, "cols")->valuedouble) return 0;
    return 1;
}

static tt_run *new_run(tt_store *st, const cJSON *m, const cJSON *stats, const cJSON *layers)
{
    tt_run *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    snprintf(r->name, sizeof r->name, "%s", get(m, "run")->valuestring);
    r->rank = (int)get(m, "rank")->valuedouble;
    r->step = -1;
    r->last_layer_step = -1;
    r->nstats = cJSON_GetArraySize(stats);
    r->nlayers = cJSON_GetArraySize(layers);
    r->stat_names = calloc((size_t)r->nstats + 1, sizeof *r->stat_names);
    r->layers = calloc((size_t)r->nlayers + 1, sizeof *r->layers);
    if (!r->stat_names || !r->layers) { free(r->stat_names); free(r->layers); free(r); return NULL; }
    int k = 0, ok = 1;
    for (const cJSON *s = stats->child; s; s = s->next, k++)
        ok &= (r->stat_names[k] = strdup(s->valuestring)) != NULL;
    k = 0;
    for (const cJSON *l = layers->child; l; l = l->next, k++) {
        tt_layer *ly = &r->layers[k];
        snprintf(ly->name, sizeof ly->name, "%s", get(l, "name")->valuestring);
        ly->rows = (int64_t)get(l, "rows")->valuedouble;
        ly->cols = (int64_t)get(l, "cols")->valuedouble;
        ly->stat = calloc((size_t)r->nstats, sizeof *ly->stat);
        ly->last = malloc((size_t)r->nstats * sizeof *ly->last);
        if (!ly->stat || !ly->last) { ok = 0; continue; }
        for (int j = 0; j < r->nstats; j++) {
            ly->last[j] = NAN;
            ok &= (ly->stat[j] = tt_series_new(st->layer_level_cap)) != NULL;
        }
    }
    if (!ok) { tt_run_free(r); return NULL; }
    return r;
}

static int run_start(ctx *c, tt_store *st, const cJSON *m, double now)
{
    const cJSON *world = get(m, "world"), *every = get(m, "every"), *hp = get(m, "hparams");
    const cJSON *stats = get(m, "stats"), *layers = get(m, "layers"), *host = get(m, "host"), *pid = get(m, "pid");
    if (!is_int(world, 1, 65536) || c->res->rank >= world->valuedouble)
        return fail(c, "field", "world: expected an integer in 1..65536 greater than rank");
    if (every && !is_int(every, 1, 1e9)) return fail(c, "field", "every: expected an integer >= 1");
    if (host && (!cJSON_IsString(host) || strlen(host->valuestring) > 63)) return fail(c, "field", "host: expected a string of at most 63 bytes");
    if (pid && !is_int(pid, 0, 4294967295.0)) return fail(c, "field", "pid: expected a non-negative integer");
    if (hp && (!cJSON_IsObject(hp) || depth(hp) > 4 || cJSON_GetArraySize(hp) > 256))
        return fail(c, "field", "hparams: expected an object of at most 256 keys nested at most 4 deep");
    if (!cJSON_IsArray(stats) || cJSON_GetArraySize(stats) > MAX_STATS)
        return fail(c, "field", "stats: expected an array of at most %d statistic names", MAX_STATS);
    for (const cJSON *s = stats->child; s; s = s->next) {
        if (!cJSON_IsString(s) || !tt_label_ok(s->valuestring)) return fail(c, "field", "stats: expected names of 1-127 printable characters");
        for (const cJSON *t = stats->child; t != s; t = t->next)
            if (!strcmp(t->valuestring, s->valuestring)) return fail(c, "field", "stats: '%s' appears twice", s->valuestring);
    }
    if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) > MAX_LAYERS)
        return fail(c, "field", "layers: expected an array of at most %d layers", MAX_LAYERS);
    const cJSON *row_stats = get(m, "row_stats");
    if (row_stats && !is_int(row_stats, 0, cJSON_GetArraySize(stats)))
        return fail(c, "field", "row_stats: expected an integer in 0..%d (the number of stats)", cJSON_GetArraySize(stats));
    int i = 0;
    for (const cJSON *l = layers->child; l; l = l->next, i++) {
        const cJSON *name = get(l, "name");
        if (!cJSON_IsObject(l) || !cJSON_IsString(name) || !tt_label_ok(name->valuestring))
            return fail(c, "field", "layers[%d].name: expected 1-127 printable characters without quotes or backslashes", i);
        if (!is_int(get(l, "rows"), 1, 1e12) || !is_int(get(l, "cols"), 1, 1e12))
            return fail(c, "field", "layers[%d] '%s': rows and cols: expected positive integers", i, name->valuestring);
        for (const cJSON *t = layers->child; t != l; t = t->next)
            if (!strcmp(get(t, "name")->valuestring, name->valuestring))
                return fail(c, "field", "layers[%d]: name '%s' appears twice", i, name->valuestring);
    }

    tt_run *r = tt_store_find(st, c->res->run, c->res->rank);
    if (r && !same_layout(r, stats, layers)) {
        if (r->state == TT_RUN_RUNNING || r->state == TT_RUN_STALLED)
            return fail(c, "conflict", "run_start: the layer table differs from the running run's; use another run name");
        /* A finished run started again under the same name: a new incarnation replaces the old. */
        for (int k = 0; k < st->nruns; k++)
            if (st->runs[k] == r) { st->runs[k] = st->runs[--st->nruns]; break; }
        tt_run_free(r);
        r = NULL;
    }
    if (!r) {
        tt_run **nr = realloc(st->runs, (size_t)(st->nruns + 1) * sizeof *nr);
        if (!nr) return fail(c, "memory", "out of memory");
        st->runs = nr;
        if (!(r = new_run(st, m, stats, layers))) return fail(c, "memory", "out of memory");
        st->runs[st->nruns++] = r;
        r->first_seen = now;
        r->first_sent = sender_time(m, now);
    }
    r->row_stats = row_stats ? (int)row_stats->valuedouble : r->nstats;
    r->world = (int)world->valuedouble;
    r->every = every ? (int)every->valuedouble : 1;
    r->pid = pid ? (int64_t)pid->valuedouble : 0;
    snprintf(r->host, sizeof r->host, "%s", host ? host->valuestring : "");
    cJSON_Delete(r->hparams);
    r->hparams = hp ? cJSON_Duplicate(hp, 1) : cJSON_CreateObject();
    r->state = TT_RUN_RUNNING;
    r->end_status[0] = 0;
    r->last_seen = now;
    return 0;
}

/* ---- step ---- */

static int scalar_slot(tt_store *st, tt_run *r, const char *name)
{
    int i = tt_run_scalar_index(r, name);
    if (i >= 0) return i;
    tt_named_series *ns = realloc(r->scalars, (size_t)(r->nscalars + 1) * sizeof *ns);
    if (!ns) return -1;
    r->scalars = ns;
    tt_named_series *s = &ns[r->nscalars];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->last = s->min = s->max = NAN;
    s->last_step = s->min_step = s->max_step = -1;
    if (!(s->series = tt_series_new(st->level_cap))) return -1;
    return r->nscalars++;
}

/* The latest value and the exact best values of a scalar. */
static void update_scalar(tt_named_series *ns, int64_t step, double v)
{
    ns->last = v;
    ns->last_step = step;
    if (isfinite(v) && !(v >= ns->min)) { ns->min = v; ns->min_step = step; }
    if (isfinite(v) && !(v <= ns->max)) { ns->max = v; ns->max_step = step; }
}

/* An extra entry: [layer, stat, value] or [layer, stat, value, step] — statistics that come on their own
 * schedule (spectra from a background thread, per-sample statistics), possibly for an earlier step. */
static int extra_entry(const cJSON *e, int64_t msg_step, int *layer, int *stat, double *v, int64_t *step)
{
    int n = cJSON_GetArraySize(e);
    if (!cJSON_IsArray(e) || n < 3 || n > 4) return -1;
    const cJSON *l = e->child, *k = l->next, *val = k->next, *st = val->next;
    if (!is_int(l, 0, MAX_LAYERS) || !is_int(k, 0, MAX_STATS) || metric_value(val, v)) return -1;
    if (st && !is_int(st, 0, (double)msg_step)) return -1;
    *layer = (int)l->valuedouble;
    *stat = (int)k->valuedouble;
    *step = st ? (int64_t)st->valuedouble : msg_step;
    return 0;
}

static int check_extra(ctx *c, const tt_run *r, const cJSON *extra, int64_t step)
{
    if (!cJSON_IsArray(extra) || cJSON_GetArraySize(extra) > 65536)
        return fail(c, "field", "extra: expected an array of at most 65536 [layer, stat, value, step?] entries");
    int i = 0;
    for (const cJSON *e = extra->child; e; e = e->next, i++) {
        int li, k;
        int64_t at;
        double v;
        if (extra_entry(e, step, &li, &k, &v, &at))
            return fail(c, "field", "extra[%d]: expected [layer index, stat index, value] or [..., step <= %lld]", i, (long long)step);
        if (li >= r->nlayers || k >= r->nstats)
            return fail(c, "field", "extra[%d]: layer %d / stat %d: expected indices below %d layers and %d stats", i, li, k, r->nlayers, r->nstats);
        if (at < tt_series_last_step(r->layers[li].stat[k]))
            return fail(c, "order", "extra[%d] '%s' %s: step %lld is before the series' last step", i, r->layers[li].name, r->stat_names[k], (long long)at);
    }
    return 0;
}

static int step_msg(ctx *c, tt_store *st, const cJSON *m, double now)
{
    tt_run *r = tt_store_find(st, c->res->run, c->res->rank);
    if (!r) { c->res->unknown_run = 1; return fail(c, "unknown_run", "step for a run whose run_start was not received"); }
    const cJSON *stepv = get(m, "step"), *scalars = get(m, "scalars"), *layers = get(m, "layers"), *extra = get(m, "extra");
    if (!is_int(stepv, 0, MAX_STEP)) return fail(c, "field", "step: expected an integer in 0..2^53");
    int64_t step = (int64_t)stepv->valuedouble;
    if (step <= r->step) return fail(c, "order", "step %lld: expected a step after %lld", (long long)step, (long long)r->step);
    if (scalars) {
        if (!cJSON_IsObject(scalars) || cJSON_GetArraySize(scalars) > MAX_SCALARS)
            return fail(c, "field", "scalars: expected an object of at most %d numbers", MAX_SCALARS);
        for (const cJSON *s = scalars->child; s; s = s->next) {
            double v;
            if (!tt_label_ok(s->string)) return fail(c, "field", "scalars: name '%.60s' is not 1-127 printable characters", s->string);
            if (metric_value(s, &v)) return fail(c, "field", "scalars.%s: expected a number or \"NaN\", \"Inf\", \"-Inf\"", s->string);
        }
    }
    if (layers) {
        if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) != r->nlayers)
            return fail(c, "field", "layers: expected an array of %d layer rows (the run_start layer table)", r->nlayers);
        int i = 0;
        for (const cJSON *l = layers->child; l; l = l->next, i++) {
            if (!cJSON_IsArray(l) || cJSON_GetArraySize(l) != r->row_stats)
                return fail(c, "field", "layers[%d] '%s': expected an array of %d statistics", i, r->layers[i].name, r->row_stats);
            int k = 0;
            for (const cJSON *v = l->child; v; v = v->next, k++) {
                double d;
                if (metric_value(v, &d))
                    return fail(c, "field", "layers[%d] '%s' %s: expected a number or \"NaN\", \"Inf\", \"-Inf\"", i, r->layers[i].name, r->stat_names[k]);
            }
        }
    }
    if (extra && check_extra(c, r, extra, step)) return -1;
    /* Valid: apply. */
    if (scalars)
        for (const cJSON *s = scalars->child; s; s = s->next) {
            double v = 0;
            metric_value(s, &v);
            int i = scalar_slot(st, r, s->string);
            if (i < 0 || tt_series_append(r->scalars[i].series, step, v)) return fail(c, "memory", "out of memory");
            update_scalar(&r->scalars[i], step, v);
        }
    if (layers) {
        int i = 0;
        for (const cJSON *l = layers->child; l; l = l->next, i++) {
            int k = 0;
            for (const cJSON *v = l->child; v; v = v->next, k++) {
                double d = 0;
                metric_value(v, &d);
                if (tt_series_append(r->layers[i].stat[k], step, d)) return fail(c, "memory", "out of memory");
                r->layers[i].last[k] = d;
            }
        }
        r->last_layer_step = step;
        c->res->layer_records += (uint64_t)r->nlayers;
    }
    for (const cJSON *e = extra ? extra->child : NULL; e; e = e->next) {
        int li, k;
        int64_t at;
        double v;
        extra_entry(e, step, &li, &k, &v, &at);
        if (tt_series_append(r->layers[li].stat[k], at, v)) return fail(c, "memory", "out of memory");
        r->layers[li].last[k] = v;
        c->res->layer_records++;
    }
    r->step = step;
    r->steps_received++;
    if (r->state == TT_RUN_STALLED) r->state = TT_RUN_RUNNING;
    r->last_seen = now;
    touch_rate(r, step, sender_time(m, now));
    return 0;
}

int tt_run_append_scalar(tt_store *st, tt_run *r, const char *name, int64_t step, double v)
{
    int i = scalar_slot(st, r, name);
    if (i < 0 || tt_series_last_step(r->scalars[i].series) > step || tt_series_append(r->scalars[i].series, step, v)) return -1;
    update_scalar(&r->scalars[i], step, v);
    st->version++;
    return 0;
}

/* ---- run_end ---- */

static int run_end(ctx *c, tt_store *st, const cJSON *m, double now)
{
    tt_run *r = tt_store_find(st, c->res->run, c->res->rank);
    if (!r) { c->res->unknown_run = 1; return fail(c, "unknown_run", "run_end for a run whose run_start was not received"); }
    const cJSON *status = get(m, "status"), *dropped = get(m, "dropped");
    if (!is_int(get(m, "step"), 0, MAX_STEP)) return fail(c, "field", "step: expected an integer in 0..2^53");
    if (!cJSON_IsString(status)) return fail(c, "field", "status: expected \"finished\", \"stopped\" or \"failed\"");
    tt_run_state s;
    if (!strcmp(status->valuestring, "finished")) s = TT_RUN_FINISHED;
    else if (!strcmp(status->valuestring, "stopped")) s = TT_RUN_STOPPED;
    else if (!strcmp(status->valuestring, "failed")) s = TT_RUN_FAILED;
    else return fail(c, "field", "status '%.40s': expected \"finished\", \"stopped\" or \"failed\"", status->valuestring);
    if (dropped && !is_int(dropped, 0, MAX_STEP)) return fail(c, "field", "dropped: expected a non-negative integer");
    r->state = s;
    snprintf(r->end_status, sizeof r->end_status, "%s", status->valuestring);
    r->probe_dropped = dropped ? (uint64_t)dropped->valuedouble : 0;
    r->last_seen = now;
    double t = sender_time(m, now);
    if (r->first_sent > 0 && t > r->first_sent && r->steps_received)   /* the whole run: short runs get a figure too */
        r->steps_per_s = (double)r->steps_received / (t - r->first_sent);
    return 0;
}

/* The fast path's extra entries: every check of check_extra, against the store before any is applied. */
static int fast_extras_ok(const tt_run *r, const tt_fast_step *f)
{
    for (int i = 0; i < f->nextra; i++) {
        const tt_fast_extra *e = &f->extra[i];
        if (!int_in(e->layer, 0, MAX_LAYERS) || !int_in(e->stat, 0, MAX_STATS)) return 0;
        if (e->has_step && !int_in(e->step, 0, (double)f->step)) return 0;
        int li = (int)e->layer, k = (int)e->stat;
        if (li >= r->nlayers || k >= r->nstats) return 0;
        if ((e->has_step ? (int64_t)e->step : f->step) < tt_series_last_step(r->layers[li].stat[k])) return 0;
    }
    return 1;
}

/* The fast path for a plain, valid step message: every check of step_msg, on the scanned values.
 * Returns 0 when applied, -1 to hand the message to the general path (which reports any error). */
static int fast_step(tt_store *st, const char *msg, size_t len, double now, tt_ingest_result *res)
{
    tt_fast_step *f = &st->fast;
    if (tt_fast_step_scan(msg, len, f) || f->v != TT_PROTOCOL_VERSION || f->rank < 0 || f->rank > 65535 ||
        f->step < 0 || f->run_len == 0 || f->run_len >= TT_NAME_MAX)
        return -1;
    if (st->token[0] && (!f->token || f->token_len != strlen(st->token) || memcmp(f->token, st->token, f->token_len)))
        return -1;
    char run[TT_NAME_MAX];
    memcpy(run, f->run, f->run_len);
    run[f->run_len] = 0;
    if (!tt_run_name_ok(run)) return -1;
    tt_run *r = tt_store_find(st, run, (int)f->rank);
    if (!r || f->step <= r->step) return -1;
    if (f->has_layers && (f->nrows != r->nlayers || (r->nlayers && f->row_len != r->row_stats))) return -1;
    if (!fast_extras_ok(r, f)) return -1;
    char names[TT_FAST_MAX_SCALARS][TT_NAME_MAX];
    for (int i = 0; i < f->nscalars; i++) {
        if (f->scalar_len[i] >= TT_NAME_MAX) return -1;
        memcpy(names[i], f->scalar_name[i], f->scalar_len[i]);
        names[i][f->scalar_len[i]] = 0;
        if (!tt_label_ok(names[i])) return -1;
    }
    int64_t step = f->step;
    for (int i = 0; i < f->nscalars; i++) {
        int k = scalar_slot(st, r, names[i]);
        if (k < 0 || tt_series_append(r->scalars[k].series, step, f->scalar[i])) return -1;
        update_scalar(&r->scalars[k], step, f->scalar[i]);
    }
    res->layer_records = 0;
    if (f->has_layers) {
        const double *v = f->vals;
        for (int i = 0; i < r->nlayers; i++)
            for (int k = 0; k < r->row_stats; k++, v++) {
                if (tt_series_append(r->layers[i].stat[k], step, *v)) return -1;
                r->layers[i].last[k] = *v;
            }
        r->last_layer_step = step;
        res->layer_records = (uint64_t)r->nlayers;
    }
    for (int i = 0; i < f->nextra; i++) {      /* in message order, after the rows, as step_msg does */
        const tt_fast_extra *e = &f->extra[i];
        tt_layer *ly = &r->layers[(int)e->layer];
        if (tt_series_append(ly->stat[(int)e->stat], e->has_step ? (int64_t)e->step : step, e->value)) return -1;
        ly->last[(int)e->stat] = e->value;
    }
    res->layer_records += (uint64_t)f->nextra;
    r->step = step;
    r->steps_received++;
    if (r->state == TT_RUN_STALLED) r->state = TT_RUN_RUNNING;
    r->last_seen = now;
    touch_rate(r, step, f->has_time && isfinite(f->time) && f->time > 0 ? f->time : now);
    res->type = TT_MSG_STEP;
    snprintf(res->run, sizeof res->run, "%s", run);
    res->rank = (int)f->rank;
    st->version++;
    return 0;
}

int tt_ingest(tt_store *st, const char *msg, size_t len, double now, tt_ingest_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (!st->no_fast && len <= TT_MSG_MAX_BYTES && fast_step(st, msg, len, now, res) == 0) return 0;
    memset(res, 0, sizeof *res);
    ctx c = { res, err, errlen };
    if (len > TT_MSG_MAX_BYTES) return fail(&c, "size", "message of %zu bytes: expected at most %u", len, TT_MSG_MAX_BYTES);
    cJSON *m = cJSON_ParseWithLength(msg, len);
    if (!m) return fail(&c, "json", "message is not valid JSON (near byte %ld)", (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - msg : -1));
    int rc = -1;
    const cJSON *v = get(m, "v"), *type = get(m, "type"), *run = get(m, "run"), *rank = get(m, "rank");
    if (!cJSON_IsObject(m)) { fail(&c, "json", "message: expected a JSON object"); goto out; }
    if (cJSON_IsString(run) && tt_run_name_ok(run->valuestring)) snprintf(res->run, sizeof res->run, "%s", run->valuestring);
    if (is_int(rank, 0, 65535)) res->rank = (int)rank->valuedouble;
    if (!is_int(v, 0, 1e9) || v->valuedouble != TT_PROTOCOL_VERSION) { fail(&c, "version", "v: expected protocol version %d", TT_PROTOCOL_VERSION); goto out; }
    if (st->token[0]) {
        const cJSON *tok = get(m, "token");
        if (!cJSON_IsString(tok) || strcmp(tok->valuestring, st->token)) {
            fail(&c, "token", tok ? "token: does not match the collector's TRAINTOP_TOKEN" : "token: missing (the collector requires TRAINTOP_TOKEN)");
            goto out;
        }
    }
    if (!res->run[0]) { fail(&c, "field", "run: expected a run name of [A-Za-z0-9_.:+=-]{1,127}"); goto out; }
    if (!is_int(rank, 0, 65535)) { fail(&c, "field", "rank: expected an integer in 0..65535"); goto out; }
    if (!cJSON_IsString(type)) { fail(&c, "field", "type: expected \"run_start\", \"step\" or \"run_end\""); goto out; }
    const char *t = type->valuestring;
    if (!strcmp(t, "run_start")) { res->type = TT_MSG_RUN_START; rc = run_start(&c, st, m, now); }
    else if (!strcmp(t, "step")) { res->type = TT_MSG_STEP; rc = step_msg(&c, st, m, now); }
    else if (!strcmp(t, "run_end")) { res->type = TT_MSG_RUN_END; rc = run_end(&c, st, m, now); }
    else fail(&c, "type", "type '%.40s': expected \"run_start\", \"step\" or \"run_end\"", t);
    if (rc == 0) st->version++;
out:
    cJSON_Delete(m);
    return rc;
}
