/* store: owns runs and their series; lookups are linear — a collector holds tens of runs, not millions. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = { "running", "finished", "stopped", "failed", "stalled", "crashed", "no_end" };

const char *tt_run_state_name(tt_run_state s)
{
    return (unsigned)s < sizeof state_names / sizeof *state_names ? state_names[s] : "unknown";
}

void tt_store_init(tt_store *st, size_t level_cap)
{
    memset(st, 0, sizeof *st);
    st->level_cap = level_cap ? level_cap : 512;
    /* 1M steps × 1000 layers × 10 statistics in ≤ 256 MB: 32 buckets × 40 B × ~16 levels ≈ 20 KB a series */
    st->layer_level_cap = level_cap && level_cap < 32 ? level_cap : 32;
}

static void run_free(tt_run *r)
{
    for (int i = 0; i < r->nlayers; i++) {
        for (int k = 0; k < r->nstats; k++) tt_series_free(r->layers[i].stat[k]);
        free(r->layers[i].stat);
        free(r->layers[i].last);
    }
    free(r->layers);
    for (int k = 0; k < r->nstats; k++) free(r->stat_names[k]);
    free(r->stat_names);
    for (int i = 0; i < r->nscalars; i++) tt_series_free(r->scalars[i].series);
    free(r->scalars);
    cJSON_Delete(r->hparams);
    free(r);
}

void tt_store_free(tt_store *st)
{
    for (int i = 0; i < st->nruns; i++) run_free(st->runs[i]);
    free(st->runs);
    free(st->fast.vals);
    free(st->fast.extra);
    memset(st, 0, sizeof *st);
}

tt_run *tt_store_find(const tt_store *st, const char *run, int rank)
{
    for (int i = 0; i < st->nruns; i++)
        if (st->runs[i]->rank == rank && !strcmp(st->runs[i]->name, run)) return st->runs[i];
    return NULL;
}

int tt_run_scalar_index(const tt_run *r, const char *name)
{
    for (int i = 0; i < r->nscalars; i++) if (!strcmp(r->scalars[i].name, name)) return i;
    return -1;
}

int tt_run_stat_index(const tt_run *r, const char *name)
{
    for (int k = 0; k < r->nstats; k++) if (!strcmp(r->stat_names[k], name)) return k;
    return -1;
}

const tt_named_series *tt_run_scalar(const tt_run *r, const char *name)
{
    int i = tt_run_scalar_index(r, name);
    return i < 0 ? NULL : &r->scalars[i];
}

void tt_run_free(tt_run *r) { if (r) run_free(r); }
