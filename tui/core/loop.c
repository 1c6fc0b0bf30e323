/* loop: tui_run — the terminal (set up, restored on every path, crash signals included), the signals
 * (handlers only set flags and wake the loop through a pipe), the settings file read at start, and the
 * poll loop over the collector's sockets, the keyboard and the clock. */
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
#include "keys.h"

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
/* The next byte of an escape sequence, already waiting (the screen reads without delay); -1: none. */
static int next_key(void *ud)
{
    (void)ud;
    int c = getch();
    return c == ERR ? -1 : c;
}

static void unget_key(int key, void *ud)
{
    (void)ud;
    ungetch(key);
}
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

static void handle_resize(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resize_term(ws.ws_row, ws.ws_col);
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
        if (v >= 0) {
            a->view = v;
            tui_app_mark_main(a);
        }
    }
    if (cerr[0]) tui_ctx_message(&a->ctx, 1, "settings: %s", cerr);

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
    a->bells_seen = a->model.st->bells;

    uint64_t drawn_version = 0;
    char drawn_title[256] = "";              /* the title as last drawn: on_tick may change it (attach's link) */
    int dirty = 1;                           /* a key, a resize or the clock asks for a frame */
    double now = mono(), last_draw = 0, next_tick = now + 1;
    double refresh = a->o.refresh_ms / 1000.0;
    a->ctx.now = now;
    if (a->ctx.msg[0]) a->ctx.msg_until = now + 2 * TUI_MSG_SECONDS;

    while (!a->quit && !g_stop) {
        if (a->o.on_tick && a->o.on_tick(a->o.ud)) break;
        if (a->o.title && strncmp(a->o.title, drawn_title, sizeof drawn_title - 1)) dirty = 1;   /* say it now */
        now = mono();
        if (now >= next_tick) {
            tt_collector_tick(c);
            next_tick = now + 1;
            dirty = 1;                       /* the clock and the stall states move */
        }
        if (a->model.st->bells > a->bells_seen) {  /* a rule asked for the terminal bell */
            a->bells_seen = a->model.st->bells;
            beep();
        }
        /* paused: data moves nothing on screen (only the header's counters, once a second) */
        int data_moved = !a->model.paused && a->model.st->version != drawn_version;
        if (dirty || (data_moved && now - last_draw >= refresh)) {
            a->ctx.now = now;
            tui_app_frame(a);
            if (a->o.title) snprintf(drawn_title, sizeof drawn_title, "%s", a->o.title);
            drawn_version = a->model.st->version;
            last_draw = now;
            dirty = 0;
            data_moved = 0;
        }

        struct pollfd pf[MAX_FDS + 3];
        int cfd[MAX_FDS];
        int ncfd = tt_collector_fds(c, cfd, MAX_FDS);
        if (ncfd < 0) ncfd = 0;
        int n = 0;
        pf[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
        pf[n++] = (struct pollfd){ .fd = g_wake[0], .events = POLLIN };
        for (int i = 0; i < ncfd; i++) pf[n++] = (struct pollfd){ .fd = cfd[i], .events = POLLIN };
        int extra = a->o.on_extra ? n : -1;
        if (extra >= 0) pf[n++] = (struct pollfd){ .fd = a->o.extra_fd, .events = POLLIN };
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
            for (int i = 2; i < n; i++) if (i != extra && pf[i].revents) readable = 1;
            if (readable) tt_collector_process(c, 10000);
            if (extra >= 0 && pf[extra].revents) a->o.on_extra(a->o.ud);
            if (pf[0].revents & (POLLHUP | POLLERR | POLLNVAL)) break;     /* the terminal went away */
            if (pf[0].revents & POLLIN) {
                int ch;
                a->ctx.now = mono();
                while ((ch = getch()) != ERR) {
                    if (ch == 27) ch = tui_key_escape(next_key, unget_key, NULL);   /* a sequence curses did not know: whole */
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
