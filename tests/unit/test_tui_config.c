/* cli/config: the settings file — defaults, every field parsed and validated (a bad field costs that
 * field only and names it), not-JSON refused, the atomic save (no temp left, unknown fields kept, a
 * file that is not JSON never overwritten), and a round trip. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tui/widgets/chart.h"
#include "../../cli/config.h"
#include "../../tui/views.h"

static void test_defaults(void **state)
{
    (void)state;
    tui_config c;
    tui_config_defaults(&c);
    assert_int_equal(c.light, 0);
    assert_int_equal(c.color, TUI_COLOR_AUTO);
    assert_int_equal(c.chart_style, TUI_CHART_BRAILLE);
    assert_int_equal(c.view, TUI_V_OVERVIEW);
    assert_int_equal(c.mouse, 1);
    assert_int_equal(c.vim, 0);
    assert_int_equal(c.refresh_ms, 200);
    assert_string_equal(c.heat_metric, "update_ratio");
    assert_string_equal(c.cmp_metric, "loss");
    assert_int_equal(c.heat_log, 1);
}

static void test_parse_all_fields(void **state)
{
    (void)state;
    tui_config c;
    tui_config_defaults(&c);
    char err[256];
    const char *text = "{\"version\":1,\"theme\":\"light\",\"color\":\"16\",\"chart_style\":\"block\",\"layout\":\"stacked\","
                       "\"view\":\"heatmap\",\"mouse\":false,\"refresh_ms\":500,\"keys\":{\"vim\":true},"
                       "\"layers\":{\"hidden\":[\"w_var\",\"g_rms\"],\"sort\":\"g_norm\",\"reverse\":true},"
                       "\"heatmap\":{\"metric\":\"gw_cos\",\"log\":false,\"scale\":\"row\"},"
                       "\"charts\":{\"log_y\":true,\"x\":\"time\"},\"compare\":{\"metric\":\"val_loss\"},\"future\":[1,2],"
                       "\"runs\":{\"sort\":\"health\",\"reverse\":true}}";
    assert_int_equal(tui_config_parse(&c, text, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(c.light, 1);
    assert_int_equal(c.color, TUI_COLOR_16);
    assert_int_equal(c.chart_style, TUI_CHART_BLOCK);
    assert_int_equal(c.layout, TUI_LAYOUT_STACKED);
    assert_int_equal(c.view, TUI_V_HEATMAP);
    assert_int_equal(c.mouse, 0);
    assert_int_equal(c.refresh_ms, 500);
    assert_int_equal(c.vim, 1);
    assert_int_equal(c.nhidden, 2);
    assert_true(tui_config_hidden(&c, "w_var") && tui_config_hidden(&c, "g_rms") && !tui_config_hidden(&c, "w_norm"));
    assert_string_equal(c.sort, "g_norm");
    assert_int_equal(c.sort_rev, 1);
    assert_string_equal(c.heat_metric, "gw_cos");
    assert_int_equal(c.heat_log, 0);
    assert_int_equal(c.heat_rows, 1);
    assert_int_equal(c.log_y, 1);
    assert_int_equal(c.x_time, 1);
    assert_string_equal(c.cmp_metric, "val_loss");
    assert_int_equal(c.run_sort, TUI_RSORT_HEALTH);
    assert_int_equal(c.run_sort_rev, 1);
}

static void test_bad_fields(void **state)
{
    (void)state;
    tui_config c;
    tui_config_defaults(&c);
    char err[256];
    /* one bad field: named, the others applied */
    assert_int_equal(tui_config_parse(&c, "{\"theme\":\"purple\",\"view\":\"layers\"}", err, sizeof err), 1);
    assert_non_null(strstr(err, "field \"theme\""));
    assert_non_null(strstr(err, "purple"));
    assert_null(strchr(err, '\n'));
    assert_int_equal(c.light, 0);
    assert_int_equal(c.view, TUI_V_LAYERS);
    /* several: the first named, the rest counted */
    tui_config_defaults(&c);
    assert_int_equal(tui_config_parse(&c, "{\"mouse\":\"yes\",\"refresh_ms\":1,\"keys\":{\"vim\":1},\"layers\":[]}", err, sizeof err), 1);
    assert_non_null(strstr(err, "field \"mouse\""));
    assert_non_null(strstr(err, "(+3 more)"));
    assert_int_equal(c.mouse, 1);
    assert_int_equal(c.refresh_ms, 200);
    /* nested names, types */
    const char *bad[] = {
        "{\"layers\":{\"hidden\":[1]}}", "layers.hidden",
        "{\"layers\":{\"sort\":7}}", "layers.sort",
        "{\"heatmap\":{\"metric\":\"\"}}", "heatmap.metric",
        "{\"charts\":{\"x\":\"wall\"}}", "charts.x",
        "{\"color\":256}", "color",
        "{\"version\":2}", "version",
        "{\"chart_style\":\"dots\"}", "chart_style",
        "{\"keys\":\"vim\"}", "keys",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i += 2) {
        tui_config_defaults(&c);
        assert_int_equal(tui_config_parse(&c, bad[i], err, sizeof err), 1);
        char want[64];
        snprintf(want, sizeof want, "field \"%s\"", bad[i + 1]);
        if (!strstr(err, want)) fail_msg("%s: \"%s\" does not name %s", bad[i], err, want);
    }
}

static void test_not_json(void **state)
{
    (void)state;
    tui_config c, d;
    tui_config_defaults(&c);
    d = c;
    char err[256];
    assert_int_equal(tui_config_parse(&c, "{\"theme\": \"light\",\n \"view\": ", err, sizeof err), -1);
    assert_non_null(strstr(err, "not valid JSON"));
    assert_int_equal(memcmp(&c, &d, sizeof c), 0);         /* untouched */
    assert_int_equal(tui_config_parse(&c, "[1,2]", err, sizeof err), -1);
    assert_int_equal(tui_config_parse(&c, "", err, sizeof err), -1);
    assert_int_equal(tui_config_parse(&c, NULL, err, sizeof err), -1);
}

static char g_dir[256];

static int dir_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/tt-cfg-test.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int dir_teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void test_save_load_roundtrip(void **state)
{
    (void)state;
    char path[400], sub[320], err[512];
    snprintf(sub, sizeof sub, "%s/a/b/traintop", g_dir);
    snprintf(path, sizeof path, "%s/config.json", sub);
    tui_config c, d;
    tui_config_defaults(&c);
    c.light = 1;
    c.chart_style = TUI_CHART_ASCII;
    c.view = TUI_V_COMPARE;
    c.vim = 1;
    tui_config_toggle_hidden(&c, "w_var");
    snprintf(c.sort, sizeof c.sort, "update_ratio");
    c.x_time = 1;
    c.run_sort = TUI_RSORT_VLOSS;
    assert_int_equal(tui_config_save(&c, path, err, sizeof err), 0);      /* creates the directories */
    struct stat sb;
    assert_int_equal(stat(sub, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(entries(sub), 1);                                      /* no temp file left */
    tui_config_defaults(&d);
    assert_int_equal(tui_config_load(&d, path, err, sizeof err), 0);
    assert_int_equal(d.light, 1);
    assert_int_equal(d.chart_style, TUI_CHART_ASCII);
    assert_int_equal(d.view, TUI_V_COMPARE);
    assert_int_equal(d.vim, 1);
    assert_true(tui_config_hidden(&d, "w_var"));
    assert_int_equal(d.run_sort, TUI_RSORT_VLOSS);                         /* the runs' order, kept across starts */
    assert_string_equal(d.sort, "update_ratio");
    assert_int_equal(d.x_time, 1);
    assert_int_equal(tui_config_toggle_hidden(&d, "w_var"), 0);            /* toggles back */
    assert_false(tui_config_hidden(&d, "w_var"));

    /* unknown fields survive a save; a nested object keeps its other members */
    write_file(path, "{\"theme\":\"dark\",\"mine\":{\"x\":1},\"keys\":{\"vim\":false,\"other\":3}}");
    c.light = 0;
    assert_int_equal(tui_config_save(&c, path, err, sizeof err), 0);
    const char *t = read_all(path);
    assert_non_null(strstr(t, "\"mine\""));
    assert_non_null(strstr(t, "\"other\""));

    /* a file that is not JSON is left alone */
    write_file(path, "{\"theme\": ");
    assert_int_equal(tui_config_save(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "not saved"));
    assert_string_equal(read_all(path), "{\"theme\": ");
    assert_int_equal(tui_config_load(&d, path, err, sizeof err), -1);
    assert_non_null(strstr(err, path));                                     /* the line names the file */
    assert_int_equal(entries(sub), 1);

    /* a missing file is no error */
    char missing[420];
    snprintf(missing, sizeof missing, "%s/none.json", g_dir);
    assert_int_equal(tui_config_load(&d, missing, err, sizeof err), 0);

    /* a FIFO in its place is refused at once (nothing blocks waiting for a writer), in one line */
    char fifo[420];
    snprintf(fifo, sizeof fifo, "%s/fifo.json", g_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(tui_config_load(&d, fifo, err, sizeof err), -1);
    assert_non_null(strstr(err, "fifo.json: expected a regular file"));
    unlink(fifo);
}

static void test_path(void **state)
{
    (void)state;
    char p[512];
    setenv("XDG_CONFIG_HOME", "/x/cfg", 1);
    assert_int_equal(tui_config_path(p, sizeof p), 0);
    assert_string_equal(p, "/x/cfg/traintop/config.json");
    setenv("XDG_CONFIG_HOME", "relative", 1);                               /* not absolute: ignored */
    setenv("HOME", "/home/u", 1);
    assert_int_equal(tui_config_path(p, sizeof p), 0);
    assert_string_equal(p, "/home/u/.config/traintop/config.json");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    assert_int_equal(tui_config_path(p, sizeof p), -1);
    assert_int_equal(tui_view_by_name("alerts"), TUI_V_ALERTS);
    assert_int_equal(tui_view_by_name("nope"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse_all_fields),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test_setup_teardown(test_save_load_roundtrip, dir_setup, dir_teardown),
        cmocka_unit_test(test_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
