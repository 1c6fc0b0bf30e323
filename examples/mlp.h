/* mlp: a small multilayer-perceptron classifier trained with OpenBLAS, used as traintop's demo run.
 *
 * Pieces:  a seeded synthetic data set (mlp_data_*), the model with forward/backward (mlp_forward,
 * mlp_backward), SGD-momentum and AdamW updates (mlp_update), a minibatch training step
 * (mlp_train_step) and batched evaluation (mlp_evaluate).
 *
 * Conventions: no globals; every fallible call returns 0, or -1 with one line in err (NULL allowed).
 * Matrices are row-major float32. Activations are stored one sample per row (rows x features).
 * Dense layer l computes z = a W^T + b with W (out x in) and b (out); hidden layers apply ReLU. */
#ifndef TRAINTOP_EXAMPLES_MLP_H
#define TRAINTOP_EXAMPLES_MLP_H

#include <stddef.h>
#include <stdint.h>

#define MLP_MAX_HIDDEN 8        /* hidden layers at most */
#define MLP_MAX_WIDTH 65536     /* units per layer, input dimension and classes at most */
#define MLP_NAME_MAX 32         /* parameter names ("fc1.weight"), bytes including NUL */
#define MLP_MAX_PARAMS (1 << 26) /* parameters in all, and values per activation buffer, at most */

/* ---- random numbers ------------------------------------------------------------------------ */

/* xoshiro256** seeded through splitmix64: the same stream on every machine. */
typedef struct {
    uint64_t s[4];
} mlp_rng;

void mlp_rng_seed(mlp_rng *r, uint64_t seed);
uint64_t mlp_rng_next(mlp_rng *r);
double mlp_rng_uniform(mlp_rng *r);                /* [0, 1) with 53 random bits */
uint32_t mlp_rng_below(mlp_rng *r, uint32_t n);    /* uniform in [0, n), unbiased; n >= 1 */
/* Standard normal approximated by the Irwin-Hall sum of 12 uniforms: only + and *, so the data set is
 * bit-identical across libm implementations (values are bounded to [-6, 6], harmless here). */
double mlp_rng_normal(mlp_rng *r);

/* ---- data ---------------------------------------------------------------------------------- */

/* A Gaussian-mixture problem: each class owns clusters_per_class centres drawn from N(0, I_dim);
 * a sample is its cluster's centre plus N(0, cluster_std^2 I_dim) noise. Several clusters per class
 * make the class regions non-convex, so a linear model cannot solve it. The training labels get
 * label noise; the validation split keeps its true labels. */
typedef struct {
    int dim;                    /* input dimension (32) */
    int classes;                /* K (10) */
    int n_train;                /* training samples (2000) */
    int n_val;                  /* validation samples (1000) */
    int clusters_per_class;     /* (4) */
    double cluster_std;         /* per-coordinate noise around a centre (0.9) */
    double label_noise;         /* fraction of training labels replaced by another class (0.3) */
    uint64_t seed;              /* (1) */
} mlp_data_config;

typedef struct {
    int n;                      /* samples */
    int dim;
    int classes;
    float *x;                   /* n x dim */
    int *y;                     /* labels used for training/evaluation (noisy for the train split) */
    int *y_clean;               /* true labels (equal to y for the validation split) */
} mlp_split;

typedef struct {
    mlp_split train;
    mlp_split val;
    int n_noisy;                /* training labels that were changed */
} mlp_dataset;

void mlp_data_config_default(mlp_data_config *c);
int mlp_data_check(const mlp_data_config *c, char *err, size_t errlen);
/* Exactly round(label_noise * n_train) training labels are replaced, each by a different class.
 * Centres, train points, validation points and the noise use separate streams derived from seed,
 * so e.g. changing n_train leaves the validation split unchanged. */
int mlp_data_generate(const mlp_data_config *c, mlp_dataset *out, char *err, size_t errlen);
void mlp_data_free(mlp_dataset *d);  /* NULL-safe; leaves *d zeroed */

/* ---- model --------------------------------------------------------------------------------- */

typedef enum { MLP_SGD = 0, MLP_ADAMW = 1 } mlp_optimizer;
typedef enum { MLP_SCHED_CONST = 0, MLP_SCHED_COSINE = 1 } mlp_schedule;

typedef struct {
    int in;                     /* input dimension (32) */
    int classes;                /* output units (10) */
    int n_hidden;               /* hidden layers (2), 0..MLP_MAX_HIDDEN */
    int hidden[MLP_MAX_HIDDEN]; /* their widths (128, 128) */
    int batch;                  /* training minibatch (64) */
    int eval_batch;             /* rows per evaluation chunk (256) */
    mlp_optimizer optimizer;    /* (MLP_SGD) */
    double lr;                  /* peak learning rate (0.005) */
    double momentum;            /* SGD momentum (0.9) */
    double beta1, beta2, eps;   /* AdamW moments (0.9, 0.999, 1e-8) */
    /* Weight decay on weight matrices only, never biases (0). SGD: coupled, the update uses g + wd*w.
     * AdamW: decoupled, w -= lr*wd*w. Either way the gradient buffers keep the pure loss gradient. */
    double wd;
    mlp_schedule schedule;      /* (MLP_SCHED_CONST) */
    long warmup;                /* linear warm-up steps (0) */
    long total_steps;           /* cosine decay reaches 0 at this step (3000) */
    uint64_t seed;              /* init and minibatch order (1) */
} mlp_config;

/* One dense layer. Parameters, gradients and optimizer state are separate contiguous allocations
 * (a probe reads w and g in place). The activation buffers hold `rows` rows of the last training
 * forward/backward; evaluation uses its own scratch and never overwrites them. */
typedef struct {
    int in, out;
    char w_name[MLP_NAME_MAX];  /* "fc<l>.weight" */
    char b_name[MLP_NAME_MAX];  /* "fc<l>.bias" */
    float *W, *b;               /* out x in, out */
    float *gW, *gb;             /* dL/dW, dL/db of the last backward, same shapes */
    float *sW[2], *sb[2];       /* optimizer state: SGD velocity in [0]; AdamW m in [0], v in [1] */
    float *a;                   /* input, rows x in: the batch inputs or the previous layer's h */
    float *z;                   /* pre-activation, rows x out (the logits for the output layer) */
    float *h;                   /* ReLU(z), rows x out; NULL for the output layer */
    float *delta;               /* dL/dz, rows x out, filled by mlp_backward */
} mlp_layer;

typedef struct mlp {
    mlp_config cfg;
    int n_layers;               /* n_hidden + 1 */
    mlp_layer *layers;          /* layers[n_layers - 1] is the output layer */
    int cap;                    /* rows the training buffers hold: cfg.batch */
    int rows;                   /* rows of the last mlp_forward (0 before any) */
    float *x;                   /* batch inputs, cap x in (layers[0].a points here) */
    int *y;                     /* batch labels, cap */
    int has_y;                  /* the last forward had labels, so mlp_backward may run */
    float *logits;              /* = layers[n_layers - 1].z */
    float *probs;               /* softmax(logits), rows x classes */
    long t;                     /* optimizer updates done (AdamW bias correction) */
    mlp_rng rng;                /* minibatch order */
    int *order;                 /* a permutation of the training set, reshuffled every epoch */
    int order_n, order_pos;
    float *ev[2];               /* evaluation ping-pong buffers, eval_batch x widest layer */
    float *ev_probs;            /* eval_batch x classes */
    /* Called by mlp_train_step between the backward pass and the update (gradients and activations of
     * the batch are in place, weights not yet changed): where a probe reads per-sample statistics.
     * A non-zero return fails the step. NULL: none. */
    int (*after_backward)(const struct mlp *m, void *ud, char *err, size_t errlen);
    void *after_backward_ud;
} mlp;

void mlp_config_default(mlp_config *c);
int mlp_config_check(const mlp_config *c, char *err, size_t errlen);
/* Allocates the model with He-initialised weights (N(0, 2/fan_in)) and zero biases. */
int mlp_create(const mlp_config *c, mlp **out, char *err, size_t errlen);
void mlp_free(mlp *m);      /* NULL-safe */

/* Parameters in order fc1.weight, fc1.bias, fc2.weight, …; a bias has rows = out, cols = 1. */
int mlp_param_count(const mlp *m);
size_t mlp_num_weights(const mlp *m);   /* scalars in all parameters */
int mlp_param(const mlp *m, int i, const char **name, size_t *rows, size_t *cols,
              float **w, float **g);

/* Learning rate for step (counted from 1): linear warm-up over cfg.warmup steps to cfg.lr, then
 * constant or cosine-decayed to 0 at cfg.total_steps. */
double mlp_lr_at(const mlp_config *c, long step);

/* Forward over n <= cap rows of x (n x in; x may be m->x), filling a, z, h, logits and probs.
 * With y non-NULL also returns the mean cross-entropy and the count of correct argmax predictions
 * (loss/correct may be NULL) and arms mlp_backward. */
int mlp_forward(mlp *m, const float *x, const int *y, int n, double *loss, int *correct,
                char *err, size_t errlen);
/* Gradients of the mean cross-entropy of the last labelled forward into gW, gb and delta. */
int mlp_backward(mlp *m, char *err, size_t errlen);
/* One optimizer update from the current gradients with lr = mlp_lr_at(cfg, step). */
int mlp_update(mlp *m, long step, char *err, size_t errlen);
/* Draws the next minibatch (epoch-shuffled), forward, backward, update. loss: the batch's loss. */
int mlp_train_step(mlp *m, const mlp_split *train, long step, double *loss, char *err, size_t errlen);
/* Mean loss and accuracy over a whole split, in chunks of cfg.eval_batch rows. */
int mlp_evaluate(mlp *m, const mlp_split *s, double *loss, double *acc, char *err, size_t errlen);

#endif
