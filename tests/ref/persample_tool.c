/* persample_tool: runs the §2 per-sample, noise, GSNR and GWA-window code on a case written by
 * test_persample.py and prints every result as `name value` lines (per-sample values as name.i).
 *
 * Case file, little-endian:
 *   int64 magic 0x31535054 ("TPS1"), kind (0 dense layer, 1 softmax-CE head), n1, n2, n3, n4, flags, 0
 *   float64 scale
 *   kind 0: n1..n4 = B, T, d_in, d_out; float32 A (B·T·d_in), D (B·T·d_out), W (d_out·d_in),
 *           [bias (d_out)] if flags&1, [Z (B·T·d_out)] if flags&2,
 *           [Gbar (d_out·d_in), bbar (d_out)] if flags&4 (else the tool computes them with
 *           tt_persample_mean_grad), and it prints Ḡ and b̄ entry by entry if flags&8.
 *   kind 1: n1..n3 = B, K, d; float32 logits (B·K); int32 targets (B), or float32 soft targets (B·K)
 *           if flags&16; float32 feat (B·d), W (K·d), [bias (K)] if flags&1. The closed form gives
 *           the per-sample weight and bias statistics; Ḡ-based ones run the dense path on its δ.
 * Exit status 0, or 1 with a line on stderr for a malformed file. */
#include "../../metrics/gwa.h"
#include "../../metrics/noise.h"
#include "../../metrics/persample.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HAS_BIAS = 1, HAS_Z = 2, GIVEN_GBAR = 4, PRINT_GBAR = 8, SOFT = 16 };

static FILE *in;
static const char *path;

static void *need(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) { fprintf(stderr, "persample_tool: out of memory\n"); exit(1); }
    return p;
}

static void *read_array(size_t n, size_t size)
{
    void *p = need(n, size);
    if (fread(p, size, n, in) != n) { fprintf(stderr, "%s: short file\n", path); exit(1); }
    return p;
}

static void print_array(const char *name, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) printf("%s.%zu %.17g\n", name, i, x[i]);
}

typedef struct {
    double *gw, *gg, *gG, *gamma, *bw, *bb, *bB, *bgamma;
} arrays;

static tt_persample_out alloc_out(size_t B, arrays *a)
{
    double **all[] = { &a->gw, &a->gg, &a->gG, &a->gamma, &a->bw, &a->bb, &a->bB, &a->bgamma };
    for (size_t k = 0; k < 8; k++) *all[k] = need(B, sizeof(double));
    return (tt_persample_out){ .gw = a->gw, .gg = a->gg, .gG = a->gG, .gamma = a->gamma,
                               .bw = a->bw, .bb = a->bb, .bB = a->bB, .bgamma = a->bgamma };
}

static void print_out(size_t B, const tt_persample_out *o)
{
    print_array("gw", o->gw, B);
    print_array("gg", o->gg, B);
    print_array("gG", o->gG, B);
    print_array("gamma", o->gamma, B);
    print_array("bw", o->bw, B);
    print_array("bb", o->bb, B);
    print_array("bB", o->bB, B);
    print_array("bgamma", o->bgamma, B);
    printf("w_norm2 %.17g\nbias_norm2 %.17g\ngbar_norm2 %.17g\nbbar_norm2 %.17g\n",
           o->w_norm2, o->bias_norm2, o->gbar_norm2, o->bbar_norm2);
    printf("nonfinite %llu\nbad_samples %llu\n", (unsigned long long)o->nonfinite,
           (unsigned long long)o->bad_samples);
}

/* Noise, GSNR and the GWA window (filled in two halves, merged, as two ranks would). */
static void print_derived(size_t B, size_t T, size_t din, size_t dout, const float *A, const float *D,
                          double scale, const float *Gbar, const float *bbar, const tt_persample_out *o)
{
    tt_noise n;
    tt_noise_persample(B, o->gg, o->gG, o->gbar_norm2, &n);
    printf("trace_sigma %.17g\ng2 %.17g\nb_simple %.17g\ntheta %.17g\n", n.trace_sigma, n.g2, n.b_simple, n.theta);
    printf("var_inner %.17g\ntheta_inner %.17g\nvar_ortho %.17g\nnu %.17g\n", n.var_inner, n.theta_inner,
           n.var_ortho, n.nu);
    size_t used = 0;
    void *work = need(tt_gsnr_work_size(B, din, dout), 1);
    printf("gsnr %.17g\n", A ? tt_gsnr_dense(B, T, din, dout, A, D, scale, Gbar, work, &used) : NAN);
    printf("gsnr_used %zu\n", used);
    printf("gsnr_bias %.17g\n", tt_gsnr_bias(B, T, dout, D, scale, bbar, &used));
    printf("gsnr_bias_used %zu\n", used);
    free(work);

    tt_gwa_window w1, w2;
    tt_gwa_window_reset(&w1);
    tt_gwa_window_reset(&w2);
    tt_gwa_window_add(&w1, o->gamma, B / 2);
    tt_gwa_window_add(&w2, o->gamma + B / 2, B - B / 2);
    tt_gwa_window_merge(&w1, &w2);
    tt_gwa_report r;
    tt_gwa_window_report(&w1, &r);
    printf("gwa %.17g\ngamma_mean %.17g\ngamma_std %.17g\ngamma_kurtosis %.17g\nfrac_neg %.17g\n",
           r.gwa, r.mean, r.std, r.kurtosis, r.frac_neg);
    printf("count %llu\ngamma_nonfinite %llu\n", (unsigned long long)r.count, (unsigned long long)r.nonfinite);
    for (int k = 0; k < TT_GWA_HIST_BINS; k++) printf("hist.%d %llu\n", k, (unsigned long long)r.hist[k]);
}

static int dense(const int64_t *h, double scale)
{
    size_t B = (size_t)h[2], T = (size_t)h[3], din = (size_t)h[4], dout = (size_t)h[5];
    int64_t fl = h[6];
    float *A = read_array(B * T * din, 4), *D = read_array(B * T * dout, 4), *W = read_array(dout * din, 4);
    float *bias = fl & HAS_BIAS ? read_array(dout, 4) : NULL;
    float *Z = fl & HAS_Z ? read_array(B * T * dout, 4) : NULL;
    float *Gbar, *bbar;
    if (fl & GIVEN_GBAR) {
        Gbar = read_array(dout * din, 4);
        bbar = read_array(dout, 4);
    } else {
        Gbar = need(dout * din, 4);
        bbar = need(dout, 4);
        tt_persample_mean_grad(B, T, din, dout, A, D, scale, Gbar, bbar);
    }
    if (fl & PRINT_GBAR) {
        for (size_t k = 0; k < dout * din; k++) printf("gbar.%zu %.17g\n", k, (double)Gbar[k]);
        for (size_t k = 0; k < dout; k++) printf("bbar.%zu %.17g\n", k, (double)bbar[k]);
    }
    arrays a;
    tt_persample_out o = alloc_out(B, &a);
    tt_dense L = { .B = B, .T = T, .d_in = din, .d_out = dout, .A = A, .D = D, .scale = scale, .W = W,
                   .bias = bias, .Z = Z, .Gbar = Gbar, .bbar = bbar };
    void *work = need(tt_persample_work_size(B, T, dout), 1);
    if (tt_dense_persample(&L, work, &o)) { fprintf(stderr, "%s: tt_dense_persample refused the case\n", path); return 1; }
    print_out(B, &o);
    print_derived(B, T, din, dout, A, D, scale, Gbar, bbar, &o);
    free(work); free(A); free(D); free(W); free(bias); free(Z); free(Gbar); free(bbar);
    double **all[] = { &a.gw, &a.gg, &a.gG, &a.gamma, &a.bw, &a.bb, &a.bB, &a.bgamma };
    for (size_t k = 0; k < 8; k++) free(*all[k]);
    return 0;
}

static int softmax(const int64_t *h)
{
    size_t B = (size_t)h[2], K = (size_t)h[3], d = (size_t)h[4];
    int64_t fl = h[6];
    float *logits = read_array(B * K, 4);
    int *targets = NULL;
    float *soft = NULL;
    if (fl & SOFT) soft = read_array(B * K, 4);
    else targets = read_array(B, sizeof(int));
    float *feat = read_array(B * d, 4), *W = read_array(K * d, 4);
    float *bias = fl & HAS_BIAS ? read_array(K, 4) : NULL;
    float *delta = need(B * K, 4);
    arrays a, c;
    tt_persample_out o = alloc_out(B, &a), od = alloc_out(B, &c);
    tt_softmax_head sh = { .B = B, .K = K, .d = d, .logits = logits, .targets = targets, .soft = soft,
                           .feat = feat, .W = W, .bias = bias };
    if (tt_softmax_ce_persample(&sh, &o, delta)) { fprintf(stderr, "%s: softmax head refused the case\n", path); return 1; }
    /* Ḡ-based statistics: the dense path on the closed-form δ, logits as Z. */
    float *Gbar = need(K * d, 4), *bbar = need(K, 4);
    tt_persample_mean_grad(B, 1, d, K, feat, delta, 1, Gbar, bbar);
    tt_dense L = { .B = B, .T = 1, .d_in = d, .d_out = K, .A = feat, .D = delta, .scale = 1, .W = W,
                   .bias = bias, .Z = logits, .Gbar = Gbar, .bbar = bbar };
    void *work = need(tt_persample_work_size(B, 1, K), 1);
    if (tt_dense_persample(&L, work, &od)) { fprintf(stderr, "%s: tt_dense_persample refused the case\n", path); return 1; }
    memcpy(o.gG, od.gG, B * sizeof(double));
    memcpy(o.bB, od.bB, B * sizeof(double));
    o.gbar_norm2 = od.gbar_norm2;
    o.bbar_norm2 = od.bbar_norm2;
    print_out(B, &o);
    print_array("dense_gw", od.gw, B);                 /* the dense path on δ must agree */
    print_array("dense_gg", od.gg, B);
    print_derived(B, 1, d, K, feat, delta, 1, Gbar, bbar, &o);
    free(work); free(logits); free(targets); free(soft); free(feat); free(W); free(bias); free(delta);
    free(Gbar); free(bbar);
    double **all[] = { &a.gw, &a.gg, &a.gG, &a.gamma, &a.bw, &a.bb, &a.bB, &a.bgamma,
                       &c.gw, &c.gg, &c.gG, &c.gamma, &c.bw, &c.bb, &c.bB, &c.bgamma };
    for (size_t k = 0; k < 16; k++) free(*all[k]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: persample_tool CASEFILE\n"); return 2; }
    path = argv[1];
    in = fopen(path, "rb");
    if (!in) { perror(path); return 1; }
    int64_t h[8];
    double scale;
    if (fread(h, sizeof h, 1, in) != 1 || fread(&scale, sizeof scale, 1, in) != 1 || h[0] != 0x31535054 ||
        h[2] < 0 || h[3] < 1 || h[4] < 1 || (h[1] == 0 && h[5] < 1) || h[1] < 0 || h[1] > 1) {
        fprintf(stderr, "%s: bad header\n", path);
        return 1;
    }
    int rc = h[1] == 0 ? dense(h, scale) : softmax(h);
    fclose(in);
    return rc;
}
