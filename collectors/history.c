/* history: every series is downsampled on its own and expanded to points (step, value). Series whose
 * steps come out identical — every layer statistic fed by the same step messages — share one step
 * list (a group), so putting all points in step order is a merge of a few groups, not a sort of every
 * point. Each distinct step becomes one step message: its scalars, full layer rows when every layer
 * has every row statistic at that step (the compact form the ingest fast path reads), and extra
 * entries for the rest. */
#include "history.h"
#include "../proto/encode.h"
#include "../proto/jsonw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t *step;             /* non-decreasing */
    size_t n, pos;             /* pos: the merge's cursor */
    uint64_t hash;
    int *member, nmember;      /* its series, in series order */
} hgroup;

typedef struct {
    int layer;                 /* -1 for a scalar */
    int index;                 /* scalar index, or statistic index */
    int group;
    size_t off;                /* its values: vals[off .. off + group n) */
} hseries;

typedef struct {
    hgroup *g;
    int ng, gcap;
    int *slot;                 /* hash table of group index + 1 (0: empty), gslots a power of two */
    size_t gslots;
    hseries *s;
    int ns;
    float *vals;
    size_t nvals, vcap;
    int *members;              /* every group's member list, in one block */
    int64_t *tstep;            /* one series' points before they find their group */
    float *tval;
    size_t tcap;
    int oom;
} hrun;

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *np = realloc(p, c * size);
    if (np) *cap = c;
    return np;
}

/* A bucket as up to three points on distinct steps: its minimum, maximum and last value. */
static size_t expand(hrun *h, const tt_series *s, size_t points, tt_point *buf)
{
    size_t n = tt_series_query(s, INT64_MIN, INT64_MAX, points, buf), k = 0;
    if (3 * n > h->tcap) {
        size_t c = 3 * n;
        int64_t *ts = realloc(h->tstep, c * sizeof *ts);
        if (ts) h->tstep = ts;
        float *tv = ts ? realloc(h->tval, c * sizeof *tv) : NULL;
        if (tv) h->tval = tv;
        if (!ts || !tv) { h->oom = 1; return 0; }
        h->tcap = c;
    }
    for (size_t i = 0; i < n; i++) {
        const tt_point *p = &buf[i];
        if (p->count <= 1 || p->first >= p->step) { h->tstep[k] = p->step; h->tval[k++] = p->last; continue; }
        int64_t mid = p->first + (p->step - p->first) / 2;
        h->tstep[k] = p->first; h->tval[k++] = p->finite ? p->min : p->last;
        if (mid > p->first && mid < p->step) { h->tstep[k] = mid; h->tval[k++] = p->finite ? p->max : p->last; }
        h->tstep[k] = p->step; h->tval[k++] = p->last;
    }
    return k;
}

static uint64_t hash_steps(const int64_t *st, size_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15ull ^ n;
    for (size_t i = 0; i < n; i++) x = (x ^ (uint64_t)st[i]) * 0x100000001b3ull;
    return x ^ (x >> 29);
}

static int rehash(hrun *h)
{
    size_t n = h->gslots ? 2 * h->gslots : 64;
    int *t = calloc(n, sizeof *t);
    if (!t) return -1;
    for (int g = 0; g < h->ng; g++) {
        size_t i = h->g[g].hash & (n - 1);
        while (t[i]) i = (i + 1) & (n - 1);
        t[i] = g + 1;
    }
    free(h->slot);
    h->slot = t;
    h->gslots = n;
    return 0;
}

/* The group whose steps equal the n points in h->tstep, created if none does; -1 on OOM. */
static int find_group(hrun *h, size_t n)
{
    uint64_t hv = hash_steps(h->tstep, n);
    if (2 * (size_t)(h->ng + 1) > h->gslots && rehash(h)) return -1;
    size_t i = hv & (h->gslots - 1);
    for (; h->slot[i]; i = (i + 1) & (h->gslots - 1)) {
        const hgroup *g = &h->g[h->slot[i] - 1];
        if (g->hash == hv && g->n == n && !memcmp(g->step, h->tstep, n * sizeof *g->step)) return h->slot[i] - 1;
    }
    if (h->ng == h->gcap) {
        int cap = h->gcap ? 2 * h->gcap : 16;
        hgroup *ng = realloc(h->g, (size_t)cap * sizeof *ng);
        if (!ng) return -1;
        h->g = ng;
        h->gcap = cap;
    }
    hgroup *g = &h->g[h->ng];
    memset(g, 0, sizeof *g);
    g->hash = hv;
    g->n = n;
    if (!(g->step = malloc((n ? n : 1) * sizeof *g->step))) return -1;
    memcpy(g->step, h->tstep, n * sizeof *g->step);
    h->slot[i] = ++h->ng;
    return h->ng - 1;
}

static void add_series(hrun *h, const tt_series *s, size_t points, int layer, int index, tt_point *buf)
{
    if (h->oom) return;
    size_t n = expand(h, s, points, buf);
    if (h->oom || !n) return;
    int g = find_group(h, n);
    float *v = grow(h->vals, &h->vcap, h->nvals + n, sizeof *v);
    if (g < 0 || !v) { h->oom = 1; return; }
    h->vals = v;
    memcpy(h->vals + h->nvals, h->tval, n * sizeof *v);
    h->s[h->ns++] = (hseries){ layer, index, g, h->nvals };
    h->nvals += n;
    h->g[g].nmember++;
}

/* Each group's member list, in series order. */
static int link_members(hrun *h)
{
    int *all = h->members = malloc((size_t)(h->ns ? h->ns : 1) * sizeof *all), at = 0;
    if (!all) return -1;
    for (int g = 0; g < h->ng; g++) { h->g[g].member = all + at; at += h->g[g].nmember; h->g[g].nmember = 0; }
    for (int i = 0; i < h->ns; i++) { hgroup *g = &h->g[h->s[i].group]; g->member[g->nmember++] = i; }
    return 0;
}

static void hrun_free(hrun *h)
{
    for (int g = 0; g < h->ng; g++) free(h->g[g].step);
    free(h->members);
    free(h->g); free(h->slot); free(h->s); free(h->vals); free(h->tstep); free(h->tval);
}

/* ---- the merge: a binary min-heap of groups by their next step ---- */

static int64_t head(const hrun *h, int g) { return h->g[g].step[h->g[g].pos]; }

static void sift_down(const hrun *h, int *heap, int n, int i)
{
    for (;;) {
        int m = i, l = 2 * i + 1, r = l + 1;
        if (l < n && head(h, heap[l]) < head(h, heap[m])) m = l;
        if (r < n && head(h, heap[r]) < head(h, heap[m])) m = r;
        if (m == i) return;
        int t = heap[i]; heap[i] = heap[m]; heap[m] = t;
        i = m;
    }
}

/* One step's points, sorted out as they come: scalars, the row grid, and the other layer entries. */
typedef struct {
    int nscalar;
    int *sc_index;
    float *sc_val;
    int nentry;
    int *e_layer, *e_stat;
    float *e_val;
    float *grid;               /* nlayers × row_stats */
    int64_t *stamp;            /* the step a grid cell was last filled at */
    int filled, dup;
} hstep;

static int hstep_init(hstep *t, const tt_run *r, int nseries, int maxdup)
{
    size_t cells = (size_t)r->nlayers * (size_t)r->row_stats, ne = (size_t)nseries * (size_t)maxdup + 1;
    memset(t, 0, sizeof *t);
    t->sc_index = malloc(ne * sizeof *t->sc_index);
    t->sc_val = malloc(ne * sizeof *t->sc_val);
    t->e_layer = malloc(ne * sizeof *t->e_layer);
    t->e_stat = malloc(ne * sizeof *t->e_stat);
    t->e_val = malloc(ne * sizeof *t->e_val);
    t->grid = malloc((cells ? cells : 1) * sizeof *t->grid);
    t->stamp = malloc((cells ? cells : 1) * sizeof *t->stamp);
    if (!t->sc_index || !t->sc_val || !t->e_layer || !t->e_stat || !t->e_val || !t->grid || !t->stamp) return -1;
    for (size_t i = 0; i < cells; i++) t->stamp[i] = -1;
    return 0;
}

static void hstep_free(hstep *t)
{
    free(t->sc_index); free(t->sc_val); free(t->e_layer); free(t->e_stat); free(t->e_val); free(t->grid); free(t->stamp);
}

static void take(hstep *t, const tt_run *r, const hseries *s, int64_t step, float v)
{
    if (s->layer < 0) { t->sc_index[t->nscalar] = s->index; t->sc_val[t->nscalar++] = v; return; }
    t->e_layer[t->nentry] = s->layer; t->e_stat[t->nentry] = s->index; t->e_val[t->nentry++] = v;
    if (s->index >= r->row_stats) return;
    size_t c = (size_t)s->layer * (size_t)r->row_stats + (size_t)s->index;
    if (t->stamp[c] == step) { t->dup = 1; return; }   /* the same series twice at a step: keep both, as extras */
    t->stamp[c] = step;
    t->grid[c] = v;
    t->filled++;
}

static void write_step(jsonw *w, const tt_run *r, const hstep *t, int64_t step)
{
    int rows = r->nlayers > 0 && r->row_stats > 0 && !t->dup && t->filled == r->nlayers * r->row_stats;
    tt_enc_open(w, &(tt_enc_sender){ .run = r->name, .rank = r->rank }, TT_MSG_STEP, 0);
    jw_key(w, "step"); jw_int(w, step);
    if (t->nscalar) {
        jw_key(w, "scalars"); jw_raw(w, "{");
        for (int i = 0; i < t->nscalar; i++) { jw_key(w, r->scalars[t->sc_index[i]].name); jw_float(w, t->sc_val[i]); }
        jw_raw(w, "}");
    }
    if (rows) {
        jw_key(w, "layers"); jw_raw(w, "[");
        for (int l = 0; l < r->nlayers; l++) {
            jw_raw(w, l ? ",[" : "[");
            const float *g = t->grid + (size_t)l * (size_t)r->row_stats;
            for (int k = 0; k < r->row_stats; k++) { if (k) jw_raw(w, ","); jw_float(w, g[k]); }
            jw_raw(w, "]");
        }
        jw_raw(w, "]");
    }
    if (t->nentry > (rows ? t->filled : 0)) {
        jw_key(w, "extra"); jw_raw(w, "[");
        int first = 1;
        for (int i = 0; i < t->nentry; i++) {
            if (rows && t->e_stat[i] < r->row_stats) continue;
            jw_raw(w, first ? "[" : ",["); first = 0;
            jw_int(w, t->e_layer[i]); jw_raw(w, ","); jw_int(w, t->e_stat[i]); jw_raw(w, ","); jw_float(w, t->e_val[i]);
            jw_raw(w, "]");
        }
        jw_raw(w, "]");
    }
    jw_raw(w, "}\n");
}

/* The points of one group at its head step, into t; returns how many positions it advanced. */
static size_t group_step(const hrun *h, hgroup *g, hstep *t, const tt_run *r)
{
    int64_t step = g->step[g->pos];
    size_t end = g->pos;
    while (end < g->n && g->step[end] == step) end++;
    for (int m = 0; m < g->nmember; m++) {
        const hseries *s = &h->s[g->member[m]];
        for (size_t p = g->pos; p < end; p++) take(t, r, s, step, h->vals[s->off + p]);
    }
    size_t adv = end - g->pos;
    g->pos = end;
    return adv;
}

/* Most points one series has at one step: the hstep buffers hold every series that many times. */
static int max_dup(const hrun *h)
{
    size_t most = 1;
    for (int g = 0; g < h->ng; g++) {
        const int64_t *st = h->g[g].step;
        for (size_t i = 1, same = 1; i < h->g[g].n; i++) {
            same = st[i] == st[i - 1] ? same + 1 : 1;
            if (same > most) most = same;
        }
    }
    return (int)most;
}

static int merge(jsonw *w, const tt_run *r, hrun *h)
{
    hstep t;
    int *heap = malloc((size_t)(h->ng ? h->ng : 1) * sizeof *heap), nh = 0, rc = -1;
    if (!heap || hstep_init(&t, r, h->ns, max_dup(h))) goto out;
    for (int g = 0; g < h->ng; g++) if (h->g[g].n) heap[nh++] = g;
    for (int i = nh / 2 - 1; i >= 0; i--) sift_down(h, heap, nh, i);
    while (nh) {
        int64_t step = head(h, heap[0]);
        t.nscalar = t.nentry = t.filled = t.dup = 0;
        while (nh && head(h, heap[0]) == step) {
            hgroup *g = &h->g[heap[0]];
            group_step(h, g, &t, r);
            if (g->pos == g->n) heap[0] = heap[--nh];
            sift_down(h, heap, nh, 0);
        }
        write_step(w, r, &t, step);
    }
    rc = w->failed ? -1 : 0;
out:
    if (heap) hstep_free(&t);
    free(heap);
    return rc;
}

static double rate(const tt_run *r) { return isfinite(r->steps_per_s) && r->steps_per_s > 0 ? r->steps_per_s : 0; }

static void run_start(jsonw *w, const tt_run *r)
{
    tt_enc_open(w, &(tt_enc_sender){ .run = r->name, .rank = r->rank }, TT_MSG_RUN_START, 0);
    jw_key(w, "world"); jw_int(w, r->world);
    jw_key(w, "every"); jw_int(w, r->every);
    jw_key(w, "pid"); jw_int(w, r->pid);
    jw_key(w, "host"); jw_str(w, r->host);
    char *hp = r->hparams ? cJSON_PrintUnformatted(r->hparams) : NULL;
    jw_key(w, "hparams"); jw_raw(w, hp ? hp : "{}");
    free(hp);
    jw_key(w, "stats"); jw_raw(w, "[");
    for (int k = 0; k < r->nstats; k++) { jw_sep(w); jw_str(w, r->stat_names[k]); }
    jw_raw(w, "]");
    jw_key(w, "row_stats"); jw_int(w, r->row_stats);
    jw_key(w, "steps_per_s"); jw_num(w, rate(r));   /* the viewer's steps carry no time: our figure */
    jw_key(w, "layers"); jw_raw(w, "[");
    for (int i = 0; i < r->nlayers; i++) {
        jw_sep(w); jw_raw(w, "{\"name\":"); jw_str(w, r->layers[i].name);
        jw_key(w, "rows"); jw_int(w, r->layers[i].rows);
        jw_key(w, "cols"); jw_int(w, r->layers[i].cols);
        jw_raw(w, "}");
    }
    jw_raw(w, "]}\n");
}

static void run_end(jsonw *w, const tt_run *r)
{
    if (!r->end_status[0]) return;
    tt_enc_open(w, &(tt_enc_sender){ .run = r->name, .rank = r->rank }, TT_MSG_RUN_END, 0);
    jw_key(w, "step"); jw_int(w, r->step < 0 ? 0 : r->step);
    jw_key(w, "status"); jw_str(w, r->end_status);
    jw_key(w, "dropped"); jw_int(w, (int64_t)r->probe_dropped);
    jw_key(w, "steps_per_s"); jw_num(w, rate(r));
    jw_raw(w, "}\n");
}

static int encode_run(jsonw *w, const tt_run *r, size_t scalar_points, size_t layer_points, tt_point *buf)
{
    hrun h;
    memset(&h, 0, sizeof h);
    h.s = malloc(((size_t)r->nscalars + (size_t)r->nlayers * (size_t)r->nstats + 1) * sizeof *h.s);
    if (!h.s) return -1;
    for (int i = 0; i < r->nscalars; i++) add_series(&h, r->scalars[i].series, scalar_points, -1, i, buf);
    for (int l = 0; l < r->nlayers; l++)
        for (int k = 0; k < r->nstats; k++) add_series(&h, r->layers[l].stat[k], layer_points, l, k, buf);
    int rc = h.oom || link_members(&h) ? -1 : 0;
    if (rc == 0) {
        run_start(w, r);
        rc = merge(w, r, &h);
        run_end(w, r);
    }
    hrun_free(&h);
    return rc;
}

char *tt_history_encode(const tt_store *st, size_t scalar_points, size_t layer_points, size_t *len)
{
    jsonw w;
    jw_init(&w);
    size_t bufn = scalar_points > layer_points ? scalar_points : layer_points;
    tt_point *buf = malloc((bufn ? bufn : 1) * sizeof *buf);
    if (!buf) return NULL;
    for (int ri = 0; ri < st->nruns; ri++)
        if (encode_run(&w, st->runs[ri], scalar_points, layer_points, buf)) { free(buf); jw_free(&w); return NULL; }
    free(buf);
    if (!w.buf) jw_raw(&w, "");
    return jw_take(&w, len);
}
