/* test_cuda_host: the GPU backend's host logic, no GPU needed.
 *  - the work plan covers every element once, in order, with whole rows or aligned pieces;
 *  - a host model of the kernel's decomposition (items → partial sums → last-block finish, with the
 *    very arithmetic the kernel runs: tt_cuda_math.h) equals the CPU reference tt_layer_stats on
 *    fp32/fp16/bf16 data, NaN/Inf, zero rows, vectors, split rows, with and without W_prev;
 *  - the per-sample finishing rules (ttc_ps_finish) on host-computed raw sums equal tt_dense_persample;
 *  - sampling decisions match tt_probe_step; CUPTI interval arithmetic; fp16/bf16 conversions;
 *  - the runtime without a device: clear errors, no crash, every entry point NULL-safe. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../metrics/layerstats.h"
#include "../../metrics/persample.h"
#include "tt_cuda.h"
#include "tt_cuda_host.h"
#include "tt_cuda_math.h"

/* tt_cuda_ps_out is documented as tt_persample_out's layout */
_Static_assert(sizeof(tt_cuda_ps_out) == sizeof(tt_persample_out), "ps_out size");
_Static_assert(offsetof(tt_cuda_ps_out, bgamma) == offsetof(tt_persample_out, bgamma), "ps_out layout");
_Static_assert(offsetof(tt_cuda_ps_out, w_norm2) == offsetof(tt_persample_out, w_norm2), "ps_out layout");
_Static_assert(offsetof(tt_cuda_ps_out, bad_samples) == offsetof(tt_persample_out, bad_samples), "ps_out layout");
_Static_assert(TT_LAYER_NSTATS == TT_NSTATS && TTC_NPRIM == 11, "stat counts");

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double urand(void)          /* [0, 1) */
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)urand(); }

/* ------------------------------------------------------------------ conversions */

static void test_half_roundtrip(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ttc_h2f((uint16_t)h);
        _Float16 ref;
        memcpy(&ref, &h, 2);
        if (isnan(f)) { assert_true(isnan((float)ref)); continue; }
        assert_true(f == (float)ref);
        assert_int_equal(ttc_f2h(f), h);
    }
    for (int i = 0; i < 200000; i++) {               /* rounding of arbitrary floats, ties included */
        float f = (float)ldexp(urand() * 2 - 1, (int)(urand() * 44) - 28);
        if (i % 7 == 0) f = ttc_h2f((uint16_t)(rng & 0x7bff)) + ldexp(1, -25) * (float)(rng & 1 ? 1 : -1);
        _Float16 ref = (_Float16)f;
        uint16_t rb;
        memcpy(&rb, &ref, 2);
        assert_int_equal(ttc_f2h(f), rb);
    }
    assert_int_equal(ttc_f2h(INFINITY), 0x7c00);
    assert_int_equal(ttc_f2h(-65520.0f), 0xfc00);
    assert_true(isnan(ttc_h2f(ttc_f2h(NAN))));
}

static void test_bf16(void **state)
{
    (void)state;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = ttc_bf2f((uint16_t)b);
        if (isnan(f)) continue;
        assert_int_equal(ttc_f2bf(f), b);
    }
    assert_int_equal(ttc_f2bf(1.0f), 0x3f80);
    assert_int_equal(ttc_f2bf(1.00390625f), 0x3f80);   /* tie 1 + 2^-8 → even (1.0) */
    assert_int_equal(ttc_f2bf(1.01171875f), 0x3f82);   /* tie 1 + 3·2^-8 → even (1 + 2^-6) */
    assert_true(isnan(ttc_bf2f(ttc_f2bf(NAN))));
    float src[3] = {1.5f, -2.25f, 3e-3f}, back[3];
    uint16_t mid[3];
    ttc_from_float(TT_CUDA_BF16, src, mid, 3);
    ttc_to_float(TT_CUDA_BF16, mid, back, 3);
    assert_true(back[0] == 1.5f && back[1] == -2.25f && fabsf(back[2] - 3e-3f) < 2e-5f);
    assert_int_equal(ttc_dtype_size(TT_CUDA_F32), 4);
    assert_int_equal(ttc_dtype_size(TT_CUDA_BF16), 2);
    assert_int_equal(ttc_dtype_size(7), 0);
    assert_string_equal(ttc_dtype_name(TT_CUDA_F16), "fp16");
}

/* ------------------------------------------------------------------ plan */

static void check_plan(size_t rows, size_t cols, uint32_t item_elems, int aligned)
{
    static float buf[64];
    float *base = (float *)(((uintptr_t)buf + 15) & ~(uintptr_t)15);
    ttc_layer L[2];
    memset(L, 0, sizeof L);
    for (int k = 0; k < 2; k++) {
        L[k].w = L[k].g = L[k].w0 = base;
        L[k].prev = aligned ? base : base + 1;
    }
    ttc_layer_shape(&L[0], rows, cols);
    ttc_layer_shape(&L[1], 3, 5);                     /* a second layer after it */
    size_t n = ttc_plan(L, 2, item_elems, NULL);
    ttc_item *it = malloc(n * sizeof *it);
    assert_non_null(it);
    assert_int_equal(ttc_plan(L, 2, item_elems, it), n);
    assert_int_equal(L[0].item0, 0);
    assert_int_equal(L[1].item0, L[0].nitems);
    assert_int_equal(L[0].nitems + L[1].nitems, n);
    for (int k = 0; k < 2; k++) {
        const ttc_layer *l = &L[k];
        uint64_t next = 0;
        assert_true(l->rows * l->cols == l->n);
        if (l->vec && l->rows > 1) assert_int_equal(l->cols % TTC_VEC, 0);
        for (uint32_t j = 0; j < l->nitems; j++) {
            const ttc_item *x = &it[l->item0 + j];
            assert_int_equal(x->layer, k);
            assert_true(x->e0 == next && x->n > 0);      /* contiguous, in order, every element once */
            next += x->n;
            if (l->pieces) {
                assert_true(l->cols > TTC_ROWS_MAX_COLS);
                assert_int_equal(l->nitems, l->rows * l->pieces);
                assert_int_equal(x->e0 / l->cols, j / l->pieces);     /* piece j/P of row j/P */
                assert_int_equal((x->e0 % l->cols) % TTC_VEC, 0);
                assert_true((x->e0 % l->cols) + x->n <= l->cols);
                assert_true(x->n <= l->piece_len);
            } else {
                assert_true(l->cols <= TTC_ROWS_MAX_COLS);
                assert_int_equal(x->e0 % l->cols, 0);            /* whole rows */
                assert_int_equal(x->n % l->cols, 0);
                assert_true(l->group >= 1 && l->group <= 32 && (l->group & (l->group - 1)) == 0);
                assert_true(TTC_BLOCK % l->group == 0);
            }
        }
        assert_true(next == l->n);
    }
    free(it);
}

static void test_plan(void **state)
{
    (void)state;
    const size_t shapes[][2] = {{1, 1}, {7, 1}, {1, 9}, {4096, 1}, {100000, 1}, {1, 20000}, {64, 64}, {3, 5},
                                {1000, 3}, {17, 768}, {2, 8192}, {2, 8193}, {5, 40000}, {3, 65537}, {50257, 8},
                                {1024, 1024}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int a = 0; a < 2; a++) {
            check_plan(shapes[s][0], shapes[s][1], 4096, a);
            check_plan(shapes[s][0], shapes[s][1], 65536, a);
            check_plan(shapes[s][0], shapes[s][1], 8, a);
        }
    assert_int_equal(ttc_item_elems(1000, 132), TTC_ITEM_MIN);
    assert_int_equal(ttc_item_elems((uint64_t)1 << 34, 132), TTC_ITEM_MAX);
    uint32_t e = ttc_item_elems(25u << 20, 132);
    assert_true(e >= TTC_ITEM_MIN && e <= TTC_ITEM_MAX && (e & (e - 1)) == 0);
    assert_true((uint64_t)e * 132 * TTC_ITEMS_PER_SM <= (25u << 20) && (uint64_t)e * 2 * 132 * TTC_ITEMS_PER_SM > (25u << 20));
    assert_int_equal(ttc_item_elems(5, 0), TTC_ITEM_MIN);
}

static void test_shape(void **state)
{
    (void)state;
    static float buf[64];
    float *b = (float *)(((uintptr_t)buf + 15) & ~(uintptr_t)15);
    ttc_layer l;
    memset(&l, 0, sizeof l);
    l.prev = b;
    l.w = l.g = l.w0 = b;
    ttc_layer_shape(&l, 10, 1);                       /* a vector is one row */
    assert_true(l.rows == 1 && l.cols == 10 && l.n == 10 && l.vec);
    ttc_layer_shape(&l, 4, 12);                       /* rows not 16-byte aligned: scalar loads */
    assert_true(l.rows == 4 && l.cols == 12 && !l.vec);
    ttc_layer_shape(&l, 4, 16);
    assert_true(l.vec);
    l.g = b + 2;
    ttc_layer_shape(&l, 4, 16);
    assert_false(l.vec);
}

/* ------------------------------------------------------------------ the kernel's decomposition on the host */

/* What ttk_stats computes, item by item: partial sums per item (whole rows: per-row angles inside the
 * item; pieces: nothing per row), then the layer's finisher: items in order, split rows' angles from
 * their pieces, ttc_finish. */
static void model_stats(const float *w, const float *g, const float *p, const float *z, size_t rows, size_t cols,
                        int have_prev, uint32_t item_elems, double out[12])
{
    ttc_layer L;
    memset(&L, 0, sizeof L);
    L.w = w; L.g = g; L.prev = (void *)(uintptr_t)p; L.w0 = z;
    ttc_layer_shape(&L, rows, cols);
    size_t ni = ttc_plan(&L, 1, item_elems, NULL);
    ttc_item *it = malloc(ni * sizeof *it);
    double *part = calloc(ni * TTC_NPRIM, sizeof *part);
    assert_true(it && part);
    ttc_plan(&L, 1, item_elems, it);
    double K = isfinite(w[0]) ? w[0] : 0;
    for (size_t j = 0; j < ni; j++) {
        double *v = part + j * TTC_NPRIM;
        ttc_elsums es = {0, 0, 0, 0, 0, 0};
        ttc_rowsums tot = {0, 0, 0};
        uint64_t len = L.pieces ? it[j].n : L.cols;
        for (uint64_t e0 = it[j].e0; e0 < it[j].e0 + it[j].n; e0 += len) {
            ttc_rowsums rs = {0, 0, 0};
            for (uint64_t e = e0; e < e0 + len; e++)
                ttc_elem(&rs, &es, w[e], g[e], have_prev ? p[e] : 0.0f, z[e], K, have_prev);
            tot.ww += rs.ww; tot.pp += rs.pp; tot.dd += rs.dd;
            if (!L.pieces && have_prev && L.rows > 1) ttc_row_angle(&v[TTC_RA2], &v[TTC_RAN], rs.pp, rs.ww, rs.dd);
        }
        v[TTC_WW] = tot.ww; v[TTC_PP] = tot.pp; v[TTC_DD] = tot.dd;
        v[TTC_GG] = es.gg; v[TTC_GW] = es.gw; v[TTC_SW] = es.sw; v[TTC_SW2] = es.sw2; v[TTC_D0] = es.d0;
        v[TTC_NF] = es.nf;
    }
    double s[TTC_NPRIM] = {0};
    for (size_t j = 0; j < ni; j++)
        for (int k = 0; k < TTC_NPRIM; k++) s[k] += part[j * TTC_NPRIM + k];
    if (L.pieces && have_prev && L.rows > 1)
        for (uint64_t r = 0; r < L.rows; r++) {
            double ww = 0, pp = 0, dd = 0;
            for (uint32_t q = 0; q < L.pieces; q++) {
                const double *v = part + (r * L.pieces + q) * TTC_NPRIM;
                ww += v[TTC_WW]; pp += v[TTC_PP]; dd += v[TTC_DD];
            }
            ttc_row_angle(&s[TTC_RA2], &s[TTC_RAN], pp, ww, dd);
        }
    ttc_finish(s, (double)L.n, (double)L.rows, have_prev, out);
    free(it);
    free(part);
}

static void expect_close(const double *got, const double *ref, const char *what)
{
    for (int k = 0; k < TT_NSTATS; k++) {
        if (isnan(ref[k]) || isnan(got[k])) {
            if (isnan(ref[k]) != isnan(got[k]))
                fail_msg("%s: %s = %.17g, reference %.17g", what, tt_stat_names[k], got[k], ref[k]);
            continue;
        }
        double tol = (k == TT_ANGLE || k == TT_ANGLE_ROWS || k == TT_W_VAR) ? 1e-9 : 1e-11;
        if (fabs(got[k] - ref[k]) > tol * fmax(fabs(ref[k]), 1e-300) + 1e-300)
            fail_msg("%s: %s = %.17g, reference %.17g", what, tt_stat_names[k], got[k], ref[k]);
    }
}

/* Data as it lands on a device in `dtype`: rounded there, so both sides see the same values. */
static void fill(float *x, size_t n, float lo, float hi, int dtype)
{
    for (size_t i = 0; i < n; i++) x[i] = frand(lo, hi);
    if (dtype != TT_CUDA_F32) {
        uint16_t *t = malloc(n * 2);
        assert_non_null(t);
        ttc_from_float(dtype, x, t, n);
        ttc_to_float(dtype, t, x, n);
        free(t);
    }
}

static void round_to(float *x, size_t n, int dtype)
{
    if (dtype == TT_CUDA_F32) return;
    uint16_t *t = malloc(n * 2);
    assert_non_null(t);
    ttc_from_float(dtype, x, t, n);
    ttc_to_float(dtype, t, x, n);
    free(t);
}

static void check_layer(size_t rows, size_t cols, int dtype, uint32_t item_elems, const char *inject)
{
    size_t n = rows * cols;
    float *w = malloc(n * 4), *g = malloc(n * 4), *p = malloc(n * 4), *z = malloc(n * 4);
    assert_true(w && g && p && z);
    fill(w, n, -0.05f, 0.08f, dtype);
    for (size_t i = 0; i < n; i++) w[i] += 0.3f;              /* a mean: the shifted variance at work */
    round_to(w, n, dtype);
    fill(g, n, -1e-3f, 1e-3f, TT_CUDA_F32);
    for (size_t i = 0; i < n; i++) { p[i] = w[i] - 1e-3f * g[i] * 37; z[i] = w[i] * 0.97f; }
    round_to(g, n, dtype == TT_CUDA_F16 ? TT_CUDA_F16 : dtype);
    round_to(p, n, dtype);
    round_to(z, n, dtype);
    if (inject) {
        size_t at = (size_t)(urand() * (double)n);
        if (!strcmp(inject, "nan_w")) w[at] = NAN;
        if (!strcmp(inject, "inf_g")) { g[at] = INFINITY; g[n - 1] = -INFINITY; }
        if (!strcmp(inject, "nan_prev")) p[at] = NAN;
        if (!strcmp(inject, "zero_row") && rows > 1 && cols > 1)
            for (size_t c = 0; c < cols; c++) w[cols + c] = p[cols + c] = 0;
        if (!strcmp(inject, "zero_grad")) memset(g, 0, n * 4);
        if (!strcmp(inject, "same")) memcpy(p, w, n * 4);
    }
    char what[160];
    for (int hp = 0; hp < 2; hp++) {
        double ref[TT_NSTATS], got[12];
        tt_layer_stats(w, g, hp ? p : NULL, z, NULL, rows, cols, ref);
        model_stats(w, g, p, z, rows, cols, hp, item_elems, got);
        snprintf(what, sizeof what, "%zux%zu %s items of %u %s have_prev=%d", rows, cols, ttc_dtype_name(dtype),
                 item_elems, inject ? inject : "", hp);
        expect_close(got, ref, what);
    }
    free(w); free(g); free(p); free(z);
}

static void test_model_matches_reference(void **state)
{
    (void)state;
    const size_t shapes[][2] = {{1, 1}, {33, 1}, {1, 50}, {64, 64}, {3, 5}, {1000, 3}, {17, 768}, {2, 8193},
                                {3, 20000}, {1, 30000}, {256, 100}};
    const char *inj[] = {NULL, "nan_w", "inf_g", "nan_prev", "zero_row", "zero_grad", "same"};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int dt = 0; dt < 3; dt++)
            for (size_t k = 0; k < sizeof inj / sizeof inj[0]; k++) {
                check_layer(shapes[s][0], shapes[s][1], dt, 4096, inj[k]);
                if (k == 0) check_layer(shapes[s][0], shapes[s][1], dt, 64, inj[k]);
            }
}

static void test_finish_guards(void **state)
{
    (void)state;
    double s[TTC_NPRIM] = {0}, out[12];
    s[TTC_NF] = 3;
    ttc_finish(s, 10, 2, 1, out);
    for (int k = 0; k < 11; k++) assert_true(isnan(out[k]));
    assert_true(out[11] == 3);
    memset(s, 0, sizeof s);                            /* all zero: norms 0, ratios and angles NaN */
    ttc_finish(s, 10, 2, 1, out);
    assert_true(out[TT_W_NORM] == 0 && out[TT_W_VAR] == 0 && out[TT_NONFINITE] == 0);
    assert_true(isnan(out[TT_UPDATE_RATIO]) && isnan(out[TT_ANGLE]) && isnan(out[TT_ANGLE_ROWS]) && isnan(out[TT_GW_COS]));
    /* the stable angle equals tt_angle_from_norms everywhere */
    for (int i = 0; i < 1000; i++) {
        double a = urand() * 3, b = urand() * 3, d = fabs(a - b) + urand() * (a + b - fabs(a - b));
        double x = ttc_angle(a, b, d), y = tt_angle_from_norms(a, b, d);
        assert_true((isnan(x) && isnan(y)) || x == y);
    }
    assert_true(isnan(ttc_angle(0, 1, 1)) && isnan(ttc_angle(1, INFINITY, 1)));
}

/* ------------------------------------------------------------------ per-sample finishing rules */

typedef struct {
    size_t B, T, din, dout;
    float *A, *D, *Z, *W, *bias, *Gbar, *bbar;
} ps_case;

/* The raw sums the device kernels compute (ttk_ps_sample, the GEMM row dots, the Gram sums), on the
 * host in double, then ttc_ps_finish: what ttk_ps_final writes. */
static void model_persample(const ps_case *c, double scale, tt_persample_out *o)
{
    const size_t B = c->B, T = c->T, din = c->din, dout = c->dout;
    double nrm[4], nf[4];
    const float *ptr[4] = {c->W, c->bias, c->Gbar, c->bbar};
    const size_t len[4] = {dout * din, dout, dout * din, dout};
    for (int k = 0; k < 4; k++) {
        double s = 0, f = 0;
        for (size_t j = 0; ptr[k] && j < len[k]; j++) { s += (double)ptr[k][j] * ptr[k][j]; f += !isfinite(ptr[k][j]); }
        nrm[k] = ptr[k] && isfinite(s) ? s : NAN;
        nf[k] = ptr[k] && !isfinite(s) ? f : 0;
    }
    o->w_norm2 = nrm[0]; o->bias_norm2 = nrm[1]; o->gbar_norm2 = nrm[2]; o->bbar_norm2 = nrm[3];
    o->nonfinite = (uint64_t)(nf[0] + nf[1] + nf[2] + nf[3]);
    o->bad_samples = 0;
    const int want_gw = o->gw || o->gamma, want_gG = o->gG && c->Gbar;
    const int want_bias = c->bias && (o->bw || o->bb || o->bgamma || (o->bB && c->bbar));
    for (size_t i = 0; i < B; i++) {
        const float *a = c->A + i * T * din, *d = c->D + i * T * dout, *z = c->Z ? c->Z + i * T * dout : NULL;
        double a2 = 0, d2 = 0, gwz = 0, bw = 0, bb = 0, bB = 0, nfad = 0, nfz = 0, gwu = 0, ggu = 0, gram = 0;
        for (size_t j = 0; j < T * din; j++) { a2 += (double)a[j] * a[j]; nfad += !isfinite(a[j]); }
        for (size_t j = 0; j < T * dout; j++) {
            d2 += (double)d[j] * d[j];
            nfad += !isfinite(d[j]);
            if (z) { gwz += (double)d[j] * ((double)z[j] - (c->bias ? c->bias[j % dout] : 0.0)); nfz += !isfinite(z[j]); }
        }
        for (size_t k = 0; k < dout; k++) {
            double s = 0;
            for (size_t t = 0; t < T; t++) s += d[t * dout + k];
            bb += s * s;
            if (c->bias) bw += s * c->bias[k];
            if (c->bbar) bB += s * c->bbar[k];
        }
        for (size_t t = 0; t < T; t++)
            for (size_t k = 0; k < dout; k++) {
                double uw = 0, ug = 0;
                for (size_t j = 0; j < din; j++) {
                    uw += (double)c->W[k * din + j] * a[t * din + j];
                    if (c->Gbar) ug += (double)c->Gbar[k * din + j] * a[t * din + j];
                }
                gwu += d[t * dout + k] * uw;
                ggu += d[t * dout + k] * ug;
            }
        for (size_t t = 0; t < T; t++)
            for (size_t s = 0; s < T; s++) {
                double ka = 0, kd = 0;
                for (size_t j = 0; j < din; j++) ka += (double)a[t * din + j] * a[s * din + j];
                for (size_t j = 0; j < dout; j++) kd += (double)d[t * dout + j] * d[s * dout + j];
                gram += ka * kd;
            }
        double gg = T == 1 ? a2 * d2 : gram, bbx = T == 1 ? d2 : bb, gw = z ? gwz : (want_gw ? gwu : NAN);
        double r[TTC_PS_N];
        ttc_ps_finish(gg, bbx, gw, want_gG ? ggu : NAN, bw, bB, nfad, nfz, z != NULL, want_gw, !isfinite(nrm[0]),
                      want_gG, c->bias != NULL, c->bbar != NULL, want_bias, scale, sqrt(nrm[0]), sqrt(nrm[1]), r);
        double *dst[8] = {o->gw, o->gg, o->gG, o->gamma, o->bw, o->bb, o->bB, o->bgamma};
        for (int k = 0; k < 8; k++)
            if (dst[k]) dst[k][i] = r[k];
        if (r[TTC_PS_BAD] > 0) { o->nonfinite += (uint64_t)r[TTC_PS_BAD]; o->bad_samples++; }
    }
}

static void expect_arrays(const double *got, const double *ref, size_t n, double tol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(ref[i]) || isnan(got[i])) {
            if (isnan(ref[i]) != isnan(got[i])) fail_msg("%s[%zu] = %.17g, reference %.17g", what, i, got[i], ref[i]);
            continue;
        }
        if (fabs(got[i] - ref[i]) > tol * fmax(fabs(ref[i]), 1.0) )
            fail_msg("%s[%zu] = %.17g, reference %.17g", what, i, got[i], ref[i]);
    }
}

static void check_persample(size_t B, size_t T, size_t din, size_t dout, int with_z, int with_bias, int with_gbar,
                            const char *inject)
{
    ps_case c = {B, T, din, dout, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    c.A = malloc(B * T * din * 4); c.D = malloc(B * T * dout * 4); c.W = malloc(dout * din * 4);
    assert_true(c.A && c.D && c.W);
    for (size_t j = 0; j < B * T * din; j++) c.A[j] = frand(-1, 1);
    for (size_t j = 0; j < B * T * dout; j++) c.D[j] = frand(-1e-2f, 1e-2f);
    for (size_t j = 0; j < dout * din; j++) c.W[j] = frand(-0.2f, 0.2f);
    if (with_bias) {
        c.bias = malloc(dout * 4);
        assert_non_null(c.bias);
        for (size_t j = 0; j < dout; j++) c.bias[j] = frand(-0.1f, 0.1f);
    }
    if (with_z) {
        c.Z = malloc(B * T * dout * 4);
        assert_non_null(c.Z);
        for (size_t i = 0; i < B * T; i++)
            for (size_t k = 0; k < dout; k++) {
                double s = c.bias ? c.bias[k] : 0;
                for (size_t j = 0; j < din; j++) s += (double)c.W[k * din + j] * c.A[i * din + j];
                c.Z[i * dout + k] = (float)s;
            }
    }
    if (with_gbar) {
        c.Gbar = malloc(dout * din * 4);
        c.bbar = malloc(dout * 4);
        assert_true(c.Gbar && c.bbar);
        tt_persample_mean_grad(B, T, din, dout, c.A, c.D, (double)B, c.Gbar, c.bbar);
    }
    if (inject) {
        if (!strcmp(inject, "nan_a")) c.A[din + 1] = NAN;                  /* sample 0 or 1 */
        if (!strcmp(inject, "inf_d")) c.D[(B - 1) * T * dout] = INFINITY;
        if (!strcmp(inject, "nan_z") && c.Z) c.Z[0] = NAN;
        if (!strcmp(inject, "nan_w")) c.W[3] = NAN;
        if (!strcmp(inject, "nan_gbar") && c.Gbar) c.Gbar[0] = NAN;
        if (!strcmp(inject, "nan_bias") && c.bias) c.bias[0] = NAN;
    }
    double *ref = malloc(8 * B * sizeof(double)), *got = malloc(8 * B * sizeof(double));
    assert_true(ref && got);
    tt_persample_out ro, go;
    memset(&ro, 0, sizeof ro);
    memset(&go, 0, sizeof go);
    double **rp = &ro.gw, **gp = &go.gw;
    for (int k = 0; k < 8; k++) { rp[k] = ref + k * B; gp[k] = got + k * B; }
    tt_dense L = {B, T, din, dout, c.A, c.D, (double)B, c.W, c.bias, c.Z, c.Gbar, c.bbar};
    void *work = malloc(tt_persample_work_size(B, T, dout) + 16);
    assert_non_null(work);
    assert_int_equal(tt_dense_persample(&L, work, &ro), 0);
    model_persample(&c, (double)B, &go);
    char what[160];
    static const char *names[8] = {"gw", "gg", "gG", "gamma", "bw", "bb", "bB", "bgamma"};
    for (int k = 0; k < 8; k++) {
        /* the CPU's ⟨g_i, W⟩ without Z and ⟨g_i, Ḡ⟩ come from fp32 GEMMs; everything else is double */
        double tol = ((k == 0 || k == 3) && !with_z) || k == 2 ? 2e-4 : 1e-9;
        snprintf(what, sizeof what, "B=%zu T=%zu %zux%zu z=%d bias=%d gbar=%d %s: %s", B, T, dout, din, with_z,
                 with_bias, with_gbar, inject ? inject : "", names[k]);
        expect_arrays(gp[k], rp[k], B, tol, what);
    }
    double sc[4] = {go.w_norm2, go.bias_norm2, go.gbar_norm2, go.bbar_norm2}, rc[4] = {ro.w_norm2, ro.bias_norm2, ro.gbar_norm2, ro.bbar_norm2};
    expect_arrays(sc, rc, 4, 1e-12, "norms");
    assert_int_equal(go.nonfinite, ro.nonfinite);
    assert_int_equal(go.bad_samples, ro.bad_samples);
    free(ref); free(got); free(work);
    free(c.A); free(c.D); free(c.W); free(c.bias); free(c.Z); free(c.Gbar); free(c.bbar);
}

static void test_persample_rules(void **state)
{
    (void)state;
    const char *inj[] = {NULL, "nan_a", "inf_d", "nan_z", "nan_w", "nan_gbar", "nan_bias"};
    for (size_t k = 0; k < sizeof inj / sizeof inj[0]; k++)
        for (int z = 0; z < 2; z++)
            for (int b = 0; b < 2; b++) {
                check_persample(6, 1, 13, 7, z, b, 1, inj[k]);
                check_persample(5, 4, 9, 6, 0, b, z, inj[k]);       /* tokens: Z is per token, not given here */
            }
    check_persample(3, 1, 5, 4, 1, 1, 0, NULL);
}

/* ------------------------------------------------------------------ sampling, timing */

static void test_step_decide(void **state)
{
    (void)state;
    for (int every = 1; every <= 4; every++) {
        int hp = 1, ref_hp = 1;
        for (int64_t step = 0; step < 40; step++) {
            ttc_step_plan s = ttc_step_decide(step, every, &hp);
            int sampled = step % every == 0, next = (step + 1) % every == 0;
            assert_int_equal(s.sampled, sampled);
            assert_int_equal(s.refresh, next);
            assert_int_equal(s.have_prev, ref_hp);
            /* tt_probe_step's rules */
            if (sampled) ref_hp = next;
            else if (next) ref_hp = 1;
            assert_int_equal(hp, ref_hp);
            if (sampled && step > 0) assert_true(s.have_prev);      /* every sampled step after the first sees one step */
        }
    }
    int hp = 1;
    ttc_step_plan s = ttc_step_decide(5, 0, &hp);                   /* every 0 means 1 */
    assert_true(s.sampled && s.refresh && s.have_prev);
}

static void test_timing(void **state)
{
    (void)state;
    ttc_kernel_rec k[4] = {{10, 20, 0}, {15, 30, 0}, {40, 50, 0}, {42, 45, 0}};
    assert_int_equal(ttc_union_ns(k, 4), 30);
    assert_int_equal(ttc_union_ns(k, 0), 0);
    ttc_timing t;
    ttc_timing_init(&t);
    ttc_timing_add_ours(&t, 101);
    ttc_timing_add_ours(&t, 102);
    ttc_timing_add_kernel(&t, 1000000, 3000000, 7);     /* user: 2 ms */
    ttc_timing_add_kernel(&t, 2500000, 4000000, 101);   /* ours, overlapping the user's */
    ttc_timing_add_kernel(&t, 5000000, 5500000, 102);   /* ours */
    ttc_timing_add_kernel(&t, 9, 8, 5);                 /* end before start: ignored */
    double busy, probe;
    int n;
    ttc_timing_step(&t, &busy, &probe, &n);
    assert_int_equal(n, 3);
    assert_true(fabs(busy - 3.5) < 1e-12);
    assert_true(fabs(probe - 2.0) < 1e-12);
    /* a late record of the previous step's tagged id still counts as ours; two steps later it does not */
    ttc_timing_add_ours(&t, 205);
    ttc_timing_add_kernel(&t, 0, 1000000, 102);
    ttc_timing_step(&t, &busy, &probe, &n);
    assert_true(n == 1 && fabs(probe - 1.0) < 1e-12);
    ttc_timing_add_kernel(&t, 0, 1000000, 102);
    ttc_timing_add_kernel(&t, 0, 500000, 205);
    ttc_timing_step(&t, &busy, &probe, &n);
    assert_true(n == 2 && fabs(probe - 0.5) < 1e-12 && fabs(busy - 1.0) < 1e-12);
    ttc_timing_step(&t, &busy, &probe, &n);             /* an empty step */
    assert_true(n == 0 && busy == 0 && probe == 0);
    for (uint32_t i = 0; i < 5000; i++) { ttc_timing_add_ours(&t, 1000 + i); ttc_timing_add_kernel(&t, i * 10, i * 10 + 5, 1000 + i); }
    ttc_timing_step(&t, &busy, NULL, &n);
    assert_int_equal(n, 5000);
    assert_true(fabs(busy - 5000 * 5e-6) < 1e-9);
    ttc_timing_free(&t);
    /* a flush that covered 4 training steps (every = 4): the mean per step */
    busy = 8.0, probe = 2.0, n = 10;
    ttc_timing_per_step(4, &busy, &probe, &n);
    assert_true(busy == 2.0 && probe == 0.5 && n == 3);
    ttc_timing_per_step(1, &busy, &probe, &n);
    assert_true(busy == 2.0 && probe == 0.5 && n == 3);
    n = -1;                                              /* event timing counts no kernels: stays -1 */
    ttc_timing_per_step(4, &busy, &probe, &n);
    assert_true(busy == 0.5 && n == -1);
}

/* ------------------------------------------------------------------ per-sample launch plan */

static double model_gram(double B, double T, double di, double dO, int nu)
{
    return 2 * B * T * T * (di + dO) + 100.0 * 16 * B * T * T + nu * (2 * B * T * di * dO + 100.0 * 8 * B * T * dO);
}

static double model_mat(double B, double T, double di, double dO)
{
    return 2 * B * T * di * dO + 100.0 * 8 * B * di * dO;
}

static void test_ps_plan(void **state)
{
    (void)state;
    const size_t cap = (size_t)256 << 20;
    /* a GPT block (d = 1024), batch 8, H100 (132 SMs). At T = 1024 ≥ d the Gram matrices cost more than
     * g_i itself: every Linear materialises (qkv: 82 vs 72 Gflop-equivalents) */
    ttc_ps_plan p = ttc_ps_plan_make(8, 1024, 1024, 3072, 0, 0, 132, cap);
    assert_true(p.cost_gram == model_gram(8, 1024, 1024, 3072, 0) && p.cost_mat == model_mat(8, 1024, 1024, 3072));
    assert_true(p.materialise && !p.u_w && !p.u_g);
    assert_int_equal(p.ws_per_sample, 1024 * 3072 * 4);
    assert_int_equal(p.gemm_chunk, 8);                           /* 12 MiB each: 21 fit, 8 asked */
    p = ttc_ps_plan_make(8, 1024, 4096, 1024, 0, 0, 132, cap);
    assert_true(p.materialise);
    /* at T = 512 the qkv projection keeps the Gram form ... */
    p = ttc_ps_plan_make(8, 512, 1024, 3072, 0, 0, 132, cap);
    assert_false(p.materialise);
    assert_int_equal(p.ws_per_sample, 2 * 512 * 512 * 4);
    assert_int_equal(p.gemm_chunk, 8);
    /* ... until ⟨g,Ḡ⟩ (persample_full) adds an A·Ḡᵀ GEMM to it: g_i materialised gives all three */
    p = ttc_ps_plan_make(8, 512, 1024, 3072, 0, 1, 132, cap);
    assert_true(p.cost_gram == model_gram(8, 512, 1024, 3072, 1));
    assert_true(p.materialise && !p.u_g);
    /* a long sequence through a narrow layer: T² ≫ d_in·d_out, materialised */
    p = ttc_ps_plan_make(4, 4096, 64, 64, 1, 0, 132, cap);
    assert_true(p.materialise && !p.u_w);
    /* short sequences through a wide layer: the Gram form, U for ⟨g,W⟩ without Z */
    p = ttc_ps_plan_make(64, 8, 4096, 4096, 1, 1, 132, cap);
    assert_true(!p.materialise && p.u_w && p.u_g);
    /* the choice is the argmin of the model, everywhere on a grid of shapes */
    const uint64_t Ts[] = {2, 16, 128, 1024}, ds[] = {32, 768, 4096};
    for (int a = 0; a < 4; a++)
        for (int i = 0; i < 3; i++)
            for (int o = 0; o < 3; o++)
                for (int f = 0; f < 4; f++) {
                    p = ttc_ps_plan_make(16, Ts[a], ds[i], ds[o], f & 1, f >> 1, 108, cap);   /* all fit the cap */
                    assert_true(p.materialise == (model_mat(16, Ts[a], ds[i], ds[o]) < model_gram(16, Ts[a], ds[i], ds[o], (f & 1) + (f >> 1))));
                    assert_true(p.gemm_chunk >= 1 && p.gemm_chunk <= 16);
                    assert_true(p.gemm_chunk == 1 || p.gemm_chunk * p.ws_per_sample <= cap);
                }
    /* the workspace cap splits the batch; one sample always fits */
    p = ttc_ps_plan_make(64, 4096, 64, 64, 0, 0, 132, (size_t)1 << 20);
    assert_int_equal(p.gemm_chunk, ((size_t)1 << 20) / p.ws_per_sample);
    p = ttc_ps_plan_make(8, 4096, 8192, 8192, 0, 0, 132, (size_t)1 << 20);
    assert_int_equal(p.gemm_chunk, 1);
    /* a form one sample of which overflows the cap is not taken while the other fits: an 8192→16384
     * layer at T = 4096 would materialise by cost (512 MiB a sample), and runs the Gram form (128 MiB) */
    p = ttc_ps_plan_make(2, 4096, 8192, 16384, 0, 1, 132, cap);
    assert_true(model_mat(2, 4096, 8192, 16384) < model_gram(2, 4096, 8192, 16384, 1));
    assert_true(!p.materialise && p.u_g && p.ws_per_sample == (size_t)2 * 4096 * 4096 * 4 && p.gemm_chunk == 2);
    /* both over the cap: the smaller workspace */
    p = ttc_ps_plan_make(2, 8192, 16384, 16384, 0, 0, 132, (size_t)64 << 20);
    assert_true(!p.materialise && p.ws_per_sample == (size_t)2 * 8192 * 8192 * 4);
    /* T = 1: no Gram, nothing materialised; U only for what is wanted */
    p = ttc_ps_plan_make(256, 1, 784, 512, 1, 0, 132, cap);
    assert_true(!p.materialise && p.u_w && !p.u_g && p.cost_gram == 0 && p.gemm_chunk == 256);
    /* chunks: batch 8 on 132 SMs asks 132 blocks per sample, capped at 64; never below a block's worth
     * of elements; a large batch fills the GPU alone (one chunk) */
    p = ttc_ps_plan_make(8, 1024, 1024, 4096, 0, 0, 132, cap);
    assert_int_equal(p.chunks, TTC_PS_MAX_CHUNKS);
    p = ttc_ps_plan_make(8, 1, 64, 32, 0, 0, 132, cap);
    assert_int_equal(p.chunks, 1);                               /* 64 elements: one block */
    p = ttc_ps_plan_make(8, 4, 2048, 512, 0, 0, 132, cap);
    assert_int_equal(p.chunks, 4);                               /* 8192 elements / 2048 */
    p = ttc_ps_plan_make(4096, 128, 768, 768, 0, 0, 132, cap);
    assert_int_equal(p.chunks, 1);
    p = ttc_ps_plan_make(0, 1, 16, 8, 0, 0, 132, cap);           /* an empty batch */
    assert_true(p.chunks == 1 && p.gemm_chunk == 1);
    /* the chunk split covers [0, n) in order, sizes within one */
    const uint64_t ns[] = {0, 1, 7, 2048, 1000003};
    for (int k = 0; k < 5; k++)
        for (uint32_t C = 1; C <= 70; C += 23) {
            uint64_t next = 0, mn = UINT64_MAX, mx = 0;
            for (uint32_t c = 0; c < C; c++) {
                uint64_t lo, hi;
                ttc_chunk(ns[k], C, c, &lo, &hi);
                assert_true(lo == next && hi >= lo);
                next = hi;
                if (hi - lo < mn) mn = hi - lo;
                if (hi - lo > mx) mx = hi - lo;
            }
            assert_true(next == ns[k] && mx - mn <= 1);
        }
}

/* ------------------------------------------------------------------ runtime without a device */

static void test_no_device_path(void **state)
{
    (void)state;
    char err[256] = "";
    int n = tt_cuda_device_count(err, sizeof err);
    assert_true(n >= 0);
    tt_cuda_opts o;
    memset(&o, 0, sizeof o);
    o.device = -1;
    err[0] = 0;
    tt_cuda *c = tt_cuda_open(&o, err, sizeof err);
    if (n == 0) {
        assert_null(c);
        assert_non_null(strstr(err, "no CUDA device"));
        print_message("no device: tt_cuda_open says \"%s\"\n", err);
    } else {
        assert_non_null(c);                              /* a GPU machine: the happy path is test_cuda_gpu's */
        tt_cuda_close(c);
    }
    assert_null(tt_cuda_open(NULL, err, sizeof err));
    o.every = -1;
    assert_null(tt_cuda_open(&o, err, sizeof err));
    /* every entry point is NULL-safe */
    double st[TT_LAYER_NSTATS], busy = 0, probe = 0;
    int kernels = 0;
    assert_int_equal(tt_cuda_add_layer(NULL, "x", 1, 1, 0, err, 0, err, err, sizeof err), -1);
    assert_int_equal(tt_cuda_rebind_layer(NULL, 0, err, err), -1);
    assert_int_equal(tt_cuda_step(NULL, 0, err, sizeof err), -1);
    assert_int_equal(tt_cuda_step_sampled(NULL, 0, 1, 1, err, sizeof err), -1);
    assert_int_equal(tt_cuda_collect(NULL, 1, err, sizeof err), TT_CUDA_ERROR);
    assert_int_equal(tt_cuda_layer_result(NULL, 0, st), -1);
    assert_int_equal(tt_cuda_step_timing(NULL, &busy, &probe, &kernels), -1);
    assert_true(isnan(busy) && isnan(probe) && kernels == -1);
    assert_int_equal(tt_cuda_timing_source(NULL), 0);
    assert_string_equal(tt_cuda_timing_note(NULL), "");
    assert_int_equal(tt_cuda_use_event_timing(NULL, "x"), -1);
    o.every = 1;
    o.timing = 3;                                        /* refused as an option (or: no device) */
    assert_null(tt_cuda_open(&o, err, sizeof err));
    if (n > 0) assert_non_null(strstr(err, "timing 3"));
    o.timing = 0;
    tt_cuda_dense L;
    memset(&L, 0, sizeof L);
    tt_cuda_ps_out po;
    assert_int_equal(tt_cuda_dense_persample(NULL, &L, &po, err, sizeof err), -1);
    tt_cuda_batch b;
    memset(&b, 0, sizeof b);
    err[0] = 0;
    assert_int_equal(tt_cuda_dense_batch(NULL, 0, -1, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "tt_cuda_dense_batch"));
    assert_int_equal(tt_cuda_device_bytes(NULL), 0);
    tt_cuda_close(NULL);
    assert_int_equal(tt_cuda_step(NULL, 0, NULL, 0), -1);             /* no error buffer: still fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_roundtrip),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_finish_guards),
        cmocka_unit_test(test_model_matches_reference),
        cmocka_unit_test(test_persample_rules),
        cmocka_unit_test(test_step_decide),
        cmocka_unit_test(test_timing),
        cmocka_unit_test(test_ps_plan),
        cmocka_unit_test(test_no_device_path),
    };
    return cmocka_run_group_tests_name("cuda_host", tests, NULL, NULL);
}
