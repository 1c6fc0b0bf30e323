/* runs: the overview of every run — name (coloured by its health), state, step, steps/s, loss and
 * validation loss (kept at every width), validation accuracy, health and the step it began, the alert
 * count, what the probe costs the run and a loss trend; the cursor row is the selected run whose charts
 * and layers the other panels and views show. The runs are in the context's order (by name unless
 * sorted otherwise, the sorted column's head highlighted). Under the list, the selected run's
 * hyperparameters when there is room. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../panel.h"
#include "../widgets/fmt.h"
#include "../widgets/sparkline.h"
#include "../widgets/theme.h"

/* The panel: the first row shown (the cursor is the run selection, shared by every panel). */
typedef struct {
    tui_panel super;
    int top;
} runs_panel;

typedef enum { RC_STATE, RC_STEP, RC_RATE, RC_LOSS, RC_VLOSS, RC_ACC, RC_HEALTH, RC_SINCE, RC_ALERTS, RC_PROBE, RC_TREND, RC_N } run_col;

static const struct { const char *head; int width; } cols[RC_N] = {
    [RC_STATE] = { "state", 5 },
    [RC_STEP] = { "step", 7 },
    [RC_RATE] = { "st/s", 6 },
    [RC_LOSS] = { "loss", 8 },
    [RC_VLOSS] = { "val_loss", 8 },
    [RC_ACC] = { "val_acc", 7 },
    [RC_HEALTH] = { "health", 11 },
    [RC_SINCE] = { "since", 6 },
    [RC_ALERTS] = { "alerts", 6 },
    [RC_PROBE] = { "probe", 6 },
    [RC_TREND] = { "loss trend", 10 },
};
/* dropped first when narrow: the losses and the health stay longest */
static const run_col drop_order[RC_N] = { RC_PROBE, RC_TREND, RC_RATE, RC_ACC, RC_ALERTS, RC_STATE, RC_STEP, RC_SINCE, RC_HEALTH, RC_VLOSS, RC_LOSS };
/* the column whose head is highlighted for each run order (-1: the name) */
static const int sorted_col[TUI_RSORT_N] = { [TUI_RSORT_NAME] = -1, [TUI_RSORT_HEALTH] = RC_HEALTH, [TUI_RSORT_LOSS] = RC_LOSS,
                                             [TUI_RSORT_VLOSS] = RC_VLOSS, [TUI_RSORT_STEP] = RC_STEP };
#define TREND_MAX 40

static void run_label(const tt_run *r, char *buf, size_t len)
{
    if (tui_run_world(r) > 1) snprintf(buf, len, "%s:%d", tui_run_name(r), tui_run_rank(r));
    else snprintf(buf, len, "%s", tui_run_name(r));
}

/* The selected run's hyperparameters in the rows the list leaves free. */
static void draw_hparams(tui_ctx *ctx, tui_panel *p, int y0, int rows)
{
    const tt_run *r = tui_ctx_run(ctx);
    if (!r || rows < 3 || !tui_run_hparams(r)) return;
    char head[TT_NAME_MAX + 32];
    snprintf(head, sizeof head, "hparams of %s", tui_run_name(r));
    tui_put(stdscr, y0, p->x, p->w, head, tui_attr(TUI_A_COLHEAD), TUI_LEFT, ctx->ascii);
    int kw = 4, n = 0;
    for (const cJSON *it = tui_run_hparams(r)->child; it; it = it->next, n++) {
        int w = it->string ? tui_text_width(it->string) : 0;
        if (w > kw) kw = w;
    }
    if (kw > p->w / 2) kw = p->w / 2;
    if (n == 0) {
        tui_put(stdscr, y0 + 1, p->x, p->w, "(none)", tui_attr(TUI_A_DIM), TUI_LEFT, ctx->ascii);
        return;
    }
    int y = y0 + 1;
    for (const cJSON *it = tui_run_hparams(r)->child; it && y < y0 + rows; it = it->next, y++) {
        char num[TUI_FMT_MAX];
        const char *v = "";
        if (cJSON_IsNumber(it)) v = tui_fmt_num(num, sizeof num, it->valuedouble);
        else if (cJSON_IsString(it)) v = it->valuestring;
        else if (cJSON_IsBool(it)) v = cJSON_IsTrue(it) ? "true" : "false";
        else if (cJSON_IsNull(it)) v = "null";
        else v = cJSON_IsArray(it) ? "[...]" : "{...}";
        tui_put(stdscr, y, p->x + 1, kw, it->string ? it->string : "", tui_attr(TUI_A_DIM), TUI_LEFT, ctx->ascii);
        tui_put(stdscr, y, p->x + kw + 3, p->w - kw - 3, v, 0, TUI_LEFT, ctx->ascii);
    }
}

static void scalar_cell(tui_ctx *ctx, const tt_run *run, const char *name, char *num, size_t len, const char **s, attr_t *at)
{
    int k = tui_run_scalar_index(run, name);
    if (k < 0) { *s = "-"; *at |= tui_attr(TUI_A_DIM); return; }
    double v = tui_model_scalar_last(ctx->m, run, k);
    tui_fmt_num(num, len, v);
    *s = num;
    if (!isfinite(v)) *at = tui_attr(TUI_A_BAD);
}

/* The larger of the probe's CPU and GPU shares of the step: what it costs a CPU- or GPU-bound run. */
static void probe_cell(tui_ctx *ctx, const tt_run *run, char *num, size_t len, const char **s, attr_t *at)
{
    double pct = tui_model_probe_pct(ctx->m, run), gpct = tui_model_probe_gpu_pct(ctx->m, run);
    if (isfinite(gpct) && !(pct >= gpct)) pct = gpct;
    if (!isfinite(pct)) { *s = "-"; *at |= tui_attr(TUI_A_DIM); return; }
    tui_fmt_pct(num, len, pct);
    *s = num;
    if (pct >= 10) *at |= tui_attr(TUI_A_WARN);
}

static void trend(tui_ctx *ctx, const tt_run *run, int y, int x, int w, attr_t base)
{
    const tt_series *ls = tui_run_scalar_series(run, "loss");
    if (!ls || w <= 0) {
        tui_put(stdscr, y, x, w, "-", base | tui_attr(TUI_A_DIM), TUI_LEFT, ctx->ascii);
        return;
    }
    tt_point pts[TREND_MAX];
    double vals[TREND_MAX];
    int lev[TREND_MAX];
    size_t np = tui_query(ls, INT64_MIN, tui_model_step(ctx->m, run), (size_t)w, pts);
    for (size_t i = 0; i < np; i++) vals[i] = pts[i].finite ? (double)pts[i].mean : NAN;
    tui_spark_levels(vals, np, lev, NULL, NULL);
    attr_t sa = base ? base : tui_attr(tui_run_role(tui_run_name(run)));
    for (size_t i = 0; i < np; i++)
        tui_puts(stdscr, y, x + (int)i, 1, tui_spark_glyph(lev[i], ctx->ascii), pts[i].finite < pts[i].count ? tui_attr(TUI_A_BAD) : sa);
}

static void runs_paint(tui_ctx *ctx, tui_panel *p)
{
    runs_panel *rp = (runs_panel *)p;
    int nruns = tui_model_nruns(ctx->m);
    int idx[1024];
    int n = tui_ctx_shown_runs(ctx, idx, 1024);
    char title[96];
    if (tui_model_paused(ctx->m) && n < nruns) snprintf(title, sizeof title, "Runs (%d, +%d since the pause)", n, nruns - n);
    else snprintf(title, sizeof title, "Runs (%d)", n);
    tui_ctx_title(ctx, p, title);
    if (p->h < 3) return;

    /* column layout: name gets what the numbers leave, at least 8 columns; the trend takes the slack */
    int name_w = 4;
    for (int i = 0; i < n; i++) {
        char lab[160];
        run_label(tui_model_run(ctx->m, idx[i]), lab, sizeof lab);
        int w = tui_text_width(lab);
        if (w > name_w) name_w = w;
    }
    int show[RC_N];
    int used = 0;
    for (int c = 0; c < RC_N; c++) { show[c] = 1; used += cols[c].width + 1; }
    int min_name = name_w < 8 ? name_w : 8;
    for (int d = 0; d < RC_N && used + min_name > p->w; d++) {
        show[drop_order[d]] = 0;
        used -= cols[drop_order[d]].width + 1;
    }
    /* a run name is cut only when nothing but the losses and the health is left to drop */
    for (int d = 0; d < RC_N && name_w > p->w - used; d++) {
        run_col c = drop_order[d];
        if (!show[c] || c == RC_LOSS || c == RC_VLOSS || c == RC_HEALTH) continue;
        show[c] = 0;
        used -= cols[c].width + 1;
    }
    if (name_w > p->w - used) name_w = p->w - used;
    if (name_w < 4) name_w = 4;
    int extra = p->w - used - name_w;          /* slack: the trend grows, then space after the name */
    int trend_w = cols[RC_TREND].width;
    if (show[RC_TREND] && extra > 0) {
        int give = extra < TREND_MAX - trend_w ? extra : TREND_MAX - trend_w;
        trend_w += give;
        extra -= give;
    }
    if (extra < 0) extra = 0;

    int y = p->y + 1, x;
    attr_t ha = tui_attr(TUI_A_COLHEAD), sa = ha | A_BOLD | A_UNDERLINE;
    int sc = ctx->run_sort >= 0 && ctx->run_sort < TUI_RSORT_N ? sorted_col[ctx->run_sort] : -1;
    const char *arrow = ctx->ascii ? (ctx->run_sort_rev ? "^" : "v") : (ctx->run_sort_rev ? "\u25b2" : "\u25bc");
    char head[32];
    tui_fill(stdscr, y, p->x, p->w, ha);
    snprintf(head, sizeof head, "run%s", sc == -1 ? arrow : "");
    tui_put(stdscr, y, p->x, name_w + extra, head, sc == -1 ? sa : ha, TUI_LEFT, ctx->ascii);
    x = p->x + name_w + extra;
    for (int c = 0; c < RC_N; c++) {
        if (!show[c]) continue;
        int cw = c == RC_TREND ? trend_w : cols[c].width;
        snprintf(head, sizeof head, "%s%s", c == sc ? arrow : "", cols[c].head);
        tui_put(stdscr, y, x + 1, cw, head, c == sc ? sa : ha, c == RC_STATE || c == RC_TREND || c == RC_HEALTH ? TUI_LEFT : TUI_RIGHT,
                ctx->ascii);
        x += cw + 1;
    }

    int rows = p->h - 2;
    int cur = -1;
    tui_ctx_run(ctx);
    for (int i = 0; i < n; i++) if (idx[i] == ctx->run_cur) cur = i;
    if (cur >= 0) {
        if (cur < rp->top) rp->top = cur;
        if (cur >= rp->top + rows) rp->top = cur - rows + 1;
    }
    if (rp->top > n - rows) rp->top = n - rows;
    if (rp->top < 0) rp->top = 0;

    if (n == 0) {
        tui_put(stdscr, p->y + 2, p->x, p->w, tui_model_paused(ctx->m) ? "no runs at the pause" : "waiting for runs...", tui_attr(TUI_A_DIM),
                TUI_CENTER, ctx->ascii);
        return;
    }
    for (int r = 0; r < rows && rp->top + r < n; r++) {
        int i = idx[rp->top + r];
        const tt_run *run = tui_model_run(ctx->m, i);
        int is_cur = i == ctx->run_cur;
        attr_t base = is_cur ? tui_attr(ctx->focus == p ? TUI_A_CURSOR : TUI_A_CURSOR_DIM) : 0;
        y = p->y + 2 + r;
        tui_fill(stdscr, y, p->x, p->w, base);
        char lab[160], num[TUI_FMT_MAX];
        run_label(run, lab, sizeof lab);
        const tui_run_health *h = tui_health_of(&ctx->health, ctx->m, run);
        int hrole = tui_health_role(h->learn.state);
        if (!tt_health_learn_bad(h->learn.state) && h->worst_layer >= 0) hrole = tui_health_layer_role(h->flags[h->worst_layer]);
        attr_t name_at = is_cur ? base | A_BOLD : hrole == TUI_A_BAD || hrole == TUI_A_WARN ? tui_attr((tui_role)hrole) : 0;
        tui_put(stdscr, y, p->x, name_w, lab, name_at, TUI_LEFT, ctx->ascii);
        x = p->x + name_w + extra;
        for (int c = 0; c < RC_N; c++) {
            if (!show[c]) continue;
            attr_t at = base;
            const char *s = num;
            int cw = c == RC_TREND ? trend_w : cols[c].width;
            switch ((run_col)c) {
            case RC_STATE: {
                int role;
                tt_run_state rs = (tt_run_state)tui_model_state(ctx->m, run);
                s = tui_state_label(rs, &role);
                if (tui_health_stale(&ctx->health, ctx->m, run)) {
                    s = "stale";               /* no data for a while: a frozen link or a hung trainer */
                    role = TUI_A_WARN;
                }
                if (!is_cur) at = tui_attr((tui_role)role);
                break;
            }
            case RC_STEP: {
                int64_t stp = tui_model_step(ctx->m, run);
                tui_fmt_count(num, sizeof num, stp < 0 ? 0 : (uint64_t)stp);
                break;
            }
            case RC_RATE: tui_fmt_num(num, sizeof num, tui_model_rate(ctx->m, run)); break;
            case RC_LOSS: scalar_cell(ctx, run, "loss", num, sizeof num, &s, &at); break;
            case RC_VLOSS: scalar_cell(ctx, run, "val_loss", num, sizeof num, &s, &at); break;
            case RC_ACC: scalar_cell(ctx, run, "val_acc", num, sizeof num, &s, &at); break;
            case RC_PROBE: probe_cell(ctx, run, num, sizeof num, &s, &at); break;
            case RC_HEALTH:
                /* learning's trouble first; else the worst layer's ("NaN layer"); else how it learns */
                if (!tt_health_learn_bad(h->learn.state) && h->worst_layer >= 0)
                    snprintf(num, sizeof num, "%s layer", tt_health_layer_name(h->flags[h->worst_layer]));
                else
                    snprintf(num, sizeof num, "%s", tt_health_learn_name(h->learn.state));
                if (!is_cur) at = tui_attr((tui_role)hrole);
                break;
            case RC_SINCE:
                if (h->learn.since >= 0 && h->learn.state != TT_LEARN_IMPROVING) {
                    tui_fmt_count(num, sizeof num, (uint64_t)h->learn.since);
                } else {
                    s = "-";
                    if (!is_cur) at = tui_attr(TUI_A_DIM);
                }
                break;
            case RC_ALERTS: {
                int na = tui_model_alerts(ctx->m, run);
                snprintf(num, sizeof num, "%d", na);
                if (!is_cur) at = tui_attr(na > 0 ? TUI_A_WARN : TUI_A_DIM);
                break;
            }
            case RC_TREND:
                trend(ctx, run, y, x + 1, cw, base);
                x += cw + 1;
                continue;
            default: break;
            }
            tui_put(stdscr, y, x + 1, cw, s, at, c == RC_STATE || c == RC_HEALTH ? TUI_LEFT : TUI_RIGHT, ctx->ascii);
            x += cw + 1;
        }
    }
    int shown = n - rp->top < rows ? n - rp->top : rows;
    if (rows - shown - 1 >= 3) draw_hparams(ctx, p, p->y + 2 + shown + 1, rows - shown - 1);
}

static tui_reaction runs_cursor(tui_ctx *ctx, tui_panel *p, int delta)
{
    (void)p;
    int idx[1024];
    int n = tui_ctx_shown_runs(ctx, idx, 1024);
    if (n == 0) return TUI_OK;
    tui_ctx_run(ctx);
    int cur = 0;
    for (int i = 0; i < n; i++) if (idx[i] == ctx->run_cur) cur = i;
    long i = (long)cur + delta;
    if (delta == INT_MIN || i < 0) i = 0;
    if (delta == INT_MAX || i >= n) i = n - 1;
    if (idx[i] != ctx->run_cur) tui_ctx_select_run(ctx, idx[i]);
    return TUI_OK;
}

/* Enter: on to the selected run's layer table. */
static tui_reaction runs_enter(tui_ctx *ctx, tui_panel *p)
{
    (void)p;
    if (ctx->run_cur < 0) return TUI_OK;
    ctx->req.focus = "layers";
    return TUI_FOCUS;
}

static tui_reaction runs_click(tui_ctx *ctx, tui_panel *p, int y, int x)
{
    runs_panel *rp = (runs_panel *)p;
    (void)x;
    int row = y - p->y - 2;
    if (row < 0) return TUI_OK;
    int idx[1024];
    int n = tui_ctx_shown_runs(ctx, idx, 1024);
    if (rp->top + row < n) tui_ctx_select_run(ctx, idx[rp->top + row]);
    return TUI_OK;
}

TUI_PANEL_SIMPLE_CREATE(runs_panel)

const tui_panel_class tui_runs_panel = {
    .name = "Runs",
    .create = runs_panel_create,
    .destroy = tui_panel_free,
    .paint = runs_paint,
    .cursor = runs_cursor,
    .enter = runs_enter,
    .click = runs_click,
};
