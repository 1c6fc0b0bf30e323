/* jsonw: an append-only JSON writer into a growable buffer; non-finite numbers become "NaN"/"Inf"/"-Inf". */
#ifndef TT_JSONW_H
#define TT_JSONW_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;        /* an allocation failed: the text is incomplete and must not be sent */
} jsonw;

void jw_init(jsonw *w);
void jw_free(jsonw *w);
void jw_reset(jsonw *w);
void jw_raw(jsonw *w, const char *s);
void jw_str(jsonw *w, const char *s);          /* quoted and escaped */
void jw_num(jsonw *w, double v);                /* as %.10g, or a string for NaN/Inf */
void jw_float(jsonw *w, float v);               /* as %.9g (a float comes back exactly), or a string */
void jw_int(jsonw *w, int64_t v);
void jw_time(jsonw *w, double t);             /* seconds since the epoch, to the microsecond */
void jw_key(jsonw *w, const char *k);          /* "k": with a comma before it when needed */
void jw_sep(jsonw *w);                         /* a comma unless just after '[' '{' or ':' */
/* Gives the buffer away (NUL-terminated) and leaves w empty; NULL if the writer failed. */
char *jw_take(jsonw *w, size_t *len);

#endif
