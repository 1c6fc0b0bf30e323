/* budget: the sampling schedule. In budget mode each kind (§1 statistics, per-sample statistics) is
 * sampled every k steps, with k chosen so that the long-run cost per step,
 *     fixed + cycle_stats / k_stats + cycle_persample / k_persample,
 * stays within budget × base, base being the step's own time without the probe. The budget left after
 * the fixed cost (at least half of it) is split in halves, and a kind that needs less than its half at k = 1 leaves the rest
 * to the other. The intervals are decided again after every step from the smoothed measurements, and
 * a kind's next sample moves with them (last sample + k) — but never the next step's: what a framework
 * was told about the next two steps (skip its hooks, refresh W_prev before a sample) stays true. */
#include "budget.h"

#include <math.h>
#include <string.h>

#define ALPHA_STEP 0.0625            /* smoothing of per-step measurements (base, fixed cost) */
#define ALPHA_DOWN 0.5               /* … of a step time shorter than the usual */
#define ALPHA_CYCLE 0.3              /* smoothing of a kind's cost per sample (fewer, larger values) */
#define PAUSE 2.0                    /* a step longer than this × the usual one is taken as this long */

void tt_budget_init(tt_budget *b, int every, double budget)
{
    memset(b, 0, sizeof *b);
    b->every = every > 0 ? every : 0;
    b->budget = budget > 0 ? budget : TT_BUDGET_DEFAULT;
    b->max_gap_s = TT_BUDGET_MAX_GAP_S;
    b->last = INT64_MIN;
    for (int j = 0; j < TT_BUDGET_KINDS; j++) { b->next[j] = -1; b->k[j] = 1; }
}

unsigned tt_budget_begin(tt_budget *b, int64_t step)
{
    unsigned now = 0;
    if (b->every) {
        if (step % b->every == 0) now = (1u << TT_BUDGET_KINDS) - 1;
    } else {
        for (int j = 0; j < TT_BUDGET_KINDS; j++)
            if (b->next[j] < 0 || step >= b->next[j]) {
                now |= 1u << j;
                b->sampled_at[j] = step;
                b->next[j] = step + b->k[j];
            }
    }
    b->last = step;
    b->now = now;
    return now;
}

unsigned tt_budget_plan(const tt_budget *b, int64_t step)
{
    if (b->every) return step % b->every == 0 ? (1u << TT_BUDGET_KINDS) - 1 : 0;
    unsigned bits = 0;
    for (int j = 0; j < TT_BUDGET_KINDS; j++) {
        int64_t n = b->next[j];
        if (n < 0 || step == n || step >= n + b->k[j]) bits |= 1u << j;
    }
    return bits;
}

static double ema(double old, double x, double a, int have)
{
    return have ? old + a * (x - old) : x;
}

/* A kind's interval, from what is measured now. */
static int64_t decide(const tt_budget *b, int j)
{
    if (!b->have_base || !(b->base > 0)) return 1;          /* not measured yet: keep sampling */
    double kmax = floor(b->max_gap_s / b->base);
    if (kmax < 1) kmax = 1;
    if (kmax > 1e9) kmax = 1e9;
    double c = b->samples[j] > 1 ? b->cycle[j] : 0;
    double other = b->samples[!j] > 1 ? b->cycle[!j] : 0;
    /* What every step costs (publishing it) is paid whatever the schedule; when it takes more than half
     * the budget, sampling still gets half: statistics that never come are no use either */
    double avail = b->budget * b->base - b->fixed;
    if (avail < b->budget * b->base / 2) avail = b->budget * b->base / 2;
    if (!(c > 0)) return 1;                                 /* not measured yet, or costs nothing */
    if (!(avail > 0)) return (int64_t)kmax;
    double share = other < avail / 2 ? avail - other : avail / 2;
    double k = ceil(c / share);
    return (int64_t)(k < 1 ? 1 : k > kmax ? kmax : k);
}

void tt_budget_end(tt_budget *b, double base, const double cost[TT_COST_PARTS])
{
    double total = 0;
    for (int i = 0; i < TT_COST_PARTS; i++) total += cost[i] > 0 ? cost[i] : 0;
    if (isfinite(base) && base >= 0) {
        /* a pause (an evaluation, a checkpoint) counts as one long step, not as a new step time */
        if (b->have_base && base > PAUSE * b->base) base = PAUSE * b->base;
        /* tracked from below: noise and other jobs only ever make steps longer, so a faster step is
         * believed at once and a slower one slowly (too short a step time only samples less) */
        b->base = ema(b->base, base, b->have_base && base < b->base ? ALPHA_DOWN : ALPHA_STEP, b->have_base);
        b->fixed = ema(b->fixed, cost[TT_COST_FIXED] > 0 ? cost[TT_COST_FIXED] : 0, ALPHA_STEP, b->have_base);
        b->have_base = 1;
        double w = exp(-(base + total) / TT_BUDGET_HORIZON_S);
        b->cost_sum = b->cost_sum * w + total;
        b->base_sum = b->base_sum * w + base;
    }
    for (int j = 0; j < TT_BUDGET_KINDS; j++) {
        double c = cost[1 + j];
        b->acc[j] += c > 0 ? c : 0;
        if (!(b->now & (1u << j))) continue;
        if (++b->samples[j] > 1) b->cycle[j] = ema(b->cycle[j], b->acc[j], ALPHA_CYCLE, b->samples[j] > 2);
        b->acc[j] = 0;
    }
    if (b->every) return;
    for (int j = 0; j < TT_BUDGET_KINDS; j++) {
        b->k[j] = decide(b, j);
        if (b->next[j] == b->last + 1) continue;          /* announced: the next step samples it */
        int64_t n = b->sampled_at[j] + b->k[j];
        b->next[j] = n > b->last + 2 ? n : b->last + 2;
    }
}

double tt_budget_overhead(const tt_budget *b)
{
    return b->base_sum > 0 ? b->cost_sum / b->base_sum : NAN;
}

int64_t tt_budget_interval(const tt_budget *b, int kind)
{
    if (b->every) return b->every;
    return kind >= 0 && kind < TT_BUDGET_KINDS ? b->k[kind] : 0;
}
