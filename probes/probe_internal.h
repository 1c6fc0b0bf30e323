/* probe_internal: struct tt_probe, shared by the probe's own files (probe.c the API, transport.c,
 * schedule.c) and by nothing else. One substruct per concern. */
#ifndef TT_PROBE_INTERNAL_H
#define TT_PROBE_INTERNAL_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "traintop/probe.h"
#include "../proto/encode.h"
#include "../proto/jsonw.h"
#include "../proto/protocol.h"
#include "transport.h"
#include "persample_acc.h"
#include "spectral_worker.h"
#include "budget.h"
#include "sysmetrics.h"

/* schedule.c's state: what the probe publishes beside a step's layer rows, on its own schedule. */
typedef struct {
    int layer, stat;
    double value;
    int64_t step;                       /* TT_ENC_AT_STEP: the step about to be published */
} tt_extra;

struct tt_schedule {
    int spectral_every;                 /* 0: off */
    tt_spectral_worker *spectral;       /* created at the first step when spectral_every > 0 */
    tt_extra *extras;                   /* entries waiting for the next step message */
    size_t nextras, cap_extras;
    tt_psacc ps;                        /* per-sample statistics of the step being built */
    double ps_seconds;                  /* time in the per-sample calls of the step being built */
    int gwa_head;                       /* the classifier head's weight layer (tt_probe_gwa_head), -1: none */
    double ps_covered;                  /* parameters with per-sample statistics in the step being built */
    char opt_kind[16];                  /* the optimizer as last told by tt_probe_optimizer */
    double opt_lr, opt_wd, opt_momentum;
};

/* A registered parameter. */
typedef struct {
    char name[TT_NAME_MAX];
    size_t rows, cols;
    const float *w, *g;
    float *w_prev, *w0;                 /* the probe's own copies */
    int have_prev;
    int external;                       /* statistics computed elsewhere (GPU, torch) and handed in */
    int ext_set;                        /* ext holds this step's statistics */
    double ext[TT_NSTATS];
} tt_probe_layer;

typedef struct {
    char name[TT_NAME_MAX];
    double value;
    int set;
} tt_probe_scalar_slot;

struct tt_probe {
    /* the run, as its messages name it */
    char run[TT_NAME_MAX];
    int rank, world, every;
    tt_enc_sender sender;               /* run, rank and the transport's token, for the encoder */
    /* what the run publishes */
    tt_probe_layer *layers;
    int nlayers;
    tt_probe_scalar_slot scalars[TT_MAX_SCALARS];
    int nscalars;
    cJSON *hparams;
    int started;                        /* run_start has been queued */
    int64_t last_step;
    jsonw w;                            /* the message being built */
    tt_probe_counters c;
    tt_transport tx;                    /* transport.h: sockets, queue, spool, control */
    struct tt_schedule sched;                  /* schedule.h: extras, spectra, per-sample, optimizer */
    /* which steps are sampled (budget.h); steps are counted as published (c.steps) */
    tt_budget budget;
    double prev_end;                    /* when the last tt_probe_step returned (monotonic); 0: none */
    double ext_cost[TT_COST_PARTS];     /* tt_probe_cost since the last step */
    tt_sysmetrics *sys;                 /* sysmetrics.h: CPU, memory, GPUs on their own timer; NULL: off */
};

double tt_probe_now_wall(void);
double tt_probe_now_mono(void);

/* The run_start message into w (the layer table, statistics names, hyperparameters). */
void tt_probe_build_run_start(tt_probe *p, jsonw *w);
/* Hands the probe's writer's message to the transport. */
void tt_probe_send_writer(tt_probe *p);
/* Builds run_start into the probe's writer, queues it and marks the run started. */
void tt_probe_send_run_start(tt_probe *p);

#endif
