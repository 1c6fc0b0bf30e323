/* summary: the store as JSON, for `traintop ls`, the query socket and the headless demo. */
#ifndef TT_SUMMARY_H
#define TT_SUMMARY_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include "store.h"

/* One object per run: run, rank, world, state, step, steps, steps_per_s, host, pid, layers, dropped,
 * hparams, the latest value of each scalar under "scalars" and its exact best under
 * "best": {name: {min, min_step, max, max_step}}. NULL on OOM. */
cJSON *tt_summary_runs(const tt_store *st);
/* A JSON number, or the string "NaN"/"Inf"/"-Inf" the protocol uses for non-finite values. */
cJSON *tt_json_metric(double v);

/* The per-run summary of `traintop demo --headless` and `traintop replay --summary`: a table, or with
 * json a JSON array with run, state, steps, last_step, dropped, loss, val_loss, val_acc, train_acc,
 * steps_per_s, val_best_step (lowest val_loss) and gwa_best_step (highest gwa_robust: the paper's gwa
 * peaks at its pole), null when absent. */
void tt_summary_print(const tt_store *st, FILE *out, int json);
/* The same from tt_summary_runs' JSON (as `ls` on the query socket returns it), for a remote collector. */
void tt_summary_print_json_runs(const cJSON *runs, FILE *out, int json);
/* The summary objects from tt_summary_runs' JSON. */
cJSON *tt_summary_project(const cJSON *runs);

#endif
