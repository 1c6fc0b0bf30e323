/* freeze: the series reader the charts draw from, and what a paused display reads. Ingest keeps
 * merging old buckets of the live series while the display is paused, so the paused history would quietly re-bucket under a zoom or a scroll; at the
 * pause every series (the selected run's first) is copied, up to a memory budget, and every query the
 * dashboard makes goes through tui_query, which answers from the copy exactly as tt_series_query
 * answered at the pause. Series beyond the budget are read live (tui_freeze_complete says so). */
#ifndef TUI_FREEZE_H
#define TUI_FREEZE_H

#include <stddef.h>
#include <stdint.h>
#include "../../collectors/store.h"

#define TUI_FREEZE_BUDGET ((size_t)96 << 20)

/* Copies the series of every run (first the run `first`, may be NULL) within budget bytes. Ends a
 * previous freeze. Returns the number of series copied, -1 on OOM (nothing frozen then). */
int tui_freeze_begin(const tt_store *st, const tt_run *first, size_t budget);
void tui_freeze_end(void);
int tui_freeze_active(void);
/* Whether every series fitted in the budget; the bytes the copies take. */
int tui_freeze_complete(void);
size_t tui_freeze_bytes(void);

/* tt_series_query, from the copy while frozen. */
size_t tui_query(const tt_series *s, int64_t from, int64_t to, size_t max_points, tt_point *out);
/* tt_series_count, from the copy while frozen. */
size_t tui_series_count(const tt_series *s);

#endif
