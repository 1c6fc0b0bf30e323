/* layersel: the layer selection several panels share — the selected layer, the name filter (with its
 * input line) and the sort — and the run's layers in display order (filter, then sort), cached per
 * filter so typing stays cheap at 1000 layers. */
#ifndef TUI_LAYERSEL_H
#define TUI_LAYERSEL_H

#include "model.h"
#include "widgets/draw.h"
#include "widgets/filter.h"

#define TUI_MAX_LCOLS 64
#define TUI_MAX_FOLDS 256

typedef struct {
    int cur;                   /* the selected layer: an index into the run's layers */
    char sort_key[128];        /* "" wire order, "problems" (worst first), "name", or a statistic name */
    int sort_rev;
    const char *lcols[TUI_MAX_LCOLS];   /* the table's statistic columns (all with data, not hidden) */
    int nlcols;
    int nshown;                /* rows shown (last order: filtered, folded) */
    int nfiltered;             /* layers that passed the filter and problems only (last order) */
    tui_filter filter;
    int input;                 /* the filter line is being edited */
    int problems_only;         /* only layers with a problem (runhealth) pass */
    /* groups of layers by name prefix (tui_layer_group), folded into one row each (htop's tree): with
     * fold_all every group is folded but those listed, else only those listed */
    int fold_all;
    char folds[TUI_MAX_FOLDS][96];
    int nfolds;
    tui_buf grp_n;             /* per layer: its group's size when it stands for a folded group, else 0 */
    tui_buf seen;
    struct tui_health_s *health;   /* the layers' problems: the "problems" sort and problems_only */
    char input_prev[TUI_FILTER_MAX];
    tui_buf order, vals;
    /* the filtered order's cache: rebuilt when the run, its layer count or the filter changes */
    const void *ord_run;
    int ord_nlayers, ord_n;
    unsigned ord_gen;
    tui_buf ord_cache;
} tui_layersel;

void tui_layersel_init(tui_layersel *ls);
void tui_layersel_free(tui_layersel *ls);
/* The run's layers in display order: returns the count; *order points into ls. */
int tui_layersel_order(tui_layersel *ls, tui_model *m, const tt_run *r, const int **order);
/* How many of the run's layers pass the filter. */
int tui_layersel_count(tui_layersel *ls, tui_model *m, const tt_run *r);
/* Moves the selected layer by delta rows of the display order (INT_MIN/INT_MAX: the ends). */
void tui_layersel_move(tui_layersel *ls, tui_model *m, const tt_run *r, int delta);
/* The sort's statistic for the run: -1 wire order, -2 name, -3 problems, ≥0 a statistic. */
int tui_layersel_sort_stat(const tui_layersel *ls, const tt_run *r);
/* The next sort: "" → problems → name → each column of the table → "". */
void tui_layersel_cycle_sort(tui_layersel *ls);
/* The group of a layer name: up to its first numeric component ("blocks.3" of "blocks.3.attn.w",
 * "model.layers.10" of "model.layers.10.mlp.weight"), else its first component ("fc1" of "fc1.weight");
 * the name itself when it has no dot. */
void tui_layer_group(const char *name, char *out, size_t len);
/* Whether the group is folded; folds or unfolds it (fold: 1, unfold: 0, toggle: -1). */
int tui_layersel_folded(const tui_layersel *ls, const char *group);
void tui_layersel_fold(tui_layersel *ls, const char *group, int how);
/* Folds every group, or unfolds them all. */
void tui_layersel_fold_all(tui_layersel *ls, int on);
/* For a layer of the last order: its folded group's size (it stands for the group), or 0. */
int tui_layersel_group_size(const tui_layersel *ls, int layer);
/* Opens the filter line. */
void tui_layersel_filter_begin(tui_layersel *ls);
/* Keys while the filter line is open; 0 for the keys it leaves to the table (arrows). */
int tui_layersel_input_key(tui_layersel *ls, int ch);

#endif
