/* fastjson: the fast decoder for the hot message — a probe's `step` — that skips the general JSON DOM.
 * It accepts only the plain shape (no escapes, no unknown or repeated keys, numbers as numbers) and makes
 * every check of the general decoder (decode.h); anything else returns -1 and the caller uses the general
 * decoder, which also writes the error messages. */
#ifndef TT_FASTJSON_H
#define TT_FASTJSON_H

#include <stddef.h>
#include <stdint.h>
#include "decode.h"
#include "protocol.h"

/* An extra entry [layer, stat, value, step?] as written: indices and step still to be range-checked. */
typedef struct {
    double layer, stat, value;
    int has_step;              /* else the message's step */
    double step;
} tt_fast_extra;

typedef struct {
    const char *run;           /* points into the message, not NUL-terminated */
    size_t run_len;
    char run_name[TT_NAME_MAX];/* the same, checked and NUL-terminated */
    const char *token;         /* NULL when the message has none */
    size_t token_len;
    int64_t v, rank, step;
    int64_t seq, base;         /* 0 when absent */
    int has_time;
    double time;
    int nscalars;
    const char *scalar_name[TT_MAX_SCALARS];
    size_t scalar_len[TT_MAX_SCALARS];
    char scalar_names[TT_MAX_SCALARS][TT_NAME_MAX];   /* the names, checked and NUL-terminated */
    double scalar[TT_MAX_SCALARS];
    int has_layers;
    int nrows;                 /* layer rows */
    int row_len;               /* values per row (all rows must agree, else -1) */
    double *vals;              /* nrows × row_len, owned by the caller's buffer below */
    size_t cap;                /* capacity of vals (grown with realloc) */
    int nextra;
    tt_fast_extra *extra;      /* nextra entries, owned like vals */
    size_t extra_cap;
} tt_fast_step;

/* Scans msg into s (reusing s->vals) and checks what needs no receiver state (version, run and scalar
 * names, ranges). Returns 0 when msg is a plain, valid step message, -1 otherwise. */
int tt_fast_step_scan(const char *msg, size_t len, tt_fast_step *s);

/* The rest of the general decoder's checks, against the receiver's token ("" or NULL: none required) and
 * the run the message names. 1 when the scanned step passes them all, 0 otherwise. */
int tt_fast_step_fits(const tt_fast_step *s, const char *token, const tt_msg_run *run);

#endif
