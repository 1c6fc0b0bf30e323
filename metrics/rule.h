/* rule: alert and early-stopping rules over one series (METRICS.md §4) — pure evaluation, no I/O. */
#ifndef TT_RULE_H
#define TT_RULE_H

#include <stdint.h>

typedef enum { TT_RULE_EARLY_STOP, TT_RULE_THRESHOLD, TT_RULE_SPIKE, TT_RULE_WINDOW_CHANGE, TT_RULE_STALLED } tt_rule_kind;
typedef enum { TT_OP_GT, TT_OP_GE, TT_OP_LT, TT_OP_LE } tt_rule_op;

#define TT_RULE_NAME 64
#define TT_RULE_MAX_WINDOW 1024
#define TT_RULE_MAX_EXEC 16
#define TT_RULE_MAX_SMOOTH 64

enum { TT_ACT_STOP = 1, TT_ACT_BELL = 2, TT_ACT_EXEC = 4 };   /* every firing is also an alert */

typedef struct {
    char name[TT_RULE_NAME];
    tt_rule_kind kind;
    char monitor[128];          /* a run scalar (loss, val_loss, gwa) or a layer statistic */
    char layer[128];            /* "": run scalar; "*": any layer; else an fnmatch pattern or a name */
    int enabled, once;
    /* early_stop */
    int mode_max;               /* 0: lower is better (min), 1: higher is better (max) */
    double min_delta;           /* an improvement must beat the best by more than this */
    int patience;               /* checks without improvement before it fires */
    double baseline;            /* NaN: none; else the value to beat before improvement counts */
    int64_t start_step;         /* checks before this step are ignored */
    double stopping_threshold;  /* NaN: none; fire at once when reached */
    double divergence_threshold;/* NaN: none; fire at once when worse than this */
    int check_finite;           /* fire at once on NaN/Inf */
    /* early_stop, threshold, spike */
    int smooth;                 /* > 1: the rule sees the mean of the last `smooth` finite values */
    char confirm[128];          /* early_stop: "" or a run scalar that must confirm the stop (below) */
    double confirm_drop;        /* early_stop with confirm: patience fires only while confirm's value
                                   (smoothed as the monitor is) is more than confirm_drop·|its peak| below its
                                   peak so far */
    double confirm_min;         /* early_stop with confirm: NaN, or instead of a drop: patience fires only
                                   while confirm's smoothed value is at least this (a level) */
    int confirm_once;           /* early_stop with confirm: 1: confirm is consulted once, when patience first
                                   runs out; unconfirmed, the rule is settled without firing */
    int centred;                /* early_stop with smooth > 1: the best step is the middle of the smoothed values
                                   (the step their mean describes: (smooth−1)/2 checks before the last), not the
                                   last — the trailing mean's lag taken out of the checkpoint */
    int stop_on_pole;           /* a value flagged at its pole (the run's <monitor>_pole is 1 at that
                                   step): 0 skip it (no check at all), 1 fire with the pole reason */
    /* threshold */
    tt_rule_op op;
    double threshold;
    int for_steps;              /* consecutive checks the condition must hold */
    /* spike */
    double factor;              /* fires when value > factor × EMA of the previous values */
    double alpha;               /* EMA weight of a new value */
    int warmup;                 /* values before it may fire */
    /* window_change */
    int window;                 /* compares the mean of the last window values with the window before */
    int relative;               /* change relative to the earlier mean */
    /* stalled */
    double seconds;
    /* actions */
    int actions;
    char *exec[TT_RULE_MAX_EXEC + 1];   /* argv (owned by whoever built the rule), NULL-terminated */
    double exec_timeout;
} tt_rule;

typedef struct {
    int fired;                  /* once: never again (also: settled by confirm_once without firing) */
    int64_t checks;
    double best;                /* early_stop: the best value so far (NaN: none) */
    int64_t best_step;
    int wait;                   /* checks since the last improvement */
    int held;                   /* threshold: consecutive checks it held */
    double ema, ema_weight;     /* spike: bias-corrected EMA */
    double ring[2 * TT_RULE_MAX_WINDOW];   /* window_change: the last 2·window values */
    int ring_n, ring_head;
    double sring[TT_RULE_MAX_SMOOTH];      /* smooth: the last values */
    int64_t sstep[TT_RULE_MAX_SMOOTH];     /* smooth: their steps (centred) */
    int64_t sn;                 /* values seen by the smoothing */
    double cring[TT_RULE_MAX_SMOOTH];      /* confirm: its last values, smoothed like the monitor */
    int64_t cn;
    double cpeak, clast;        /* confirm: the peak of its smoothed value so far and the latest (NaN: none) */
} tt_rule_state;

typedef struct {
    const char *rule;           /* the rule's name */
    int64_t step;
    double value, best;
    int64_t best_step;
    char reason[256];           /* one human line */
} tt_rule_event;

/* Defaults: enabled, once, check_finite on, smooth 1, stop_on_pole off, patience 0, min_delta 0, baseline / thresholds NaN,
 * for_steps 1, factor 3, alpha 0.1, warmup 10, window 100, seconds 120, exec_timeout 10. */
void tt_rule_defaults(tt_rule *r);
void tt_rule_state_init(tt_rule_state *s);
/* One check of a value at a step: 1 when the rule fires (ev filled), else 0. */
int tt_rule_check(const tt_rule *r, tt_rule_state *s, int64_t step, double value, tt_rule_event *ev);
/* early_stop with confirm: the confirm monitor's value at this step (call before tt_rule_check). */
void tt_rule_confirm_value(const tt_rule *r, tt_rule_state *s, double value);
/* A value that came flagged as at its pole (an undefined or sign-flipped ratio such as the paper's
 * GWA, not a non-finite training quantity): skipped, or with stop_on_pole 1 when the rule fires, with
 * its own reason. Returns 1 when the rule fires. */
int tt_rule_check_pole(const tt_rule *r, tt_rule_state *s, int64_t step, double value, tt_rule_event *ev);
/* The stalled kind, on a clock: seconds since the run's last message. */
int tt_rule_tick(const tt_rule *r, tt_rule_state *s, double idle_seconds, int64_t step, tt_rule_event *ev);
/* Whether the rule watches this layer ("" and NULL: a run scalar). The rule's layer matches as an
 * fnmatch pattern or as the exact name (a name with brackets is no pattern of itself). */
int tt_rule_matches_layer(const tt_rule *r, const char *layer);
/* Whether two rules count the same way — every parameter the evaluation reads is equal (the name and
 * the actions are not compared) — so that one's state is valid for the other. */
int tt_rule_same_params(const tt_rule *a, const tt_rule *b);
const char *tt_rule_kind_name(tt_rule_kind k);

#endif
