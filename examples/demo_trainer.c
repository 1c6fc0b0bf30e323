/* traintop-demo-trainer: trains the example MLP on a noisy synthetic problem and publishes it through
 * the traintop probe. With the defaults it first learns (val_acc rises) and then memorises the noisy
 * labels (train loss keeps falling while val_loss rises), which gives the dashboard something to show.
 *
 * Exit status: 0 finished or stopped (rule, user, SIGINT/SIGTERM), 1 failed, 2 bad usage. */
#include "mlp.h"
#include "traintop/probe.h"

#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG "traintop-demo-trainer"
#define VERSION "0.1.0"
#define LINGER_MS 1000

typedef struct {
    const char *run;
    const char *endpoint;       /* NULL: the probe's default */
    mlp_config model;
    mlp_data_config data;
    int lr_set, wd_set;         /* defaults depend on the optimizer */
    long eval_every;
    int every;                  /* a fixed schedule; 0: the probe's overhead budget decides */
    double overhead;            /* that budget (0: the probe's default) */
    int spectral_every;
    int persample;              /* 0 off, 1 on (GWA, noise scale), 2 full (+ inner/orthogonality tests, GSNR) */
    int gwa_window;             /* steps per GWA window; 0: one epoch */
    const char *spool;          /* file for messages the collector did not take (NULL: drop them) */
    int rank, world;            /* as one rank of a distributed run (each rank trains its own copy here) */
    long step_delay_ms;
    int threads;                /* OpenBLAS threads; 0 leaves OpenBLAS's own choice */
    double system_metrics;      /* seconds between system samples (CPU, memory, GPUs); 0: off */
    int quiet;
} options;

static volatile sig_atomic_t g_signal;  /* the only global: written by the signal handler */

static void on_signal(int sig)
{
    g_signal = sig;
}

/* ---- command line -------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " --run NAME [options]\n"
            "Trains a small MLP on a synthetic noisy-label problem, published to traintop.\n"
            "  --run NAME             run name, [A-Za-z0-9_.:+=-]{1,127} (required)\n"
            "  --endpoint E           collector endpoint (default $TRAINTOP_ENDPOINT or per-user socket)\n"
            "  --steps N              training steps (3000)\n"
            "  --optimizer sgd|adamw  (sgd)\n"
            "  --lr X                 peak learning rate (sgd 0.005, adamw 0.001)\n"
            "  --momentum X           SGD momentum (0.9)\n"
            "  --beta1 X, --beta2 X   AdamW moment decay (0.9, 0.999)\n"
            "  --wd X                 weight decay: coupled for sgd, decoupled for adamw (sgd 0, adamw 0.01)\n"
            "  --batch N              minibatch size (64)\n"
            "  --hidden N[,N...]      hidden layer widths (128,128)\n"
            "  --label-noise P        fraction of training labels replaced (0.3)\n"
            "  --seed N               data, init and batch order (1)\n"
            "  --eval-every N         evaluate val/train every N steps (10)\n"
            "  --every N              probe publishes layer statistics every N steps (1)\n"
            "  --overhead F           instead, let the probe choose the steps it samples so that its measured\n"
            "                         cost stays within F of the step time (0.02 is the library's default)\n"
            "  --persample off|on|full  per-sample statistics: GWA and noise scale (on); full adds the\n"
            "                         inner-product and orthogonality tests and GSNR (one more GEMM a layer)\n"
            "  --gwa-window N         steps per GWA window (one epoch)\n"
            "  --rank R --world N     publish as rank R of N (a run spread over nodes)\n"
            "  --system-metrics S     sample CPU, memory and GPUs every S seconds, published as scalars (5; 0: off)\n"
            "  --spool FILE           keep messages the collector could not take in FILE (traintop replay reads it)\n"
            "  --spectral-every N     spectra of the weight matrices every N steps, off the training thread;\n"
            "                         0 = off (100)\n"
            "  --warmup N             linear learning-rate warm-up steps (0)\n"
            "  --schedule const|cosine  learning-rate schedule after warm-up (const)\n"
            "  --step-delay-ms N      sleep N ms per step, to watch a run live (0)\n"
            "  --threads N            OpenBLAS threads, 0 = OpenBLAS default (1)\n"
            "  --quiet                no progress lines\n"
            "  --help, --version\n");
}

static int bad(const char *opt, const char *expected, const char *got)
{
    fprintf(stderr, PROG ": %s: expected %s, got '%s'\n", opt, expected, got);
    return -1;
}

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    char what[96];
    errno = 0;
    long v = strtol(s, &end, 10);
    snprintf(what, sizeof what, "an integer in %ld..%ld", lo, hi);
    if (errno || end == s || *end || v < lo || v > hi)
        return bad(opt, what, s);
    *out = v;
    return 0;
}

static int parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
    long v;
    if (parse_long(opt, s, lo, hi, &v) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* A finite number in [lo, hi], or (lo, hi] when lo_open (for rates that must be positive). */
static int parse_double(const char *opt, const char *s, double lo, double hi, int lo_open,
                        double *out)
{
    char *end;
    char what[96];
    errno = 0;
    double v = strtod(s, &end);
    snprintf(what, sizeof what, "a number in %s%g, %g]", lo_open ? "(" : "[", lo, hi);
    if (errno || end == s || *end || !isfinite(v) || v < lo || (lo_open && v == lo) || v > hi)
        return bad(opt, what, s);
    *out = v;
    return 0;
}

/* Momentum and betas must stay below 1 or the moments never decay. */
static int parse_unit_open(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0.0 && v < 1.0))
        return bad(opt, "a number in [0, 1)", s);
    *out = v;
    return 0;
}

static int parse_seed(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[strspn(s, " \t")] == '-')
        return bad("--seed", "an integer in 0..18446744073709551615", s);
    *out = (uint64_t)v;
    return 0;
}

static int parse_hidden(const char *s, mlp_config *c)
{
    char what[96];
    snprintf(what, sizeof what, "1 to %d widths in 1..%d separated by commas", MLP_MAX_HIDDEN,
             MLP_MAX_WIDTH);
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 1 || v > MLP_MAX_WIDTH || n == MLP_MAX_HIDDEN ||
            (*end && *end != ','))
            return bad("--hidden", what, s);
        c->hidden[n++] = (int)v;
        if (!*end)
            break;
        p = end + 1;
    }
    c->n_hidden = n;
    return 0;
}

static int parse_choice(const char *opt, const char *s, const char *a, const char *b, int *out)
{
    char what[96];
    snprintf(what, sizeof what, "'%s' or '%s'", a, b);
    if (strcmp(s, a) == 0)
        *out = 0;
    else if (strcmp(s, b) == 0)
        *out = 1;
    else
        return bad(opt, what, s);
    return 0;
}

static int valid_run_name(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n < TT_NAME_MAX && s[0] != '.' && s[0] != '-' &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:+=-") == n;
}

enum {
    O_RUN = 256, O_ENDPOINT, O_STEPS, O_OPTIMIZER, O_LR, O_MOMENTUM, O_BETA1, O_BETA2, O_WD,
    O_BATCH, O_HIDDEN, O_NOISE, O_SEED, O_EVAL_EVERY, O_EVERY, O_OVERHEAD, O_SPECTRAL_EVERY, O_PERSAMPLE, O_GWA_WINDOW, O_SPOOL, O_RANK, O_WORLD, O_WARMUP, O_SCHEDULE, O_DELAY,
    O_THREADS, O_SYSTEM,
};

static const struct option long_opts[] = {
    {"run", required_argument, NULL, O_RUN},
    {"endpoint", required_argument, NULL, O_ENDPOINT},
    {"steps", required_argument, NULL, O_STEPS},
    {"optimizer", required_argument, NULL, O_OPTIMIZER},
    {"lr", required_argument, NULL, O_LR},
    {"momentum", required_argument, NULL, O_MOMENTUM},
    {"beta1", required_argument, NULL, O_BETA1},
    {"beta2", required_argument, NULL, O_BETA2},
    {"wd", required_argument, NULL, O_WD},
    {"batch", required_argument, NULL, O_BATCH},
    {"hidden", required_argument, NULL, O_HIDDEN},
    {"label-noise", required_argument, NULL, O_NOISE},
    {"seed", required_argument, NULL, O_SEED},
    {"eval-every", required_argument, NULL, O_EVAL_EVERY},
    {"every", required_argument, NULL, O_EVERY},
    {"overhead", required_argument, NULL, O_OVERHEAD},
    {"spectral-every", required_argument, NULL, O_SPECTRAL_EVERY},
    {"persample", required_argument, NULL, O_PERSAMPLE},
    {"gwa-window", required_argument, NULL, O_GWA_WINDOW},
    {"spool", required_argument, NULL, O_SPOOL},
    {"rank", required_argument, NULL, O_RANK},
    {"world", required_argument, NULL, O_WORLD},
    {"warmup", required_argument, NULL, O_WARMUP},
    {"schedule", required_argument, NULL, O_SCHEDULE},
    {"step-delay-ms", required_argument, NULL, O_DELAY},
    {"threads", required_argument, NULL, O_THREADS},
    {"system-metrics", required_argument, NULL, O_SYSTEM},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int apply_option(options *o, int c, const char *arg)
{
    mlp_config *m = &o->model;
    int choice;
    switch (c) {
    case O_RUN:
        o->run = arg;
        return valid_run_name(arg) ? 0 : bad("--run", "1-127 characters of [A-Za-z0-9_.:+=-], not starting with '.' or '-'", arg);
    case O_ENDPOINT:
        o->endpoint = arg;
        return *arg ? 0 : bad("--endpoint", "a non-empty endpoint such as ipc:///path", arg);
    case O_STEPS: return parse_long("--steps", arg, 1, 1000000000L, &m->total_steps);
    case O_OPTIMIZER:
        if (parse_choice("--optimizer", arg, "sgd", "adamw", &choice) < 0)
            return -1;
        m->optimizer = choice ? MLP_ADAMW : MLP_SGD;
        return 0;
    case O_LR: o->lr_set = 1; return parse_double("--lr", arg, 0.0, 1e3, 1, &m->lr);
    case O_MOMENTUM: return parse_unit_open("--momentum", arg, &m->momentum);
    case O_BETA1: return parse_unit_open("--beta1", arg, &m->beta1);
    case O_BETA2: return parse_unit_open("--beta2", arg, &m->beta2);
    case O_WD: o->wd_set = 1; return parse_double("--wd", arg, 0.0, 1e3, 0, &m->wd);
    case O_BATCH: return parse_int("--batch", arg, 1, 65536, &m->batch);
    case O_HIDDEN: return parse_hidden(arg, m);
    case O_NOISE: return parse_double("--label-noise", arg, 0.0, 1.0, 0, &o->data.label_noise);
    case O_SEED: return parse_seed(arg, &o->data.seed);
    case O_EVAL_EVERY: return parse_long("--eval-every", arg, 1, 1000000000L, &o->eval_every);
    case O_EVERY: return parse_int("--every", arg, 1, 1000000000L, &o->every);
    case O_OVERHEAD: o->every = 0; return parse_double("--overhead", arg, 0.0, 1.0, 1, &o->overhead);
    case O_SPECTRAL_EVERY: return parse_int("--spectral-every", arg, 0, 1000000000L, &o->spectral_every);
    case O_GWA_WINDOW: return parse_int("--gwa-window", arg, 1, 1000000000L, &o->gwa_window);
    case O_SPOOL: o->spool = arg; return 0;
    case O_RANK: return parse_int("--rank", arg, 0, 65535, &o->rank);
    case O_WORLD: return parse_int("--world", arg, 1, 65536, &o->world);
    case O_PERSAMPLE:
        if (!strcmp(arg, "off")) o->persample = 0;
        else if (!strcmp(arg, "on")) o->persample = 1;
        else if (!strcmp(arg, "full")) o->persample = 2;
        else {
            fprintf(stderr, PROG ": --persample '%s': expected off, on or full\n", arg);
            return -1;
        }
        return 0;
    case O_WARMUP: return parse_long("--warmup", arg, 0, 1000000000L, &m->warmup);
    case O_SCHEDULE:
        if (parse_choice("--schedule", arg, "const", "cosine", &choice) < 0)
            return -1;
        m->schedule = choice ? MLP_SCHED_COSINE : MLP_SCHED_CONST;
        return 0;
    case O_DELAY: return parse_long("--step-delay-ms", arg, 0, 3600000L, &o->step_delay_ms);
    case O_THREADS: return parse_int("--threads", arg, 0, 1024, &o->threads);
    case O_SYSTEM: return parse_double("--system-metrics", arg, 0.0, 86400.0, 0, &o->system_metrics);
    case 'q': o->quiet = 1; return 0;
    }
    return -1;
}

static void defaults(options *o)
{
    memset(o, 0, sizeof *o);
    mlp_config_default(&o->model);
    mlp_data_config_default(&o->data);
    o->eval_every = 10;
    o->every = 1;
    o->spectral_every = 100;
    o->persample = 1;
    o->world = 1;
    o->threads = 1;
    o->system_metrics = 5;
}

/* Cross-option checks and optimizer-dependent defaults, after all options are read. */
static int finish_options(options *o)
{
    mlp_config *m = &o->model;
    if (!o->run) {
        fprintf(stderr, PROG ": --run: expected a run name (the option is required)\n");
        return -1;
    }
    if (m->warmup > m->total_steps) {
        fprintf(stderr, PROG ": --warmup: expected at most --steps (%ld), got '%ld'\n",
                m->total_steps, m->warmup);
        return -1;
    }
    if (!o->lr_set)
        m->lr = m->optimizer == MLP_ADAMW ? 0.001 : 0.005;
    if (!o->wd_set)
        m->wd = m->optimizer == MLP_ADAMW ? 0.01 : 0.0;
    m->seed = o->data.seed;
    m->in = o->data.dim;
    m->classes = o->data.classes;
    /* each option was range-checked alone; what is left is their product being too big */
    char err[256];
    if (mlp_config_check(m, err, sizeof err) < 0) {
        fprintf(stderr, PROG ": --hidden/--batch: expected a smaller model (%s)\n", err);
        return -1;
    }
    return 0;
}

/* Returns 0 to run, 1 when --help/--version answered, -1 on bad usage (already reported). */
static int parse_args(int argc, char **argv, options *o)
{
    defaults(o);
    opterr = 0;  /* our own one-line messages instead of getopt's */
    int c;
    while ((c = getopt_long(argc, argv, ":hVq", long_opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (c == 'V') {
            printf(PROG " " VERSION "\n");
            return 1;
        }
        if (c == '?' || c == ':') {
            /* optopt names a bad short option; a long one is the last argument read */
            char shortopt[3] = {'-', (char)optopt, '\0'};
            int is_short = optopt > 0 && optopt < 256;
            fprintf(stderr, PROG ": %s: %s (see --help)\n", is_short ? shortopt : argv[optind - 1],
                    c == ':' ? "expected a value" : "unknown option");
            return -1;
        }
        if (apply_option(o, c, optarg) < 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": %s: unexpected argument (see --help)\n", argv[optind]);
        return -1;
    }
    return finish_options(o);
}

/* ---- training ------------------------------------------------------------------------------ */

typedef struct {
    const options *o;
    mlp_dataset data;
    mlp *model;
    tt_probe *probe;
    double val_loss, val_acc, train_loss, train_acc;
    int evaluated;
    double t0;
} trainer;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void format_hidden(const mlp_config *c, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n_hidden && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : "", c->hidden[i]);
}

static void send_hparams(trainer *t)
{
    const mlp_config *c = &t->o->model;
    const mlp_data_config *d = &t->o->data;
    tt_probe *p = t->probe;
    char hidden[MLP_MAX_HIDDEN * 8];
    format_hidden(c, hidden, sizeof hidden);
    int rc = tt_probe_hparam_str(p, "model", "mlp");
    rc |= tt_probe_hparam_str(p, "optimizer", c->optimizer == MLP_ADAMW ? "adamw" : "sgd");
    rc |= tt_probe_hparam_num(p, "lr", c->lr);
    rc |= tt_probe_hparam_num(p, "wd", c->wd);
    if (c->optimizer == MLP_SGD) {
        rc |= tt_probe_hparam_num(p, "momentum", c->momentum);
    } else {
        rc |= tt_probe_hparam_num(p, "beta1", c->beta1);
        rc |= tt_probe_hparam_num(p, "beta2", c->beta2);
    }
    rc |= tt_probe_hparam_str(p, "schedule", c->schedule == MLP_SCHED_COSINE ? "cosine" : "const");
    rc |= tt_probe_hparam_num(p, "warmup", (double)c->warmup);
    rc |= tt_probe_hparam_num(p, "batch", c->batch);
    rc |= tt_probe_hparam_str(p, "hidden", hidden);
    rc |= tt_probe_hparam_num(p, "label_noise", d->label_noise);
    rc |= tt_probe_hparam_num(p, "seed", (double)d->seed);
    rc |= tt_probe_hparam_num(p, "steps", (double)c->total_steps);
    rc |= tt_probe_hparam_num(p, "params", (double)mlp_num_weights(t->model));
    rc |= tt_probe_hparam_num(p, "n_train", d->n_train);
    rc |= tt_probe_hparam_num(p, "n_val", d->n_val);
    rc |= tt_probe_hparam_num(p, "dim", d->dim);
    rc |= tt_probe_hparam_num(p, "classes", d->classes);
    if (rc)  /* telemetry only: the run goes on without the rejected keys */
        fprintf(stderr, PROG ": run %s: warning: the probe rejected some hyperparameters\n", t->o->run);
}

static int register_layers(trainer *t, char *err, size_t errlen)
{
    for (int i = 0; i < mlp_param_count(t->model); i++) {
        const char *name;
        size_t rows, cols;
        float *w, *g;
        mlp_param(t->model, i, &name, &rows, &cols, &w, &g);
        if (tt_probe_add_layer(t->probe, name, rows, cols, w, g, err, errlen) < 0)
            return -1;
    }
    /* the last weight is the classifier head: its own γ give the paper's head-only GWA (gwa_paper) */
    tt_probe_gwa_head(t->probe, mlp_param_count(t->model) - 2);
    return 0;
}

static int persample_hook(const mlp *m, void *ud, char *err, size_t errlen);

/* Data, model and probe; on failure prints the reason and leaves cleanup to trainer_free. */
static int trainer_init(trainer *t, const options *o)
{
    char err[256];
    memset(t, 0, sizeof *t);
    t->o = o;
    if (mlp_data_generate(&o->data, &t->data, err, sizeof err) < 0 ||
        mlp_create(&o->model, &t->model, err, sizeof err) < 0) {
        fprintf(stderr, PROG ": run %s: %s\n", o->run, err);
        return -1;
    }
    tt_probe_opts po = {.run = o->run, .endpoint = o->endpoint, .rank = o->rank, .world_size = o->world,
                        .every = o->every, .overhead = o->overhead,
                        .spectral_every = o->spectral_every, .persample_full = o->persample == 2,
                        .gwa_window = o->gwa_window ? o->gwa_window
                                                    : (o->data.n_train + o->model.batch - 1) / o->model.batch,
                        .spool = o->spool};
    t->probe = tt_probe_open(&po, sizeof po, err, sizeof err);
    if (!t->probe) {
        fprintf(stderr, PROG ": run %s: cannot open the probe: %s\n", o->run, err);
        return -1;
    }
    if (o->system_metrics > 0 && tt_probe_system_metrics(t->probe, o->system_metrics, NULL, err, sizeof err) < 0)
        fprintf(stderr, PROG ": run %s: no system metrics: %s\n", o->run, err);
    t->model->after_backward = persample_hook;
    t->model->after_backward_ud = t;
    send_hparams(t);
    if (register_layers(t, err, sizeof err) < 0) {
        fprintf(stderr, PROG ": run %s: cannot register a layer: %s\n", o->run, err);
        return -1;
    }
    return 0;
}

static void trainer_free(trainer *t, const char *status)
{
    tt_probe_close(t->probe, status, LINGER_MS);
    mlp_free(t->model);
    mlp_data_free(&t->data);
}

static int evaluate(trainer *t, char *err, size_t errlen)
{
    if (mlp_evaluate(t->model, &t->data.val, &t->val_loss, &t->val_acc, err, errlen) < 0 ||
        mlp_evaluate(t->model, &t->data.train, &t->train_loss, &t->train_acc, err, errlen) < 0)
        return -1;
    t->evaluated = 1;
    tt_probe_scalar(t->probe, "val_loss", t->val_loss);
    tt_probe_scalar(t->probe, "val_acc", t->val_acc);
    tt_probe_scalar(t->probe, "train_acc", t->train_acc);
    /* the whole-split loss: smoother than the batch "loss" for spotting memorisation */
    tt_probe_scalar(t->probe, "train_loss", t->train_loss);
    return 0;
}

static void progress(const trainer *t, long step, double loss)
{
    long total = t->o->model.total_steps;
    double rate = step / (now_s() - t->t0 + 1e-9);
    if (t->evaluated)
        fprintf(stderr, "run %s: step %ld/%ld loss %.4f val_loss %.4f val_acc %.3f train_acc %.3f"
                        " (%.0f steps/s)\n",
                t->o->run, step, total, loss, t->val_loss, t->val_acc, t->train_acc, rate);
    else
        fprintf(stderr, "run %s: step %ld/%ld loss %.4f (%.0f steps/s)\n", t->o->run, step, total,
                loss, rate);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);  /* a signal cuts it short, which is what we want */
}

/* Per-sample statistics of every dense layer, between backward and update (mlp's after_backward). */
static int persample_hook(const mlp *m, void *ud, char *err, size_t errlen)
{
    trainer *t = ud;
    if (!t->o->persample) return 0;
    for (int l = 0; l < m->n_layers; l++) {
        const mlp_layer *L = &m->layers[l];
        /* δ is dL/dz of the batch-mean loss, i.e. each sample's own gradient / B */
        tt_dense_batch b = { .batch = (size_t)m->rows, .tokens = 1, .inputs = L->a, .out_grads = L->delta,
                             .grad_scale = (double)m->rows, .preact = L->z };
        if (tt_probe_dense_batch(t->probe, 2 * l, 2 * l + 1, &b, err, errlen) < 0) return -1;
    }
    return 0;
}

/* One training step with its scalars. Returns 0, or -1 with err (non-finite loss included). */
static int train_one(trainer *t, long step, double *loss, char *err, size_t errlen)
{
    const mlp_config *c = &t->o->model;
    if (mlp_train_step(t->model, &t->data.train, step, loss, err, errlen) < 0)
        return -1;
    if (!isfinite(*loss)) {
        snprintf(err, errlen, "loss is %f (diverged; try a smaller --lr)", *loss);
        return -1;
    }
    tt_probe_scalar(t->probe, "loss", *loss);
    tt_probe_scalar(t->probe, "lr", mlp_lr_at(c, step));
    tt_probe_optimizer(t->probe, c->optimizer == MLP_SGD ? "sgd" : "adamw", mlp_lr_at(c, step), c->wd,
                       c->optimizer == MLP_SGD ? c->momentum : c->beta1);
    if ((step % t->o->eval_every == 0 || step == c->total_steps) && evaluate(t, err, errlen) < 0)
        return -1;
    if (tt_probe_step(t->probe, step) < 0) {
        snprintf(err, errlen, "the probe rejected step %ld", step);
        return -1;
    }
    return 0;
}

typedef enum { RUN_FINISHED, RUN_STOPPED, RUN_FAILED } outcome;
static const char *const outcome_status[] = {"finished", "stopped", "failed"};  /* for tt_probe_close */

/* The training loop: runs until the last step, a stop request, a signal or a failure. */
static outcome train(trainer *t)
{
    const options *o = t->o;
    long total = o->model.total_steps;
    char err[256], reason[256];
    t->t0 = now_s();
    for (long step = 1; step <= total; step++) {
        double loss;
        if (train_one(t, step, &loss, err, sizeof err) < 0) {
            fprintf(stderr, PROG ": run %s: failed at step %ld: %s\n", o->run, step, err);
            return RUN_FAILED;
        }
        if (!o->quiet && step * 10 / total != (step - 1) * 10 / total)  /* each tenth of the run */
            progress(t, step, loss);
        if (tt_probe_should_stop(t->probe, reason, sizeof reason)) {
            fprintf(stderr, "run %s: stopped at step %ld: %s\n", o->run, step, reason);
            return RUN_STOPPED;
        }
        if (g_signal) {
            fprintf(stderr, "run %s: stopped at step %ld: %s\n", o->run, step,
                    g_signal == SIGINT ? "SIGINT" : "SIGTERM");
            return RUN_STOPPED;
        }
        if (o->step_delay_ms > 0 && step < total)
            sleep_ms(o->step_delay_ms);
    }
    return RUN_FINISHED;
}

static void summary(const trainer *t)
{
    tt_probe_counters pc;
    tt_probe_get_counters(t->probe, &pc);
    double secs = now_s() - t->t0;
    double per_step = pc.steps ? 1e6 / (double)pc.steps : 0;
    fprintf(stderr, "run %s: finished %ld steps in %.2f s (%.0f steps/s); val_loss %.4f val_acc %.3f;"
                    " probe sent %llu dropped %llu spooled %llu queued %llu, %.1f us/step (statistics %.1f, publishing %.1f)\n",
            t->o->run, t->o->model.total_steps, secs, t->o->model.total_steps / (secs + 1e-9),
            t->val_loss, t->val_acc, (unsigned long long)pc.sent, (unsigned long long)pc.dropped,
            (unsigned long long)pc.spooled, (unsigned long long)pc.queued, (pc.stats_seconds + pc.publish_seconds) * per_step, pc.stats_seconds * per_step,
            pc.publish_seconds * per_step);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);   /* no SA_RESTART: the per-step sleep ends early */
    sigaction(SIGTERM, &sa, NULL);
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    /* Several demo trainers share the machine: one BLAS thread each unless asked otherwise. */
    if (o.threads > 0)
        openblas_set_num_threads(o.threads);
    install_signals();  /* before init, so an early SIGTERM still ends with a closed probe */
    trainer t;
    if (trainer_init(&t, &o) < 0) {
        trainer_free(&t, "failed");
        return 1;
    }
    outcome out = train(&t);
    if (!o.quiet && out == RUN_FINISHED)
        summary(&t);
    trainer_free(&t, outcome_status[out]);
    return out == RUN_FAILED ? 1 : 0;
}
