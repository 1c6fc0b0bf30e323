/* rulespec: the two ways to write a rule — an object of a rules file and an --alert spec
 * (docs/alerts.md) — read into a tt_rule. A mistake is one err naming the field or the token and what
 * was expected, with `; did you mean "…"?` when a known word was misspelt. */
#ifndef TT_RULESPEC_H
#define TT_RULESPEC_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "../metrics/rule.h"

/* One rule of a rules file: 0, or -1 with err (`field "patiense": unknown; did you mean "patience"?`).
 * On failure r holds nothing to free. */
int tt_rulespec_json(const cJSON *o, tt_rule *r, char *err, size_t len);
/* One --alert spec: 0, or -1 with err (`'patiense': unknown key; did you mean "patience"?`). A spec
 * without NAME: is named by itself. On failure r holds nothing to free. */
int tt_rulespec_text(const char *spec, tt_rule *r, char *err, size_t len);
/* Metric names are open — a run may send its own — so a doubtful one (a near miss of a known name, a
 * layer statistic without a layer, a run scalar with one) is a warning: 1 with out, else 0. */
int tt_rulespec_metric_warning(const tt_rule *r, char *out, size_t len);
/* Frees the exec argv a reader copied. */
void tt_rulespec_free(tt_rule *r);

#endif
