/* layerstats: METRICS.md §1, the single-pass per-layer statistics, in one fused read of W, G, W_prev, W_0. */
#ifndef TT_LAYERSTATS_H
#define TT_LAYERSTATS_H

#include <stddef.h>

/* The statistics and their order (enum tt_stat, TT_NSTATS, tt_stat_names) are the protocol's. */
#include "../proto/protocol.h"

/* Computes every statistic of a rows x cols row-major layer into out[TT_NSTATS].
 * w_prev and w0 may be NULL (their statistics are then NaN). When prev_out is not NULL, W is copied
 * into it in the same pass (it may equal w_prev: the copy happens after the element is read).
 * Statistics whose denominator is 0, or whose inputs are not finite, are NaN; never traps. */
void tt_layer_stats(const float *w, const float *g, const float *w_prev, const float *w0,
                    float *prev_out, size_t rows, size_t cols, double out[TT_NSTATS]);

/* Angle between two vectors from ‖a‖, ‖b‖ and ‖a − b‖ — stable for tiny angles, where arccos of a
 * cosine near 1 loses every digit. NaN when either norm is 0 or anything is not finite. */
double tt_angle_from_norms(double na, double nb, double ndiff);

#endif
