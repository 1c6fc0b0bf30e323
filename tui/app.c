/* app: tui_run — terminal setup and teardown, signals, the poll loop over the collector's sockets and
 * the keyboard, the layout, and the frame (header, panels, footer, help, too-small notice). */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
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
#include "fmt.h"
#include "keys.h"
#include "theme.h"

#define MIN_W 40
#define MIN_H 10
#define WIDE_W 110           /* from this width on, runs and charts sit side by side */
#define MAX_FDS 16

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

void tui_app_select_run(tui_app *a, int i)
{
    if (i < 0 || i >= a->st->nruns) {
        a->run_cur = -1;
        a->run_name[0] = '\0';
        return;
    }
    const tt_run *r = a->st->runs[i];
    a->run_cur = i;
    snprintf(a->run_name, sizeof a->run_name, "%s", r->name);
    a->run_rank = r->rank;
    a->layer_cur = 0;
    a->layer_top = 0;
    a->chart_top = 0;
}

tt_run *tui_app_run(tui_app *a)
{
    tt_store *st = a->st;
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
    if (st->nruns > 0) {
        tui_app_select_run(a, a->run_cur >= 0 && a->run_cur < st->nruns ? a->run_cur : 0);
        return st->runs[a->run_cur];
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

/* ---- layout ---- */

static void place(tui_panel *p, int y, int x, int h, int w)
{
    p->y = y;
    p->x = x;
    p->h = h;
    p->w = w;
    p->visible = h >= 2 && w >= 10;
}

static int runs_natural_width(const tt_store *st)
{
    int name = 6;
    for (int i = 0; i < st->nruns; i++) {
        int w = tui_text_width(st->runs[i]->name) + (st->runs[i]->world > 1 ? 4 : 0);
        if (w > name) name = w;
    }
    return name + 39;        /* state, step, st/s, loss, val_acc and their gaps */
}

static void layout(tui_app *a)
{
    int W = COLS, H = LINES, body = H - 2;
    tt_run *r = tui_app_run(a);
    int nl = r ? r->nlayers : 0;
    int nr = a->st->nruns;
    tui_panel *pr = &a->panel[TUI_P_RUNS], *pc = &a->panel[TUI_P_CHARTS], *pl = &a->panel[TUI_P_LAYERS];

    if (W >= WIDE_W) {
        int lh = nl + 2 < 5 ? 5 : nl + 2;
        if (lh > body / 2) lh = body / 2;
        int top = body - lh;
        int rw = runs_natural_width(a->st);
        if (rw > W * 45 / 100) rw = W * 45 / 100;
        if (rw < 36) rw = 36;
        place(pr, 1, 0, top, rw);
        place(pc, 1, rw + 1, top, W - rw - 1);
        place(pl, 1 + top, 0, lh, W);
    } else {
        int rh = (nr < 1 ? 1 : nr) + 2;
        int rmax = body / 4 + 1 < 4 ? 4 : body / 4 + 1;
        if (rh > rmax) rh = rmax;
        int lh = nl + 2 < 5 ? 5 : nl + 2;
        int lmax = (body - rh) / 2 < 5 ? 5 : (body - rh) / 2;
        if (lh > lmax) lh = lmax;
        int ch = body - rh - lh;
        if (ch < 5) {                       /* short terminal: charts shrink, then go */
            lh = body - rh - 5;
            if (lh < 4) { lh = body - rh; ch = 0; }
            else ch = 5;
        }
        place(pr, 1, 0, rh, W);
        place(pc, 1 + rh, 0, ch, W);
        place(pl, 1 + rh + ch, 0, lh, W);
    }
    if (!a->panel[a->focus].visible) a->focus = TUI_P_RUNS;
}

/* ---- frame ---- */

static void draw_header(tui_app *a)
{
    attr_t ha = tui_attr(TUI_A_HEADER);
    tui_fill(stdscr, 0, 0, COLS, ha);
    char left[256], right[256], clock[16];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(clock, sizeof clock, "%H:%M:%S", &tm);
    snprintf(left, sizeof left, " traintop%s%s", a->o.title && a->o.title[0] ? " - " : "",
             a->o.title ? a->o.title : "");
    tt_collector_counters k;
    memset(&k, 0, sizeof k);
    tt_collector_get_counters(a->c, &k);
    char msgs[TUI_FMT_MAX], rej[TUI_FMT_MAX], rec[TUI_FMT_MAX];
    tui_fmt_count(msgs, sizeof msgs, k.accepted);
    tui_fmt_count(rej, sizeof rej, k.rejected);
    tui_fmt_count(rec, sizeof rec, k.layer_records);
    snprintf(right, sizeof right, "runs %d  msgs %s  rej %s  layer rec %s  %s ", a->st->nruns, msgs, rej, rec, clock);
    int lw = tui_text_width(left), rw = tui_text_width(right);
    if (lw + 2 + rw > COLS) {
        snprintf(right, sizeof right, "runs %d  msgs %s  %s ", a->st->nruns, msgs, clock);
        rw = tui_text_width(right);
    }
    if (lw + 2 + rw > COLS) {
        snprintf(right, sizeof right, "%s ", clock);
        rw = tui_text_width(right);
    }
    tui_puts(stdscr, 0, 0, COLS, left, ha | A_BOLD);
    if (lw + 1 + rw <= COLS) tui_puts(stdscr, 0, COLS - rw, rw, right, ha);
    if (k.rejected > 0 && lw + 1 + rw <= COLS) {      /* rejected messages deserve attention */
        const char *p = strstr(right, "rej ");
        if (p) tui_puts(stdscr, 0, COLS - rw + (int)(p - right), 4 + (int)strlen(rej), p, tui_attr(TUI_A_BAD));
    }
}

static void draw_footer(tui_app *a)
{
    int y = LINES - 1, x = 0;
    tui_fill(stdscr, y, 0, COLS, tui_attr(TUI_A_FOOTER));
    for (int i = 0; i < tui_nkeys; i++) {
        const tui_key *k = &tui_keys[i];
        if (!k->fkey) continue;
        int need = tui_text_width(k->fkey) + tui_text_width(k->hint) + 1;
        if (x + need > COLS) break;
        x += tui_puts(stdscr, y, x, COLS - x, k->fkey, tui_attr(TUI_A_FOOTER_KEY));
        x += tui_puts(stdscr, y, x, COLS - x, " ", tui_attr(TUI_A_FOOTER));
        x += tui_puts(stdscr, y, x, COLS - x, k->hint, tui_attr(TUI_A_FOOTER));
        x += tui_puts(stdscr, y, x, COLS - x, "  ", tui_attr(TUI_A_FOOTER));
    }
    char f[48];
    snprintf(f, sizeof f, "[%s] ", a->panel[a->focus].cls->name);
    int fw = (int)strlen(f);
    if (x + fw <= COLS) tui_puts(stdscr, y, COLS - fw, fw, f, tui_attr(TUI_A_DIM));
}

static void draw_help(tui_app *a)
{
    int w = COLS, y = 1;
    for (int r = 1; r < LINES - 1; r++) tui_fill(stdscr, r, 0, w, 0);
    tui_put(stdscr, y++, 0, w, "Keys", tui_attr(TUI_A_TITLE_FOCUS), TUI_LEFT, a->ascii);
    int lw = 0;
    for (int i = 0; i < tui_nkeys; i++) {
        int l = tui_text_width(tui_keys[i].label);
        if (l > lw) lw = l;
    }
    for (int i = 0; i < tui_nkeys && y < LINES - 1; i++, y++) {
        tui_put(stdscr, y, 2, lw, tui_keys[i].label, tui_attr(TUI_A_COLHEAD), TUI_LEFT, a->ascii);
        tui_put(stdscr, y, 4 + lw, w - 4 - lw, tui_keys[i].help, 0, TUI_LEFT, a->ascii);
    }
    static const char *const notes[] = {
        "",
        "NaN/Inf values are highlighted. In charts and sparklines, a mark (x or !)",
        "flags steps that carried NaN/Inf. Charts draw each bucket's min-max range",
        "(dim) under the line of its means: a one-step spike stays visible.",
        "",
        "Press any key to return.",
    };
    for (size_t i = 0; i < sizeof notes / sizeof notes[0] && y < LINES - 1; i++, y++)
        tui_put(stdscr, y, 2, w - 2, notes[i], tui_attr(i + 1 == sizeof notes / sizeof notes[0] ? TUI_A_DIM : TUI_A_NORMAL),
                TUI_LEFT, a->ascii);
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

int tui_app_init(tui_app *a, tt_collector *c, const tui_opts *o, int force_ascii)
{
    memset(a, 0, sizeof *a);
    a->c = c;
    a->st = c ? tt_collector_store(c) : NULL;
    if (o) a->o = *o;
    if (a->o.refresh_ms <= 0) a->o.refresh_ms = 200;
    a->ascii = a->o.ascii || force_ascii;
    a->run_cur = -1;
    a->focus = TUI_P_RUNS;
    a->panel[TUI_P_RUNS].cls = &tui_panel_runs;
    a->panel[TUI_P_CHARTS].cls = &tui_panel_charts;
    a->panel[TUI_P_LAYERS].cls = &tui_panel_layers;
    return a->st ? 0 : -1;
}

void tui_app_free(tui_app *a)
{
    tui_buf_free(&a->order);
    tui_buf_free(&a->chart_buf);
    tui_buf_free(&a->spark_buf);
}

void tui_app_paint(tui_app *a)
{
    if (!a->color_init) {           /* a caller that set up curses itself (tests) */
        tui_theme_init(a->color);
        a->color_init = 1;
    }
    erase();
    if (COLS < MIN_W || LINES < MIN_H) {
        draw_too_small();
    } else {
        layout(a);
        draw_header(a);
        if (a->help) {
            draw_help(a);
        } else {
            for (int i = 0; i < TUI_NPANELS; i++)
                if (a->panel[i].visible) a->panel[i].cls->paint(a, &a->panel[i]);
            const tui_panel *pr = &a->panel[TUI_P_RUNS];
            if (pr->visible && pr->x + pr->w < COLS)       /* side by side: a rule between */
                for (int y = pr->y; y < pr->y + pr->h; y++)
                    mvaddstr(y, pr->x + pr->w, a->ascii ? "|" : "\u2502");
        }
        draw_footer(a);
    }
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
    if (a->help) {               /* any key leaves the help screen */
        a->help = 0;
        return;
    }
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
    if (!a->o.no_color && !(nc && nc[0]) && has_colors()) {
        start_color();
        use_default_colors();
        a->color = 1;
    }
    tui_theme_init(a->color);
    a->color_init = 1;

    uint64_t drawn_version = 0;
    int dirty = 1;                           /* a key, a resize or the clock asks for a frame */
    double now = mono(), last_draw = 0, next_tick = now + 1;
    double refresh = a->o.refresh_ms / 1000.0;

    while (!a->quit && !g_stop) {
        if (a->o.on_tick && a->o.on_tick(a->o.ud)) break;
        now = mono();
        if (now >= next_tick) {
            tt_collector_tick(c);
            next_tick = now + 1;
            dirty = 1;                       /* the clock and the stall states move */
        }
        int data_moved = a->st->version != drawn_version;
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
    endwin();
    delscreen(scr);
    signals_restore();
    close(g_wake[0]);
    close(g_wake[1]);
    g_wake[0] = g_wake[1] = -1;
    tui_app_free(a);
    return 0;
}
