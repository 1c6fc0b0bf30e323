/* mirror: a viewer's side of a collector's query socket — its history once, then its live messages,
 * asked for every LIVE_POLL_S with the token like every other query. Lines go to a callback (a viewer's
 * collector ingests them). Non-blocking after open: the owner polls tt_mirror_fds(). */
#ifndef TT_MIRROR_H
#define TT_MIRROR_H

#include <stddef.h>

typedef struct tt_mirror tt_mirror;
typedef int (*tt_mirror_line_fn)(void *ud, const char *line, size_t len);

/* Connects to endpoint's query socket and hands the history's lines to fn, waiting up to timeout_ms.
 * NULL with err when no collector answers, or it refuses (e.g. the token). Free with tt_mirror_close. */
tt_mirror *tt_mirror_open(const char *endpoint, int timeout_ms, tt_mirror_line_fn fn, void *ud, char *err, size_t errlen);
void tt_mirror_close(tt_mirror *m);
/* Descriptors that become readable when there is work (a reply, or the next ask is due). */
int tt_mirror_fds(const tt_mirror *m, int *fds, int max);
/* Takes a reply if one came (its lines to fn; after a gap, the history again) and sends the next ask when
 * it is due. Returns the number of lines handed on. */
int tt_mirror_process(tt_mirror *m);

#endif
