/* fastjson: a scanner for the hot message — a probe's `step` — that skips the general JSON DOM. It
 * accepts only the plain shape (no escapes, no extra entries, no unknown keys); anything else returns
 * -1 and the caller uses the general validator, which also writes the error messages. */
#ifndef TT_FASTJSON_H
#define TT_FASTJSON_H

#include <stddef.h>
#include <stdint.h>

#define TT_FAST_MAX_SCALARS 64

typedef struct {
    const char *run;           /* points into the message, not NUL-terminated */
    size_t run_len;
    const char *token;         /* NULL when the message has none */
    size_t token_len;
    int64_t v, rank, step;
    int has_time;
    double time;
    int nscalars;
    const char *scalar_name[TT_FAST_MAX_SCALARS];
    size_t scalar_len[TT_FAST_MAX_SCALARS];
    double scalar[TT_FAST_MAX_SCALARS];
    int has_layers;
    int nrows;                 /* layer rows */
    int row_len;               /* values per row (all rows must agree, else -1) */
    double *vals;              /* nrows × row_len, owned by the caller's buffer below */
    size_t cap;                /* capacity of vals (grown with realloc) */
} tt_fast_step;

/* Scans msg into s (reusing s->vals). Returns 0 when msg is a plain step message, -1 otherwise. */
int tt_fast_step_scan(const char *msg, size_t len, tt_fast_step *s);

#endif
