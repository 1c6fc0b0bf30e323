/* config: cJSON in, cJSON out. Validation is per field, so one typo costs that field only. */
#include "config.h"
#include "../tui/widgets/chart.h"
#include "../tui/views.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tui_config_path(char *out, size_t len)
{
    const char *x = getenv("XDG_CONFIG_HOME");
    int n;
    if (x && x[0] == '/') n = snprintf(out, len, "%s/traintop/config.json", x);
    else {
        const char *h = getenv("HOME");
        if (!h || !h[0]) return -1;
        n = snprintf(out, len, "%s/.config/traintop/config.json", h);
    }
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* ---- parsing ---- */

typedef struct {
    char *err;
    size_t errlen;
    int bad;
} problems;

static void problem(problems *p, const char *fmt, ...)
{
    if (p->bad++ == 0 && p->err && p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
    }
}

/* One of names (NULL-terminated) as an index; -2 absent, -1 wrong (reported). */
static int enum_field(problems *p, const cJSON *obj, const char *path, const char *key, const char *const *names)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) return -2;
    char allowed[160] = "";
    size_t n = 0;
    int count = 0;
    for (int i = 0; names[i]; i++) count++;
    for (int i = 0; names[i]; i++)
        n += (size_t)snprintf(allowed + n, n < sizeof allowed ? sizeof allowed - n : 0, "%s\"%s\"",
                              i == 0 ? "" : i == count - 1 ? " or " : ", ", names[i]);
    if (!cJSON_IsString(it)) {
        problem(p, "field \"%s\": expected %s, not a %s", path, allowed, cJSON_IsNumber(it) ? "number" : "non-string");
        return -1;
    }
    for (int i = 0; names[i]; i++) if (strcmp(names[i], it->valuestring) == 0) return i;
    problem(p, "field \"%s\": expected %s, got \"%.40s\"", path, allowed, it->valuestring);
    return -1;
}

static void bool_field(problems *p, const cJSON *obj, const char *path, const char *key, int *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) return;
    if (!cJSON_IsBool(it)) { problem(p, "field \"%s\": expected true or false", path); return; }
    *out = cJSON_IsTrue(it);
}


static void name_field(problems *p, const cJSON *obj, const char *path, const char *key, char *out, int allow_empty)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) return;
    if (!cJSON_IsString(it) || (!tui_config_valid_name(it->valuestring) && !(allow_empty && !it->valuestring[0]))) {
        problem(p, "field \"%s\": expected a metric name (a string of 1 to %d characters)", path, TUI_CFG_NAME - 1);
        return;
    }
    snprintf(out, TUI_CFG_NAME, "%s", it->valuestring);
}

static const cJSON *object_field(problems *p, const cJSON *root, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it) return NULL;
    if (!cJSON_IsObject(it)) { problem(p, "field \"%s\": expected an object", key); return NULL; }
    return it;
}

static int json_line(const char *text, const char *at)
{
    int line = 1;
    for (const char *q = text; q && at && q < at && *q; q++) line += *q == '\n';
    return line;
}

int tui_config_parse(tui_config *c, const char *text, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!text) text = "";
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        if (err) {
            if (!root) snprintf(err, errlen, "not valid JSON (line %d)", json_line(text, end ? end : cJSON_GetErrorPtr()));
            else snprintf(err, errlen, "expected a JSON object at the top");
        }
        cJSON_Delete(root);
        return -1;
    }
    problems p = { err, errlen, 0 };
    tui_config n = *c;
    static const char *const themes[] = { "dark", "light", NULL };
    static const char *const colors[] = { "auto", "256", "16", "mono", NULL };
    static const char *const styles[] = { "braille", "ascii", "block", NULL };   /* TUI_CHART_* order */
    static const char *const layouts[] = { "auto", "side", "stacked", NULL };
    static const char *const xs[] = { "step", "time", NULL };
    const char *views[TUI_NVIEWS + 1];
    for (int i = 0; i < TUI_NVIEWS; i++) views[i] = tui_view_names[i];
    views[TUI_NVIEWS] = NULL;

    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (ver && (!cJSON_IsNumber(ver) || ver->valuedouble != 1)) problem(&p, "field \"version\": expected 1");
    int v;
    if ((v = enum_field(&p, root, "theme", "theme", themes)) >= 0) n.light = v;
    if ((v = enum_field(&p, root, "color", "color", colors)) >= 0) n.color = (tui_color_mode)v;
    if ((v = enum_field(&p, root, "chart_style", "chart_style", styles)) >= 0) n.chart_style = v;
    if ((v = enum_field(&p, root, "layout", "layout", layouts)) >= 0) n.layout = (tui_layout_mode)v;
    if ((v = enum_field(&p, root, "view", "view", views)) >= 0) n.view = v;
    bool_field(&p, root, "mouse", "mouse", &n.mouse);
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(root, "refresh_ms");
    if (rm) {
        if (!cJSON_IsNumber(rm) || rm->valuedouble < 50 || rm->valuedouble > 5000)
            problem(&p, "field \"refresh_ms\": expected a number from 50 to 5000");
        else n.refresh_ms = (int)rm->valuedouble;
    }
    const cJSON *o;
    if ((o = object_field(&p, root, "keys"))) bool_field(&p, o, "keys.vim", "vim", &n.vim);
    if ((o = object_field(&p, root, "layers"))) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "hidden");
        if (h) {
            int okh = cJSON_IsArray(h) && cJSON_GetArraySize(h) <= TUI_CFG_MAX_HIDDEN;
            for (const cJSON *e = okh ? h->child : NULL; e; e = e->next)
                if (!cJSON_IsString(e) || !tui_config_valid_name(e->valuestring)) okh = 0;
            if (!okh) problem(&p, "field \"layers.hidden\": expected an array of at most %d statistic names", TUI_CFG_MAX_HIDDEN);
            else {
                n.nhidden = 0;
                for (const cJSON *e = h->child; e; e = e->next) snprintf(n.hidden[n.nhidden++], TUI_CFG_NAME, "%s", e->valuestring);
            }
        }
        name_field(&p, o, "layers.sort", "sort", n.sort, 1);
        bool_field(&p, o, "layers.reverse", "reverse", &n.sort_rev);
    }
    if ((o = object_field(&p, root, "heatmap"))) {
        name_field(&p, o, "heatmap.metric", "metric", n.heat_metric, 0);
        bool_field(&p, o, "heatmap.log", "log", &n.heat_log);
        static const char *const scales[] = { "all", "row", NULL };
        if ((v = enum_field(&p, o, "heatmap.scale", "scale", scales)) >= 0) n.heat_rows = v;
    }
    if ((o = object_field(&p, root, "charts"))) {
        bool_field(&p, o, "charts.log_y", "log_y", &n.log_y);
        if ((v = enum_field(&p, o, "charts.x", "x", xs)) >= 0) n.x_time = v;
    }
    if ((o = object_field(&p, root, "compare"))) name_field(&p, o, "compare.metric", "metric", n.cmp_metric, 0);
    if ((o = object_field(&p, root, "runs"))) {
        if ((v = enum_field(&p, o, "runs.sort", "sort", tui_run_sort_names)) >= 0) n.run_sort = v;
        bool_field(&p, o, "runs.reverse", "reverse", &n.run_sort_rev);
    }
    cJSON_Delete(root);
    *c = n;
    if (p.bad > 1 && err && errlen) {
        size_t l = strlen(err);
        snprintf(err + l, errlen - l, " (+%d more)", p.bad - 1);
    }
    return p.bad ? 1 : 0;
}

static char *read_file(const char *path, int *missing)
{
    *missing = 0;
    /* a FIFO or a device in its place must neither block the dashboard nor be read forever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0) { *missing = errno == ENOENT; return NULL; }
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) { close(fd); *missing = 2; return NULL; }   /* 2: not a regular file */
    FILE *f = fdopen(fd, "rb");
    if (!f) { close(fd); return NULL; }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
        if (n + 1 >= cap) {
            if (cap >= (1u << 20)) { free(buf); buf = NULL; break; }   /* a settings file is small */
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

int tui_config_load(tui_config *c, const char *path, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    int missing;
    char *text = read_file(path, &missing);
    if (!text) {
        if (missing == 1) return 0;
        if (err && missing == 2) snprintf(err, errlen, "%s: expected a regular file", path);
        else if (err) snprintf(err, errlen, "%s: cannot read it (%s)", path, strerror(errno ? errno : EIO));
        return -1;
    }
    char why[300];
    int rc = tui_config_parse(c, text, why, sizeof why);
    free(text);
    if (rc != 0 && err) snprintf(err, errlen, "%s: %s", path, why);
    return rc;
}

/* ---- writing ---- */

static cJSON *child_object(cJSON *root, const char *key)
{
    cJSON *o = cJSON_GetObjectItemCaseSensitive(root, key);
    if (o && cJSON_IsObject(o)) return o;
    if (o) cJSON_DeleteItemFromObjectCaseSensitive(root, key);
    return cJSON_AddObjectToObject(root, key);
}

static void set(cJSON *obj, const char *key, cJSON *val)
{
    if (!obj || !val) { cJSON_Delete(val); return; }
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, val);
    else cJSON_AddItemToObject(obj, key, val);
}

char *tui_config_to_json(const tui_config *c, const char *previous)
{
    cJSON *root = previous ? cJSON_Parse(previous) : NULL;
    if (root && !cJSON_IsObject(root)) { cJSON_Delete(root); root = NULL; }
    if (!root) root = cJSON_CreateObject();
    if (!root) return NULL;
    static const char *const colors[] = { "auto", "256", "16", "mono" };
    static const char *const layouts[] = { "auto", "side", "stacked" };
    set(root, "version", cJSON_CreateNumber(1));
    set(root, "theme", cJSON_CreateString(c->light ? "light" : "dark"));
    set(root, "color", cJSON_CreateString(colors[c->color >= 0 && c->color <= 3 ? c->color : 0]));
    set(root, "chart_style", cJSON_CreateString(tui_chart_style_name(c->chart_style)));
    set(root, "layout", cJSON_CreateString(layouts[c->layout >= 0 && c->layout <= 2 ? c->layout : 0]));
    set(root, "view", cJSON_CreateString(tui_view_names[c->view >= 0 && c->view < TUI_NVIEWS ? c->view : 0]));
    set(root, "mouse", cJSON_CreateBool(c->mouse));
    set(root, "refresh_ms", cJSON_CreateNumber(c->refresh_ms));
    set(child_object(root, "keys"), "vim", cJSON_CreateBool(c->vim));
    cJSON *l = child_object(root, "layers");
    cJSON *h = cJSON_CreateArray();
    for (int i = 0; h && i < c->nhidden; i++) cJSON_AddItemToArray(h, cJSON_CreateString(c->hidden[i]));
    set(l, "hidden", h);
    set(l, "sort", cJSON_CreateString(c->sort));
    set(l, "reverse", cJSON_CreateBool(c->sort_rev));
    cJSON *hm = child_object(root, "heatmap");
    set(hm, "metric", cJSON_CreateString(c->heat_metric));
    set(hm, "log", cJSON_CreateBool(c->heat_log));
    set(hm, "scale", cJSON_CreateString(c->heat_rows ? "row" : "all"));
    cJSON *ch = child_object(root, "charts");
    set(ch, "log_y", cJSON_CreateBool(c->log_y));
    set(ch, "x", cJSON_CreateString(c->x_time ? "time" : "step"));
    set(child_object(root, "compare"), "metric", cJSON_CreateString(c->cmp_metric));
    cJSON *ru = child_object(root, "runs");
    set(ru, "sort", cJSON_CreateString(tui_run_sort_names[c->run_sort >= 0 && c->run_sort < TUI_RSORT_N ? c->run_sort : 0]));
    set(ru, "reverse", cJSON_CreateBool(c->run_sort_rev));
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    return out;
}

/* mkdir -p of path's directory. */
static int make_dirs(const char *path)
{
    char d[1024];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash || slash == d) return 0;
    *slash = '\0';
    for (char *p = d + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(d, 0700) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(d, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

int tui_config_save(const tui_config *c, const char *path, char *err, size_t errlen)
{
    int missing;
    char *prev = read_file(path, &missing);
    if (prev) {
        cJSON *t = cJSON_Parse(prev);
        int ok = t && cJSON_IsObject(t);
        cJSON_Delete(t);
        if (!ok) {
            free(prev);
            snprintf(err, errlen, "settings not saved: %s is not valid JSON (fix or remove it)", path);
            return -1;
        }
    }
    char *text = tui_config_to_json(c, prev);
    free(prev);
    if (!text) { snprintf(err, errlen, "out of memory"); return -1; }
    if (make_dirs(path) != 0) {
        snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(errno));
        free(text);
        return -1;
    }
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        free(text);
        return -1;
    }
    size_t len = strlen(text), off = 0;
    int bad = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0) { if (errno == EINTR) continue; bad = errno; break; }
        off += (size_t)w;
    }
    if (!bad && write(fd, "\n", 1) != 1) bad = errno ? errno : EIO;
    if (!bad && fsync(fd) != 0) bad = errno;
    if (close(fd) != 0 && !bad) bad = errno;
    free(text);
    if (bad || rename(tmp, path) != 0) {
        if (!bad) bad = errno;
        unlink(tmp);
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(bad));
        return -1;
    }
    /* the rename itself is durable once the directory is synced */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) { fsync(dfd); close(dfd); }
    }
    return 0;
}

const tui_settings_io tui_settings_file = { .path = tui_config_path, .load = tui_config_load, .save = tui_config_save };
