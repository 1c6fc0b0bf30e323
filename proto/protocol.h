/* protocol: the wire protocol's constants — limits, message kinds, the statistic order — each defined
 * here once (docs/protocol.md says what they mean). The probe, the collector and the tests use these. */
#ifndef TT_PROTOCOL_H
#define TT_PROTOCOL_H

/* Public, so defined in the public header: TT_PROTOCOL_VERSION, TT_NAME_MAX (names, bytes with the NUL)
 * and TT_LAYER_NSTATS (the row statistics). */
#include "traintop/probe.h"

#define TT_PROTOCOL_MIN_VERSION 1      /* the oldest version a collector still accepts (no seq, no acks) */

/* ---- limits (a message beyond one is rejected with cause "field" or "size") ---- */
#define TT_MSG_MAX_BYTES (4u << 20)    /* one message; larger ones are refused by the transport */
#define TT_MAX_LAYERS 4000             /* the run_start layer table */
#define TT_MAX_STATS 64                /* the run_start statistic names */
#define TT_MAX_SCALARS 64              /* scalars in one step */
#define TT_MAX_EXTRAS 65536            /* extra entries in one step (a probe cuts a flood, it never queues it) */
#define TT_MAX_RANK 65535
#define TT_MAX_WORLD 65536
#define TT_MAX_STEP 9007199254740992.0 /* 2^53: larger integers are not exact in JSON numbers */
#define TT_MAX_HOST 63                 /* run_start.host, bytes */
#define TT_MAX_HPARAMS 256             /* run_start.hparams keys */
#define TT_MAX_HPARAMS_DEPTH 4

/* ---- message kinds: the "type" of a probe → collector message ---- */
typedef enum { TT_MSG_NONE, TT_MSG_RUN_START, TT_MSG_STEP, TT_MSG_RUN_END } tt_msg_type;
/* "run_start", "step", "run_end" (NULL for TT_MSG_NONE). */
const char *tt_msg_type_name(tt_msg_type t);
/* The collector → probe control message ("type":"control") and its actions. */
#define TT_MSG_CONTROL "control"
#define TT_CTL_STOP "stop"
#define TT_CTL_RESEND_START "resend_start"
#define TT_CTL_ACK_END "ack_end"       /* version 1: the run_end arrived */
#define TT_CTL_ACK "ack"               /* version 2: every message up to "seq" is kept (recorded when recording) */
#define TT_CTL_RESEND "resend"         /* version 2: the same, and send again everything after "seq" */

/* ---- the statistic order: the wire order of the run_start "stats" a probe declares. The first
 * TT_NSTATS come as full layer rows (METRICS.md §1, computed by metrics/layerstats); the rest as
 * "extra" entries on their own schedule. Append only: the indices are on the wire. ---- */
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
    TT_NSTATS,        /* the row statistics; the extras follow */
    TT_X_ALPHA = TT_NSTATS, TT_X_ALPHA_ERR, TT_X_ALPHA_WEIGHTED, TT_X_STABLE_RANK, TT_X_LOG_SPECTRAL_NORM,
    TT_X_LOG_NORM, TT_X_ALPHA_WINDOW,                                  /* spectra (background thread) */
    TT_X_GAMMA_MEAN, TT_X_TRACE_SIGMA, TT_X_NOISE_SCALE, TT_X_NORM_TEST, TT_X_GSNR,   /* per-sample */
    TT_X_SCALE_INV_COS, TT_X_EFF_STEP,                                 /* scale invariance */
    TT_STAT_COUNT
};
#ifndef __cplusplus
_Static_assert(TT_NSTATS == TT_LAYER_NSTATS, "probe.h and protocol.h agree on the layer statistics");
_Static_assert(TT_STAT_COUNT <= TT_MAX_STATS, "a probe's statistics fit the protocol's limit");
#endif

/* Their names, in that order. */
extern const char *const tt_stat_names[TT_STAT_COUNT];

#endif
