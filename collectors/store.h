/* store: everything the collector knows — runs, their ranks' scalars and per-layer statistic series. */
#ifndef TT_STORE_H
#define TT_STORE_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "series.h"
#include "../proto/fastjson.h"
#include "traintop/probe.h"

/* TT_RUN_NO_END: the probe's process is gone without its run_end reaching us — for a short while, as its
 * spool (with the end) may still be imported; then TT_RUN_CRASHED. */
typedef enum { TT_RUN_RUNNING, TT_RUN_FINISHED, TT_RUN_STOPPED, TT_RUN_FAILED, TT_RUN_STALLED, TT_RUN_CRASHED,
               TT_RUN_NO_END } tt_run_state;
const char *tt_run_state_name(tt_run_state s);

typedef struct {
    char name[TT_NAME_MAX];
    tt_series *series;
    double last;
    int64_t last_step;
    double min, max;           /* over finite values, exact whatever the series has merged (NaN: none yet) */
    int64_t min_step, max_step;/* the first step that reached them */
} tt_named_series;

typedef struct {
    char name[TT_NAME_MAX];
    int64_t rows, cols;
    tt_series **stat;          /* one per run->stat_names entry */
    double *last;              /* latest value per statistic */
} tt_layer;

typedef struct {
    char name[TT_NAME_MAX];
    int rank, world, every;
    char host[64];
    int64_t pid;
    tt_run_state state;
    char end_status[32];       /* as sent in run_end, "" while running */
    int64_t step;              /* latest step received */
    uint64_t steps_received;
    uint64_t probe_dropped;    /* as reported in run_end */
    /* delivery (protocol version 2: every step and run_end carries a sequence number) */
    uint64_t seq_last;         /* every message up to it is here, or was skipped (the probe's base) */
    uint64_t seq_missing;      /* messages we will not get live: the probe released them unacknowledged (spooled or dropped),
                                  or (replays, viewers) they were absent */
    uint64_t seq_dups;         /* resent messages we already had (dropped) */
    uint64_t seq_gaps;         /* messages refused because an earlier one was missing (it is resent) */
    uint64_t after_end;        /* steps refused because the run had ended */
    int has_end_steps;         /* run_end said how many steps the probe made */
    uint64_t probe_steps, probe_spooled;   /* as reported in run_end */
    uint64_t from_spool;       /* the collector's: steps that came through a probe's spool (imported) */
    uint64_t seq_acked;        /* the collector's: the latest seq it acknowledged */
    int ack_due;               /* the collector's: an ack (or a repeated one) is owed */
    double resend_asked;       /* the collector's: when it last asked for a resend */
    double gone_at;            /* the collector's: when it found the probe's process gone (TT_RUN_NO_END) */
    double first_seen, last_seen;   /* collector's monotonic clock, seconds */
    double first_sent;         /* the probe's clock at run_start (or ours if it sent none) */
    double steps_per_s;        /* smoothed, by the probe's clock */
    cJSON *hparams;            /* owned */
    char **stat_names;         /* the layer statistics' names, in wire order */
    int nstats;
    int row_stats;             /* the first row_stats statistics come as full layer rows; the rest as extra entries */
    tt_layer *layers;
    int nlayers;
    tt_named_series *scalars;
    int nscalars;
    int64_t last_layer_step;   /* latest step that carried layer statistics, -1 if none */
    int stop_requested;        /* a stop was asked: repeated to the probe until the run ends */
    char stop_reason[256];
    int alerts;                /* rules that fired on this run */
    char last_alert[256];
    double rate_t0;            /* start of the current steps/s measuring window */
    int64_t rate_step0;
} tt_run;

/* A fired rule, kept for the dashboard's alerts view (the newest TT_STORE_ALERTS). */
#define TT_STORE_ALERTS 256
typedef struct {
    char run[TT_NAME_MAX];
    char rule[64];
    int64_t step;
    double time;
    int stop;
    char reason[256];
} tt_store_alert;

typedef struct {
    tt_run **runs;             /* in order of arrival */
    int nruns;
    size_t level_cap;          /* buckets per level of a run scalar's series (charts want resolution) */
    size_t layer_level_cap;    /* of a layer statistic's series: there are thousands, memory must stay bounded */
    uint64_t version;          /* bumped on every change: viewers redraw when it moves */
    tt_fast_step fast;         /* ingest's scratch for the fast path (its value buffer is reused) */
    int no_fast;               /* tests: always take the general path */
    int seq_lenient;           /* accept a sequence gap (counted): replays and viewers, where no resend can come */
    tt_store_alert alerts[TT_STORE_ALERTS];   /* a ring: the newest at (alerts_n - 1) % TT_STORE_ALERTS */
    uint64_t alerts_n;         /* alerts ever; the dashboard rings the bell when a bell-rule raises it */
    uint64_t bells;            /* alerts whose rule asked for the terminal bell */
    char token[128];           /* when set, every message must carry it ("token"), else it is refused */
} tt_store;

void tt_store_init(tt_store *st, size_t level_cap);
void tt_store_free(tt_store *st);
tt_run *tt_store_find(const tt_store *st, const char *run, int rank);
/* Index of a scalar / statistic by name, -1 if absent. */
int tt_run_scalar_index(const tt_run *r, const char *name);
int tt_run_stat_index(const tt_run *r, const char *name);
/* The scalar series by name (NULL if the run never sent it). */
const tt_named_series *tt_run_scalar(const tt_run *r, const char *name);
void tt_run_free(tt_run *r);

#endif
