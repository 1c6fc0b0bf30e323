/* settings: defaults and the hidden-column list; plain data, no I/O. */
#include "settings.h"
#include "widgets/chart.h"
#include "views.h"

#include <stdio.h>
#include <string.h>

const char *const tui_run_sort_names[TUI_RSORT_N + 1] = { "name", "health", "loss", "val_loss", "step", NULL };

void tui_config_defaults(tui_config *c)
{
    memset(c, 0, sizeof *c);
    c->color = TUI_COLOR_AUTO;
    c->chart_style = TUI_CHART_BRAILLE;
    c->layout = TUI_LAYOUT_AUTO;
    c->view = TUI_V_OVERVIEW;
    c->mouse = 1;
    c->refresh_ms = 200;
    c->heat_log = 1;
    snprintf(c->heat_metric, sizeof c->heat_metric, "update_ratio");
    snprintf(c->cmp_metric, sizeof c->cmp_metric, "loss");
}

int tui_config_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= TUI_CFG_NAME) return 0;
    for (; *s; s++) if ((unsigned char)*s < 0x20) return 0;
    return 1;
}

int tui_config_hidden(const tui_config *c, const char *name)
{
    for (int i = 0; i < c->nhidden; i++) if (strcmp(c->hidden[i], name) == 0) return 1;
    return 0;
}

int tui_config_toggle_hidden(tui_config *c, const char *name)
{
    for (int i = 0; i < c->nhidden; i++)
        if (strcmp(c->hidden[i], name) == 0) {
            memmove(c->hidden[i], c->hidden[i + 1], (size_t)(c->nhidden - i - 1) * sizeof c->hidden[0]);
            c->nhidden--;
            return 0;
        }
    if (c->nhidden >= TUI_CFG_MAX_HIDDEN || !tui_config_valid_name(name)) return 0;
    snprintf(c->hidden[c->nhidden++], TUI_CFG_NAME, "%s", name);
    return 1;
}
