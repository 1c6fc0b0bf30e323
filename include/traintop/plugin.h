/* traintop plugin ABI: dashboard panels in shared objects, built against this header alone.
 *
 * A plugin exports one function, `const tt_plugin_desc *traintop_plugin(void)`, returning its
 * descriptor. The host refuses a plugin whose abi_major differs from TT_PLUGIN_ABI_MAJOR or whose
 * abi_minor is above the host's TT_PLUGIN_ABI_MINOR. Every struct that crosses the boundary starts
 * with its size, so either side can grow it (minor version) without breaking the other: read a field
 * only if the size the other side set covers it (TT_PLUGIN_HAS). The host passes every service it
 * offers — queries into the collector's store, drawing helpers and a log — in a table at init;
 * plugins include nothing else from traintop, and no curses header. */
#ifndef TRAINTOP_PLUGIN_H
#define TRAINTOP_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TT_PLUGIN_ABI_MAJOR 1
#define TT_PLUGIN_ABI_MINOR 0

/* Whether a struct whose first field is its size has field f. */
#define TT_PLUGIN_HAS(ptr, type, f) ((ptr)->size >= offsetof(type, f) + sizeof((ptr)->f))

typedef struct tt_plugin_host tt_plugin_host;     /* opaque: the host's state, passed back to services */

/* One bucket of a series: the values of steps [first, step] summarised. */
typedef struct {
    int64_t step, first;
    double min, max, mean, last;
    uint32_t count, finite;
} tt_plugin_point;

/* Where a panel draws this frame: a rectangle of the terminal, in cells. */
typedef struct {
    size_t size;
    int y, x, h, w;
    int focused;                  /* the panel has the keyboard */
    int ascii;                    /* no Unicode drawing characters */
    int selected_run;             /* the run the user selected, or -1 */
} tt_plugin_frame;

/* Text attributes for the text service. */
enum { TT_PLUGIN_NORMAL = 0, TT_PLUGIN_BOLD = 1, TT_PLUGIN_DIM = 2, TT_PLUGIN_GOOD = 4, TT_PLUGIN_WARN = 8, TT_PLUGIN_BAD = 16,
       TT_PLUGIN_ACCENT = 32 };

typedef struct {
    size_t size;
    int abi_major, abi_minor;
    tt_plugin_host *host;

    /* ---- queries: runs are 0..run_count-1; layer -1 means the run's scalars ---- */
    int (*run_count)(tt_plugin_host *h);
    const char *(*run_name)(tt_plugin_host *h, int run);
    int (*run_rank)(tt_plugin_host *h, int run);
    int64_t (*run_step)(tt_plugin_host *h, int run);
    int (*layer_count)(tt_plugin_host *h, int run);
    const char *(*layer_name)(tt_plugin_host *h, int run, int layer);
    /* Names of the run's metrics: scalars (layer -1) or per-layer statistics; NULL past the end. */
    const char *(*metric_name)(tt_plugin_host *h, int run, int layer, int i);
    /* The latest value (NaN when none). */
    double (*last)(tt_plugin_host *h, int run, int layer, const char *metric);
    /* Buckets covering steps [from, to] in step order, at most max_points; returns how many. */
    size_t (*series)(tt_plugin_host *h, int run, int layer, const char *metric, int64_t from, int64_t to,
                     size_t max_points, tt_plugin_point *out);
    /* Whether the metric exists at all (declared and sent at least once). */
    int (*has_metric)(tt_plugin_host *h, int run, int layer, const char *metric);

    /* ---- drawing, inside the frame's rectangle (coordinates relative to it; clipped) ---- */
    void (*text)(tt_plugin_host *h, const tt_plugin_frame *f, int y, int x, const char *s, int attr);
    /* A line chart of up to 8 metrics of one run/layer with axes and a legend (NaN points of occasional layer
     * statistics, such as alpha, read as "not defined": n/a, no alarm mark). */
    void (*chart)(tt_plugin_host *h, const tt_plugin_frame *f, int y, int x, int hgt, int wid, const char *title,
                  int run, int layer, const char *const *metrics, int nmetrics);
    /* A chart of arbitrary points (x = step), e.g. a density on log-log axes: log_x/log_y plot log10. */
    void (*plot)(tt_plugin_host *h, const tt_plugin_frame *f, int y, int x, int hgt, int wid, const char *title,
                 const double *xs, const double *ys, size_t n, int log_x, int log_y);
    void (*sparkline)(tt_plugin_host *h, const tt_plugin_frame *f, int y, int x, int wid, const double *v, size_t n);
    /* rows × cols values (row-major) as coloured cells with a legend; log scales the colours. */
    void (*heatmap)(tt_plugin_host *h, const tt_plugin_frame *f, int y, int x, int hgt, int wid, const double *v,
                    int rows, int cols, int log_scale);
    /* A table: a header row and rows of cells, each column wid[c] cells wide. */
    void (*table)(tt_plugin_host *h, const tt_plugin_frame *f, int y, int x, int ncols, const int *wid,
                  const char *const *header, const char *const *cells, int nrows);

    /* ---- a line in the host's log (shown by `traintop plugins`, and on stderr after exit) ---- */
    void (*log)(tt_plugin_host *h, const char *fmt, ...);
} tt_plugin_services;

typedef struct {
    size_t size;                  /* sizeof(tt_plugin_desc) as the plugin was built */
    int abi_major, abi_minor;     /* TT_PLUGIN_ABI_MAJOR, TT_PLUGIN_ABI_MINOR as the plugin was built */
    const char *name;             /* short, unique: [a-z0-9_-]+ */
    const char *title;            /* the panel's title */
    const char *description;      /* one line for `traintop plugins` */
    /* Returns 0 and sets *state, or non-zero to be refused ("init failed"). s stays valid until fini. */
    int (*init)(const tt_plugin_services *s, void **state);
    void (*draw)(void *state, const tt_plugin_frame *f);
    /* A key the host did not use while the panel has focus (curses key codes); 1 when consumed. */
    int (*key)(void *state, int key);
    void (*fini)(void *state);
} tt_plugin_desc;

/* What a plugin exports. */
typedef const tt_plugin_desc *(*tt_plugin_entry_fn)(void);
#define TT_PLUGIN_ENTRY "traintop_plugin"

#ifdef __cplusplus
}
#endif
#endif
