/* probe: the in-process half of traintop, and its public API (include/traintop/probe.h). Computes
 * layer statistics on the training thread (one fused pass, metrics/layerstats), encodes each step
 * (proto/encode) and hands it to the transport (transport.c), which never waits; statistics on their
 * own schedule (spectra, per-sample) are schedule.c's. */
#include "probe_internal.h"
#include "schedule.h"
#include "../proto/endpoint.h"
#include "../proto/names.h"
#include "../proto/token.h"
#include "../metrics/layerstats.h"
#include "../metrics/noise.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double tt_probe_now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double tt_probe_now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- messages ---- */

void tt_probe_build_run_start(tt_probe *p, jsonw *w)
{
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    char *hp = cJSON_PrintUnformatted(p->hparams);
    tt_enc_run_start_begin(w, &p->sender, tt_probe_now_wall(), p->world, (int64_t)getpid(), host, p->every, hp);
    free(hp);
    for (int i = 0; i < p->nlayers; i++)
        tt_enc_run_start_layer(w, p->layers[i].name, p->layers[i].rows, p->layers[i].cols);
    tt_enc_run_start_end(w);
}

/* Can the spool file be appended to? Creates nothing that was not there. 1 with err when not. */
static int spool_unusable(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600), made = fd >= 0;
    if (fd < 0 && errno == EEXIST) fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    int regular = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode), e = errno;
    if (fd >= 0) close(fd);
    if (made) unlink(path);
    if (regular) return 0;
    snprintf(err, errlen, "spool %s: %s: expected a file the probe can create or append to", path, fd >= 0 ? "not a regular file" : strerror(e));
    return 1;
}

/* The transport's view of run_start: a fresh message, for its first send, resends and its spool's first
 * line. It carries no sequence number, only the base: what the collector need not wait for. */
static char *run_start_msg(void *ctx, size_t *len)
{
    tt_probe *p = ctx;
    jsonw w;
    jw_init(&w);
    tt_tx_stamp(&p->tx, &p->sender);
    p->sender.seq = 0;
    tt_probe_build_run_start(p, &w);
    return jw_take(&w, len);
}

void tt_probe_send_writer(tt_probe *p)
{
    size_t len = 0;
    char *msg = jw_take(&p->w, &len);
    tt_tx_send(&p->tx, msg, len);
}

void tt_probe_send_run_start(tt_probe *p)
{
    p->started = p->tx.started = p->tx.start_due = 1;   /* the transport sends it before any step */
    tt_tx_flush(&p->tx);
}

/* ---- per-sample statistics and the optimizer (their bookkeeping is schedule.c's) ---- */

int tt_probe_dense_batch(tt_probe *p, int weight_layer, int bias_layer, const tt_dense_batch *b,
                         char *err, size_t errlen)
{
    if (!p || !b) { snprintf(err, errlen, "dense batch: no probe or no batch"); return -1; }
    if (tt_sched_dense_layers_ok(p, weight_layer, bias_layer, "dense batch", err, errlen)) return -1;
    const tt_probe_layer *w = &p->layers[weight_layer], *bl = bias_layer >= 0 ? &p->layers[bias_layer] : NULL;
    if (w->external || (bl && bl->external)) {
        snprintf(err, errlen, "dense batch for '%s': its statistics are external: hand in per-sample sums computed where "
                 "the weights are (tt_probe_persample_sums)", w->name);
        return -1;
    }
    if (!p->budget.every && !(tt_budget_plan(&p->budget, (int64_t)p->c.steps + 1) & (1u << TT_BUDGET_PERSAMPLE)))
        return 0;                       /* not a per-sample step under the budget: nothing to spend */
    if (!(b->grad_scale > 0) || !isfinite(b->grad_scale)) {
        snprintf(err, errlen, "dense batch for '%s': grad_scale %g: expected a positive number (B for a mean-reduced loss)", w->name, b->grad_scale);
        return -1;
    }
    tt_dense L = { .B = b->batch, .T = b->tokens ? b->tokens : 1, .d_in = w->cols, .d_out = w->rows,
                   .A = b->inputs, .D = b->out_grads, .scale = b->grad_scale, .W = w->w,
                   .bias = bl ? bl->w : NULL, .Z = b->preact, .Gbar = w->g, .bbar = bl ? bl->g : NULL };
    tt_psacc_layer ws, bs;
    double t0 = tt_probe_now_mono();
    int rc = tt_psacc_dense(&p->sched.ps, &L, b->gbar_scale, weight_layer == p->sched.gwa_head, &ws, bl ? &bs : NULL,
                            err, errlen);
    p->sched.ps_seconds += tt_probe_now_mono() - t0;
    if (rc) return -1;
    p->sched.ps_covered += (double)(w->rows * w->cols) + (bl ? (double)bl->rows : 0);
    tt_sched_layer_extras(p, weight_layer, &ws);
    if (bl) tt_sched_layer_extras(p, bias_layer, &bs);
    return 0;
}

int tt_probe_persample_sums(tt_probe *p, int weight_layer, int bias_layer, const tt_persample_sums *s,
                            char *err, size_t errlen)
{
    if (!p || !s) { snprintf(err, errlen, "per-sample sums: no probe or no sums"); return -1; }
    if (tt_sched_dense_layers_ok(p, weight_layer, bias_layer, "per-sample sums", err, errlen)) return -1;
    if ((bias_layer >= 0) != (s->bw != NULL)) {
        snprintf(err, errlen, "per-sample sums for '%s': %s", p->layers[weight_layer].name,
                 bias_layer >= 0 ? "a bias layer was named but bw/bb are missing" : "bias arrays given without a bias layer");
        return -1;
    }
    tt_psacc_layer ws, bs;
    if (tt_psacc_sums(&p->sched.ps, s, NAN, NAN, weight_layer == p->sched.gwa_head, &ws, bias_layer >= 0 ? &bs : NULL,
                      err, errlen))
        return -1;
    const tt_probe_layer *w = &p->layers[weight_layer];
    p->sched.ps_covered += (double)(w->rows * w->cols) + (bias_layer >= 0 ? (double)p->layers[bias_layer].rows : 0);
    tt_sched_layer_extras(p, weight_layer, &ws);
    if (bias_layer >= 0) tt_sched_layer_extras(p, bias_layer, &bs);
    return 0;
}

int tt_probe_gwa_head(tt_probe *p, int weight_layer)
{
    if (!p || weight_layer < -1 || weight_layer >= p->nlayers) return -1;
    p->sched.gwa_head = weight_layer;
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
    snprintf(p->sched.opt_kind, sizeof p->sched.opt_kind, "%s", kind);
    p->sched.opt_lr = lr;
    p->sched.opt_wd = wd;
    p->sched.opt_momentum = momentum;
    if (wd > 0)
        tt_probe_scalar(p, "eq_angle", !strcmp(kind, "sgd") ? tt_equilibrium_angle_sgdm(lr, wd, momentum)
                                                             : tt_equilibrium_angle_adamw(lr, wd, momentum));
    return 0;
}

/* ---- the run ---- */

/* The caller's options in this library's struct: a smaller (older) struct zero-filled, a larger (newer)
 * one accepted when what this library does not know is zero. 0, or -1 with err. */
static int opts_import(tt_probe_opts *o, const tt_probe_opts *in, size_t size, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    if (!in) return 0;                  /* no options: reported as a missing run name */
    if (size < offsetof(tt_probe_opts, run) + sizeof o->run) {
        snprintf(err, errlen, "tt_probe_open: options of %zu bytes: expected at least %zu (pass sizeof(tt_probe_opts))",
                 size, offsetof(tt_probe_opts, run) + sizeof o->run);
        return -1;
    }
    for (size_t i = sizeof *o; i < size; i++)
        if (((const unsigned char *)in)[i]) {
            snprintf(err, errlen, "tt_probe_open: options of %zu bytes set byte %zu, beyond the %zu this library knows: "
                     "an option it does not have (built against a newer traintop/probe.h?)", size, i, sizeof *o);
            return -1;
        }
    memcpy(o, in, size < sizeof *o ? size : sizeof *o);
    return 0;
}

tt_probe *tt_probe_open(const tt_probe_opts *opts, size_t opts_size, char *err, size_t errlen)
{
    char ep[256], ctl[256];
    tt_probe_opts oo, *o = &oo;
    if (opts_import(o, opts, opts_size, err, errlen)) return NULL;
    if (!tt_run_name_ok(o->run)) {
        snprintf(err, errlen, "run name '%s': expected 1-127 characters of [A-Za-z0-9_.:+=-], not starting with '.' or '-'",
                 o->run ? o->run : "(null)");
        return NULL;
    }
    if (o->rank < 0 || o->world_size < 0 || (o->world_size && o->rank >= o->world_size)) {
        snprintf(err, errlen, "run '%s': rank %d with world size %d: expected 0 <= rank < world size", o->run, o->rank, o->world_size);
        return NULL;
    }
    if (o->spectral_every < 0) { snprintf(err, errlen, "run '%s': spectral_every=%d: expected 0 (off) or a positive interval", o->run, o->spectral_every); return NULL; }
    if (o->every < 0) { snprintf(err, errlen, "run '%s': every=%d: expected a positive sampling interval (0: the overhead budget)", o->run, o->every); return NULL; }
    if (!(o->overhead >= 0 && o->overhead <= 1)) {
        snprintf(err, errlen, "run '%s': overhead=%g: expected a fraction of the step time in (0, 1] (0: the default %g)", o->run, o->overhead, TT_BUDGET_DEFAULT);
        return NULL;
    }
    if (o->endpoint) {
        if (tt_endpoint_check(o->endpoint, err, errlen)) return NULL;
        snprintf(ep, sizeof ep, "%s", o->endpoint);
    } else if (tt_default_endpoint(ep, sizeof ep, err, errlen)) {
        return NULL;
    }
    if (tt_endpoint_derive(ep, TT_EP_CONTROL, ctl, sizeof ctl, err, errlen)) return NULL;

    tt_probe *p = calloc(1, sizeof *p);
    if (!p) { snprintf(err, errlen, "out of memory opening run '%s'", o->run); return NULL; }
    p->tx.push = p->tx.sub = -1;
    snprintf(p->run, sizeof p->run, "%s", o->run);
    p->rank = o->rank;
    snprintf(p->tx.run, sizeof p->tx.run, "%s", o->run);
    p->tx.rank = o->rank;
    p->tx.c = &p->c;
    p->tx.start_msg = run_start_msg;
    p->tx.ctx = p;
    p->world = o->world_size ? o->world_size : 1;
    p->every = o->every ? o->every : 1;    /* run_start's `every`: 1 under the budget (any step may be sampled) */
    tt_budget_init(&p->budget, o->every, o->overhead);
    tt_sched_init(&p->sched, o->spectral_every, o->persample_full, o->gwa_window);
    /* the same rule as the collector's (proto/token); a spool that could never be written is said now,
     * not discovered as dropped messages when the collector goes away */
    if (tt_token_from_env(p->tx.token, sizeof p->tx.token, err, errlen) || (o->spool && *o->spool && spool_unusable(o->spool, err, errlen))) {
        tt_probe_close(p, NULL, 0);
        return NULL;
    }
    p->sender = (tt_enc_sender){ .run = p->run, .rank = p->rank, .token = p->tx.token };
    p->last_step = INT64_MIN;
    p->hparams = cJSON_CreateObject();
    jw_init(&p->w);
    if (tt_tx_open(&p->tx, ep, ctl, o->spool, err, errlen) || !p->hparams) {
        if (!p->hparams) snprintf(err, errlen, "out of memory opening run '%s'", o->run);
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
    if (p->nlayers >= TT_MAX_LAYERS) { snprintf(err, errlen, "layer '%s': a run has at most %d layers", name, TT_MAX_LAYERS); return -1; }
    tt_probe_layer *nl = realloc(p->layers, (size_t)(p->nlayers + 1) * sizeof *nl);
    if (!nl) { snprintf(err, errlen, "layer '%s': out of memory", name); return -1; }
    p->layers = nl;
    tt_probe_layer *l = &p->layers[p->nlayers];
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
    tt_probe_layer *l = &p->layers[i];
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
    tt_probe_layer *l = &p->layers[layer_index];
    memcpy(l->ext, stats, sizeof l->ext);
    l->ext_set = 1;
    return 0;
}

int tt_probe_scalar(tt_probe *p, const char *name, double value)
{
    if (!p || !tt_label_ok(name)) return -1;
    for (int i = 0; i < p->nscalars; i++)
        if (!strcmp(p->scalars[i].name, name)) { p->scalars[i].value = value; p->scalars[i].set = 1; return 0; }
    if (p->nscalars >= TT_MAX_SCALARS) return -1;
    tt_probe_scalar_slot *s = &p->scalars[p->nscalars++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->value = value;
    s->set = 1;
    return 0;
}

int tt_probe_sampled(const tt_probe *p, int64_t step)
{
    if (!p || (p->last_step != INT64_MIN && step <= p->last_step) || step < 0) return -1;
    /* fixed: by step number; budget: by published steps, `step` being the (step - last)th to come */
    unsigned bits = tt_budget_plan(&p->budget, p->budget.every ? step
                                   : (int64_t)p->c.steps + (p->last_step == INT64_MIN ? 1 : step - p->last_step));
    return (bits & (1u << TT_BUDGET_STATS) ? TT_SAMPLE_STATS : 0) | (bits & (1u << TT_BUDGET_PERSAMPLE) ? TT_SAMPLE_PERSAMPLE : 0);
}

int tt_probe_cost(tt_probe *p, int kind, double seconds)
{
    if (!p || !(seconds >= 0) || !isfinite(seconds) || (kind != 0 && kind != TT_SAMPLE_STATS && kind != TT_SAMPLE_PERSAMPLE))
        return -1;
    p->ext_cost[kind == TT_SAMPLE_STATS ? TT_COST_STATS : kind == TT_SAMPLE_PERSAMPLE ? TT_COST_PERSAMPLE : TT_COST_FIXED] += seconds;
    return 0;
}

int tt_probe_system_metrics(tt_probe *p, double interval_s, const char *gpus, char *err, size_t errlen)
{
    if (!p) { snprintf(err, errlen, "system metrics: no probe"); return -1; }
    tt_sysmetrics_stop(p->sys);
    p->sys = tt_sysmetrics_start(interval_s > 0 ? interval_s : 5.0, gpus, err, errlen);
    return p->sys ? 0 : -1;
}

/* The newest system sample, when one came since the last step, as this step's scalars. */
static void system_scalars(tt_probe *p)
{
    tt_sys_sample s;
    if (!p->sys || !tt_sysmetrics_take(p->sys, &s)) return;
    for (int i = 0; i < s.n; i++) tt_probe_scalar(p, s.name[i], s.value[i]);
}

int tt_probe_step(tt_probe *p, int64_t step)
{
    return tt_probe_step_at(p, step, NAN);
}

int tt_probe_step_at(tt_probe *p, int64_t step, double ended)
{
    if (!p || step <= p->last_step || step < 0) return -1;
    double t0 = tt_probe_now_mono();
    double ext = p->ext_cost[0] + p->ext_cost[1] + p->ext_cost[2];
    /* where the step ended: now, or earlier for a step published late (tt_probe_step_at) */
    double mark = isfinite(ended) && ended <= t0 && ended >= p->prev_end ? ended : t0;
    /* the step's own time: since the last step returned, less the probe's work in between */
    double base = p->prev_end > 0 ? (mark - p->prev_end) - p->sched.ps_seconds - ext : NAN;
    p->last_step = step;
    p->c.steps++;
    tt_tx_poll_control(&p->tx);
    if (!p->started) tt_probe_send_run_start(p);

    unsigned now = tt_budget_begin(&p->budget, p->budget.every ? step : (int64_t)p->c.steps);
    int sampled = !!(now & (1u << TT_BUDGET_STATS));
    /* The step before a sampled one refreshes W_prev, so the update is always a one-step update. */
    int next_sampled = tt_probe_sampled(p, step + 1) & TT_SAMPLE_STATS;
    double ps_scalars = 0;
    if (p->sched.ps.B) {                /* a clock read costs ~0.1 µs here: only when there is work */
        double tp = tt_probe_now_mono();
        tt_sched_persample_scalars(p);
        ps_scalars = tt_probe_now_mono() - tp;
    } else {
        tt_sched_persample_scalars(p);
    }
    tt_tx_stamp(&p->tx, &p->sender);
    tt_enc_step_begin(&p->w, &p->sender, tt_probe_now_wall(), step);
    /* clock reads cost ~0.1 µs here: an unsampled step without spectra times nothing in between */
    int timed = sampled || next_sampled || p->sched.spectral_every;
    double t1 = timed ? tt_probe_now_mono() : 0, t_rows = 0;
    if (sampled) {
        tt_enc_rows_begin(&p->w);
        for (int i = 0; i < p->nlayers; i++) {
            tt_probe_layer *l = &p->layers[i];
            double s[TT_NSTATS];
            if (l->external) {
                for (int k = 0; k < TT_NSTATS; k++) s[k] = l->ext_set ? l->ext[k] : NAN;
                l->ext_set = 0;
            } else {
                tt_layer_stats(l->w, l->g, l->have_prev ? l->w_prev : NULL, l->w0,
                               next_sampled ? l->w_prev : NULL, l->rows, l->cols, s);
                l->have_prev = next_sampled;
            }
            tt_enc_row(&p->w, s);
        }
        tt_enc_rows_end(&p->w);
    } else if (next_sampled) {
        for (int i = 0; i < p->nlayers; i++) {
            tt_probe_layer *l = &p->layers[i];
            if (l->external) continue;
            memcpy(l->w_prev, l->w, l->rows * l->cols * sizeof(float));
            l->have_prev = 1;
        }
    }
    if (timed && p->sched.spectral_every) t_rows = tt_probe_now_mono() - t1;
    tt_sched_spectral(p, step);
    tt_sched_write_extras(p);
    double t2 = tt_probe_now_mono();
    if (!timed) t1 = t2;
    else if (!p->sched.spectral_every) t_rows = t2 - t1;
    /* Scalars last, so the step's own probe cost is one of them: per-sample work, statistics and
     * encoding up to here (what remains — these few scalars and the send — is microseconds). */
    tt_probe_scalar(p, "probe_ms", (p->sched.ps_seconds + ext + (t2 - t0)) * 1e3);
    double achieved = tt_budget_overhead(&p->budget);      /* up to the last step: this one is not over */
    if (sampled && isfinite(achieved)) tt_probe_scalar(p, "probe_overhead_pct", achieved * 100);
    system_scalars(p);
    tt_enc_scalars_begin(&p->w);
    for (int i = 0; i < p->nscalars; i++) {
        if (!p->scalars[i].set) continue;
        tt_enc_scalar(&p->w, p->scalars[i].name, p->scalars[i].value);
        p->scalars[i].set = 0;
    }
    tt_enc_scalars_end(&p->w);
    tt_enc_step_end(&p->w);
    tt_probe_send_writer(p);
    double end = tt_probe_now_mono();
    p->c.stats_seconds += t2 - t1;
    p->c.publish_seconds += (end - t0) - (t2 - t1);
    /* the step's cost in parts, for the schedule: §1 rows (or the refresh before them), per-sample
     * work, and the rest, which every step pays */
    double cost[TT_COST_PARTS] = {
        [TT_COST_FIXED] = (end - t0) - t_rows - ps_scalars + p->ext_cost[TT_COST_FIXED],
        [TT_COST_STATS] = t_rows + p->ext_cost[TT_COST_STATS],
        [TT_COST_PERSAMPLE] = p->sched.ps_seconds + ps_scalars + p->ext_cost[TT_COST_PERSAMPLE],
    };
    tt_budget_end(&p->budget, base, cost);
    p->sched.ps_seconds = 0;
    memset(p->ext_cost, 0, sizeof p->ext_cost);
    p->prev_end = mark + (end - t0);       /* as if published when it ended */
    return 0;
}

int tt_probe_should_stop(tt_probe *p, char *reason, size_t len)
{
    if (!p) return 0;
    tt_tx_flush(&p->tx);          /* called every step: also drains what waited for the connection */
    tt_tx_poll_control(&p->tx);
    if (p->tx.stop && reason && len) snprintf(reason, len, "%s", p->tx.stop_reason);
    return p->tx.stop;
}

void tt_probe_get_counters(const tt_probe *p, tt_probe_counters *out)
{
    if (!p) { memset(out, 0, sizeof *out); return; }
    *out = p->c;
    out->queued = p->tx.q.count;
}

void tt_probe_close(tt_probe *p, const char *status, int linger_ms)
{
    if (!p) return;
    if (status && p->tx.push >= 0) {
        if (!p->started) tt_probe_send_run_start(p);
        tt_tx_stamp(&p->tx, &p->sender);
        tt_enc_run_end(&p->w, &p->sender, tt_probe_now_wall(), p->last_step == INT64_MIN ? 0 : p->last_step, status,
                       p->c.steps, p->c.sent, p->c.dropped, p->c.spooled);
        tt_probe_send_writer(p);
        tt_tx_linger(&p->tx, linger_ms);
    }
    tt_sysmetrics_stop(p->sys);
    tt_sched_free(&p->sched);
    tt_tx_close(&p->tx);
    for (int i = 0; i < p->nlayers; i++) { free(p->layers[i].w_prev); free(p->layers[i].w0); }
    free(p->layers);
    cJSON_Delete(p->hparams);
    jw_free(&p->w);
    free(p);
}
