/* ingest: applies decoded probe messages to the store. The wire format is proto/'s: the fast decoder
 * (fastjson) for plain step messages, else the general one (decode), which writes every rejection; this
 * file adds what only the store knows (which runs exist, their tables, the order of their series) and
 * changes nothing until the whole message has passed. */
#include "ingest.h"
#include "../proto/decode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The run as the decoders see it: its declared tables and its latest steps. */
static const char *layer_name(const void *ctx, int i) { return ((const tt_run *)ctx)->layers[i].name; }
static const char *stat_name(const void *ctx, int k) { return ((const tt_run *)ctx)->stat_names[k]; }
static int64_t last_at(const void *ctx, int i, int k) { return tt_series_last_step(((const tt_run *)ctx)->layers[i].stat[k]); }

static tt_msg_run run_view(const tt_run *r)
{
    return (tt_msg_run){ .nlayers = r->nlayers, .nstats = r->nstats, .row_stats = r->row_stats, .last_step = r->step,
                         .ctx = r, .layer_name = layer_name, .stat_name = stat_name, .last_at = last_at };
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

/* ---- delivery: sequence numbers (protocol version 2; a version 1 message has none) ---- */

/* Where a sequenced message stands against what the run has: NULL to apply it, else why it is refused.
 * The probe's base says which earlier messages it no longer holds, so none of those is waited for. */
static const char *seq_verdict(const tt_store *st, const tt_run *r, uint64_t seq, uint64_t base)
{
    if (!seq) return NULL;
    if (seq <= r->seq_last) return "duplicate";
    uint64_t have = base > r->seq_last ? base : r->seq_last;
    if (seq > have + 1 && !st->seq_lenient) return "gap";
    return NULL;
}

static void seq_applied(tt_run *r, uint64_t seq, uint64_t base)
{
    if (!seq) return;
    if (base > r->seq_last) { r->seq_missing += base - r->seq_last; r->seq_last = base; }
    if (seq > r->seq_last + 1) r->seq_missing += seq - r->seq_last - 1;   /* lenient: absent for good */
    r->seq_last = seq;
}

/* A refused sequenced message, counted on its run. */
static int seq_refuse(tt_msg *m, tt_run *r, const char *why, tt_ingest_result *res, char *err, size_t errlen)
{
    if (!strcmp(why, "duplicate")) {
        r->seq_dups++;
        res->duplicate = 1;
        return tt_msg_reject(m, why, err, errlen, "seq %llu: already received", (unsigned long long)m->seq);
    }
    r->seq_gaps++;
    res->gap = 1;
    return tt_msg_reject(m, why, err, errlen, "seq %llu: expected %llu first", (unsigned long long)m->seq,
                         (unsigned long long)(r->seq_last + 1));
}

/* A step or end for a run that already ended, without a run_start resuming it. */
static int after_end(tt_msg *m, tt_run *r, char *err, size_t errlen)
{
    r->after_end++;
    return tt_msg_reject(m, "ended", err, errlen, "%s after the run's end (%s): expected a run_start to resume the run",
                         tt_msg_type_name(m->type), r->end_status);
}

/* ---- run_start ---- */

static int same_layout(const tt_run *r, const tt_msg_run_start *d)
{
    if (r->nstats != d->nstats || r->nlayers != d->nlayers) return 0;
    for (int k = 0; k < d->nstats; k++)
        if (strcmp(r->stat_names[k], d->stats[k])) return 0;
    for (int k = 0; k < d->nlayers; k++)
        if (strcmp(r->layers[k].name, d->layers[k].name) || r->layers[k].rows != d->layers[k].rows ||
            r->layers[k].cols != d->layers[k].cols) return 0;
    return 1;
}

static tt_run *new_run(tt_store *st, const tt_msg *m, const tt_msg_run_start *d)
{
    tt_run *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    snprintf(r->name, sizeof r->name, "%s", m->run);
    r->rank = m->rank;
    r->step = -1;
    r->last_layer_step = -1;
    r->nstats = d->nstats;
    r->nlayers = d->nlayers;
    r->stat_names = calloc((size_t)r->nstats + 1, sizeof *r->stat_names);
    r->layers = calloc((size_t)r->nlayers + 1, sizeof *r->layers);
    if (!r->stat_names || !r->layers) { free(r->stat_names); free(r->layers); free(r); return NULL; }
    int ok = 1;
    for (int k = 0; k < r->nstats; k++)
        ok &= (r->stat_names[k] = strdup(d->stats[k])) != NULL;
    for (int k = 0; k < r->nlayers; k++) {
        tt_layer *ly = &r->layers[k];
        snprintf(ly->name, sizeof ly->name, "%s", d->layers[k].name);
        ly->rows = d->layers[k].rows;
        ly->cols = d->layers[k].cols;
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

static int run_start(tt_msg *m, tt_store *st, double now, char *err, size_t errlen)
{
    tt_msg_run_start d;
    if (tt_msg_decode_run_start(m, &d, err, errlen)) return -1;
    tt_run *r = tt_store_find(st, m->run, m->rank);
    if (r && !same_layout(r, &d)) {
        if (r->state == TT_RUN_RUNNING || r->state == TT_RUN_STALLED)
            return tt_msg_reject(m, "conflict", err, errlen, "run_start: the layer table differs from the running run's; use another run name");
        /* A finished run started again under the same name: a new incarnation replaces the old. */
        for (int k = 0; k < st->nruns; k++)
            if (st->runs[k] == r) { st->runs[k] = st->runs[--st->nruns]; break; }
        tt_run_free(r);
        r = NULL;
    }
    if (!r) {
        tt_run **nr = realloc(st->runs, (size_t)(st->nruns + 1) * sizeof *nr);
        if (!nr) return tt_msg_reject(m, "memory", err, errlen, "out of memory");
        st->runs = nr;
        if (!(r = new_run(st, m, &d))) return tt_msg_reject(m, "memory", err, errlen, "out of memory");
        st->runs[st->nruns++] = r;
        r->seq_last = m->base;          /* what the probe had acknowledged before (a restarted collector) */
        r->first_seen = now;
        r->first_sent = m->time > 0 ? m->time : now;
    }
    /* A run that resumes starts a new sequence; a running one keeps its own (each step carries its base). */
    if (r->end_status[0]) r->seq_last = m->base;
    r->row_stats = d.row_stats;
    r->world = d.world;
    r->every = d.every;
    r->pid = d.pid;
    snprintf(r->host, sizeof r->host, "%s", d.host);
    cJSON_Delete(r->hparams);
    r->hparams = d.hparams ? cJSON_Duplicate(d.hparams, 1) : cJSON_CreateObject();
    if (d.steps_per_s > 0) r->steps_per_s = d.steps_per_s;   /* a history reply: the collector's figure */
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

static int step_msg(tt_msg *m, tt_store *st, double now, tt_ingest_result *res, char *err, size_t errlen)
{
    tt_run *r = tt_store_find(st, m->run, m->rank);
    if (!r) { res->unknown_run = 1; return tt_msg_reject(m, "unknown_run", err, errlen, "step for a run whose run_start was not received"); }
    const char *why = seq_verdict(st, r, m->seq, m->base);
    if (why) return seq_refuse(m, r, why, res, err, errlen);
    if (r->end_status[0]) return after_end(m, r, err, errlen);
    tt_msg_run view = run_view(r);
    tt_msg_step d;
    if (tt_msg_decode_step(m, &view, &d, err, errlen)) return -1;
    /* Valid: apply. */
    int64_t step = d.step;
    for (int j = 0; j < d.nscalars; j++) {
        int i = scalar_slot(st, r, d.scalar_name[j]);
        if (i < 0 || tt_series_append(r->scalars[i].series, step, d.scalar[j])) return tt_msg_reject(m, "memory", err, errlen, "out of memory");
        update_scalar(&r->scalars[i], step, d.scalar[j]);
    }
    if (d.has_rows) {
        const double *v = d.rows;
        for (int i = 0; i < r->nlayers; i++)
            for (int k = 0; k < r->row_stats; k++, v++) {
                if (tt_series_append(r->layers[i].stat[k], step, *v)) return tt_msg_reject(m, "memory", err, errlen, "out of memory");
                r->layers[i].last[k] = *v;
            }
        r->last_layer_step = step;
        res->layer_records += (uint64_t)r->nlayers;
    }
    for (int j = 0; j < d.nextra; j++) {
        const tt_msg_extra *e = &d.extra[j];
        if (tt_series_append(r->layers[e->layer].stat[e->stat], e->step, e->value)) return tt_msg_reject(m, "memory", err, errlen, "out of memory");
        r->layers[e->layer].last[e->stat] = e->value;
        res->layer_records++;
    }
    r->step = step;
    r->steps_received++;
    seq_applied(r, m->seq, m->base);
    if (r->state == TT_RUN_STALLED || r->state == TT_RUN_CRASHED || r->state == TT_RUN_NO_END) r->state = TT_RUN_RUNNING;
    r->last_seen = now;
    /* untimed steps time by our clock, except in a replay or a viewer's copy (a history's steps carry
     * no time: the clock would be the viewer's ingest) */
    if (m->time > 0 || !st->seq_lenient) touch_rate(r, step, m->time > 0 ? m->time : now);
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

static int run_end(tt_msg *m, tt_store *st, double now, tt_ingest_result *res, char *err, size_t errlen)
{
    tt_run *r = tt_store_find(st, m->run, m->rank);
    if (!r) { res->unknown_run = 1; return tt_msg_reject(m, "unknown_run", err, errlen, "run_end for a run whose run_start was not received"); }
    const char *why = seq_verdict(st, r, m->seq, m->base);
    if (why) return seq_refuse(m, r, why, res, err, errlen);
    if (r->end_status[0]) return after_end(m, r, err, errlen);
    tt_msg_run_end d;
    if (tt_msg_decode_run_end(m, &d, err, errlen)) return -1;
    seq_applied(r, m->seq, m->base);
    r->has_end_steps = d.has_steps;
    r->probe_steps = d.steps;
    r->probe_spooled = d.spooled;
    r->state = !strcmp(d.status, "finished") ? TT_RUN_FINISHED : !strcmp(d.status, "stopped") ? TT_RUN_STOPPED : TT_RUN_FAILED;
    snprintf(r->end_status, sizeof r->end_status, "%s", d.status);
    r->probe_dropped = d.dropped;
    r->last_seen = now;
    double t = m->time > 0 ? m->time : now;
    if (d.steps_per_s > 0)                              /* a history reply: the collector's figure */
        r->steps_per_s = d.steps_per_s;
    else if (r->first_sent > 0 && t > r->first_sent && r->steps_received)   /* the whole run: short runs get a figure too */
        r->steps_per_s = (double)r->steps_received / (t - r->first_sent);
    return 0;
}

/* The fast path for a plain, valid step message: every check of the general decoder (proto/fastjson).
 * Returns 0 when applied, -1 to hand the message to the general path (which reports any error). */
static int fast_step(tt_store *st, const char *msg, size_t len, double now, tt_ingest_result *res)
{
    tt_fast_step *f = &st->fast;
    if (tt_fast_step_scan(msg, len, f)) return -1;
    tt_run *r = tt_store_find(st, f->run_name, (int)f->rank);
    if (!r) return -1;
    if (seq_verdict(st, r, (uint64_t)f->seq, (uint64_t)f->base) || r->end_status[0]) return -1;   /* refused there */
    tt_msg_run view = run_view(r);
    if (!tt_fast_step_fits(f, st->token, &view)) return -1;
    int64_t step = f->step;
    for (int i = 0; i < f->nscalars; i++) {
        int k = scalar_slot(st, r, f->scalar_names[i]);
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
    seq_applied(r, (uint64_t)f->seq, (uint64_t)f->base);
    if (r->state == TT_RUN_STALLED || r->state == TT_RUN_CRASHED || r->state == TT_RUN_NO_END) r->state = TT_RUN_RUNNING;
    r->last_seen = now;
    int timed = f->has_time && isfinite(f->time) && f->time > 0;
    if (timed || !st->seq_lenient) touch_rate(r, step, timed ? f->time : now);
    res->type = TT_MSG_STEP;
    res->seq = (uint64_t)f->seq;
    snprintf(res->run, sizeof res->run, "%s", f->run_name);
    res->rank = (int)f->rank;
    st->version++;
    return 0;
}

int tt_ingest(tt_store *st, const char *msg, size_t len, double now, tt_ingest_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (!st->no_fast && len <= TT_MSG_MAX_BYTES && fast_step(st, msg, len, now, res) == 0) return 0;
    memset(res, 0, sizeof *res);
    tt_msg m;
    int rc = tt_msg_decode(&m, msg, len, st->token, err, errlen);
    if (rc == 0) {
        res->type = m.type;
        if (m.type == TT_MSG_RUN_START) rc = run_start(&m, st, now, err, errlen);
        else if (m.type == TT_MSG_STEP) rc = step_msg(&m, st, now, res, err, errlen);
        else rc = run_end(&m, st, now, res, err, errlen);
    }
    snprintf(res->run, sizeof res->run, "%s", m.run);
    res->rank = m.rank;
    res->seq = m.seq;
    res->cause = m.cause;
    if (rc == 0) st->version++;
    tt_msg_free(&m);
    return rc;
}
