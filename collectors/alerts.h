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
    char reason[256];
    double time;               /* wall clock */
    int stop, bell;            /* the actions it took */
} tt_alert;

tt_alerts *tt_alerts_new(void);
void tt_alerts_free(tt_alerts *a);
/* Adds rules from a JSON file ({"rules": [...], "defaults": bool|{...}} or a bare array). Invalid
 * rules are skipped, each reported as one line on errs naming the file, the rule and the field.
 * Returns the number of rules added (*mistakes += the rules skipped), or -1 when the file cannot be
 * read or is not JSON. */
int tt_alerts_load_file(tt_alerts *a, const char *path, FILE *errs, int *mistakes);
/* Adds one rule from the command-line grammar (docs/alerts.md). 0, or -1 with err. */
int tt_alerts_add_spec(tt_alerts *a, const char *spec, char *err, size_t errlen);
/* The default rules (non-finite loss, non-finite gradients, stalled run), unless turned off. */
void tt_alerts_add_defaults(tt_alerts *a);
int tt_alerts_count(const tt_alerts *a);
const tt_rule *tt_alerts_rule(const tt_alerts *a, int i);

/* Every source in order: the defaults (when defaults), $XDG_CONFIG_HOME/traintop/rules.json if it
 * exists, the files, the --alert specs. Mistakes are reported on errs and counted in *errors; the
 * valid rules are kept. NULL only when out of memory. */
tt_alerts *tt_alerts_build(const char *const *files, int nfiles, const char *const *specs, int nspecs, int defaults,
                           FILE *errs, int *errors);

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
