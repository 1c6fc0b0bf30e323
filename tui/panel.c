/* panel: the context's helpers — the run selection, marks, the footer message, titles. */
#include "panel.h"

#include <math.h>
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
    int idx[1024];                                 /* the top row of the runs' order */
    if (tui_ctx_shown_runs(c, idx, 1024) > 0) {
        tui_ctx_select_run(c, idx[0]);
        return tui_model_run(c->m, idx[0]);
    }
    c->run_cur = -1;
    return NULL;
}


static double scalar_now(tui_ctx *c, const tt_run *r, const char *name)
{
    int k = tui_run_scalar_index(r, name);
    return k < 0 ? NAN : tui_model_scalar_last(c->m, r, k);
}

/* The sort value of a run: smaller first (health: the worst first; NaN last). */
static double sort_value(tui_ctx *c, const tt_run *r)
{
    switch (c->run_sort) {
    case TUI_RSORT_HEALTH: {
        const tui_run_health *h = tui_health_of(&c->health, c->m, r);
        int layer = h->worst_layer >= 0 ? tt_health_layer_severity(h->flags[h->worst_layer]) : 0;
        return -(double)(h->learn.state * 8 + layer);
    }
    case TUI_RSORT_LOSS: return scalar_now(c, r, "loss");
    case TUI_RSORT_VLOSS: return scalar_now(c, r, "val_loss");
    case TUI_RSORT_STEP: return -(double)tui_model_step(c->m, r);
    default: return 0;
    }
}

typedef struct {
    const tui_model *m;
    const double *key;
    int rev;
} run_order;

static int cmp_runs(const void *pa, const void *pb, void *arg)
{
    const run_order *o = arg;
    int a = *(const int *)pa, b = *(const int *)pb;
    double ka = o->key[a], kb = o->key[b];
    int c = 0;
    if (isnan(ka) != isnan(kb)) return isnan(ka) - isnan(kb);   /* no value: last, whatever the direction */
    if (!isnan(ka)) c = ka < kb ? -1 : ka > kb;
    if (o->rev) c = -c;
    if (c) return c;
    const tt_run *ra = tui_model_run(o->m, a), *rb = tui_model_run(o->m, b);   /* then by name: stable across restarts */
    c = strcmp(tui_run_name(ra), tui_run_name(rb));
    return c ? c : tui_run_rank(ra) - tui_run_rank(rb);
}

int tui_ctx_shown_runs(tui_ctx *c, int *idx, int max)
{
    int n = 0;
    for (int i = 0; i < tui_model_nruns(c->m) && n < max; i++)
        if (tui_model_run_shown(c->m, tui_model_run(c->m, i))) idx[n++] = i;
    double key[1024];
    if (tui_model_nruns(c->m) > 1024) return n;   /* too many to order here: arrival order */
    for (int i = 0; i < n; i++) key[idx[i]] = sort_value(c, tui_model_run(c->m, idx[i]));
    run_order o = { c->m, key, c->run_sort_rev };
    qsort_r(idx, (size_t)n, sizeof *idx, cmp_runs, &o);
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
