/* recording: every accepted probe message appended to DIR/<run>.jsonl, and the reader that replays them. */
#ifndef TT_RECORDING_H
#define TT_RECORDING_H

#include <stddef.h>
#include <stdio.h>

typedef struct tt_recorder tt_recorder;

/* Creates dir (mode 0700) if needed. flush_seconds bounds how much a kill -9 can lose (0: 0.2 s). */
tt_recorder *tt_recorder_open(const char *dir, double flush_seconds, char *err, size_t errlen);
/* Appends one message as one line. run must be a valid run name (it becomes the file name). -1 + err on I/O error. */
int tt_recorder_append(tt_recorder *r, const char *run, const char *msg, size_t len, char *err, size_t errlen);
/* Flushes files whose data is older than the flush interval; call at least a few times a second. */
void tt_recorder_tick(tt_recorder *r);
/* Writes out everything appended so far. 0, or -1 when a write failed (kept for the next try). */
int tt_recorder_flush(tt_recorder *r);
void tt_recorder_close(tt_recorder *r);
const char *tt_recorder_dir(const tt_recorder *r);

/* A recording whose last line is torn (no newline: its writer died mid-line) gets that line cut off and
 * appended to the side file DIR/<run>.torn, with one warning line on warn (NULL: none), so the recording
 * stays valid JSON lines. Returns 1 when it cut, 0 when the file was whole or absent, -1 with err. */
int tt_recording_repair(const char *path, FILE *warn, char *err, size_t errlen);

/* Reads a recording line by line, calling fn for each complete line. A torn last line (no newline:
 * the writer was killed mid-write) is skipped with a warning on warn. Returns the number of lines
 * passed to fn, or -1 with err if the file cannot be read. */
long tt_recording_read(const char *path, int (*fn)(void *ud, const char *line, size_t len), void *ud,
                       FILE *warn, char *err, size_t errlen);

/* Several files that hold parts of the same runs (a recording and a probe's spool): every line is read,
 * ordered by run, rank, then start / steps by step / end, and a step found in two files is passed
 * once. Holds all lines in memory. Returns the number of lines passed to fn, or -1 with err. */
long tt_recording_read_merged(const char *const *paths, int npaths, int (*fn)(void *ud, const char *line, size_t len),
                              void *ud, FILE *warn, char *err, size_t errlen);

#endif
