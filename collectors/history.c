/* history: every series is downsampled on its own, its points gathered with the step they belong to,
 * sorted by step, and written as one step message per distinct step. */
#include "history.h"
#include "../probes/jsonw.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t step;
    int layer;                 /* -1 for a scalar */
    int index;                 /* scalar index, or statistic index */
    double value;
} hpoint;

typedef struct {
    hpoint *v;
    size_t n, cap;
    int oom;
} hpoints;

static void add(hpoints *h, int64_t step, int layer, int index, double value)
{
    if (h->oom) return;
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 4096;
        hpoint *nv = realloc(h->v, cap * sizeof *nv);
        if (!nv) { h->oom = 1; return; }
        h->v = nv;
        h->cap = cap;
    }
    h->v[h->n++] = (hpoint){ step, layer, index, value };
}

/* A bucket as up to three points on distinct steps: its minimum, maximum and last value. */
static void add_series(hpoints *h, const tt_series *s, size_t points, int layer, int index, tt_point *buf)
{
    size_t n = tt_series_query(s, INT64_MIN, INT64_MAX, points, buf);
    for (size_t i = 0; i < n; i++) {
        const tt_point *p = &buf[i];
        if (p->count <= 1 || p->first >= p->step) { add(h, p->step, layer, index, p->last); continue; }
        int64_t mid = p->first + (p->step - p->first) / 2;
        add(h, p->first, layer, index, p->finite ? p->min : p->last);
        if (mid > p->first && mid < p->step) add(h, mid, layer, index, p->finite ? p->max : p->last);
        add(h, p->step, layer, index, p->last);
    }
}

static int by_step(const void *a, const void *b)
{
    const hpoint *x = a, *y = b;
    return (x->step > y->step) - (x->step < y->step);
}

static void run_start(jsonw *w, const tt_run *r)
{
    jw_raw(w, "{\"v\":1,\"type\":\"run_start\",\"run\":"); jw_str(w, r->name);
    jw_key(w, "rank"); jw_int(w, r->rank);
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
    jw_key(w, "row_stats"); jw_int(w, r->row_stats);   /* live rows keep coming; history uses extra entries */
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
    jw_raw(w, "{\"v\":1,\"type\":\"run_end\",\"run\":"); jw_str(w, r->name);
    jw_key(w, "rank"); jw_int(w, r->rank);
    jw_key(w, "step"); jw_int(w, r->step < 0 ? 0 : r->step);
    jw_key(w, "status"); jw_str(w, r->end_status);
    jw_key(w, "dropped"); jw_int(w, (int64_t)r->probe_dropped);
    jw_raw(w, "}\n");
}

char *tt_history_encode(const tt_store *st, size_t scalar_points, size_t layer_points, size_t *len)
{
    jsonw w;
    jw_init(&w);
    size_t bufn = scalar_points > layer_points ? scalar_points : layer_points;
    tt_point *buf = malloc((bufn ? bufn : 1) * sizeof *buf);
    if (!buf) return NULL;
    for (int ri = 0; ri < st->nruns; ri++) {
        const tt_run *r = st->runs[ri];
        run_start(&w, r);
        hpoints h = { 0 };
        for (int i = 0; i < r->nscalars; i++) add_series(&h, r->scalars[i].series, scalar_points, -1, i, buf);
        for (int l = 0; l < r->nlayers; l++)
            for (int k = 0; k < r->nstats; k++) add_series(&h, r->layers[l].stat[k], layer_points, l, k, buf);
        if (h.oom) { free(h.v); free(buf); jw_free(&w); return NULL; }
        qsort(h.v, h.n, sizeof *h.v, by_step);
        for (size_t i = 0; i < h.n;) {
            int64_t step = h.v[i].step;
            size_t j = i;
            while (j < h.n && h.v[j].step == step) j++;
            jw_raw(&w, "{\"v\":1,\"type\":\"step\",\"run\":"); jw_str(&w, r->name);
            jw_key(&w, "rank"); jw_int(&w, r->rank);
            jw_key(&w, "step"); jw_int(&w, step);
            jw_key(&w, "scalars"); jw_raw(&w, "{");
            for (size_t k = i; k < j; k++)
                if (h.v[k].layer < 0) { jw_key(&w, r->scalars[h.v[k].index].name); jw_num(&w, h.v[k].value); }
            jw_raw(&w, "}");
            jw_key(&w, "extra"); jw_raw(&w, "[");
            for (size_t k = i; k < j; k++)
                if (h.v[k].layer >= 0) {
                    jw_sep(&w); jw_raw(&w, "[");
                    jw_int(&w, h.v[k].layer); jw_sep(&w); jw_int(&w, h.v[k].index); jw_sep(&w); jw_num(&w, h.v[k].value);
                    jw_raw(&w, "]");
                }
            jw_raw(&w, "]}\n");
            i = j;
        }
        free(h.v);
        run_end(&w, r);
    }
    free(buf);
    if (!w.buf) jw_raw(&w, "");
    return jw_take(&w, len);
}
