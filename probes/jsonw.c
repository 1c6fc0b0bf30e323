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

/* 10 significant digits without snprintf, which costs ~0.4 us a number and dominated the probe's
 * per-step time. Scaling by a power of ten in double adds at most a few ulps: far below 1e-10. */
static const double pow10_pos[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
                                    1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

static double pow10i(int e)
{
    if (e >= 0 && e <= 22) return pow10_pos[e];
    if (e < 0 && e >= -22) return 1.0 / pow10_pos[-e];
    return pow(10.0, e);
}

void jw_num(jsonw *w, double v)
{
    if (isnan(v)) { jw_str(w, "NaN"); return; }
    if (isinf(v)) { jw_str(w, v > 0 ? "Inf" : "-Inf"); return; }
    char tmp[32], *p = tmp;
    if (v == 0) { put(w, "0", 1); return; }
    if (v < 0) { *p++ = '-'; v = -v; }
    if (v < 1e-300 || v > 1e300) {       /* subnormal or near overflow: the slow, exact path */
        int n = snprintf(p, sizeof tmp - 1, "%.10g", v);
        put(w, tmp, (size_t)(p - tmp) + (size_t)n);
        return;
    }
    int e = (int)floor(log10(v));
    double m = e >= 0 ? v / pow10i(e) : v * pow10i(-e);
    uint64_t digits = (uint64_t)llround(m * 1e9);          /* d.ddddddddd as an integer */
    if (digits >= 10000000000ull) { digits = (digits + 5) / 10; e++; }
    else if (digits < 1000000000ull) { digits = (uint64_t)llround(m * 1e10); e--; }
    char d[10];
    for (int i = 9; i >= 0; i--) { d[i] = (char)('0' + digits % 10); digits /= 10; }
    int last = 9;
    while (last > 0 && d[last] == '0') last--;
    if (e >= 0 && e <= 9 && last <= e) {                   /* an integer that fits: no exponent */
        for (int i = 0; i <= e; i++) *p++ = d[i];
    } else {
        *p++ = d[0];
        if (last > 0) { *p++ = '.'; for (int i = 1; i <= last; i++) *p++ = d[i]; }
        if (e) {
            *p++ = 'e';
            if (e < 0) { *p++ = '-'; e = -e; }
            if (e >= 100) *p++ = (char)('0' + e / 100);
            if (e >= 10) *p++ = (char)('0' + e / 10 % 10);
            *p++ = (char)('0' + e % 10);
        }
    }
    put(w, tmp, (size_t)(p - tmp));
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

void jw_time(jsonw *w, double t)
{
    char tmp[40];
    int64_t us = (int64_t)llround(t * 1e6);
    int n = snprintf(tmp, sizeof tmp, "%lld.%06lld", (long long)(us / 1000000), (long long)(us % 1000000));
    put(w, tmp, (size_t)n);
}
