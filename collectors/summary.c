/* summary: one JSON rendering of the runs, so every consumer agrees on names and values. */
#include "summary.h"

#include <math.h>

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
