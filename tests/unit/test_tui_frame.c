/* tui frames, rendered headless: a real collector fed with protocol messages, curses on a scratch
 * terminal (newterm on a temporary file), and the screen read back. Checks what the end-to-end test
 * relies on — run and layer names visible at 80×24 — plus focus/sort keys, NaN highlighting, the
 * too-small notice, the Unicode path, and the cost of a 1000-layer frame. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "../../tui/core/app.h"
#include "../../tui/widgets/theme.h"
#include "../../metrics/layerstats.h"

static const char *const layer_names[] = { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias" };
static const char *const run_names[] = { "sgd-lr0.01", "sgd-lr0.05", "adamw-lr0.002" };

typedef struct {
    tt_collector *c;
    SCREEN *scr;
    FILE *out, *in;
    char *buf;
    size_t cap;
} fixture;

static void ingest(fixture *f, const char *msg)
{
    char err[256];
    if (tt_collector_ingest(f->c, msg, strlen(msg), err, sizeof err) != 0) fail_msg("ingest: %s", err);
}

/* A run with nlayers layers (the six fc names when nlayers == 6), steps 1..nsteps. When bad, the last
 * step carries a NaN g_norm and a nonzero nonfinite count in its second layer. */
static void add_run(fixture *f, const char *name, int nlayers, int nsteps, double lr, int bad)
{
    size_t n = 0, cap = f->cap;
    char *b = f->buf;
    n += (size_t)snprintf(b + n, cap - n,
                          "{\"v\":1,\"type\":\"run_start\",\"run\":\"%s\",\"rank\":0,\"world\":1,\"pid\":42,"
                          "\"host\":\"box\",\"hparams\":{\"lr\":%g,\"optimizer\":\"sgd\"},\"stats\":[",
                          name, lr);
    for (int s = 0; s < TT_NSTATS; s++) n += (size_t)snprintf(b + n, cap - n, "%s\"%s\"", s ? "," : "", tt_stat_names[s]);
    n += (size_t)snprintf(b + n, cap - n, "],\"layers\":[");
    for (int l = 0; l < nlayers; l++) {
        char ln[64];
        if (nlayers == 6) snprintf(ln, sizeof ln, "%s", layer_names[l]);
        else snprintf(ln, sizeof ln, "blocks.%d.mlp.fc%d.weight", l / 2, l % 2);
        n += (size_t)snprintf(b + n, cap - n, "%s{\"name\":\"%s\",\"rows\":64,\"cols\":32}", l ? "," : "", ln);
    }
    snprintf(b + n, cap - n, "]}");
    ingest(f, b);

    for (int step = 1; step <= nsteps; step++) {
        double loss = 2.3 * exp(-step * lr / 2) + 0.1 * sin(step);
        n = (size_t)snprintf(b, cap,
                             "{\"v\":1,\"type\":\"step\",\"run\":\"%s\",\"rank\":0,\"step\":%d,\"scalars\":"
                             "{\"loss\":%.6g,\"lr\":%g,\"train_acc\":%.4f",
                             name, step, loss, lr, 1 - loss / 3);
        if (step % 10 == 0)
            n += (size_t)snprintf(b + n, cap - n, ",\"val_loss\":%.6g,\"val_acc\":%.4f", loss * 1.2, 0.9 - loss / 4);
        n += (size_t)snprintf(b + n, cap - n, "},\"layers\":[");
        for (int l = 0; l < nlayers; l++) {
            n += (size_t)snprintf(b + n, cap - n, "%s[", l ? "," : "");
            for (int s = 0; s < TT_NSTATS; s++) {
                double v = (l + 1) * (s + 1) * (1 + 0.01 * step);
                if (s == TT_UPDATE_RATIO || s == TT_ANGLE || s == TT_ANGLE_ROWS) v = 1e-3 * (l + 1) / step;
                if (s == TT_NONFINITE) v = 0;
                if (bad && step == nsteps && l == 1 && s == TT_G_NORM) {
                    n += (size_t)snprintf(b + n, cap - n, "%s\"NaN\"", s ? "," : "");
                    continue;
                }
                if (bad && step == nsteps && l == 1 && s == TT_NONFINITE) v = 3;
                if ((s == TT_UPDATE_RATIO || s == TT_ANGLE || s == TT_ANGLE_ROWS) && step == 1)
                    n += (size_t)snprintf(b + n, cap - n, "%s\"NaN\"", s ? "," : "");
                else
                    n += (size_t)snprintf(b + n, cap - n, "%s%.6g", s ? "," : "", v);
            }
            n += (size_t)snprintf(b + n, cap - n, "]");
        }
        snprintf(b + n, cap - n, "]}");
        ingest(f, b);
    }
}

static int setup(void **state)
{
    static int seq;
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    char ep[64], err[256];
    snprintf(ep, sizeof ep, "inproc://tui-frame-test-%d", seq++);
    tt_collector_opts o = { .endpoint = ep, .quiet = 1 };
    f->c = tt_collector_open(&o, err, sizeof err);
    if (!f->c) fail_msg("collector: %s", err);
    f->cap = 2 << 20;
    f->buf = malloc(f->cap);
    assert_non_null(f->buf);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->scr) {
        endwin();
        delscreen(f->scr);
    }
    if (f->out) fclose(f->out);
    if (f->in) fclose(f->in);
    tt_collector_close(f->c);
    free(f->buf);
    free(f);
    return 0;
}

static void term_open(fixture *f, int cols, int lines, int color)
{
    f->out = tmpfile();
    f->in = fopen("/dev/null", "r");
    assert_non_null(f->out);
    assert_non_null(f->in);
    f->scr = newterm("xterm-256color", f->out, f->in);
    if (!f->scr) f->scr = newterm("xterm", f->out, f->in);
    assert_non_null(f->scr);
    set_term(f->scr);
    resize_term(lines, cols);
    if (color && has_colors()) {
        start_color();
        use_default_colors();
    }
}

/* Row y of the screen as ASCII (non-ASCII cells read as '?'). */
static void row_text(int y, char *out, int n)
{
    int w = COLS < n - 1 ? COLS : n - 1;
    for (int x = 0; x < w; x++) {
        cchar_t cc;
        wchar_t wch[CCHARW_MAX + 1];
        attr_t at;
        short pair;
        out[x] = '?';
        if (mvin_wch(y, x, &cc) == OK && getcchar(&cc, wch, &at, &pair, NULL) != ERR && wch[0] < 0x80)
            out[x] = wch[0] ? (char)wch[0] : ' ';
    }
    out[w] = '\0';
}

static int screen_find(const char *needle, int *row, int *col)
{
    char line[512];
    for (int y = 0; y < LINES; y++) {
        row_text(y, line, sizeof line);
        char *p = strstr(line, needle);
        if (p) {
            if (row) *row = y;
            if (col) *col = (int)(p - line);
            return 1;
        }
    }
    return 0;
}

static void dump_screen(void)
{
    char line[512];
    for (int y = 0; y < LINES; y++) {
        row_text(y, line, sizeof line);
        print_message("|%s|\n", line);
    }
}

static void expect_on_screen(const char *needle)
{
    if (!screen_find(needle, NULL, NULL)) {
        dump_screen();
        fail_msg("\"%s\" is not on the screen", needle);
    }
}

static void three_runs(fixture *f)
{
    add_run(f, run_names[0], 6, 120, 0.01, 0);
    add_run(f, run_names[1], 6, 120, 0.05, 1);
    add_run(f, run_names[2], 6, 120, 0.002, 0);
}

static void check_names(void)
{
    for (int i = 0; i < 3; i++) expect_on_screen(run_names[i]);
    for (int i = 0; i < 6; i++) expect_on_screen(layer_names[i]);
}

static void test_80x24_shows_runs_and_layers(void **state)
{
    fixture *f = *state;
    three_runs(f);
    term_open(f, 80, 24, 0);
    tui_app a;
    tui_opts o = { .title = "demo", .ascii = 1 };
    assert_int_equal(tui_app_init(&a, f->c, &o, 1), 0);
    tui_app_paint(&a);
    check_names();
    expect_on_screen("traintop - demo");
    expect_on_screen("w_norm");
    expect_on_screen("upd_ratio");
    expect_on_screen("val_acc");
    expect_on_screen("q Quit");
    tui_app_free(&a);
}

static void test_120x40_and_utf8(void **state)
{
    fixture *f = *state;
    three_runs(f);
    const char *loc = setlocale(LC_ALL, "C.UTF-8");
    term_open(f, 120, 40, 1);
    tui_app a;
    tui_opts o = { .title = "demo" };
    assert_int_equal(tui_app_init(&a, f->c, &o, loc == NULL), 0);
    a.color = 1;
    tui_app_paint(&a);
    check_names();
    expect_on_screen("hparams of");
    expect_on_screen("dist_init");                   /* a wider table shows more statistics */
    if (loc) {                                        /* braille dots and block sparklines were drawn */
        int braille = 0, blocks = 0;
        for (int y = 0; y < LINES; y++)
            for (int x = 0; x < COLS; x++) {
                cchar_t cc;
                wchar_t wch[CCHARW_MAX + 1];
                attr_t at;
                short pair;
                if (mvin_wch(y, x, &cc) != OK || getcchar(&cc, wch, &at, &pair, NULL) == ERR) continue;
                braille += wch[0] >= 0x2801 && wch[0] <= 0x28ff;
                blocks += wch[0] >= 0x2581 && wch[0] <= 0x2588;
            }
        assert_true(braille > 50);
        assert_true(blocks >= 6 * 10);
    }
    tui_app_free(&a);
    setlocale(LC_ALL, "C");
}

static void test_too_small(void **state)
{
    fixture *f = *state;
    three_runs(f);
    term_open(f, 39, 12, 0);
    tui_app a;
    assert_int_equal(tui_app_init(&a, f->c, NULL, 1), 0);
    tui_app_paint(&a);
    expect_on_screen("terminal too small (39x12)");
    resize_term(9, 60);
    tui_app_paint(&a);
    expect_on_screen("terminal too small (60x9), need at least 40x10");
    resize_term(10, 40);                              /* the minimum itself is a dashboard */
    tui_app_paint(&a);
    assert_false(screen_find("too small", NULL, NULL));
    expect_on_screen("traintop");
    resize_term(6, 20);
    tui_app_paint(&a);
    expect_on_screen("need at least 40x10");
    tui_app_free(&a);
}

static void test_keys_focus_sort_and_nan(void **state)
{
    fixture *f = *state;
    three_runs(f);
    term_open(f, 80, 24, 0);
    tui_app a;
    tui_opts o = { .ascii = 1 };
    assert_int_equal(tui_app_init(&a, f->c, &o, 1), 0);
    tui_app_paint(&a);
    assert_string_equal(tui_app_run(&a)->name, run_names[2]);   /* the runs are in name order: adamw… first */
    tui_app_key(&a, 'j');
    assert_string_equal(tui_app_run(&a)->name, run_names[0]);
    tui_app_key(&a, 'j');                             /* runs cursor: the third row, the run with the NaN */
    tui_app_paint(&a);
    assert_string_equal(tui_app_run(&a)->name, run_names[1]);
    expect_on_screen("nan");
    int y, x;
    assert_true(screen_find("nan", &y, &x));
    assert_true((mvinch(y, x) & A_ATTRIBUTES & tui_attr(TUI_A_BAD)) == tui_attr(TUI_A_BAD));

    tui_app_key(&a, '\r');                            /* Enter: the layer table takes the focus */
    assert_ptr_equal(a.panel[a.focus], tui_app_panel(&a, "layers"));
    tui_app_paint(&a);
    expect_on_screen("[Layers]");

    tui_app_key(&a, 's');                             /* problems */
    tui_app_key(&a, 's');                             /* name */
    tui_app_key(&a, 's');                             /* w_norm, largest first */
    tui_app_paint(&a);
    expect_on_screen("sort: w_norm");
    int yl, yf;
    assert_true(screen_find("fc3.bias", &yl, NULL));
    assert_true(screen_find("fc1.weight", &yf, NULL));
    assert_true(yl < yf);                             /* fc3.bias has the largest synthetic w_norm */
    tui_app_key(&a, 'S');
    tui_app_paint(&a);
    assert_true(screen_find("fc3.bias", &yl, NULL));
    assert_true(screen_find("fc1.weight", &yf, NULL));
    assert_true(yl > yf);

    tui_app_key(&a, 'G');                             /* cursor to the last row, then back up */
    tui_app_key(&a, 'k');
    tui_app_paint(&a);
    assert_true(a.ctx.layers.cur >= 0 && a.ctx.layers.cur < 6);

    tui_app_key(&a, '\t');                            /* Tab cycles past the charts (all fit) to runs */
    assert_ptr_equal(a.panel[a.focus], tui_app_panel(&a, "runs"));
    tui_app_key(&a, '?');
    tui_app_paint(&a);
    expect_on_screen("show or hide this help");
    tui_app_key(&a, 'x');
    assert_int_equal(a.help, 0);
    tui_app_free(&a);
}

static void test_empty_store(void **state)
{
    fixture *f = *state;
    term_open(f, 80, 24, 0);
    tui_app a;
    assert_int_equal(tui_app_init(&a, f->c, NULL, 1), 0);
    tui_app_paint(&a);
    expect_on_screen("waiting for runs");
    tui_app_key(&a, 'j');                             /* keys on an empty dashboard do nothing harmful */
    tui_app_key(&a, '\t');
    tui_app_key(&a, 's');
    tui_app_key(&a, KEY_END);
    tui_app_paint(&a);
    tui_app_free(&a);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_1000_layers_frame_cost(void **state)
{
    fixture *f = *state;
    add_run(f, "big", 1000, 30, 0.01, 0);
    term_open(f, 200, 60, 1);
    tui_app a;
    assert_int_equal(tui_app_init(&a, f->c, NULL, 1), 0);
    for (int i = 0; i < a.npanels; i++) if (a.panel[i] == tui_app_panel(&a, "layers")) a.focus = a.vfocus[a.view] = i;
    strcpy(a.ctx.layers.sort_key, "update_ratio");
    tui_app_paint(&a);
    expect_on_screen("Layers (1000)");
    int frames = 20;
    double t0 = mono();
    for (int i = 0; i < frames; i++) {
        tui_app_key(&a, 'j');
        tui_app_paint(&a);
        wnoutrefresh(stdscr);
    }
    double per = (mono() - t0) / frames;
    print_message("1000-layer frame at 200x60: %.3f ms\n", per * 1e3);
    assert_true(per < 0.05);                          /* the release target is 2 ms; ASan/UBSan cost ~10x */
    tui_app_free(&a);
}

int main(void)
{
    setenv("TERM", "xterm", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_80x24_shows_runs_and_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_120x40_and_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_small, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_focus_sort_and_nan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_1000_layers_frame_cost, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
