/* summary: one JSON rendering of the runs, so every consumer agrees on names and values. */
#include "summary.h"
#include "health.h"

#include <math.h>
#include <stdio.h>

cJSON *tt_json_metric(double v)
{
    if (isfinite(v)) return cJSON_CreateNumber(v);
    return cJSON_CreateString(isnan(v) ? "NaN" : v > 0 ? "Inf" : "-Inf");
}

static cJSON *run_json(const tt_run *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "run", r->name);
    cJSON_AddNumberToObject(o, "rank", r->rank);
    cJSON_AddNumberToObject(o, "world", r->world);
    cJSON_AddStringToObject(o, "state", tt_run_state_name(r->state));
    cJSON_AddNumberToObject(o, "step", (double)r->step);
    cJSON_AddNumberToObject(o, "steps", (double)r->steps_received);
    cJSON_AddNumberToObject(o, "steps_per_s", r->steps_per_s);
    cJSON_AddStringToObject(o, "host", r->host);
    cJSON_AddNumberToObject(o, "pid", (double)r->pid);
    cJSON_AddNumberToObject(o, "layers", r->nlayers);
    cJSON_AddNumberToObject(o, "dropped", (double)r->probe_dropped);
    /* delivery: what the probe said it made (at its end), what we lack, what came twice */
    if (r->has_end_steps) cJSON_AddNumberToObject(o, "sent", (double)r->probe_steps);
    else cJSON_AddNullToObject(o, "sent");
    /* lost: what the probe let go unacknowledged and we never got (steps or ends; a recording's gaps too) */
    cJSON_AddNumberToObject(o, "lost", (double)r->seq_missing);
    cJSON_AddNumberToObject(o, "resent", (double)r->seq_dups);
    cJSON_AddNumberToObject(o, "spooled", (double)(r->from_spool > r->probe_spooled ? r->from_spool : r->probe_spooled));
    cJSON_AddNumberToObject(o, "gaps", (double)r->seq_gaps);
    cJSON_AddNumberToObject(o, "after_end", (double)r->after_end);
    cJSON_AddItemToObject(o, "hparams", r->hparams ? cJSON_Duplicate(r->hparams, 1) : cJSON_CreateObject());
    cJSON_AddNumberToObject(o, "alerts", r->alerts);
    if (r->state == TT_RUN_STOPPED) cJSON_AddNumberToObject(o, "stopped_at", (double)r->step);
    else cJSON_AddNullToObject(o, "stopped_at");
    if (r->stop_requested) cJSON_AddStringToObject(o, "stop_reason", r->stop_reason);
    else cJSON_AddNullToObject(o, "stop_reason");
    tt_health h;                  /* collectors/health.h: how learning goes, which layer is sick */
    tt_health_run(r, &h);
    cJSON *ho = cJSON_AddObjectToObject(o, "health");
    cJSON_AddStringToObject(ho, "learning", tt_health_learn_name(h.learn.state));
    if (h.learn.since >= 0) cJSON_AddNumberToObject(ho, "since", (double)h.learn.since);
    else cJSON_AddNullToObject(ho, "since");
    cJSON_AddStringToObject(ho, "why", h.learn.why);
    cJSON_AddNumberToObject(ho, "bad_layers", h.bad_layers);
    if (h.worst_layer >= 0) {
        cJSON_AddStringToObject(ho, "worst_layer", r->layers[h.worst_layer].name);
        cJSON_AddStringToObject(ho, "worst_problem", tt_health_layer_name(h.worst_flags));
    } else {
        cJSON_AddNullToObject(ho, "worst_layer");
        cJSON_AddNullToObject(ho, "worst_problem");
    }
    cJSON *sc = cJSON_AddObjectToObject(o, "scalars");
    for (int i = 0; sc && i < r->nscalars; i++)
        cJSON_AddItemToObject(sc, r->scalars[i].name, tt_json_metric(r->scalars[i].last));
    /* exact best values and the steps that first reached them, whatever the series merged */
    cJSON *best = cJSON_AddObjectToObject(o, "best");
    for (int i = 0; best && i < r->nscalars; i++) {
        const tt_named_series *ns = &r->scalars[i];
        if (ns->min_step < 0) continue;
        cJSON *b = cJSON_AddObjectToObject(best, ns->name);
        cJSON_AddNumberToObject(b, "min", ns->min);
        cJSON_AddNumberToObject(b, "min_step", (double)ns->min_step);
        cJSON_AddNumberToObject(b, "max", ns->max);
        cJSON_AddNumberToObject(b, "max_step", (double)ns->max_step);
    }
    return o;
}

cJSON *tt_summary_runs(const tt_store *st)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < st->nruns; i++) {
        cJSON *o = run_json(st->runs[i]);
        if (!o) { cJSON_Delete(a); return NULL; }
        cJSON_AddItemToArray(a, o);
    }
    return a;
}


static const cJSON *field(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

static cJSON *dup_or_null(const cJSON *v) { return v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull(); }

static cJSON *best_step(const cJSON *run, const char *scalar, const char *which)
{
    const cJSON *b = field(field(run, "best", scalar), which, NULL);
    return cJSON_IsNumber(b) ? cJSON_CreateNumber(b->valuedouble) : cJSON_CreateNull();
}

cJSON *tt_summary_project(const cJSON *runs)
{
    static const char *const copy[] = { "run", "state", "steps", "dropped", "steps_per_s" };
    static const char *const scalars[] = { "loss", "val_loss", "val_acc", "train_acc" };
    cJSON *a = cJSON_CreateArray();
    for (const cJSON *r = runs ? runs->child : NULL; a && r; r = r->next) {
        cJSON *o = cJSON_CreateObject();
        for (size_t i = 0; i < sizeof copy / sizeof *copy; i++) cJSON_AddItemToObject(o, copy[i], dup_or_null(field(r, copy[i], NULL)));
        cJSON_AddItemToObject(o, "last_step", dup_or_null(field(r, "step", NULL)));
        for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++)
            cJSON_AddItemToObject(o, scalars[i], dup_or_null(field(r, "scalars", scalars[i])));
        cJSON_AddItemToObject(o, "val_best_step", best_step(r, "val_loss", "min_step"));
        cJSON_AddItemToObject(o, "gwa_best_step", best_step(r, "gwa_robust", "max_step"));
        cJSON_AddItemToObject(o, "stopped_at", dup_or_null(field(r, "stopped_at", NULL)));
        cJSON_AddItemToObject(o, "stop_reason", dup_or_null(field(r, "stop_reason", NULL)));
        cJSON_AddItemToObject(o, "health", dup_or_null(field(r, "health", "learning")));
        cJSON_AddItemToObject(o, "health_since", dup_or_null(field(r, "health", "since")));
        cJSON_AddItemToObject(o, "bad_layers", dup_or_null(field(r, "health", "bad_layers")));
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static double num_or_nan(const cJSON *o, const char *k)
{
    const cJSON *v = field(o, k, NULL);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

void tt_summary_print_json_runs(const cJSON *runs, FILE *out, int json)
{
    cJSON *p = tt_summary_project(runs);
    if (json) {
        char *txt = cJSON_Print(p);
        if (txt) fprintf(out, "%s\n", txt);
        cJSON_free(txt);
    } else {
        fprintf(out, "%-16s %-9s %7s %9s %9s %8s %8s  %s\n", "RUN", "STATE", "STEPS", "LOSS", "VAL_LOSS", "VAL_ACC", "STEPS/S", "HEALTH");
        for (const cJSON *r = p ? p->child : NULL; r; r = r->next) {
            char health[96];
            const cJSON *hl = field(r, "health", NULL), *bl = field(r, "bad_layers", NULL);
            double since = num_or_nan(r, "health_since");
            int n = snprintf(health, sizeof health, "%s", cJSON_IsString(hl) ? hl->valuestring : "n/a");
            if (isfinite(since)) n += snprintf(health + n, sizeof health - (size_t)n, " since %.0f", since);
            if (cJSON_IsNumber(bl) && bl->valueint > 0)
                snprintf(health + n, sizeof health - (size_t)n, ", %d layer%s with a problem", bl->valueint, bl->valueint == 1 ? "" : "s");
            fprintf(out, "%-16s %-9s %7.0f %9.4f %9.4f %8.4f %8.1f  %s\n", field(r, "run", NULL)->valuestring,
                    field(r, "state", NULL)->valuestring, num_or_nan(r, "steps"), num_or_nan(r, "loss"),
                    num_or_nan(r, "val_loss"), num_or_nan(r, "val_acc"), num_or_nan(r, "steps_per_s"), health);
        }
    }
    cJSON_Delete(p);
}

void tt_summary_print(const tt_store *st, FILE *out, int json)
{
    cJSON *runs = tt_summary_runs(st);
    tt_summary_print_json_runs(runs, out, json);
    cJSON_Delete(runs);
}
