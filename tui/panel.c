/* panel: the context's helpers — the run selection, marks, the footer message, titles. */
#include "panel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "widgets/chart.h"
#include "widgets/theme.h"

const char *tui_state_label(tt_run_state s, int *role)
{
    int r = TUI_A_NORMAL;
    const char *l = "?";
    switch (s) {
    case TT_RUN_RUNNING: l = "run"; r = TUI_A_GOOD; break;
    case TT_RUN_FINISHED: l = "done"; r = TUI_A_INFO; break;
    case TT_RUN_STOPPED: l = "stop"; r = TUI_A_WARN; break;
    case TT_RUN_FAILED: l = "fail"; r = TUI_A_BAD; break;
    case TT_RUN_STALLED: l = "stall"; r = TUI_A_WARN; break;
    case TT_RUN_CRASHED: l = "crash"; r = TUI_A_BAD; break;
    case TT_RUN_NO_END: l = "noend"; r = TUI_A_WARN; break;
    }
    if (role) *role = r;
    return l;
}

void tui_ctx_message(tui_ctx *c, int bad, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    c->msg_bad = bad;
    c->msg_until = c->now + TUI_MSG_SECONDS;
}

int tui_ctx_chart_style(const tui_ctx *c)
{
    if (c->ascii) return TUI_CHART_ASCII;
    int s = c->cfg->chart_style;
    return s >= 0 && s < TUI_CHART_NSTYLES ? s : TUI_CHART_BRAILLE;
}

void tui_ctx_select_run(tui_ctx *c, int i)
{
    if (i < 0 || i >= tui_model_nruns(c->m)) {
        c->run_cur = -1;
        c->run_name[0] = '\0';
        return;
    }
    const tt_run *r = tui_model_run(c->m, i);
    int same = c->run_cur == i && strcmp(c->run_name, tui_run_name(r)) == 0 && c->run_rank == tui_run_rank(r);
    c->run_cur = i;
    snprintf(c->run_name, sizeof c->run_name, "%s", tui_run_name(r));
    c->run_rank = tui_run_rank(r);
    if (same) return;
    c->layers.cur = 0;
    for (int k = 0; k < c->npanels; k++)
        if (c->panels[k] && c->panels[k]->cls->reset) c->panels[k]->cls->reset(c->panels[k], TUI_RESET_RUN);
}

static int is_selected(const tui_ctx *c, const tt_run *r)
{
    return tui_run_rank(r) == c->run_rank && strcmp(tui_run_name(r), c->run_name) == 0;
}

const tt_run *tui_ctx_run(tui_ctx *c)
{
    int n = tui_model_nruns(c->m);
    if (n == 0 && !c->m->st) return NULL;
    if (c->run_cur >= 0 && c->run_cur < n) {
        const tt_run *r = tui_model_run(c->m, c->run_cur);
        if (is_selected(c, r)) return r;
    }
    for (int i = 0; i < n; i++) {                  /* the store reordered or dropped runs */
        const tt_run *r = tui_model_run(c->m, i);
        if (c->run_name[0] && is_selected(c, r)) {
            c->run_cur = i;
            return r;
        }
    }
    for (int i = 0; i < n; i++) {                  /* the first run the display shows */
        int k = (c->run_cur >= 0 && c->run_cur < n ? c->run_cur : 0) + i;
        k %= n;
        if (tui_model_run_shown(c->m, tui_model_run(c->m, k))) {
            tui_ctx_select_run(c, k);
            return tui_model_run(c->m, k);
        }
    }
    c->run_cur = -1;
    return NULL;
}

int tui_ctx_shown_runs(tui_ctx *c, int *idx, int max)
{
    int n = 0;
    for (int i = 0; i < tui_model_nruns(c->m) && n < max; i++)
        if (tui_model_run_shown(c->m, tui_model_run(c->m, i))) idx[n++] = i;
    return n;
}

void tui_ctx_title(tui_ctx *c, tui_panel *p, const char *text)
{
    attr_t at = tui_attr(c->focus == p ? TUI_A_TITLE_FOCUS : TUI_A_TITLE);
    tui_fill(stdscr, p->y, p->x, p->w, at);
    tui_put(stdscr, p->y, p->x + 1, p->w - 2, text, at, TUI_LEFT, c->ascii);
}

static void run_key(const tt_run *r, char *out, size_t len)
{
    snprintf(out, len, "%s:%d", tui_run_name(r), tui_run_rank(r));
}

int tui_ctx_marked(const tui_ctx *c, const tt_run *r)
{
    char k[160];
    run_key(r, k, sizeof k);
    for (int i = 0; i < c->nmarks; i++) if (strcmp(c->marks[i], k) == 0) return 1;
    return 0;
}

void tui_ctx_toggle_mark(tui_ctx *c, const tt_run *r)
{
    char k[160];
    run_key(r, k, sizeof k);
    for (int i = 0; i < c->nmarks; i++)
        if (strcmp(c->marks[i], k) == 0) {
            memmove(c->marks[i], c->marks[i + 1], (size_t)(c->nmarks - i - 1) * sizeof c->marks[0]);
            c->nmarks--;
            return;
        }
    if (c->nmarks < TUI_MAX_MARKS) snprintf(c->marks[c->nmarks++], sizeof c->marks[0], "%s", k);
}

tui_reaction tui_ctx_goto(tui_ctx *c, int view, int64_t step, int scroll_home)
{
    c->req.view = view;
    c->req.step = step;
    c->req.scroll_home = scroll_home;
    return TUI_VIEW;
}

void tui_panel_free(tui_panel *p) { free(p); }
