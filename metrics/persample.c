/* persample: g_i = Σ_t δ_it a_itᵀ is never formed. ‖g_i‖² comes from the two T×T Gram matrices of the
 * sample's rows (exact, in double), ⟨g_i, M⟩ = Σ_t δ_itᵀ (M a_it) from one GEMM A·Mᵀ whose rows are
 * dotted with Δ while they are still in cache: the GEMM runs on chunks of ~512 rows, so the workspace
 * is small and each chunk is reduced right after it is produced. */
#include "persample.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define TT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define TT_CLONES
#endif

#define CHUNK_ROWS 512          /* GEMM rows per chunk: big enough for full GEMM speed */

static double fin(double x)
{
    return isfinite(x) ? x : NAN;
}

/* Products of floats are exact in double; the simd reduction vectorises the sum. */
TT_CLONES static double dot(const float *x, const float *y, size_t n)
{
    double s = 0;
#pragma omp simd reduction(+:s)
    for (size_t i = 0; i < n; i++) s += (double)x[i] * y[i];
    return s;
}

/* x against four rows at once: x is loaded and converted once for four dots. */
TT_CLONES static void dot4(const float *x, const float *y, size_t stride, size_t n, double out[4])
{
    const float *y0 = y, *y1 = y + stride, *y2 = y + 2 * stride, *y3 = y + 3 * stride;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+:s0,s1,s2,s3)
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        s0 += v * y0[i]; s1 += v * y1[i]; s2 += v * y2[i]; s3 += v * y3[i];
    }
    out[0] = s0; out[1] = s1; out[2] = s2; out[3] = s3;
}

/* Σ δ·(z − b): W a recovered from the layer's own forward output. b may be NULL. */
TT_CLONES static double dot_sub(const float *d, const float *z, const float *b, size_t n)
{
    double s = 0;
    if (b) {
#pragma omp simd reduction(+:s)
        for (size_t i = 0; i < n; i++) s += (double)d[i] * ((double)z[i] - b[i]);
    } else {
#pragma omp simd reduction(+:s)
        for (size_t i = 0; i < n; i++) s += (double)d[i] * z[i];
    }
    return s;
}

static uint64_t count_nonfinite(const float *x, size_t n)
{
    uint64_t bad = 0;
    for (size_t i = 0; x && i < n; i++) bad += !isfinite(x[i]);
    return bad;
}

/* ‖x‖² in double, NaN (and the entries counted) when x holds NaN/Inf; NaN when x is NULL. */
static double norm2_counted(const float *x, size_t n, uint64_t *bad)
{
    if (!x) return NAN;
    double s = dot(x, x, n);
    if (isfinite(s)) return s;
    *bad += count_nonfinite(x, n);
    return NAN;
}

static size_t chunk_samples(size_t B, size_t T)
{
    size_t c = T >= CHUNK_ROWS ? 1 : CHUNK_ROWS / T;
    return c < B ? c : B;
}

size_t tt_persample_work_size(size_t B, size_t T, size_t d_out)
{
    if (!B || !T) return 0;
    return 2 * chunk_samples(B, T) * T * d_out * sizeof(float);   /* A·Ḡᵀ and A·Wᵀ of one chunk */
}

/* Σ_{t,s} (δ_it·δ_is)(a_it·a_is) and Σ_{t,s} δ_it·δ_is: the Gram matrices are symmetric, so each
 * off-diagonal pair is computed once and counted twice. */
static void gram_sums(const float *a, const float *d, size_t T, size_t d_in, size_t d_out,
                      double *gg, double *bb)
{
    double g = 0, b = 0, ka[4], kd[4];
    for (size_t t = 0; t < T; t++) {
        const float *at = a + t * d_in, *dt = d + t * d_out;
        size_t s = 0;
        for (; s + 4 <= t; s += 4) {                   /* s < t: off-diagonal, weight 2 */
            dot4(at, a + s * d_in, d_in, d_in, ka);
            dot4(dt, d + s * d_out, d_out, d_out, kd);
            for (int k = 0; k < 4; k++) { g += 2 * kd[k] * ka[k]; b += 2 * kd[k]; }
        }
        for (; s <= t; s++) {
            double kds = dot(dt, d + s * d_out, d_out), kas = dot(at, a + s * d_in, d_in);
            double w = s == t ? 1 : 2;
            g += w * kds * kas;
            b += w * kds;
        }
    }
    *gg = g;
    *bb = b;
}

int tt_dense_persample(const tt_dense *L, void *work, tt_persample_out *out)
{
    const size_t B = L->B, T = L->T, din = L->d_in, dout = L->d_out;
    if (!L->A || !L->D || !L->W || !T || !din || !dout) return -1;
    size_t wsize = tt_persample_work_size(B, T, dout);
    if (wsize && !work) return -1;

    out->nonfinite = 0;
    out->bad_samples = 0;
    out->w_norm2 = norm2_counted(L->W, dout * din, &out->nonfinite);
    out->bias_norm2 = norm2_counted(L->bias, dout, &out->nonfinite);
    out->gbar_norm2 = norm2_counted(L->Gbar, dout * din, &out->nonfinite);
    out->bbar_norm2 = norm2_counted(L->bbar, dout, &out->nonfinite);
    if (!B) return 0;

    const double sc = L->scale, wn = sqrt(out->w_norm2), bn = sqrt(out->bias_norm2);
    const int want_gw = out->gw || out->gamma, w_bad = !isfinite(out->w_norm2);
    const int want_gG = out->gG && L->Gbar;
    const int want_bias = L->bias && (out->bw || out->bb || out->bgamma || (out->bB && L->bbar));
    const size_t cs = chunk_samples(B, T), rowlen = T * dout;
    float *UG = work, *UW = UG ? UG + cs * T * dout : NULL;

    for (size_t i0 = 0; i0 < B; i0 += cs) {
        size_t n = B - i0 < cs ? B - i0 : cs;
        const float *Ac = L->A + i0 * T * din;
        /* The chunk's rows times Ḡᵀ and Wᵀ: U[r] = M a_r for every row r = (i, t). */
        if (want_gG)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(n * T), (int)dout, (int)din,
                        1.0f, Ac, (int)din, L->Gbar, (int)din, 0.0f, UG, (int)dout);
        if (want_gw && !L->Z)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(n * T), (int)dout, (int)din,
                        1.0f, Ac, (int)din, L->W, (int)din, 0.0f, UW, (int)dout);

        for (size_t j = 0; j < n; j++) {
            size_t i = i0 + j;
            const float *a = L->A + i * T * din, *d = L->D + i * rowlen;
            const float *z = L->Z ? L->Z + i * rowlen : NULL;
            double gg, bb, gw = NAN, gG = NAN, bw = NAN, bB = NAN;
            if (T == 1) {
                bb = dot(d, d, dout);
                gg = bb * dot(a, a, din);
            } else {
                gram_sums(a, d, T, din, dout, &gg, &bb);
            }
            if (want_gw) {
                if (z) {
                    gw = 0;
                    for (size_t t = 0; t < T; t++)
                        gw += dot_sub(d + t * dout, z + t * dout, L->bias, dout);
                } else {
                    gw = dot(d, UW + j * rowlen, rowlen);
                }
                if (w_bad) gw = NAN;                 /* Z may predate the NaN: ⟨g_i, W⟩ is still NaN */
            }
            if (want_gG) gG = dot(d, UG + j * rowlen, rowlen);
            if (want_bias) {
                bw = bB = 0;
                for (size_t t = 0; t < T; t++) {
                    bw += dot(d + t * dout, L->bias, dout);
                    if (L->bbar) bB += dot(d + t * dout, L->bbar, dout);
                }
            }

            /* NaN/Inf in a_i or δ_i always reach the diagonal of the Gram sums (x² and 0·Inf are
             * not finite), so gg is the sample's finiteness test; z_i is checked on its own. */
            uint64_t bad = 0;
            if (!isfinite(gg)) bad = count_nonfinite(a, T * din) + count_nonfinite(d, rowlen);
            if (z && !isfinite(gw)) bad += count_nonfinite(z, rowlen);
            if (bad) {
                out->nonfinite += bad;
                out->bad_samples++;
                gg = bb = gw = gG = bw = bB = NAN;
            }

            gw *= sc; gG *= sc; bw *= sc; bB *= sc;
            gg *= sc * sc; bb *= sc * sc;
            if (out->gw) out->gw[i] = fin(gw);
            if (out->gg) out->gg[i] = fin(gg);
            if (out->gG) out->gG[i] = L->Gbar ? fin(gG) : NAN;
            if (out->gamma) out->gamma[i] = fin(-gw / (sqrt(gg) * wn + 1e-12));
            if (out->bw) out->bw[i] = L->bias ? fin(bw) : NAN;
            if (out->bb) out->bb[i] = L->bias ? fin(bb) : NAN;
            if (out->bB) out->bB[i] = (L->bias && L->bbar) ? fin(bB) : NAN;
            if (out->bgamma) out->bgamma[i] = L->bias ? fin(-bw / (sqrt(bb) * bn + 1e-12)) : NAN;
        }
    }
    return 0;
}

void tt_persample_mean_grad(size_t B, size_t T, size_t d_in, size_t d_out, const float *A,
                            const float *D, double scale, float *Gbar, float *bbar)
{
    size_t rows = B * T;
    if (!rows) {
        for (size_t k = 0; Gbar && k < d_out * d_in; k++) Gbar[k] = NAN;
        for (size_t o = 0; bbar && o < d_out; o++) bbar[o] = NAN;
        return;
    }
    double alpha = scale / (double)B;
    if (Gbar && d_in && d_out)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d_out, (int)d_in, (int)rows,
                    (float)alpha, D, (int)d_out, A, (int)d_in, 0.0f, Gbar, (int)d_in);
    if (!bbar) return;
    /* Column sums in double, a block of columns at a time so the rows are read contiguously. */
    enum { BLK = 256 };
    double acc[BLK];
    for (size_t o0 = 0; o0 < d_out; o0 += BLK) {
        size_t m = d_out - o0 < BLK ? d_out - o0 : BLK;
        memset(acc, 0, sizeof acc);
        for (size_t r = 0; r < rows; r++) {
            const float *dr = D + r * d_out + o0;
#pragma omp simd
            for (size_t k = 0; k < m; k++) acc[k] += dr[k];
        }
        for (size_t k = 0; k < m; k++) bbar[o0 + k] = (float)(alpha * acc[k]);
    }
}

int tt_softmax_ce_persample(const tt_softmax_head *h, tt_persample_out *out, float *delta_out)
{
    const size_t B = h->B, K = h->K, d = h->d;
    if (!h->logits || !h->feat || !h->W || (!h->targets && !h->soft) || !K || !d) return -1;
    out->nonfinite = 0;
    out->bad_samples = 0;
    out->w_norm2 = norm2_counted(h->W, K * d, &out->nonfinite);
    out->bias_norm2 = norm2_counted(h->bias, K, &out->nonfinite);
    out->gbar_norm2 = out->bbar_norm2 = NAN;
    const double wn = sqrt(out->w_norm2), bn = sqrt(out->bias_norm2);

    for (size_t i = 0; i < B; i++) {
        const float *l = h->logits + i * K, *y = h->soft ? h->soft + i * K : NULL;
        const float *b = h->bias;
        long tgt = y ? -1 : (long)h->targets[i];
        double a2 = dot(h->feat + i * d, h->feat + i * d, d);
        /* Stable softmax: shift by the max logit, so exp never overflows and the sum is ≥ 1. */
        double mx = -INFINITY, ysum = 0;
        for (size_t k = 0; k < K; k++) {
            if (l[k] > mx) mx = l[k];
            if (y) ysum += y[k];
        }
        double den = 0;
        for (size_t k = 0; k < K; k++) den += exp((double)l[k] - mx);
        int bad_target = !y && (tgt < 0 || (size_t)tgt >= K);
        double gw = 0, dd = 0, bw = 0;
        for (size_t k = 0; k < K; k++) {
            double p = exp((double)l[k] - mx) / den;
            double yk = y ? y[k] : (long)k == tgt;
            double dk = y ? p * ysum - yk : p - yk;
            gw += dk * ((double)l[k] - (b ? b[k] : 0.0f));
            dd += dk * dk;
            if (b) bw += dk * b[k];
            if (delta_out) delta_out[i * K + k] = (float)dk;
        }
        double gg = dd * a2;
        int nonfin = !isfinite(gg) || !isfinite(gw) || !isfinite(mx);
        if (nonfin || bad_target) {
            uint64_t bad = count_nonfinite(l, K) + count_nonfinite(h->feat + i * d, d) +
                           count_nonfinite(y, y ? K : 0);
            out->nonfinite += bad;
            out->bad_samples++;
            gw = gg = dd = bw = NAN;
            if (delta_out)
                for (size_t k = 0; k < K; k++) delta_out[i * K + k] = NAN;
        }
        if (out->gw) out->gw[i] = fin(gw);
        if (out->gg) out->gg[i] = fin(gg);
        if (out->gG) out->gG[i] = NAN;
        if (out->gamma) out->gamma[i] = fin(-gw / (sqrt(gg) * wn + 1e-12));
        if (out->bw) out->bw[i] = b ? fin(bw) : NAN;
        if (out->bb) out->bb[i] = b ? fin(dd) : NAN;
        if (out->bB) out->bB[i] = NAN;
        if (out->bgamma) out->bgamma[i] = b ? fin(-bw / (sqrt(dd) * bn + 1e-12)) : NAN;
    }
    return 0;
}
