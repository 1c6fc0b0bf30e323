/* panel_alerts: the rules that fired, newest first — when, run, rule, step, the stop it asked for,
 * and why. The data is the collector's ring of fired alerts (tt_store.alerts, filled by
 * collectors/alerts.c through the collector); tui_app_alert() is the one hook this view reads, and
 * tui_app_alerts() the per-run count the overview shows. Enter opens the alert's run in the charts
 * view with the cursor on the alert's step. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/app.h"
#include "../widgets/fmt.h"
#include "../widgets/theme.h"

static void alerts_paint(tui_app *a, tui_panel *p)
{
    int n = tui_app_alert_count(a);
    char title[96];
    snprintf(title, sizeof title, "Alerts (%d%s)", n, a->st && a->st->alerts_n > TT_STORE_ALERTS ? ", the newest kept" : "");
    tui_app_title(a, p, title);
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
            tui_put(stdscr, y + i, p->x, p->w, empty[i], i == 0 ? A_BOLD : tui_attr(TUI_A_DIM), TUI_CENTER, a->ascii);
        return;
    }
    int y = p->y + 1;
    attr_t ha = tui_attr(TUI_A_COLHEAD);
    tui_fill(stdscr, y, p->x, p->w, ha);
    static const struct { const char *head; int w; } cols[] = { { "time", 8 }, { "run", 16 }, { "rule", 16 }, { "step", 8 }, { "action", 6 } };
    int x = p->x;
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
        tui_put(stdscr, y, x, cols[c].w, cols[c].head, ha, c == 3 ? TUI_RIGHT : TUI_LEFT, a->ascii);
        x += cols[c].w + 1;
    }
    tui_put(stdscr, y, x, p->x + p->w - x, "reason", ha, TUI_LEFT, a->ascii);
    int rows = p->h - 2;
    if (a->alert_cur >= n) a->alert_cur = n - 1;
    if (a->alert_cur < 0) a->alert_cur = 0;
    if (a->alert_cur < a->alert_top) a->alert_top = a->alert_cur;
    if (a->alert_cur >= a->alert_top + rows) a->alert_top = a->alert_cur - rows + 1;
    if (a->alert_top < 0) a->alert_top = 0;
    for (int r = 0; r < rows && a->alert_top + r < n; r++) {
        const tt_store_alert *al = tui_app_alert(a, a->alert_top + r);
        if (!al) continue;
        int is_cur = a->alert_top + r == a->alert_cur;
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
            tui_put(stdscr, y, x, cols[c].w, cells[c], at, c == 3 ? TUI_RIGHT : TUI_LEFT, a->ascii);
            x += cols[c].w + 1;
        }
        tui_put(stdscr, y, x, p->x + p->w - x, al->reason, base, TUI_LEFT, a->ascii);
    }
}

static void alerts_cursor(tui_app *a, tui_panel *p, int delta)
{
    (void)p;
    int n = tui_app_alert_count(a);
    if (n == 0) return;
    long i = (long)a->alert_cur + delta;
    if (delta == INT_MIN || i < 0) i = 0;
    if (delta == INT_MAX || i >= n) i = n - 1;
    a->alert_cur = (int)i;
}

static void alerts_enter(tui_app *a, tui_panel *p)
{
    (void)p;
    const tt_store_alert *al = tui_app_alert(a, a->alert_cur);
    if (!al) return;
    for (int i = 0; i < a->st->nruns; i++)
        if (strcmp(a->st->runs[i]->name, al->run) == 0) {
            tui_app_select_run(a, i);
            tui_app_set_view(a, TUI_V_CHARTS);
            a->xv_charts.cursor_on = 1;
            a->xv_charts.cursor = al->step;
            return;
        }
    tui_app_message(a, 1, "run %s is no longer in the collector", al->run);
}

static void alerts_click(tui_app *a, tui_panel *p, int y, int x)
{
    (void)x;
    int row = y - p->y - 2;
    if (row >= 0 && a->alert_top + row < tui_app_alert_count(a)) a->alert_cur = a->alert_top + row;
}

const tui_panel_class tui_panel_alerts = {
    .name = "Alerts",
    .paint = alerts_paint,
    .cursor = alerts_cursor,
    .enter = alerts_enter,
    .focusable = NULL,
    .click = alerts_click,
};
