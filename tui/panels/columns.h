/* columns: the layer table's statistic columns (heads, order, data, hidden). */
#ifndef TUI_PANELS_COLUMNS_H
#define TUI_PANELS_COLUMNS_H

#include "../panel.h"

/* The column head of a statistic ("upd_ratio" for update_ratio). */
const char *tui_col_head(const char *stat);
/* Whether any layer of the run has received statistic k. */
int tui_stat_has_data(const tt_run *r, int k);
/* The table's columns (statistic indexes, at most TUI_MAX_LCOLS): known ones first, then wire order;
 * without data or hidden left out. Also sets ctx->layers.lcols. Returns the count. */
int tui_table_columns(tui_ctx *ctx, const tt_run *r, int *colstat);
/* Every statistic of the run in column order, hidden ones too (stats holds ≥ 512). */
int tui_all_columns(const tt_run *r, int *stats);

#endif
