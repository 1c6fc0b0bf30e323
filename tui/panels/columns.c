/* columns: the layer table's statistic columns — their heads, their order (the known statistics
 * first, the others in wire order), which have data and which the settings hide. Shared by the layer
 * table, its column chooser and the layer detail. */
#include "columns.h"

#include <string.h>

/* Known statistics: their column heads, and the order columns come in; others follow in wire order. */
static const struct { const char *stat, *head; } col_defs[] = {
    { "w_norm", "w_norm" },
    { "g_norm", "g_norm" },
    { "update_ratio", "upd_ratio" },
    { "gw_cos", "gw_cos" },
    { "gamma_mean", "gamma" },
    { "angle", "angle" },
    { "noise_scale", "noise_sc" },
    { "alpha", "alpha" },
    { "stable_rank", "st_rank" },
    { "dist_init", "dist_init" },
    { "norm_test", "norm_test" },
    { "gsnr", "gsnr" },
    { "alpha_window", "alpha_win" },
    { "nonfinite", "nonfinite" },
    { "g_rms", "g_rms" },
    { "w_rms", "w_rms" },
    { "update_norm", "upd_norm" },
    { "angle_rows", "ang_rows" },
    { "w_var", "w_var" },
    { "trace_sigma", "trace_sig" },
    { "log_spectral_norm", "log_specn" },
    { "scale_inv_cos", "sinv_cos" },
    { "eff_step", "eff_step" },
    { "alpha_err", "alpha_err" },
    { "alpha_weighted", "alpha_wtd" },
    { "log_norm", "log_norm" },
};
#define NCOL_DEFS ((int)(sizeof col_defs / sizeof col_defs[0]))

const char *tui_col_head(const char *stat)
{
    for (int d = 0; d < NCOL_DEFS; d++) if (strcmp(col_defs[d].stat, stat) == 0) return col_defs[d].head;
    return stat;
}

/* Whether any layer of the run has received statistic k. */
int tui_stat_has_data(const tt_run *r, int k)
{
    for (int i = 0; i < tui_run_layers_total(r); i++)
        if (tui_series_count(tui_layer_series(r, i, k))) return 1;
    return 0;
}

/* The table's statistic columns (indexes into stat_names), in display order; also ctx->layers.lcols. */
int tui_table_columns(tui_ctx *ctx, const tt_run *r, int *colstat)
{
    int n = 0;
    unsigned char used[512] = { 0 };
    for (int d = 0; d < NCOL_DEFS && n < TUI_MAX_LCOLS; d++) {
        int k = tui_run_stat_index(r, col_defs[d].stat);
        if (k < 0 || k >= 512 || !tui_stat_has_data(r, k)) continue;   /* declared but never sent (spectra off, …) */
        used[k] = 1;
        if (tui_config_hidden(ctx->cfg, col_defs[d].stat)) continue;
        colstat[n++] = k;
    }
    for (int k = 0; k < tui_run_nstats(r) && k < 512 && n < TUI_MAX_LCOLS; k++) {
        if (used[k] || !tui_stat_has_data(r, k) || tui_config_hidden(ctx->cfg, tui_run_stat_name(r, k))) continue;
        colstat[n++] = k;
    }
    ctx->layers.nlcols = n;
    for (int i = 0; i < n; i++) ctx->layers.lcols[i] = tui_run_stat_name(r, colstat[i]);
    return n;
}

/* Every statistic of the run in column order (hidden ones too): for the chooser. Returns the count. */
int tui_all_columns(const tt_run *r, int *stats)
{
    int n = 0;
    unsigned char used[512] = { 0 };
    for (int d = 0; d < NCOL_DEFS; d++) {
        int k = tui_run_stat_index(r, col_defs[d].stat);
        if (k < 0 || k >= 512) continue;
        used[k] = 1;
        stats[n++] = k;
    }
    for (int k = 0; k < tui_run_nstats(r) && k < 512; k++) if (!used[k]) stats[n++] = k;
    return n;
}
