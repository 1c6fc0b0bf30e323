/* rule: early stopping follows the conventions users know (Keras/Lightning): the order of checks is
 * finite, stopping threshold, divergence threshold, improvement, patience. */
#include "rule.h"

#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = { "early_stop", "threshold", "spike", "window_change", "stalled" };
const char *tt_rule_kind_name(tt_rule_kind k) { return (unsigned)k < 5 ? kind_names[k] : "?"; }

void tt_rule_defaults(tt_rule *r)
{
    memset(r, 0, sizeof *r);
    r->enabled = 1;
    r->once = 1;
    r->check_finite = 1;
    r->smooth = 1;
    r->baseline = r->stopping_threshold = r->divergence_threshold = r->confirm_min = NAN;
    r->for_steps = 1;
    r->factor = 3;
    r->alpha = 0.1;
    r->warmup = 10;
    r->window = 100;
    r->seconds = 120;
    r->exec_timeout = 10;
}

void tt_rule_state_init(tt_rule_state *s)
{
    memset(s, 0, sizeof *s);
    s->best = NAN;
    s->best_step = -1;
    s->cpeak = s->clast = NAN;
}

int tt_rule_matches_layer(const tt_rule *r, const char *layer)
{
    if (!r->layer[0]) return !layer || !layer[0];
    if (!layer || !layer[0]) return 0;
    return !strcmp(r->layer, "*") || !strcmp(r->layer, layer) || fnmatch(r->layer, layer, 0) == 0;
}

static int same_num(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

int tt_rule_same_params(const tt_rule *a, const tt_rule *b)
{
    return a->kind == b->kind && !strcmp(a->monitor, b->monitor) && !strcmp(a->layer, b->layer) &&
           a->enabled == b->enabled && a->once == b->once && a->mode_max == b->mode_max &&
           same_num(a->min_delta, b->min_delta) && a->patience == b->patience && same_num(a->baseline, b->baseline) &&
           a->start_step == b->start_step && same_num(a->stopping_threshold, b->stopping_threshold) &&
           same_num(a->divergence_threshold, b->divergence_threshold) && a->check_finite == b->check_finite &&
           a->op == b->op && same_num(a->threshold, b->threshold) && a->for_steps == b->for_steps &&
           a->smooth == b->smooth && a->stop_on_pole == b->stop_on_pole && !strcmp(a->confirm, b->confirm) &&
           same_num(a->confirm_drop, b->confirm_drop) && same_num(a->confirm_min, b->confirm_min) &&
           a->confirm_once == b->confirm_once && a->centred == b->centred &&
           same_num(a->factor, b->factor) && same_num(a->alpha, b->alpha) && a->warmup == b->warmup &&
           a->window == b->window && a->relative == b->relative && same_num(a->seconds, b->seconds);
}

static int holds(tt_rule_op op, double v, double t)
{
    switch (op) {
    case TT_OP_GT: return v > t;
    case TT_OP_GE: return v >= t;
    case TT_OP_LT: return v < t;
    case TT_OP_LE: return v <= t;
    }
    return 0;
}

static const char *op_text(tt_rule_op op) { return op == TT_OP_GT ? ">" : op == TT_OP_GE ? ">=" : op == TT_OP_LT ? "<" : "<="; }

static int fire(const tt_rule *r, tt_rule_state *s, int64_t step, double v, tt_rule_event *ev, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int fire(const tt_rule *r, tt_rule_state *s, int64_t step, double v, tt_rule_event *ev, const char *fmt, ...)
{
    if (r->once) s->fired = 1;
    ev->rule = r->name;
    ev->step = step;
    ev->value = v;
    ev->best = s->best;
    ev->best_step = s->best_step;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->reason, sizeof ev->reason, fmt, ap);
    va_end(ap);
    return 1;
}

/* The monitor as reasons name it: "gwa", or "gwa (mean of 3)" for a smoothed rule. */
static const char *shown(const tt_rule *r, char *buf, size_t len)
{
    if (r->smooth <= 1) return r->monitor;
    snprintf(buf, len, "%.100s (mean of %d)", r->monitor, r->smooth);
    return buf;
}

/* smooth > 1: v becomes the mean of the last `smooth` finite values; 0 until there are that many (no
 * check). A non-finite value passes through as itself, so check_finite still sees it. */
static int smoothed(const tt_rule *r, tt_rule_state *s, int64_t step, double *v)
{
    if (r->smooth <= 1 || !isfinite(*v)) return 1;
    s->sstep[s->sn % r->smooth] = step;
    s->sring[s->sn++ % r->smooth] = *v;
    if (s->sn < r->smooth) return 0;
    double t = 0;
    for (int i = 0; i < r->smooth; i++) t += s->sring[i];
    *v = t / r->smooth;
    return 1;
}

void tt_rule_confirm_value(const tt_rule *r, tt_rule_state *s, double v)
{
    if (!r->confirm[0] || !r->enabled || s->fired || !isfinite(v)) return;
    int k = r->smooth > 1 ? r->smooth : 1;
    s->cring[s->cn++ % k] = v;
    if (s->cn < k) return;
    double t = 0;
    for (int i = 0; i < k; i++) t += s->cring[i];
    s->clast = t / k;
    if (isnan(s->cpeak) || s->clast > s->cpeak) s->cpeak = s->clast;
}

/* confirm: its smoothed value has fallen more than confirm_drop·|peak| below its peak, or with confirm_min,
 * is at least confirm_min */
static int confirmed(const tt_rule *r, const tt_rule_state *s)
{
    if (!r->confirm[0]) return 1;
    if (!isnan(r->confirm_min)) return isfinite(s->clast) && s->clast >= r->confirm_min;
    return isfinite(s->clast) && isfinite(s->cpeak) && s->cpeak - s->clast > r->confirm_drop * fabs(s->cpeak);
}

static int early_stop(const tt_rule *r, tt_rule_state *s, int64_t step, double v, tt_rule_event *ev)
{
    char buf[128];
    const char *m = shown(r, buf, sizeof buf);
    if (!isfinite(v)) return r->check_finite ? fire(r, s, step, v, ev, "%s is %g at step %lld", m, v, (long long)step) : 0;
    int max = r->mode_max;
    if (!isnan(r->stopping_threshold) && (max ? v >= r->stopping_threshold : v <= r->stopping_threshold))
        return fire(r, s, step, v, ev, "%s reached %g (stopping threshold %g) at step %lld", m, v, r->stopping_threshold, (long long)step);
    if (!isnan(r->divergence_threshold) && (max ? v < r->divergence_threshold : v > r->divergence_threshold))
        return fire(r, s, step, v, ev, "%s is %g, worse than the divergence threshold %g, at step %lld", m, v, r->divergence_threshold, (long long)step);
    /* improvement: strictly better than the reference by more than min_delta; the reference is the
     * best so far, or the baseline until something has beaten it */
    double ref = isnan(s->best) ? r->baseline : s->best;
    int improved = isnan(ref) || (max ? v - ref > r->min_delta : ref - v > r->min_delta);
    if (improved) {
        s->best = v;
        /* centred: the mean of the last `smooth` values describes the middle one's step, not the last's */
        s->best_step = r->centred && r->smooth > 1 ? s->sstep[(s->sn - 1 - (r->smooth - 1) / 2) % r->smooth] : step;
        s->wait = 0;
        return 0;
    }
    if (++s->wait >= r->patience && r->confirm[0] && confirmed(r, s)) {
        if (!isnan(r->confirm_min))
            return fire(r, s, step, v, ev, "%s did not improve by more than %g for %d checks (best %g at step %lld), and %s "
                        "is %g, at least %g", m, r->min_delta, s->wait, s->best, (long long)s->best_step, r->confirm, s->clast,
                        r->confirm_min);
        return fire(r, s, step, v, ev, "%s did not improve by more than %g for %d checks (best %g at step %lld), and %s fell "
                    "%.0f%% below its peak %g", m, r->min_delta, s->wait, s->best, (long long)s->best_step, r->confirm,
                    100 * (s->cpeak - s->clast) / fabs(s->cpeak), s->cpeak);
    }
    if (s->wait >= r->patience && r->confirm[0] && r->confirm_once) {
        s->fired = 1;                      /* decided once, unconfirmed: settled, this rule never stops the run */
        return 0;
    }
    if (s->wait >= r->patience && !r->confirm[0])
        return fire(r, s, step, v, ev, "%s did not improve by more than %g for %d checks (best %g at step %lld)",
                    m, r->min_delta, s->wait, isnan(s->best) ? r->baseline : s->best, (long long)s->best_step);
    return 0;
}

int tt_rule_check(const tt_rule *r, tt_rule_state *s, int64_t step, double v, tt_rule_event *ev)
{
    if (!r->enabled || s->fired || r->kind == TT_RULE_STALLED || step < r->start_step) return 0;
    if (r->kind != TT_RULE_WINDOW_CHANGE && !smoothed(r, s, step, &v)) return 0;
    s->checks++;
    switch (r->kind) {
    case TT_RULE_EARLY_STOP:
        return early_stop(r, s, step, v, ev);
    case TT_RULE_THRESHOLD:
        if (!isfinite(v) && r->check_finite ? 1 : holds(r->op, v, r->threshold)) {
            if (++s->held >= r->for_steps)
                return fire(r, s, step, v, ev, "%s %s %g for %d checks (now %g at step %lld)", r->monitor, op_text(r->op),
                            r->threshold, s->held, v, (long long)step);
        } else {
            s->held = 0;
        }
        return 0;
    case TT_RULE_SPIKE: {
        if (!isfinite(v)) return r->check_finite ? fire(r, s, step, v, ev, "%s is %g at step %lld", r->monitor, v, (long long)step) : 0;
        double ema = s->ema_weight > 0 ? s->ema / s->ema_weight : NAN;
        int spiked = s->checks > r->warmup && isfinite(ema) && v > r->factor * ema;
        s->ema = (1 - r->alpha) * s->ema + r->alpha * v;
        s->ema_weight = (1 - r->alpha) * s->ema_weight + r->alpha;
        if (spiked) return fire(r, s, step, v, ev, "%s spiked to %g, over %g x its moving average %g, at step %lld",
                                r->monitor, v, r->factor, ema, (long long)step);
        return 0;
    }
    case TT_RULE_WINDOW_CHANGE: {
        if (!isfinite(v)) return 0;
        int w = r->window, cap = 2 * w;
        s->ring[(s->ring_head + s->ring_n) % cap] = v;
        if (s->ring_n < cap) s->ring_n++;
        else s->ring_head = (s->ring_head + 1) % cap;
        if (s->ring_n < cap) return 0;
        double early = 0, late = 0;
        for (int i = 0; i < w; i++) { early += s->ring[(s->ring_head + i) % cap]; late += s->ring[(s->ring_head + w + i) % cap]; }
        early /= w;
        late /= w;
        double change = late - early;
        if (r->relative) change = early != 0 ? change / fabs(early) : NAN;
        if (!isnan(change) && holds(r->op, change, r->threshold))
            return fire(r, s, step, v, ev, "%s changed by %g%s over the last %d values (mean %g, before %g): %s %g",
                        r->monitor, r->relative ? 100 * change : change, r->relative ? "%" : "", w, late, early, op_text(r->op),
                        r->relative ? 100 * r->threshold : r->threshold);
        return 0;
    }
    case TT_RULE_STALLED:
        return 0;
    }
    return 0;
}

int tt_rule_check_pole(const tt_rule *r, tt_rule_state *s, int64_t step, double v, tt_rule_event *ev)
{
    if (!r->enabled || s->fired || r->kind == TT_RULE_STALLED || step < r->start_step || !r->stop_on_pole) return 0;
    return fire(r, s, step, v, ev, "%s is at its pole at step %lld (value %g: the ratio's denominator is near or "
                "below 0, an undefined estimate, not a non-finite training value)", r->monitor, (long long)step, v);
}

int tt_rule_tick(const tt_rule *r, tt_rule_state *s, double idle, int64_t step, tt_rule_event *ev)
{
    if (!r->enabled || s->fired || r->kind != TT_RULE_STALLED || !(idle >= r->seconds)) return 0;
    return fire(r, s, step, idle, ev, "no message for %.0f s (stalled at step %lld)", idle, (long long)step);
}
