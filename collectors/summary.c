/* summary: one JSON rendering of the runs, so every consumer agrees on names and values. */
#include "summary.h"

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
    cJSON_AddItemToObject(o, "hparams", r->hparams ? cJSON_Duplicate(r->hparams, 1) : cJSON_CreateObject());
    cJSON *sc = cJSON_AddObjectToObject(o, "scalars");
    for (int i = 0; sc && i < r->nscalars; i++)
        cJSON_AddItemToObject(sc, r->scalars[i].name, tt_json_metric(r->scalars[i].last));
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

static double scalar(const tt_run *r, const char *name)
{
    const tt_named_series *s = tt_run_scalar(r, name);
    return s ? s->last : NAN;
}

/* The step of a series' best value (lowest, or highest with max), or null when it has none. */
static void add_best(cJSON *o, const char *key, const tt_named_series *s, int max)
{
    int64_t step = !s ? -1 : max ? s->max_step : s->min_step;
    if (step < 0) cJSON_AddNullToObject(o, key);
    else cJSON_AddNumberToObject(o, key, (double)step);
}

void tt_summary_print(const tt_store *st, FILE *out, int json)
{
    if (json) {
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; i < st->nruns; i++) {
            const tt_run *r = st->runs[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "run", r->name);
            cJSON_AddStringToObject(o, "state", tt_run_state_name(r->state));
            cJSON_AddNumberToObject(o, "steps", (double)r->steps_received);
            cJSON_AddNumberToObject(o, "last_step", (double)r->step);
            cJSON_AddNumberToObject(o, "dropped", (double)r->probe_dropped);
            cJSON_AddItemToObject(o, "loss", tt_json_metric(scalar(r, "loss")));
            cJSON_AddItemToObject(o, "val_loss", tt_json_metric(scalar(r, "val_loss")));
            cJSON_AddItemToObject(o, "val_acc", tt_json_metric(scalar(r, "val_acc")));
            cJSON_AddItemToObject(o, "train_acc", tt_json_metric(scalar(r, "train_acc")));
            cJSON_AddNumberToObject(o, "steps_per_s", r->steps_per_s);
            add_best(o, "val_best_step", tt_run_scalar(r, "val_loss"), 0);
            add_best(o, "gwa_best_step", tt_run_scalar(r, "gwa"), 1);
            cJSON_AddItemToArray(a, o);
        }
        char *txt = cJSON_Print(a);
        if (txt) fprintf(out, "%s\n", txt);
        cJSON_free(txt);
        cJSON_Delete(a);
        return;
    }
    fprintf(out, "%-16s %-9s %7s %9s %9s %8s %8s\n", "RUN", "STATE", "STEPS", "LOSS", "VAL_LOSS", "VAL_ACC", "STEPS/S");
    for (int i = 0; i < st->nruns; i++) {
        const tt_run *r = st->runs[i];
        fprintf(out, "%-16s %-9s %7llu %9.4f %9.4f %8.4f %8.1f\n", r->name, tt_run_state_name(r->state),
               (unsigned long long)r->steps_received, scalar(r, "loss"), scalar(r, "val_loss"),
               scalar(r, "val_acc"), r->steps_per_s);
    }
}

