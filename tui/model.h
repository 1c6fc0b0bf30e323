/* model: the one read interface panels have over the collector's store — live, or as it was when the
 * display was paused. Everything that moves with ingest (steps, rates, states, latest values, the
 * alert ring, series) answers from the pause snapshot while paused; what never changes for a run (its
 * name, rank, the names of its layers, statistics and scalars, its series handles) is read through the
 * inline accessors below. Panels include this header and never reach into tt_store / tt_run fields. */
#ifndef TUI_MODEL_H
#define TUI_MODEL_H

#include <stdint.h>
#include "../collectors/collector.h"
#include "../collectors/store.h"
#include "widgets/freeze.h"

/* A run as it was when the display was paused: what the views show until it resumes. */
typedef struct {
    char name[128];
    int rank;
    int64_t step, layer_step;
    double steps_per_s;
    uint64_t lost;             /* delivery: messages that never arrived */
    int state;                 /* tt_run_state */
    char end_status[32];
    int alerts;
    int nlayers, nstats, nscalars;
    double *layer_last;        /* nlayers × nstats */
    double *scalar_last;       /* nscalars */
} tui_frozen_run;

typedef struct {
    tt_collector *c;
    tt_store *st;
    int paused;
    tui_frozen_run *frozen;
    int nfrozen;
    const tt_run *fz_run;      /* lookup cache */
    const tui_frozen_run *fz_hit;
    uint64_t frozen_alerts_n, frozen_accepted;
} tui_model;

/* Over a collector (may be NULL: then there is no store). */
void tui_model_init(tui_model *m, tt_collector *c);
void tui_model_free(tui_model *m);
/* Pauses (a snapshot of every run, the series copied with `first`'s first) or resumes. Returns 0, or
 * -1 when the snapshot could not be taken (out of memory: the display stays live). *complete (may be
 * NULL) says whether every series fitted in the copy budget. */
int tui_model_pause(tui_model *m, int on, const tt_run *first, int *complete);
static inline int tui_model_paused(const tui_model *m) { return m->paused; }
/* Messages accepted since the pause (0 when live). */
uint64_t tui_model_since_pause(const tui_model *m);
/* The collector's counters (zeros without a collector). */
void tui_model_counters(const tui_model *m, tt_collector_counters *k);
/* The store's change counter (0 while paused: nothing moves on screen). */
static inline uint64_t tui_model_version(const tui_model *m) { return m->paused ? 0 : m->st->version; }

/* The store itself, for the plugin services only (plugins read it through the plugin ABI). */
static inline const tt_store *tui_model_store(const tui_model *m) { return m->st; }
/* Runs, in order of arrival. */
static inline int tui_model_nruns(const tui_model *m) { return m->st ? m->st->nruns : 0; }
static inline const tt_run *tui_model_run(const tui_model *m, int i) { return m->st->runs[i]; }
/* Paused: whether the run was there at the pause (always 1 when live). */
int tui_model_run_shown(tui_model *m, const tt_run *r);

/* What the display shows of a run: live values, or the pause snapshot's. */
int64_t tui_model_step(tui_model *m, const tt_run *r);
int64_t tui_model_layer_step(tui_model *m, const tt_run *r);
double tui_model_rate(tui_model *m, const tt_run *r);
/* Delivery: messages the probe let go unacknowledged that never arrived (or a recording lacks). */
uint64_t tui_model_lost(tui_model *m, const tt_run *r);
double tui_model_probe_pct(tui_model *m, const tt_run *r);      /* probe_overhead_pct, else probe_ms as % of the step time; NaN unknown */
double tui_model_probe_gpu_pct(tui_model *m, const tt_run *r);  /* probe_gpu_ms (CUPTI) likewise */
int tui_model_state(tui_model *m, const tt_run *r);
int tui_model_alerts(tui_model *m, const tt_run *r);            /* the alert-count hook: tt_run.alerts */

int tui_model_nlayers(tui_model *m, const tt_run *r);
/* A layer's latest value of every statistic (tui_run_nstats of them), or NULL when the pause has none. */
const double *tui_model_layer_row(tui_model *m, const tt_run *r, int layer);
double tui_model_layer_last(tui_model *m, const tt_run *r, int layer, int stat);
double tui_model_scalar_last(tui_model *m, const tt_run *r, int scalar);
/* Alerts the display shows (the store's ring, newest first; paused: those before the pause). */
int tui_model_alert_count(tui_model *m);
const tt_store_alert *tui_model_alert(tui_model *m, int i);
/* Whether the ring has dropped alerts (more fired than it keeps). */
static inline int tui_model_alerts_wrapped(const tui_model *m) { return m->st && m->st->alerts_n > TT_STORE_ALERTS; }

/* A run's identity and shape: fixed for the run's life (or only growing), the same live or paused. */
static inline const char *tui_run_name(const tt_run *r) { return r->name; }
static inline int tui_run_rank(const tt_run *r) { return r->rank; }
static inline int tui_run_world(const tt_run *r) { return r->world; }
static inline const char *tui_run_host(const tt_run *r) { return r->host; }
static inline long long tui_run_pid(const tt_run *r) { return (long long)r->pid; }
/* Seconds between the run's first and its latest message (the collector's clock). */
static inline double tui_run_uptime(const tt_run *r) { return r->last_seen - r->first_seen; }
/* As sent in run_end ("" while running). */
static inline const char *tui_run_end_status(const tt_run *r) { return r->end_status; }
static inline const cJSON *tui_run_hparams(const tt_run *r) { return r->hparams; }
/* Layer statistics: their count, names, and how many come every step (the rest are occasional). */
static inline int tui_run_nstats(const tt_run *r) { return r->nstats; }
static inline const char *tui_run_stat_name(const tt_run *r, int k) { return r->stat_names[k]; }
static inline int tui_run_row_stats(const tt_run *r) { return r->row_stats; }
static inline int tui_run_stat_index(const tt_run *r, const char *name) { return tt_run_stat_index(r, name); }
/* Layers: the names and shapes of every layer the run ever sent (tui_model_nlayers of them are shown). */
static inline int tui_run_layers_total(const tt_run *r) { return r->nlayers; }
static inline const char *tui_layer_name(const tt_run *r, int l) { return r->layers[l].name; }
static inline int64_t tui_layer_rows(const tt_run *r, int l) { return r->layers[l].rows; }
static inline int64_t tui_layer_cols(const tt_run *r, int l) { return r->layers[l].cols; }
/* The series of statistic k of layer l (NULL when none); read it with tui_query / tui_series_count. */
static inline const tt_series *tui_layer_series(const tt_run *r, int l, int k)
{
    return r->layers[l].stat ? r->layers[l].stat[k] : NULL;
}
/* Scalars (loss, val_acc, lr, …). */
static inline int tui_run_nscalars(const tt_run *r) { return r->nscalars; }
static inline const char *tui_scalar_name(const tt_run *r, int i) { return r->scalars[i].name; }
static inline const tt_series *tui_scalar_series(const tt_run *r, int i) { return r->scalars[i].series; }
static inline int tui_run_scalar_index(const tt_run *r, const char *name) { return tt_run_scalar_index(r, name); }
/* The scalar's series by name, NULL when the run never sent it. */
static inline const tt_series *tui_run_scalar_series(const tt_run *r, const char *name)
{
    const tt_named_series *s = tt_run_scalar(r, name);
    return s ? s->series : NULL;
}

#endif
