/* series: level 0 holds single points; when a level is full its two oldest buckets merge into one
 * bucket of the next level. Each level spans twice the steps of the one below, so memory grows with
 * log(steps) and a full-history query returns ~level_cap × levels buckets at most. */
#include "series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEVELS 40

typedef struct {
    uint32_t head, count;   /* a ring of cap buckets: b + level index × cap */
} level;

/* Every level's ring in one block, grown by one level when the top one overflows: one allocation a
 * series instead of one a level, and a smaller header. */
struct tt_series {
    tt_point *b;
    uint32_t cap;
    int nlevels;
    size_t appended;
    level lv[MAX_LEVELS];
};

tt_series *tt_series_new(size_t level_cap)
{
    tt_series *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cap = level_cap < 4 ? 4 : level_cap > (1u << 30) ? (1u << 30) : (uint32_t)level_cap;
    return s;
}

void tt_series_free(tt_series *s)
{
    if (!s) return;
    free(s->b);
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

/* Bucket i (0 = oldest) of level li; no division: head and i are both below cap. */
static tt_point *at(const tt_series *s, int li, size_t i)
{
    size_t k = s->lv[li].head + i;
    if (k >= s->cap) k -= s->cap;
    return &s->b[(size_t)li * s->cap + k];
}

static int add_level(tt_series *s)
{
    tt_point *nb = realloc(s->b, (size_t)(s->nlevels + 1) * s->cap * sizeof *nb);
    if (!nb) return -1;
    s->b = nb;
    s->nlevels++;
    return 0;
}

static int push(tt_series *s, int li, const tt_point *p)
{
    if (li >= MAX_LEVELS) return 0;            /* 2^40 × cap steps: unreachable in practice */
    if (li >= s->nlevels && add_level(s)) return -1;
    level *l = &s->lv[li];
    if (l->count == s->cap) {
        tt_point merged = *at(s, li, 0);
        tt_point_merge(&merged, at(s, li, 1));
        l->head = l->head + 2 >= s->cap ? l->head + 2 - s->cap : l->head + 2;
        l->count -= 2;
        if (push(s, li + 1, &merged)) return -1;
    }
    *at(s, li, l->count) = *p;
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
    return s->lv[0].count ? at(s, 0, s->lv[0].count - 1)->last : NAN;
}

int64_t tt_series_last_step(const tt_series *s)
{
    return s->lv[0].count ? at(s, 0, s->lv[0].count - 1)->step : -1;
}

size_t tt_series_bytes(const tt_series *s)
{
    return sizeof *s + (size_t)s->nlevels * s->cap * sizeof(tt_point);
}

size_t tt_series_query(const tt_series *s, int64_t from, int64_t to, size_t max_points, tt_point *out)
{
    if (!max_points) return 0;
    /* Count the buckets in range, oldest level first (higher levels hold older data). */
    size_t total = 0;
    for (int li = s->nlevels - 1; li >= 0; li--)
        for (size_t i = 0; i < s->lv[li].count; i++) {
            const tt_point *p = at(s, li, i);
            if (p->step >= from && p->first <= to) total++;
        }
    if (!total) return 0;
    /* Bucket k of total goes to output k·max/total: adjacent buckets merge, extremes survive. */
    size_t n = 0, k = 0;
    int64_t prev = -1;
    for (int li = s->nlevels - 1; li >= 0; li--)
        for (size_t i = 0; i < s->lv[li].count; i++) {
            const tt_point *p = at(s, li, i);
            if (p->step < from || p->first > to) continue;
            size_t slot = total <= max_points ? k : (size_t)((double)k * (double)max_points / (double)total);
            k++;
            if ((int64_t)slot != prev) { out[slot].count = 0; n = slot + 1; prev = (int64_t)slot; }
            tt_point_merge(&out[slot], p);
        }
    return n;
}
