/* bench_tui: the cost of one dashboard frame with 1000 layers — a collector's store filled through
 * the real ingest path (all 12 row statistics plus occasional spectra, 200 steps), the layers view
 * at 200×60 with the table sorted by update_ratio, rendered by curses into a terminal on /dev/null.
 * A frame is: build the screen (layout, filter/sort, outliers, 57 sparklines, every cell) and
 * have curses compute and write the update. The cursor moves every frame so there is an update.
 * Also the overview and the heatmap at the same size, for reference.
 *
 * Needs the dashboard's and the collector's objects (not in lib/libtraintop.a):
 *   cc ... -O3 -o build/bench/bench_tui bench/bench_tui.c \
 *      $(filter-out build/rel/tui/traintop.o build/rel/tui/cmd%.o,$(TUI_OBJ)) build/libcollect.a \
 *      lib/libtraintop.a $(TUILIBS) $(LIBS) */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../tui/core/app.h"
#include "../metrics/layerstats.h"

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int fill(tt_collector *c, int nlayers, int nsteps)
{
    size_t cap = 8u << 20, n = 0;
    char *b = malloc(cap), err[256];
    if (!b) return -1;
    static const char *const extra[] = { "alpha", "stable_rank", "noise_scale", "gamma_mean" };
    n += (size_t)snprintf(b + n, cap - n, "{\"v\":1,\"type\":\"run_start\",\"run\":\"big\",\"rank\":0,\"world\":1,\"pid\":1,"
                                          "\"host\":\"bench\",\"stats\":[");
    for (int s = 0; s < TT_NSTATS; s++) n += (size_t)snprintf(b + n, cap - n, "%s\"%s\"", s ? "," : "", tt_stat_names[s]);
    for (int s = 0; s < 4; s++) n += (size_t)snprintf(b + n, cap - n, ",\"%s\"", extra[s]);
    n += (size_t)snprintf(b + n, cap - n, "],\"row_stats\":%d,\"layers\":[", TT_NSTATS);
    for (int l = 0; l < nlayers; l++)
        n += (size_t)snprintf(b + n, cap - n, "%s{\"name\":\"blocks.%d.%s.weight\",\"rows\":256,\"cols\":256}", l ? "," : "", l / 4,
                              (const char *[]){ "attn.q_proj", "attn.k_proj", "mlp.fc1", "mlp.fc2" }[l % 4]);
    snprintf(b + n, cap - n, "]}");
    if (tt_collector_ingest(c, b, strlen(b), err, sizeof err)) { fprintf(stderr, "bench_tui: %s\n", err); free(b); return -1; }
    for (int step = 1; step <= nsteps; step++) {
        n = (size_t)snprintf(b, cap, "{\"v\":1,\"type\":\"step\",\"run\":\"big\",\"rank\":0,\"step\":%d,\"scalars\":"
                                     "{\"loss\":%.6g,\"val_loss\":%.6g,\"lr\":0.001},\"layers\":[",
                             step, 2.3 * exp(-step / 50.0) + 0.01 * (step % 7), 2.4 * exp(-step / 60.0));
        for (int l = 0; l < nlayers; l++) {
            n += (size_t)snprintf(b + n, cap - n, "%s[", l ? "," : "");
            for (int s = 0; s < TT_NSTATS; s++) {
                double v = (1 + l % 17) * (s + 1) * (1 + 0.01 * step) * (l == 500 && s == 1 ? 40 : 1);
                n += (size_t)snprintf(b + n, cap - n, "%s%.6g", s ? "," : "", s == TT_NONFINITE ? 0 : v);
            }
            n += (size_t)snprintf(b + n, cap - n, "]");
        }
        n += (size_t)snprintf(b + n, cap - n, "]");
        if (step % 20 == 0) {             /* occasional statistics: extra [layer, stat, value] entries */
            n += (size_t)snprintf(b + n, cap - n, ",\"extra\":[");
            for (int l = 0; l < nlayers; l++)
                for (int s = 0; s < 4; s++)
                    n += (size_t)snprintf(b + n, cap - n, "%s[%d,%d,%.6g]", l || s ? "," : "", l, TT_NSTATS + s, 1.5 + 0.001 * l * (s + 1));
            n += (size_t)snprintf(b + n, cap - n, "]");
        }
        snprintf(b + n, cap - n, "}");
        if (tt_collector_ingest(c, b, strlen(b), err, sizeof err)) { fprintf(stderr, "bench_tui: step %d: %s\n", step, err); free(b); return -1; }
    }
    free(b);
    return 0;
}

static double frame_ms(tui_app *a, int view, int frames)
{
    tui_app_set_view(a, view);
    tui_app_paint(a);                          /* warm the buffers */
    wnoutrefresh(stdscr);
    doupdate();
    double best = INFINITY;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = mono();
        for (int i = 0; i < frames; i++) {
            tui_app_key(a, i % 40 < 20 ? 'j' : 'k');
            tui_app_paint(a);
            wnoutrefresh(stdscr);
            doupdate();
        }
        double per = (mono() - t0) / frames * 1e3;
        if (per < best) best = per;
    }
    return best;
}

/* One judgement of the 1000-layer run's health (collectors/health.c through tui/runhealth.c: its loss
 * curves and every layer's flags, outliers by median/MAD), from an empty cache each time. The dashboard
 * judges a moving run at most twice a second, so a frame pays this at most once per 0.5 s. */
static double health_ms(tui_app *a, int reps)
{
    const tt_run *r = tui_model_run(&a->model, 0);
    double best = INFINITY;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = mono();
        for (int i = 0; i < reps; i++) {
            tui_health_free(&a->ctx.health);
            tui_health_init(&a->ctx.health);
            tui_health_of(&a->ctx.health, &a->model, r);
        }
        double per = (mono() - t0) / reps * 1e3;
        if (per < best) best = per;
    }
    return best;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && !strcmp(argv[1], "--quick");
    setenv("TERM", "xterm-256color", 0);
    setlocale(LC_ALL, "C.UTF-8");
    char ep[64], err[256];
    snprintf(ep, sizeof ep, "inproc://bench-tui-%d", (int)getpid());
    tt_collector_opts co = { .endpoint = ep, .quiet = 1 };
    tt_collector *c = tt_collector_open(&co, err, sizeof err);
    if (!c) { fprintf(stderr, "bench_tui: %s\n", err); return 1; }
    if (fill(c, 1000, quick ? 60 : 200)) return 1;

    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    SCREEN *scr = out && in ? newterm("xterm-256color", out, in) : NULL;
    if (!scr) { fprintf(stderr, "bench_tui: cannot set up a terminal on /dev/null\n"); return 1; }
    set_term(scr);
    resize_term(60, 200);
    start_color();
    use_default_colors();
    tui_app a;
    tui_opts o = { .title = "bench", .clock = "12:00:00" };
    if (tui_app_init(&a, c, &o, 0) != 0) { fprintf(stderr, "bench_tui: no store\n"); return 1; }
    a.color = 1;
    strcpy(a.ctx.layers.sort_key, "update_ratio");
    int frames = quick ? 50 : 200;
    double layers = frame_ms(&a, TUI_V_LAYERS, frames);
    double overview = frame_ms(&a, TUI_V_OVERVIEW, frames / 2);
    double heat = frame_ms(&a, TUI_V_HEATMAP, frames / 4);
    strcpy(a.ctx.layers.sort_key, "problems");
    double problems = frame_ms(&a, TUI_V_LAYERS, frames);
    double health = health_ms(&a, quick ? 20 : 100);
    tui_app_free(&a);
    endwin();
    delscreen(scr);
    fclose(out);
    fclose(in);
    tt_collector_close(c);

    printf("frame_ms_1000_layers %.3f ms (target <= 2)\n", layers);
    printf("  (the layers view at 200x60 sorted by update_ratio, 1000 layers x 16 statistics, outliers and 57 sparklines,\n"
           "   curses computing and writing the update; the best of 5 runs of %d frames)\n", frames);
    printf("frame_ms_1000_layers_overview %.3f ms (runs, charts and layer table at 200x60)\n", overview);
    printf("frame_ms_1000_layers_heatmap %.3f ms (heatmap at 200x60, colour scale over all 1000 layers)\n", heat);
    printf("frame_ms_1000_layers_problems %.3f ms (the layers view sorted problems first)\n", problems);
    printf("health_ms_1000_layers %.3f ms (one judgement of the run: learning and 1000 layers' flags; at most\n"
           "   one per run every %.1f s while it moves)\n", health, TUI_HEALTH_PERIOD);
    return 0;
}
