/* layerstats: the fused single pass. The loop reads each element of W, G, W_prev, W_0 once, keeps
 * every sum in double (a float product is exact in double) and vectorises through omp simd
 * reductions, so it runs at memory speed without -ffast-math. NaN/Inf are found from the sums:
 * only when a sum is not finite does a second pass count the offending entries. */
#include "layerstats.h"
#include "angle.h"

#include <math.h>

double tt_angle_from_norms(double na, double nb, double ndiff)
{
    return tt_angle_inline(na, nb, ndiff);
}

static size_t count_nonfinite(const float *x, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !isfinite(x[i]);
    return bad;
}

typedef struct {
    double ww, gg, gw, w, dd, pp, d0;   /* Σw², Σg², Σgw, Σ(w−K), Σ(w−p)², Σp², Σ(w−w0)² */
    double wsh2;                        /* Σ(w−K)² for the variance, K a shift against cancellation */
} sums;

/* x86-64-v3 (AVX2+FMA) doubles the speed of the double-precision sums; the ifunc picks it at load
 * time, so one binary still runs on any x86-64. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define TT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TT_CLONES
#endif

/* One row: all sums at once. Separate loops per optional input keep each one vectorisable. */
static inline __attribute__((always_inline)) void row_sums(const float *w, const float *g, const float *p,
                     const float *w0, float *out, size_t n, double shift, sums *s)
{
    double ww = 0, gg = 0, gw = 0, sw = 0, sw2 = 0, dd = 0, pp = 0, d0 = 0;
    if (p && w0) {
#pragma omp simd reduction(+:ww,gg,gw,sw,sw2,dd,pp,d0)
        for (size_t i = 0; i < n; i++) {
            double wi = w[i], gi = g[i], pi = p[i], zi = w0[i], ci = wi - shift;
            ww += wi * wi; gg += gi * gi; gw += gi * wi; sw += ci; sw2 += ci * ci;
            dd += (wi - pi) * (wi - pi); pp += pi * pi; d0 += (wi - zi) * (wi - zi);
        }
    } else if (p) {
#pragma omp simd reduction(+:ww,gg,gw,sw,sw2,dd,pp)
        for (size_t i = 0; i < n; i++) {
            double wi = w[i], gi = g[i], pi = p[i], ci = wi - shift;
            ww += wi * wi; gg += gi * gi; gw += gi * wi; sw += ci; sw2 += ci * ci;
            dd += (wi - pi) * (wi - pi); pp += pi * pi;
        }
    } else {
#pragma omp simd reduction(+:ww,gg,gw,sw,sw2)
        for (size_t i = 0; i < n; i++) {
            double wi = w[i], gi = g[i], ci = wi - shift;
            ww += wi * wi; gg += gi * gi; gw += gi * wi; sw += ci; sw2 += ci * ci;
        }
        if (w0) {
#pragma omp simd reduction(+:d0)
            for (size_t i = 0; i < n; i++) {
                double di = (double)w[i] - w0[i];
                d0 += di * di;
            }
        }
    }
    if (out)
        for (size_t i = 0; i < n; i++) out[i] = w[i];   /* after the reads: out may alias p */
    s->ww = ww; s->gg = gg; s->gw = gw; s->w = sw; s->wsh2 = sw2; s->dd = dd; s->pp = pp; s->d0 = d0;
}

TT_CLONES void tt_layer_stats(const float *w, const float *g, const float *w_prev, const float *w0,
                              float *prev_out, size_t rows, size_t cols, double out[TT_NSTATS])
{
    size_t n = rows * cols;
    /* A vector (bias, norm gain) has no output rows to speak of: one row, and angle_rows = angle. */
    if (cols == 1) { cols = rows; rows = 1; }
    sums t = {0};
    double row_angle2 = 0;
    size_t row_angles = 0;
    double shift = n ? w[0] : 0;
    if (!isfinite(shift)) shift = 0;

    for (size_t r = 0; r < rows; r++) {
        size_t o = r * cols;
        sums s;
        row_sums(w + o, g + o, w_prev ? w_prev + o : NULL, w0 ? w0 + o : NULL,
                 prev_out ? prev_out + o : NULL, cols, shift, &s);
        t.ww += s.ww; t.gg += s.gg; t.gw += s.gw; t.w += s.w; t.wsh2 += s.wsh2;
        t.dd += s.dd; t.pp += s.pp; t.d0 += s.d0;
        if (w_prev && rows > 1) {
            double a = tt_angle_from_norms(sqrt(s.pp), sqrt(s.ww), sqrt(s.dd));
            if (!isnan(a)) { row_angle2 += a * a; row_angles++; }
        }
    }

    double nonfinite = 0;
    int finite = isfinite(t.ww) && isfinite(t.gg) && isfinite(t.gw) && isfinite(t.pp) && isfinite(t.d0);
    if (!finite)
        nonfinite = (double)(count_nonfinite(w, n) + count_nonfinite(g, n));
    if (nonfinite > 0) {
        for (int k = 0; k < TT_NSTATS; k++) out[k] = NAN;
        out[TT_NONFINITE] = nonfinite;
        return;
    }
    /* finite inputs can still overflow double sums only beyond 1e300: treat as not finite above */

    double wn = sqrt(t.ww), gn = sqrt(t.gg), dn = sqrt(t.dd), pn = sqrt(t.pp);
    double nd = (double)n;
    out[TT_W_NORM] = n ? wn : NAN;
    out[TT_G_NORM] = n ? gn : NAN;
    out[TT_W_RMS] = n ? wn / sqrt(nd) : NAN;
    out[TT_G_RMS] = n ? gn / sqrt(nd) : NAN;
    if (n) {
        double mean_c = t.w / nd;
        double var = t.wsh2 / nd - mean_c * mean_c;
        out[TT_W_VAR] = var < 0 ? 0 : var;
    } else {
        out[TT_W_VAR] = NAN;
    }
    out[TT_UPDATE_NORM] = (w_prev && n) ? dn : NAN;
    out[TT_UPDATE_RATIO] = w_prev ? tt_safe_div_inline(dn, pn) : NAN;
    out[TT_ANGLE] = w_prev ? tt_angle_from_norms(pn, wn, dn) : NAN;
    if (!w_prev)
        out[TT_ANGLE_ROWS] = NAN;
    else if (rows > 1)
        out[TT_ANGLE_ROWS] = row_angles ? sqrt(row_angle2 / (double)row_angles) : NAN;
    else
        out[TT_ANGLE_ROWS] = out[TT_ANGLE];
    out[TT_GW_COS] = tt_safe_div_inline(-t.gw, gn * wn);
    out[TT_DIST_INIT] = (w0 && n) ? sqrt(t.d0) : NAN;
    out[TT_NONFINITE] = 0;
}
