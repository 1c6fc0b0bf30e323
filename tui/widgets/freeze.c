/* freeze: an open-addressing table from series pointers to copies of their buckets, in step order;
 * the query replays tt_series_query's bucket-to-slot merging over the copy. */
#include "freeze.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const tt_series *key;
    tt_point *pts;
    size_t n, count;
} entry;

static entry *g_tab;
static size_t g_cap, g_bytes;
static int g_active, g_complete;

void tui_freeze_end(void)
{
    for (size_t i = 0; i < g_cap; i++) free(g_tab[i].pts);
    free(g_tab);
    g_tab = NULL;
    g_cap = g_bytes = 0;
    g_active = 0;
    g_complete = 0;
}

int tui_freeze_active(void) { return g_active; }
int tui_freeze_complete(void) { return g_complete; }
size_t tui_freeze_bytes(void) { return g_bytes; }

static size_t slot_of(const tt_series *s)
{
    uintptr_t h = (uintptr_t)s;
    h ^= h >> 17;
    h *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & (g_cap - 1);
}

static const entry *find(const tt_series *s)
{
    if (!g_active || !s || !g_cap) return NULL;
    for (size_t i = slot_of(s), k = 0; k < g_cap; i = (i + 1) & (g_cap - 1), k++) {
        if (g_tab[i].key == s) return &g_tab[i];
        if (!g_tab[i].key) return NULL;
    }
    return NULL;
}

/* Copies one series; 1 copied, 0 over budget, -1 OOM. */
static int copy(const tt_series *s, size_t budget, tt_point **scratch, size_t *scap)
{
    if (!s) return 1;
    size_t bound = tt_series_bytes(s) / sizeof(tt_point) + 1;     /* ≥ the buckets it holds */
    if (bound > *scap) {
        tt_point *p = realloc(*scratch, bound * sizeof *p);
        if (!p) return -1;
        *scratch = p;
        *scap = bound;
    }
    size_t n = tt_series_query(s, INT64_MIN, INT64_MAX, bound, *scratch);
    size_t bytes = (n ? n : 1) * sizeof(tt_point);
    if (g_bytes + bytes > budget) return 0;
    tt_point *pts = malloc(bytes);
    if (!pts) return -1;
    memcpy(pts, *scratch, n * sizeof *pts);
    size_t i = slot_of(s);
    while (g_tab[i].key && g_tab[i].key != s) i = (i + 1) & (g_cap - 1);
    if (g_tab[i].key) { free(pts); return 1; }                    /* already there */
    g_tab[i] = (entry){ s, pts, n, tt_series_count(s) };
    g_bytes += bytes;
    return 1;
}

static int copy_run(const tt_run *r, size_t budget, tt_point **scratch, size_t *scap, int *copied)
{
    for (int i = 0; i < r->nscalars; i++) {
        int rc = copy(r->scalars[i].series, budget, scratch, scap);
        if (rc <= 0) return rc;
        (*copied)++;
    }
    for (int l = 0; l < r->nlayers; l++)
        for (int k = 0; k < r->nstats && r->layers[l].stat; k++) {
            int rc = copy(r->layers[l].stat[k], budget, scratch, scap);
            if (rc <= 0) return rc;
            (*copied)++;
        }
    return 1;
}

int tui_freeze_begin(const tt_store *st, const tt_run *first, size_t budget)
{
    tui_freeze_end();
    size_t total = 0;
    for (int i = 0; i < st->nruns; i++) total += (size_t)st->runs[i]->nscalars + (size_t)st->runs[i]->nlayers * (size_t)st->runs[i]->nstats;
    g_cap = 64;
    while (g_cap < 2 * total + 2) g_cap *= 2;
    g_tab = calloc(g_cap, sizeof *g_tab);
    if (!g_tab) { g_cap = 0; return -1; }
    g_active = 1;
    g_complete = 1;
    tt_point *scratch = NULL;
    size_t scap = 0;
    int copied = 0, rc = 1;
    if (first) rc = copy_run(first, budget, &scratch, &scap, &copied);
    for (int i = 0; i < st->nruns && rc > 0; i++)
        if (st->runs[i] != first) rc = copy_run(st->runs[i], budget, &scratch, &scap, &copied);
    free(scratch);
    if (rc < 0) { tui_freeze_end(); return -1; }
    g_complete = rc > 0;
    return copied;
}


size_t tui_query(const tt_series *s, int64_t from, int64_t to, size_t max_points, tt_point *out)
{
    const entry *e = find(s);
    if (!e) return s ? tt_series_query(s, from, to, max_points, out) : 0;
    if (!max_points) return 0;
    size_t total = 0;
    for (size_t i = 0; i < e->n; i++) if (e->pts[i].step >= from && e->pts[i].first <= to) total++;
    if (!total) return 0;
    size_t n = 0, k = 0;
    int64_t prev = -1;
    for (size_t i = 0; i < e->n; i++) {
        const tt_point *p = &e->pts[i];
        if (p->step < from || p->first > to) continue;
        size_t slot = total <= max_points ? k : (size_t)((double)k * (double)max_points / (double)total);
        k++;
        if ((int64_t)slot != prev) { out[slot].count = 0; n = slot + 1; prev = (int64_t)slot; }
        tt_point_merge(&out[slot], p);
    }
    return n;
}

size_t tui_series_count(const tt_series *s)
{
    const entry *e = find(s);
    return e ? e->count : s ? tt_series_count(s) : 0;
}
