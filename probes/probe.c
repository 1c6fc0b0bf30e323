/* probe: the in-process half of traintop. Computes layer statistics on the training thread (one fused
 * pass, metrics/layerstats) and hands JSON messages to nanomsg without ever waiting: a bounded local
 * queue absorbs the moments when no collector is connected (start-up race, collector restart) and the
 * oldest message is dropped, and counted, when it is full. */
#include "traintop/probe.h"
#include "endpoint.h"
#include "jsonw.h"
#include "names.h"
#include "../metrics/layerstats.h"
#include "spectral_worker.h"
#include "persample_acc.h"

_Static_assert(TT_LAYER_NSTATS == TT_NSTATS, "probe.h and layerstats.h agree on the layer statistics");

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/pubsub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MSGS 1024                 /* pending messages kept while nobody listens */
#define QUEUE_BYTES (16u << 20)
#define MAX_LAYERS 4000
#define MAX_SCALARS 64

/* Statistics beyond the §1 rows: they come as "extra" entries on their own schedule (docs/protocol.md). */
enum {
    X_ALPHA = TT_NSTATS, X_ALPHA_ERR, X_ALPHA_WEIGHTED, X_STABLE_RANK, X_LOG_SPECTRAL_NORM, X_LOG_NORM,
    X_ALPHA_WINDOW, X_GAMMA_MEAN, X_TRACE_SIGMA, X_NOISE_SCALE, X_NORM_TEST, X_GSNR, X_SCALE_INV_COS, X_EFF_STEP,
    X_COUNT
};
static const char *const extra_names[X_COUNT - TT_NSTATS] = {
    "alpha", "alpha_err", "alpha_weighted", "stable_rank", "log_spectral_norm", "log_norm", "alpha_window",
    "gamma_mean", "trace_sigma", "noise_scale", "norm_test", "gsnr", "scale_inv_cos", "eff_step",
};
#define STEP_PENDING INT64_MIN   /* an extra for the step about to be published */

typedef struct {
    int layer, stat;
    double value;
    int64_t step;
} extra;

typedef struct {
    char name[TT_NAME_MAX];
    size_t rows, cols;
    const float *w, *g;
    float *w_prev, *w0;                 /* the probe's own copies */
    int have_prev;
    int external;                       /* statistics computed elsewhere (GPU, torch) and handed in */
    int ext_set;                        /* ext holds this step's statistics */
    double ext[TT_NSTATS];
} layer;

typedef struct {
    char name[TT_NAME_MAX];
    double value;
    int set;
} scalar;

typedef struct {
    char *msg[QUEUE_MSGS];
    size_t len[QUEUE_MSGS];
    size_t head, count, bytes;
} queue;

struct tt_probe {
    char run[TT_NAME_MAX];
    char endpoint[256];
    int rank, world, every;
    int push, sub;                      /* nanomsg sockets, -1 when unavailable */
    layer *layers;
    int nlayers;
    scalar scalars[MAX_SCALARS];
    int nscalars;
    cJSON *hparams;
    int started;                        /* run_start has been queued */
    int64_t last_step;
    queue q;
    jsonw w;
    tt_probe_counters c;
    int stop;
    char stop_reason[256];
    int end_acked;
    int spectral_every;
    tt_spectral_worker *spectral;     /* created at the first step when spectral_every > 0 */
    extra *extras;                    /* entries waiting for the next step message */
    size_t nextras, cap_extras;
    char spool_path[512];             /* "" when not spooling */
    char token[128];                  /* $TRAINTOP_TOKEN: sent with every message when set */
    FILE *spool;                      /* opened at the first message that cannot be sent */
    tt_psacc ps;                      /* per-sample statistics of the step being built */
    double ps_seconds;                /* time in the per-sample calls of the step being built */
    char opt_kind[16];                /* the optimizer as last told by tt_probe_optimizer */
    double opt_lr, opt_wd, opt_momentum;
};

static double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the spool: what could not be sent, kept in a file that `traintop replay` reads ---- */

static void build_run_start(tt_probe *p, jsonw *w);

/* Appends one message to the spool file, which starts with the run's start so it replays on its own.
 * Returns 0, or -1 when there is no spool or it cannot be written (the message then counts as dropped). */
static int spool_write(tt_probe *p, const char *msg, size_t len)
{
    if (!p->spool_path[0]) return -1;
    if (!p->spool) {
        if (!(p->spool = fopen(p->spool_path, "a"))) { p->spool_path[0] = 0; return -1; }
        jsonw w;
        jw_init(&w);
        build_run_start(p, &w);
        size_t n;
        char *start = jw_take(&w, &n);
        if (start) { fwrite(start, 1, n, p->spool); fputc('\n', p->spool); }
        free(start);
    }
    if (fwrite(msg, 1, len, p->spool) != len || fputc('\n', p->spool) == EOF) return -1;
    p->c.spooled++;
    return 0;
}

/* ---- the send queue ---- */

static void queue_drop_oldest(tt_probe *p)
{
    queue *q = &p->q;
    q->bytes -= q->len[q->head];
    if (spool_write(p, q->msg[q->head], q->len[q->head]) < 0) p->c.dropped++;   /* spooled is kept, not lost */
    free(q->msg[q->head]);
    q->msg[q->head] = NULL;
    q->head = (q->head + 1) % QUEUE_MSGS;
    q->count--;
}

/* Sends what the transport accepts now; stops at the first refusal to keep order. */
static void queue_flush(tt_probe *p)
{
    queue *q = &p->q;
    while (q->count && p->push >= 0) {
        if (nn_send(p->push, q->msg[q->head], q->len[q->head], NN_DONTWAIT) < 0) break;
        q->bytes -= q->len[q->head];
        free(q->msg[q->head]);
        q->msg[q->head] = NULL;
        q->head = (q->head + 1) % QUEUE_MSGS;
        q->count--;
        p->c.sent++;
    }
}

static void queue_push(tt_probe *p, char *msg, size_t len)
{
    queue *q = &p->q;
    if (!msg) { p->c.dropped++; return; }          /* encoding ran out of memory */
    if (len > QUEUE_BYTES) { free(msg); p->c.dropped++; return; }
    while (q->count == QUEUE_MSGS || q->bytes + len > QUEUE_BYTES) queue_drop_oldest(p);
    size_t tail = (q->head + q->count) % QUEUE_MSGS;
    q->msg[tail] = msg;
    q->len[tail] = len;
    q->count++;
    q->bytes += len;
    queue_flush(p);
}

static void send_writer(tt_probe *p)
{
    size_t len;
    char *msg = jw_take(&p->w, &len);
    queue_push(p, msg, len);
}

/* ---- messages ---- */

static void header(tt_probe *p, jsonw *w, const char *type)
{
    jw_reset(w);
    jw_raw(w, "{");
    jw_key(w, "v"); jw_int(w, TT_PROTOCOL_VERSION);
    jw_key(w, "type"); jw_str(w, type);
    jw_key(w, "run"); jw_str(w, p->run);
    jw_key(w, "rank"); jw_int(w, p->rank);
    jw_key(w, "time"); jw_time(w, now_wall());
    if (p->token[0]) { jw_key(w, "token"); jw_str(w, p->token); }
}

/* The run_start message into w (the layer table, statistics names, hyperparameters). */
static void build_run_start(tt_probe *p, jsonw *w)
{
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    header(p, w, "run_start");
    jw_key(w, "world"); jw_int(w, p->world);
    jw_key(w, "pid"); jw_int(w, (int64_t)getpid());
    jw_key(w, "host"); jw_str(w, host);
    jw_key(w, "every"); jw_int(w, p->every);
    char *hp = cJSON_PrintUnformatted(p->hparams);
    jw_key(w, "hparams"); jw_raw(w, hp ? hp : "{}");
    free(hp);
    jw_key(w, "stats"); jw_raw(w, "[");
    for (int k = 0; k < TT_NSTATS; k++) { jw_sep(w); jw_str(w, tt_stat_names[k]); }
    for (int k = TT_NSTATS; k < X_COUNT; k++) { jw_sep(w); jw_str(w, extra_names[k - TT_NSTATS]); }
    jw_raw(w, "]");
    jw_key(w, "row_stats"); jw_int(w, TT_NSTATS);
    jw_key(w, "layers"); jw_raw(w, "[");
    for (int i = 0; i < p->nlayers; i++) {
        jw_sep(w); jw_raw(w, "{");
        jw_key(w, "name"); jw_str(w, p->layers[i].name);
        jw_key(w, "rows"); jw_int(w, (int64_t)p->layers[i].rows);
        jw_key(w, "cols"); jw_int(w, (int64_t)p->layers[i].cols);
        jw_raw(w, "}");
    }
    jw_raw(w, "]}");
}

static void send_run_start(tt_probe *p)
{
    build_run_start(p, &p->w);
    send_writer(p);
    p->started = 1;
}

/* Reads every pending control message; never waits. */
static void poll_control(tt_probe *p)
{
    if (p->sub < 0) return;
    for (int i = 0; i < 64; i++) {
        char *buf = NULL;
        int n = nn_recv(p->sub, &buf, NN_MSG, NN_DONTWAIT);
        if (n < 0) return;
        cJSON *m = cJSON_ParseWithLength(buf, (size_t)n);
        nn_freemsg(buf);
        if (!m) continue;
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(m, "run");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
        const cJSON *action = cJSON_GetObjectItemCaseSensitive(m, "action");
        const cJSON *rank = cJSON_GetObjectItemCaseSensitive(m, "rank");
        int mine = cJSON_IsString(run) && !strcmp(run->valuestring, p->run) &&
                   (!cJSON_IsNumber(rank) || (int)rank->valuedouble == p->rank);
        if (mine && cJSON_IsString(type) && !strcmp(type->valuestring, "control") && cJSON_IsString(action)) {
            const char *a = action->valuestring;
            if (!strcmp(a, "stop")) {
                const cJSON *reason = cJSON_GetObjectItemCaseSensitive(m, "reason");
                p->stop = 1;
                snprintf(p->stop_reason, sizeof p->stop_reason, "%s",
                         cJSON_IsString(reason) ? reason->valuestring : "stopped by the collector");
            } else if (!strcmp(a, "resend_start") && p->started) {
                send_run_start(p);
            } else if (!strcmp(a, "ack_end")) {
                p->end_acked = 1;
            }
        }
        cJSON_Delete(m);
    }
}

/* ---- statistics on their own schedule ---- */

static void add_extra(tt_probe *p, int layer, int stat, double value, int64_t step)
{
    if (p->nextras == p->cap_extras) {
        size_t cap = p->cap_extras ? 2 * p->cap_extras : 64;
        if (cap > 65536) return;                  /* the protocol's bound: a flood is cut, not queued */
        extra *ne = realloc(p->extras, cap * sizeof *ne);
        if (!ne) return;
        p->extras = ne;
        p->cap_extras = cap;
    }
    p->extras[p->nextras++] = (extra){ layer, stat, value, step };
}

static void write_extras(tt_probe *p)
{
    if (!p->nextras) return;
    jw_key(&p->w, "extra"); jw_raw(&p->w, "[");
    for (size_t i = 0; i < p->nextras; i++) {
        const extra *e = &p->extras[i];
        jw_sep(&p->w); jw_raw(&p->w, "[");
        jw_int(&p->w, e->layer); jw_sep(&p->w); jw_int(&p->w, e->stat); jw_sep(&p->w);
        jw_num(&p->w, e->value);
        if (e->step != STEP_PENDING) { jw_sep(&p->w); jw_int(&p->w, e->step); }
        jw_raw(&p->w, "]");
    }
    jw_raw(&p->w, "]");
    p->nextras = 0;
}

/* Hands 2-D layers to the background worker every spectral_every steps and collects what it finished. */
static void spectral_step(tt_probe *p, int64_t step)
{
    if (!p->spectral_every) return;
    if (!p->spectral) {
        tt_spectral_worker_opts wo;
        tt_spectral_worker_opts_default(&wo);
        wo.blas_threads = 0;              /* a library must not change the process's BLAS threading */
        if (!(p->spectral = tt_spectral_worker_create((size_t)p->nlayers, &wo))) { p->spectral_every = 0; return; }
    }
    tt_spectral_result r;
    while (tt_spectral_worker_poll(p->spectral, &r) == 1) {
        const tt_spectrum_stats *s = &r.stats;
        const double v[] = { s->fit.alpha, s->fit.alpha_err, s->fit.alpha_weighted, s->stable_rank,
                             s->log_spectral_norm, s->log_norm, s->window.alpha };
        _Static_assert(sizeof v / sizeof *v == X_ALPHA_WINDOW - X_ALPHA + 1, "one value per spectral statistic");
        for (int k = 0; k <= X_ALPHA_WINDOW - X_ALPHA; k++) add_extra(p, (int)r.layer, X_ALPHA + k, v[k], r.step);
    }
    if (step % p->spectral_every == 0)
        for (int i = 0; i < p->nlayers; i++) {
            layer *l = &p->layers[i];
            if (l->rows < 2 || l->cols < 2 || l->external) continue;
            tt_spectral_worker_submit(p->spectral, (size_t)i, step, l->w, l->rows, l->cols);
            /* Scale invariance (a weight before a normalisation layer): its effective step is lr/‖W‖². */
            double max_cos;
            int inv = tt_scale_invariant(l->w, l->g, l->rows, l->cols, &max_cos);
            add_extra(p, i, X_SCALE_INV_COS, max_cos, step);
            if (inv == 1 && p->opt_lr > 0) {
                double n2 = 0;
                for (size_t k = 0; k < l->rows * l->cols; k++) n2 += (double)l->w[k] * l->w[k];
                add_extra(p, i, X_EFF_STEP, tt_effective_step_sgd(p->opt_lr, sqrt(n2)), step);
            }
        }
}

/* The model's per-sample statistics of this step, as scalars; GWA when its window closes. */
static void persample_scalars(tt_probe *p)
{
    tt_psacc_step r;
    tt_psacc_step_end(&p->ps, &r);
    if (!r.batch) return;
    tt_probe_scalar(p, "gamma_mean", r.gamma_mean);
    tt_probe_scalar(p, "noise_scale", r.noise_scale);
    tt_probe_scalar(p, "noise_scale_raw", r.noise_scale_raw);
    tt_probe_scalar(p, "trace_sigma", r.trace_sigma);
    tt_probe_scalar(p, "grad_sq", r.grad_sq);
    tt_probe_scalar(p, "norm_test", r.norm_test);
    if (p->ps.full) {
        tt_probe_scalar(p, "inner_test", r.inner_test);
        tt_probe_scalar(p, "ortho_test", r.ortho_test);
    }
    if (r.window_done) {
        tt_probe_scalar(p, "gwa", r.report.gwa);
        tt_probe_scalar(p, "gwa_gamma_mean", r.report.mean);
        tt_probe_scalar(p, "gwa_gamma_std", r.report.std);
        tt_probe_scalar(p, "gwa_kurtosis", r.report.kurtosis);
        tt_probe_scalar(p, "gwa_frac_neg", r.report.frac_neg);
    }
}

static void layer_extras(tt_probe *p, int li, const tt_psacc_layer *s)
{
    add_extra(p, li, X_GAMMA_MEAN, s->gamma_mean, STEP_PENDING);
    add_extra(p, li, X_TRACE_SIGMA, s->trace_sigma, STEP_PENDING);
    add_extra(p, li, X_NOISE_SCALE, s->noise_scale, STEP_PENDING);
    add_extra(p, li, X_NORM_TEST, s->norm_test, STEP_PENDING);
    if (p->ps.full) add_extra(p, li, X_GSNR, s->gsnr, STEP_PENDING);
}

/* A dense layer's weight and bias (-1: none) for per-sample work: registered, distinct, bias of the
 * weight's row count. 0, or -1 with err naming `what`. */
static int dense_layers_ok(const tt_probe *p, int weight_layer, int bias_layer, const char *what, char *err, size_t errlen)
{
    if (weight_layer < 0 || weight_layer >= p->nlayers || bias_layer < -1 || bias_layer >= p->nlayers || bias_layer == weight_layer) {
        snprintf(err, errlen, "%s: layers %d and %d: expected registered layer indices (bias -1 for none)", what, weight_layer, bias_layer);
        return -1;
    }
    const layer *w = &p->layers[weight_layer], *bl = bias_layer >= 0 ? &p->layers[bias_layer] : NULL;
    if (bl && bl->rows * bl->cols != w->rows) {
        snprintf(err, errlen, "%s: bias '%s' has %zu entries: expected %zu, the rows of '%s'", what, bl->name, bl->rows * bl->cols, w->rows, w->name);
        return -1;
    }
    return 0;
}

int tt_probe_dense_batch(tt_probe *p, int weight_layer, int bias_layer, const tt_dense_batch *b,
                         char *err, size_t errlen)
{
    if (!p || !b) { snprintf(err, errlen, "dense batch: no probe or no batch"); return -1; }
    if (dense_layers_ok(p, weight_layer, bias_layer, "dense batch", err, errlen)) return -1;
    const layer *w = &p->layers[weight_layer], *bl = bias_layer >= 0 ? &p->layers[bias_layer] : NULL;
    if (w->external || (bl && bl->external)) {
        snprintf(err, errlen, "dense batch for '%s': its statistics are external: hand in per-sample sums computed where "
                 "the weights are (tt_probe_persample_sums)", w->name);
        return -1;
    }
    if (!(b->grad_scale > 0) || !isfinite(b->grad_scale)) {
        snprintf(err, errlen, "dense batch for '%s': grad_scale %g: expected a positive number (B for a mean-reduced loss)", w->name, b->grad_scale);
        return -1;
    }
    tt_dense L = { .B = b->batch, .T = b->tokens ? b->tokens : 1, .d_in = w->cols, .d_out = w->rows,
                   .A = b->inputs, .D = b->out_grads, .scale = b->grad_scale, .W = w->w,
                   .bias = bl ? bl->w : NULL, .Z = b->preact, .Gbar = w->g, .bbar = bl ? bl->g : NULL };
    tt_psacc_layer ws, bs;
    double t0 = now_mono();
    int rc = tt_psacc_dense(&p->ps, &L, b->gbar_scale, &ws, bl ? &bs : NULL, err, errlen);
    p->ps_seconds += now_mono() - t0;
    if (rc) return -1;
    layer_extras(p, weight_layer, &ws);
    if (bl) layer_extras(p, bias_layer, &bs);
    return 0;
}

int tt_probe_persample_sums(tt_probe *p, int weight_layer, int bias_layer, const tt_persample_sums *s,
                            char *err, size_t errlen)
{
    if (!p || !s) { snprintf(err, errlen, "per-sample sums: no probe or no sums"); return -1; }
    if (dense_layers_ok(p, weight_layer, bias_layer, "per-sample sums", err, errlen)) return -1;
    if ((bias_layer >= 0) != (s->bw != NULL)) {
        snprintf(err, errlen, "per-sample sums for '%s': %s", p->layers[weight_layer].name,
                 bias_layer >= 0 ? "a bias layer was named but bw/bb are missing" : "bias arrays given without a bias layer");
        return -1;
    }
    tt_psacc_layer ws, bs;
    if (tt_psacc_sums(&p->ps, s, NAN, NAN, &ws, bias_layer >= 0 ? &bs : NULL, err, errlen)) return -1;
    layer_extras(p, weight_layer, &ws);
    if (bias_layer >= 0) layer_extras(p, bias_layer, &bs);
    return 0;
}

int tt_probe_rebind_layer(tt_probe *p, int layer_index, const float *w, const float *g)
{
    if (!p || layer_index < 0 || layer_index >= p->nlayers || !w || !g || p->layers[layer_index].external) return -1;
    p->layers[layer_index].w = w;
    p->layers[layer_index].g = g;
    return 0;
}

int tt_probe_optimizer(tt_probe *p, const char *kind, double lr, double wd, double momentum)
{
    if (!p || !kind || (strcmp(kind, "sgd") && strcmp(kind, "adamw")) || !isfinite(lr) || !isfinite(wd) || !isfinite(momentum))
        return -1;
    snprintf(p->opt_kind, sizeof p->opt_kind, "%s", kind);
    p->opt_lr = lr;
    p->opt_wd = wd;
    p->opt_momentum = momentum;
    if (wd > 0)
        tt_probe_scalar(p, "eq_angle", !strcmp(kind, "sgd") ? tt_equilibrium_angle_sgdm(lr, wd, momentum)
                                                             : tt_equilibrium_angle_adamw(lr, wd, momentum));
    return 0;
}

/* ---- public API ---- */

tt_probe *tt_probe_open(const tt_probe_opts *o, char *err, size_t errlen)
{
    char ep[256], ctl[256];
    if (!o || !tt_run_name_ok(o->run)) {
        snprintf(err, errlen, "run name '%s': expected 1-127 characters of [A-Za-z0-9_.:+=-], not starting with '.'",
                 o && o->run ? o->run : "(null)");
        return NULL;
    }
    if (o->rank < 0 || o->world_size < 0 || (o->world_size && o->rank >= o->world_size)) {
        snprintf(err, errlen, "run '%s': rank %d with world size %d: expected 0 <= rank < world size", o->run, o->rank, o->world_size);
        return NULL;
    }
    if (o->spectral_every < 0) { snprintf(err, errlen, "run '%s': spectral_every=%d: expected 0 (off) or a positive interval", o->run, o->spectral_every); return NULL; }
    if (o->every < 0) { snprintf(err, errlen, "run '%s': every=%d: expected a positive sampling interval", o->run, o->every); return NULL; }
    if (o->endpoint) {
        if (tt_endpoint_check(o->endpoint, err, errlen)) return NULL;
        snprintf(ep, sizeof ep, "%s", o->endpoint);
    } else if (tt_default_endpoint(ep, sizeof ep, err, errlen)) {
        return NULL;
    }
    if (tt_endpoint_derive(ep, TT_EP_CONTROL, ctl, sizeof ctl, err, errlen)) return NULL;

    tt_probe *p = calloc(1, sizeof *p);
    if (!p) { snprintf(err, errlen, "out of memory opening run '%s'", o->run); return NULL; }
    snprintf(p->run, sizeof p->run, "%s", o->run);
    snprintf(p->endpoint, sizeof p->endpoint, "%s", ep);
    p->rank = o->rank;
    p->world = o->world_size ? o->world_size : 1;
    p->every = o->every ? o->every : 1;
    p->spectral_every = o->spectral_every > 0 ? o->spectral_every : 0;
    tt_psacc_init(&p->ps, o->persample_full, o->gwa_window);
    if (o->spool && *o->spool) snprintf(p->spool_path, sizeof p->spool_path, "%s", o->spool);
    const char *tok = getenv("TRAINTOP_TOKEN");
    if (tok && *tok) {
        if (!tt_label_ok(tok)) {
            snprintf(err, errlen, "TRAINTOP_TOKEN: expected 1-127 printable ASCII characters without quotes or backslashes");
            tt_probe_close(p, NULL, 0);
            return NULL;
        }
        snprintf(p->token, sizeof p->token, "%s", tok);
    }
    p->last_step = INT64_MIN;
    p->hparams = cJSON_CreateObject();
    jw_init(&p->w);

    /* nanomsg connects lazily and retries on its own: an absent collector is not an error. */
    p->push = nn_socket(AF_SP, NN_PUSH);
    if (p->push >= 0) {
        int sndbuf = 1 << 20;
        nn_setsockopt(p->push, NN_SOL_SOCKET, NN_SNDBUF, &sndbuf, sizeof sndbuf);
        if (nn_connect(p->push, ep) < 0) { nn_close(p->push); p->push = -1; }
    }
    p->sub = nn_socket(AF_SP, NN_SUB);
    if (p->sub >= 0) {
        if (nn_setsockopt(p->sub, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) < 0 || nn_connect(p->sub, ctl) < 0) {
            nn_close(p->sub);
            p->sub = -1;
        }
    }
    if (p->push < 0 || !p->hparams) {
        snprintf(err, errlen, "run '%s': cannot open a nanomsg socket to %s: %s", o->run, ep, nn_strerror(nn_errno()));
        tt_probe_close(p, NULL, 0);
        return NULL;
    }
    return p;
}

static int hparam_key_ok(tt_probe *p, const char *key)
{
    return p && !p->started && tt_label_ok(key);
}

int tt_probe_hparam_num(tt_probe *p, const char *key, double value)
{
    if (!hparam_key_ok(p, key)) return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(p->hparams, key);
    /* JSON has no NaN: keep the value readable as a string rather than lose it */
    cJSON *v = isfinite(value) ? cJSON_CreateNumber(value) : cJSON_CreateString(isnan(value) ? "NaN" : value > 0 ? "Inf" : "-Inf");
    return v && cJSON_AddItemToObject(p->hparams, key, v) ? 0 : -1;
}

int tt_probe_hparam_str(tt_probe *p, const char *key, const char *value)
{
    if (!hparam_key_ok(p, key) || !value) return -1;
    cJSON_DeleteItemFromObjectCaseSensitive(p->hparams, key);
    return cJSON_AddStringToObject(p->hparams, key, value) ? 0 : -1;
}

int tt_probe_add_layer(tt_probe *p, const char *name, size_t rows, size_t cols,
                       const float *w, const float *g, char *err, size_t errlen)
{
    if (!p) { snprintf(err, errlen, "layer '%s': no probe", name ? name : "(null)"); return -1; }
    if (p->started) { snprintf(err, errlen, "layer '%s': layers must be added before the first step", name ? name : "(null)"); return -1; }
    if (!tt_label_ok(name)) {
        snprintf(err, errlen, "layer name '%s': expected 1-127 printable ASCII characters without '\"' or '\\'", name ? name : "(null)");
        return -1;
    }
    for (int i = 0; i < p->nlayers; i++)
        if (!strcmp(p->layers[i].name, name)) { snprintf(err, errlen, "layer '%s' is already registered", name); return -1; }
    if (!rows || !cols || rows > ((size_t)1 << 40) / cols) {
        snprintf(err, errlen, "layer '%s': shape %zux%zu: expected positive dimensions", name, rows, cols);
        return -1;
    }
    if (!w || !g) { snprintf(err, errlen, "layer '%s': expected weight and gradient buffers, got NULL", name); return -1; }
    if (p->nlayers >= MAX_LAYERS) { snprintf(err, errlen, "layer '%s': a run has at most %d layers", name, MAX_LAYERS); return -1; }
    layer *nl = realloc(p->layers, (size_t)(p->nlayers + 1) * sizeof *nl);
    if (!nl) { snprintf(err, errlen, "layer '%s': out of memory", name); return -1; }
    p->layers = nl;
    layer *l = &p->layers[p->nlayers];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", name);
    l->rows = rows;
    l->cols = cols;
    l->w = w;
    l->g = g;
    size_t n = rows * cols;
    l->w_prev = malloc(n * sizeof(float));
    l->w0 = malloc(n * sizeof(float));
    if (!l->w_prev || !l->w0) {
        free(l->w_prev); free(l->w0);
        snprintf(err, errlen, "layer '%s': out of memory for %zu weights", name, n);
        return -1;
    }
    memcpy(l->w0, w, n * sizeof(float));
    memcpy(l->w_prev, w, n * sizeof(float));
    l->have_prev = 1;
    return p->nlayers++;
}

int tt_probe_add_external_layer(tt_probe *p, const char *name, size_t rows, size_t cols, char *err, size_t errlen)
{
    static const float dummy = 0;
    /* registered like any layer (the checks are the same), then its buffers dropped */
    int i = tt_probe_add_layer(p, name, 1, 1, &dummy, &dummy, err, errlen);
    if (i < 0) return -1;
    layer *l = &p->layers[i];
    if (!rows || !cols || rows > ((size_t)1 << 40) / cols) {
        snprintf(err, errlen, "layer '%s': shape %zux%zu: expected positive dimensions", name, rows, cols);
        free(l->w_prev); free(l->w0);
        p->nlayers--;
        return -1;
    }
    free(l->w_prev); free(l->w0);
    l->w_prev = l->w0 = NULL;
    l->w = l->g = NULL;
    l->rows = rows;
    l->cols = cols;
    l->external = 1;
    l->have_prev = 0;
    return i;
}

int tt_probe_layer_stats(tt_probe *p, int layer_index, const double *stats, int n)
{
    if (!p || layer_index < 0 || layer_index >= p->nlayers || !p->layers[layer_index].external || !stats ||
        n != TT_LAYER_NSTATS)
        return -1;
    layer *l = &p->layers[layer_index];
    memcpy(l->ext, stats, sizeof l->ext);
    l->ext_set = 1;
    return 0;
}

int tt_probe_scalar(tt_probe *p, const char *name, double value)
{
    if (!p || !tt_label_ok(name)) return -1;
    for (int i = 0; i < p->nscalars; i++)
        if (!strcmp(p->scalars[i].name, name)) { p->scalars[i].value = value; p->scalars[i].set = 1; return 0; }
    if (p->nscalars >= MAX_SCALARS) return -1;
    scalar *s = &p->scalars[p->nscalars++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->value = value;
    s->set = 1;
    return 0;
}

int tt_probe_step(tt_probe *p, int64_t step)
{
    if (!p || step <= p->last_step || step < 0) return -1;
    double t0 = now_mono();
    p->last_step = step;
    p->c.steps++;
    poll_control(p);
    if (!p->started) send_run_start(p);

    int sampled = step % p->every == 0;
    /* The step before a sampled one refreshes W_prev, so the update is always a one-step update. */
    int next_sampled = (step + 1) % p->every == 0;
    persample_scalars(p);
    header(p, &p->w, "step");
    jw_key(&p->w, "step"); jw_int(&p->w, step);
    double t1 = now_mono();
    if (sampled) {
        jw_key(&p->w, "layers"); jw_raw(&p->w, "[");
        for (int i = 0; i < p->nlayers; i++) {
            layer *l = &p->layers[i];
            double s[TT_NSTATS];
            if (l->external) {
                for (int k = 0; k < TT_NSTATS; k++) s[k] = l->ext_set ? l->ext[k] : NAN;
                l->ext_set = 0;
            } else {
                tt_layer_stats(l->w, l->g, l->have_prev ? l->w_prev : NULL, l->w0,
                               next_sampled ? l->w_prev : NULL, l->rows, l->cols, s);
                l->have_prev = next_sampled;
            }
            jw_sep(&p->w); jw_raw(&p->w, "[");
            for (int k = 0; k < TT_NSTATS; k++) { jw_sep(&p->w); jw_num(&p->w, s[k]); }
            jw_raw(&p->w, "]");
        }
        jw_raw(&p->w, "]");
    } else if (next_sampled) {
        for (int i = 0; i < p->nlayers; i++) {
            layer *l = &p->layers[i];
            if (l->external) continue;
            memcpy(l->w_prev, l->w, l->rows * l->cols * sizeof(float));
            l->have_prev = 1;
        }
    }
    spectral_step(p, step);
    write_extras(p);
    double t2 = now_mono();
    /* Scalars last, so the step's own probe cost is one of them: per-sample work, statistics and
     * encoding up to here (what remains — these few scalars and the send — is microseconds). */
    tt_probe_scalar(p, "probe_ms", (p->ps_seconds + (t2 - t0)) * 1e3);
    p->ps_seconds = 0;
    jw_key(&p->w, "scalars"); jw_raw(&p->w, "{");
    for (int i = 0; i < p->nscalars; i++) {
        if (!p->scalars[i].set) continue;
        jw_key(&p->w, p->scalars[i].name);
        jw_num(&p->w, p->scalars[i].value);
        p->scalars[i].set = 0;
    }
    jw_raw(&p->w, "}");
    jw_raw(&p->w, "}");
    send_writer(p);
    p->c.stats_seconds += t2 - t1;
    p->c.publish_seconds += (now_mono() - t0) - (t2 - t1);
    return 0;
}

int tt_probe_should_stop(tt_probe *p, char *reason, size_t len)
{
    if (!p) return 0;
    queue_flush(p);          /* called every step: also drains what waited for the connection */
    poll_control(p);
    if (p->stop && reason && len) snprintf(reason, len, "%s", p->stop_reason);
    return p->stop;
}

void tt_probe_get_counters(const tt_probe *p, tt_probe_counters *out)
{
    if (!p) { memset(out, 0, sizeof *out); return; }
    *out = p->c;
    out->queued = p->q.count;
}

void tt_probe_close(tt_probe *p, const char *status, int linger_ms)
{
    if (!p) return;
    if (status && p->push >= 0) {
        if (!p->started) send_run_start(p);
        header(p, &p->w, "run_end");
        jw_key(&p->w, "step"); jw_int(&p->w, p->last_step == INT64_MIN ? 0 : p->last_step);
        jw_key(&p->w, "status"); jw_str(&p->w, status);
        jw_key(&p->w, "sent"); jw_int(&p->w, (int64_t)p->c.sent);
        jw_key(&p->w, "dropped"); jw_int(&p->w, (int64_t)p->c.dropped);
        jw_raw(&p->w, "}");
        send_writer(p);
        /* nanomsg discards unsent data on close: wait (bounded) for the collector to acknowledge the end. */
        double deadline = now_mono() + linger_ms / 1000.0;
        while (!p->end_acked && now_mono() < deadline) {
            queue_flush(p);
            poll_control(p);
            if (!p->end_acked) usleep(2000);
        }
    }
    tt_spectral_worker_destroy(p->spectral);
    free(p->extras);
    tt_psacc_free(&p->ps);
    if (p->push >= 0) nn_close(p->push);
    if (p->sub >= 0) nn_close(p->sub);
    while (p->q.count) queue_drop_oldest(p);          /* never delivered: spooled, or counted as dropped */
    if (p->spool) fclose(p->spool);
    for (int i = 0; i < p->nlayers; i++) { free(p->layers[i].w_prev); free(p->layers[i].w0); }
    free(p->layers);
    cJSON_Delete(p->hparams);
    jw_free(&p->w);
    free(p);
}
