/* gwa_tool: the GWA window statistics of γ values read from a file of float64 (native little-endian),
 * printed as `name value` lines for test_gwa.py. The values go in as `chunks` windows merged in the
 * order given (argv[2], default 1), as steps or ranks would.
 * usage: gwa_tool FILE [CHUNKS] */
#include "../../metrics/gwa.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: gwa_tool FILE [CHUNKS]\n"); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { fprintf(stderr, "gwa_tool: %s: cannot open\n", argv[1]); return 1; }
    size_t cap = 1024, n = 0;
    double *x = malloc(cap * sizeof *x);
    for (size_t got; x && (got = fread(x + n, sizeof *x, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) x = realloc(x, (cap *= 2) * sizeof *x);
    }
    fclose(f);
    if (!x) { fprintf(stderr, "gwa_tool: out of memory\n"); return 1; }
    size_t chunks = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 1;
    if (!chunks) chunks = 1;
    tt_gwa_window all, part;
    tt_gwa_window_reset(&all);
    for (size_t c = 0; c < chunks; c++) {
        size_t lo = n * c / chunks, hi = n * (c + 1) / chunks;
        tt_gwa_window_reset(&part);
        tt_gwa_window_add(&part, x + lo, hi - lo);
        tt_gwa_window_merge(&all, &part);
    }
    tt_gwa_report r;
    tt_gwa_window_report(&all, &r);
    printf("gwa %.17g\npole %d\nmean %.17g\nstd %.17g\nkurtosis %.17g\npearson %.17g\nfrac_neg %.17g\n",
           r.gwa, r.pole, r.mean, r.std, r.kurtosis, r.pearson, r.frac_neg);
    printf("bimodality %.17g\nrobust %.17g\nmislabeled %.17g\ncount %llu\nnonfinite %llu\nhist_range %.17g\n",
           r.bimodality, r.robust, r.mislabeled, (unsigned long long)r.count, (unsigned long long)r.nonfinite,
           r.hist_range);
    for (int k = 0; k < TT_GWA_HIST_BINS; k++) printf("hist.%d %llu\n", k, (unsigned long long)r.hist[k]);
    free(x);
    return 0;
}
