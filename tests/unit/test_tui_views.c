/* tui views, rendered headless: a real collector fed with protocol messages, curses on a scratch
 * terminal (newterm on a temporary file), the screen read back. Every view at 40x12, 80x24, 120x40
 * and 200x60; the layer table's filter, sort, outlier and NaN highlights, column chooser and header
 * clicks; the heatmap's legend and readout; compare's stable run colours; pause freezing the display
 * while ingest goes on; the alerts view over the store's ring and its hook in the overview; help
 * scrolling; chart dot styles and the chart cursor. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "../../tui/core/app.h"
#include "../../tui/widgets/chart.h"
#include "../../tui/widgets/theme.h"
#include "../../metrics/layerstats.h"

/* A panel's time window (the main panel of its view). */
#define XV(a, id) (tui_app_panel((a), (id))->cls->xview(tui_app_panel((a), (id))))

typedef struct {
    tt_collector *c;
    SCREEN *scr;
    FILE *out, *in;
    char *buf;
    size_t cap;
    tui_app a;
    int have_app;
} fixture;

static void ingest(fixture *f, const char *msg)
{
    char err[256];
    if (tt_collector_ingest(f->c, msg, strlen(msg), err, sizeof err) != 0) fail_msg("ingest: %s", err);
}

static void run_start(fixture *f, const char *name, int nlayers)
{
    size_t n = 0, cap = f->cap;
    char *b = f->buf;
    n += (size_t)snprintf(b + n, cap - n, "{\"v\":1,\"type\":\"run_start\",\"run\":\"%s\",\"rank\":0,\"world\":1,\"pid\":7,"
                                          "\"host\":\"box\",\"stats\":[", name);
    for (int s = 0; s < TT_NSTATS; s++) n += (size_t)snprintf(b + n, cap - n, "%s\"%s\"", s ? "," : "", tt_stat_names[s]);
    n += (size_t)snprintf(b + n, cap - n, "],\"layers\":[");
    for (int l = 0; l < nlayers; l++)
        n += (size_t)snprintf(b + n, cap - n, "%s{\"name\":\"blk%d.%s\",\"rows\":8,\"cols\":8}", l ? "," : "", l / 2, l % 2 ? "bias" : "weight");
    snprintf(b + n, cap - n, "]}");
    ingest(f, b);
}

/* Steps [from, to] of a run; layer 3's g_norm is 50x the others' (an outlier); when nan_at > 0, layer
 * 1's g_norm is NaN at that step. */
static void steps(fixture *f, const char *name, int nlayers, int from, int to, int nan_at)
{
    size_t cap = f->cap;
    char *b = f->buf;
    for (int step = from; step <= to; step++) {
        size_t n = (size_t)snprintf(b, cap, "{\"v\":1,\"type\":\"step\",\"run\":\"%s\",\"rank\":0,\"step\":%d,\"scalars\":"
                                            "{\"loss\":%.6g,\"val_loss\":%.6g,\"lr\":0.01},\"layers\":[",
                                    name, step, 2.0 / (1 + 0.05 * step) + 0.02 * (step % 3), 2.2 / (1 + 0.04 * step));
        for (int l = 0; l < nlayers; l++) {
            n += (size_t)snprintf(b + n, cap - n, "%s[", l ? "," : "");
            for (int s = 0; s < TT_NSTATS; s++) {
                double v = (1 + 0.1 * (l % 5)) * (s + 1) * (1 + 0.001 * step);
                if (s == TT_G_NORM && l == 3) v *= 50;
                if (s == TT_NONFINITE) v = 0;
                if (s == TT_G_NORM && l == 1 && step == nan_at) n += (size_t)snprintf(b + n, cap - n, "%s\"NaN\"", s ? "," : "");
                else n += (size_t)snprintf(b + n, cap - n, "%s%.6g", s ? "," : "", v);
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
    snprintf(ep, sizeof ep, "inproc://tui-views-test-%d", seq++);
    tt_collector_opts o = { .endpoint = ep, .quiet = 1 };
    f->c = tt_collector_open(&o, err, sizeof err);
    if (!f->c) fail_msg("collector: %s", err);
    f->cap = 1 << 20;
    f->buf = malloc(f->cap);
    assert_non_null(f->buf);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->have_app) tui_app_free(&f->a);
    if (f->scr) {
        endwin();
        delscreen(f->scr);
    }
    if (f->out) fclose(f->out);
    if (f->in) fclose(f->in);
    tt_collector_close(f->c);
    free(f->buf);
    free(f);
    setlocale(LC_ALL, "C");
    return 0;
}

static void term_open(fixture *f, int cols, int lines)
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
}

static tui_app *app(fixture *f, int ascii)
{
    tui_opts o = { .title = "t", .ascii = ascii, .clock = "12:00:00" };
    assert_int_equal(tui_app_init(&f->a, f->c, &o, ascii), 0);
    f->have_app = 1;
    return &f->a;
}

/* Row y as UTF-8 (wide cells are read whole). */
static void row_text(int y, char *out, size_t n)
{
    size_t k = 0;
    for (int x = 0; x < COLS && k + 8 < n; x++) {
        cchar_t cc;
        wchar_t wch[CCHARW_MAX + 1];
        attr_t at;
        short pair;
        if (mvin_wch(y, x, &cc) != OK || getcchar(&cc, wch, &at, &pair, NULL) == ERR) { out[k++] = '?'; continue; }
        if (wch[0] < 0x80) { out[k++] = wch[0] ? (char)wch[0] : ' '; continue; }
        char mb[MB_LEN_MAX];
        mbstate_t st;
        memset(&st, 0, sizeof st);
        size_t m = wcrtomb(mb, wch[0], &st);
        if (m == (size_t)-1) { out[k++] = '?'; continue; }
        memcpy(out + k, mb, m);
        k += m;
    }
    out[k] = '\0';
}

static int find(const char *needle, int *row, int *col)
{
    char line[2048];
    for (int y = 0; y < LINES; y++) {
        row_text(y, line, sizeof line);
        char *p = strstr(line, needle);
        if (p) {
            if (row) *row = y;
            if (col) {               /* display column of the match: count characters before it */
                mbstate_t st;
                memset(&st, 0, sizeof st);
                int c = 0;
                for (const char *q = line; q < p;) {
                    size_t m = mbrlen(q, (size_t)(p - q), &st);
                    q += m == 0 || m > 4 ? 1 : m;
                    c++;
                }
                *col = c;
            }
            return 1;
        }
    }
    return 0;
}

static void dump(void)
{
    char line[2048];
    for (int y = 0; y < LINES; y++) {
        row_text(y, line, sizeof line);
        print_message("|%s|\n", line);
    }
}

static void expect(const char *needle)
{
    if (!find(needle, NULL, NULL)) {
        dump();
        fail_msg("\"%s\" is not on the screen", needle);
    }
}

static void expect_not(const char *needle)
{
    if (find(needle, NULL, NULL)) {
        dump();
        fail_msg("\"%s\" is on the screen", needle);
    }
}

static attr_t attr_at(int y, int x) { return (attr_t)(mvinch(y, x) & A_ATTRIBUTES); }

static void key(tui_app *a, const char *keys)
{
    for (const char *k = keys; *k; k++) tui_app_key(a, (unsigned char)*k);
}

/* ---- every view at every size ---- */

static void test_every_view_every_size(void **state)
{
    fixture *f = *state;
    setlocale(LC_ALL, "C.UTF-8");
    run_start(f, "alpha", 8);
    steps(f, "alpha", 8, 1, 150, 0);
    run_start(f, "beta", 8);
    steps(f, "beta", 8, 1, 120, 0);
    term_open(f, 80, 24);
    tui_app *a = app(f, 0);
    static const int sizes[][2] = { { 40, 12 }, { 80, 24 }, { 120, 40 }, { 200, 60 } };
    static const char *const marker[TUI_NVIEWS] = { "Runs (2)", "loss", "Layers (8)", "Heatmap of alpha", "Compare: loss", "No alerts",
                                                    "loaded; m/M" };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        resize_term(sizes[s][1], sizes[s][0]);
        for (int v = 0; v < TUI_NVIEWS; v++) {
            tui_app_key(a, '1' + v);
            assert_int_equal(a->view, v);
            tui_app_paint(a);
            expect(marker[v]);
            expect("12:00:00");                                  /* the frozen clock */
            if (sizes[s][1] >= 16) expect("6 Al");               /* the tab bar (short names when narrow) */
            else expect("[");                                    /* the header names the view */
        }
        tui_app_key(a, '?');
        tui_app_paint(a);
        expect("quit traintop");
        tui_app_key(a, 'j');                                     /* help scrolls, and stays */
        assert_int_equal(a->help, 1);
        assert_int_equal(a->help_top, 1);
        tui_app_key(a, 27);
        assert_int_equal(a->help, 0);
    }
    resize_term(9, 30);                                          /* too small, in every view */
    for (int v = 0; v < TUI_NVIEWS; v++) {
        tui_app_key(a, '1' + v);
        tui_app_paint(a);
        expect("too small");
    }
}

/* Any size, any view, with every overlay: nothing is drawn out of bounds (ASan/UBSan watch). */
static void test_any_size_any_view(void **state)
{
    fixture *f = *state;
    setlocale(LC_ALL, "C.UTF-8");
    run_start(f, "alpha", 12);
    steps(f, "alpha", 12, 1, 90, 60);
    run_start(f, "a-run-with-a-rather-long-name-indeed", 3);
    steps(f, "a-run-with-a-rather-long-name-indeed", 3, 1, 30, 0);
    term_open(f, 80, 24);
    tui_app *a = app(f, 0);
    tui_app_key(a, KEY_LEFT);
    for (int w = 1; w <= 221; w += 11)
        for (int h = 1; h <= 70; h += 7) {
            resize_term(h, w);
            for (int v = 0; v < TUI_NVIEWS; v++) {
                tui_app_key(a, '1' + v);
                tui_app_key(a, (w + h) % 2 ? KEY_LEFT : KEY_DOWN);
                tui_app_paint(a);
            }
            tui_app_key(a, '3');
            tui_app_key(a, 'c');
            tui_app_paint(a);
            tui_app_key(a, 27);
            tui_app_key(a, '/');
            tui_app_key(a, '(');
            tui_app_paint(a);
            tui_app_key(a, 27);
            tui_app_key(a, '?');
            tui_app_paint(a);
            tui_app_key(a, 27);
        }
}

/* ---- the layer table ---- */

static void test_layers_filter_sort_outliers(void **state)
{
    fixture *f = *state;
    run_start(f, "alpha", 8);
    steps(f, "alpha", 8, 1, 40, 40);
    term_open(f, 120, 40);
    tui_app *a = app(f, 1);
    tui_app_key(a, '3');
    tui_app_paint(a);
    expect("Layers (8) of alpha");
    /* the outlier: blk1.bias's g_norm, 50x the column's median */
    int y, x, yh, xh;
    assert_true(find("blk1.bias", &y, NULL));
    assert_true(find("g_norm", &yh, &xh));
    char line[2048];
    row_text(y, line, sizeof line);
    assert_true((attr_at(y, xh + 5) & tui_attr(TUI_A_OUTLIER)) == tui_attr(TUI_A_OUTLIER));
    assert_true(find("blk2.weight", &y, NULL));
    assert_false((attr_at(y, xh + 5) & tui_attr(TUI_A_OUTLIER)) == tui_attr(TUI_A_OUTLIER) && tui_attr(TUI_A_OUTLIER));
    /* NaN at the last step in blk0.bias: highlighted as bad */
    assert_true(find("blk0.bias", &y, NULL));
    row_text(y, line, sizeof line);
    assert_non_null(strstr(line, "nan"));
    assert_true(find("nan", &y, &x));
    assert_true((attr_at(y, x) & tui_attr(TUI_A_BAD)) == tui_attr(TUI_A_BAD));

    /* the filter narrows as it is typed; invalid regex: said, nothing breaks */
    key(a, "/bias");
    tui_app_paint(a);
    expect("Layers (4/8)");
    expect_not("blk0.weight");
    expect("4 shown");
    key(a, "|blk3(");
    tui_app_paint(a);
    expect("invalid regex");
    expect("Layers (5/8)");                                     /* the last valid one (bias|blk3) stays */
    tui_app_key(a, KEY_BACKSPACE);
    tui_app_paint(a);
    expect_not("invalid regex");
    expect("Layers (5/8)");
    tui_app_key(a, '\r');
    assert_int_equal(a->ctx.layers.input, 0);
    tui_app_key(a, 27);
    tui_app_paint(a);
    expect("Layers (8)");

    /* sort: s cycles (order, problems, name, the columns), the header shows the key, rows follow */
    key(a, "sss");
    tui_app_paint(a);
    expect("sort: w_norm");
    int y4, y0;
    assert_true(find("blk2.weight", &y4, NULL));                /* layer 4: (1 + 0.1·4) the largest w_norm */
    assert_true(find("blk0.weight", &y0, NULL));
    assert_true(y4 < y0);
    /* a click on a column head sorts by it; again reverses */
    assert_true(find("g_norm", &yh, &xh));
    tui_panel *p = tui_app_panel(a, "layers");
    tui_app_react(a, p->cls->click(&a->ctx, p, yh, xh + 2));
    assert_string_equal(a->ctx.layers.sort_key, "g_norm");
    assert_int_equal(a->ctx.layers.sort_rev, 0);
    tui_app_react(a, p->cls->click(&a->ctx, p, yh, xh + 2));
    assert_int_equal(a->ctx.layers.sort_rev, 1);

    /* the column chooser hides a column */
    tui_app_key(a, 'c');
    assert_int_equal(tui_app_modal(a), 1);
    tui_app_paint(a);
    expect("Columns: Space shows/hides");
    tui_app_key(a, ' ');                                        /* the first: w_norm */
    assert_true(tui_config_hidden(&a->cfg, "w_norm"));
    tui_app_key(a, 27);
    assert_int_equal(tui_app_modal(a), 0);
    tui_app_paint(a);
    assert_false(find(" w_norm ", NULL, NULL));
    for (int i = 0; i < a->ctx.layers.nlcols; i++) assert_string_not_equal(a->ctx.layers.lcols[i], "w_norm");

    /* Enter: the heatmap on this layer */
    tui_app_key(a, '\r');
    assert_int_equal(a->view, TUI_V_HEATMAP);
}

static void test_1000_layers_scroll_and_filter(void **state)
{
    fixture *f = *state;
    run_start(f, "big", 1000);
    steps(f, "big", 1000, 1, 5, 0);
    term_open(f, 80, 24);
    tui_app *a = app(f, 1);
    tui_app_key(a, '3');
    tui_app_paint(a);
    expect("Layers (1000)");
    tui_app_key(a, KEY_END);
    tui_app_paint(a);
    expect("blk499.bias");
    for (int i = 0; i < 30; i++) tui_app_key(a, KEY_RIGHT);   /* scroll the columns to the end, and back */
    tui_app_paint(a);
    expect("w_var");
    expect("<");                                                 /* columns hidden on the left */
    tui_app_key(a, KEY_HOME);
    key(a, "/^blk(12|77)\\.");
    tui_app_paint(a);
    expect("Layers (4/1000)");
    tui_app_key(a, '\r');
    tui_app_key(a, 27);
    tui_app_paint(a);
    expect("Layers (1000)");
}

/* ---- heatmap ---- */

static void test_heatmap(void **state)
{
    fixture *f = *state;
    run_start(f, "alpha", 6);
    steps(f, "alpha", 6, 1, 200, 120);
    term_open(f, 100, 30);
    tui_app *a = app(f, 1);
    tui_app_key(a, '4');
    tui_app_paint(a);
    expect("Heatmap of alpha: update_ratio");
    expect("log scale");                                         /* the legend */
    expect("update_ratio mean");                                 /* the readout of the latest cell */
    key(a, "m");
    tui_app_paint(a);
    expect("Heatmap of alpha: angle");                           /* the next statistic with data */
    key(a, "MMMMMM");
    tui_app_paint(a);
    expect("Heatmap of alpha: g_norm");
    expect("!");                                                 /* blk0.bias's NaN at step 120 */
    tui_app_key(a, 'y');
    tui_app_paint(a);
    expect("linear scale");
    tui_app_key(a, 'n');
    tui_app_paint(a);
    expect("per layer");
    tui_app_key(a, KEY_DOWN);                                    /* cursor: layer and step */
    tui_app_key(a, KEY_LEFT);
    tui_app_key(a, KEY_LEFT);
    tui_app_paint(a);
    assert_int_equal(a->ctx.layers.cur, 1);
    assert_true(XV(a, "heatmap")->cursor_on && XV(a, "heatmap")->cursor < 200);
    expect("blk0.bias  step");                                   /* readout: the layer, then the step(s) */
    tui_app_key(a, '+');                                         /* zoom the steps */
    tui_app_paint(a);
    assert_true(XV(a, "heatmap")->span > 0);
    key(a, "/weight");
    tui_app_key(a, '\r');
    tui_app_paint(a);
    expect_not("blk1.bias");
}

/* ---- compare ---- */

static void test_compare_colours(void **state)
{
    fixture *f = *state;
    const char *names[] = { "run-a", "run-b", "run-c" };
    for (int i = 0; i < 3; i++) {
        run_start(f, names[i], 2);
        steps(f, names[i], 2, 1, 60 + 20 * i, 0);
    }
    if (!setlocale(LC_ALL, "C.UTF-8")) skip();
    term_open(f, 120, 30);
    start_color();
    tui_app *a = app(f, 0);
    a->color = 1;
    tui_app_retheme(a);
    tui_app_key(a, '5');
    tui_app_paint(a);
    expect("Compare: loss");
    expect("all runs");
    /* a run's legend entry and its list swatch wear its own colour, whatever its position */
    for (int i = 0; i < 3; i++) {
        char lab[32];
        snprintf(lab, sizeof lab, "\u2501%s", names[i]);
        int y, x;
        assert_true(find(lab, &y, &x));
        attr_t want = tui_attr(tui_run_role(names[i])) & A_COLOR;
        assert_true((attr_at(y, x + 1) & A_COLOR) == want);
    }
    tui_app_key(a, KEY_DOWN);
    tui_app_key(a, ' ');                                         /* mark run-b only */
    tui_app_paint(a);
    expect("Runs (1 marked)");
    expect("\u2501run-b");
    expect_not("\u2501run-a");
    tui_app_key(a, 'm');
    tui_app_paint(a);
    expect("Compare: val_loss");
    tui_app_key(a, KEY_LEFT);                                    /* the cursor reads values */
    tui_app_paint(a);
    expect("cursor: step");
    assert_int_equal(tui_run_role("run-b"), tui_run_role("run-b"));
}

/* ---- pause ---- */

static void test_pause_freezes_display(void **state)
{
    fixture *f = *state;
    run_start(f, "alpha", 4);
    steps(f, "alpha", 4, 1, 50, 0);
    term_open(f, 120, 40);
    tui_app *a = app(f, 1);
    tui_app_key(a, '3');
    tui_app_paint(a);
    char before[2048], after[2048];
    int y;
    assert_true(find("blk1.weight", &y, NULL));
    row_text(y, before, sizeof before);
    tui_app_key(a, 'p');
    assert_int_equal(a->model.paused, 1);
    steps(f, "alpha", 4, 51, 120, 0);                            /* ingest goes on */
    run_start(f, "late", 2);
    tui_app_paint(a);
    expect("PAUSED");
    assert_true(find("blk1.weight", &y, NULL));
    row_text(y, after, sizeof after);
    assert_string_equal(before, after);                          /* values and sparkline: as at the pause */
    assert_int_equal(tui_model_step(&a->model, tui_app_run(a)), 50);
    tui_app_key(a, '1');
    tui_app_paint(a);
    expect("Runs (1, +1 since the pause)");
    expect_not("late");
    tui_app_key(a, 'p');
    assert_int_equal(a->model.paused, 0);
    tui_app_paint(a);
    expect("Runs (2)");
    expect("late");
    tui_app_key(a, '3');
    tui_app_paint(a);
    assert_true(find("blk1.weight", &y, NULL));
    row_text(y, after, sizeof after);
    assert_string_not_equal(before, after);
}

/* ---- alerts ---- */

static void test_alerts_view_and_hook(void **state)
{
    fixture *f = *state;
    run_start(f, "alpha", 2);
    steps(f, "alpha", 2, 1, 80, 0);
    run_start(f, "beta", 2);
    steps(f, "beta", 2, 1, 80, 0);
    term_open(f, 160, 30);                                       /* wide enough for the runs' alerts column */
    tui_app *a = app(f, 1);
    tui_app_key(a, '6');
    tui_app_paint(a);
    expect("No alerts");
    /* what the collector does when a rule fires (collectors/collector.c: act) */
    tt_store *st = tt_collector_store(f->c);
    const char *runs[] = { "alpha", "beta", "alpha" };
    for (int i = 0; i < 3; i++) {
        tt_store_alert *al = &st->alerts[st->alerts_n++ % TT_STORE_ALERTS];
        snprintf(al->run, sizeof al->run, "%s", runs[i]);
        snprintf(al->rule, sizeof al->rule, "rule%d", i);
        al->step = 10 + 20 * i;
        al->time = 0;
        al->stop = i == 2;
        snprintf(al->reason, sizeof al->reason, "reason number %d", i);
        tt_store_find(st, runs[i], 0)->alerts++;
    }
    tui_app_paint(a);
    expect("Alerts (3)");
    expect("6 Alerts (3)");
    int y2, y0;
    assert_true(find("reason number 2", &y2, NULL));             /* newest first */
    assert_true(find("reason number 0", &y0, NULL));
    assert_true(y2 < y0);
    expect("stop");
    tui_app_key(a, '\r');                                        /* the newest: alpha at step 50 */
    assert_int_equal(a->view, TUI_V_CHARTS);
    assert_string_equal(tui_app_run(a)->name, "alpha");
    assert_true(XV(a, "charts")->cursor_on && XV(a, "charts")->cursor == 50);
    tui_app_paint(a);
    expect("cursor: step 50");
    tui_app_key(a, '1');                                         /* the overview's alert counts */
    tui_app_paint(a);
    expect("alerts");
    int ya, xa;
    assert_true(find("alerts", &ya, &xa));
    char line[2048];
    int yr = -1;
    for (int y = ya + 1; y < LINES && yr < 0; y++) {
        row_text(y, line, sizeof line);
        if (strncmp(line, "alpha ", 6) == 0) yr = y;
    }
    assert_true(yr > ya);
    assert_true(line[xa + 5] == '2');                            /* right-aligned under "alerts" */
    assert_int_equal(tui_model_alerts(&a->model, tt_store_find(st, "beta", 0)), 1);
}

/* ---- charts: styles, log, cursor ---- */

static int count_glyphs(unsigned lo, unsigned hi)
{
    int n = 0;
    for (int y = 0; y < LINES; y++)
        for (int x = 0; x < COLS; x++) {
            cchar_t cc;
            wchar_t wch[CCHARW_MAX + 1];
            attr_t at;
            short pair;
            if (mvin_wch(y, x, &cc) != OK || getcchar(&cc, wch, &at, &pair, NULL) == ERR) continue;
            n += (unsigned)wch[0] >= lo && (unsigned)wch[0] <= hi;
        }
    return n;
}

/* The probe's cost: probe_ms (CPU) and probe_gpu_ms (CUPTI) as shares of the step time from steps/s,
 * both in the chart title. */
static void test_probe_share(void **state)
{
    fixture *f = *state;
    setlocale(LC_ALL, "C.UTF-8");
    const char *runs[] = { "gpurun", "cpurun" };
    for (int r = 0; r < 2; r++) {
        run_start(f, runs[r], 2);
        for (int step = 1; step <= 3; step++) {
            snprintf(f->buf, f->cap, "{\"v\":1,\"type\":\"step\",\"run\":\"%s\",\"rank\":0,\"step\":%d,"
                     "\"scalars\":{\"loss\":1.5,\"probe_ms\":0.2%s}}", runs[r], step, r ? "" : ",\"probe_gpu_ms\":0.5");
            ingest(f, f->buf);
        }
        tt_store_find(tt_collector_store(f->c), runs[r], 0)->steps_per_s = 100;   /* a 10 ms step */
    }
    term_open(f, 200, 60);
    tui_app *a = app(f, 0);
    tui_app_key(a, '2');
    tui_app_paint(a);
    expect("cpurun  step 3");                                    /* runs by name: cpurun first, no GPU scalar */
    expect("probe 2.0%");
    expect_not("gpu");
    assert_true(fabs(tui_model_probe_pct(&a->model, tt_store_find(tt_collector_store(f->c), "cpurun", 0)) - 2.0) < 1e-9);
    assert_true(isnan(tui_model_probe_gpu_pct(&a->model, tt_store_find(tt_collector_store(f->c), "cpurun", 0))));
    tui_app_key(a, ']');                                         /* the next run */
    tui_app_paint(a);
    expect("gpurun  step 3");
    expect("probe cpu 2.0% gpu 5.0%");
    assert_true(fabs(tui_model_probe_gpu_pct(&a->model, tt_store_find(tt_collector_store(f->c), "gpurun", 0)) - 5.0) < 1e-9);
}

/* A probe under its overhead budget publishes its achieved overhead on sampled steps: that is the
 * share shown, not the latest step's probe_ms (a sampled step costs far more than the others). */
static void test_probe_overhead_pct(void **state)
{
    fixture *f = *state;
    setlocale(LC_ALL, "C.UTF-8");
    run_start(f, "budgeted", 2);
    for (int step = 1; step <= 4; step++) {
        snprintf(f->buf, f->cap, "{\"v\":1,\"type\":\"step\",\"run\":\"budgeted\",\"rank\":0,\"step\":%d,"
                 "\"scalars\":{\"loss\":1.5,\"probe_ms\":%s%s}}", step, step == 3 ? "3.0" : "0.01",
                 step == 3 ? ",\"probe_overhead_pct\":1.7" : "");
        ingest(f, f->buf);
    }
    tt_run *r = tt_store_find(tt_collector_store(f->c), "budgeted", 0);
    r->steps_per_s = 100;
    term_open(f, 200, 60);
    tui_app *a = app(f, 0);
    tui_app_key(a, '2');
    tui_app_paint(a);
    expect("budgeted  step 4");
    expect("probe 1.7%");
    assert_true(fabs(tui_model_probe_pct(&a->model, r) - 1.7) < 1e-6);
}

static void test_chart_styles_and_cursor(void **state)
{
    fixture *f = *state;
    if (!setlocale(LC_ALL, "C.UTF-8")) skip();
    run_start(f, "alpha", 2);
    steps(f, "alpha", 2, 1, 300, 0);
    term_open(f, 120, 40);
    tui_app *a = app(f, 0);
    tui_app_key(a, '2');
    tui_app_paint(a);
    assert_true(count_glyphs(0x2801, 0x28ff) > 50);             /* braille */
    tui_app_key(a, 'b');
    assert_int_equal(tui_ctx_chart_style(&a->ctx), TUI_CHART_BLOCK);
    tui_app_paint(a);
    assert_true(count_glyphs(0x2596, 0x259f) + count_glyphs(0x2580, 0x2590) > 30);
    assert_int_equal(count_glyphs(0x2801, 0x28ff), 0);
    tui_app_key(a, 'b');
    assert_int_equal(tui_ctx_chart_style(&a->ctx), TUI_CHART_ASCII);
    tui_app_key(a, 'b');
    tui_app_key(a, 'y');                                         /* log y: decades on the axis */
    tui_app_paint(a);
    expect("y log");
    tui_app_key(a, 'x');                                         /* wall time needs steps/s: said */
    tui_app_paint(a);
    expect("x step (no steps/s yet)");
    tui_app_key(a, KEY_LEFT);
    tui_app_paint(a);
    expect("cursor: step 300");
    expect("\u250a");                                            /* the cursor column */
    for (int i = 0; i < 5; i++) tui_app_key(a, KEY_LEFT);
    tui_app_paint(a);
    assert_true(XV(a, "charts")->cursor < 300);
    expect("cursor: step 270");
    expect("loss 0.1379");                                       /* the legend reads the value at the cursor */
    tui_app_key(a, '+');
    tui_app_key(a, '+');
    tui_app_paint(a);
    expect("zoom");
    tui_app_key(a, '0');
    tui_app_paint(a);
    expect("(all, live)");
    assert_int_equal(XV(a, "charts")->cursor_on, 0);
}

int main(void)
{
    setenv("TERM", "xterm-256color", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_view_every_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_any_size_any_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layers_filter_sort_outliers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_1000_layers_scroll_and_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heatmap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compare_colours, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_freezes_display, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alerts_view_and_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chart_styles_and_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_overhead_pct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_share, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
