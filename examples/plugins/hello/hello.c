/* hello: the smallest useful traintop panel — the selected run's name, its latest loss and a
 * sparkline of it. Built out of tree against the installed header alone:
 *   cc -shared -fPIC $(pkg-config --cflags traintop) hello.c -o hello.so
 * then `traintop --plugin ./hello.so`, or copy it to ~/.local/share/traintop/plugins/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <traintop/plugin.h>

typedef struct {
    const tt_plugin_services *s;    /* everything the host offers; valid until fini */
    int draws;
} hello;

static int init(const tt_plugin_services *s, void **state)
{
    /* the host may be older or newer: use a service only if its table is large enough to have it */
    if (!TT_PLUGIN_HAS(s, tt_plugin_services, sparkline)) return -1;
    hello *h = calloc(1, sizeof *h);
    if (!h) return -1;
    h->s = s;
    *state = h;
    s->log(s->host, "hello: ready");
    return 0;
}

static void draw(void *state, const tt_plugin_frame *f)
{
    hello *h = state;
    const tt_plugin_services *s = h->s;
    h->draws++;
    if (f->selected_run < 0) { s->text(s->host, f, 0, 1, "hello: no run selected", TT_PLUGIN_DIM); return; }
    char line[160];
    snprintf(line, sizeof line, "hello, %s: loss %.4g at step %lld", s->run_name(s->host, f->selected_run),
             s->last(s->host, f->selected_run, -1, "loss"), (long long)s->run_step(s->host, f->selected_run));
    s->text(s->host, f, 0, 1, line, TT_PLUGIN_BOLD);
    tt_plugin_point pts[200];
    double v[200];
    size_t n = s->series(s->host, f->selected_run, -1, "loss", INT64_MIN, INT64_MAX, f->w - 2 < 200 ? (size_t)(f->w - 2) : 200, pts);
    for (size_t i = 0; i < n; i++) v[i] = pts[i].mean;
    s->sparkline(s->host, f, 1, 1, f->w - 2, v, n);
}

static void fini(void *state) { free(state); }

static const tt_plugin_desc desc = {
    .size = sizeof(tt_plugin_desc), .abi_major = TT_PLUGIN_ABI_MAJOR, .abi_minor = TT_PLUGIN_ABI_MINOR,
    .name = "hello", .title = "Hello", .description = "the tutorial panel: a run's loss and its sparkline",
    .init = init, .draw = draw, .fini = fini,        /* no .key: the panel takes no keys */
};

const tt_plugin_desc *traintop_plugin(void) { return &desc; }
