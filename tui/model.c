/* model: the pause snapshot and the live-or-paused reads over the store. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tui_model_init(tui_model *m, tt_collector *c)
{
    memset(m, 0, sizeof *m);
    m->c = c;
    m->st = c ? tt_collector_store(c) : NULL;
}

static void frozen_free(tui_model *m)
{
    for (int i = 0; i < m->nfrozen; i++) {
        free(m->frozen[i].layer_last);
        free(m->frozen[i].scalar_last);
    }
    free(m->frozen);
    m->frozen = NULL;
    m->nfrozen = 0;
    m->fz_run = NULL;
    m->fz_hit = NULL;
}

void tui_model_free(tui_model *m)
{
    if (m->paused) tui_freeze_end();
    frozen_free(m);
    m->paused = 0;
}

void tui_model_counters(const tui_model *m, tt_collector_counters *k)
{
    memset(k, 0, sizeof *k);
    if (m->c) tt_collector_get_counters(m->c, k);
}

uint64_t tui_model_since_pause(const tui_model *m)
{
    if (!m->paused) return 0;
    tt_collector_counters k;
    tui_model_counters(m, &k);
    return k.accepted >= m->frozen_accepted ? k.accepted - m->frozen_accepted : 0;
}

int tui_model_pause(tui_model *m, int on, const tt_run *first, int *complete)
{
    if (complete) *complete = 1;
    if (!m->st) return 0;
    if (!on) {
        frozen_free(m);
        tui_freeze_end();
        m->paused = 0;
        return 0;
    }
    if (m->paused) return 0;
    tt_store *st = m->st;
    m->frozen = calloc((size_t)(st->nruns > 0 ? st->nruns : 1), sizeof *m->frozen);
    if (!m->frozen) return -1;
    for (int i = 0; i < st->nruns; i++) {
        const tt_run *r = st->runs[i];
        tui_frozen_run *f = &m->frozen[m->nfrozen];
        snprintf(f->name, sizeof f->name, "%s", r->name);
        f->rank = r->rank;
        f->step = r->step;
        f->layer_step = r->last_layer_step;
        f->steps_per_s = r->steps_per_s;
        f->state = (int)r->state;
        snprintf(f->end_status, sizeof f->end_status, "%s", r->end_status);
        f->alerts = r->alerts;
        f->nlayers = r->nlayers;
        f->nstats = r->nstats;
        f->nscalars = r->nscalars;
        size_t nl = (size_t)r->nlayers * (size_t)r->nstats;
        f->layer_last = malloc((nl ? nl : 1) * sizeof(double));
        f->scalar_last = malloc((size_t)(r->nscalars ? r->nscalars : 1) * sizeof(double));
        if (!f->layer_last || !f->scalar_last) {
            free(f->layer_last);
            free(f->scalar_last);
            frozen_free(m);
            return -1;
        }
        for (int l = 0; l < r->nlayers; l++)
            memcpy(f->layer_last + (size_t)l * (size_t)r->nstats, r->layers[l].last, (size_t)r->nstats * sizeof(double));
        for (int k = 0; k < r->nscalars; k++) f->scalar_last[k] = r->scalars[k].last;
        m->nfrozen++;
    }
    m->frozen_alerts_n = st->alerts_n;
    tt_collector_counters k;
    tui_model_counters(m, &k);
    m->frozen_accepted = k.accepted;
    m->paused = 1;
    int copied = tui_freeze_begin(st, first, TUI_FREEZE_BUDGET);
    if (complete) *complete = !(copied >= 0 && !tui_freeze_complete());
    return 0;
}

static const tui_frozen_run *frozen_of(tui_model *m, const tt_run *r)
{
    if (!m->paused || !r) return NULL;
    if (m->fz_run == r && m->fz_hit) return m->fz_hit;
    for (int i = 0; i < m->nfrozen; i++)
        if (m->frozen[i].rank == r->rank && strcmp(m->frozen[i].name, r->name) == 0) {
            m->fz_run = r;
            m->fz_hit = &m->frozen[i];
            return m->fz_hit;
        }
    return NULL;
}

int tui_model_run_shown(tui_model *m, const tt_run *r) { return !m->paused || frozen_of(m, r) != NULL; }

int64_t tui_model_step(tui_model *m, const tt_run *r)
{
    const tui_frozen_run *f = frozen_of(m, r);
    return f ? f->step : r->step;
}

int64_t tui_model_layer_step(tui_model *m, const tt_run *r)
{
    const tui_frozen_run *f = frozen_of(m, r);
    return f ? f->layer_step : r->last_layer_step;
}

double tui_model_rate(tui_model *m, const tt_run *r)
{
    const tui_frozen_run *f = frozen_of(m, r);
    return f ? f->steps_per_s : r->steps_per_s;
}

/* A per-step time scalar (ms) as a share of the step time from steps/s (NaN until both are known). A
 * sampled step costs more than the others; the latest is what the run pays now. */
static double step_share_pct(tui_model *m, const tt_run *r, const char *scalar)
{
    int k = tt_run_scalar_index(r, scalar);
    double rate = tui_model_rate(m, r), ms = k >= 0 ? tui_model_scalar_last(m, r, k) : NAN;
    return rate > 0 && isfinite(ms) ? ms * rate / 10.0 : NAN;      /* ms × steps/s / 1000 × 100 */
}

/* The probe's own measure when it publishes one (probe_overhead_pct: its cost over the last ~20 s
 * against the step time, what its overhead budget keeps in bounds), else the latest probe_ms. */
double tui_model_probe_pct(tui_model *m, const tt_run *r)
{
    int k = tt_run_scalar_index(r, "probe_overhead_pct");
    double pct = k >= 0 ? tui_model_scalar_last(m, r, k) : NAN;
    return isfinite(pct) ? pct : step_share_pct(m, r, "probe_ms");
}

/* The probe's kernels run on the training stream, so their time (CUPTI's probe_gpu_ms) adds to a
 * GPU-bound step. */
double tui_model_probe_gpu_pct(tui_model *m, const tt_run *r) { return step_share_pct(m, r, "probe_gpu_ms"); }

int tui_model_state(tui_model *m, const tt_run *r)
{
    const tui_frozen_run *f = frozen_of(m, r);
    return f ? f->state : (int)r->state;
}

/* The alerts hook: the collector counts fired rules per run in tt_run.alerts (collectors/alerts.c). */
int tui_model_alerts(tui_model *m, const tt_run *r)
{
    const tui_frozen_run *f = frozen_of(m, r);
    return f ? f->alerts : r->alerts;
}

int tui_model_nlayers(tui_model *m, const tt_run *r)
{
    const tui_frozen_run *f = frozen_of(m, r);
    return f ? (f->nlayers < r->nlayers ? f->nlayers : r->nlayers) : r->nlayers;
}

const double *tui_model_layer_row(tui_model *m, const tt_run *r, int layer)
{
    if (layer < 0 || layer >= r->nlayers) return NULL;
    if (!m->paused) return r->layers[layer].last;
    const tui_frozen_run *f = frozen_of(m, r);
    if (!f || layer >= f->nlayers || f->nstats != r->nstats) return NULL;
    return f->layer_last + (size_t)layer * (size_t)f->nstats;
}

double tui_model_layer_last(tui_model *m, const tt_run *r, int layer, int stat)
{
    const double *row = tui_model_layer_row(m, r, layer);
    return row && stat >= 0 && stat < r->nstats ? row[stat] : NAN;
}

double tui_model_scalar_last(tui_model *m, const tt_run *r, int scalar)
{
    if (scalar < 0 || scalar >= r->nscalars) return NAN;
    if (!m->paused) return r->scalars[scalar].last;
    const tui_frozen_run *f = frozen_of(m, r);
    return f && scalar < f->nscalars ? f->scalar_last[scalar] : NAN;
}

int tui_model_alert_count(tui_model *m)
{
    if (!m->st) return 0;
    uint64_t n = m->paused ? m->frozen_alerts_n : m->st->alerts_n;
    return (int)(n < TT_STORE_ALERTS ? n : TT_STORE_ALERTS);
}

const tt_store_alert *tui_model_alert(tui_model *m, int i)
{
    uint64_t n = m->paused ? m->frozen_alerts_n : m->st->alerts_n;
    if (i < 0 || i >= tui_model_alert_count(m)) return NULL;
    /* newest first; while paused, newer alerts may have overwritten the oldest slots */
    uint64_t idx = n - 1 - (uint64_t)i;
    if (m->st->alerts_n - idx > TT_STORE_ALERTS) return NULL;
    return &m->st->alerts[idx % TT_STORE_ALERTS];
}
