/* runhealth: the per-run cache of judgements and the problem list. */
#include "runhealth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "widgets/freeze.h"
#include "widgets/theme.h"

void tui_health_init(tui_health *h) { memset(h, 0, sizeof *h); }

void tui_health_free(tui_health *h)
{
    for (int i = 0; i < h->n; i++) free(h->runs[i].flags);
    free(h->runs);
    free(h->scratch);
    free(h->rows);
    memset(h, 0, sizeof *h);
}

static size_t points(tui_model *m, const tt_run *r, const char *name, tt_point *out)
{
    const tt_series *s = tui_run_scalar_series(r, name);
    return s ? tui_query(s, INT64_MIN, tui_model_step(m, r), TT_HEALTH_POINTS, out) : 0;
}

static void judge(tui_health *h, tui_model *m, const tt_run *r, tui_run_health *e)
{
    tt_point loss[TT_HEALTH_POINTS], val[TT_HEALTH_POINTS], acc[TT_HEALTH_POINTS];
    tt_health_input in = { loss, points(m, r, "loss", loss), val, points(m, r, "val_loss", val), acc, 0, tt_health_chance(r) };
    static const char *const accs[] = { "val_acc", "train_acc", "acc" };
    for (int i = 0; i < 3 && !in.nacc; i++) in.nacc = points(m, r, accs[i], acc);
    tt_health_learn(&in, &e->learn);

    int nl = tui_model_nlayers(m, r);
    e->bad_layers = e->nan_layers = 0;
    e->worst_layer = -1;
    e->nflags = 0;
    if (nl > e->cap) {
        unsigned *f = realloc(e->flags, (size_t)nl * sizeof *f);
        if (!f) return;
        e->flags = f;
        e->cap = nl;
    }
    if (nl > h->scratch_cap) {
        double *s = realloc(h->scratch, (size_t)nl * 2 * sizeof *s);
        if (s) h->scratch = s;
        const double **rows = realloc(h->rows, (size_t)nl * sizeof *rows);
        if (rows) h->rows = rows;
        if (!s || !rows) return;
        h->scratch_cap = nl;
    }
    for (int l = 0; l < nl; l++) h->rows[l] = tui_model_layer_row(m, r, l);
    tt_health_cols c;
    tt_health_cols_of(r, &c);
    e->bad_layers = tt_health_layers(h->rows, nl, &c, tui_model_layer_step(m, r), e->flags, h->scratch);
    e->nflags = nl;
    int worst = 0;
    for (int l = 0; l < nl; l++) {
        int s = tt_health_layer_severity(e->flags[l]);
        if (e->flags[l] & TT_LH_NONFINITE) e->nan_layers++;
        if (s > worst) { worst = s; e->worst_layer = l; }
    }
}

static const tui_run_health no_health = { .worst_layer = -1 };

const tui_run_health *tui_health_of(tui_health *h, tui_model *m, const tt_run *r)
{
    tui_run_health *e = NULL;
    for (int i = 0; i < h->n && !e; i++)
        if (h->runs[i].run == r && h->runs[i].rank == tui_run_rank(r) && !strcmp(h->runs[i].name, tui_run_name(r))) e = &h->runs[i];
    if (!e) {
        if (h->n == h->cap) {
            int cap = h->cap ? 2 * h->cap : 16;
            tui_run_health *n = realloc(h->runs, (size_t)cap * sizeof *n);
            if (!n) return &no_health;   /* out of memory: nothing judged */
            h->runs = n;
            h->cap = cap;
        }
        e = &h->runs[h->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", tui_run_name(r));
        e->rank = tui_run_rank(r);
        e->run = r;
        e->at = -1e300;
        e->step = INT64_MIN;
    }
    int64_t step = tui_model_step(m, r), lstep = tui_model_layer_step(m, r);
    if (step != e->seen_step || e->seen_at <= 0) {
        e->seen_step = step;
        e->seen_at = h->now;
    }
    int moved = step != e->step || lstep != e->layer_step || tui_model_nlayers(m, r) != e->nflags;
    if (e->paused != tui_model_paused(m) || (moved && h->now - e->at >= TUI_HEALTH_PERIOD)) {
        judge(h, m, r, e);
        e->step = step;
        e->layer_step = lstep;
        e->paused = tui_model_paused(m);
        e->at = h->now;
    }
    return e;
}

double tui_health_idle(tui_health *h, tui_model *m, const tt_run *r)
{
    const tui_run_health *e = tui_health_of(h, m, r);
    if (tui_model_paused(m) || !(h->now > 0) || !(e->seen_at > 0)) return NAN;
    return h->now - e->seen_at;
}

int tui_health_stale(tui_health *h, tui_model *m, const tt_run *r)
{
    if (h->replay || tui_model_state(m, r) != TT_RUN_RUNNING) return 0;
    double rate = tui_model_rate(m, r), limit = TUI_STALE_SECONDS;
    if (rate > 0 && 5 / rate > limit) limit = 5 / rate;
    return tui_health_idle(h, m, r) > limit;
}

unsigned tui_health_layer(tui_health *h, tui_model *m, const tt_run *r, int layer)
{
    const tui_run_health *e = tui_health_of(h, m, r);
    return layer >= 0 && layer < e->nflags ? e->flags[layer] : 0;
}

/* Learning states and layer flags on one scale: a NaN anywhere first, then what ruins a run, then what
 * wastes it. */
static int learn_score(tt_learn_state s)
{
    switch (s) {
    case TT_LEARN_NONFINITE: return 100;
    case TT_LEARN_DIVERGING: return 80;
    case TT_LEARN_CHANCE: return 70;
    case TT_LEARN_OVERFITTING: return 50;
    default: return 0;
    }
}

static int layer_score(unsigned f)
{
    static const int by_severity[] = { 0, 10, 30, 40, 60, 90 };   /* outlier … NaN (tt_health_layer_severity) */
    return by_severity[tt_health_layer_severity(f)];
}

static int cmp_problem(const void *a, const void *b)
{
    const tui_problem *x = a, *y = b;
    if (x->score != y->score) return y->score - x->score;
    int c = strcmp(tui_run_name(x->run), tui_run_name(y->run));
    if (c) return c;
    if (tui_run_rank(x->run) != tui_run_rank(y->run)) return tui_run_rank(x->run) - tui_run_rank(y->run);
    return x->layer - y->layer;
}

int tui_health_problems(tui_health *h, tui_model *m, const int *idx, int n, tui_problem *out, int max)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        const tt_run *r = tui_model_run(m, idx[i]);
        const tui_run_health *e = tui_health_of(h, m, r);
        int s = learn_score(e->learn.state);
        if (s && k < max) out[k++] = (tui_problem){ r, -1, s };
        for (int l = 0; l < e->nflags && k < max; l++)
            if (e->flags[l]) out[k++] = (tui_problem){ r, l, layer_score(e->flags[l]) };
    }
    qsort(out, (size_t)k, sizeof *out, cmp_problem);
    return k;
}

int tui_health_role(tt_learn_state s)
{
    switch (s) {
    case TT_LEARN_IMPROVING: return TUI_A_GOOD;
    case TT_LEARN_PLATEAU: return TUI_A_INFO;
    case TT_LEARN_OVERFITTING: return TUI_A_WARN;
    case TT_LEARN_CHANCE: case TT_LEARN_DIVERGING: case TT_LEARN_NONFINITE: return TUI_A_BAD;
    default: return TUI_A_DIM;
    }
}

int tui_health_layer_role(unsigned f)
{
    int s = tt_health_layer_severity(f);
    return s >= 4 ? TUI_A_BAD : s >= 1 ? TUI_A_WARN : TUI_A_NORMAL;
}
