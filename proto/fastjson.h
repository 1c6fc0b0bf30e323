/* fastjson: a scanner for the hot message — a probe's `step` — that skips the general JSON DOM. It
 * accepts only the plain shape (no escapes, no unknown or repeated keys, numbers as numbers); anything
 * else returns -1 and the caller uses the general validator, which also writes the error messages. */
#ifndef TT_FASTJSON_H
#define TT_FASTJSON_H

#include <stddef.h>
#include <stdint.h>

#define TT_FAST_MAX_SCALARS 64
#define TT_FAST_MAX_EXTRA 65536     /* the protocol's limit: more goes to the general path, which says so */

/* An extra entry [layer, stat, value, step?] as written: indices and step still to be range-checked. */
typedef struct {
    double layer, stat, value;
    int has_step;              /* else the message's step */
    double step;
} tt_fast_extra;

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
    int nextra;
    tt_fast_extra *extra;      /* nextra entries, owned like vals */
    size_t extra_cap;
} tt_fast_step;

/* Scans msg into s (reusing s->vals). Returns 0 when msg is a plain step message, -1 otherwise. */
int tt_fast_step_scan(const char *msg, size_t len, tt_fast_step *s);

#endif
