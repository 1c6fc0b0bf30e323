/* crossrank: looks for the step's "local_grad_sq" in every rank's series (their last points), so no
 * extra state is kept: the ranks' messages may arrive in any order, the last one completes the step. */
#include "crossrank.h"
#include "ingest.h"
#include "../metrics/noise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int value_at(const tt_run *r, const char *name, int64_t step, double *v)
{
    const tt_named_series *s = tt_run_scalar(r, name);
    if (!s || s->last_step != step) return 0;
    *v = s->last;
    return 1;
}

int tt_crossrank_step(tt_store *st, const tt_run *r, int64_t step)
{
    double dummy;
    if (r->world < 2 || r->world > 4096 || !value_at(r, "local_grad_sq", step, &dummy)) return 0;
    double *local = malloc((size_t)r->world * sizeof *local);
    if (!local) return 0;
    tt_run *rank0 = NULL;
    int have = 0;
    for (int i = 0; i < st->nruns; i++) {
        tt_run *o = st->runs[i];
        if (strcmp(o->name, r->name) || o->world != r->world || o->rank >= r->world) continue;
        if (value_at(o, "local_grad_sq", step, &local[o->rank])) have++;
        if (o->rank == 0) rank0 = o;
    }
    int done = 0;
    if (have == r->world && rank0) {
        double gbar2 = NAN;
        if (!value_at(rank0, "grad_sq_reduced", step, &gbar2) && rank0->last_layer_step == step) {
            int k = tt_run_stat_index(rank0, "g_norm");
            gbar2 = 0;
            for (int l = 0; k >= 0 && l < rank0->nlayers; l++) gbar2 += rank0->layers[l].last[k] * rank0->layers[l].last[k];
            if (k < 0) gbar2 = NAN;
        }
        const cJSON *b = rank0->hparams ? cJSON_GetObjectItemCaseSensitive(rank0->hparams, "batch") : NULL;
        double batch = cJSON_IsNumber(b) ? b->valuedouble : NAN;
        if (isfinite(gbar2)) {
            tt_noise_est e;
            tt_noise_cross_rank((size_t)r->world, local, gbar2, isfinite(batch) ? batch : 1, &e);
            tt_run_append_scalar(st, rank0, "grad_sq_ranks", step, e.g2);
            tt_run_append_scalar(st, rank0, "trace_sigma_ranks", step, e.trace_sigma);
            if (isfinite(batch)) tt_run_append_scalar(st, rank0, "noise_scale_ranks", step, e.b_simple);
            done = 1;
        }
    }
    free(local);
    return done;
}
