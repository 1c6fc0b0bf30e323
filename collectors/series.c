/* series: level 0 holds single points; when a level is full its two oldest buckets merge into one
 * bucket of the next level. Each level spans twice the steps of the one below, so memory grows with
 * log(steps) and a full-history query returns ~level_cap × levels buckets at most. */
#include "series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEVELS 40

typedef struct {
    tt_point *b;         /* ring of cap buckets, allocated on first use */
    size_t head, count;
} level;

struct tt_series {
    size_t cap;
    int nlevels;
    size_t appended;
    level lv[MAX_LEVELS];
};

tt_series *tt_series_new(size_t level_cap)
{
    tt_series *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cap = level_cap < 4 ? 4 : level_cap;
    return s;
}

void tt_series_free(tt_series *s)
{
    if (!s) return;
    for (int i = 0; i < s->nlevels; i++) free(s->lv[i].b);
    free(s);
}

void tt_point_merge(tt_point *acc, const tt_point *p)
{
    if (acc->count == 0) { *acc = *p; return; }
    if (p->finite) {
        if (!acc->finite) { acc->min = p->min; acc->max = p->max; acc->mean = p->mean; }
        else {
            if (p->min < acc->min) acc->min = p->min;
            if (p->max > acc->max) acc->max = p->max;
            acc->mean = (float)(((double)acc->mean * acc->finite + (double)p->mean * p->finite) /
                                (double)(acc->finite + p->finite));
        }
    }
    if (p->first < acc->first) acc->first = p->first;
    if (p->step >= acc->step) { acc->step = p->step; acc->last = p->last; }
    acc->count += p->count;
    acc->finite += p->finite;
}

static tt_point *at(const level *l, size_t cap, size_t i) { return &l->b[(l->head + i) % cap]; }

static int push(tt_series *s, int li, const tt_point *p)
{
    if (li >= MAX_LEVELS) return 0;            /* 2^40 × cap steps: unreachable in practice */
    level *l = &s->lv[li];
    if (!l->b) {
        l->b = malloc(s->cap * sizeof *l->b);
        if (!l->b) return -1;
        if (li >= s->nlevels) s->nlevels = li + 1;
    }
    if (l->count == s->cap) {
        tt_point merged = *at(l, s->cap, 0);
        tt_point_merge(&merged, at(l, s->cap, 1));
        l->head = (l->head + 2) % s->cap;
        l->count -= 2;
        if (push(s, li + 1, &merged)) return -1;
    }
    *at(l, s->cap, l->count) = *p;
    l->count++;
    return 0;
}

int tt_series_append(tt_series *s, int64_t step, double value)
{
    int fin = isfinite(value);
    float v = (float)value;
    tt_point p = { step, step, fin ? v : NAN, fin ? v : NAN, fin ? v : NAN, v, 1, (uint32_t)fin };
    if (push(s, 0, &p)) return -1;
    s->appended++;
    return 0;
}

size_t tt_series_count(const tt_series *s) { return s->appended; }

double tt_series_last(const tt_series *s)
{
    const level *l = &s->lv[0];
    return l->count ? at(l, s->cap, l->count - 1)->last : NAN;
}

int64_t tt_series_last_step(const tt_series *s)
{
    const level *l = &s->lv[0];
    return l->count ? at(l, s->cap, l->count - 1)->step : -1;
}

size_t tt_series_bytes(const tt_series *s)
{
    size_t b = sizeof *s;
    for (int i = 0; i < s->nlevels; i++) if (s->lv[i].b) b += s->cap * sizeof(tt_point);
    return b;
}

size_t tt_series_query(const tt_series *s, int64_t from, int64_t to, size_t max_points, tt_point *out)
{
    if (!max_points) return 0;
    /* Count the buckets in range, oldest level first (higher levels hold older data). */
    size_t total = 0;
    for (int li = s->nlevels - 1; li >= 0; li--)
        for (size_t i = 0; i < s->lv[li].count; i++) {
            const tt_point *p = at(&s->lv[li], s->cap, i);
            if (p->step >= from && p->first <= to) total++;
        }
    if (!total) return 0;
    /* Bucket k of total goes to output k·max/total: adjacent buckets merge, extremes survive. */
    size_t n = 0, k = 0;
    int64_t prev = -1;
    for (int li = s->nlevels - 1; li >= 0; li--)
        for (size_t i = 0; i < s->lv[li].count; i++) {
            const tt_point *p = at(&s->lv[li], s->cap, i);
            if (p->step < from || p->first > to) continue;
            size_t slot = total <= max_points ? k : (size_t)((double)k * (double)max_points / (double)total);
            k++;
            if ((int64_t)slot != prev) { out[slot].count = 0; n = slot + 1; prev = (int64_t)slot; }
            tt_point_merge(&out[slot], p);
        }
    return n;
}
