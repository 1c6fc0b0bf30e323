/* decode: the protocol's validator (docs/protocol.md). Every check names the run and the field; nothing
 * is handed to the caller until the whole message has passed, so a receiver applies all or nothing. */
#include "decode.h"
#include "names.h"
#include "token.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The decoded tables that do not fit tt_msg's fixed fields. */
typedef struct {
    tt_msg_layer *layers;
    double *rows;
    tt_msg_extra *extra;
} owned;

int tt_msg_reject(tt_msg *m, const char *cause, char *err, size_t errlen, const char *fmt, ...)
{
    char body[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    m->cause = cause;
    if (m->run[0])
        snprintf(err, errlen, "run '%s' rank %d: %s", m->run, m->rank, body);
    else
        snprintf(err, errlen, "%s", body);
    /* Messages echo what the sender wrote: keep the log one line of plain ASCII per rejection whatever it
     * was (no control characters, no bytes that are not UTF-8 — valid names are ASCII anyway). */
    for (char *p = err; errlen && *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
    return -1;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

int tt_msg_int_in(double d, double lo, double hi) { return d == floor(d) && d >= lo && d <= hi; }

static int is_int(const cJSON *v, double lo, double hi)
{
    return cJSON_IsNumber(v) && tt_msg_int_in(v->valuedouble, lo, hi);
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

static owned *own(tt_msg *m)
{
    if (!m->owned) m->owned = calloc(1, sizeof(owned));
    return m->owned;
}

void tt_msg_free(tt_msg *m)
{
    owned *o = m->owned;
    if (o) { free(o->layers); free(o->rows); free(o->extra); free(o); }
    m->owned = NULL;
    cJSON_Delete(m->doc);
    m->doc = NULL;
}

/* ---- every message ---- */

int tt_msg_decode(tt_msg *m, const char *msg, size_t len, const char *token, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (len > TT_MSG_MAX_BYTES) return tt_msg_reject(m, "size", err, errlen, "message of %zu bytes: expected at most %u", len, TT_MSG_MAX_BYTES);
    if (!(m->doc = cJSON_ParseWithLength(msg, len)))
        return tt_msg_reject(m, "json", err, errlen, "message is not valid JSON (near byte %ld)",
                             (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - msg : -1));
    const cJSON *d = m->doc, *v = get(d, "v"), *type = get(d, "type"), *run = get(d, "run"), *rank = get(d, "rank");
    if (!cJSON_IsObject(d)) return tt_msg_reject(m, "json", err, errlen, "message: expected a JSON object");
    if (cJSON_IsString(run) && tt_run_name_ok(run->valuestring)) snprintf(m->run, sizeof m->run, "%s", run->valuestring);
    if (is_int(rank, 0, TT_MAX_RANK)) m->rank = (int)rank->valuedouble;
    if (!is_int(v, TT_PROTOCOL_MIN_VERSION, TT_PROTOCOL_VERSION))
        return tt_msg_reject(m, "version", err, errlen, "v: expected protocol version %d..%d", TT_PROTOCOL_MIN_VERSION, TT_PROTOCOL_VERSION);
    m->v = (int)v->valuedouble;
    if (token && token[0]) {
        const cJSON *tok = get(d, "token");
        if (!cJSON_IsString(tok) || !tt_token_eq(tok->valuestring, strlen(tok->valuestring), token))
            return tt_msg_reject(m, "token", err, errlen, "%s", tok ? "token: does not match the collector's TRAINTOP_TOKEN"
                                                                   : "token: missing (the collector requires TRAINTOP_TOKEN)");
    }
    if (!m->run[0]) return tt_msg_reject(m, "field", err, errlen, "run: expected a run name of [A-Za-z0-9_.:+=-]{1,127}, not starting with '.' or '-'");
    if (!is_int(rank, 0, TT_MAX_RANK)) return tt_msg_reject(m, "field", err, errlen, "rank: expected an integer in 0..%d", TT_MAX_RANK);
    if (!cJSON_IsString(type)) return tt_msg_reject(m, "field", err, errlen, "type: expected \"run_start\", \"step\" or \"run_end\"");
    const char *t = type->valuestring;
    if (!strcmp(t, "run_start")) m->type = TT_MSG_RUN_START;
    else if (!strcmp(t, "step")) m->type = TT_MSG_STEP;
    else if (!strcmp(t, "run_end")) m->type = TT_MSG_RUN_END;
    else return tt_msg_reject(m, "type", err, errlen, "type '%.40s': expected \"run_start\", \"step\" or \"run_end\"", t);
    const cJSON *seq = get(d, "seq"), *base = get(d, "base");
    if (seq && (m->type == TT_MSG_RUN_START || !is_int(seq, 1, TT_MAX_STEP)))
        return tt_msg_reject(m, "field", err, errlen, "seq: expected an integer in 1..2^53 on a step or run_end");
    if (base && (!is_int(base, 0, TT_MAX_STEP) || (seq && base->valuedouble >= seq->valuedouble)))
        return tt_msg_reject(m, "field", err, errlen, "base: expected an integer in 0..2^53, below seq");
    m->seq = seq ? (uint64_t)seq->valuedouble : 0;
    m->base = base ? (uint64_t)base->valuedouble : 0;
    const cJSON *tm = get(d, "time");
    m->time = cJSON_IsNumber(tm) && isfinite(tm->valuedouble) && tm->valuedouble > 0 ? tm->valuedouble : 0;
    return 0;
}

/* ---- run_start ---- */

int tt_msg_decode_run_start(tt_msg *m, tt_msg_run_start *out, char *err, size_t errlen)
{
    const cJSON *d = m->doc;
    const cJSON *world = get(d, "world"), *every = get(d, "every"), *hp = get(d, "hparams");
    const cJSON *stats = get(d, "stats"), *layers = get(d, "layers"), *host = get(d, "host"), *pid = get(d, "pid");
    if (!is_int(world, 1, TT_MAX_WORLD) || m->rank >= world->valuedouble)
        return tt_msg_reject(m, "field", err, errlen, "world: expected an integer in 1..%d greater than rank", TT_MAX_WORLD);
    if (every && !is_int(every, 1, 1e9)) return tt_msg_reject(m, "field", err, errlen, "every: expected an integer >= 1");
    if (host && (!cJSON_IsString(host) || strlen(host->valuestring) > TT_MAX_HOST))
        return tt_msg_reject(m, "field", err, errlen, "host: expected a string of at most %d bytes", TT_MAX_HOST);
    if (pid && !is_int(pid, 0, 4294967295.0)) return tt_msg_reject(m, "field", err, errlen, "pid: expected a non-negative integer");
    if (hp && (!cJSON_IsObject(hp) || depth(hp) > TT_MAX_HPARAMS_DEPTH || cJSON_GetArraySize(hp) > TT_MAX_HPARAMS))
        return tt_msg_reject(m, "field", err, errlen, "hparams: expected an object of at most %d keys nested at most %d deep",
                             TT_MAX_HPARAMS, TT_MAX_HPARAMS_DEPTH);
    if (!cJSON_IsArray(stats) || cJSON_GetArraySize(stats) > TT_MAX_STATS)
        return tt_msg_reject(m, "field", err, errlen, "stats: expected an array of at most %d statistic names", TT_MAX_STATS);
    for (const cJSON *s = stats->child; s; s = s->next) {
        if (!cJSON_IsString(s) || !tt_label_ok(s->valuestring))
            return tt_msg_reject(m, "field", err, errlen, "stats: expected names of 1-127 printable characters");
        for (const cJSON *t = stats->child; t != s; t = t->next)
            if (!strcmp(t->valuestring, s->valuestring)) return tt_msg_reject(m, "field", err, errlen, "stats: '%s' appears twice", s->valuestring);
    }
    if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) > TT_MAX_LAYERS)
        return tt_msg_reject(m, "field", err, errlen, "layers: expected an array of at most %d layers", TT_MAX_LAYERS);
    const cJSON *row_stats = get(d, "row_stats");
    if (row_stats && !is_int(row_stats, 0, cJSON_GetArraySize(stats)))
        return tt_msg_reject(m, "field", err, errlen, "row_stats: expected an integer in 0..%d (the number of stats)", cJSON_GetArraySize(stats));
    int i = 0;
    for (const cJSON *l = layers->child; l; l = l->next, i++) {
        const cJSON *name = get(l, "name");
        if (!cJSON_IsObject(l) || !cJSON_IsString(name) || !tt_label_ok(name->valuestring))
            return tt_msg_reject(m, "field", err, errlen, "layers[%d].name: expected 1-127 printable characters without quotes or backslashes", i);
        if (!is_int(get(l, "rows"), 1, 1e12) || !is_int(get(l, "cols"), 1, 1e12))
            return tt_msg_reject(m, "field", err, errlen, "layers[%d] '%s': rows and cols: expected positive integers", i, name->valuestring);
        for (const cJSON *t = layers->child; t != l; t = t->next)
            if (!strcmp(get(t, "name")->valuestring, name->valuestring))
                return tt_msg_reject(m, "field", err, errlen, "layers[%d]: name '%s' appears twice", i, name->valuestring);
    }
    const cJSON *rate = get(d, "steps_per_s");
    if (rate && !(cJSON_IsNumber(rate) && rate->valuedouble >= 0 && rate->valuedouble < 1e12))
        return tt_msg_reject(m, "field", err, errlen, "steps_per_s: expected a non-negative number");
    /* Valid: the plain values. */
    memset(out, 0, sizeof *out);
    out->steps_per_s = rate ? rate->valuedouble : 0;
    out->world = (int)world->valuedouble;
    out->every = every ? (int)every->valuedouble : 1;
    out->pid = pid ? (int64_t)pid->valuedouble : 0;
    out->host = host ? host->valuestring : "";
    out->hparams = hp;
    out->nstats = cJSON_GetArraySize(stats);
    out->row_stats = row_stats ? (int)row_stats->valuedouble : out->nstats;
    int k = 0;
    for (const cJSON *s = stats->child; s; s = s->next) out->stats[k++] = s->valuestring;
    out->nlayers = cJSON_GetArraySize(layers);
    owned *o = own(m);
    if (!o || !(o->layers = calloc((size_t)out->nlayers + 1, sizeof *o->layers)))
        return tt_msg_reject(m, "memory", err, errlen, "out of memory");
    k = 0;
    for (const cJSON *l = layers->child; l; l = l->next, k++)
        o->layers[k] = (tt_msg_layer){ get(l, "name")->valuestring, (int64_t)get(l, "rows")->valuedouble,
                                       (int64_t)get(l, "cols")->valuedouble };
    out->layers = o->layers;
    return 0;
}

/* ---- step ---- */

/* An extra entry: [layer, stat, value] or [layer, stat, value, step] — statistics that come on their own
 * schedule (spectra from a background thread, per-sample statistics), possibly for an earlier step. */
static int extra_entry(const cJSON *e, int64_t msg_step, tt_msg_extra *x)
{
    int n = cJSON_GetArraySize(e);
    if (!cJSON_IsArray(e) || n < 3 || n > 4) return -1;
    const cJSON *l = e->child, *k = l->next, *val = k->next, *st = val->next;
    if (!is_int(l, 0, TT_MAX_LAYERS) || !is_int(k, 0, TT_MAX_STATS) || metric_value(val, &x->value)) return -1;
    if (st && !is_int(st, 0, (double)msg_step)) return -1;
    x->layer = (int)l->valuedouble;
    x->stat = (int)k->valuedouble;
    x->step = st ? (int64_t)st->valuedouble : msg_step;
    return 0;
}

static int decode_extra(tt_msg *m, const tt_msg_run *r, const cJSON *extra, int64_t step, tt_msg_step *out, char *err, size_t errlen)
{
    if (!cJSON_IsArray(extra) || cJSON_GetArraySize(extra) > TT_MAX_EXTRAS)
        return tt_msg_reject(m, "field", err, errlen, "extra: expected an array of at most %d [layer, stat, value, step?] entries", TT_MAX_EXTRAS);
    owned *o = own(m);
    int n = cJSON_GetArraySize(extra);
    if (!o || !(o->extra = malloc(((size_t)n + 1) * sizeof *o->extra))) return tt_msg_reject(m, "memory", err, errlen, "out of memory");
    int i = 0;
    for (const cJSON *e = extra->child; e; e = e->next, i++) {
        tt_msg_extra *x = &o->extra[i];
        if (extra_entry(e, step, x))
            return tt_msg_reject(m, "field", err, errlen, "extra[%d]: expected [layer index, stat index, value] or [..., step <= %lld]", i, (long long)step);
        if (x->layer >= r->nlayers || x->stat >= r->nstats)
            return tt_msg_reject(m, "field", err, errlen, "extra[%d]: layer %d / stat %d: expected indices below %d layers and %d stats",
                                 i, x->layer, x->stat, r->nlayers, r->nstats);
        if (x->step < r->last_at(r->ctx, x->layer, x->stat))
            return tt_msg_reject(m, "order", err, errlen, "extra[%d] '%s' %s: step %lld is before the series' last step", i,
                                 r->layer_name(r->ctx, x->layer), r->stat_name(r->ctx, x->stat), (long long)x->step);
    }
    out->nextra = n;
    out->extra = o->extra;
    return 0;
}

int tt_msg_decode_step(tt_msg *m, const tt_msg_run *r, tt_msg_step *out, char *err, size_t errlen)
{
    const cJSON *d = m->doc;
    const cJSON *stepv = get(d, "step"), *scalars = get(d, "scalars"), *layers = get(d, "layers"), *extra = get(d, "extra");
    memset(out, 0, sizeof *out);
    if (!is_int(stepv, 0, TT_MAX_STEP)) return tt_msg_reject(m, "field", err, errlen, "step: expected an integer in 0..2^53");
    int64_t step = (int64_t)stepv->valuedouble;
    if (step <= r->last_step)
        return tt_msg_reject(m, "order", err, errlen, "step %lld: expected a step after %lld", (long long)step, (long long)r->last_step);
    out->step = step;
    if (scalars) {
        if (!cJSON_IsObject(scalars) || cJSON_GetArraySize(scalars) > TT_MAX_SCALARS)
            return tt_msg_reject(m, "field", err, errlen, "scalars: expected an object of at most %d numbers", TT_MAX_SCALARS);
        for (const cJSON *s = scalars->child; s; s = s->next) {
            double v;
            if (!tt_label_ok(s->string))
                return tt_msg_reject(m, "field", err, errlen, "scalars: name '%.60s' is not 1-127 printable characters", s->string);
            if (metric_value(s, &v))
                return tt_msg_reject(m, "field", err, errlen, "scalars.%s: expected a number or \"NaN\", \"Inf\", \"-Inf\"", s->string);
            out->scalar_name[out->nscalars] = s->string;
            out->scalar[out->nscalars++] = v;
        }
    }
    if (layers) {
        if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) != r->nlayers)
            return tt_msg_reject(m, "field", err, errlen, "layers: expected an array of %d layer rows (the run_start layer table)", r->nlayers);
        owned *o = own(m);
        if (!o || !(o->rows = malloc(((size_t)r->nlayers * (size_t)r->row_stats + 1) * sizeof *o->rows)))
            return tt_msg_reject(m, "memory", err, errlen, "out of memory");
        double *v = o->rows;
        int i = 0;
        for (const cJSON *l = layers->child; l; l = l->next, i++) {
            if (!cJSON_IsArray(l) || cJSON_GetArraySize(l) != r->row_stats)
                return tt_msg_reject(m, "field", err, errlen, "layers[%d] '%s': expected an array of %d statistics", i, r->layer_name(r->ctx, i), r->row_stats);
            int k = 0;
            for (const cJSON *x = l->child; x; x = x->next, k++)
                if (metric_value(x, v++))
                    return tt_msg_reject(m, "field", err, errlen, "layers[%d] '%s' %s: expected a number or \"NaN\", \"Inf\", \"-Inf\"",
                                         i, r->layer_name(r->ctx, i), r->stat_name(r->ctx, k));
        }
        out->has_rows = 1;
        out->rows = o->rows;
    }
    if (extra && decode_extra(m, r, extra, step, out, err, errlen)) return -1;
    return 0;
}

/* ---- run_end ---- */

int tt_msg_decode_run_end(tt_msg *m, tt_msg_run_end *out, char *err, size_t errlen)
{
    const cJSON *d = m->doc, *status = get(d, "status"), *dropped = get(d, "dropped"), *step = get(d, "step");
    const cJSON *steps = get(d, "steps"), *spooled = get(d, "spooled"), *rate = get(d, "steps_per_s");
    if (rate && !(cJSON_IsNumber(rate) && rate->valuedouble >= 0 && rate->valuedouble < 1e12))
        return tt_msg_reject(m, "field", err, errlen, "steps_per_s: expected a non-negative number");
    out->steps_per_s = rate ? rate->valuedouble : 0;
    if (!is_int(step, 0, TT_MAX_STEP)) return tt_msg_reject(m, "field", err, errlen, "step: expected an integer in 0..2^53");
    if (!cJSON_IsString(status)) return tt_msg_reject(m, "field", err, errlen, "status: expected \"finished\", \"stopped\" or \"failed\"");
    if (strcmp(status->valuestring, "finished") && strcmp(status->valuestring, "stopped") && strcmp(status->valuestring, "failed"))
        return tt_msg_reject(m, "field", err, errlen, "status '%.40s': expected \"finished\", \"stopped\" or \"failed\"", status->valuestring);
    if (dropped && !is_int(dropped, 0, TT_MAX_STEP)) return tt_msg_reject(m, "field", err, errlen, "dropped: expected a non-negative integer");
    out->step = (int64_t)step->valuedouble;
    out->status = status->valuestring;
    if (steps && !is_int(steps, 0, TT_MAX_STEP)) return tt_msg_reject(m, "field", err, errlen, "steps: expected a non-negative integer");
    if (spooled && !is_int(spooled, 0, TT_MAX_STEP)) return tt_msg_reject(m, "field", err, errlen, "spooled: expected a non-negative integer");
    out->dropped = dropped ? (uint64_t)dropped->valuedouble : 0;
    out->spooled = spooled ? (uint64_t)spooled->valuedouble : 0;
    out->has_steps = steps != NULL;
    out->steps = steps ? (uint64_t)steps->valuedouble : 0;
    return 0;
}
