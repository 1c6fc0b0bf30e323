/* tt_cuda_host: plan, sampling and timing arithmetic of the GPU backend; no CUDA needed. */
#include "tt_cuda_host.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t ttc_dtype_size(int dtype)
{
    switch (dtype) {
    case 0: return 4;
    case 1: case 2: return 2;
    default: return 0;
    }
}

const char *ttc_dtype_name(int dtype)
{
    switch (dtype) {
    case 0: return "fp32";
    case 1: return "fp16";
    case 2: return "bf16";
    default: return "unknown";
    }
}

static int aligned16(const void *p)
{
    return ((uintptr_t)p & 15u) == 0;
}

void ttc_layer_shape(ttc_layer *l, size_t rows, size_t cols)
{
    l->n = (uint64_t)rows * cols;
    if (cols == 1 || rows == 1) { l->rows = 1; l->cols = l->n; }
    else { l->rows = rows; l->cols = cols; }
    l->vec = aligned16(l->w) && aligned16(l->g) && aligned16(l->prev) && aligned16(l->w0) &&
             (l->rows == 1 || l->cols % TTC_VEC == 0);
}

uint32_t ttc_item_elems(uint64_t total, int sm_count)
{
    if (sm_count < 1) sm_count = 1;
    uint64_t want = total / ((uint64_t)sm_count * TTC_ITEMS_PER_SM);
    uint32_t e = TTC_ITEM_MIN;
    while (e < TTC_ITEM_MAX && (uint64_t)e * 2 <= want) e *= 2;
    return e;
}

static uint32_t pow2_at_least(uint64_t x, uint32_t cap)
{
    uint32_t p = 1;
    while (p < x && p < cap) p *= 2;
    return p;
}

size_t ttc_plan(ttc_layer *layers, int nlayers, uint32_t item_elems, ttc_item *items)
{
    size_t k = 0;
    if (item_elems < TTC_VEC) item_elems = TTC_VEC;
    for (int li = 0; li < nlayers; li++) {
        ttc_layer *l = &layers[li];
        l->item0 = (uint32_t)k;
        if (l->cols > TTC_ROWS_MAX_COLS) {
            /* piece mode: each row in P pieces of a multiple of TTC_VEC entries */
            uint64_t P = (l->cols + item_elems - 1) / item_elems;
            uint64_t len = (l->cols + P - 1) / P;
            len = (len + TTC_VEC - 1) / TTC_VEC * TTC_VEC;
            P = (l->cols + len - 1) / len;
            l->pieces = (uint32_t)P;
            l->piece_len = (uint32_t)len;
            l->group = 0;
            for (uint64_t r = 0; r < l->rows; r++)
                for (uint64_t p = 0; p < P; p++) {
                    uint64_t c0 = p * len, n = l->cols - c0 < len ? l->cols - c0 : len;
                    if (items) items[k] = (ttc_item){ .e0 = r * l->cols + c0, .n = (uint32_t)n, .layer = (uint32_t)li };
                    k++;
                }
        } else {
            /* rows mode: whole rows, a group of lanes per row */
            uint64_t per = item_elems / l->cols;
            if (per < 1) per = 1;
            uint64_t units = l->vec ? (l->cols + TTC_VEC - 1) / TTC_VEC : l->cols;
            l->pieces = 0;
            l->piece_len = 0;
            l->group = pow2_at_least(units, 32);
            for (uint64_t r = 0; r < l->rows; r += per) {
                uint64_t nr = l->rows - r < per ? l->rows - r : per;
                if (items) items[k] = (ttc_item){ .e0 = r * l->cols, .n = (uint32_t)(nr * l->cols), .layer = (uint32_t)li };
                k++;
            }
        }
        l->nitems = (uint32_t)(k - l->item0);
    }
    return k;
}

ttc_step_plan ttc_step_decide(int64_t step, int every, int *have_prev)
{
    if (every < 1) every = 1;
    ttc_step_plan s;
    s.sampled = step % every == 0;
    s.refresh = (step + 1) % every == 0;
    s.have_prev = *have_prev;
    /* as tt_probe_step: after a sampled step W_prev is valid only if it was refreshed in the pass;
     * a step that only refreshes makes it valid */
    if (s.sampled) *have_prev = s.refresh;
    else if (s.refresh) *have_prev = 1;
    return s;
}

void ttc_timing_init(ttc_timing *t)
{
    memset(t, 0, sizeof *t);
}

void ttc_timing_free(ttc_timing *t)
{
    free(t->k);
    free(t->ours);
    memset(t, 0, sizeof *t);
}

void ttc_timing_add_ours(ttc_timing *t, uint32_t corr)
{
    if (t->nours == t->capours) {
        size_t cap = t->capours ? 2 * t->capours : 256;
        uint32_t *o = realloc(t->ours, cap * sizeof *o);
        if (!o) { t->dropped++; return; }
        t->ours = o;
        t->capours = cap;
    }
    t->ours[t->nours++] = corr;
}

void ttc_timing_add_kernel(ttc_timing *t, uint64_t start, uint64_t end, uint32_t corr)
{
    if (end < start) return;
    if (t->nk == t->capk) {
        size_t cap = t->capk ? 2 * t->capk : 1024;
        ttc_kernel_rec *k = realloc(t->k, cap * sizeof *k);
        if (!k) { t->dropped++; return; }
        t->k = k;
        t->capk = cap;
    }
    t->k[t->nk++] = (ttc_kernel_rec){ start, end, corr };
}

static int cmp_start(const void *a, const void *b)
{
    const ttc_kernel_rec *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t ttc_union_ns(ttc_kernel_rec *k, size_t n)
{
    if (!n) return 0;
    qsort(k, n, sizeof *k, cmp_start);
    uint64_t total = 0, s = k[0].start, e = k[0].end;
    for (size_t i = 1; i < n; i++) {
        if (k[i].start > e) { total += e - s; s = k[i].start; e = k[i].end; }
        else if (k[i].end > e) e = k[i].end;
    }
    return total + (e - s);
}

void ttc_timing_step(ttc_timing *t, double *busy_ms, double *probe_ms, int *kernels)
{
    size_t n = t->nk;
    qsort(t->ours, t->nours, sizeof *t->ours, cmp_u32);
    /* ours first (a stable partition by membership), then the union of each part */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = t->k[i].corr;
        if (t->nours && bsearch(&c, t->ours, t->nours, sizeof c, cmp_u32)) {
            ttc_kernel_rec x = t->k[m]; t->k[m] = t->k[i]; t->k[i] = x;
            m++;
        }
    }
    uint64_t probe = ttc_union_ns(t->k, m);
    uint64_t busy = ttc_union_ns(t->k, n);
    if (busy_ms) *busy_ms = (double)busy * 1e-6;
    if (probe_ms) *probe_ms = (double)probe * 1e-6;
    if (kernels) *kernels = (int)n;
    t->nk = 0;
    /* keep the ids tagged during the step that just ended (after sorting, the newest are not at the
     * end: keep everything tagged after the previous step end, i.e. drop the older generation) */
    if (t->ours_prev) {
        /* ids of the older generation are the smallest (correlation ids only grow) */
        size_t keep = t->nours - t->ours_prev;
        memmove(t->ours, t->ours + t->ours_prev, keep * sizeof *t->ours);
        t->nours = keep;
    }
    t->ours_prev = t->nours;
}

void ttc_timing_per_step(int steps, double *busy_ms, double *probe_ms, int *kernels)
{
    if (steps <= 1) return;
    *busy_ms /= steps;
    *probe_ms /= steps;
    if (*kernels >= 0) *kernels = (*kernels + steps / 2) / steps;   /* -1: not counted (event timing) */
}

/* IEEE binary16 */
float ttc_h2f(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float f;
    if (exp == 0) {
        f = ldexpf((float)man, -24);                 /* zero or subnormal */
        return sign ? -f : f;
    }
    uint32_t bits;
    if (exp == 31) bits = sign | 0x7f800000u | (man << 13);          /* Inf/NaN */
    else bits = sign | ((exp + 112) << 23) | (man << 13);
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t ttc_f2h(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | (ax > 0x7f800000u ? 0x7e00 : 0x7c00);
    float a = fabsf(f);
    if (a >= 65520.0f) return sign | 0x7c00;                          /* rounds to Inf */
    if (a < 6.103515625e-05f) {                                       /* subnormal half */
        float q = a * 16777216.0f;                                    /* units of 2^-24 */
        float r = nearbyintf(q);                                      /* ties to even */
        return sign | (uint16_t)r;
    }
    int e;
    float m = frexpf(a, &e);                                          /* a = m·2^e, m in [0.5, 1) */
    float q = nearbyintf(m * 2048.0f);                                /* 11 significant bits */
    if (q >= 2048.0f) { q /= 2; e++; }
    uint32_t exp = (uint32_t)(e - 1 + 15);
    if (exp >= 31) return sign | 0x7c00;
    return sign | (uint16_t)(exp << 10) | (uint16_t)((uint32_t)q & 0x3ff);
}

float ttc_bf2f(uint16_t b)
{
    uint32_t x = (uint32_t)b << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t ttc_f2bf(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);   /* quiet NaN */
    x += 0x7fffu + ((x >> 16) & 1);                                   /* round to nearest even */
    return (uint16_t)(x >> 16);
}

void ttc_to_float(int dtype, const void *src, float *dst, size_t n)
{
    if (dtype == 0) { memcpy(dst, src, n * 4); return; }
    const uint16_t *s = src;
    for (size_t i = 0; i < n; i++) dst[i] = dtype == 1 ? ttc_h2f(s[i]) : ttc_bf2f(s[i]);
}

void ttc_from_float(int dtype, const float *src, void *dst, size_t n)
{
    if (dtype == 0) { memcpy(dst, src, n * 4); return; }
    uint16_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = dtype == 1 ? ttc_f2h(src[i]) : ttc_f2bf(src[i]);
}

ttc_ps_plan ttc_ps_plan_make(uint64_t B, uint64_t T, uint64_t din, uint64_t dout, int want_gw_u, int want_gG,
                             int sm_count, size_t ws_cap)
{
    ttc_ps_plan p;
    memset(&p, 0, sizeof p);
    const double b = (double)B, t = (double)T, di = (double)din, dO = (double)dout, fpb = TTC_PS_FLOP_PER_BYTE;
    const int nu = (want_gw_u != 0) + (want_gG != 0);
    if (T > 1) {
        /* two Gram GEMMs, their fp32 results written and read; plus each A·Mᵀ GEMM and its U */
        p.cost_gram = 2 * b * t * t * (di + dO) + fpb * 2 * b * t * t * 4 * 2 + nu * (2 * b * t * di * dO + fpb * b * t * dO * 4 * 2);
        p.cost_mat = 2 * b * t * di * dO + fpb * b * di * dO * 4 * 2;
        /* a form whose one sample overflows the workspace cap is taken only when the other does too,
         * and then the smaller one: the cap bounds the device memory the backend adds */
        const size_t ws_mat = (size_t)(din * dout * 4), ws_gram = (size_t)(2 * T * T * 4);
        if ((ws_mat > ws_cap) != (ws_gram > ws_cap)) p.materialise = ws_mat <= ws_cap;
        else if (ws_mat > ws_cap) p.materialise = ws_mat < ws_gram;
        else p.materialise = p.cost_mat < p.cost_gram;
        p.ws_per_sample = p.materialise ? ws_mat : ws_gram;
        uint64_t cs = ws_cap / p.ws_per_sample;
        p.gemm_chunk = cs < 1 ? 1 : cs > B ? (B ? B : 1) : cs;
    } else {
        p.gemm_chunk = B ? B : 1;
    }
    p.u_w = want_gw_u && !p.materialise;
    p.u_g = want_gG && !p.materialise;
    /* the largest per-sample reduction sets the chunk count */
    uint64_t e = T * din > T * dout ? T * din : T * dout;
    if (T > 1) {
        uint64_t k = p.materialise ? din * dout : T * T;
        if (k > e) e = k;
    }
    uint64_t by_size = (e + TTC_PS_CHUNK_MIN - 1) / TTC_PS_CHUNK_MIN;
    uint64_t want = B ? ((uint64_t)(sm_count > 0 ? sm_count : 1) * TTC_PS_BLOCKS_PER_SM + B - 1) / B : 1;
    uint64_t c = want < by_size ? want : by_size;
    if (c > TTC_PS_MAX_CHUNKS) c = TTC_PS_MAX_CHUNKS;
    p.chunks = (uint32_t)(c < 1 ? 1 : c);
    return p;
}
