/* system: one line for the process and host (CPU %, resident memory, host memory) and one per GPU
 * (utilisation, memory, torch's peak, power, temperature, SM clock), each ending in a sparkline of its
 * busy figure over the run. Reads only scalars through tui/model.h: a probe that samples nothing shows
 * nothing, and views give the strip no rows (tui_system_rows). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "system.h"
#include "../panel.h"
#include "../widgets/fmt.h"
#include "../widgets/freeze.h"
#include "../widgets/sparkline.h"
#include "../widgets/theme.h"

#define MAX_GPUS 8
#define SPARK_MAX 64

typedef struct {
    tui_panel super;
} system_panel;

/* The GPU numbers k for which the run publishes gpu<k>_util_percent or gpu<k>_mem_used_bytes, ascending. */
static int gpus_of(const tt_run *r, int *k)
{
    int n = 0;
    for (int i = 0; i < tui_run_nscalars(r); i++) {
        int g, end = 0;
        const char *name = tui_scalar_name(r, i);
        if (sscanf(name, "gpu%d_%n", &g, &end) != 1 || !end || g < 0 ||
            (strcmp(name + end, "util_percent") && strcmp(name + end, "mem_used_bytes"))) continue;
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= k[j] == g;
        if (dup || n == MAX_GPUS) continue;
        int at = n++;
        while (at > 0 && k[at - 1] > g) { k[at] = k[at - 1]; at--; }
        k[at] = g;
    }
    return n;
}

int tui_system_rows(const tt_run *r)
{
    int k[MAX_GPUS];
    if (!r) return 0;
    int ng = gpus_of(r, k);
    if (ng == 0 && tui_run_scalar_index(r, "sys_cpu_percent") < 0 && tui_run_scalar_index(r, "sys_rss_bytes") < 0) return 0;
    return 2 + ng;
}

static double last(tui_ctx *ctx, const tt_run *r, const char *name)
{
    int i = tui_run_scalar_index(r, name);
    return i < 0 ? NAN : tui_model_scalar_last(ctx->m, r, i);
}

/* Bytes in binary units, three significant digits: "812 MiB", "1.21 GiB"; "-" when unknown. */
static char *bytes(char *buf, size_t len, double v)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    if (!isfinite(v) || v < 0) { snprintf(buf, len, "-"); return buf; }
    int u = 0;
    while (v >= 1024 && u < 4) { v /= 1024; u++; }
    snprintf(buf, len, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

static char *number(char *buf, size_t len, double v, const char *fmt)
{
    if (isfinite(v)) snprintf(buf, len, fmt, v);
    else snprintf(buf, len, "-");
    return buf;
}

/* A sparkline of the scalar's history (0..100 fixed scale, as both are percentages) in w cells at (y, x). */
static void spark(tui_ctx *ctx, int y, int x, int w, const tt_run *r, const char *name)
{
    const tt_series *s = tui_run_scalar_series(r, name);
    if (!s || w < 4) return;
    tt_point pts[SPARK_MAX];
    if (w > SPARK_MAX) w = SPARK_MAX;
    size_t n = tui_query(s, INT64_MIN, INT64_MAX, (size_t)w, pts);
    for (size_t i = 0; i < n; i++) {
        int lev = pts[i].finite ? tui_spark_level(pts[i].mean, 0, 100, TUI_SPARK_LEVELS) : TUI_SPARK_NAN;
        tui_puts(stdscr, y, x + w - (int)n + (int)i, 1, tui_spark_glyph(lev, ctx->ascii), tui_attr(lev == TUI_SPARK_NAN ? TUI_A_BAD : TUI_A_SPARK));
    }
}

/* The text of a line, then its sparkline in what is left of the width (when at least 8 cells are). */
static void line(tui_ctx *ctx, tui_panel *p, int y, const char *head, const char *text, const tt_run *r, const char *spark_of)
{
    int hw = 6;
    tui_put(stdscr, y, p->x, hw, head, tui_attr(TUI_A_COLHEAD), TUI_LEFT, ctx->ascii);
    int tw = tui_text_width(text), room = p->w - hw - tw - 2;
    tui_put(stdscr, y, p->x + hw, p->w - hw, text, 0, TUI_LEFT, ctx->ascii);
    if (room >= 8) spark(ctx, y, p->x + p->w - room, room, r, spark_of);
}

static void system_paint(tui_ctx *ctx, tui_panel *p)
{
    const tt_run *r = tui_ctx_run(ctx);
    tui_ctx_title(ctx, p, "System");
    if (!r || p->h < 2) return;
    int k[MAX_GPUS], ng = gpus_of(r, k), y = p->y + 1;
    char text[256], a[32], b[32], c[32], d[32];
    double used = last(ctx, r, "sys_host_mem_used_bytes"), total = last(ctx, r, "sys_host_mem_total_bytes");
    snprintf(text, sizeof text, "CPU %s  RSS %s  host memory %s / %s", number(a, sizeof a, last(ctx, r, "sys_cpu_percent"), "%.0f%%"),
             bytes(b, sizeof b, last(ctx, r, "sys_rss_bytes")), bytes(c, sizeof c, used), bytes(d, sizeof d, total));
    line(ctx, p, y++, "proc", text, r, "sys_cpu_percent");
    for (int i = 0; i < ng && y < p->y + p->h; i++) {
        char n[64], head[16], e[32], f[32], g[32];
        double v[8];
        static const char *const what[] = { "util_percent", "mem_used_bytes", "mem_total_bytes", "torch_max_allocated_bytes",
                                            "power_watts", "temp_celsius", "sm_clock_mhz" };
        for (int j = 0; j < 7; j++) {
            snprintf(n, sizeof n, "gpu%d_%s", k[i], what[j]);
            v[j] = last(ctx, r, n);
        }
        snprintf(text, sizeof text, "util %s  mem %s / %s  torch peak %s  %s  %s  %s", number(a, sizeof a, v[0], "%.0f%%"),
                 bytes(b, sizeof b, v[1]), bytes(c, sizeof c, v[2]), bytes(d, sizeof d, v[3]), number(e, sizeof e, v[4], "%.0f W"),
                 number(f, sizeof f, v[5], ctx->ascii ? "%.0f C" : "%.0f°C"), number(g, sizeof g, v[6], "%.0f MHz"));
        snprintf(head, sizeof head, "gpu%d", k[i]);
        snprintf(n, sizeof n, "gpu%d_util_percent", k[i]);
        line(ctx, p, y++, head, text, r, n);
    }
}

TUI_PANEL_SIMPLE_CREATE(system_panel)

const tui_panel_class tui_system_panel = {
    .name = "System",
    .create = system_panel_create,
    .destroy = tui_panel_free,
    .paint = system_paint,
};
