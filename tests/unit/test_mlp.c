/* Unit tests for examples/mlp.c: gradients, data generation, optimizers, schedule, training, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../examples/mlp.h"

static char err[256];

/* ---- helpers ------------------------------------------------------------------------------- */

static mlp *tiny_model(int in, int h1, int h2, int classes, int batch, uint64_t seed)
{
    mlp_config c;
    mlp_config_default(&c);
    c.in = in;
    c.classes = classes;
    c.n_hidden = 2;
    c.hidden[0] = h1;
    c.hidden[1] = h2;
    c.batch = batch;
    c.seed = seed;
    mlp *m = NULL;
    assert_int_equal(mlp_create(&c, &m, err, sizeof err), 0);
    assert_non_null(m);
    return m;
}

static double batch_loss(mlp *m, const float *x, const int *y, int n)
{
    double loss;
    assert_int_equal(mlp_forward(m, x, y, n, &loss, NULL, err, sizeof err), 0);
    return loss;
}

/* Sign pattern of every hidden pre-activation: a finite difference is only valid when the
 * perturbation leaves it unchanged (no ReLU kink crossed between w-h and w+h). */
static void relu_pattern(const mlp *m, unsigned char *out)
{
    size_t k = 0;
    for (int l = 0; l < m->n_layers - 1; l++)
        for (size_t i = 0; i < (size_t)m->rows * (size_t)m->layers[l].out; i++)
            out[k++] = m->layers[l].z[i] > 0.0f;
}

static size_t hidden_units(const mlp *m)
{
    size_t n = 0;
    for (int l = 0; l < m->n_layers - 1; l++)
        n += (size_t)m->rows * (size_t)m->layers[l].out;
    return n;
}

/* ---- gradients ----------------------------------------------------------------------------- */

/* Every analytic gradient entry of a 6-8-7-5 network on a batch of 10 against a central difference.
 * The model computes in float32; the loss is accumulated in double and the difference divides by
 * the exact float step actually taken ((w+h) - (w-h) in double), so the check itself adds no error.
 * Expected error: float rounding of the logits (~1e-7 relative) over 2h = 2e-2 gives ~1e-5, the
 * O(h^2) truncation term ~1e-5 relative. Tolerance: |analytic - numeric| <= 1e-4 + 1e-2 |numeric|,
 * a 10x margin that still catches any wrong term (those are off by O(|g|) ~ 1e-2..1e-1). Entries
 * whose perturbation flips a ReLU are skipped; there must be few. */
static void test_gradients_match_finite_differences(void **state)
{
    (void)state;
    enum { IN = 6, H1 = 8, H2 = 7, K = 5, N = 10 };
    const double h = 1e-2;
    mlp *m = tiny_model(IN, H1, H2, K, N, 7);
    float x[N * IN];
    int y[N];
    mlp_rng r;
    mlp_rng_seed(&r, 99);
    for (int i = 0; i < N * IN; i++)
        x[i] = (float)mlp_rng_normal(&r);
    for (int i = 0; i < N; i++)
        y[i] = (int)mlp_rng_below(&r, K);
    /* non-zero biases so their gradients are exercised away from the symmetric start */
    for (int l = 0; l < m->n_layers; l++)
        for (int j = 0; j < m->layers[l].out; j++)
            m->layers[l].b[j] = (float)(0.1 * mlp_rng_normal(&r));

    batch_loss(m, x, y, N);
    assert_int_equal(mlp_backward(m, err, sizeof err), 0);
    size_t nu = hidden_units(m);
    unsigned char *base = malloc(nu), *pat = malloc(nu);
    relu_pattern(m, base);

    int checked = 0, skipped = 0;
    double worst = 0.0;
    for (int p = 0; p < mlp_param_count(m); p++) {
        const char *name;
        size_t rows, cols;
        float *w, *g;
        assert_int_equal(mlp_param(m, p, &name, &rows, &cols, &w, &g), 0);
        float *ga = malloc(rows * cols * sizeof *ga);
        memcpy(ga, g, rows * cols * sizeof *ga);  /* later forwards leave g alone, but be explicit */
        for (size_t i = 0; i < rows * cols; i++) {
            float orig = w[i];
            float wp = (float)(orig + h), wm = (float)(orig - h);
            w[i] = wp;
            double lp = batch_loss(m, x, y, N);
            relu_pattern(m, pat);
            int kink = memcmp(base, pat, nu) != 0;
            w[i] = wm;
            double lm = batch_loss(m, x, y, N);
            relu_pattern(m, pat);
            kink |= memcmp(base, pat, nu) != 0;
            w[i] = orig;
            if (kink) {
                skipped++;
                continue;
            }
            double num = (lp - lm) / ((double)wp - (double)wm);
            double diff = fabs(ga[i] - num);
            if (diff > 1e-4 + 1e-2 * fabs(num))
                fail_msg("%s[%zu]: analytic %.7g, numeric %.7g", name, i, (double)ga[i], num);
            if (diff > worst)
                worst = diff;
            checked++;
        }
        free(ga);
    }
    /* 6*8+8 + 8*7+7 + 7*5+5 = 159 entries */
    assert_int_equal(checked + skipped, 159);
    assert_true(skipped <= 159 / 10);
    print_message("gradient check: %d entries, %d skipped at ReLU kinks, worst |diff| %.2g\n",
                  checked, skipped, worst);
    free(base);
    free(pat);
    mlp_free(m);
}

/* The delta buffers hold dL/dz: the output layer's is (softmax - onehot) / n. */
static void test_output_delta_is_softmax_minus_onehot(void **state)
{
    (void)state;
    mlp *m = tiny_model(3, 4, 4, 3, 2, 1);
    float x[6] = {0.5f, -1.0f, 2.0f, 1.0f, 0.0f, -0.5f};
    int y[2] = {2, 0};
    batch_loss(m, x, y, 2);
    assert_int_equal(mlp_backward(m, err, sizeof err), 0);
    const mlp_layer *out = &m->layers[m->n_layers - 1];
    assert_ptr_equal(m->logits, out->z);
    for (int i = 0; i < 2; i++) {
        double sum = 0.0;
        for (int j = 0; j < 3; j++) {
            float p = m->probs[i * 3 + j];
            sum += p;
            assert_float_equal(out->delta[i * 3 + j], (p - (j == y[i])) / 2.0f, 1e-7);
        }
        assert_float_equal(sum, 1.0, 1e-6);
    }
    mlp_free(m);
}

/* A NaN weight must surface as a non-finite loss (ReLU passes NaN on), or divergence goes unseen. */
static void test_nan_reaches_the_loss(void **state)
{
    (void)state;
    mlp *m = tiny_model(3, 4, 4, 3, 2, 1);
    float x[6] = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
    int y[2] = {0, 1};
    m->layers[0].W[0] = NAN;
    assert_false(isfinite(batch_loss(m, x, y, 2)));
    mlp_free(m);
}

/* ---- data ---------------------------------------------------------------------------------- */

/* splitmix64 from 0 gives the published first outputs: the seeding is the reference algorithm. */
static void test_rng_matches_reference(void **state)
{
    (void)state;
    mlp_rng r;
    mlp_rng_seed(&r, 0);
    assert_true(r.s[0] == 0xe220a8397b1dcdafULL);
    assert_true(r.s[1] == 0x6e789e6aa1b965f4ULL);
    assert_true(r.s[2] == 0x06c45d188009454fULL);
    assert_true(r.s[3] == 0xf88bb8a8724c81ecULL);
    for (int i = 0; i < 1000; i++) {
        double u = mlp_rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        assert_true(mlp_rng_below(&r, 7) < 7);
    }
}

static int splits_equal(const mlp_split *a, const mlp_split *b)
{
    return a->n == b->n && memcmp(a->x, b->x, (size_t)a->n * (size_t)a->dim * sizeof(float)) == 0 &&
           memcmp(a->y, b->y, (size_t)a->n * sizeof(int)) == 0;
}

static void test_data_is_deterministic(void **state)
{
    (void)state;
    mlp_data_config c;
    mlp_data_config_default(&c);
    mlp_dataset a, b, d;
    assert_int_equal(mlp_data_generate(&c, &a, err, sizeof err), 0);
    assert_int_equal(mlp_data_generate(&c, &b, err, sizeof err), 0);
    assert_true(splits_equal(&a.train, &b.train));
    assert_true(splits_equal(&a.val, &b.val));
    c.seed = 2;
    assert_int_equal(mlp_data_generate(&c, &d, err, sizeof err), 0);
    assert_false(splits_equal(&a.train, &d.train));
    mlp_data_free(&d);
    /* separate streams: a different training size leaves the validation split as it was */
    c.seed = 1;
    c.n_train = 500;
    assert_int_equal(mlp_data_generate(&c, &d, err, sizeof err), 0);
    assert_true(splits_equal(&a.val, &d.val));
    mlp_data_free(&a);
    mlp_data_free(&b);
    mlp_data_free(&d);
    assert_null(d.train.x);
}

static void check_noise(double p, int n)
{
    mlp_data_config c;
    mlp_data_config_default(&c);
    c.label_noise = p;
    c.n_train = n;
    mlp_dataset d;
    assert_int_equal(mlp_data_generate(&c, &d, err, sizeof err), 0);
    int changed = 0, per_class[10] = {0};
    for (int i = 0; i < n; i++) {
        assert_in_range(d.train.y[i], 0, c.classes - 1);
        changed += d.train.y[i] != d.train.y_clean[i];
        per_class[d.train.y_clean[i]]++;
    }
    /* exactly round(p n) labels, each replaced by a *different* class */
    assert_int_equal(changed, (int)floor(p * n + 0.5));
    assert_int_equal(d.n_noisy, changed);
    for (int k = 0; k < 10; k++)
        assert_in_range(per_class[k], n / 10, n / 10 + 1);
    for (int i = 0; i < d.val.n; i++)
        assert_int_equal(d.val.y[i], d.val.y_clean[i]);
    mlp_data_free(&d);
}

static void test_label_noise_fraction(void **state)
{
    (void)state;
    check_noise(0.0, 2000);
    check_noise(0.3, 2000);
    check_noise(0.25, 1001);
    check_noise(1.0, 500);
}

/* Noisy labels are spread over the other classes, not pushed onto one. */
static void test_label_noise_is_spread(void **state)
{
    (void)state;
    mlp_data_config c;
    mlp_data_config_default(&c);
    c.label_noise = 1.0;
    c.n_train = 10000;
    mlp_dataset d;
    assert_int_equal(mlp_data_generate(&c, &d, err, sizeof err), 0);
    int offset[10] = {0};
    for (int i = 0; i < d.train.n; i++)
        offset[(d.train.y[i] - d.train.y_clean[i] + 10) % 10]++;
    assert_int_equal(offset[0], 0);
    for (int k = 1; k < 10; k++)  /* expected 10000/9 = 1111 each, sd ~31 */
        assert_in_range(offset[k], 1111 - 200, 1111 + 200);
    mlp_data_free(&d);
}

/* ---- optimizers and schedule --------------------------------------------------------------- */

/* A 2-input, 2-class model with no hidden layer: set w and g by hand, take single steps. */
static mlp *one_layer(mlp_optimizer opt)
{
    mlp_config c;
    mlp_config_default(&c);
    c.in = 2;
    c.classes = 2;
    c.n_hidden = 0;
    c.optimizer = opt;
    c.lr = 0.1;
    c.wd = 0.1;
    c.momentum = 0.9;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    mlp *m = NULL;
    assert_int_equal(mlp_create(&c, &m, err, sizeof err), 0);
    return m;
}

static void set_grad(mlp *m, float g)
{
    mlp_layer *L = &m->layers[0];
    for (int i = 0; i < 4; i++)
        L->gW[i] = g;
    L->gb[0] = L->gb[1] = g;
}

/* lr 0.1, momentum 0.9, wd 0.1, w = b = 0.5, gradients 0.2 then -0.1:
 *   weight: v1 = 0.2 + 0.1*0.5 = 0.25,           w1 = 0.5 - 0.025 = 0.475
 *           v2 = 0.9*0.25 - 0.1 + 0.1*0.475 = 0.1725, w2 = 0.475 - 0.01725 = 0.45775
 *   bias (no decay): v1 = 0.2, b1 = 0.48;  v2 = 0.18 - 0.1 = 0.08, b2 = 0.472 */
static void test_sgd_momentum_step(void **state)
{
    (void)state;
    mlp *m = one_layer(MLP_SGD);
    mlp_layer *L = &m->layers[0];
    L->W[0] = 0.5f;
    L->b[0] = 0.5f;
    set_grad(m, 0.2f);
    assert_int_equal(mlp_update(m, 1, err, sizeof err), 0);
    assert_float_equal(L->W[0], 0.475, 1e-6);
    assert_float_equal(L->b[0], 0.48, 1e-6);
    assert_float_equal(L->sW[0][0], 0.25, 1e-6);
    assert_float_equal(L->gW[0], 0.2, 0);  /* the gradient buffer keeps the pure gradient */
    set_grad(m, -0.1f);
    assert_int_equal(mlp_update(m, 2, err, sizeof err), 0);
    assert_float_equal(L->W[0], 0.45775, 1e-6);
    assert_float_equal(L->b[0], 0.472, 1e-6);
    mlp_free(m);
}

/* lr 0.1, beta 0.9/0.999, eps 1e-8, wd 0.1 (decoupled), w = b = 0.5, gradients 0.2 then -0.1:
 *   t=1: m = 0.02, v = 4e-5, mhat = 0.2, vhat = 0.04, step = 0.2/(0.2+1e-8) = 0.99999995
 *        w1 = 0.5 - 0.1*(0.99999995 + 0.1*0.5) = 0.395000005;  b1 = 0.5 - 0.1*0.99999995 = 0.400000005
 *   t=2: m = 0.018 - 0.01 = 0.008, v = 3.996e-5 + 1e-5 = 4.996e-5,
 *        mhat = 0.008/0.19 = 0.0421053, vhat = 4.996e-5/0.001999 = 0.0249925, step = 0.2663373
 *        w2 = 0.395000005 - 0.1*(0.2663373 + 0.0395) = 0.3644163;  b2 = 0.400000005 - 0.02663373 = 0.3733663
 *   w = -1 with gradients -0.3 then 0.05: w1 = -0.89 (the first Adam step has size lr whatever |g|),
 *        w2 = -0.8272463 */
static void test_adamw_step(void **state)
{
    (void)state;
    mlp *m = one_layer(MLP_ADAMW);
    mlp_layer *L = &m->layers[0];
    L->W[0] = 0.5f;
    L->W[1] = -1.0f;
    L->b[0] = 0.5f;
    set_grad(m, 0.2f);
    L->gW[1] = -0.3f;
    assert_int_equal(mlp_update(m, 1, err, sizeof err), 0);
    assert_float_equal(L->W[0], 0.395000005, 1e-6);
    assert_float_equal(L->W[1], -0.89, 1e-6);
    assert_float_equal(L->b[0], 0.400000005, 1e-6);
    set_grad(m, -0.1f);
    L->gW[1] = 0.05f;
    assert_int_equal(mlp_update(m, 2, err, sizeof err), 0);
    assert_float_equal(L->W[0], 0.3644163, 1e-6);
    assert_float_equal(L->W[1], -0.8272463, 1e-6);
    assert_float_equal(L->b[0], 0.3733663, 1e-6);
    mlp_free(m);
}

static void test_lr_schedule(void **state)
{
    (void)state;
    mlp_config c;
    mlp_config_default(&c);
    c.lr = 1.0;
    c.warmup = 10;
    c.total_steps = 110;
    c.schedule = MLP_SCHED_COSINE;
    assert_float_equal(mlp_lr_at(&c, 1), 0.1, 1e-12);
    assert_float_equal(mlp_lr_at(&c, 5), 0.5, 1e-12);
    assert_float_equal(mlp_lr_at(&c, 10), 1.0, 1e-12);
    assert_float_equal(mlp_lr_at(&c, 60), 0.5, 1e-12);   /* half way through the decay */
    assert_float_equal(mlp_lr_at(&c, 110), 0.0, 1e-12);
    assert_float_equal(mlp_lr_at(&c, 500), 0.0, 1e-12);  /* past the end: stays at 0 */
    c.schedule = MLP_SCHED_CONST;
    assert_float_equal(mlp_lr_at(&c, 60), 1.0, 1e-12);
    c.warmup = 0;
    assert_float_equal(mlp_lr_at(&c, 1), 1.0, 1e-12);
}

/* ---- model plumbing ------------------------------------------------------------------------ */

static void test_params_are_exposed(void **state)
{
    (void)state;
    mlp_config c;
    mlp_config_default(&c);
    mlp *m = NULL;
    assert_int_equal(mlp_create(&c, &m, err, sizeof err), 0);
    static const char *names[] = {"fc1.weight", "fc1.bias", "fc2.weight",
                                  "fc2.bias",   "fc3.weight", "fc3.bias"};
    static const size_t shape[][2] = {{128, 32}, {128, 1}, {128, 128}, {128, 1}, {10, 128}, {10, 1}};
    assert_int_equal(mlp_param_count(m), 6);
    size_t total = 0;
    for (int i = 0; i < 6; i++) {
        const char *name;
        size_t rows, cols;
        float *w, *g;
        assert_int_equal(mlp_param(m, i, &name, &rows, &cols, &w, &g), 0);
        assert_string_equal(name, names[i]);
        assert_int_equal(rows, shape[i][0]);
        assert_int_equal(cols, shape[i][1]);
        assert_true(w != g);
        total += rows * cols;
    }
    assert_int_equal(total, mlp_num_weights(m));
    assert_int_equal(mlp_param(m, 6, NULL, NULL, NULL, NULL, NULL), -1);
    assert_int_equal(mlp_param(m, -1, NULL, NULL, NULL, NULL, NULL), -1);
    /* He init: weight variance close to 2/fan_in */
    double ss = 0.0;
    for (int i = 0; i < 128 * 128; i++)
        ss += (double)m->layers[1].W[i] * m->layers[1].W[i];
    assert_float_equal(ss / (128 * 128), 2.0 / 128, 0.1 * 2.0 / 128);
    mlp_free(m);
}

/* Evaluation uses its own scratch: the training activations survive it, and it agrees with a forward. */
static void test_evaluate_keeps_training_activations(void **state)
{
    (void)state;
    mlp_data_config dc;
    mlp_data_config_default(&dc);
    dc.n_train = 64;
    dc.n_val = 64;
    mlp_dataset d;
    assert_int_equal(mlp_data_generate(&dc, &d, err, sizeof err), 0);
    mlp_config c;
    mlp_config_default(&c);
    c.eval_batch = 24;  /* not a divisor of 64: exercises the short last chunk */
    mlp *m = NULL;
    assert_int_equal(mlp_create(&c, &m, err, sizeof err), 0);
    double loss;
    int correct;
    assert_int_equal(mlp_forward(m, d.val.x, d.val.y, 64, &loss, &correct, err, sizeof err), 0);
    float *probs = malloc(64 * 10 * sizeof *probs);
    memcpy(probs, m->probs, 64 * 10 * sizeof *probs);
    double el, ea;
    assert_int_equal(mlp_evaluate(m, &d.val, &el, &ea, err, sizeof err), 0);
    assert_memory_equal(probs, m->probs, 64 * 10 * sizeof *probs);
    assert_float_equal(el, loss, 1e-5);
    assert_float_equal(ea, correct / 64.0, 1e-12);
    free(probs);
    mlp_free(m);
    mlp_data_free(&d);
}

/* ---- training ------------------------------------------------------------------------------ */

static void run_default(int steps, mlp_optimizer opt, double *out_val_acc, double *best_val_loss,
                        int *best_step, double *final_val_loss, double *final_train_loss)
{
    mlp_data_config dc;
    mlp_data_config_default(&dc);
    mlp_dataset d;
    assert_int_equal(mlp_data_generate(&dc, &d, err, sizeof err), 0);
    mlp_config c;
    mlp_config_default(&c);
    c.optimizer = opt;
    if (opt == MLP_ADAMW) {
        c.lr = 1e-3;
        c.wd = 0.01;
    }
    mlp *m = NULL;
    assert_int_equal(mlp_create(&c, &m, err, sizeof err), 0);
    *best_val_loss = INFINITY;
    double vl = 0, va = 0, tl = 0, ta;
    for (int s = 1; s <= steps; s++) {
        double loss;
        assert_int_equal(mlp_train_step(m, &d.train, s, &loss, err, sizeof err), 0);
        assert_true(isfinite(loss));
        if (s % 50 == 0 || s == steps) {
            assert_int_equal(mlp_evaluate(m, &d.val, &vl, &va, err, sizeof err), 0);
            if (vl < *best_val_loss) {
                *best_val_loss = vl;
                *best_step = s;
            }
        }
    }
    assert_int_equal(mlp_evaluate(m, &d.train, &tl, &ta, err, sizeof err), 0);
    *out_val_acc = va;
    *final_val_loss = vl;
    *final_train_loss = tl;
    mlp_free(m);
    mlp_data_free(&d);
}

/* 300 SGD steps at the defaults reach well above the 10% chance level (about 85% measured). */
static void test_sgd_learns(void **state)
{
    (void)state;
    double acc, best, vl, tl;
    int best_step = 0;
    run_default(300, MLP_SGD, &acc, &best, &best_step, &vl, &tl);
    print_message("300 SGD steps: val_acc %.3f val_loss %.3f\n", acc, vl);
    assert_true(acc > 0.6);
}

/* The demo's promise: learn, then memorise the noisy labels. At the defaults val_loss bottoms out
 * around step 600 and has clearly risen by step 2000 while the train loss keeps falling. */
static void test_defaults_learn_then_overfit(void **state)
{
    (void)state;
    double acc, best, vl, tl;
    int best_step = 0;
    run_default(2000, MLP_SGD, &acc, &best, &best_step, &vl, &tl);
    print_message("2000 SGD steps: best val_loss %.3f at %d, final val_loss %.3f train_loss %.3f\n",
                  best, best_step, vl, tl);
    assert_true(best_step <= 1000);
    assert_true(vl > best + 0.05);
    assert_true(tl < 0.3);
}

/* ---- rejected inputs ----------------------------------------------------------------------- */

static void expect_config_error(const mlp_config *c, const char *word)
{
    mlp *m = (mlp *)1;
    err[0] = '\0';
    assert_int_equal(mlp_create(c, &m, err, sizeof err), -1);
    assert_null(m);
    assert_non_null(strstr(err, word));
    assert_null(strchr(err, '\n'));  /* one line */
}

static void test_bad_model_config(void **state)
{
    (void)state;
    mlp_config base, c;
    mlp_config_default(&base);
    c = base, c.in = 0;
    expect_config_error(&c, "input");
    c = base, c.classes = 1;
    expect_config_error(&c, "classes");
    c = base, c.n_hidden = MLP_MAX_HIDDEN + 1;
    expect_config_error(&c, "hidden");
    c = base, c.hidden[1] = 0;
    expect_config_error(&c, "hidden layer 2");
    c = base, c.batch = 0;
    expect_config_error(&c, "batch");
    c = base, c.lr = 0.0;
    expect_config_error(&c, "lr");
    c = base, c.lr = NAN;
    expect_config_error(&c, "lr");
    c = base, c.momentum = 1.0;
    expect_config_error(&c, "momentum");
    c = base, c.beta2 = -0.1;
    expect_config_error(&c, "beta2");
    c = base, c.wd = -1.0;
    expect_config_error(&c, "weight decay");
    c = base, c.optimizer = (mlp_optimizer)7;
    expect_config_error(&c, "optimizer");
    c = base, c.schedule = (mlp_schedule)7;
    expect_config_error(&c, "schedule");
    c = base, c.warmup = c.total_steps + 1;
    expect_config_error(&c, "warm-up");
    c = base, c.total_steps = 0;
    expect_config_error(&c, "total steps");
    c = base, c.hidden[0] = c.hidden[1] = MLP_MAX_WIDTH;  /* 4e9 weights: refused, not OOM-killed */
    expect_config_error(&c, "parameters");
    assert_int_equal(mlp_create(NULL, NULL, err, sizeof err), -1);
}

static void test_bad_data_config(void **state)
{
    (void)state;
    mlp_data_config base, c;
    mlp_data_config_default(&base);
    mlp_dataset d;
    c = base, c.label_noise = 1.5;
    assert_int_equal(mlp_data_generate(&c, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "label_noise"));
    assert_null(d.train.x);
    c = base, c.label_noise = -0.1;
    assert_int_equal(mlp_data_generate(&c, &d, err, sizeof err), -1);
    c = base, c.classes = 1;
    assert_int_equal(mlp_data_generate(&c, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "classes"));
    c = base, c.n_val = 0;
    assert_int_equal(mlp_data_generate(&c, &d, err, sizeof err), -1);
    c = base, c.cluster_std = 0.0;
    assert_int_equal(mlp_data_generate(&c, &d, err, sizeof err), -1);
    assert_int_equal(mlp_data_check(&base, err, sizeof err), 0);
}

static void test_bad_calls(void **state)
{
    (void)state;
    mlp *m = tiny_model(3, 4, 4, 3, 2, 1);
    float x[9] = {0};
    int y[3] = {0, 1, 3};
    assert_int_equal(mlp_backward(m, err, sizeof err), -1);  /* no forward yet */
    assert_int_equal(mlp_forward(m, x, y, 3, NULL, NULL, err, sizeof err), -1);  /* > batch */
    assert_non_null(strstr(err, "rows"));
    assert_int_equal(mlp_forward(m, x, y + 1, 2, NULL, NULL, err, sizeof err), -1);  /* label 3 */
    assert_non_null(strstr(err, "label"));
    assert_int_equal(mlp_forward(m, x, NULL, 2, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(mlp_backward(m, err, sizeof err), -1);  /* no labels */
    mlp_data_config dc;
    mlp_data_config_default(&dc);
    dc.n_train = dc.n_val = 10;
    mlp_dataset d;
    assert_int_equal(mlp_data_generate(&dc, &d, err, sizeof err), 0);
    double loss;
    assert_int_equal(mlp_train_step(m, &d.train, 1, &loss, err, sizeof err), -1);  /* dim 32 != 3 */
    assert_non_null(strstr(err, "dim"));
    mlp_data_free(&d);
    mlp_free(m);
    mlp_free(NULL);
    mlp_data_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_match_finite_differences),
        cmocka_unit_test(test_output_delta_is_softmax_minus_onehot),
        cmocka_unit_test(test_nan_reaches_the_loss),
        cmocka_unit_test(test_rng_matches_reference),
        cmocka_unit_test(test_data_is_deterministic),
        cmocka_unit_test(test_label_noise_fraction),
        cmocka_unit_test(test_label_noise_is_spread),
        cmocka_unit_test(test_sgd_momentum_step),
        cmocka_unit_test(test_adamw_step),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_params_are_exposed),
        cmocka_unit_test(test_evaluate_keeps_training_activations),
        cmocka_unit_test(test_sgd_learns),
        cmocka_unit_test(test_defaults_learn_then_overfit),
        cmocka_unit_test(test_bad_model_config),
        cmocka_unit_test(test_bad_data_config),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests_name("mlp", tests, NULL, NULL);
}
