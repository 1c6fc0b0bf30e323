/* app: tui_run — terminal setup and teardown, signals, the settings file, the poll loop over the
 * collector's sockets and the keyboard, the views' layouts, pause, and the frame (header, tab bar,
 * panels, footer with hints, messages and the filter line, help, too-small notice). */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "../widgets/chart.h"
#include "../freeze.h"
#include "../widgets/fmt.h"
#include "keys.h"
#include "../widgets/theme.h"

#define MIN_W 40
#define MIN_H 10
#define WIDE_W 110           /* from this width on, runs and charts sit side by side */
#define MAX_FDS 16
#define TABBAR_H 16         /* from this height on, a tab bar names the views */
#define MSG_SECONDS 4

/* ---- signals: handlers only set flags and wake the loop through a pipe ---- */

static volatile sig_atomic_t g_stop, g_winch, g_curses;
static int g_wake[2] = { -1, -1 };

static void wake(void)
{
    int e = errno;
    if (g_wake[1] >= 0) {
        ssize_t r = write(g_wake[1], "x", 1);
        (void)r;
    }
    errno = e;
}

static void on_stop(int sig) { g_stop = sig; wake(); }
static void on_winch(int sig) { (void)sig; g_winch = 1; wake(); }

/* Fatal signals: give the terminal back, then die of the same signal (SA_RESETHAND restored SIG_DFL). */
static void on_fatal(int sig)
{
    if (g_curses) endwin();
    raise(sig);
}

static const int stop_sigs[] = { SIGINT, SIGTERM, SIGHUP };
static const int fatal_sigs[] = { SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL };
#define NSTOP ((int)(sizeof stop_sigs / sizeof stop_sigs[0]))
#define NFATAL ((int)(sizeof fatal_sigs / sizeof fatal_sigs[0]))
static struct sigaction g_old_stop[NSTOP], g_old_fatal[NFATAL], g_old_winch;

static void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    for (int i = 0; i < NSTOP; i++) sigaction(stop_sigs[i], &sa, &g_old_stop[i]);
    sa.sa_handler = on_winch;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGWINCH, &sa, &g_old_winch);
    sa.sa_handler = on_fatal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    for (int i = 0; i < NFATAL; i++) sigaction(fatal_sigs[i], &sa, &g_old_fatal[i]);
}

static void signals_restore(void)
{
    for (int i = 0; i < NSTOP; i++) sigaction(stop_sigs[i], &g_old_stop[i], NULL);
    for (int i = 0; i < NFATAL; i++) sigaction(fatal_sigs[i], &g_old_fatal[i], NULL);
    sigaction(SIGWINCH, &g_old_winch, NULL);
}

/* exit() from anywhere while the dashboard is up still restores the terminal */
static void at_exit_endwin(void)
{
    if (g_curses) {
        g_curses = 0;
        endwin();
    }
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- shared helpers ---- */

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
    }
    if (role) *role = r;
    return l;
}

void tui_app_message(tui_app *a, int bad, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    a->msg_bad = bad;
    a->msg_until = a->now + MSG_SECONDS;
}

int tui_app_chart_style(const tui_app *a)
{
    if (a->ascii) return TUI_CHART_ASCII;
    int s = a->cfg.chart_style;
    return s >= 0 && s < TUI_CHART_NSTYLES ? s : TUI_CHART_BRAILLE;
}

void tui_app_select_run(tui_app *a, int i)
{
    if (!a->st || i < 0 || i >= a->st->nruns) {
        a->run_cur = -1;
        a->run_name[0] = '\0';
        return;
    }
    const tt_run *r = a->st->runs[i];
    int same = a->run_cur == i && strcmp(a->run_name, r->name) == 0 && a->run_rank == r->rank;
    a->run_cur = i;
    snprintf(a->run_name, sizeof a->run_name, "%s", r->name);
    a->run_rank = r->rank;
    if (same) return;
    a->layer_cur = 0;
    a->layer_top = 0;
    a->heat_top = 0;
    a->chart_top = 0;
    a->xv_charts.cursor_on = 0;
    a->xv_heat.cursor_on = 0;
}

tt_run *tui_app_run(tui_app *a)
{
    tt_store *st = a->st;
    if (!st) return NULL;
    if (a->run_cur >= 0 && a->run_cur < st->nruns) {
        tt_run *r = st->runs[a->run_cur];
        if (r->rank == a->run_rank && strcmp(r->name, a->run_name) == 0) return r;
    }
    for (int i = 0; i < st->nruns; i++) {          /* the store reordered or dropped runs */
        tt_run *r = st->runs[i];
        if (a->run_name[0] && r->rank == a->run_rank && strcmp(r->name, a->run_name) == 0) {
            a->run_cur = i;
            return r;
        }
    }
    for (int i = 0; i < st->nruns; i++) {          /* the first run the display shows */
        int k = (a->run_cur >= 0 && a->run_cur < st->nruns ? a->run_cur : 0) + i;
        k %= st->nruns;
        if (tui_app_run_shown(a, st->runs[k])) {
            tui_app_select_run(a, k);
            return st->runs[k];
        }
    }
    a->run_cur = -1;
    return NULL;
}

void tui_app_title(tui_app *a, tui_panel *p, const char *text)
{
    attr_t at = tui_attr(a->focus == (int)(p - a->panel) ? TUI_A_TITLE_FOCUS : TUI_A_TITLE);
    tui_fill(stdscr, p->y, p->x, p->w, at);
    tui_put(stdscr, p->y, p->x + 1, p->w - 2, text, at, TUI_LEFT, a->ascii);
}

tui_xview *tui_app_xview(tui_app *a)
{
    switch (a->view) {
    case TUI_V_CHARTS: return &a->xv_charts;
    case TUI_V_HEATMAP: return &a->xv_heat;
    case TUI_V_COMPARE: return &a->xv_cmp;
    default: return NULL;
    }
}

/* ---- pause: a snapshot of what every run showed ---- */

static void frozen_free(tui_app *a)
{
    for (int i = 0; i < a->nfrozen; i++) {
        free(a->frozen[i].layer_last);
        free(a->frozen[i].scalar_last);
    }
    free(a->frozen);
    a->frozen = NULL;
    a->nfrozen = 0;
    a->fz_run = NULL;
    a->fz_hit = NULL;
}

void tui_app_pause(tui_app *a, int on)
{
    if (!a->st) return;
    if (!on) {
        frozen_free(a);
        tui_freeze_end();
        a->paused = 0;
        tui_app_message(a, 0, "resumed: showing live data");
        return;
    }
    if (a->paused) return;
    tt_store *st = a->st;
    a->frozen = calloc((size_t)(st->nruns > 0 ? st->nruns : 1), sizeof *a->frozen);
    if (!a->frozen) { tui_app_message(a, 1, "cannot pause: out of memory"); return; }
    for (int i = 0; i < st->nruns; i++) {
        const tt_run *r = st->runs[i];
        tui_frozen_run *f = &a->frozen[a->nfrozen];
        snprintf(f->name, sizeof f->name, "%s", r->name);
        f->rank = r->rank;
        f->step = r->step;
        f->layer_step = r->last_layer_step;
        f->steps_per_s = r->steps_per_s;
        f->state = (int)r->state;
        snprintf(f->end_status, sizeof f->end_status, "%s", r->end_status);
        f->alerts = r->alerts;
        f->nlayers = r->nlayers;
        f->nstats = r->nstats;
        f->nscalars = r->nscalars;
        size_t nl = (size_t)r->nlayers * (size_t)r->nstats;
        f->layer_last = malloc((nl ? nl : 1) * sizeof(double));
        f->scalar_last = malloc((size_t)(r->nscalars ? r->nscalars : 1) * sizeof(double));
        if (!f->layer_last || !f->scalar_last) {
            free(f->layer_last);
            free(f->scalar_last);
            frozen_free(a);
            tui_app_message(a, 1, "cannot pause: out of memory");
            return;
        }
        for (int l = 0; l < r->nlayers; l++)
            memcpy(f->layer_last + (size_t)l * (size_t)r->nstats, r->layers[l].last, (size_t)r->nstats * sizeof(double));
        for (int k = 0; k < r->nscalars; k++) f->scalar_last[k] = r->scalars[k].last;
        a->nfrozen++;
    }
    a->frozen_alerts_n = st->alerts_n;
    tt_collector_counters k;
    memset(&k, 0, sizeof k);
    if (a->c) tt_collector_get_counters(a->c, &k);
    a->frozen_accepted = k.accepted;
    a->paused = 1;
    int copied = tui_freeze_begin(st, tui_app_run(a), TUI_FREEZE_BUDGET);
    if (copied >= 0 && !tui_freeze_complete())
        tui_app_message(a, 0, "paused: frozen; history past %zu MB of copies stays live (p resumes)", tui_freeze_bytes() >> 20);
    else
        tui_app_message(a, 0, "paused: the display is frozen, data keeps arriving (p resumes)");
}

static const tui_frozen_run *frozen_of(tui_app *a, const tt_run *r)
{
    if (!a->paused || !r) return NULL;
    if (a->fz_run == r && a->fz_hit) return a->fz_hit;
    for (int i = 0; i < a->nfrozen; i++)
        if (a->frozen[i].rank == r->rank && strcmp(a->frozen[i].name, r->name) == 0) {
            a->fz_run = r;
            a->fz_hit = &a->frozen[i];
            return a->fz_hit;
        }
    return NULL;
}

int tui_app_run_shown(tui_app *a, const tt_run *r) { return !a->paused || frozen_of(a, r) != NULL; }

int64_t tui_app_step(tui_app *a, const tt_run *r)
{
    const tui_frozen_run *f = frozen_of(a, r);
    return f ? f->step : r->step;
}

int64_t tui_app_layer_step(tui_app *a, const tt_run *r)
{
    const tui_frozen_run *f = frozen_of(a, r);
    return f ? f->layer_step : r->last_layer_step;
}

double tui_app_rate(tui_app *a, const tt_run *r)
{
    const tui_frozen_run *f = frozen_of(a, r);
    return f ? f->steps_per_s : r->steps_per_s;
}

/* A per-step time scalar (ms) as a share of the step time from steps/s (NaN until both are known). A
 * sampled step costs more than the others; the latest is what the run pays now. */
static double step_share_pct(tui_app *a, const tt_run *r, const char *scalar)
{
    int k = tt_run_scalar_index(r, scalar);
    double rate = tui_app_rate(a, r), ms = k >= 0 ? tui_app_scalar_last(a, r, k) : NAN;
    return rate > 0 && isfinite(ms) ? ms * rate / 10.0 : NAN;      /* ms × steps/s / 1000 × 100 */
}

double tui_app_probe_pct(tui_app *a, const tt_run *r)
{
    return step_share_pct(a, r, "probe_ms");
}

/* The probe's kernels run on the training stream, so their time (CUPTI's probe_gpu_ms) adds to a
 * GPU-bound step. */
double tui_app_probe_gpu_pct(tui_app *a, const tt_run *r)
{
    return step_share_pct(a, r, "probe_gpu_ms");
}

int tui_app_state(tui_app *a, const tt_run *r)
{
    const tui_frozen_run *f = frozen_of(a, r);
    return f ? f->state : (int)r->state;
}

/* The alerts hook: the collector counts fired rules per run in tt_run.alerts (collectors/alerts.c). */
int tui_app_alerts(tui_app *a, const tt_run *r)
{
    const tui_frozen_run *f = frozen_of(a, r);
    return f ? f->alerts : r->alerts;
}

int tui_app_nlayers(tui_app *a, const tt_run *r)
{
    const tui_frozen_run *f = frozen_of(a, r);
    return f ? (f->nlayers < r->nlayers ? f->nlayers : r->nlayers) : r->nlayers;
}

const double *tui_app_layer_row(tui_app *a, const tt_run *r, int layer)
{
    if (layer < 0 || layer >= r->nlayers) return NULL;
    if (!a->paused) return r->layers[layer].last;
    const tui_frozen_run *f = frozen_of(a, r);
    if (!f || layer >= f->nlayers || f->nstats != r->nstats) return NULL;
    return f->layer_last + (size_t)layer * (size_t)f->nstats;
}

double tui_app_layer_last(tui_app *a, const tt_run *r, int layer, int stat)
{
    const double *row = tui_app_layer_row(a, r, layer);
    return row && stat >= 0 && stat < r->nstats ? row[stat] : NAN;
}

double tui_app_scalar_last(tui_app *a, const tt_run *r, int scalar)
{
    if (scalar < 0 || scalar >= r->nscalars) return NAN;
    if (!a->paused) return r->scalars[scalar].last;
    const tui_frozen_run *f = frozen_of(a, r);
    return f && scalar < f->nscalars ? f->scalar_last[scalar] : NAN;
}

int tui_app_alert_count(tui_app *a)
{
    if (!a->st) return 0;
    uint64_t n = a->paused ? a->frozen_alerts_n : a->st->alerts_n;
    return (int)(n < TT_STORE_ALERTS ? n : TT_STORE_ALERTS);
}

const tt_store_alert *tui_app_alert(tui_app *a, int i)
{
    uint64_t n = a->paused ? a->frozen_alerts_n : a->st->alerts_n;
    if (i < 0 || i >= tui_app_alert_count(a)) return NULL;
    /* newest first; while paused, newer alerts may have overwritten the oldest slots */
    uint64_t idx = n - 1 - (uint64_t)i;
    if (a->st->alerts_n - idx > TT_STORE_ALERTS) return NULL;
    return &a->st->alerts[idx % TT_STORE_ALERTS];
}

/* ---- views and layout ---- */

static const struct {
    const char *name, *abbrev;
} view_labels[TUI_NVIEWS] = {
    [TUI_V_OVERVIEW] = { "Overview", "Ovw" }, [TUI_V_CHARTS] = { "Charts", "Cht" }, [TUI_V_LAYERS] = { "Layers", "Lay" },
    [TUI_V_HEATMAP] = { "Heatmap", "Heat" }, [TUI_V_COMPARE] = { "Compare", "Cmp" }, [TUI_V_ALERTS] = { "Alerts", "Alr" },
    [TUI_V_PLUGINS] = { "Panels", "Pnl" },
};

static void place(tui_panel *p, int y, int x, int h, int w)
{
    p->y = y;
    p->x = x;
    p->h = h;
    p->w = w;
    p->visible = h >= 2 && w >= 10;
}

static int runs_natural_width(tui_app *a)
{
    const tt_store *st = a->st;
    int name = 6;
    for (int i = 0; i < st->nruns; i++) {
        int w = tui_text_width(st->runs[i]->name) + (st->runs[i]->world > 1 ? 4 : 0);
        if (w > name) name = w;
    }
    return name + 39;        /* state, step, st/s, loss, val_acc and their gaps */
}

static void layout_overview(tui_app *a, int top, int body)
{
    int W = COLS;
    tt_run *r = tui_app_run(a);
    int nl = r ? tui_app_nlayers(a, r) : 0;
    int nr = a->st->nruns;
    tui_panel *pr = &a->panel[TUI_P_RUNS], *pc = &a->panel[TUI_P_CHARTS], *pl = &a->panel[TUI_P_LAYERS];
    int side = a->cfg.layout == TUI_LAYOUT_SIDE ? W >= 80 : a->cfg.layout == TUI_LAYOUT_STACKED ? 0 : W >= WIDE_W;
    if (side) {
        int lh = nl + 2 < 5 ? 5 : nl + 2;
        if (lh > body / 2) lh = body / 2;
        int ptop = body - lh;
        int rw = runs_natural_width(a);
        if (rw > W * 45 / 100) rw = W * 45 / 100;
        if (rw < 36) rw = 36;
        place(pr, top, 0, ptop, rw);
        place(pc, top, rw + 1, ptop, W - rw - 1);
        place(pl, top + ptop, 0, lh, W);
    } else {
        int rh = (nr < 1 ? 1 : nr) + 2;
        int rmax = body / 4 + 1 < 4 ? 4 : body / 4 + 1;
        if (rh > rmax) rh = rmax;
        int lh = nl + 2 < 5 ? 5 : nl + 2;
        int lmax = (body - rh) * 3 / 5 < 5 ? 5 : (body - rh) * 3 / 5;
        if (lh > lmax) lh = lmax;
        int ch = body - rh - lh;
        if (ch < 5) {                       /* short terminal: charts shrink, then go */
            lh = body - rh - 5;
            if (lh < 4) { lh = body - rh; ch = 0; }
            else ch = 5;
        }
        place(pr, top, 0, rh, W);
        place(pc, top + rh, 0, ch, W);
        place(pl, top + rh + ch, 0, lh, W);
    }
}

static void layout(tui_app *a)
{
    int W = COLS, H = LINES;
    a->tabbar = H >= TABBAR_H;
    int top = a->tabbar ? 2 : 1, body = H - top - 1;
    for (int i = 0; i < TUI_NPANELS; i++) a->panel[i].visible = 0;
    switch (a->view) {
    case TUI_V_OVERVIEW: layout_overview(a, top, body); break;
    case TUI_V_CHARTS: place(&a->panel[TUI_P_CHARTS], top, 0, body, W); break;
    case TUI_V_LAYERS: {
        /* a short table leaves room under it for the selected layer's statistics */
        tt_run *r = tui_app_run(a);
        int need = (r ? tui_layers_count(a, r) : 0) + 2;
        if (need < 5) need = 5;
        if (r && body - need >= 12) {
            place(&a->panel[TUI_P_LAYERS], top, 0, need, W);
            place(&a->panel[TUI_P_LDETAIL], top + need, 0, body - need, W);
        } else {
            place(&a->panel[TUI_P_LAYERS], top, 0, body, W);
        }
        break;
    }
    case TUI_V_HEATMAP: place(&a->panel[TUI_P_HEATMAP], top, 0, body, W); break;
    case TUI_V_ALERTS: place(&a->panel[TUI_P_ALERTS], top, 0, body, W); break;
    case TUI_V_PLUGINS: place(&a->panel[TUI_P_PLUGIN], top, 0, body, W); break;
    case TUI_V_COMPARE: {
        int name = 8;
        for (int i = 0; i < a->st->nruns; i++) {
            int w = tui_text_width(a->st->runs[i]->name);
            if (w > name) name = w;
        }
        if (W >= 70) {
            int lw = name + 9;
            if (lw > W / 3) lw = W / 3;
            if (lw < 18) lw = 18;
            place(&a->panel[TUI_P_CMPRUNS], top, 0, body, lw);
            place(&a->panel[TUI_P_COMPARE], top, lw + 1, body, W - lw - 1);
        } else {
            int lh = a->st->nruns + 2;
            if (lh > body / 3) lh = body / 3;
            if (lh < 3) lh = 3;
            place(&a->panel[TUI_P_CMPRUNS], top, 0, lh, W);
            place(&a->panel[TUI_P_COMPARE], top + lh, 0, body - lh, W);
        }
        break;
    }
    default: break;
    }
    /* the view's remembered focus, else its first panel with a cursor */
    int f = a->vfocus[a->view];
    if (f < 0 || f >= TUI_NPANELS || !a->panel[f].visible) {
        f = -1;
        for (int i = 0; i < TUI_NPANELS && f < 0; i++)
            if (a->panel[i].visible && a->panel[i].cls->cursor &&
                (!a->panel[i].cls->focusable || a->panel[i].cls->focusable(a, &a->panel[i])))
                f = i;
        if (f < 0) f = TUI_P_RUNS;
    }
    a->focus = f;
}

void tui_app_set_view(tui_app *a, int v)
{
    static const int first[TUI_NVIEWS] = { TUI_P_RUNS, TUI_P_CHARTS, TUI_P_LAYERS, TUI_P_HEATMAP, TUI_P_CMPRUNS, TUI_P_ALERTS,
                                           TUI_P_PLUGIN };
    if (v < 0 || v >= TUI_NVIEWS) return;
    a->vfocus[a->view] = a->focus;
    a->view = v;
    a->colsel = 0;
    a->focus = a->vfocus[v] >= 0 ? a->vfocus[v] : first[v];
    if (stdscr && a->st && COLS >= MIN_W && LINES >= MIN_H) layout(a);   /* keys before the next frame act on it */
}

/* ---- frame ---- */

static void clock_text(tui_app *a, char *out, size_t len)
{
    if (a->clock[0]) { snprintf(out, len, "%s", a->clock); return; }
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, len, "%H:%M:%S", &tm);
}

static void draw_header(tui_app *a)
{
    attr_t ha = tui_attr(TUI_A_HEADER);
    tui_fill(stdscr, 0, 0, COLS, ha);
    char left[300], right[256], clock[32];
    clock_text(a, clock, sizeof clock);
    snprintf(left, sizeof left, " traintop%s%s", a->o.title && a->o.title[0] ? " - " : "", a->o.title ? a->o.title : "");
    if (!a->tabbar) {                       /* no tab bar: the header names the view */
        size_t l = strlen(left);
        snprintf(left + l, sizeof left - l, "  [%d %s]", a->view + 1, view_labels[a->view].name);
    }
    tt_collector_counters k;
    memset(&k, 0, sizeof k);
    if (a->c) tt_collector_get_counters(a->c, &k);
    char msgs[TUI_FMT_MAX], rej[TUI_FMT_MAX], rec[TUI_FMT_MAX];
    tui_fmt_count(msgs, sizeof msgs, k.accepted);
    tui_fmt_count(rej, sizeof rej, k.rejected);
    tui_fmt_count(rec, sizeof rec, k.layer_records);
    const char *badge = a->paused ? " PAUSED " : "";
    int bw = (int)strlen(badge);
    snprintf(right, sizeof right, "runs %d  msgs %s  rej %s  layer rec %s  %s ", a->st->nruns, msgs, rej, rec, clock);
    int lw = tui_text_width(left), rw = tui_text_width(right);
    if (lw + 2 + rw + bw > COLS) {
        snprintf(right, sizeof right, "runs %d  msgs %s  %s ", a->st->nruns, msgs, clock);
        rw = tui_text_width(right);
    }
    if (lw + 2 + rw + bw > COLS) {
        snprintf(right, sizeof right, "%s ", clock);
        rw = tui_text_width(right);
    }
    tui_puts(stdscr, 0, 0, COLS, left, ha | A_BOLD);
    if (lw + 1 + rw + bw <= COLS) {
        tui_puts(stdscr, 0, COLS - rw, rw, right, ha);
        if (k.rejected > 0) {      /* rejected messages deserve attention */
            const char *p = strstr(right, "rej ");
            if (p) tui_puts(stdscr, 0, COLS - rw + (int)(p - right), 4 + (int)strlen(rej), p, tui_attr(TUI_A_BAD));
        }
    } else {
        rw = 0;
    }
    if (bw && COLS - rw - bw - 1 >= 0) tui_puts(stdscr, 0, COLS - rw - bw - 1, bw, badge, tui_attr(TUI_A_PAUSED));
}

static void draw_tabbar(tui_app *a)
{
    int y = 1;
    a->tab_y = a->tabbar ? 1 : -1;
    for (int v = 0; v < TUI_NVIEWS; v++) a->tab_x0[v] = a->tab_x1[v] = -1;
    if (!a->tabbar) return;
    tui_fill(stdscr, y, 0, COLS, 0);
    int nal = tui_app_alert_count(a);
    char count[16] = "";
    if (nal) snprintf(count, sizeof count, "(%d)", nal);
    /* full names when they fit, else abbreviations */
    int need = 1;
    for (int v = 0; v < TUI_NVIEWS; v++) need += (int)strlen(view_labels[v].name) + 5;
    int abbrev = need + (int)strlen(count) > COLS;
    int x = 1;
    for (int v = 0; v < TUI_NVIEWS && x < COLS; v++) {
        char t[48];
        snprintf(t, sizeof t, " %d %s ", v + 1, abbrev ? view_labels[v].abbrev : view_labels[v].name);
        a->tab_x0[v] = x;
        x += tui_puts(stdscr, y, x, COLS - x, t, tui_attr(v == a->view ? TUI_A_TAB_ACTIVE : TUI_A_TAB));
        if (v == TUI_V_ALERTS && nal) x += tui_puts(stdscr, y, x, COLS - x, count, tui_attr(TUI_A_WARN));
        a->tab_x1[v] = x;
        x += 1;
    }
    /* on the right: what the display is doing */
    char st[200] = "";
    if (a->paused) {
        tt_collector_counters k;
        memset(&k, 0, sizeof k);
        if (a->c) tt_collector_get_counters(a->c, &k);
        char n[TUI_FMT_MAX];
        tui_fmt_count(n, sizeof n, k.accepted >= a->frozen_accepted ? k.accepted - a->frozen_accepted : 0);
        snprintf(st, sizeof st, "paused, +%s msgs ", n);
    } else if (tui_filter_on(&a->filter) && (a->view == TUI_V_LAYERS || a->view == TUI_V_HEATMAP || a->view == TUI_V_OVERVIEW)) {
        snprintf(st, sizeof st, "/%s/ ", a->filter.active);
    }
    int sw = tui_text_width(st);
    if (sw && x + sw + 1 <= COLS) tui_puts(stdscr, y, COLS - sw, sw, st, tui_attr(a->paused ? TUI_A_PAUSED : TUI_A_INPUT));
}

/* Footer hints of the view's bindings; "? Help" and "q Quit" always keep their place at the end. */
static void draw_hints(tui_app *a, int y, int x0, int xmax)
{
    const tui_key *tail[2] = { NULL, NULL };
    int tailw = 0;
    for (int i = 0; i < tui_nkeys; i++) {
        const tui_key *k = &tui_keys[i];
        if (!k->fkey || !tui_key_in_view(k, a->view, a->cfg.vim)) continue;
        int slot = strcmp(k->fkey, "q") == 0 ? 1 : strcmp(k->fkey, "?") == 0 ? 0 : -1;
        if (slot < 0) continue;
        tail[slot] = k;
        tailw += tui_text_width(k->fkey) + tui_text_width(k->hint) + 3;
    }
    int x = x0;
    for (int i = 0; i < tui_nkeys; i++) {
        const tui_key *k = &tui_keys[i];
        if (!k->fkey || !tui_key_in_view(k, a->view, a->cfg.vim) || k == tail[0] || k == tail[1]) continue;
        if (k->hint_views && !(k->hint_views & TUI_VBIT(a->view))) continue;
        int need = tui_text_width(k->fkey) + tui_text_width(k->hint) + 3;
        if (x + need + tailw > xmax) continue;
        x += tui_puts(stdscr, y, x, xmax - x, k->fkey, tui_attr(TUI_A_FOOTER_KEY));
        x += tui_puts(stdscr, y, x, xmax - x, " ", tui_attr(TUI_A_FOOTER));
        x += tui_puts(stdscr, y, x, xmax - x, k->hint, tui_attr(TUI_A_FOOTER));
        x += tui_puts(stdscr, y, x, xmax - x, "  ", tui_attr(TUI_A_FOOTER));
    }
    for (int t = 0; t < 2; t++) {
        const tui_key *k = tail[t];
        if (!k) continue;
        int need = tui_text_width(k->fkey) + tui_text_width(k->hint) + 1;
        if (x + need > xmax) break;
        x += tui_puts(stdscr, y, x, xmax - x, k->fkey, tui_attr(TUI_A_FOOTER_KEY));
        x += tui_puts(stdscr, y, x, xmax - x, " ", tui_attr(TUI_A_FOOTER));
        x += tui_puts(stdscr, y, x, xmax - x, k->hint, tui_attr(TUI_A_FOOTER));
        x += tui_puts(stdscr, y, x, xmax - x, "  ", tui_attr(TUI_A_FOOTER));
    }
}

static void draw_footer(tui_app *a)
{
    int y = LINES - 1;
    tui_fill(stdscr, y, 0, COLS, tui_attr(TUI_A_FOOTER));
    if (a->input) {                         /* the filter line */
        attr_t ia = tui_attr(TUI_A_INPUT);
        int x = tui_puts(stdscr, y, 0, COLS, "/", ia);
        x += tui_puts(stdscr, y, x, COLS - x, a->filter.pattern, ia);
        x += tui_puts(stdscr, y, x, COLS - x, a->ascii ? "_" : "\u2581", ia | A_BLINK);
        char tail[220];
        if (a->filter.err[0]) snprintf(tail, sizeof tail, "  invalid regex: %s", a->filter.err);
        else snprintf(tail, sizeof tail, "  %d shown  Enter keep  Esc cancel", a->nshown);
        tui_puts(stdscr, y, x, COLS - x, tail, a->filter.err[0] ? tui_attr(TUI_A_BAD) : tui_attr(TUI_A_DIM));
        return;
    }
    char f[48];
    snprintf(f, sizeof f, "[%s] ", a->panel[a->focus].cls->name);
    int fw = (int)strlen(f);
    int right = COLS - fw;
    if (a->msg[0] && a->now < a->msg_until) {
        tui_put(stdscr, y, 0, right, a->msg, a->msg_bad ? tui_attr(TUI_A_BAD) : tui_attr(TUI_A_INPUT), TUI_LEFT, a->ascii);
    } else {
        a->msg[0] = '\0';
        draw_hints(a, y, 0, right);
    }
    if (right >= 20) tui_puts(stdscr, y, right, fw, f, tui_attr(TUI_A_DIM));
}

/* The help screen: the key table by section, then notes; j/k scroll it. */
static int help_lines(tui_app *a, int y0, int rows, int paint)
{
    int w = COLS, line = 0, lw = 0;
    for (int i = 0; i < tui_nkeys; i++) {
        int l = tui_text_width(tui_keys[i].label);
        if (l > lw) lw = l;
    }
    char path[1100];
    snprintf(path, sizeof path, "Settings: %s", a->cfg_path[0] ? a->cfg_path : "(not saved: no settings file)");
    const char *notes[] = {
        "",
        "NaN/Inf values are highlighted. In charts and sparklines, a mark (x or !) flags steps",
        "that carried NaN/Inf. Charts draw each bucket's min-max range (dim) under the line of",
        "its means: a one-step spike stays visible. A ~ before a cursor value: a bucket mean.",
        "Layer table: a value more than 3 robust deviations (1.4826 MAD) from its column's",
        "median is marked as an outlier; the filter is a POSIX extended regex (smart case).",
        "Wall time on the x axis is estimated from each run's steps/s.",
        path,
        "Press any other key to return.",
    };
#define EMIT(...)                                                                  \
    do {                                                                           \
        if (paint && line >= a->help_top && line - a->help_top < rows) { __VA_ARGS__; } \
        line++;                                                                    \
    } while (0)
    int yy;
    EMIT(yy = y0 + line - a->help_top; tui_put(stdscr, yy, 0, w, "Keys", tui_attr(TUI_A_TITLE_FOCUS), TUI_LEFT, a->ascii));
    for (int i = 0; i < tui_nkeys; i++) {
        const tui_key *k = &tui_keys[i];
        if (k->section) {
            EMIT((void)0);
            EMIT(yy = y0 + line - a->help_top; tui_put(stdscr, yy, 0, w, k->section, tui_attr(TUI_A_COLHEAD) | A_UNDERLINE, TUI_LEFT, a->ascii));
        }
        int off = !tui_key_in_view(k, a->view, a->cfg.vim) && k->vim != 0;
        EMIT(yy = y0 + line - a->help_top;
             tui_put(stdscr, yy, 2, lw, k->label, off ? tui_attr(TUI_A_DIM) : tui_attr(TUI_A_COLHEAD), TUI_LEFT, a->ascii);
             tui_put(stdscr, yy, 4 + lw, w - 4 - lw, k->help, off ? tui_attr(TUI_A_DIM) : 0, TUI_LEFT, a->ascii));
    }
    for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++)
        EMIT(yy = y0 + line - a->help_top;
             tui_put(stdscr, yy, 2, w - 2, notes[i], i + 1 == sizeof notes / sizeof notes[0] ? tui_attr(TUI_A_DIM) : 0, TUI_LEFT, a->ascii));
#undef EMIT
    return line;
}

static void draw_help(tui_app *a)
{
    int top = a->tabbar ? 2 : 1, rows = LINES - 1 - top;
    for (int r = top; r < LINES - 1; r++) tui_fill(stdscr, r, 0, COLS, 0);
    int total = help_lines(a, top, rows, 0);
    if (a->help_top > total - rows) a->help_top = total - rows;
    if (a->help_top < 0) a->help_top = 0;
    help_lines(a, top, rows, 1);
    if (total > rows) {
        char more[64];
        snprintf(more, sizeof more, " %d-%d/%d j/k ", a->help_top + 1, a->help_top + rows, total);
        int mw = (int)strlen(more);
        tui_puts(stdscr, top, COLS - mw, mw, more, tui_attr(TUI_A_TITLE));
    }
}

static void draw_too_small(void)
{
    char msg[96];
    snprintf(msg, sizeof msg, "terminal too small (%dx%d), need at least %dx%d", COLS, LINES, MIN_W, MIN_H);
    int len = (int)strlen(msg);
    if (len <= COLS) {
        mvaddstr(LINES / 2, (COLS - len) / 2, msg);
    } else {           /* narrower than the message: wrap it over two lines */
        const char *cut = strstr(msg, ", need");
        int l1 = (int)(cut - msg), l2 = (int)strlen(cut + 2);
        mvaddnstr(LINES / 2 - 1 < 0 ? 0 : LINES / 2 - 1, l1 < COLS ? (COLS - l1) / 2 : 0, msg, l1 < COLS ? l1 : COLS);
        mvaddnstr(LINES / 2, l2 < COLS ? (COLS - l2) / 2 : 0, cut + 2, COLS);
    }
}

void tui_app_apply_config(tui_app *a, const tui_config *cfg)
{
    a->cfg = *cfg;
    snprintf(a->sort_key, sizeof a->sort_key, "%s", cfg->sort);
    a->sort_rev = cfg->sort_rev;
    if (cfg->view >= 0 && cfg->view < TUI_NVIEWS) a->view = cfg->view;
    if (cfg->refresh_ms > 0 && a->o.refresh_ms <= 0) a->o.refresh_ms = cfg->refresh_ms;
}

int tui_app_init(tui_app *a, tt_collector *c, const tui_opts *o, int force_ascii)
{
    memset(a, 0, sizeof *a);
    a->c = c;
    a->st = c ? tt_collector_store(c) : NULL;
    if (o) a->o = *o;
    a->ascii = a->o.ascii || force_ascii;
    a->run_cur = -1;
    a->focus = TUI_P_RUNS;
    for (int v = 0; v < TUI_NVIEWS; v++) a->vfocus[v] = -1;
    a->vfocus[TUI_V_OVERVIEW] = TUI_P_RUNS;
    a->panel[TUI_P_RUNS].cls = &tui_panel_runs;
    a->panel[TUI_P_CHARTS].cls = &tui_panel_charts;
    a->panel[TUI_P_LAYERS].cls = &tui_panel_layers;
    a->panel[TUI_P_HEATMAP].cls = &tui_panel_heatmap;
    a->panel[TUI_P_CMPRUNS].cls = &tui_panel_cmpruns;
    a->panel[TUI_P_COMPARE].cls = &tui_panel_compare;
    a->panel[TUI_P_ALERTS].cls = &tui_panel_alerts;
    a->panel[TUI_P_LDETAIL].cls = &tui_panel_ldetail;
    a->panel[TUI_P_PLUGIN].cls = &tui_panel_plugin;
    tui_plugins_open(a);
    tui_xview_reset(&a->xv_charts);
    tui_xview_reset(&a->xv_heat);
    tui_xview_reset(&a->xv_cmp);
    tui_filter_init(&a->filter);
    tui_config cfg;
    tui_config_defaults(&cfg);
    tui_app_apply_config(a, &cfg);
    a->tab_y = -1;
    const char *clk = a->o.clock ? a->o.clock : getenv("TRAINTOP_CLOCK");
    if (clk) snprintf(a->clock, sizeof a->clock, "%.12s", clk);
    if (a->o.refresh_ms <= 0) a->o.refresh_ms = 200;
    return a->st ? 0 : -1;
}

void tui_app_free(tui_app *a)
{
    tui_plugins_close(a);
    tui_buf_free(&a->order);
    tui_buf_free(&a->chart_buf);
    tui_buf_free(&a->spark_buf);
    tui_buf_free(&a->vals_buf);
    tui_buf_free(&a->heat_buf);
    tui_buf_free(&a->ord_cache);
    tui_filter_free(&a->filter);
    if (a->paused) tui_freeze_end();
    frozen_free(a);
    a->paused = 0;
}

void tui_app_retheme(tui_app *a)
{
    tui_depth d = TUI_DEPTH_MONO;
    if (a->color) {
        switch (a->cfg.color) {
        case TUI_COLOR_MONO: d = TUI_DEPTH_MONO; break;
        case TUI_COLOR_16: d = TUI_DEPTH_16; break;
        case TUI_COLOR_256: d = COLORS >= 256 ? TUI_DEPTH_256 : TUI_DEPTH_16; break;
        default: d = COLORS >= 256 && COLOR_PAIRS >= 64 ? TUI_DEPTH_256 : TUI_DEPTH_16; break;
        }
    }
    tui_theme_setup(d, a->cfg.light);
    a->color_init = 1;
}

void tui_app_save_config(tui_app *a)
{
    if (!a->cfg_path[0] || !a->o.settings) return;
    char err[1200];
    if (a->o.settings->save(&a->cfg, a->cfg_path, err, sizeof err) != 0) tui_app_message(a, 1, "%s", err);
}

void tui_layers_colsel_paint(tui_app *a);
int tui_layers_input_key(tui_app *a, int ch);
int tui_layers_colsel_key(tui_app *a, int ch);

void tui_app_paint(tui_app *a)
{
    if (!a->color_init) tui_app_retheme(a);     /* a caller that set up curses itself (tests) */
    erase();
    if (COLS < MIN_W || LINES < MIN_H) {
        draw_too_small();
        a->tab_y = -1;
        return;
    }
    layout(a);
    draw_header(a);
    draw_tabbar(a);
    if (a->help) {
        draw_help(a);
    } else {
        for (int i = 0; i < TUI_NPANELS; i++)
            if (a->panel[i].visible) a->panel[i].cls->paint(a, &a->panel[i]);
        /* side by side: a rule between */
        for (int i = 0; i < TUI_NPANELS; i++) {
            const tui_panel *p = &a->panel[i];
            if (!p->visible || p->x + p->w >= COLS) continue;
            for (int j = 0; j < TUI_NPANELS; j++) {
                const tui_panel *q = &a->panel[j];
                if (q->visible && q->x == p->x + p->w + 1 && q->y == p->y)
                    for (int y = p->y; y < p->y + p->h; y++) mvaddstr(y, p->x + p->w, a->ascii ? "|" : "\u2502");
            }
        }
        if (a->colsel) tui_layers_colsel_paint(a);
    }
    draw_footer(a);
}

void tui_app_frame(tui_app *a)
{
    tui_app_paint(a);
    if (a->redraw_all) {
        clearok(curscr, TRUE);
        a->redraw_all = 0;
    }
    refresh();
}

static void handle_resize(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resize_term(ws.ws_row, ws.ws_col);
}

void tui_app_key(tui_app *a, int ch)
{
    if (ch == KEY_RESIZE || ch == ERR) return;
    if (a->help) {               /* the help screen scrolls with the moving keys; any other key leaves it */
        switch (ch) {
        case KEY_UP: case 'k': a->help_top--; return;
        case KEY_DOWN: case 'j': a->help_top++; return;
        case KEY_PPAGE: case 2: a->help_top -= LINES / 2; return;
        case KEY_NPAGE: case 6: case ' ': a->help_top += LINES / 2; return;
        case KEY_HOME: case 'g': a->help_top = 0; return;
        case KEY_END: case 'G': a->help_top = 1 << 20; return;
        default: a->help = 0; return;
        }
    }
    if (a->input && tui_layers_input_key(a, ch)) return;
    if (a->colsel && tui_layers_colsel_key(a, ch)) return;
    tui_key_dispatch(a, ch);
}

/* ---- tui_run ---- */

int tui_run(tt_collector *c, const tui_opts *o)
{
    if (!c) {
        fprintf(stderr, "traintop: no collector to show\n");
        return 1;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "traintop: the dashboard needs a terminal (stdin and stdout are not both a tty)\n");
        return 1;
    }
    setlocale(LC_ALL, "");
    const char *cs = nl_langinfo(CODESET);
    int utf8 = cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
    const char *nc = getenv("NO_COLOR");

    static tui_app app;          /* one dashboard per process */
    tui_app *a = &app;
    if (tui_app_init(a, c, o, !utf8) != 0) {
        fprintf(stderr, "traintop: the collector has no store\n");
        return 1;
    }

    /* settings: one line on stderr for a bad file, the defaults for what it got wrong */
    tui_config cfg;
    tui_config_defaults(&cfg);
    char cerr[1400] = "";
    const tui_settings_io *io = a->o.settings;
    if (!io) a->cfg_path[0] = '\0';
    else if (a->o.config) snprintf(a->cfg_path, sizeof a->cfg_path, "%s", a->o.config);
    else if (io->path(a->cfg_path, sizeof a->cfg_path) != 0) a->cfg_path[0] = '\0';
    if (a->cfg_path[0] && io->load(&cfg, a->cfg_path, cerr, sizeof cerr) != 0) {
        fprintf(stderr, "traintop: settings %s; using the defaults for it\n", cerr);
        fflush(stderr);
    }
    int saved_refresh = a->o.refresh_ms;
    a->o.refresh_ms = o && o->refresh_ms > 0 ? o->refresh_ms : 0;
    tui_app_apply_config(a, &cfg);
    if (a->o.refresh_ms <= 0) a->o.refresh_ms = saved_refresh > 0 ? saved_refresh : 200;
    if (a->o.view) {
        int v = tui_view_by_name(a->o.view);
        if (v >= 0) a->view = v;
    }
    if (cerr[0]) tui_app_message(a, 1, "settings: %s", cerr);

    if (pipe(g_wake) != 0) {
        fprintf(stderr, "traintop: pipe: %s\n", strerror(errno));
        return 1;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(g_wake[i], F_SETFL, fcntl(g_wake[i], F_GETFL) | O_NONBLOCK);
        fcntl(g_wake[i], F_SETFD, FD_CLOEXEC);
    }
    g_stop = 0;
    g_winch = 0;
    signals_install();            /* before newterm, so ncurses keeps its hands off these signals */
    static int atexit_done;
    if (!atexit_done && atexit(at_exit_endwin) == 0) atexit_done = 1;

    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr) {
        const char *term = getenv("TERM");
        signals_restore();
        close(g_wake[0]);
        close(g_wake[1]);
        g_wake[0] = g_wake[1] = -1;
        fprintf(stderr, "traintop: cannot set up the terminal (TERM=%s)\n", term ? term : "unset");
        tui_app_free(a);
        return 1;
    }
    set_term(scr);
    g_curses = 1;
    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    if (!a->o.no_color && !(nc && nc[0]) && a->cfg.color != TUI_COLOR_MONO && has_colors()) {
        start_color();
        use_default_colors();
        a->color = 1;
    }
    tui_app_retheme(a);
    if (a->cfg.mouse && !a->o.no_mouse) {
        mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
                      | BUTTON5_PRESSED
#endif
                  , NULL);
        mouseinterval(0);
    }
    a->bells_seen = a->st->bells;

    uint64_t drawn_version = 0;
    int dirty = 1;                           /* a key, a resize or the clock asks for a frame */
    double now = mono(), last_draw = 0, next_tick = now + 1;
    double refresh = a->o.refresh_ms / 1000.0;
    a->now = now;
    if (a->msg[0]) a->msg_until = now + 2 * MSG_SECONDS;

    while (!a->quit && !g_stop) {
        if (a->o.on_tick && a->o.on_tick(a->o.ud)) break;
        now = mono();
        if (now >= next_tick) {
            tt_collector_tick(c);
            next_tick = now + 1;
            dirty = 1;                       /* the clock and the stall states move */
        }
        if (a->st->bells > a->bells_seen) {  /* a rule asked for the terminal bell */
            a->bells_seen = a->st->bells;
            beep();
        }
        /* paused: data moves nothing on screen (only the header's counters, once a second) */
        int data_moved = !a->paused && a->st->version != drawn_version;
        if (dirty || (data_moved && now - last_draw >= refresh)) {
            a->now = now;
            tui_app_frame(a);
            drawn_version = a->st->version;
            last_draw = now;
            dirty = 0;
            data_moved = 0;
        }

        struct pollfd pf[MAX_FDS + 2];
        int cfd[MAX_FDS];
        int ncfd = tt_collector_fds(c, cfd, MAX_FDS);
        if (ncfd < 0) ncfd = 0;
        int n = 0;
        pf[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
        pf[n++] = (struct pollfd){ .fd = g_wake[0], .events = POLLIN };
        for (int i = 0; i < ncfd; i++) pf[n++] = (struct pollfd){ .fd = cfd[i], .events = POLLIN };
        double wait = next_tick - now;
        if (data_moved) {                    /* a frame is due once the refresh interval has passed */
            double due = last_draw + refresh - now;
            if (due < wait) wait = due;
        }
        int tmo = wait <= 0 ? 0 : (int)ceil(wait * 1000);
        if (a->o.on_tick && tmo > 250) tmo = 250;   /* on_tick reaps children: keep it coming */
        int pr = poll(pf, (nfds_t)n, tmo);
        if (pr < 0 && errno != EINTR) break;

        if (g_winch) {
            g_winch = 0;
            handle_resize();
            a->redraw_all = 1;               /* the terminal may have reflowed: repaint it all */
            dirty = 1;
        }
        if (pr > 0) {
            if (pf[1].revents & POLLIN) {
                char buf[64];
                while (read(g_wake[0], buf, sizeof buf) > 0) {}
            }
            int readable = 0;
            for (int i = 2; i < n; i++) if (pf[i].revents) readable = 1;
            if (readable) tt_collector_process(c, 10000);
            if (pf[0].revents & (POLLHUP | POLLERR | POLLNVAL)) break;     /* the terminal went away */
            if (pf[0].revents & POLLIN) {
                int ch;
                a->now = mono();
                while ((ch = getch()) != ERR) {
                    if (ch == KEY_RESIZE) {
                        handle_resize();
                        a->redraw_all = 1;
                    }
                    tui_app_key(a, ch);
                    dirty = 1;
                    if (a->quit) break;
                }
            }
        }
    }

    g_curses = 0;
    if (a->cfg.mouse && !a->o.no_mouse) mousemask(0, NULL);
    endwin();
    delscreen(scr);
    signals_restore();
    close(g_wake[0]);
    close(g_wake[1]);
    g_wake[0] = g_wake[1] = -1;
    tui_app_free(a);
    return 0;
}
