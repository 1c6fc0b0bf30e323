/* safefile: how the collector opens its files — recordings and alert logs created 0600 in 0700
 * directories, never through a symbolic link, only regular files, never inherited by a child
 * (close-on-exec) — and reads them with a bound. */
#ifndef TT_SAFEFILE_H
#define TT_SAFEFILE_H

#include <stdio.h>

/* mkdir -p with mode 0700 for what it creates; the last component must end up a directory (a symbolic
 * link to one is refused). 0, or -1 with err naming the path. */
int tt_safefile_mkdirs(const char *dir, char *err, size_t errlen);
/* open(2) with flags plus O_NOFOLLOW, O_CLOEXEC and O_NOCTTY, created 0600, refused unless a regular
 * file; O_NONBLOCK (so a FIFO never blocks the open) is cleared once it proved regular. The fd, or -1
 * with errno set and err naming the path ("is a symbolic link (refused)" for a link). */
int tt_safefile_fd(const char *path, int flags, char *err, size_t errlen);
/* fopen with mode "r", "a" or "a+": created 0600, O_NOFOLLOW, O_CLOEXEC, and refused unless a regular
 * file (a FIFO or a device is never opened for reading: O_NONBLOCK, then checked). NULL with err. */
FILE *tt_safefile_open(const char *path, const char *mode, char *err, size_t errlen);

#endif
