/* decode: the general decoder — one probe message parsed (cJSON) and checked field by field against
 * docs/protocol.md, into plain values. Each rejection is one line naming the run, the field and what was
 * expected. What depends on the receiver's state (the run's declared tables, its last step) is asked of
 * the caller through tt_msg_run; the fast path for plain step messages is fastjson.h. */
#ifndef TT_DECODE_H
#define TT_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "protocol.h"

typedef struct {
    cJSON *doc;                /* the parsed message (owned: tt_msg_free) */
    tt_msg_type type;
    char run[TT_NAME_MAX];     /* "" until a valid run name was read */
    int rank;
    double time;               /* the sender's clock, seconds since the epoch; 0 when it sent none */
    int v;                     /* the protocol version it was written in */
    uint64_t seq, base;        /* version 2: its sequence number and the sender's base (0: none) */
    const char *cause;         /* on rejection: a short fixed key ("json", "version", "field", …) */
    void *owned;               /* the decoded tables below (tt_msg_free) */
} tt_msg;

/* Parses msg and checks what every message has: its size, v, the token (when `token` is not empty, the
 * receiver requires it), run, rank and type. 0, or -1 with m->cause and err; tt_msg_free either way. */
int tt_msg_decode(tt_msg *m, const char *msg, size_t len, const char *token, char *err, size_t errlen);
void tt_msg_free(tt_msg *m);

/* A rejection of m as its one line "run 'R' rank N: <why>" (control characters replaced, so a log stays
 * one line per rejection whatever the sender wrote). Sets m->cause; returns -1. */
int tt_msg_reject(tt_msg *m, const char *cause, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- run_start ---- */
typedef struct {
    const char *name;
    int64_t rows, cols;
} tt_msg_layer;

typedef struct {
    int world, every;          /* every: 1 when absent */
    int64_t pid;               /* 0 when absent */
    const char *host;          /* "" when absent */
    const cJSON *hparams;      /* an object, or NULL when absent */
    int nstats, row_stats;     /* row_stats: nstats when absent */
    const char *stats[TT_MAX_STATS];   /* unique names */
    int nlayers;
    const tt_msg_layer *layers;        /* unique names */
    double steps_per_s;        /* history replies: the collector's rate for the run (0 when absent) */
} tt_msg_run_start;

int tt_msg_decode_run_start(tt_msg *m, tt_msg_run_start *out, char *err, size_t errlen);

/* ---- step ---- */

/* What a run declared (run_start) and has accepted, which its steps are checked against. */
typedef struct {
    int nlayers, nstats, row_stats;
    int64_t last_step;                       /* -1 before the first */
    const void *ctx;
    const char *(*layer_name)(const void *ctx, int layer);
    const char *(*stat_name)(const void *ctx, int stat);
    int64_t (*last_at)(const void *ctx, int layer, int stat);  /* the latest step of (layer, stat), -1: none */
} tt_msg_run;

typedef struct {
    int layer, stat;
    double value;
    int64_t step;              /* the step it describes (the message's when it names none) */
} tt_msg_extra;

typedef struct {
    int64_t step;
    int nscalars;
    const char *scalar_name[TT_MAX_SCALARS];
    double scalar[TT_MAX_SCALARS];
    int has_rows;              /* run->nlayers rows of run->row_stats values follow */
    const double *rows;
    int nextra;
    const tt_msg_extra *extra; /* in message order */
} tt_msg_step;

int tt_msg_decode_step(tt_msg *m, const tt_msg_run *run, tt_msg_step *out, char *err, size_t errlen);

/* ---- run_end ---- */
typedef struct {
    int64_t step;
    const char *status;        /* "finished", "stopped" or "failed" */
    uint64_t dropped;          /* 0 when absent */
    uint64_t spooled;          /* 0 when absent */
    int has_steps;             /* the probe said how many step messages it made */
    uint64_t steps;
    double steps_per_s;        /* history replies: the collector's rate for the run (0 when absent) */
} tt_msg_run_end;

int tt_msg_decode_run_end(tt_msg *m, tt_msg_run_end *out, char *err, size_t errlen);

/* An integral number in [lo, hi] (finite bounds, so Inf and NaN fail): the test both decoders apply. */
int tt_msg_int_in(double d, double lo, double hi);

#endif
