/* budget: which steps the probe samples. A fixed schedule (every N steps), or an overhead budget: the
 * probe's measured cost kept within a fraction of the step time by choosing, from measured costs,
 * separate intervals for §1 statistics and for per-sample statistics. Pure: times and costs are passed
 * in (seconds), so it is deterministic and tested with injected costs. */
#ifndef TT_PROBE_BUDGET_H
#define TT_PROBE_BUDGET_H

#include <stdint.h>

enum { TT_BUDGET_STATS = 0, TT_BUDGET_PERSAMPLE = 1, TT_BUDGET_KINDS = 2 };
/* A step's cost in parts: what every step costs (encoding, sending), and each kind's work. */
enum { TT_COST_FIXED = 0, TT_COST_STATS = 1, TT_COST_PERSAMPLE = 2, TT_COST_PARTS = 3 };

#define TT_BUDGET_DEFAULT 0.02       /* of the step time */
#define TT_BUDGET_MAX_GAP_S 30.0     /* each kind is sampled at least this often, whatever it costs */
#define TT_BUDGET_HORIZON_S 20.0     /* the achieved overhead is a time-weighted mean over about this long */

typedef struct {
    int every;                       /* > 0: fixed schedule, step % every == 0, for both kinds */
    double budget;                   /* fraction of the step time (budget mode) */
    double max_gap_s;                /* never starve: an interval is at most max_gap_s of steps */
    int64_t last;                    /* the last step begun; INT64_MIN before the first */
    int64_t next[TT_BUDGET_KINDS];   /* the next step of each kind; -1: the first step */
    int64_t sampled_at[TT_BUDGET_KINDS]; /* its last sample */
    int64_t k[TT_BUDGET_KINDS];      /* its interval, decided after every step */
    unsigned now;                    /* the kinds sampled at `last` */
    /* measurements, smoothed */
    int have_base;
    double base;                     /* the step without the probe */
    double fixed;                    /* cost of every step */
    double cycle[TT_BUDGET_KINDS];   /* a kind's cost per sample (its sampled step, and refreshes before it) */
    int64_t samples[TT_BUDGET_KINDS]; /* samples seen; the first (cold caches, first allocations) is not measured */
    double acc[TT_BUDGET_KINDS];     /* a kind's cost since its last sample */
    double cost_sum, base_sum;       /* decayed sums for the achieved overhead */
} tt_budget;

/* every > 0: fixed; else the budget (a fraction; <= 0 means TT_BUDGET_DEFAULT). */
void tt_budget_init(tt_budget *b, int every, double budget);
/* Begins a step (steps increase): returns the kinds sampled at it (bit 1 << kind) and schedules each
 * sampled kind's next step with the interval decided before. */
unsigned tt_budget_begin(tt_budget *b, int64_t step);
/* Ends the step begun: base = its time without the probe (NaN: unknown, the first step), cost = the
 * probe's measured cost in parts (TT_COST_*). The intervals are decided again; each kind's next step
 * moves to its last sample + its interval, but not before the step after next, and a kind announced
 * for the next step stays announced. */
void tt_budget_end(tt_budget *b, double base, const double cost[TT_COST_PARTS]);
/* The kinds a later step (> the last begun) will sample, if steps go on one by one: exact for the
 * next two steps (what a framework must know before it runs them), a forecast beyond. */
unsigned tt_budget_plan(const tt_budget *b, int64_t step);
/* The achieved overhead: measured cost / time without the probe, over the last TT_BUDGET_HORIZON_S
 * of steps (NaN before any measured step). */
double tt_budget_overhead(const tt_budget *b);
/* The interval in steps a kind is on now (for display and tests). */
int64_t tt_budget_interval(const tt_budget *b, int kind);

#endif
