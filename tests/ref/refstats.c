/* refstats: runs tt_layer_stats on a case written by test_layerstats.py and prints the statistics.
 * Case file: int64 rows, cols, has_prev, has_w0; then float32 W, G, [W_prev], [W_0], row-major. */
#include "../../metrics/layerstats.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: refstats CASEFILE\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    int64_t h[4];
    if (fread(h, sizeof h, 1, f) != 1 || h[0] < 1 || h[1] < 1) { fprintf(stderr, "%s: bad header\n", argv[1]); return 1; }
    size_t n = (size_t)(h[0] * h[1]);
    float *buf[4] = { 0 };
    int have[4] = { 1, 1, (int)h[2], (int)h[3] };
    for (int k = 0; k < 4; k++) {
        if (!have[k]) continue;
        buf[k] = malloc(n * sizeof(float));
        if (!buf[k] || fread(buf[k], sizeof(float), n, f) != n) { fprintf(stderr, "%s: short file\n", argv[1]); return 1; }
    }
    fclose(f);
    double out[TT_NSTATS];
    /* Also exercise the in-place W_prev refresh: afterwards W_prev must equal W. */
    tt_layer_stats(buf[0], buf[1], buf[2], buf[3], buf[2], (size_t)h[0], (size_t)h[1], out);
    int refreshed = 1;
    for (size_t i = 0; buf[2] && i < n; i++)
        if (*(uint32_t *)&buf[2][i] != *(uint32_t *)&buf[0][i]) refreshed = 0;
    for (int k = 0; k < TT_NSTATS; k++) printf("%s %.17g\n", tt_stat_names[k], out[k]);
    printf("prev_refreshed %d\n", refreshed);
    for (int k = 0; k < 4; k++) free(buf[k]);
    return 0;
}
