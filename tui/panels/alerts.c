/* alerts: the rules that fired, newest first — when, run, rule, step, the stop it asked for,
 * and why. The data is the collector's ring of fired alerts (tt_store.alerts, filled by
 * collectors/alerts.c through the collector); tui_model_alert() is the one hook this view reads, and
 * tui_model_alerts() the per-run count the overview shows. Enter opens the alert's run in the charts
 * view with the cursor on the alert's step. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../panel.h"
#include "../widgets/fmt.h"
#include "../widgets/theme.h"
#include "../views.h"

/* The panel: its cursor and scroll over the alert list. */
typedef struct {
    tui_panel super;
    int cur, top;
} alerts_panel;

static void alerts_paint(tui_ctx *ctx, tui_panel *p)
{
    alerts_panel *s = (alerts_panel *)p;
    int n = tui_model_alert_count(ctx->m);
    char title[96];
    snprintf(title, sizeof title, "Alerts (%d%s)", n, tui_model_alerts_wrapped(ctx->m) ? ", the newest kept" : "");
    tui_ctx_title(ctx, p, title);
    if (p->h < 3) return;
    if (n == 0) {
        static const char *const empty[] = {
            "No alerts.",
            "",
            "Rules fire here when a run crosses them: early stopping, thresholds, spikes, NaN/Inf, stalls.",
            "Give rules with --rules FILE or --alert SPEC (docs/alerts.md), or in",
            "$XDG_CONFIG_HOME/traintop/rules.json; the defaults watch for non-finite loss and gradients.",
        };
        int rows = (int)(sizeof empty / sizeof empty[0]);
        int y = p->y + 1 + (p->h - 1 - rows) / 2;
        if (y < p->y + 1) y = p->y + 1;
        for (int i = 0; i < rows && y + i < p->y + p->h; i++)
            tui_put(stdscr, y + i, p->x, p->w, empty[i], i == 0 ? A_BOLD : tui_attr(TUI_A_DIM), TUI_CENTER, ctx->ascii);
        return;
    }
    int y = p->y + 1;
    attr_t ha = tui_attr(TUI_A_COLHEAD);
    tui_fill(stdscr, y, p->x, p->w, ha);
    static const struct { const char *head; int w; } cols[] = { { "time", 8 }, { "run", 16 }, { "rule", 16 }, { "step", 8 }, { "action", 6 } };
    int x = p->x;
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
        tui_put(stdscr, y, x, cols[c].w, cols[c].head, ha, c == 3 ? TUI_RIGHT : TUI_LEFT, ctx->ascii);
        x += cols[c].w + 1;
    }
    tui_put(stdscr, y, x, p->x + p->w - x, "reason", ha, TUI_LEFT, ctx->ascii);
    /* under the list, the selected alert in full, wrapped (the list cuts its reason) */
    int detail = p->h >= 10 ? 4 : 0;
    int rows = p->h - 2 - detail;
    if (s->cur >= n) s->cur = n - 1;
    if (s->cur < 0) s->cur = 0;
    if (s->cur < s->top) s->top = s->cur;
    if (s->cur >= s->top + rows) s->top = s->cur - rows + 1;
    if (s->top < 0) s->top = 0;
    for (int r = 0; r < rows && s->top + r < n; r++) {
        const tt_store_alert *al = tui_model_alert(ctx->m, s->top + r);
        if (!al) continue;
        int is_cur = s->top + r == s->cur;
        attr_t base = is_cur ? tui_attr(TUI_A_CURSOR) : 0;
        y = p->y + 2 + r;
        tui_fill(stdscr, y, p->x, p->w, base);
        char t[16] = "-", st[TUI_FMT_MAX];
        if (al->time > 0) {
            time_t tt = (time_t)al->time;
            struct tm tm;
            localtime_r(&tt, &tm);
            strftime(t, sizeof t, "%H:%M:%S", &tm);
        }
        tui_fmt_count(st, sizeof st, al->step < 0 ? 0 : (uint64_t)al->step);
        const char *cells[] = { t, al->run, al->rule, st, al->stop ? "stop" : "" };
        x = p->x;
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
            attr_t at = base;
            if (!is_cur && c == 4 && al->stop) at = tui_attr(TUI_A_BAD);
            if (!is_cur && c == 2) at = tui_attr(TUI_A_WARN);
            tui_put(stdscr, y, x, cols[c].w, cells[c], at, c == 3 ? TUI_RIGHT : TUI_LEFT, ctx->ascii);
            x += cols[c].w + 1;
        }
        tui_put(stdscr, y, x, p->x + p->w - x, al->reason, base, TUI_LEFT, ctx->ascii);
    }
    const tt_store_alert *al = detail ? tui_model_alert(ctx->m, s->cur) : NULL;
    if (!al) return;
    int dy = p->y + p->h - detail;
    tui_fill(stdscr, dy, p->x, p->w, tui_attr(TUI_A_DIM));
    tui_put(stdscr, dy, p->x, p->w, "the selected alert", tui_attr(TUI_A_DIM), TUI_LEFT, ctx->ascii);
    char full[700];
    snprintf(full, sizeof full, "%s, rule %s, at step %lld%s: %s", al->run, al->rule, (long long)al->step, al->stop ? " (stopped it)" : "",
             al->reason);
    const char *t = full;
    for (int line = 1; line < detail && *t; line++) {
        int n = (int)strlen(t);
        if (line < detail - 1 && tui_text_width(t) > p->w) {   /* break at the last space that fits; the last line is cut */
            n = p->w < n ? p->w : n;
            while (n > 0 && t[n] != ' ') n--;
            if (n == 0) n = p->w;
        }
        char part[700];
        snprintf(part, sizeof part, "%.*s", n, t);
        tui_put(stdscr, dy + line, p->x, p->w, part, 0, TUI_LEFT, ctx->ascii);
        t += n;
        while (*t == ' ') t++;
    }
}

static tui_reaction alerts_cursor(tui_ctx *ctx, tui_panel *p, int delta)
{
    alerts_panel *s = (alerts_panel *)p;
    int n = tui_model_alert_count(ctx->m);
    if (n == 0) return TUI_OK;
    long i = (long)s->cur + delta;
    if (delta == INT_MIN || i < 0) i = 0;
    if (delta == INT_MAX || i >= n) i = n - 1;
    s->cur = (int)i;
    return TUI_OK;
}

static tui_reaction alerts_enter(tui_ctx *ctx, tui_panel *p)
{
    alerts_panel *s = (alerts_panel *)p;
    const tt_store_alert *al = tui_model_alert(ctx->m, s->cur);
    if (!al) return TUI_OK;
    for (int i = 0; i < tui_model_nruns(ctx->m); i++)
        if (strcmp(tui_run_name(tui_model_run(ctx->m, i)), al->run) == 0) {
            tui_ctx_select_run(ctx, i);
            return tui_ctx_goto(ctx, TUI_V_CHARTS, al->step, 0);
        }
    tui_ctx_message(ctx, 1, "run %s is no longer in the collector", al->run);
    return TUI_OK;
}

static tui_reaction alerts_click(tui_ctx *ctx, tui_panel *p, int y, int x)
{
    alerts_panel *s = (alerts_panel *)p;
    (void)x;
    int row = y - p->y - 2;
    if (row >= 0 && s->top + row < tui_model_alert_count(ctx->m)) s->cur = s->top + row;
    return TUI_OK;
}

TUI_PANEL_SIMPLE_CREATE(alerts_panel)

const tui_panel_class tui_alerts_panel = {
    .name = "Alerts",
    .create = alerts_panel_create,
    .destroy = tui_panel_free,
    .paint = alerts_paint,
    .cursor = alerts_cursor,
    .enter = alerts_enter,
    .click = alerts_click,
};
