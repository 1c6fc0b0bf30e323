/* mlp: synthetic data, an MLP classifier, SGD/AdamW and evaluation. See mlp.h. */
#include "mlp.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- random numbers ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void mlp_rng_seed(mlp_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t mlp_rng_next(mlp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mlp_rng_uniform(mlp_rng *r)
{
    return (double)(mlp_rng_next(r) >> 11) * 0x1.0p-53;
}

uint32_t mlp_rng_below(mlp_rng *r, uint32_t n)
{
    /* Rejection on the top 32 bits: the accepted range is a multiple of n, so no modulo bias. */
    uint32_t limit = UINT32_MAX - UINT32_MAX % n;
    uint32_t v;
    do
        v = (uint32_t)(mlp_rng_next(r) >> 32);
    while (v >= limit);
    return v % n;
}

double mlp_rng_normal(mlp_rng *r)
{
    double s = 0.0;
    for (int i = 0; i < 12; i++)
        s += mlp_rng_uniform(r);
    return s - 6.0;
}

/* Stream k of a seed: one generator per purpose (centres, train, val, noise, init, batches), so a
 * change in how much one of them draws leaves the others' numbers as they were. */
static void rng_stream(mlp_rng *r, uint64_t seed, uint64_t k)
{
    uint64_t x = seed ^ (0xd1b54a32d192ed03ULL * (k + 1));
    mlp_rng_seed(r, splitmix64(&x));
}

/* ---- data ---------------------------------------------------------------------------------- */

void mlp_data_config_default(mlp_data_config *c)
{
    *c = (mlp_data_config){
        .dim = 32,
        .classes = 10,
        .n_train = 2000,
        .n_val = 1000,
        .clusters_per_class = 4,
        .cluster_std = 0.9,
        .label_noise = 0.3,
        .seed = 1,
    };
}

int mlp_data_check(const mlp_data_config *c, char *err, size_t errlen)
{
    if (!c)
        return fail(err, errlen, "data config is NULL");
    if (c->dim < 1 || c->dim > MLP_MAX_WIDTH)
        return fail(err, errlen, "data dim %d: expected 1..%d", c->dim, MLP_MAX_WIDTH);
    if (c->classes < 2 || c->classes > MLP_MAX_WIDTH)
        return fail(err, errlen, "data classes %d: expected 2..%d", c->classes, MLP_MAX_WIDTH);
    if (c->n_train < 1 || c->n_train > 10000000)
        return fail(err, errlen, "data n_train %d: expected 1..10000000", c->n_train);
    if (c->n_val < 1 || c->n_val > 10000000)
        return fail(err, errlen, "data n_val %d: expected 1..10000000", c->n_val);
    if (c->clusters_per_class < 1 || c->clusters_per_class > 1024)
        return fail(err, errlen, "data clusters_per_class %d: expected 1..1024",
                    c->clusters_per_class);
    if (!(c->cluster_std > 0.0 && c->cluster_std < 1e6))
        return fail(err, errlen, "data cluster_std %g: expected a positive number", c->cluster_std);
    if (!(c->label_noise >= 0.0 && c->label_noise <= 1.0))
        return fail(err, errlen, "data label_noise %g: expected 0..1", c->label_noise);
    if ((size_t)c->n_train * (size_t)c->dim > ((size_t)1 << 31) ||
        (size_t)c->n_val * (size_t)c->dim > ((size_t)1 << 31))
        return fail(err, errlen, "data set too large: n x dim must stay below 2^31 values");
    return 0;
}

static int split_alloc(mlp_split *s, int n, int dim, int classes)
{
    s->n = n;
    s->dim = dim;
    s->classes = classes;
    s->x = malloc((size_t)n * (size_t)dim * sizeof *s->x);
    s->y = malloc((size_t)n * sizeof *s->y);
    s->y_clean = malloc((size_t)n * sizeof *s->y_clean);
    return s->x && s->y && s->y_clean ? 0 : -1;
}

static void split_free(mlp_split *s)
{
    free(s->x);
    free(s->y);
    free(s->y_clean);
    memset(s, 0, sizeof *s);
}

/* Balanced classes (sample i has class i mod K), a uniformly chosen cluster of that class. */
static void fill_split(mlp_split *s, const float *centres, int clusters, double std, mlp_rng *r)
{
    for (int i = 0; i < s->n; i++) {
        int cls = i % s->classes;
        int c = cls * clusters + (int)mlp_rng_below(r, (uint32_t)clusters);
        const float *mu = centres + (size_t)c * (size_t)s->dim;
        float *x = s->x + (size_t)i * (size_t)s->dim;
        for (int j = 0; j < s->dim; j++)
            x[j] = (float)(mu[j] + std * mlp_rng_normal(r));
        s->y[i] = s->y_clean[i] = cls;
    }
}

/* Replaces exactly `count` distinct labels (a partial Fisher-Yates draw) by a different class. */
static int add_label_noise(mlp_split *s, int count, mlp_rng *r)
{
    int *idx = malloc((size_t)s->n * sizeof *idx);
    if (!idx)
        return -1;
    for (int i = 0; i < s->n; i++)
        idx[i] = i;
    for (int i = 0; i < count; i++) {
        int j = i + (int)mlp_rng_below(r, (uint32_t)(s->n - i));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        int k = idx[i];
        s->y[k] = (s->y_clean[k] + 1 + (int)mlp_rng_below(r, (uint32_t)(s->classes - 1))) %
                  s->classes;
    }
    free(idx);
    return 0;
}

int mlp_data_generate(const mlp_data_config *c, mlp_dataset *out, char *err, size_t errlen)
{
    if (!out)
        return fail(err, errlen, "data set output is NULL");
    memset(out, 0, sizeof *out);
    if (mlp_data_check(c, err, errlen) < 0)
        return -1;
    size_t n_centres = (size_t)c->classes * (size_t)c->clusters_per_class;
    float *centres = malloc(n_centres * (size_t)c->dim * sizeof *centres);
    if (!centres || split_alloc(&out->train, c->n_train, c->dim, c->classes) < 0 ||
        split_alloc(&out->val, c->n_val, c->dim, c->classes) < 0) {
        free(centres);
        mlp_data_free(out);
        return fail(err, errlen, "out of memory for the data set");
    }
    mlp_rng r;
    rng_stream(&r, c->seed, 0);
    for (size_t i = 0; i < n_centres * (size_t)c->dim; i++)
        centres[i] = (float)mlp_rng_normal(&r);
    rng_stream(&r, c->seed, 1);
    fill_split(&out->train, centres, c->clusters_per_class, c->cluster_std, &r);
    rng_stream(&r, c->seed, 2);
    fill_split(&out->val, centres, c->clusters_per_class, c->cluster_std, &r);
    free(centres);
    rng_stream(&r, c->seed, 3);
    out->n_noisy = (int)floor(c->label_noise * c->n_train + 0.5);
    if (add_label_noise(&out->train, out->n_noisy, &r) < 0) {
        mlp_data_free(out);
        return fail(err, errlen, "out of memory for the data set");
    }
    return 0;
}

void mlp_data_free(mlp_dataset *d)
{
    if (!d)
        return;
    split_free(&d->train);
    split_free(&d->val);
    d->n_noisy = 0;
}

/* ---- configuration ------------------------------------------------------------------------- */

void mlp_config_default(mlp_config *c)
{
    *c = (mlp_config){
        .in = 32,
        .classes = 10,
        .n_hidden = 2,
        .hidden = {128, 128},
        .batch = 64,
        .eval_batch = 256,
        .optimizer = MLP_SGD,
        .lr = 0.005,
        .momentum = 0.9,
        .beta1 = 0.9,
        .beta2 = 0.999,
        .eps = 1e-8,
        .wd = 0.0,
        .schedule = MLP_SCHED_CONST,
        .warmup = 0,
        .total_steps = 3000,
        .seed = 1,
    };
}

static int widest(const mlp_config *c)
{
    int w = c->in > c->classes ? c->in : c->classes;
    for (int i = 0; i < c->n_hidden; i++)
        if (c->hidden[i] > w)
            w = c->hidden[i];
    return w;
}

/* Allocation is lazy on Linux, so an absurd size would not fail in malloc but get the process
 * OOM-killed later: refuse it up front. */
static int check_size(const mlp_config *c, char *err, size_t errlen)
{
    size_t params = 0, in = (size_t)c->in;
    for (int l = 0; l <= c->n_hidden; l++) {
        size_t out = (size_t)(l < c->n_hidden ? c->hidden[l] : c->classes);
        params += out * (in + 1);
        in = out;
    }
    if (params > MLP_MAX_PARAMS)
        return fail(err, errlen, "model has %zu parameters: at most %d supported", params,
                    MLP_MAX_PARAMS);
    size_t act = ((size_t)c->batch + (size_t)c->eval_batch) * (size_t)widest(c);
    if (act > MLP_MAX_PARAMS)
        return fail(err, errlen, "batch x widest layer is too large (%zu values): at most %d",
                    act, MLP_MAX_PARAMS);
    return 0;
}

static int check_shape(const mlp_config *c, char *err, size_t errlen)
{
    if (c->in < 1 || c->in > MLP_MAX_WIDTH)
        return fail(err, errlen, "input dimension %d: expected 1..%d", c->in, MLP_MAX_WIDTH);
    if (c->classes < 2 || c->classes > MLP_MAX_WIDTH)
        return fail(err, errlen, "classes %d: expected 2..%d", c->classes, MLP_MAX_WIDTH);
    if (c->n_hidden < 0 || c->n_hidden > MLP_MAX_HIDDEN)
        return fail(err, errlen, "hidden layers %d: expected 0..%d", c->n_hidden, MLP_MAX_HIDDEN);
    for (int i = 0; i < c->n_hidden; i++)
        if (c->hidden[i] < 1 || c->hidden[i] > MLP_MAX_WIDTH)
            return fail(err, errlen, "hidden layer %d width %d: expected 1..%d", i + 1,
                        c->hidden[i], MLP_MAX_WIDTH);
    if (c->batch < 1 || c->batch > 1 << 16)
        return fail(err, errlen, "batch %d: expected 1..%d", c->batch, 1 << 16);
    if (c->eval_batch < 1 || c->eval_batch > 1 << 16)
        return fail(err, errlen, "eval batch %d: expected 1..%d", c->eval_batch, 1 << 16);
    return check_size(c, err, errlen);
}

static int check_optim(const mlp_config *c, char *err, size_t errlen)
{
    if (c->optimizer != MLP_SGD && c->optimizer != MLP_ADAMW)
        return fail(err, errlen, "optimizer %d: expected MLP_SGD or MLP_ADAMW", (int)c->optimizer);
    if (!(c->lr > 0.0 && isfinite(c->lr)))
        return fail(err, errlen, "lr %g: expected a positive finite number", c->lr);
    if (!(c->momentum >= 0.0 && c->momentum < 1.0))
        return fail(err, errlen, "momentum %g: expected 0 <= momentum < 1", c->momentum);
    if (!(c->beta1 >= 0.0 && c->beta1 < 1.0))
        return fail(err, errlen, "beta1 %g: expected 0 <= beta1 < 1", c->beta1);
    if (!(c->beta2 >= 0.0 && c->beta2 < 1.0))
        return fail(err, errlen, "beta2 %g: expected 0 <= beta2 < 1", c->beta2);
    if (!(c->eps > 0.0 && isfinite(c->eps)))
        return fail(err, errlen, "eps %g: expected a positive finite number", c->eps);
    if (!(c->wd >= 0.0 && isfinite(c->wd)))
        return fail(err, errlen, "weight decay %g: expected a finite number >= 0", c->wd);
    if (c->schedule != MLP_SCHED_CONST && c->schedule != MLP_SCHED_COSINE)
        return fail(err, errlen, "schedule %d: expected MLP_SCHED_CONST or MLP_SCHED_COSINE",
                    (int)c->schedule);
    if (c->total_steps < 1)
        return fail(err, errlen, "total steps %ld: expected >= 1", c->total_steps);
    if (c->warmup < 0 || c->warmup > c->total_steps)
        return fail(err, errlen, "warm-up %ld: expected 0..total steps (%ld)", c->warmup,
                    c->total_steps);
    return 0;
}

int mlp_config_check(const mlp_config *c, char *err, size_t errlen)
{
    if (!c)
        return fail(err, errlen, "model config is NULL");
    if (check_shape(c, err, errlen) < 0 || check_optim(c, err, errlen) < 0)
        return -1;
    return 0;
}

double mlp_lr_at(const mlp_config *c, long step)
{
    if (step < 1)
        step = 1;
    if (c->warmup > 0 && step <= c->warmup)
        return c->lr * (double)step / (double)c->warmup;
    if (c->schedule == MLP_SCHED_CONST)
        return c->lr;
    double span = (double)(c->total_steps - c->warmup);
    double p = span > 0 ? (double)(step - c->warmup) / span : 1.0;
    if (p > 1.0)
        p = 1.0;
    return c->lr * 0.5 * (1.0 + cos(PI * p));
}

/* ---- allocation ---------------------------------------------------------------------------- */

static float *falloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

static int layer_alloc(mlp_layer *L, int in, int out, int cap, int is_output, int index)
{
    size_t nw = (size_t)in * (size_t)out;
    L->in = in;
    L->out = out;
    snprintf(L->w_name, sizeof L->w_name, "fc%d.weight", index + 1);
    snprintf(L->b_name, sizeof L->b_name, "fc%d.bias", index + 1);
    L->W = falloc(nw);
    L->gW = falloc(nw);
    L->b = falloc((size_t)out);
    L->gb = falloc((size_t)out);
    int ok = L->W && L->gW && L->b && L->gb;
    for (int k = 0; k < 2; k++) {
        L->sW[k] = falloc(nw);
        L->sb[k] = falloc((size_t)out);
        ok = ok && L->sW[k] && L->sb[k];
    }
    L->z = falloc((size_t)cap * (size_t)out);
    L->delta = falloc((size_t)cap * (size_t)out);
    L->h = is_output ? NULL : falloc((size_t)cap * (size_t)out);
    return ok && L->z && L->delta && (is_output || L->h) ? 0 : -1;
}

static void layer_free(mlp_layer *L)
{
    free(L->W);
    free(L->b);
    free(L->gW);
    free(L->gb);
    for (int k = 0; k < 2; k++) {
        free(L->sW[k]);
        free(L->sb[k]);
    }
    free(L->z);
    free(L->h);
    free(L->delta);
}

/* He init: N(0, 2/fan_in) keeps ReLU activations at a stable scale through depth. */
static void he_init(mlp_layer *L, mlp_rng *r)
{
    double sd = sqrt(2.0 / L->in);
    for (size_t i = 0; i < (size_t)L->in * (size_t)L->out; i++)
        L->W[i] = (float)(sd * mlp_rng_normal(r));
}

static int alloc_model(mlp *m)
{
    const mlp_config *c = &m->cfg;
    m->n_layers = c->n_hidden + 1;
    m->cap = c->batch;
    m->layers = calloc((size_t)m->n_layers, sizeof *m->layers);
    m->x = falloc((size_t)m->cap * (size_t)c->in);
    m->y = calloc((size_t)m->cap, sizeof *m->y);
    m->probs = falloc((size_t)m->cap * (size_t)c->classes);
    size_t ev = (size_t)c->eval_batch * (size_t)widest(c);
    m->ev[0] = falloc(ev);
    m->ev[1] = falloc(ev);
    m->ev_probs = falloc((size_t)c->eval_batch * (size_t)c->classes);
    if (!m->layers || !m->x || !m->y || !m->probs || !m->ev[0] || !m->ev[1] || !m->ev_probs)
        return -1;
    int in = c->in;
    for (int l = 0; l < m->n_layers; l++) {
        int is_out = l == m->n_layers - 1;
        int out = is_out ? c->classes : c->hidden[l];
        if (layer_alloc(&m->layers[l], in, out, m->cap, is_out, l) < 0)
            return -1;
        m->layers[l].a = l == 0 ? m->x : m->layers[l - 1].h;
        in = out;
    }
    m->logits = m->layers[m->n_layers - 1].z;
    return 0;
}

int mlp_create(const mlp_config *c, mlp **out, char *err, size_t errlen)
{
    if (!out)
        return fail(err, errlen, "model output is NULL");
    *out = NULL;
    if (mlp_config_check(c, err, errlen) < 0)
        return -1;
    mlp *m = calloc(1, sizeof *m);
    if (!m)
        return fail(err, errlen, "out of memory for the model");
    m->cfg = *c;
    if (alloc_model(m) < 0) {
        mlp_free(m);
        return fail(err, errlen, "out of memory for the model");
    }
    mlp_rng r;
    rng_stream(&r, c->seed, 10);
    for (int l = 0; l < m->n_layers; l++)
        he_init(&m->layers[l], &r);
    rng_stream(&m->rng, c->seed, 11);
    *out = m;
    return 0;
}

void mlp_free(mlp *m)
{
    if (!m)
        return;
    if (m->layers)
        for (int l = 0; l < m->n_layers; l++)
            layer_free(&m->layers[l]);
    free(m->layers);
    free(m->x);
    free(m->y);
    free(m->probs);
    free(m->ev[0]);
    free(m->ev[1]);
    free(m->ev_probs);
    free(m->order);
    free(m);
}

/* ---- parameters ---------------------------------------------------------------------------- */

int mlp_param_count(const mlp *m)
{
    return m ? 2 * m->n_layers : 0;
}

size_t mlp_num_weights(const mlp *m)
{
    size_t n = 0;
    for (int l = 0; m && l < m->n_layers; l++)
        n += (size_t)m->layers[l].out * ((size_t)m->layers[l].in + 1);
    return n;
}

int mlp_param(const mlp *m, int i, const char **name, size_t *rows, size_t *cols, float **w,
              float **g)
{
    if (!m || i < 0 || i >= mlp_param_count(m))
        return -1;
    const mlp_layer *L = &m->layers[i / 2];
    int bias = i % 2;
    if (name)
        *name = bias ? L->b_name : L->w_name;
    if (rows)
        *rows = (size_t)L->out;
    if (cols)
        *cols = bias ? 1 : (size_t)L->in;
    if (w)
        *w = bias ? L->b : L->W;
    if (g)
        *g = bias ? L->gb : L->gW;
    return 0;
}

/* ---- forward ------------------------------------------------------------------------------- */

/* Z = A W^T + b for n rows: b is broadcast into Z first so the GEMM accumulates onto it. */
static void dense_forward(const mlp_layer *L, const float *A, int n, float *Z)
{
    for (int i = 0; i < n; i++)
        memcpy(Z + (size_t)i * (size_t)L->out, L->b, (size_t)L->out * sizeof *Z);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, L->out, L->in, 1.0f, A, L->in, L->W,
                L->in, 1.0f, Z, L->out);
}

/* v where keep, else +0, done on the bits: with random signs a branch would mispredict every other
 * element, and at -O2 GCC keeps `c ? v : 0` as a branch (it cannot prove the signed-zero case). */
static inline float keep_if(float v, int keep)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    u &= -(uint32_t)keep;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* NaN passes through, as in PyTorch, so a diverging run still ends in a non-finite loss. */
static void relu(const float *z, float *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h[i] = keep_if(z[i], !(z[i] <= 0.0f));
}

/* d *= ReLU'(z): zero where the unit was off. */
static void relu_mask(const float *z, float *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = keep_if(d[i], z[i] > 0.0f);
}

/* Row-wise softmax into probs; returns the summed cross-entropy against y (when given) and counts
 * argmax hits. log-sum-exp with the row max subtracted, so large logits cannot overflow. */
static double softmax_xent(const float *logits, const int *y, int n, int k, float *probs,
                           int *correct)
{
    double total = 0.0;
    int hits = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * (size_t)k;
        float *p = probs + (size_t)i * (size_t)k;
        int arg = 0;
        for (int j = 1; j < k; j++)
            if (z[j] > z[arg])
                arg = j;
        double sum = 0.0;
        for (int j = 0; j < k; j++) {
            double e = exp((double)z[j] - (double)z[arg]);
            p[j] = (float)e;
            sum += e;
        }
        for (int j = 0; j < k; j++)
            p[j] = (float)(p[j] / sum);
        if (y) {
            total += log(sum) - ((double)z[y[i]] - (double)z[arg]);
            hits += arg == y[i];
        }
    }
    if (correct)
        *correct = hits;
    return total;
}

static int check_labels(const int *y, int n, int k, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= k)
            return fail(err, errlen, "label %d of row %d: expected 0..%d", y[i], i, k - 1);
    return 0;
}

int mlp_forward(mlp *m, const float *x, const int *y, int n, double *loss, int *correct,
                char *err, size_t errlen)
{
    if (!m || !x)
        return fail(err, errlen, "mlp_forward: model or inputs are NULL");
    if (n < 1 || n > m->cap)
        return fail(err, errlen, "mlp_forward: %d rows: expected 1..%d (the batch size)", n, m->cap);
    int k = m->cfg.classes;
    if (y && check_labels(y, n, k, err, errlen) < 0)
        return -1;
    if (x != m->x)
        memcpy(m->x, x, (size_t)n * (size_t)m->cfg.in * sizeof *x);
    m->rows = n;
    for (int l = 0; l < m->n_layers; l++) {
        mlp_layer *L = &m->layers[l];
        dense_forward(L, L->a, n, L->z);
        if (L->h)
            relu(L->z, L->h, (size_t)n * (size_t)L->out);
    }
    if (y && y != m->y)
        memcpy(m->y, y, (size_t)n * sizeof *y);
    m->has_y = y != NULL;
    double total = softmax_xent(m->logits, y, n, k, m->probs, correct);
    if (loss)
        *loss = y ? total / n : NAN;
    return 0;
}

/* ---- backward ------------------------------------------------------------------------------ */

/* dL/dlogits of the mean cross-entropy: (softmax - onehot) / n. */
static void output_delta(mlp *m)
{
    int n = m->rows, k = m->cfg.classes;
    float *d = m->layers[m->n_layers - 1].delta;
    float inv = 1.0f / (float)n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            size_t o = (size_t)i * (size_t)k + (size_t)j;
            d[o] = (m->probs[o] - (j == m->y[i] ? 1.0f : 0.0f)) * inv;
        }
}

/* gW = delta^T a, gb = column sums of delta. */
static void dense_grads(mlp_layer *L, int n)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L->out, L->in, n, 1.0f, L->delta, L->out,
                L->a, L->in, 0.0f, L->gW, L->in);
    memset(L->gb, 0, (size_t)L->out * sizeof *L->gb);
    for (int i = 0; i < n; i++) {
        const float *d = L->delta + (size_t)i * (size_t)L->out;
        for (int j = 0; j < L->out; j++)
            L->gb[j] += d[j];
    }
}

/* prev.delta = (delta W) masked by ReLU'(prev.z). */
static void propagate_delta(const mlp_layer *L, mlp_layer *prev, int n)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, L->in, L->out, 1.0f, L->delta, L->out,
                L->W, L->in, 0.0f, prev->delta, prev->out);
    relu_mask(prev->z, prev->delta, (size_t)n * (size_t)prev->out);
}

int mlp_backward(mlp *m, char *err, size_t errlen)
{
    if (!m)
        return fail(err, errlen, "mlp_backward: model is NULL");
    if (!m->has_y || m->rows < 1)
        return fail(err, errlen, "mlp_backward: needs a forward with labels first");
    output_delta(m);
    for (int l = m->n_layers - 1; l >= 0; l--) {
        dense_grads(&m->layers[l], m->rows);
        if (l > 0)
            propagate_delta(&m->layers[l], &m->layers[l - 1], m->rows);
    }
    return 0;
}

/* ---- optimizers ---------------------------------------------------------------------------- */

/* PyTorch's SGD: v = mu v + (g + wd w); w -= lr v. */
static void sgd(float *w, const float *g, float *v, size_t n, float lr, float mu, float wd)
{
    for (size_t i = 0; i < n; i++) {
        v[i] = mu * v[i] + g[i] + wd * w[i];
        w[i] -= lr * v[i];
    }
}

typedef struct {
    float lr, b1, b2, eps;
    float omb1, omb2;           /* 1 - beta, formed in double: 1.0f - 0.999f is off by 5e-5 */
    float inv_c1, inv_sqrt_c2;  /* bias corrections 1/(1 - beta1^t), 1/sqrt(1 - beta2^t) */
} adam_step;

/* AdamW (Loshchilov & Hutter): moments of the pure gradient; decay applied to w directly. */
static void adamw(float *w, const float *g, float *mo, float *ve, size_t n, const adam_step *s,
                  float wd)
{
    for (size_t i = 0; i < n; i++) {
        mo[i] = s->b1 * mo[i] + s->omb1 * g[i];
        ve[i] = s->b2 * ve[i] + s->omb2 * g[i] * g[i];
        /* mhat / (sqrt(vhat) + eps) with the corrections hoisted out of the loop */
        float step = mo[i] * s->inv_c1 / (sqrtf(ve[i]) * s->inv_sqrt_c2 + s->eps);
        w[i] -= s->lr * (step + wd * w[i]);
    }
}

static void update_layer(mlp_layer *L, const mlp_config *c, const adam_step *s)
{
    size_t nw = (size_t)L->in * (size_t)L->out, nb = (size_t)L->out;
    if (c->optimizer == MLP_SGD) {
        sgd(L->W, L->gW, L->sW[0], nw, s->lr, (float)c->momentum, (float)c->wd);
        sgd(L->b, L->gb, L->sb[0], nb, s->lr, (float)c->momentum, 0.0f);
    } else {
        adamw(L->W, L->gW, L->sW[0], L->sW[1], nw, s, (float)c->wd);
        adamw(L->b, L->gb, L->sb[0], L->sb[1], nb, s, 0.0f);
    }
}

int mlp_update(mlp *m, long step, char *err, size_t errlen)
{
    if (!m)
        return fail(err, errlen, "mlp_update: model is NULL");
    const mlp_config *c = &m->cfg;
    m->t++;
    adam_step s = {
        .lr = (float)mlp_lr_at(c, step),
        .b1 = (float)c->beta1,
        .b2 = (float)c->beta2,
        .eps = (float)c->eps,
        .omb1 = (float)(1.0 - c->beta1),
        .omb2 = (float)(1.0 - c->beta2),
        .inv_c1 = (float)(1.0 / (1.0 - pow(c->beta1, (double)m->t))),
        .inv_sqrt_c2 = (float)(1.0 / sqrt(1.0 - pow(c->beta2, (double)m->t))),
    };
    for (int l = 0; l < m->n_layers; l++)
        update_layer(&m->layers[l], c, &s);
    return 0;
}

/* ---- training ------------------------------------------------------------------------------ */

static int shuffle_order(mlp *m, int n)
{
    if (m->order_n != n) {
        free(m->order);
        m->order = malloc((size_t)n * sizeof *m->order);
        if (!m->order) {
            m->order_n = 0;
            return -1;
        }
        m->order_n = n;
        for (int i = 0; i < n; i++)
            m->order[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
        int j = (int)mlp_rng_below(&m->rng, (uint32_t)i + 1);
        int t = m->order[i];
        m->order[i] = m->order[j];
        m->order[j] = t;
    }
    m->order_pos = 0;
    return 0;
}

/* Copies the next `rows` samples of the epoch order into m->x / m->y, reshuffling at epoch ends. */
static int sample_batch(mlp *m, const mlp_split *s, int rows)
{
    size_t d = (size_t)s->dim;
    for (int i = 0; i < rows; i++) {
        if ((m->order_n != s->n || m->order_pos >= m->order_n) && shuffle_order(m, s->n) < 0)
            return -1;
        int k = m->order[m->order_pos++];
        memcpy(m->x + (size_t)i * d, s->x + (size_t)k * d, d * sizeof *m->x);
        m->y[i] = s->y[k];
    }
    return 0;
}

static int check_split(const mlp *m, const mlp_split *s, char *err, size_t errlen)
{
    if (!s || !s->x || !s->y || s->n < 1)
        return fail(err, errlen, "data split is empty or NULL");
    if (s->dim != m->cfg.in)
        return fail(err, errlen, "data dim %d does not match the model input %d", s->dim, m->cfg.in);
    return 0;
}

int mlp_train_step(mlp *m, const mlp_split *train, long step, double *loss, char *err,
                   size_t errlen)
{
    if (!m)
        return fail(err, errlen, "mlp_train_step: model is NULL");
    if (check_split(m, train, err, errlen) < 0)
        return -1;
    int rows = m->cap < train->n ? m->cap : train->n;
    if (sample_batch(m, train, rows) < 0)
        return fail(err, errlen, "out of memory for the minibatch order");
    if (mlp_forward(m, m->x, m->y, rows, loss, NULL, err, errlen) < 0 ||
        mlp_backward(m, err, errlen) < 0 ||
        (m->after_backward && m->after_backward(m, m->after_backward_ud, err, errlen) < 0) ||
        mlp_update(m, step, err, errlen) < 0)
        return -1;
    return 0;
}

/* ---- evaluation ---------------------------------------------------------------------------- */

/* Forward of n rows through the evaluation scratch; returns the logits' buffer. */
static const float *eval_forward(mlp *m, const float *x, int n)
{
    const float *in = x;
    for (int l = 0; l < m->n_layers; l++) {
        const mlp_layer *L = &m->layers[l];
        float *z = m->ev[l % 2];
        dense_forward(L, in, n, z);
        if (L->h)
            relu(z, z, (size_t)n * (size_t)L->out);
        in = z;
    }
    return in;
}

int mlp_evaluate(mlp *m, const mlp_split *s, double *loss, double *acc, char *err, size_t errlen)
{
    if (!m)
        return fail(err, errlen, "mlp_evaluate: model is NULL");
    if (check_split(m, s, err, errlen) < 0)
        return -1;
    int k = m->cfg.classes;
    if (check_labels(s->y, s->n, k, err, errlen) < 0)
        return -1;
    double total = 0.0;
    long hits = 0;
    for (int i = 0; i < s->n; i += m->cfg.eval_batch) {
        int n = s->n - i < m->cfg.eval_batch ? s->n - i : m->cfg.eval_batch;
        const float *logits = eval_forward(m, s->x + (size_t)i * (size_t)s->dim, n);
        int c = 0;
        total += softmax_xent(logits, s->y + i, n, k, m->ev_probs, &c);
        hits += c;
    }
    if (loss)
        *loss = total / s->n;
    if (acc)
        *acc = (double)hits / s->n;
    return 0;
}
