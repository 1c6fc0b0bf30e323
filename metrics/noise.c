/* noise: the gradient-noise formulas, kept close to their METRICS.md form. The only kernels are the
 * GSNR GEMM on squared inputs and two row scans; the rest is scalar arithmetic with guarded divisions. */
#include "noise.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static double div_(double a, double b)
{
    if (b == 0 || !isfinite(a) || !isfinite(b)) return NAN;
    double r = a / b;
    return isfinite(r) ? r : NAN;
}

static double sqrt_(double x)
{
    return x >= 0 && isfinite(x) ? sqrt(x) : NAN;
}

/* A variance that should be ≥ 0: slightly negative is rounding (Ḡ is float32, so its own norm is
 * only good to ~1e-7 relative) and means 0; clearly negative means the inputs were inconsistent. */
static double nonneg(double x, double terms)
{
    if (!isfinite(x)) return NAN;
    if (x >= 0) return x;
    return -x <= 1e-6 * fabs(terms) ? 0 : NAN;
}

void tt_noise_from_sums(double B, double S, double sum_p2, double gbar2, tt_noise *o)
{
    o->trace_sigma = o->g2 = o->b_simple = o->theta = NAN;
    o->var_inner = o->theta_inner = o->var_ortho = o->nu = NAN;
    if (!(B >= 2) || !isfinite(B) || !isfinite(S) || !isfinite(gbar2)) return;
    double n1 = B - 1, bg2 = B * gbar2;
    double tr = nonneg((S - bg2) / n1, (S + bg2) / n1);
    o->trace_sigma = tr;
    o->g2 = isfinite(tr) ? gbar2 - tr / B : NAN;
    o->b_simple = div_(tr, o->g2);
    o->theta = sqrt_(div_(tr, bg2));
    if (!isfinite(sum_p2)) return;
    double g4 = gbar2 * gbar2;
    o->var_inner = nonneg((sum_p2 - B * g4) / n1, (sum_p2 + B * g4) / n1);
    o->theta_inner = sqrt_(div_(o->var_inner, B * g4));
    double p2g = div_(sum_p2, gbar2);
    o->var_ortho = nonneg((S - p2g) / n1, (S + p2g) / n1);
    o->nu = sqrt_(div_(o->var_ortho, bg2));
}

void tt_noise_persample(size_t B, const double *g2, const double *P, double gbar2, tt_noise *out)
{
    double S = 0, sp2 = P ? 0 : NAN;
    for (size_t i = 0; i < B; i++) {
        S += g2[i];
        if (P) sp2 += P[i] * P[i];
    }
    tt_noise_from_sums((double)B, S, sp2, gbar2, out);
}

void tt_noise_cross_rank(size_t K, const double *local_norm2, double gbar2, double b, tt_noise_est *out)
{
    out->trace_sigma = out->g2 = out->b_simple = NAN;
    if (K < 2 || !isfinite(gbar2) || !(b > 0) || !isfinite(b)) return;
    double mean = 0, k = (double)K;
    for (size_t i = 0; i < K; i++) mean += local_norm2[i];
    mean /= k;
    if (!isfinite(mean)) return;
    /* Jensen: mean_k‖G_k‖² ≥ ‖mean_k G_k‖², so tr Σ_K ≥ 0 up to rounding. */
    double trk = nonneg((mean - gbar2) * k / (k - 1), (mean + gbar2) * k / (k - 1));
    out->g2 = (k * gbar2 - mean) / (k - 1);
    out->trace_sigma = b * trk;
    out->b_simple = div_(b * trk, out->g2);
}

void tt_noise_two_batch(double b, double gb_norm2, double B, double gB_norm2, tt_noise_est *out)
{
    out->trace_sigma = out->g2 = out->b_simple = NAN;
    if (!(b > 0) || !(B > b) || !isfinite(B) || !isfinite(gb_norm2) || !isfinite(gB_norm2)) return;
    /* One step's estimates are unbiased but noisy: either may come out < 0. Smooth, then divide. */
    out->g2 = div_(B * gB_norm2 - b * gb_norm2, B - b);
    out->trace_sigma = div_(gb_norm2 - gB_norm2, 1 / b - 1 / B);
    out->b_simple = div_(out->trace_sigma, out->g2);
}

void tt_ema_init(tt_ema *e, double beta)
{
    memset(e, 0, sizeof *e);
    e->beta = beta;
}

void tt_ema_add(tt_ema *e, double x)
{
    if (!isfinite(x)) { e->skipped++; return; }
    e->value = e->beta * e->value + (1 - e->beta) * x;
    e->weight = e->beta * e->weight + (1 - e->beta);
    e->t++;
}

double tt_ema_get(const tt_ema *e)
{
    return e->weight > 0 ? div_(e->value, e->weight) : NAN;
}

void tt_noise_scale_init(tt_noise_scale *s, double beta)
{
    tt_ema_init(&s->num, beta);
    tt_ema_init(&s->den, beta);
}

void tt_noise_scale_add(tt_noise_scale *s, double trace_sigma, double g2)
{
    /* Both or neither: the two averages must cover the same steps. */
    if (!isfinite(trace_sigma) || !isfinite(g2)) {
        s->num.skipped++;
        s->den.skipped++;
        return;
    }
    tt_ema_add(&s->num, trace_sigma);
    tt_ema_add(&s->den, g2);
}

double tt_noise_scale_get(const tt_noise_scale *s)
{
    double den = tt_ema_get(&s->den);
    return den > 0 ? div_(tt_ema_get(&s->num), den) : NAN;
}

#define GSNR_ROWS 64            /* output rows of Σ_i g_ij² per GEMM: bounds the workspace */

size_t tt_gsnr_work_size(size_t B, size_t d_in, size_t d_out)
{
    size_t rb = d_out < GSNR_ROWS ? d_out : GSNR_ROWS;
    return (B * d_in + B * d_out + rb * d_in) * sizeof(float);
}

/* x²·2^(−2e) into out, e the exponent of max|x| (so the scaled max is in [0.5, 1)). -1 when x holds
 * NaN/Inf, else e (0 for an all-zero x). */
static int squares_scaled(const float *x, size_t n, float *out, int *e)
{
    float mx = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) return -1;
        float ax = fabsf(x[i]);
        if (ax > mx) mx = ax;
    }
    *e = 0;
    if (mx > 0) frexp(mx, e);
    double s = ldexp(1.0, -*e);
    for (size_t i = 0; i < n; i++) {
        double v = x[i] * s;
        out[i] = (float)(v * v);
    }
    return 0;
}

/* One parameter's contribution: ḡ²/var, or 0 with *ok = 0 when its variance is rounding of 0. */
static double gsnr_one(double sumsq, double n, double gbar, int *ok)
{
    double m2 = sumsq / n, var = m2 - gbar * gbar;
    *ok = var > 1e-6 * m2;
    return *ok ? gbar * gbar / var : 0;
}

double tt_gsnr_dense(size_t B, size_t T, size_t d_in, size_t d_out, const float *A, const float *D,
                     double scale, const float *Gbar, void *work, size_t *used)
{
    if (used) *used = 0;
    if (T != 1 || !B || !d_in || !d_out || !A || !D || !Gbar || !work || !isfinite(scale)) return NAN;
    size_t rb = d_out < GSNR_ROWS ? d_out : GSNR_ROWS;
    float *A2 = work, *D2 = A2 + B * d_in, *S2 = D2 + B * d_out;
    int ea, ed;
    if (squares_scaled(A, B * d_in, A2, &ea) || squares_scaled(D, B * d_out, D2, &ed)) return NAN;
    /* Σ_i g_ij² = scale²·Σ_i δ_io² a_ik², undoing the exponent normalisation of the squares. */
    double unscale = ldexp(scale * scale, 2 * (ea + ed));
    double acc = 0, n = (double)B;
    size_t cnt = 0;
    for (size_t o0 = 0; o0 < d_out; o0 += rb) {
        size_t m = d_out - o0 < rb ? d_out - o0 : rb;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)d_in, (int)B, 1.0f,
                    D2 + o0, (int)d_out, A2, (int)d_in, 0.0f, S2, (int)d_in);
        for (size_t r = 0; r < m; r++) {
            const float *g = Gbar + (o0 + r) * d_in, *s2 = S2 + r * d_in;
            for (size_t k = 0; k < d_in; k++) {
                if (!isfinite(g[k])) return NAN;
                int ok;
                acc += gsnr_one(s2[k] * unscale, n, g[k], &ok);
                cnt += ok;
            }
        }
    }
    if (used) *used = cnt;
    return cnt && isfinite(acc) ? acc / (double)cnt : NAN;
}

double tt_gsnr_bias(size_t B, size_t T, size_t d_out, const float *D, double scale,
                    const float *bbar, size_t *used)
{
    if (used) *used = 0;
    if (!B || !T || !d_out || !D || !bbar || !isfinite(scale)) return NAN;
    enum { BLK = 256 };
    double bi[BLK], sq[BLK], acc = 0;
    size_t cnt = 0;
    for (size_t o0 = 0; o0 < d_out; o0 += BLK) {
        size_t m = d_out - o0 < BLK ? d_out - o0 : BLK;
        memset(sq, 0, sizeof sq);
        for (size_t i = 0; i < B; i++) {
            memset(bi, 0, sizeof bi);
            for (size_t t = 0; t < T; t++) {
                const float *d = D + (i * T + t) * d_out + o0;
                for (size_t k = 0; k < m; k++) bi[k] += d[k];
            }
            for (size_t k = 0; k < m; k++) sq[k] += bi[k] * bi[k];
        }
        for (size_t k = 0; k < m; k++) {
            if (!isfinite(sq[k]) || !isfinite(bbar[o0 + k])) return NAN;
            int ok;
            acc += gsnr_one(sq[k] * scale * scale, (double)B, bbar[o0 + k], &ok);
            cnt += ok;
        }
    }
    if (used) *used = cnt;
    return cnt && isfinite(acc) ? acc / (double)cnt : NAN;
}

int tt_scale_invariant(const float *W, const float *G, size_t rows, size_t cols, double *max_cos)
{
    double mx = -1;
    for (size_t r = 0; r < rows; r++) {
        const float *w = W + r * cols, *g = G + r * cols;
        double ww = 0, gg = 0, gw = 0;
#pragma omp simd reduction(+:ww,gg,gw)
        for (size_t k = 0; k < cols; k++) {
            double wk = w[k], gk = g[k];
            ww += wk * wk; gg += gk * gk; gw += wk * gk;
        }
        if (!isfinite(ww) || !isfinite(gg) || !isfinite(gw)) { mx = NAN; break; }
        if (ww == 0 || gg == 0) continue;              /* cosine undefined: the row says nothing */
        double c = fabs(gw) / sqrt(ww * gg);
        if (c > mx) mx = c;
    }
    int known = mx >= 0;                               /* false for NaN and for "no row" */
    if (max_cos) *max_cos = known ? mx : NAN;
    if (!known) return -1;
    return mx < 0.1 / sqrt((double)cols);
}

double tt_effective_step_sgd(double lr, double w_norm)
{
    return div_(lr, w_norm * w_norm);
}

double tt_equilibrium_angle_adamw(double lr, double wd, double beta1)
{
    return sqrt_(div_(2 * lr * wd * (1 - beta1), 1 + beta1));
}

double tt_equilibrium_angle_sgdm(double lr, double wd, double momentum)
{
    return sqrt_(div_(2 * lr * wd, 1 + momentum));
}
