/* health: the judgements of health.h. Learning is judged on bucket means smoothed over three buckets,
 * so one noisy minibatch moves nothing; layers on their latest rows, outliers by a robust z-score of
 * log10 values (median and MAD), so a model's spread of scales is not itself a problem. */
#include "health.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tt_health_learn_name(tt_learn_state s)
{
    static const char *const names[TT_LEARN_NSTATES] = {
        [TT_LEARN_UNKNOWN] = "n/a",         [TT_LEARN_IMPROVING] = "improving", [TT_LEARN_PLATEAU] = "plateau",
        [TT_LEARN_OVERFITTING] = "overfitting", [TT_LEARN_CHANCE] = "at chance", [TT_LEARN_DIVERGING] = "diverging",
        [TT_LEARN_NONFINITE] = "NaN loss",
    };
    return s >= 0 && s < TT_LEARN_NSTATES ? names[s] : "n/a";
}

/* ---- learning ---- */

#define MAXP 128

/* A series' finite bucket means, smoothed over three buckets; first[i] the bucket's first step. */
typedef struct {
    double v[MAXP];
    int64_t step[MAXP], first[MAXP];
    int n;
} curve;

static void curve_of(const tt_point *p, size_t n, curve *c)
{
    double raw[MAXP];
    c->n = 0;
    for (size_t i = 0; i < n && c->n < MAXP; i++) {
        if (!p[i].finite || !isfinite(p[i].mean)) continue;
        raw[c->n] = p[i].mean;
        c->step[c->n] = p[i].step;
        c->first[c->n] = p[i].first;
        c->n++;
    }
    for (int i = 0; i < c->n; i++) {
        int lo = i > 0 ? i - 1 : i, hi = i + 1 < c->n ? i + 1 : i;
        double s = 0;
        for (int k = lo; k <= hi; k++) s += raw[k];
        c->v[i] = s / (hi - lo + 1);
    }
}

static int argmin(const curve *c)
{
    int m = 0;
    for (int i = 1; i < c->n; i++) if (c->v[i] < c->v[m]) m = i;
    return m;
}

/* The loss is non-finite now: from the first bucket of the trailing run of buckets holding non-finite values. */
static int nonfinite_now(const tt_point *p, size_t n, int64_t *since)
{
    if (n == 0 || isfinite(p[n - 1].last)) return 0;
    size_t i = n - 1;
    while (i > 0 && p[i - 1].finite < p[i - 1].count) i--;
    *since = p[i].first;
    return 1;
}

/* Rose above its low by the factor and by a share of how far it had fallen: since the low. */
static int rising(const curve *c, double factor, double share, int *at)
{
    if (c->n < TT_HEALTH_MIN_POINTS) return 0;
    int m = argmin(c);
    double lo = c->v[m], last = c->v[c->n - 1], head = c->v[0];
    if (m >= c->n - 2 || !(lo > 0)) return 0;
    if (!(last > factor * lo)) return 0;
    if (!(last - lo > share * (head - lo))) return 0;
    *at = m;
    return 1;
}

static double mean_of(const curve *c, int from, int to)
{
    double s = 0;
    for (int i = from; i < to; i++) s += c->v[i];
    return to > from ? s / (to - from) : NAN;
}

void tt_health_learn(const tt_health_input *in, tt_health_learning *out)
{
    memset(out, 0, sizeof *out);
    out->state = TT_LEARN_UNKNOWN;
    out->since = -1;
    int64_t since;
    if (nonfinite_now(in->loss, in->nloss, &since) || nonfinite_now(in->val, in->nval, &since)) {
        int train = in->nloss && !isfinite(in->loss[in->nloss - 1].last);
        out->state = TT_LEARN_NONFINITE;
        out->since = since;
        snprintf(out->why, sizeof out->why, "%s is %s since step %lld", train ? "loss" : "val_loss",
                 train ? (isnan(in->loss[in->nloss - 1].last) ? "NaN" : "infinite") : "not finite", (long long)since);
        return;
    }
    curve loss, val, acc;
    curve_of(in->loss, in->nloss, &loss);
    curve_of(in->val, in->nval, &val);
    curve_of(in->acc, in->nacc, &acc);
    if (loss.n < TT_HEALTH_MIN_POINTS && val.n < TT_HEALTH_MIN_POINTS) {
        snprintf(out->why, sizeof out->why, in->nloss || in->nval ? "too few points to judge yet" : "the run sends no loss");
        return;
    }
    int at;
    if (rising(&loss, TT_HEALTH_DIVERGE, TT_HEALTH_RISE_SHARE, &at)) {
        out->state = TT_LEARN_DIVERGING;
        out->since = loss.step[at];
        snprintf(out->why, sizeof out->why, "loss %.3g, %.1fx its low of %.3g at step %lld", loss.v[loss.n - 1],
                 loss.v[loss.n - 1] / loss.v[at], loss.v[at], (long long)loss.step[at]);
        return;
    }
    if (isfinite(in->chance) && in->chance > 0 && in->chance < 1 && acc.n >= TT_HEALTH_MIN_POINTS) {
        double lim = in->chance + TT_HEALTH_CHANCE_MARGIN * (1 - in->chance);
        if (acc.v[acc.n - 1] <= lim) {
            int i = acc.n - 1;
            while (i > 0 && acc.v[i - 1] <= lim) i--;
            out->state = TT_LEARN_CHANCE;
            out->since = acc.first[i];
            snprintf(out->why, sizeof out->why, "accuracy %.3g, guessing gets %.3g", acc.v[acc.n - 1], in->chance);
            return;
        }
    }
    if (val.n >= TT_HEALTH_MIN_POINTS) {
        int m = argmin(&val);
        double lo = val.v[m], last = val.v[val.n - 1];
        /* validation rising well above its low (not noise), while the training loss kept falling */
        if (m < val.n - 2 && lo > 0 && last > lo * (1 + TT_HEALTH_OVERFIT) && last - lo > TT_HEALTH_RISE_SHARE * (val.v[0] - lo)) {
            int k = 0;      /* the training loss around the validation low */
            while (k + 1 < loss.n && loss.step[k] < val.step[m]) k++;
            if (loss.n == 0 || loss.v[loss.n - 1] <= loss.v[k]) {
                out->state = TT_LEARN_OVERFITTING;
                out->since = val.step[m];
                snprintf(out->why, sizeof out->why, "val_loss up %.0f%% from its low at step %lld while loss falls",
                         100 * (last - lo) / lo, (long long)val.step[m]);
                return;
            }
        }
    }
    if (loss.n >= TT_HEALTH_MIN_POINTS) {
        /* the longest recent window (a quarter of the history or more) over which the loss moved < 1% */
        for (int w = loss.n; w >= loss.n / 4 && w >= 4; w--) {
            int from = loss.n - w, half = from + w / 2;
            double a = mean_of(&loss, from, half), b = mean_of(&loss, half, loss.n);
            double scale = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
            if (fabs(a - b) <= TT_HEALTH_PLATEAU * scale) {
                out->state = TT_LEARN_PLATEAU;
                out->since = loss.first[from];
                snprintf(out->why, sizeof out->why, "loss %.3g, within %.0f%% since step %lld", b, 100 * TT_HEALTH_PLATEAU,
                         (long long)loss.first[from]);
                return;
            }
        }
        out->state = TT_LEARN_IMPROVING;
        snprintf(out->why, sizeof out->why, "loss %.3g, down from %.3g", loss.v[loss.n - 1], loss.v[0]);
        return;
    }
    out->state = TT_LEARN_IMPROVING;
    snprintf(out->why, sizeof out->why, "val_loss %.3g", val.v[val.n - 1]);
}

/* ---- layers ---- */

const char *tt_health_layer_name(unsigned f)
{
    if (f & TT_LH_NONFINITE) return "NaN";
    if (f & TT_LH_DEAD) return "dead";
    if (f & TT_LH_EXPLODING) return "upd>>";
    if (f & TT_LH_VANISHING) return "upd<<";
    if (f & TT_LH_OUTLIER) return "outlier";
    return "";
}

int tt_health_layer_severity(unsigned f)
{
    return f & TT_LH_NONFINITE ? 5 : f & TT_LH_DEAD ? 4 : f & TT_LH_EXPLODING ? 3 : f & TT_LH_VANISHING ? 2 : f & TT_LH_OUTLIER ? 1 : 0;
}

void tt_health_cols_of(const tt_run *r, tt_health_cols *c)
{
    c->w_norm = tt_run_stat_index(r, "w_norm");
    c->g_norm = tt_run_stat_index(r, "g_norm");
    c->g_rms = tt_run_stat_index(r, "g_rms");
    c->update_ratio = tt_run_stat_index(r, "update_ratio");
    c->nonfinite = tt_run_stat_index(r, "nonfinite");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median and MAD of v[0..n) (reorders v). */
static void median_mad(double *v, int n, double *med, double *mad)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    for (int i = 0; i < n; i++) v[i] = fabs(v[i] - *med);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *mad = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double at(const double *row, int k) { return row && k >= 0 ? row[k] : NAN; }

/* Flags the layers whose log10 of statistic k is far from the others'. */
static void outliers(const double *const *rows, int n, int k, unsigned *flags, double *s)
{
    if (k < 0) return;
    int m = 0;
    for (int l = 0; l < n; l++) {
        double v = at(rows[l], k);
        if (v > 0 && isfinite(v)) s[m++] = log10(v);
    }
    if (m < 5) return;
    double med, mad;
    median_mad(s, m, &med, &mad);
    double spread = 1.4826 * mad;
    for (int l = 0; l < n; l++) {
        double v = at(rows[l], k);
        if (!(v > 0) || !isfinite(v)) continue;
        double d = fabs(log10(v) - med);
        if (d > TT_HEALTH_OUTLIER_DECADES && (spread == 0 || d > TT_HEALTH_OUTLIER_Z * spread)) flags[l] |= TT_LH_OUTLIER;
    }
}

int tt_health_layers(const double *const *rows, int nlayers, const tt_health_cols *c, int64_t layer_step, unsigned *flags,
                     double *scratch)
{
    int ratios = layer_step >= TT_HEALTH_RATIO_WARMUP;
    for (int l = 0; l < nlayers; l++) {
        const double *row = rows[l];
        unsigned f = 0;
        double nf = at(row, c->nonfinite), w = at(row, c->w_norm), g = at(row, c->g_norm), u = at(row, c->update_ratio);
        if (row) {
            /* statistics sent as NaN mean "undefined" (a ratio of a zero weight); the norms never are */
            if (nf > 0 || (c->w_norm >= 0 && !isfinite(w)) || (c->g_norm >= 0 && !isfinite(g))) f |= TT_LH_NONFINITE;
            else if (g == 0) f |= TT_LH_DEAD;
            else if (ratios && u > TT_HEALTH_RATIO_HIGH && isfinite(u)) f |= TT_LH_EXPLODING;
            else if (ratios && u >= 0 && u < TT_HEALTH_RATIO_LOW) f |= TT_LH_VANISHING;
        }
        flags[l] = f;
    }
    outliers(rows, nlayers, c->g_rms, flags, scratch);
    if (ratios) outliers(rows, nlayers, c->update_ratio, flags, scratch);
    int bad = 0;
    for (int l = 0; l < nlayers; l++) {
        if (flags[l] & ~TT_LH_OUTLIER) flags[l] &= ~TT_LH_OUTLIER;   /* the worse flag says it */
        if (flags[l]) bad++;
    }
    return bad;
}

/* ---- a live run ---- */

double tt_health_chance(const tt_run *r)
{
    static const char *const keys[] = { "classes", "num_classes", "n_classes" };
    for (size_t i = 0; r->hparams && i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->hparams, keys[i]);
        if (cJSON_IsNumber(v) && v->valuedouble >= 2) return 1.0 / v->valuedouble;
    }
    return NAN;
}

static size_t points(const tt_run *r, const char *name, tt_point *out)
{
    const tt_named_series *s = tt_run_scalar(r, name);
    return s ? tt_series_query(s->series, INT64_MIN, INT64_MAX, TT_HEALTH_POINTS, out) : 0;
}

int tt_health_run(const tt_run *r, tt_health *out)
{
    tt_point loss[TT_HEALTH_POINTS], val[TT_HEALTH_POINTS], acc[TT_HEALTH_POINTS];
    tt_health_input in = { loss, points(r, "loss", loss), val, points(r, "val_loss", val), acc, 0, tt_health_chance(r) };
    static const char *const accs[] = { "val_acc", "train_acc", "acc" };
    for (size_t i = 0; i < 3 && !in.nacc; i++) in.nacc = points(r, accs[i], acc);
    tt_health_learn(&in, &out->learn);
    out->bad_layers = 0;
    out->worst_layer = -1;
    out->worst_flags = 0;
    if (r->nlayers == 0) return 0;
    const double **rows = malloc((size_t)r->nlayers * sizeof *rows);
    unsigned *flags = malloc((size_t)r->nlayers * sizeof *flags);
    double *scratch = malloc((size_t)r->nlayers * 2 * sizeof *scratch);
    int rc = 0;
    if (rows && flags && scratch) {
        for (int l = 0; l < r->nlayers; l++) rows[l] = r->layers[l].last;
        tt_health_cols c;
        tt_health_cols_of(r, &c);
        out->bad_layers = tt_health_layers(rows, r->nlayers, &c, r->last_layer_step, flags, scratch);
        for (int l = 0; l < r->nlayers; l++)
            if (tt_health_layer_severity(flags[l]) > tt_health_layer_severity(out->worst_flags)) {
                out->worst_layer = l;
                out->worst_flags = flags[l];
            }
    } else {
        rc = -1;
    }
    free(rows);
    free(flags);
    free(scratch);
    return rc;
}
