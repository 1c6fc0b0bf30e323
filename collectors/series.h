/* series: a bounded multi-resolution time series. Recent points are exact; older ones are merged
 * pairwise into coarser buckets that keep min, max, mean and last, so a one-step spike survives. */
#ifndef TT_SERIES_H
#define TT_SERIES_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t step;        /* last step covered by the bucket */
    int64_t first;       /* first step covered */
    float min, max, mean, last;   /* NaN inputs are skipped by min/max/mean but kept as last */
    uint32_t count;      /* points merged into the bucket (finite or not) */
    uint32_t finite;     /* of which finite */
} tt_point;

typedef struct tt_series tt_series;

/* Merges bucket p into acc (acc->count 0: acc becomes p): min, max, the finite-weighted mean, the last
 * value by step, the steps covered, the counts. */
void tt_point_merge(tt_point *acc, const tt_point *p);

/* level_cap: buckets per resolution level (≥ 4); memory is at most level_cap × levels × sizeof(tt_point). */
tt_series *tt_series_new(size_t level_cap);
void tt_series_free(tt_series *s);
/* Appends a point; steps must not decrease (an equal step replaces nothing: it adds a point). -1 on OOM. */
int tt_series_append(tt_series *s, int64_t step, double value);
size_t tt_series_count(const tt_series *s);      /* points appended in all */
double tt_series_last(const tt_series *s);       /* NaN when empty */
int64_t tt_series_last_step(const tt_series *s); /* -1 when empty */
size_t tt_series_bytes(const tt_series *s);
/* Buckets covering steps [from, to] in step order, merged down to at most max_points (≥ 1).
 * Writes up to max_points into out and returns how many. */
size_t tt_series_query(const tt_series *s, int64_t from, int64_t to, size_t max_points, tt_point *out);

#endif
