/* frame: what surrounds the panels — the header (title, counters, clock, the pause badge), the tab
 * bar, the footer (key hints from the key table, messages, the filter line, the focused panel), the help
 * screen (the key table by section) and the too-small notice — and the whole frame's paint. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../widgets/fmt.h"
#include "../widgets/theme.h"
#include "app.h"
#include "keys.h"

static void clock_text(tui_app *a, char *out, size_t len)
{
    if (a->clock[0]) { snprintf(out, len, "%s", a->clock); return; }
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, len, "%H:%M:%S", &tm);
}

/* The header's health line, one part per kind of trouble, worst first: "4 runs: 1 diverging since 692 ·
 * 2 overfitting · 1 ok · 1 NaN layer in wide". Parts that do not fit are left out from the end. */
#define HPARTS 12
typedef struct {
    char text[HPARTS][96];
    int role[HPARTS];
    int n;
} health_line;

static void part(health_line *h, int role, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void part(health_line *h, int role, const char *fmt, ...)
{
    if (h->n == HPARTS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->text[h->n], sizeof h->text[0], fmt, ap);
    va_end(ap);
    h->role[h->n++] = role;
}

static void health_parts(tui_app *a, health_line *h)
{
    tui_ctx *c = &a->ctx;
    int idx[1024];
    int n = tui_ctx_shown_runs(c, idx, 1024);
    h->n = 0;
    part(h, TUI_A_HEADER, "%d run%s%s", n, n == 1 ? "" : "s", n ? ":" : "");
    /* the link: how long since the display last saw a running run's step move */
    double idle = INFINITY;
    int stale = 0;
    for (int i = 0; i < n; i++) {
        const tt_run *r = tui_model_run(c->m, idx[i]);
        double d = tui_health_idle(&c->health, c->m, r);
        if (tui_model_state(c->m, r) == TT_RUN_RUNNING && d < idle) idle = d;
        stale |= tui_health_stale(&c->health, c->m, r);
    }
    if (isfinite(idle) && (idle >= 5 || stale) && !c->health.replay) {
        char d[16];
        tui_fmt_duration(d, sizeof d, idle);
        part(h, stale ? TUI_A_BAD : TUI_A_WARN, "last data %s ago", d);
    }
    int count[TT_LEARN_NSTATES] = { 0 };
    int64_t since[TT_LEARN_NSTATES];
    int nan_layers = 0, nan_runs = 0, sick_layers = 0, sick_runs = 0;
    const char *nan_run = NULL, *sick_run = NULL;
    for (int i = 0; i < n; i++) {
        const tt_run *r = tui_model_run(c->m, idx[i]);
        const tui_run_health *e = tui_health_of(&c->health, c->m, r);
        since[e->learn.state] = count[e->learn.state]++ ? -1 : e->learn.since;
        if (e->nan_layers) { nan_layers += e->nan_layers; if (!nan_runs++) nan_run = tui_run_name(r); }
        if (e->bad_layers > e->nan_layers) { sick_layers += e->bad_layers - e->nan_layers; if (!sick_runs++) sick_run = tui_run_name(r); }
    }
    static const tt_learn_state order[] = { TT_LEARN_NONFINITE, TT_LEARN_DIVERGING, TT_LEARN_CHANCE, TT_LEARN_OVERFITTING };
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        tt_learn_state s = order[k];
        if (!count[s]) continue;
        if (count[s] == 1 && since[s] >= 0) part(h, tui_health_role(s), "1 %s since %lld", tt_health_learn_name(s), (long long)since[s]);
        else part(h, tui_health_role(s), "%d %s", count[s], tt_health_learn_name(s));
    }
    if (nan_layers)
        part(h, TUI_A_BAD, "%d NaN layer%s in %s%s", nan_layers, nan_layers == 1 ? "" : "s", nan_run, nan_runs > 1 ? " +" : "");
    if (sick_layers)
        part(h, TUI_A_WARN, "%d layer%s to check in %s%s", sick_layers, sick_layers == 1 ? "" : "s", sick_run, sick_runs > 1 ? " +" : "");
    if (count[TT_LEARN_PLATEAU]) part(h, TUI_A_INFO, "%d plateau", count[TT_LEARN_PLATEAU]);
    int ok = count[TT_LEARN_IMPROVING] + count[TT_LEARN_UNKNOWN];
    if (ok) part(h, TUI_A_GOOD, "%d ok", ok);
}

void tui_frame_header(tui_app *a)
{
    attr_t ha = tui_attr(TUI_A_HEADER);
    tui_fill(stdscr, 0, 0, COLS, ha);
    char left[300], clock[32], tail[96];
    clock_text(a, clock, sizeof clock);
    snprintf(left, sizeof left, " traintop%s%s", a->o.title && a->o.title[0] ? " - " : "", a->o.title ? a->o.title : "");
    if (!a->tabbar) {                       /* no tab bar: the header names the view */
        size_t l = strlen(left);
        snprintf(left + l, sizeof left - l, "  [%d %s]", a->view + 1, tui_views[a->view].name);
    }
    tt_collector_counters k;
    tui_model_counters(&a->model, &k);
    char rej[48] = "";
    if (k.rejected > 0) {                   /* refused messages deserve attention; counters otherwise stay out */
        char n[TUI_FMT_MAX];
        tui_fmt_count(n, sizeof n, k.rejected);
        snprintf(rej, sizeof rej, "  %s refused", n);
    }
    snprintf(tail, sizeof tail, "%s  %s ", rej, clock);
    const char *badge = a->model.paused ? " PAUSED " : "";
    int bw = (int)strlen(badge), tw = tui_text_width(tail);
    health_line h;
    health_parts(a, &h);
    /* the health line takes what the clock, the badge and at least " traintop" leave; parts go from the end */
    int room = COLS - tw - bw - 10;
    int width[HPARTS], total = 0, np = 0;
    for (int i = 0; i < h.n; i++) {
        width[i] = tui_text_width(h.text[i]) + (i > 1 ? 3 : 1);
        if (total + width[i] > room) break;
        total += width[i];
        np = i + 1;
    }
    if (np == 1) np = total = 0;            /* "4 runs:" alone says nothing */
    int lw = tui_text_width(left);
    /* the title (the link's state in attach) keeps up to 40 columns: the health parts go first */
    int keep = lw < 40 ? lw : 40;
    while (np > 1 && COLS - total - tw - bw - 2 < keep) total -= width[--np];
    if (np == 1) np = total = 0;
    int lmax = COLS - total - tw - bw - 2;
    tui_puts(stdscr, 0, 0, lmax < lw ? lmax : lw, left, ha | A_BOLD);
    int x = COLS - tw - total;
    for (int i = 0; i < np; i++) {
        if (i > 1) x += tui_puts(stdscr, 0, x, 3, a->ascii ? " | " : " \u00b7 ", ha);
        else x += tui_puts(stdscr, 0, x, 1, " ", ha);
        int role = h.role[i];
        x += tui_puts(stdscr, 0, x, COLS - x, h.text[i], role == TUI_A_HEADER ? ha : tui_attr(role) | A_BOLD);
    }
    tui_puts(stdscr, 0, COLS - tw, tw, tail, ha);
    if (rej[0]) tui_puts(stdscr, 0, COLS - tw + 2, (int)strlen(rej) - 2, rej + 2, tui_attr(TUI_A_BAD));
    if (bw) tui_puts(stdscr, 0, COLS - tw - total - bw - 1, bw, badge, tui_attr(TUI_A_PAUSED));
}

void tui_frame_tabbar(tui_app *a)
{
    int y = 1;
    a->tab_y = a->tabbar ? 1 : -1;
    for (int v = 0; v < TUI_NVIEWS; v++) a->tab_x0[v] = a->tab_x1[v] = -1;
    if (!a->tabbar) return;
    tui_fill(stdscr, y, 0, COLS, 0);
    int nal = tui_model_alert_count(&a->model);
    char count[16] = "";
    if (nal) snprintf(count, sizeof count, "(%d)", nal);
    /* full names with room around them when they fit, else packed, else abbreviations */
    int need = 1, packed = 1;
    for (int v = 0; v < TUI_NVIEWS; v++) {
        need += (int)strlen(tui_views[v].name) + 5;
        packed += (int)strlen(tui_views[v].name) + 3;
    }
    int tight = need + (int)strlen(count) > COLS;
    int abbrev = packed + (int)strlen(count) > COLS;
    int x = tight ? 0 : 1;
    for (int v = 0; v < TUI_NVIEWS && x < COLS; v++) {
        char t[48];
        snprintf(t, sizeof t, tight ? " %d %s" : " %d %s ", v + 1, abbrev ? tui_views[v].abbrev : tui_views[v].name);
        a->tab_x0[v] = x;
        x += tui_puts(stdscr, y, x, COLS - x, t, tui_attr(v == a->view ? TUI_A_TAB_ACTIVE : TUI_A_TAB));
        if (v == TUI_V_ALERTS && nal) x += tui_puts(stdscr, y, x, COLS - x, count, tui_attr(TUI_A_WARN));
        a->tab_x1[v] = x;
        x += tight ? 0 : 1;
    }
    /* on the right: what the display is doing */
    char st[200] = "";
    if (a->model.paused) {
        char n[TUI_FMT_MAX];
        tui_fmt_count(n, sizeof n, tui_model_since_pause(&a->model));
        snprintf(st, sizeof st, "paused, +%s msgs ", n);
    } else if (tui_filter_on(&a->ctx.layers.filter) && tui_app_view_has_layers(a)) {
        snprintf(st, sizeof st, "/%s/ ", a->ctx.layers.filter.active);
    }
    int sw = tui_text_width(st);
    if (sw && x + sw + 1 <= COLS) tui_puts(stdscr, y, COLS - sw, sw, st, tui_attr(a->model.paused ? TUI_A_PAUSED : TUI_A_INPUT));
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

void tui_frame_footer(tui_app *a)
{
    int y = LINES - 1;
    tui_fill(stdscr, y, 0, COLS, tui_attr(TUI_A_FOOTER));
    tui_layersel *ls = &a->ctx.layers;
    if (ls->input) {                        /* the filter line */
        attr_t ia = tui_attr(TUI_A_INPUT);
        int x = tui_puts(stdscr, y, 0, COLS, "/", ia);
        x += tui_puts(stdscr, y, x, COLS - x, ls->filter.pattern, ia);
        x += tui_puts(stdscr, y, x, COLS - x, a->ascii ? "_" : "\u2581", ia | A_BLINK);
        char tail[220];
        if (ls->filter.err[0]) snprintf(tail, sizeof tail, "  invalid regex: %s", ls->filter.err);
        else snprintf(tail, sizeof tail, "  %d shown  Enter keep  Esc cancel", ls->nshown);
        tui_puts(stdscr, y, x, COLS - x, tail, ls->filter.err[0] ? tui_attr(TUI_A_BAD) : tui_attr(TUI_A_DIM));
        return;
    }
    char f[48];
    snprintf(f, sizeof f, "[%s] ", a->panel[a->focus]->cls->name);
    int fw = (int)strlen(f);
    int right = COLS - fw;
    if (a->ctx.msg[0] && a->ctx.now < a->ctx.msg_until) {
        tui_put(stdscr, y, 0, right, a->ctx.msg, a->ctx.msg_bad ? tui_attr(TUI_A_BAD) : tui_attr(TUI_A_INPUT), TUI_LEFT, a->ascii);
    } else {
        a->ctx.msg[0] = '\0';
        draw_hints(a, y, 0, right);
    }
    if (right >= 20) tui_puts(stdscr, y, right, fw, f, tui_attr(TUI_A_DIM));
}

/* The glossary: every column head in one line, with its formula (docs/metrics.md names them). */
static const char *const glossary[][2] = {
    { "health", "how learning goes: improving, plateau, overfitting, at chance, diverging, NaN loss" },
    { "since", "the step the health began (the low of val_loss for overfitting, of loss for diverging)" },
    { "problem", "a layer's: NaN, dead (zero gradient), upd>> / upd<< (update_ratio > 0.1 / < 1e-7), outlier" },
    { "st/s", "training steps per second" },
    { "probe", "what the probe costs: probe_ms as a share of the step time" },
    { "w_norm", "||W||, the weights' norm: growth or collapse" },
    { "g_norm", "||G||, the gradient's norm: exploding or vanishing gradients" },
    { "w_rms g_rms", "||W||/sqrt(n), ||G||/sqrt(n): comparable across layers" },
    { "upd_ratio", "update_ratio ||W - W_prev|| / ||W_prev||: ~1e-3 healthy, <1e-4 small, >1e-2 large" },
    { "upd_norm", "update_norm ||W - W_prev||: the real update, whatever the optimizer did" },
    { "angle", "angle between W_prev and W (radians): rotation per step" },
    { "ang_rows", "angle_rows: RMS over output rows of each row's angle" },
    { "gw_cos", "cos(-G, W): gradient-weight alignment; > 0: the step shrinks W" },
    { "gamma", "gamma_mean: mean over the batch of per-sample alignment" },
    { "dist_init", "||W - W_0||: distance from initialisation" },
    { "nonfinite", "NaN/Inf entries in W and G" },
    { "noise_sc", "noise_scale B_simple = tr(Sigma) / |G|^2: the critical batch size; n/a when the |G|^2 estimate is below 0" },
    { "norm_test", "sqrt(tr(Sigma) / (B ||G||^2)): > 1, the batch is too small" },
    { "alpha", "power-law exponent of the spectrum's tail: < 2 over-, 2-6 well, > 6 under-trained" },
    { "st_rank", "stable_rank sum(lambda) / lambda_max: directions that carry the weight" },
    { "n/a", "not defined for this layer (a spectrum of < 50 eigenvalues, ...); - : never sent" },
    { "sparkline", "the row's statistic over the steps, lowest to highest of that row; x: NaN/Inf" },
};

/* The help screen's lines: counted, and painted when they fall in the window [help_top, +rows). */
typedef struct {
    tui_app *a;
    int y0, rows, paint, line;
} help_out;

/* One entry: a label in its column (may be NULL), the text wrapped at the screen's width under itself. */
static void help_entry(help_out *o, int x, const char *label, int lw, attr_t la, const char *text, attr_t ta)
{
    int tx = label ? x + lw + 2 : x, tw = COLS - tx;
    if (tw < 10) tw = 10;
    int first = 1;
    do {
        int n = (int)strlen(text);
        if (tui_text_width(text) > tw) {     /* break at the last space that fits (bytes: the texts are ASCII) */
            n = tw < (int)strlen(text) ? tw : (int)strlen(text);
            while (n > 0 && text[n] != ' ') n--;
            if (n == 0) n = tw;
        }
        if (o->paint && o->line >= o->a->help_top && o->line - o->a->help_top < o->rows) {
            int y = o->y0 + o->line - o->a->help_top;
            char part[512];
            snprintf(part, sizeof part, "%.*s", n, text);
            if (label && first) tui_put(stdscr, y, x, lw, label, la, TUI_LEFT, o->a->ascii);
            tui_put(stdscr, y, tx, COLS - tx, part, ta, TUI_LEFT, o->a->ascii);
        }
        o->line++;
        text += n;
        while (*text == ' ') text++;
        first = 0;
    } while (*text);
}

/* The help screen: the key table by section, a glossary, then notes; j/k scroll it. */
static int help_lines(tui_app *a, int y0, int rows, int paint)
{
    help_out o = { a, y0, rows, paint, 0 };
    int lw = 0;
    for (int i = 0; i < tui_nkeys; i++) {
        int l = tui_text_width(tui_keys[i].label);
        if (l > lw) lw = l;
    }
    char path[1100];
    snprintf(path, sizeof path, "Settings: %s", a->cfg_path[0] ? a->cfg_path : "(not saved: no settings file)");
    const char *notes[] = {
        "NaN/Inf values are highlighted. In charts and sparklines, a mark (x or !) flags steps that carried "
        "NaN/Inf. Charts draw each bucket's min-max range (dim) under the line of its means: a one-step spike "
        "stays visible. A ~ before a cursor value: a bucket mean.",
        "Layer table: a value more than 3 robust deviations (1.4826 MAD) from its column's median is marked "
        "as an outlier; the filter is a POSIX extended regex (smart case).",
        "Wall time on the x axis is estimated from each run's steps/s.",
        path,
    };
    attr_t head = tui_attr(TUI_A_COLHEAD) | A_UNDERLINE;
    help_entry(&o, 0, NULL, 0, 0, "Keys", tui_attr(TUI_A_TITLE_FOCUS));
    for (int i = 0; i < tui_nkeys; i++) {
        const tui_key *k = &tui_keys[i];
        if (k->section) {
            o.line++;
            help_entry(&o, 0, NULL, 0, 0, k->section, head);
        }
        int off = !tui_key_in_view(k, a->view, a->cfg.vim) && k->vim != 0;
        help_entry(&o, 2, k->label, lw, off ? tui_attr(TUI_A_DIM) : tui_attr(TUI_A_COLHEAD), k->help, off ? tui_attr(TUI_A_DIM) : 0);
    }
    o.line++;
    help_entry(&o, 0, NULL, 0, 0, "Glossary (docs/metrics.md, docs/dashboard.md)", head);
    int gw = 0;
    for (size_t i = 0; i < sizeof glossary / sizeof glossary[0]; i++)
        if (tui_text_width(glossary[i][0]) > gw) gw = tui_text_width(glossary[i][0]);
    for (size_t i = 0; i < sizeof glossary / sizeof glossary[0]; i++)
        help_entry(&o, 2, glossary[i][0], gw, tui_attr(TUI_A_COLHEAD), glossary[i][1], 0);
    o.line++;
    for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++) help_entry(&o, 2, NULL, 0, 0, notes[i], 0);
    help_entry(&o, 2, NULL, 0, 0, "? q Esc: back to the dashboard; a view key (1-7) switches the view; other keys act as usual.",
               tui_attr(TUI_A_DIM));
    return o.line;
}

void tui_frame_help(tui_app *a)
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

void tui_frame_too_small(void)
{
    char msg[96];
    snprintf(msg, sizeof msg, "terminal too small (%dx%d), need at least %dx%d", COLS, LINES, TUI_MIN_W, TUI_MIN_H);
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

void tui_app_paint(tui_app *a)
{
    if (!a->color_init) tui_app_retheme(a);     /* a caller that set up curses itself (tests) */
    erase();
    if (COLS < TUI_MIN_W || LINES < TUI_MIN_H) {
        tui_frame_too_small();
        a->tab_y = -1;
        return;
    }
    tui_app_layout(a);
    a->ctx.health.now = a->ctx.now;
    tui_frame_header(a);
    tui_frame_tabbar(a);
    if (a->help) {
        tui_frame_help(a);
    } else {
        for (int i = 0; i < a->npanels; i++)
            if (a->panel[i]->visible) a->panel[i]->cls->paint(&a->ctx, a->panel[i]);
        /* side by side: a rule between */
        for (int i = 0; i < a->npanels; i++) {
            const tui_panel *p = a->panel[i];
            if (!p->visible || p->x + p->w >= COLS) continue;
            for (int j = 0; j < a->npanels; j++) {
                const tui_panel *q = a->panel[j];
                if (q->visible && q->x == p->x + p->w + 1 && q->y == p->y)
                    for (int y = p->y; y < p->y + p->h; y++) mvaddstr(y, p->x + p->w, a->ascii ? "|" : "\u2502");
            }
        }
        for (int i = 0; i < a->npanels; i++)        /* overlays a panel opened (the column chooser) */
            if (a->panel[i]->cls->overlay) a->panel[i]->cls->overlay(&a->ctx, a->panel[i]);
    }
    tui_frame_footer(a);
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

