/* export: recordings (and spools, merged by step) as TensorBoard event files or one tidy CSV. Values come
 * from the recorded messages themselves, never from the store's downsampled series. */
#ifndef TT_EXPORT_H
#define TT_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { TT_EXPORT_TENSORBOARD, TT_EXPORT_CSV } tt_export_format;

/* One recorded value. series: the scalar's name, or "layer/<layer>/<stat>" for a layer statistic. */
typedef struct {
    const char *run;
    int rank;
    int64_t step;
    double time;               /* the probe's clock (seconds since the epoch), 0 when the message had none */
    const char *series;
    double value;
} tt_export_point;

/* Calls fn for every value of the files (recordings and spools of the same runs merged by step, each
 * message checked as the collector checks it; a message it would refuse is skipped with one line on
 * warn, naming the file and line when there is one file). One file is streamed; several are merged in
 * memory. fn returning non-zero stops the walk. Returns the number of values, or -1 with err. */
long tt_export_walk(const char *const *paths, int npaths, int (*fn)(void *ud, const tt_export_point *p), void *ud,
                    FILE *warn, char *err, size_t errlen);

/* Writes the files' values into out_dir: TensorBoard: out_dir/<run>/events.out.tfevents.* (rank k > 0
 * in out_dir/<run>/rank<k>/); CSV: out_dir/traintop.csv with the columns run,rank,step,time,series,value.
 * Returns the number of values written, or -1 with err. */
long tt_export(tt_export_format fmt, const char *const *paths, int npaths, const char *out_dir, FILE *warn,
               char *err, size_t errlen);

#endif
