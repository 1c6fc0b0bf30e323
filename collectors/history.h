/* history: a store's runs re-encoded as protocol messages, downsampled, so a viewer attaching late
 * rebuilds the whole history in its own store with the same ingest code, then follows live messages. */
#ifndef TT_HISTORY_H
#define TT_HISTORY_H

#include <stddef.h>
#include "store.h"

/* JSON lines: a run_start per run, then one step message per distinct step carrying each series'
 * buckets — at most scalar_points buckets per scalar and layer_points per layer statistic, each bucket
 * as its minimum (first step), maximum (middle step) and last value (last step), so spikes survive.
 * Layer points go as full rows where every layer has every row statistic at the step, else as extra
 * entries (docs/protocol.md). Returns a malloc'd NUL-terminated text (length in *len), or NULL on OOM. */
char *tt_history_encode(const tt_store *st, size_t scalar_points, size_t layer_points, size_t *len);

#endif
