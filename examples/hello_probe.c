/* hello_probe: the smallest complete use of libtraintop — one "layer" trained by gradient descent on
 * a least-squares problem, its statistics published on the steps the probe's overhead budget picks
 * (the loss every step). Build against an installed prefix:
 *   cc hello_probe.c $(pkg-config --cflags --libs --static traintop) -o hello_probe */
#include <traintop/probe.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    const char *run = argc > 1 ? argv[1] : "hello";
    int steps = argc > 2 ? atoi(argv[2]) : 100;
    enum { ROWS = 4, COLS = 8 };
    float w[ROWS * COLS], g[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++) w[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;

    char err[256];
    tt_probe_opts o = { .run = run };
    tt_probe *p = tt_probe_open(&o, sizeof o, err, sizeof err);
    if (!p) { fprintf(stderr, "hello_probe: %s\n", err); return 1; }
    tt_probe_hparam_num(p, "lr", 0.1);
    if (tt_probe_add_layer(p, "w", ROWS, COLS, w, g, err, sizeof err) < 0) {
        fprintf(stderr, "hello_probe: %s\n", err);
        tt_probe_close(p, "failed", 0);
        return 1;
    }
    for (int step = 1; step <= steps; step++) {
        double loss = 0;   /* L = ½‖W‖²: the gradient is W itself */
        for (int i = 0; i < ROWS * COLS; i++) { g[i] = w[i]; loss += 0.5 * w[i] * w[i]; }
        for (int i = 0; i < ROWS * COLS; i++) w[i] -= 0.1f * g[i];
        tt_probe_scalar(p, "loss", loss);
        tt_probe_step(p, step);
        if (tt_probe_should_stop(p, NULL, 0)) break;
    }
    tt_probe_counters c;
    tt_probe_get_counters(p, &c);
    printf("%s: %llu steps, %llu messages sent, %llu dropped\n", run, (unsigned long long)c.steps,
           (unsigned long long)c.sent, (unsigned long long)c.dropped);
    tt_probe_close(p, "finished", 500);
    return 0;
}
