/* tfevents: TensorBoard event files — TFRecord framing (masked CRC32C) around hand-encoded Event protobufs
 * holding scalar summaries as float64 tensors (plugin "scalars"), so values keep every bit. */
#ifndef TT_TFEVENTS_H
#define TT_TFEVENTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct tt_tfevents tt_tfevents;

/* Creates DIR (and its parents) and DIR/events.out.tfevents.<time>.<host>.traintop, whose first record
 * is the file version. NULL with err naming the path. tt_tfevents_close frees it. */
tt_tfevents *tt_tfevents_open(const char *dir, double wall_time, char *err, size_t errlen);
/* One scalar. Scalars of the same step are written as one Event, so call them step by step. 0 or -1 + err. */
int tt_tfevents_scalar(tt_tfevents *w, int64_t step, double wall_time, const char *tag, double value, char *err, size_t errlen);
/* Writes what is pending and closes. 0, or -1 with err when a write failed (the file is closed anyway). */
int tt_tfevents_close(tt_tfevents *w, char *err, size_t errlen);

/* CRC-32C (Castagnoli) of data, and TFRecord's mask of it: exposed for the tests. */
uint32_t tt_crc32c(const void *data, size_t len);
uint32_t tt_tfrecord_mask(uint32_t crc);

#endif
