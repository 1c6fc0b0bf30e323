/* alerts: rule sources (a JSON rules file, --alert specs, the defaults), their evaluation against
 * every message the collector accepts, and the actions — alerts log, stop, exec hook, bell. */
#ifndef TT_ALERTS_H
#define TT_ALERTS_H

#include <stdio.h>
#include "store.h"
#include "../metrics/rule.h"

typedef struct tt_alerts tt_alerts;

/* A fired rule, as the dashboard shows it and the alerts log records it. */
typedef struct {
    char run[TT_NAME_MAX];
    int rank;
    char rule[TT_RULE_NAME];
    char metric[128];
    char layer[TT_NAME_MAX];
    int64_t step;
    double value;
    int64_t best_step;         /* early_stop: the step of the best value (the checkpoint to keep), else -1 */
    char reason[256];
    double time;               /* wall clock */
    int stop, bell;            /* the actions it took */
} tt_alert;

tt_alerts *tt_alerts_new(void);
void tt_alerts_free(tt_alerts *a);

/* Every mistake is one line on errs: "traintop: WHERE: WHAT", WHERE the file and the rule
 * (`r.json: rule "x"`, `r.json: rules[3]` when it has no valid name) or the --alert spec, WHAT the
 * field or token and what was expected, with `; did you mean "…"?` when the user misspelt a known
 * word. A doubtful metric name is a warning ("…: warning: …"), not a mistake: runs may send their own. */

#define TT_RULES_MAX_BYTES (32 << 20)   /* a rules file larger than this is refused, unread */
/* Adds rules from a JSON file ({"rules": [...], "defaults": bool|{...}} or a bare array). Invalid
 * rules are skipped, each reported as one line. Returns the number of rules added (*mistakes += the
 * rules and top-level fields skipped), or -1 when the file cannot be read or holds no rules list (it
 * then counts as unreadable: tt_alerts_unreadable). */
int tt_alerts_load_file(tt_alerts *a, const char *path, FILE *errs, int *mistakes);
/* Adds one rule from the command-line grammar (docs/alerts.md). 0, or -1 after one line on errs. */
int tt_alerts_add_spec(tt_alerts *a, const char *spec, FILE *errs);
/* The default rules (non-finite loss, non-finite gradients, stalled run), unless turned off. */
void tt_alerts_add_defaults(tt_alerts *a);
int tt_alerts_count(const tt_alerts *a);
const tt_rule *tt_alerts_rule(const tt_alerts *a, int i);
/* Sources that could not be read at all (missing, not JSON, no rules list) while building a. */
int tt_alerts_unreadable(const tt_alerts *a);

typedef struct {
    const char *const *files;  /* --rules FILE */
    int nfiles;
    const char *const *specs;  /* --alert SPEC */
    int nspecs;
    int defaults;              /* 0: --no-default-rules */
} tt_alerts_sources;

/* Every source in order: the defaults (when defaults), $XDG_CONFIG_HOME/traintop/rules.json if it
 * exists, the files, the --alert specs. Mistakes are reported on errs and counted in *errors; the
 * valid rules are kept. NULL only when out of memory. */
tt_alerts *tt_alerts_build(const tt_alerts_sources *src, FILE *errs, int *errors);

/* Moves the state (per run, rank and layer) of every rule of from that to has unchanged — the same
 * name and tt_rule_same_params — into to, and the exec hooks still running. Returns how many rules
 * kept their state. from keeps its rules, with fresh state. */
int tt_alerts_take_state(tt_alerts *to, tt_alerts *from);
/* SIGHUP: builds the rules again from src. When a source cannot be read at all, the reload is
 * refused: cur is returned untouched, state and all. Otherwise the new set takes cur's state
 * (tt_alerts_take_state) and is returned; the caller puts it in place of cur and frees cur. Either
 * way one summary line goes to errs. */
tt_alerts *tt_alerts_reload(tt_alerts *cur, const tt_alerts_sources *src, FILE *errs);

/* Evaluates every rule against run r's latest message (the step it just accepted). Fired alerts are
 * written to out (up to max); returns how many fired. */
int tt_alerts_on_step(tt_alerts *a, const tt_run *r, tt_alert *out, int max);
/* Stalled rules, on a clock: idle is the seconds since the run's last message. */
int tt_alerts_on_tick(tt_alerts *a, const tt_run *r, double idle, tt_alert *out, int max);

/* Runs a rule's exec hook for an alert: argv as given (never a shell), the details in TRAINTOP_RUN,
 * TRAINTOP_RULE, TRAINTOP_METRIC, TRAINTOP_LAYER, TRAINTOP_VALUE, TRAINTOP_STEP, killed after the
 * rule's timeout. Returns the child's pid (reaped by tt_alerts_reap), or -1. */
int tt_alerts_exec(tt_alerts *a, const tt_alert *al);
/* Reaps finished hooks and kills those past their timeout; call from the collector's tick. */
void tt_alerts_reap(tt_alerts *a);
/* One JSON line for the alerts log. */
void tt_alert_write_json(const tt_alert *al, FILE *f);

#endif
