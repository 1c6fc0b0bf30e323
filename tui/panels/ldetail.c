/* ldetail: the selected layer's statistics over the steps, a small chart each, under a short layer
 * table (the layers view). It follows the shared layer selection; it has no cursor of its own. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../panel.h"
#include "../widgets/chart.h"
#include "../widgets/theme.h"
#include "columns.h"

typedef struct {
    tui_panel super;
    tui_buf chart_buf;
} ldetail_panel;


static void detail_paint(tui_ctx *ctx, tui_panel *p)
{
    ldetail_panel *dp = (ldetail_panel *)p;
    const tt_run *r = tui_ctx_run(ctx);
    if (!r || ctx->layers.cur < 0 || ctx->layers.cur >= tui_model_nlayers(ctx->m, r)) {
        tui_ctx_title(ctx, p, "Layer");
        return;
    }
    int li = ctx->layers.cur;
    char title[TT_NAME_MAX + 96];
    snprintf(title, sizeof title, "Layer %s (%lldx%lld): its statistics over the steps", tui_layer_name(r, li),
             (long long)tui_layer_rows(r, li), (long long)tui_layer_cols(r, li));
    tui_ctx_title(ctx, p, title);
    int colstat[TUI_MAX_LCOLS];
    int n = tui_table_columns(ctx, r, colstat), inonf = tui_run_stat_index(r, "nonfinite");
    int ks[TUI_MAX_LCOLS], nk = 0;
    for (int i = 0; i < n; i++) if (colstat[i] != inonf) ks[nk++] = colstat[i];
    int h = p->h - 1, w = p->w;
    if (nk == 0 || h < 5) return;
    int cols = w / 36 < 1 ? 1 : w / 36;
    if (cols > nk) cols = nk;
    int rows = (nk + cols - 1) / cols;
    if (rows > h / 5) rows = h / 5;
    if (rows < 1) rows = 1;
    if (nk > rows * cols) nk = rows * cols;
    int64_t to = tui_model_layer_step(ctx->m, r), from = INT64_MAX;
    for (int i = 0; i < nk && from == INT64_MAX; i++) {
        tt_point pt;
        if (tui_query(tui_layer_series(r, li, ks[i]), INT64_MIN, INT64_MAX, 1, &pt) == 1) from = pt.first;
    }
    if (from == INT64_MAX || to < from) return;
    tui_chart_opts co = { .style = tui_ctx_chart_style(ctx), .log_y = ctx->cfg->log_y };
    for (int i = 0; i < nk; i++) {
        int rr = i / cols, cc = i % cols;
        int in_row = nk - rr * cols < cols ? nk - rr * cols : cols;
        int cy = p->y + 1 + rr * h / rows, ch = (rr + 1) * h / rows - rr * h / rows;
        int cx = p->x + cc * w / in_row, cw = (cc + 1) * w / in_row - cc * w / in_row;
        tui_chart_line line = { tui_run_stat_name(r, ks[i]), tui_layer_series(r, li, ks[i]), tui_model_layer_last(ctx->m, r, ctx->layers.cur, ks[i]),
                                TUI_A_SERIES0 };
        tui_chart_draw_ex(stdscr, cy, cx, ch, cw - (cc < in_row - 1), &line, 1, from, to, &co, &dp->chart_buf, NULL);
        if (cc < in_row - 1)
            for (int yy = cy; yy < cy + ch; yy++) tui_puts(stdscr, yy, cx + cw - 1, 1, ctx->ascii ? "|" : "\u2502", tui_attr(TUI_A_DIM));
    }
}

static tui_panel *detail_create(tui_ctx *ctx)
{
    (void)ctx;
    ldetail_panel *dp = calloc(1, sizeof *dp);
    return dp ? &dp->super : NULL;
}

static void detail_destroy(tui_panel *p)
{
    ldetail_panel *dp = (ldetail_panel *)p;
    tui_buf_free(&dp->chart_buf);
    free(dp);
}

const tui_panel_class tui_ldetail_panel = {
    .name = "Layer",
    .create = detail_create,
    .destroy = detail_destroy,
    .paint = detail_paint,
};
