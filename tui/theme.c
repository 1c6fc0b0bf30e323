/* theme: color pairs and their monochrome equivalents. */
#include "theme.h"

static attr_t g_attr[TUI_A_NROLES];
static short g_pair[TUI_A_NROLES];

typedef struct { short fg, bg; attr_t extra; attr_t mono; } role_def;

static const role_def defs[TUI_A_NROLES] = {
    [TUI_A_NORMAL]      = { -1, -1, 0, 0 },
    [TUI_A_DIM]         = { -1, -1, A_DIM, A_DIM },
    [TUI_A_HEADER]      = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
    [TUI_A_FOOTER]      = { -1, -1, 0, 0 },
    [TUI_A_FOOTER_KEY]  = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
    [TUI_A_TITLE]       = { COLOR_BLACK, COLOR_WHITE, 0, A_UNDERLINE },
    [TUI_A_TITLE_FOCUS] = { COLOR_BLACK, COLOR_GREEN, A_BOLD, A_REVERSE | A_BOLD },
    [TUI_A_COLHEAD]     = { COLOR_GREEN, -1, A_BOLD, A_BOLD },
    [TUI_A_CURSOR]      = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
    [TUI_A_CURSOR_DIM]  = { COLOR_BLACK, COLOR_WHITE, 0, A_UNDERLINE },
    [TUI_A_BAD]         = { COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD },
    [TUI_A_WARN]        = { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
    [TUI_A_GOOD]        = { COLOR_GREEN, -1, 0, 0 },
    [TUI_A_INFO]        = { COLOR_BLUE, -1, A_BOLD, 0 },
    [TUI_A_AXIS]        = { -1, -1, A_DIM, 0 },
    [TUI_A_SERIES0]     = { COLOR_CYAN, -1, 0, 0 },
    [TUI_A_SERIES1]     = { COLOR_YELLOW, -1, 0, A_BOLD },
    [TUI_A_SERIES2]     = { COLOR_MAGENTA, -1, 0, A_UNDERLINE },
    [TUI_A_SERIES3]     = { COLOR_GREEN, -1, 0, A_DIM },
    [TUI_A_SPARK]       = { COLOR_CYAN, -1, 0, 0 },
};

void tui_theme_init(int color)
{
    short next = 1;
    for (int r = 0; r < TUI_A_NROLES; r++) {
        const role_def *d = &defs[r];
        g_pair[r] = 0;
        if (!color) { g_attr[r] = d->mono; continue; }
        g_attr[r] = d->extra;
        if (d->fg == -1 && d->bg == -1) continue;
        if (next < COLOR_PAIRS && init_pair(next, d->fg, d->bg) == OK) {
            g_pair[r] = next;
            g_attr[r] |= COLOR_PAIR(next);
            next++;
        } else {
            g_attr[r] = d->mono;
        }
    }
}

attr_t tui_attr(tui_role r) { return r >= 0 && r < TUI_A_NROLES ? g_attr[r] : 0; }
short tui_pair(tui_role r) { return r >= 0 && r < TUI_A_NROLES ? g_pair[r] : 0; }
