/* plugin_services: thin adapters from the plugin ABI's plain types to the store and the drawing code.
 * Every coordinate a plugin gives is relative to its frame and clipped to it. */
#include "plugin_services.h"
#include "widgets/chart.h"
#include "widgets/draw.h"
#include "widgets/sparkline.h"
#include "widgets/theme.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TT_PLUGIN_DIR
#define TT_PLUGIN_DIR "/usr/local/lib/traintop/plugins"
#endif

static const tt_run *run_at(tt_plugin_host *h, int run)
{
    return h->store && run >= 0 && run < h->store->nruns ? h->store->runs[run] : NULL;
}

static const tt_series *find_series(tt_plugin_host *h, int run, int layer, const char *metric)
{
    const tt_run *r = run_at(h, run);
    if (!r || !metric) return NULL;
    if (layer < 0) {
        const tt_named_series *s = tt_run_scalar(r, metric);
        return s ? s->series : NULL;
    }
    int k = tt_run_stat_index(r, metric);
    return layer < r->nlayers && k >= 0 ? r->layers[layer].stat[k] : NULL;
}

static int s_run_count(tt_plugin_host *h) { return h->store ? h->store->nruns : 0; }
static const char *s_run_name(tt_plugin_host *h, int run) { const tt_run *r = run_at(h, run); return r ? r->name : ""; }
static int s_run_rank(tt_plugin_host *h, int run) { const tt_run *r = run_at(h, run); return r ? r->rank : -1; }
static int64_t s_run_step(tt_plugin_host *h, int run) { const tt_run *r = run_at(h, run); return r ? r->step : -1; }
static int s_layer_count(tt_plugin_host *h, int run) { const tt_run *r = run_at(h, run); return r ? r->nlayers : 0; }

static const char *s_layer_name(tt_plugin_host *h, int run, int layer)
{
    const tt_run *r = run_at(h, run);
    return r && layer >= 0 && layer < r->nlayers ? r->layers[layer].name : "";
}

static const char *s_metric_name(tt_plugin_host *h, int run, int layer, int i)
{
    const tt_run *r = run_at(h, run);
    if (!r || i < 0) return NULL;
    if (layer < 0) return i < r->nscalars ? r->scalars[i].name : NULL;
    return i < r->nstats ? r->stat_names[i] : NULL;
}

static double s_last(tt_plugin_host *h, int run, int layer, const char *metric)
{
    const tt_series *s = find_series(h, run, layer, metric);
    return s && tt_series_count(s) ? tt_series_last(s) : NAN;
}

static int s_has_metric(tt_plugin_host *h, int run, int layer, const char *metric)
{
    const tt_run *r = run_at(h, run);
    if (!r) return 0;
    if (layer >= 0) {             /* any layer of the run will do for a statistic */
        int k = tt_run_stat_index(r, metric);
        for (int l = 0; k >= 0 && l < r->nlayers; l++) if (tt_series_count(r->layers[l].stat[k])) return 1;
        return 0;
    }
    const tt_series *s = find_series(h, run, layer, metric);
    return s && tt_series_count(s) > 0;
}

static size_t s_series(tt_plugin_host *h, int run, int layer, const char *metric, int64_t from, int64_t to,
                       size_t max_points, tt_plugin_point *out)
{
    const tt_series *s = find_series(h, run, layer, metric);
    if (!s || !max_points) return 0;
    tt_point *tmp = malloc(max_points * sizeof *tmp);
    if (!tmp) return 0;
    size_t n = tt_series_query(s, from, to, max_points, tmp);
    for (size_t i = 0; i < n; i++)
        out[i] = (tt_plugin_point){ tmp[i].step, tmp[i].first, tmp[i].min, tmp[i].max, tmp[i].mean, tmp[i].last,
                                    tmp[i].count, tmp[i].finite };
    free(tmp);
    return n;
}

static attr_t attr_of(int a)
{
    attr_t r = 0;
    if (a & TT_PLUGIN_BOLD) r |= A_BOLD;
    if (a & TT_PLUGIN_DIM) r |= tui_attr(TUI_A_DIM);
    if (a & TT_PLUGIN_GOOD) r |= tui_attr(TUI_A_GOOD);
    if (a & TT_PLUGIN_WARN) r |= tui_attr(TUI_A_WARN);
    if (a & TT_PLUGIN_BAD) r |= tui_attr(TUI_A_BAD);
    if (a & TT_PLUGIN_ACCENT) r |= tui_attr(TUI_A_SERIES0);
    return r;
}

/* Clips a rectangle (relative to the frame) into it; returns 0 when nothing is left. */
static int clip(const tt_plugin_frame *f, int *y, int *x, int *hgt, int *wid)
{
    if (*y < 0 || *x < 0 || *y >= f->h || *x >= f->w) return 0;
    if (*y + *hgt > f->h) *hgt = f->h - *y;
    if (*x + *wid > f->w) *wid = f->w - *x;
    *y += f->y;
    *x += f->x;
    return *hgt > 0 && *wid > 0;
}

static void s_text(tt_plugin_host *h, const tt_plugin_frame *f, int y, int x, const char *s, int attr)
{
    int hgt = 1, wid = f->w - x;
    if (!s || !clip(f, &y, &x, &hgt, &wid)) return;
    tui_put(stdscr, y, x, wid, s, attr_of(attr), TUI_LEFT, h->ascii);
}

static void s_chart(tt_plugin_host *h, const tt_plugin_frame *f, int y, int x, int hgt, int wid, const char *title,
                    int run, int layer, const char *const *metrics, int nmetrics)
{
    if (!clip(f, &y, &x, &hgt, &wid) || hgt < 3) return;
    tui_chart_line lines[8];
    int n = 0;
    for (int i = 0; i < nmetrics && n < 8; i++) {
        const tt_series *s = find_series(h, run, layer, metrics[i]);
        if (s && tt_series_count(s)) lines[n++] = (tui_chart_line){ .name = metrics[i], .s = s, .last = tt_series_last(s) };
    }
    const tt_run *r = run_at(h, run);
    if (!n || !r) { tui_put(stdscr, y, x, wid, "no data", tui_attr(TUI_A_DIM), TUI_LEFT, h->ascii); return; }
    /* occasional layer statistics (spectra, per-sample): NaN there means "not defined for this layer" */
    int undefined = layer >= 0;
    for (int i = 0; i < nmetrics && undefined; i++) {
        int k = tt_run_stat_index(r, metrics[i]);
        if (k < 0 || k < r->row_stats) undefined = 0;
    }
    tui_chart_opts o = { .title = title, .style = h->ascii ? TUI_CHART_ASCII : TUI_CHART_BRAILLE, .nan_undefined = undefined };
    tui_chart_draw_ex(stdscr, y, x, hgt, wid, lines, n, 0, r->step, &o, h->scratch, NULL);
}

static void s_plot(tt_plugin_host *h, const tt_plugin_frame *f, int y, int x, int hgt, int wid, const char *title,
                   const double *xs, const double *ys, size_t n, int log_x, int log_y)
{
    if (!clip(f, &y, &x, &hgt, &wid) || hgt < 3 || wid < 8) return;
    if (title) tui_put(stdscr, y, x, wid, title, tui_attr(TUI_A_COLHEAD), TUI_LEFT, h->ascii);
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double a = log_x ? log10(xs[i]) : xs[i], b = log_y ? log10(ys[i]) : ys[i];
        if (!isfinite(a) || !isfinite(b)) continue;
        xmin = fmin(xmin, a);
        xmax = fmax(xmax, a);
        ymin = fmin(ymin, b);
        ymax = fmax(ymax, b);
    }
    int ph = hgt - 1, pw = wid;
    if (!(xmax > xmin) || !(ymax >= ymin)) return;
    if (ymax == ymin) { ymax += 1; ymin -= 1; }
    unsigned char *bits = calloc((size_t)(ph * pw), 1), *role = calloc((size_t)(ph * pw), 1);
    if (bits && role) {
        tui_canvas c;
        tui_canvas_init(&c, pw, ph, h->ascii, bits, role);
        for (size_t i = 0; i < n; i++) {
            double a = log_x ? log10(xs[i]) : xs[i], b = log_y ? log10(ys[i]) : ys[i];
            if (!isfinite(a) || !isfinite(b)) continue;
            int dx = (int)((a - xmin) / (xmax - xmin) * (pw * c.dx - 1));
            int dy = (int)((ymax - b) / (ymax - ymin) * (ph * c.dy - 1));
            tui_canvas_dot(&c, dx, dy, TUI_A_SERIES0);
        }
        char g[8];
        for (int cy = 0; cy < ph; cy++)
            for (int cx = 0; cx < pw; cx++) {
                const char *s = tui_canvas_glyph(&c, cx, cy, g);
                if (s) tui_puts(stdscr, y + 1 + cy, x + cx, 1, s, tui_attr(TUI_A_SERIES0));
            }
    }
    free(bits);
    free(role);
}

static void s_sparkline(tt_plugin_host *h, const tt_plugin_frame *f, int y, int x, int wid, const double *v, size_t n)
{
    int hgt = 1;
    if (!clip(f, &y, &x, &hgt, &wid)) return;
    if (n > (size_t)wid) n = (size_t)wid;
    int *lev = malloc((n ? n : 1) * sizeof *lev);
    if (!lev) return;
    tui_spark_levels(v, n, lev, NULL, NULL);
    for (size_t i = 0; i < n; i++) tui_puts(stdscr, y, x + (int)i, 1, tui_spark_glyph(lev[i], h->ascii), tui_attr(TUI_A_SPARK));
    free(lev);
}

static void s_heatmap(tt_plugin_host *h, const tt_plugin_frame *f, int y, int x, int hgt, int wid, const double *v,
                      int rows, int cols, int log_scale)
{
    if (!clip(f, &y, &x, &hgt, &wid) || rows <= 0 || cols <= 0) return;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < rows * cols; i++) {
        double a = log_scale ? log10(fabs(v[i])) : v[i];
        if (isfinite(a)) { lo = fmin(lo, a); hi = fmax(hi, a); }
    }
    static const char *const shade[] = { " ", "\u2591", "\u2592", "\u2593", "\u2588" }, *const ashade[] = { " ", ".", ":", "o", "#" };
    for (int r = 0; r < hgt && r < rows; r++)
        for (int c = 0; c < wid && c < cols; c++) {
            double a = v[r * cols + c];
            a = log_scale ? log10(fabs(a)) : a;
            int k = !isfinite(a) ? -1 : hi > lo ? (int)((a - lo) / (hi - lo) * 4.999) : 2;
            tui_puts(stdscr, y + r, x + c, 1, k < 0 ? "x" : (h->ascii ? ashade : shade)[k], k < 0 ? tui_attr(TUI_A_BAD) : tui_attr(TUI_A_SERIES1));
        }
}

static void s_table(tt_plugin_host *h, const tt_plugin_frame *f, int y, int x, int ncols, const int *wid,
                    const char *const *header, const char *const *cells, int nrows)
{
    for (int r = -1; r < nrows; r++) {
        int cx = x;
        for (int c = 0; c < ncols; c++) {
            const char *s = r < 0 ? (header ? header[c] : NULL) : cells[r * ncols + c];
            int yy = y + 1 + r, xx = cx, hh = 1, ww = wid[c];
            if (s && clip(f, &yy, &xx, &hh, &ww))
                tui_put(stdscr, yy, xx, ww, s, r < 0 ? tui_attr(TUI_A_COLHEAD) : 0, c ? TUI_RIGHT : TUI_LEFT, h->ascii);
            cx += wid[c] + 1;
        }
    }
}

static void s_log(tt_plugin_host *h, const char *fmt, ...)
{
    FILE *out = h->log ? h->log : stderr;
    va_list ap;
    va_start(ap, fmt);
    fputs("traintop plugin: ", out);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    va_end(ap);
}

void tui_plugin_services(tt_plugin_host *host, tt_plugin_services *svc)
{
    *svc = (tt_plugin_services){
        .size = sizeof *svc, .abi_major = TT_PLUGIN_ABI_MAJOR, .abi_minor = TT_PLUGIN_ABI_MINOR, .host = host,
        .run_count = s_run_count, .run_name = s_run_name, .run_rank = s_run_rank, .run_step = s_run_step,
        .layer_count = s_layer_count, .layer_name = s_layer_name, .metric_name = s_metric_name, .last = s_last,
        .series = s_series, .has_metric = s_has_metric, .text = s_text, .chart = s_chart, .plot = s_plot,
        .sparkline = s_sparkline, .heatmap = s_heatmap, .table = s_table, .log = s_log,
    };
}
