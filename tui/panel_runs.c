/* panel_runs: the runs list — name, state, step, steps/s, loss, val_acc; the cursor row is the
 * selected run whose charts and layers the other panels show. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "fmt.h"
#include "theme.h"

typedef enum { RC_STATE, RC_STEP, RC_RATE, RC_LOSS, RC_ACC, RC_N } run_col;

static const struct { const char *head; int width; } cols[RC_N] = {
    [RC_STATE] = { "state", 5 },
    [RC_STEP] = { "step", 7 },
    [RC_RATE] = { "st/s", 6 },
    [RC_LOSS] = { "loss", 8 },
    [RC_ACC] = { "val_acc", 7 },
};
/* dropped first when narrow */
static const run_col drop_order[RC_N] = { RC_RATE, RC_ACC, RC_STEP, RC_LOSS, RC_STATE };

static void run_label(const tt_run *r, char *buf, size_t len)
{
    if (r->world > 1) snprintf(buf, len, "%s:%d", r->name, r->rank);
    else snprintf(buf, len, "%s", r->name);
}

static double scalar_last(const tt_run *r, const char *name)
{
    const tt_named_series *s = tt_run_scalar(r, name);
    return s ? s->last : NAN;
}

/* The selected run's hyperparameters in the rows the list leaves free (side-by-side layout). */
static void draw_hparams(tui_app *a, tui_panel *p, int y0, int rows)
{
    tt_run *r = tui_app_run(a);
    if (!r || rows < 3 || !r->hparams) return;
    char head[TT_NAME_MAX + 32];
    snprintf(head, sizeof head, "hparams of %s", r->name);
    tui_put(stdscr, y0, p->x, p->w, head, tui_attr(TUI_A_COLHEAD), TUI_LEFT, a->ascii);
    int kw = 4, n = 0;
    for (const cJSON *it = r->hparams->child; it; it = it->next, n++) {
        int w = it->string ? tui_text_width(it->string) : 0;
        if (w > kw) kw = w;
    }
    if (kw > p->w / 2) kw = p->w / 2;
    if (n == 0) {
        tui_put(stdscr, y0 + 1, p->x, p->w, "(none)", tui_attr(TUI_A_DIM), TUI_LEFT, a->ascii);
        return;
    }
    int y = y0 + 1;
    for (const cJSON *it = r->hparams->child; it && y < y0 + rows; it = it->next, y++) {
        char num[TUI_FMT_MAX];
        const char *v = "";
        if (cJSON_IsNumber(it)) v = tui_fmt_num(num, sizeof num, it->valuedouble);
        else if (cJSON_IsString(it)) v = it->valuestring;
        else if (cJSON_IsBool(it)) v = cJSON_IsTrue(it) ? "true" : "false";
        else if (cJSON_IsNull(it)) v = "null";
        else v = cJSON_IsArray(it) ? "[...]" : "{...}";
        tui_put(stdscr, y, p->x + 1, kw, it->string ? it->string : "", tui_attr(TUI_A_DIM), TUI_LEFT, a->ascii);
        tui_put(stdscr, y, p->x + kw + 3, p->w - kw - 3, v, 0, TUI_LEFT, a->ascii);
    }
}

static void runs_paint(tui_app *a, tui_panel *p)
{
    tt_store *st = a->st;
    char title[64];
    snprintf(title, sizeof title, "Runs (%d)", st->nruns);
    tui_app_title(a, p, title);
    if (p->h < 3) return;

    /* column layout: name gets what the numbers leave, at least 8 columns */
    int name_w = 4;
    for (int i = 0; i < st->nruns; i++) {
        char lab[160];
        run_label(st->runs[i], lab, sizeof lab);
        int w = tui_text_width(lab);
        if (w > name_w) name_w = w;
    }
    int show[RC_N];
    int used = 0;
    for (int c = 0; c < RC_N; c++) { show[c] = 1; used += cols[c].width + 1; }
    for (int d = 0; d < RC_N && used + 8 > p->w; d++) {
        show[drop_order[d]] = 0;
        used -= cols[drop_order[d]].width + 1;
    }
    if (name_w > p->w - used) name_w = p->w - used;
    if (name_w < 4) name_w = 4;
    int extra = p->w - used - name_w;        /* slack goes after the name */

    int y = p->y + 1, x;
    attr_t ha = tui_attr(TUI_A_COLHEAD);
    tui_fill(stdscr, y, p->x, p->w, ha);
    tui_put(stdscr, y, p->x, name_w + extra, "run", ha, TUI_LEFT, a->ascii);
    x = p->x + name_w + extra;
    for (int c = 0; c < RC_N; c++) {
        if (!show[c]) continue;
        tui_put(stdscr, y, x + 1, cols[c].width, cols[c].head, ha, c == RC_STATE ? TUI_LEFT : TUI_RIGHT, a->ascii);
        x += cols[c].width + 1;
    }

    int rows = p->h - 2;
    if (a->run_cur >= st->nruns) a->run_cur = st->nruns - 1;
    if (a->run_cur >= 0) {
        if (a->run_cur < a->run_top) a->run_top = a->run_cur;
        if (a->run_cur >= a->run_top + rows) a->run_top = a->run_cur - rows + 1;
    }
    if (a->run_top > st->nruns - rows) a->run_top = st->nruns - rows;
    if (a->run_top < 0) a->run_top = 0;

    if (st->nruns == 0) {
        tui_put(stdscr, p->y + 2, p->x, p->w, "waiting for runs...", tui_attr(TUI_A_DIM), TUI_CENTER, a->ascii);
        return;
    }
    for (int r = 0; r < rows && a->run_top + r < st->nruns; r++) {
        int i = a->run_top + r;
        const tt_run *run = st->runs[i];
        int cur = i == a->run_cur;
        attr_t base = cur ? tui_attr(a->focus == TUI_P_RUNS ? TUI_A_CURSOR : TUI_A_CURSOR_DIM) : 0;
        y = p->y + 2 + r;
        tui_fill(stdscr, y, p->x, p->w, base);
        char lab[160], num[TUI_FMT_MAX];
        run_label(run, lab, sizeof lab);
        tui_put(stdscr, y, p->x, name_w, lab, base | (cur ? A_BOLD : 0), TUI_LEFT, a->ascii);
        x = p->x + name_w + extra;
        for (int c = 0; c < RC_N; c++) {
            if (!show[c]) continue;
            attr_t at = base;
            const char *s = num;
            switch ((run_col)c) {
            case RC_STATE: {
                int role;
                s = tui_state_label(run->state, &role);
                if (!cur) at = tui_attr((tui_role)role);
                break;
            }
            case RC_STEP: tui_fmt_count(num, sizeof num, run->step < 0 ? 0 : (uint64_t)run->step); break;
            case RC_RATE: tui_fmt_num(num, sizeof num, run->steps_per_s); break;
            case RC_LOSS:
            case RC_ACC: {
                double v = scalar_last(run, c == RC_LOSS ? "loss" : "val_acc");
                int have = tt_run_scalar(run, c == RC_LOSS ? "loss" : "val_acc") != NULL;
                if (!have) s = "-";
                else tui_fmt_num(num, sizeof num, v);
                if (have && !isfinite(v)) at = tui_attr(TUI_A_BAD);
                break;
            }
            default: break;
            }
            tui_put(stdscr, y, x + 1, cols[c].width, s, at, c == RC_STATE ? TUI_LEFT : TUI_RIGHT, a->ascii);
            x += cols[c].width + 1;
        }
    }
    int shown = st->nruns - a->run_top < rows ? st->nruns - a->run_top : rows;
    if (rows - shown - 1 >= 3) draw_hparams(a, p, p->y + 2 + shown + 1, rows - shown - 1);
}

static void runs_cursor(tui_app *a, tui_panel *p, int delta)
{
    (void)p;
    int n = a->st->nruns;
    if (n == 0) return;
    long i = (long)(a->run_cur < 0 ? 0 : a->run_cur) + delta;
    if (delta == INT_MIN || i < 0) i = 0;
    if (delta == INT_MAX || i >= n) i = n - 1;
    if ((int)i != a->run_cur) tui_app_select_run(a, (int)i);
}

static void runs_enter(tui_app *a, tui_panel *p)
{
    (void)p;
    if (a->run_cur >= 0 && a->panel[TUI_P_LAYERS].visible) a->focus = TUI_P_LAYERS;
}

const tui_panel_class tui_panel_runs = {
    .name = "Runs",
    .paint = runs_paint,
    .cursor = runs_cursor,
    .enter = runs_enter,
    .focusable = NULL,
};
