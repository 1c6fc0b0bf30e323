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

/* Numbers without snprintf, which costs ~0.4 us a number and dominated the probe's step time and the
 * history reply. The text is exactly printf's %.Ng: N digits come from one scaling by a power of ten
 * (at most two roundings, relative error < 3e-16); when that error could flip the last digit (the
 * scaled value is that close to a half) or the value is outside the table, printf itself writes it. */
static const double pow10_tab[] = {
    1e-64, 1e-63, 1e-62, 1e-61, 1e-60, 1e-59, 1e-58, 1e-57, 1e-56, 1e-55,
    1e-54, 1e-53, 1e-52, 1e-51, 1e-50, 1e-49, 1e-48, 1e-47, 1e-46, 1e-45,
    1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39, 1e-38, 1e-37, 1e-36, 1e-35,
    1e-34, 1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25,
    1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15,
    1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5,
    1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5,
    1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25,
    1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35,
    1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45,
    1e46, 1e47, 1e48, 1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55,
    1e56, 1e57, 1e58, 1e59, 1e60, 1e61, 1e62, 1e63, 1e64 };
#define POW10_MIN (-64)
#define POW10_MAX 64
static double pow10_at(int k) { return pow10_tab[k - POW10_MIN]; }

/* floor(e · log10 2) for |e| < 1650, in integers (78913 / 2^18 ≈ log10 2). */
static int floor_log10_pow2(int e)
{
    return e >= 0 ? (int)(((int64_t)e * 78913) >> 18) : -(int)((((int64_t)-e * 78913) + (1 << 18) - 1) >> 18);
}

/* v · 10^k with one rounding where the power is exact (|k| ≤ 22), two otherwise. */
static double scale10(double v, int k)
{
    if (k >= 0) return v * pow10_at(k);
    return k >= -22 ? v / pow10_at(-k) : v * pow10_at(k);
}

/* The prec (≤ 17) significant digits of v > 0 rounded to nearest, and its decimal exponent; -1 when
 * the fast path cannot be sure of the last digit. */
static int digits_of(double v, int prec, uint64_t *digits, int *exp10)
{
    if (!(v >= 1e-50 && v < 1e50)) return -1;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int e = floor_log10_pow2((int)((bits >> 52) & 0x7ff) - 1023);
    if (v >= pow10_at(e + 1)) e++;
    const double lo = pow10_at(prec - 1), hi = pow10_at(prec);
    double x = scale10(v, prec - 1 - e);
    if (x >= hi) x = scale10(v, prec - 1 - ++e);        /* the table comparison was off by an ulp */
    else if (x < lo) x = scale10(v, prec - 1 - --e);
    uint64_t xi = (uint64_t)x;
    double frac = x - (double)xi;                       /* exact: x < 2^53 */
    if (fabs(frac - 0.5) <= x * 1e-15) return -1;       /* too close to a tie for the scaling error */
    xi += frac > 0.5;
    if ((double)xi >= hi) { xi /= 10; e++; }            /* 9.99…95 rounded up to 10.0…0 */
    *digits = xi;
    *exp10 = e;
    return 0;
}

/* Writes digits (prec of them, the first non-zero) at exponent e as %g does. */
static char *format_g(char *p, uint64_t digits, int prec, int e)
{
    char d[20];
    for (int i = prec - 1; i >= 0; i--) { d[i] = (char)('0' + digits % 10); digits /= 10; }
    int last = prec - 1;
    while (last > 0 && d[last] == '0') last--;
    if (e < -4 || e >= prec) {
        *p++ = d[0];
        if (last > 0) { *p++ = '.'; memcpy(p, d + 1, (size_t)last); p += last; }
        *p++ = 'e';
        *p++ = e < 0 ? '-' : '+';
        int a = e < 0 ? -e : e;
        if (a >= 100) *p++ = (char)('0' + a / 100);
        *p++ = (char)('0' + a / 10 % 10);
        *p++ = (char)('0' + a % 10);
    } else if (e >= 0) {
        memcpy(p, d, (size_t)e + 1); p += e + 1;
        if (last > e) { *p++ = '.'; memcpy(p, d + e + 1, (size_t)(last - e)); p += last - e; }
    } else {
        *p++ = '0'; *p++ = '.';
        for (int i = 0; i < -e - 1; i++) *p++ = '0';
        memcpy(p, d, (size_t)last + 1); p += last + 1;
    }
    return p;
}

static void put_g(jsonw *w, double v, int prec)
{
    if (isnan(v)) { jw_str(w, "NaN"); return; }
    if (isinf(v)) { jw_str(w, v > 0 ? "Inf" : "-Inf"); return; }
    char tmp[40], *p = tmp;
    if (signbit(v)) *p++ = '-';
    double a = fabs(v);
    uint64_t digits;
    int e;
    if (a == 0) *p++ = '0';
    else if (digits_of(a, prec, &digits, &e) == 0) p = format_g(p, digits, prec, e);
    else p = tmp + snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    put(w, tmp, (size_t)(p - tmp));
}

void jw_num(jsonw *w, double v) { put_g(w, v, 10); }

/* 9 digits: the fewest that bring every float back exactly (FLT_DECIMAL_DIG). */
void jw_float(jsonw *w, float v) { put_g(w, (double)v, 9); }

void jw_int(jsonw *w, int64_t v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;    /* INT64_MIN too */
    do { *--p = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) *--p = '-';
    put(w, p, (size_t)(tmp + sizeof tmp - p));
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

/* Seconds with 6 decimals, printf's "%lld.%06lld" of the whole microseconds — without printf, which
 * was a tenth of the probe's cost of an unsampled step. */
void jw_time(jsonw *w, double t)
{
    int64_t us = (int64_t)llround(t * 1e6);
    uint64_t u = us < 0 ? 0 - (uint64_t)us : (uint64_t)us;
    char tmp[32], *p = tmp + sizeof tmp;
    for (int i = 0; i < 6; i++) { *--p = (char)('0' + u % 10); u /= 10; }
    *--p = '.';
    do { *--p = (char)('0' + u % 10); u /= 10; } while (u);
    if (us < 0) *--p = '-';
    put(w, p, (size_t)(tmp + sizeof tmp - p));
}
