/* encode: a probe's messages (docs/protocol.md) written as protocol text into a jsonw, piece by piece
 * so the caller streams its own tables in without building them first. */
#ifndef TT_ENCODE_H
#define TT_ENCODE_H

#include <stddef.h>
#include <stdint.h>
#include "jsonw.h"
#include "protocol.h"

/* Who sends: the fields every probe message starts with. */
typedef struct {
    const char *run;
    int rank;
    const char *token;         /* NULL or "": none */
    uint64_t seq;              /* this message's sequence number (steps and run_end; 0: none) */
    uint64_t base;             /* every message with seq <= base is acknowledged, spooled or dropped (0: none) */
} tt_enc_sender;

#define TT_ENC_AT_STEP INT64_MIN   /* an extra entry for the message's own step (no at_step written) */

/* Appends the opening of a message to w: {"v", "type", "run", "rank", "seq"?, "base"?, "time"?, "token"?. time: the
 * sender's wall clock, or 0 for none (the collector's history replays have no clock of their own). */
void tt_enc_open(jsonw *w, const tt_enc_sender *s, tt_msg_type type, double time);
/* The same into an emptied w. */
void tt_enc_header(jsonw *w, const tt_enc_sender *s, tt_msg_type type, double time);

/* run_start: the header's fields, then the run's, the statistic names (tt_stat_names, TT_NSTATS of them
 * as rows) and an open layer table; add each layer, then close. hparams_json: an object's text or NULL. */
void tt_enc_run_start_begin(jsonw *w, const tt_enc_sender *s, double time, int world, int64_t pid,
                            const char *host, int every, const char *hparams_json);
void tt_enc_run_start_layer(jsonw *w, const char *name, size_t rows, size_t cols);
void tt_enc_run_start_end(jsonw *w);

/* step: begin, then optionally rows (begin, one row of TT_NSTATS values per layer in table order, end),
 * extra entries (begin, entries, end), scalars (begin, each, end) — in this order — then end. */
void tt_enc_step_begin(jsonw *w, const tt_enc_sender *s, double time, int64_t step);
void tt_enc_rows_begin(jsonw *w);
void tt_enc_row(jsonw *w, const double stats[TT_NSTATS]);
void tt_enc_rows_end(jsonw *w);
void tt_enc_extras_begin(jsonw *w);
void tt_enc_extra(jsonw *w, int layer, int stat, double value, int64_t at_step);
void tt_enc_extras_end(jsonw *w);
void tt_enc_scalars_begin(jsonw *w);
void tt_enc_scalar(jsonw *w, const char *name, double value);
void tt_enc_scalars_end(jsonw *w);
void tt_enc_step_end(jsonw *w);

/* run_end: the whole message. status: "finished", "stopped" or "failed". */
/* steps: step messages the probe made (the collector compares them with what it has); sent, dropped and
 * spooled: the transport's counters. */
void tt_enc_run_end(jsonw *w, const tt_enc_sender *s, double time, int64_t step, const char *status,
                    uint64_t steps, uint64_t sent, uint64_t dropped, uint64_t spooled);

#endif
