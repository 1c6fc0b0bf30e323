/* registry: the panel kinds, in the order the dashboard lays out, paints and focuses them. A view's
 * panels are those naming it, in this order (tui/core/views.c places them). */
#include "registry.h"
#include "../views.h"

extern const tui_panel_class tui_runs_panel, tui_charts_panel, tui_layers_panel, tui_heatmap_panel, tui_cmpruns_panel,
    tui_compare_panel, tui_alerts_panel, tui_ldetail_panel, tui_plugin_panel, tui_system_panel;

#define V(x) TUI_VBIT(TUI_V_##x)

const tui_panel_reg tui_panel_registry[] = {
    { "runs", &tui_runs_panel, V(OVERVIEW), 0 },
    { "charts", &tui_charts_panel, V(OVERVIEW) | V(CHARTS), V(CHARTS) },
    { "system", &tui_system_panel, V(CHARTS), 0 },
    { "layers", &tui_layers_panel, V(OVERVIEW) | V(LAYERS), V(LAYERS) },
    { "heatmap", &tui_heatmap_panel, V(HEATMAP), V(HEATMAP) },
    { "cmpruns", &tui_cmpruns_panel, V(COMPARE), 0 },
    { "compare", &tui_compare_panel, V(COMPARE), V(COMPARE) },
    { "alerts", &tui_alerts_panel, V(ALERTS), V(ALERTS) },
    { "ldetail", &tui_ldetail_panel, V(LAYERS), 0 },
    { "plugin", &tui_plugin_panel, V(PLUGINS), V(PLUGINS) },
};
const int tui_panel_registry_n = (int)(sizeof tui_panel_registry / sizeof tui_panel_registry[0]);
