/* views: the views' names as the settings file and --view spell them. */
#include "../views.h"

#include <string.h>

const char *const tui_view_names[TUI_NVIEWS] = { "overview", "charts", "layers", "heatmap", "compare", "alerts", "plugins" };

int tui_view_by_name(const char *name)
{
    for (int i = 0; name && i < TUI_NVIEWS; i++)
        if (strcmp(tui_view_names[i], name) == 0) return i;
    return -1;
}

