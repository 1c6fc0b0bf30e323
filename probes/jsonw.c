/* jsonw: small, allocation-checked JSON text building for the probe's hot path (no DOM). */
#include "jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(jsonw *w) { memset(w, 0, sizeof *w); }
void jw_free(jsonw *w) { free(w->buf); jw_init(w); }
void jw_reset(jsonw *w) { w->len = 0; w->failed = 0; if (w->buf) w->buf[0] = 0; }

static int reserve(jsonw *w, size_t extra)
{
    if (w->failed) return -1;
    if (w->len + extra + 1 <= w->cap) return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + extra + 1) cap *= 2;
    char *nb = realloc(w->buf, cap);
    if (!nb) { w->failed = 1; return -1; }
    w->buf = nb;
    w->cap = cap;
    return 0;
}

static void put(jsonw *w, const char *s, size_t n)
{
    if (reserve(w, n)) return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

void jw_raw(jsonw *w, const char *s) { put(w, s, strlen(s)); }

void jw_sep(jsonw *w)
{
    if (w->len == 0) return;
    char c = w->buf[w->len - 1];
    if (c != '[' && c != '{' && c != ':') put(w, ",", 1);
}

void jw_str(jsonw *w, const char *s)
{
    put(w, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') { esc[0] = '\\'; esc[1] = (char)*p; put(w, esc, 2); }
        else if (*p == '\n') put(w, "\\n", 2);
        else if (*p == '\t') put(w, "\\t", 2);
        else if (*p < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", *p); put(w, esc, 6); }
        else put(w, (const char *)p, 1);
    }
    put(w, "\"", 1);
}

void jw_num(jsonw *w, double v)
{
    if (isnan(v)) { jw_str(w, "NaN"); return; }
    if (isinf(v)) { jw_str(w, v > 0 ? "Inf" : "-Inf"); return; }
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%.10g", v);
    put(w, tmp, (size_t)n);
}

void jw_int(jsonw *w, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    put(w, tmp, (size_t)n);
}

void jw_key(jsonw *w, const char *k)
{
    jw_sep(w);
    jw_str(w, k);
    put(w, ":", 1);
}

char *jw_take(jsonw *w, size_t *len)
{
    if (w->failed || !w->buf) { jw_free(w); return NULL; }
    char *b = w->buf;
    if (len) *len = w->len;
    jw_init(w);
    return b;
}
