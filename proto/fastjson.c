/* fastjson: one pass over the bytes, numbers parsed in place (Clinger's exact fast path: up to 15
 * significant digits and a power of ten ≤ 22 is one correctly rounded multiplication or division;
 * anything longer goes to strtod). No allocation but the reusable value and extra-entry buffers. */
#include "fastjson.h"
#include "names.h"
#include "token.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *p, *end; } cur;

static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                              1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

static void ws(cur *c) { while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++; }

static int lit(cur *c, char ch)
{
    ws(c);
    if (c->p < c->end && *c->p == ch) { c->p++; return 1; }
    return 0;
}

/* A string without escapes: returns its span. */
static int str(cur *c, const char **s, size_t *n)
{
    ws(c);
    if (c->p >= c->end || *c->p != '"') return -1;
    const char *b = ++c->p;
    while (c->p < c->end && *c->p != '"') {
        if (*c->p == '\\' || (unsigned char)*c->p < 0x20) return -1;
        c->p++;
    }
    if (c->p >= c->end) return -1;
    *s = b;
    *n = (size_t)(c->p - b);
    c->p++;
    return 0;
}

static int num(cur *c, double *out)
{
    ws(c);
    const char *b = c->p;
    int neg = 0;
    if (c->p < c->end && *c->p == '-') { neg = 1; c->p++; }
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;   /* JSON numbers start with a digit */
    uint64_t m = 0;
    int digits = 0, exp10 = 0, any = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (digits < 19) { m = m * 10 + (uint64_t)(*c->p - '0'); if (m) digits++; } else exp10++;
        c->p++; any = 1;
    }
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (digits < 19) { m = m * 10 + (uint64_t)(*c->p - '0'); if (m) digits++; exp10--; }
            c->p++; any = 1;
        }
    }
    if (!any) return -1;
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        int eneg = 0, e = 0, edig = 0;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) eneg = *c->p++ == '-';
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') { if (e < 10000) e = e * 10 + (*c->p - '0'); c->p++; edig++; }
        if (!edig) return -1;
        exp10 += eneg ? -e : e;
    }
    if (digits <= 15 && exp10 >= -22 && exp10 <= 22) {
        double v = (double)m;
        v = exp10 >= 0 ? v * p10[exp10] : v / p10[-exp10];
        *out = neg ? -v : v;
        return 0;
    }
    char tmp[64];   /* the rare long number: the exact library conversion */
    size_t n = (size_t)(c->p - b);
    if (n >= sizeof tmp) return -1;
    memcpy(tmp, b, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    return isfinite(*out) ? 0 : -1;
}

/* A metric value: a number or "NaN" / "Inf" / "-Inf". */
static int metric(cur *c, double *out)
{
    ws(c);
    if (c->p < c->end && *c->p == '"') {
        const char *s;
        size_t n;
        if (str(c, &s, &n)) return -1;
        if (n == 3 && !memcmp(s, "NaN", 3)) *out = NAN;
        else if (n == 3 && !memcmp(s, "Inf", 3)) *out = INFINITY;
        else if (n == 4 && !memcmp(s, "-Inf", 4)) *out = -INFINITY;
        else return -1;
        return 0;
    }
    return num(c, out);
}

static int integer(cur *c, int64_t *out)
{
    double d;
    if (num(c, &d) || d != floor(d) || fabs(d) > TT_MAX_STEP) return -1;
    *out = (int64_t)d;
    return 0;
}

static int push_val(tt_fast_step *s, size_t i, double v)
{
    if (i >= s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4096;
        double *nv = realloc(s->vals, cap * sizeof *nv);
        if (!nv) return -1;
        s->vals = nv;
        s->cap = cap;
    }
    s->vals[i] = v;
    return 0;
}

static int layers(cur *c, tt_fast_step *s)
{
    if (!lit(c, '[')) return -1;
    size_t n = 0;
    s->nrows = 0;
    s->row_len = -1;
    if (lit(c, ']')) { s->has_layers = 1; s->row_len = 0; return 0; }
    do {
        if (!lit(c, '[')) return -1;
        int k = 0;
        if (!lit(c, ']')) {
            do {
                double v;
                if (metric(c, &v) || push_val(s, n++, v)) return -1;
                k++;
            } while (lit(c, ','));
            if (!lit(c, ']')) return -1;
        }
        if (s->row_len >= 0 && k != s->row_len) return -1;
        s->row_len = k;
        s->nrows++;
    } while (lit(c, ','));
    if (!lit(c, ']')) return -1;
    s->has_layers = 1;
    return 0;
}

static int push_extra(tt_fast_step *s, const tt_fast_extra *e)
{
    if (s->nextra >= TT_MAX_EXTRAS) return -1;
    if ((size_t)s->nextra == s->extra_cap) {
        size_t cap = s->extra_cap ? 2 * s->extra_cap : 256;
        tt_fast_extra *ne = realloc(s->extra, cap * sizeof *ne);
        if (!ne) return -1;
        s->extra = ne;
        s->extra_cap = cap;
    }
    s->extra[s->nextra++] = *e;
    return 0;
}

/* [[layer, stat, value, step?], ...]: numbers where the general validator wants integers are kept as
 * read, so it and fast_step apply the same checks to the same doubles. */
static int extras(cur *c, tt_fast_step *s)
{
    if (!lit(c, '[')) return -1;
    if (lit(c, ']')) return 0;
    do {
        tt_fast_extra e = { 0 };
        if (!lit(c, '[') || num(c, &e.layer) || !lit(c, ',') || num(c, &e.stat) || !lit(c, ',') || metric(c, &e.value))
            return -1;
        if (lit(c, ',')) {
            if (num(c, &e.step)) return -1;
            e.has_step = 1;
        }
        if (!lit(c, ']') || push_extra(s, &e)) return -1;
    } while (lit(c, ','));
    return lit(c, ']') ? 0 : -1;
}

static int scalars(cur *c, tt_fast_step *s)
{
    if (!lit(c, '{')) return -1;
    if (lit(c, '}')) return 0;
    do {
        if (s->nscalars >= TT_MAX_SCALARS) return -1;
        int i = s->nscalars++;
        if (str(c, &s->scalar_name[i], &s->scalar_len[i]) || !lit(c, ':') || metric(c, &s->scalar[i])) return -1;
    } while (lit(c, ','));
    return lit(c, '}') ? 0 : -1;
}

static int scan(const char *msg, size_t len, tt_fast_step *s)
{
    cur c = { msg, msg + len };
    unsigned seen = 0;                            /* one bit a key: a repeated key goes to the general path */
    s->run = NULL;
    s->token = NULL;
    s->v = -1;
    s->rank = 0;
    s->seq = s->base = 0;
    s->has_time = s->has_layers = 0;
    s->nscalars = 0;
    s->nextra = 0;
    s->nrows = 0;
    if (!lit(&c, '{')) return -1;
    do {
        const char *k;
        size_t kn;
        if (str(&c, &k, &kn) || !lit(&c, ':')) return -1;
#define KEY(s_, bit_) (kn == sizeof s_ - 1 && !memcmp(k, s_, kn) && !(seen & (bit_)) && (seen |= (bit_)))
        if (KEY("v", 1u)) { if (integer(&c, &s->v)) return -1; }
        else if (KEY("type", 2u)) {
            const char *t;
            size_t tn;
            if (str(&c, &t, &tn) || tn != 4 || memcmp(t, "step", 4)) return -1;
        }
        else if (KEY("run", 4u)) { if (str(&c, &s->run, &s->run_len)) return -1; }
        else if (KEY("rank", 8u)) { if (integer(&c, &s->rank)) return -1; }
        else if (KEY("time", 16u)) { if (num(&c, &s->time)) return -1; s->has_time = 1; }
        else if (KEY("step", 32u)) { if (integer(&c, &s->step)) return -1; }
        else if (KEY("scalars", 64u)) { if (scalars(&c, s)) return -1; }
        else if (KEY("layers", 128u)) { if (layers(&c, s)) return -1; }
        else if (KEY("token", 256u)) { if (str(&c, &s->token, &s->token_len)) return -1; }
        else if (KEY("extra", 512u)) { if (extras(&c, s)) return -1; }
        else if (KEY("seq", 1024u)) { if (integer(&c, &s->seq) || s->seq < 1) return -1; }
        else if (KEY("base", 2048u)) { if (integer(&c, &s->base) || s->base < 0) return -1; }
        else return -1;                          /* a repeated key, anything unusual */
#undef KEY
    } while (lit(&c, ','));
    if (!lit(&c, '}')) return -1;
    ws(&c);
    return c.p == c.end && (seen & 47u) == 47u ? 0 : -1;   /* v, type, run, rank and step all present */
}

/* The checks of the general decoder that need no receiver state, on the scanned values. */
static int valid(tt_fast_step *s)
{
    if (s->v < TT_PROTOCOL_MIN_VERSION || s->v > TT_PROTOCOL_VERSION || (s->seq && s->base >= s->seq) || s->rank < 0 || s->rank > TT_MAX_RANK || s->step < 0 || s->run_len == 0 ||
        s->run_len >= TT_NAME_MAX)
        return -1;
    memcpy(s->run_name, s->run, s->run_len);
    s->run_name[s->run_len] = 0;
    if (!tt_run_name_ok(s->run_name)) return -1;
    for (int i = 0; i < s->nscalars; i++) {
        if (s->scalar_len[i] >= TT_NAME_MAX) return -1;
        memcpy(s->scalar_names[i], s->scalar_name[i], s->scalar_len[i]);
        s->scalar_names[i][s->scalar_len[i]] = 0;
        if (!tt_label_ok(s->scalar_names[i])) return -1;
    }
    for (int i = 0; i < s->nextra; i++) {
        const tt_fast_extra *e = &s->extra[i];
        if (!tt_msg_int_in(e->layer, 0, TT_MAX_LAYERS) || !tt_msg_int_in(e->stat, 0, TT_MAX_STATS)) return -1;
        if (e->has_step && !tt_msg_int_in(e->step, 0, (double)s->step)) return -1;
    }
    return 0;
}

int tt_fast_step_scan(const char *msg, size_t len, tt_fast_step *s)
{
    return scan(msg, len, s) || valid(s) ? -1 : 0;
}

int tt_fast_step_fits(const tt_fast_step *s, const char *token, const tt_msg_run *r)
{
    if (token && token[0] && (!s->token || !tt_token_eq(s->token, s->token_len, token)))
        return 0;
    if (s->step <= r->last_step) return 0;
    if (s->has_layers && (s->nrows != r->nlayers || (r->nlayers && s->row_len != r->row_stats))) return 0;
    for (int i = 0; i < s->nextra; i++) {
        const tt_fast_extra *e = &s->extra[i];
        int li = (int)e->layer, k = (int)e->stat;
        if (li >= r->nlayers || k >= r->nstats) return 0;
        if ((e->has_step ? (int64_t)e->step : s->step) < r->last_at(r->ctx, li, k)) return 0;
    }
    return 1;
}
