/* layerstats: METRICS.md §1, the single-pass per-layer statistics, in one fused read of W, G, W_prev, W_0. */
#ifndef TT_LAYERSTATS_H
#define TT_LAYERSTATS_H

#include <stddef.h>

/* The order is the wire order of a step's layer record (docs/protocol.md); append only. */
enum tt_stat {
    TT_W_NORM,        /* ‖W‖ */
    TT_G_NORM,        /* ‖G‖ */
    TT_W_RMS,         /* ‖W‖/sqrt(n) */
    TT_G_RMS,         /* ‖G‖/sqrt(n) */
    TT_W_VAR,         /* population variance of W's entries */
    TT_UPDATE_NORM,   /* ‖W − W_prev‖ */
    TT_UPDATE_RATIO,  /* ‖W − W_prev‖ / ‖W_prev‖ */
    TT_ANGLE,         /* angle between W_prev and W, radians */
    TT_ANGLE_ROWS,    /* RMS over output rows of the per-row angle */
    TT_GW_COS,        /* cos(−G, W) */
    TT_DIST_INIT,     /* ‖W − W_0‖ */
    TT_NONFINITE,     /* count of NaN/Inf entries in W and G */
    TT_NSTATS
};

extern const char *const tt_stat_names[TT_NSTATS];

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
