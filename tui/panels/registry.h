/* registry: every kind of panel the dashboard has, the views each appears in, and which view shows it
 * as its main panel. The one list to extend when adding a panel (see docs/HACKING.md). */
#ifndef TUI_PANELS_REGISTRY_H
#define TUI_PANELS_REGISTRY_H

#include "../panel.h"

typedef struct {
    const char *id;                 /* names the panel in focus requests ("layers") */
    const tui_panel_class *cls;
    unsigned views;                 /* TUI_VBIT(view) of the views it appears in */
    unsigned main_views;            /* the views where it is the main panel (full size, own time window) */
} tui_panel_reg;

extern const tui_panel_reg tui_panel_registry[];
extern const int tui_panel_registry_n;

#endif
