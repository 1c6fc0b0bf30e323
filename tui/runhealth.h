/* runhealth: the health of the runs the display shows — collectors/health's judgement of each run, read
 * through the model (live, or the pause's copies), kept per run and judged again at most twice a second
 * while the run moves — and the problems, worst first, that the header sums up and `!` visits. */
#ifndef TUI_RUNHEALTH_H
#define TUI_RUNHEALTH_H

#include <stdint.h>
#include "../collectors/health.h"
#include "model.h"

typedef struct {
    char name[128];            /* the run's identity (pointers can be reused after a run is freed) */
    int rank;
    const tt_run *run;
    int64_t step, layer_step;  /* what it was judged on */
    int paused;
    double at;                 /* when (the frame clock) */
    tt_health_learning learn;
    unsigned *flags;           /* per layer (nlayers of them) */
    int nflags, cap;     /* flags held (the layers judged) and allocated */
    int bad_layers, nan_layers;
    int worst_layer;           /* -1: none */
    int64_t seen_step;         /* the latest step this display saw, and when it first saw it */
    double seen_at;
} tui_run_health;

typedef struct tui_health_s {
    tui_run_health *runs;
    int n, cap;
    double now;                /* the frame clock, set by the core each frame */
    int replay;                /* a recording: staleness is not judged */
    double *scratch;           /* 2 × layers */
    const double **rows;
    int scratch_cap;
} tui_health;

#define TUI_HEALTH_PERIOD 0.5  /* seconds between two judgements of a moving run */

void tui_health_init(tui_health *h);
void tui_health_free(tui_health *h);
/* Run r's health (judged now if it is new, moved, or the pause changed); never NULL. */
const tui_run_health *tui_health_of(tui_health *h, tui_model *m, const tt_run *r);
/* Seconds since the display last saw run r's step move (NaN while paused, or before the first frame). */
double tui_health_idle(tui_health *h, tui_model *m, const tt_run *r);
/* Whether a running run is stale: no new step for TUI_STALE_SECONDS, or for 5 of its own steps when
 * they are slower (a frozen link, a hung trainer), before the collector calls it stalled. */
int tui_health_stale(tui_health *h, tui_model *m, const tt_run *r);
#define TUI_STALE_SECONDS 10.0
/* A layer's flags (0 when unknown). */
unsigned tui_health_layer(tui_health *h, tui_model *m, const tt_run *r, int layer);

/* A problem worth a look: a run's learning state, or a sick layer. */
typedef struct {
    const tt_run *run;
    int layer;                 /* -1: the run's learning */
    int score;                 /* larger is worse */
} tui_problem;
/* The problems of the given runs (store indexes), worst first; at most max. Returns the count. */
int tui_health_problems(tui_health *h, tui_model *m, const int *idx, int n, tui_problem *out, int max);
/* The role (theme) of a learning state, and of a layer's flags. */
int tui_health_role(tt_learn_state s);
int tui_health_layer_role(unsigned flags);

#endif
