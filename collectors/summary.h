/* summary: the store as JSON, for `traintop ls`, the query socket and the headless demo. */
#ifndef TT_SUMMARY_H
#define TT_SUMMARY_H

#include <cjson/cJSON.h>
#include "store.h"

/* One object per run: run, rank, world, state, status, step, steps, steps_per_s, host, pid, layers,
 * dropped, hparams, and the latest value of each scalar under "scalars". NULL on OOM. */
cJSON *tt_summary_runs(const tt_store *st);
/* A JSON number, or the string "NaN"/"Inf"/"-Inf" the protocol uses for non-finite values. */
cJSON *tt_json_metric(double v);

#endif
