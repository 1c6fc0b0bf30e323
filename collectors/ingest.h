/* ingest: one probe message decoded and checked completely (proto/), then applied to the store (all or nothing). */
#ifndef TT_INGEST_H
#define TT_INGEST_H

#include <stddef.h>
#include "store.h"
#include "../proto/protocol.h"   /* TT_MSG_MAX_BYTES, tt_msg_type */

typedef struct {
    tt_msg_type type;
    char run[TT_NAME_MAX];     /* "" when the message had no valid run name */
    int rank;
    int unknown_run;           /* a step or end for a run whose run_start was never seen */
    int duplicate;             /* a resent message the run already has (cause "duplicate") */
    int gap;                   /* a message after a missing one (cause "gap"): ask the probe to resend */
    uint64_t seq;              /* its sequence number (0: none, protocol version 1 or run_start) */
    const char *cause;         /* on rejection: a short fixed key for counting ("json", "version", "field", …) */
    uint64_t layer_records;    /* layer rows applied */
} tt_ingest_result;

/* now: the collector's monotonic clock in seconds. Returns 0, or -1 with err = one line naming the run and field. */
int tt_ingest(tt_store *st, const char *msg, size_t len, double now, tt_ingest_result *res, char *err, size_t errlen);

/* Appends a scalar the collector derives itself (e.g. the cross-rank noise scale) to a run's series.
 * Steps must not go back. 0, or -1. */
int tt_run_append_scalar(tt_store *st, tt_run *r, const char *name, int64_t step, double v);

#endif
