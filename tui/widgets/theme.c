/* theme: role tables for dark and light terminals, colour pairs allocated once per setup. */
#include "theme.h"

static attr_t g_attr[TUI_A_NROLES];
static short g_pair[TUI_A_NROLES];
static tui_depth g_depth;
static int g_light;

#define HEAT256 16
#define HEAT16 6
static attr_t g_heat[HEAT256];

typedef struct { short fg, bg; attr_t extra; attr_t mono; } role_def;

static const role_def dark[TUI_A_RUN0] = {
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
    [TUI_A_OUTLIER]     = { COLOR_BLACK, COLOR_YELLOW, 0, A_UNDERLINE | A_BOLD },
    [TUI_A_CURSORLINE]  = { COLOR_YELLOW, -1, 0, A_BOLD },
    [TUI_A_PAUSED]      = { COLOR_BLACK, COLOR_YELLOW, A_BOLD, A_REVERSE | A_BOLD },
    [TUI_A_TAB]         = { -1, -1, 0, 0 },
    [TUI_A_TAB_ACTIVE]  = { COLOR_BLACK, COLOR_GREEN, A_BOLD, A_REVERSE | A_BOLD },
    [TUI_A_INPUT]       = { COLOR_YELLOW, -1, A_BOLD, A_BOLD },
};

/* A light background: no yellow or white text, darker accents. */
static const role_def light[TUI_A_RUN0] = {
    [TUI_A_NORMAL]      = { -1, -1, 0, 0 },
    [TUI_A_DIM]         = { -1, -1, A_DIM, A_DIM },
    [TUI_A_HEADER]      = { COLOR_WHITE, COLOR_BLUE, 0, A_REVERSE },
    [TUI_A_FOOTER]      = { -1, -1, 0, 0 },
    [TUI_A_FOOTER_KEY]  = { COLOR_WHITE, COLOR_BLUE, 0, A_REVERSE },
    [TUI_A_TITLE]       = { COLOR_BLACK, COLOR_CYAN, 0, A_UNDERLINE },
    [TUI_A_TITLE_FOCUS] = { COLOR_WHITE, COLOR_GREEN, A_BOLD, A_REVERSE | A_BOLD },
    [TUI_A_COLHEAD]     = { COLOR_BLUE, -1, A_BOLD, A_BOLD },
    [TUI_A_CURSOR]      = { COLOR_WHITE, COLOR_BLUE, 0, A_REVERSE },
    [TUI_A_CURSOR_DIM]  = { COLOR_BLACK, COLOR_CYAN, 0, A_UNDERLINE },
    [TUI_A_BAD]         = { COLOR_WHITE, COLOR_RED, A_BOLD, A_REVERSE | A_BOLD },
    [TUI_A_WARN]        = { COLOR_MAGENTA, -1, A_BOLD, A_BOLD },
    [TUI_A_GOOD]        = { COLOR_GREEN, -1, 0, 0 },
    [TUI_A_INFO]        = { COLOR_BLUE, -1, A_BOLD, 0 },
    [TUI_A_AXIS]        = { -1, -1, A_DIM, 0 },
    [TUI_A_SERIES0]     = { COLOR_BLUE, -1, 0, 0 },
    [TUI_A_SERIES1]     = { COLOR_RED, -1, 0, A_BOLD },
    [TUI_A_SERIES2]     = { COLOR_MAGENTA, -1, 0, A_UNDERLINE },
    [TUI_A_SERIES3]     = { COLOR_GREEN, -1, 0, A_DIM },
    [TUI_A_SPARK]       = { COLOR_BLUE, -1, 0, 0 },
    [TUI_A_OUTLIER]     = { COLOR_BLACK, COLOR_YELLOW, 0, A_UNDERLINE | A_BOLD },
    [TUI_A_CURSORLINE]  = { COLOR_MAGENTA, -1, 0, A_BOLD },
    [TUI_A_PAUSED]      = { COLOR_BLACK, COLOR_YELLOW, A_BOLD, A_REVERSE | A_BOLD },
    [TUI_A_TAB]         = { -1, -1, 0, 0 },
    [TUI_A_TAB_ACTIVE]  = { COLOR_WHITE, COLOR_BLUE, A_BOLD, A_REVERSE | A_BOLD },
    [TUI_A_INPUT]       = { COLOR_BLUE, -1, A_BOLD, A_BOLD },
};

/* Run colours: 12 well-separated xterm-256 colours per background, 6 of the 8 basic ones. */
static const short run256_dark[TUI_NRUNCOLORS] = { 39, 214, 170, 76, 203, 45, 227, 141, 37, 209, 111, 150 };
static const short run256_light[TUI_NRUNCOLORS] = { 25, 130, 90, 28, 160, 30, 94, 55, 23, 166, 61, 64 };
static const short run16_dark[6] = { COLOR_CYAN, COLOR_YELLOW, COLOR_MAGENTA, COLOR_GREEN, COLOR_BLUE, COLOR_RED };
static const short run16_light[6] = { COLOR_BLUE, COLOR_RED, COLOR_MAGENTA, COLOR_GREEN, COLOR_CYAN, COLOR_BLACK };
static const attr_t run_mono[4] = { A_NORMAL, A_BOLD, A_UNDERLINE, A_BOLD | A_UNDERLINE };

/* Heat ramps: a viridis-like sequence in the 256-colour cube, and the basic colours in hue order. */
static const short heat256[HEAT256] = { 17, 18, 19, 25, 24, 30, 31, 37, 36, 35, 71, 77, 113, 149, 185, 226 };
static const short heat16[HEAT16] = { COLOR_BLUE, COLOR_CYAN, COLOR_GREEN, COLOR_YELLOW, COLOR_MAGENTA, COLOR_RED };

static short g_next;

static attr_t new_pair(short fg, short bg, attr_t extra, attr_t fallback)
{
    if (g_next < COLOR_PAIRS && init_pair(g_next, fg, bg) == OK) return extra | COLOR_PAIR(g_next++);
    return fallback;
}

void tui_theme_setup(tui_depth depth, int is_light)
{
    g_depth = depth;
    g_light = is_light;
    g_next = 1;
    const role_def *defs = is_light ? light : dark;
    for (int r = 0; r < TUI_A_NROLES; r++) { g_pair[r] = 0; g_attr[r] = 0; }
    for (int r = 0; r < TUI_A_RUN0; r++) {
        const role_def *d = &defs[r];
        if (depth == TUI_DEPTH_MONO) { g_attr[r] = d->mono; continue; }
        g_attr[r] = d->extra;
        if (d->fg == -1 && d->bg == -1) continue;
        short p = g_next;
        g_attr[r] = new_pair(d->fg, d->bg, d->extra, d->mono);
        if (g_attr[r] & A_COLOR) g_pair[r] = p;
    }
    for (int i = 0; i < TUI_NRUNCOLORS; i++) {
        int r = TUI_A_RUN0 + i;
        if (depth == TUI_DEPTH_MONO) { g_attr[r] = run_mono[i % 4]; continue; }
        short fg = depth == TUI_DEPTH_256 ? (is_light ? run256_light : run256_dark)[i] : (is_light ? run16_light : run16_dark)[i % 6];
        short p = g_next;
        g_attr[r] = new_pair(fg, -1, depth == TUI_DEPTH_16 && i >= 6 ? A_BOLD : 0, run_mono[i % 4]);
        if (g_attr[r] & A_COLOR) g_pair[r] = p;
    }
    for (int l = 0; l < HEAT256; l++) g_heat[l] = 0;
    if (depth == TUI_DEPTH_256) {
        for (int l = 0; l < HEAT256; l++) g_heat[l] = new_pair(l < 9 ? COLOR_WHITE : COLOR_BLACK, heat256[l], 0, A_REVERSE);
    } else if (depth == TUI_DEPTH_16) {
        for (int l = 0; l < HEAT16; l++) g_heat[l] = new_pair(l < 1 ? COLOR_WHITE : COLOR_BLACK, heat16[l], 0, A_REVERSE);
    }
}

void tui_theme_init(int color)
{
    tui_depth d = TUI_DEPTH_MONO;
    if (color) d = COLORS >= 256 && COLOR_PAIRS >= 64 ? TUI_DEPTH_256 : TUI_DEPTH_16;
    tui_theme_setup(d, 0);
}

tui_depth tui_theme_depth(void) { return g_depth; }
int tui_theme_light(void) { return g_light; }
attr_t tui_attr(tui_role r) { return r >= 0 && r < TUI_A_NROLES ? g_attr[r] : 0; }
short tui_pair(tui_role r) { return r >= 0 && r < TUI_A_NROLES ? g_pair[r] : 0; }

uint32_t tui_name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; s && *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

int tui_run_colors(void) { return g_depth == TUI_DEPTH_256 ? TUI_NRUNCOLORS : g_depth == TUI_DEPTH_16 ? 6 : 4; }

tui_role tui_run_role(const char *name)
{
    return (tui_role)(TUI_A_RUN0 + (int)(tui_name_hash(name) % (uint32_t)tui_run_colors()));
}

int tui_heat_levels(int ascii)
{
    if (g_depth == TUI_DEPTH_256) return HEAT256;
    if (g_depth == TUI_DEPTH_16) return HEAT16;
    return ascii ? 9 : 5;
}

attr_t tui_heat_attr(int l)
{
    if (g_depth == TUI_DEPTH_MONO) return 0;
    int n = tui_heat_levels(0);
    return g_heat[l < 0 ? 0 : l >= n ? n - 1 : l];
}

const char *tui_heat_glyph(int l, int ascii)
{
    if (g_depth != TUI_DEPTH_MONO) return " ";    /* the colour is the value */
    static const char *const u[5] = { "\u00b7", "\u2591", "\u2592", "\u2593", "\u2588" };
    static const char *const a[9] = { ".", ":", "-", "=", "+", "*", "#", "%", "@" };
    int n = ascii ? 9 : 5;
    if (l < 0) l = 0;
    if (l >= n) l = n - 1;
    return ascii ? a[l] : u[l];
}
