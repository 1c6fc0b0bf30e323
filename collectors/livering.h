/* livering: the latest accepted messages, numbered, for viewers that ask for them ({"type":"live"} on
 * the query socket, where the token is checked) instead of subscribing to a socket anyone could read.
 * Bounded in bytes and in messages; a viewer that falls behind the oldest one is told (a gap) and
 * reloads the history. */
#ifndef TT_LIVERING_H
#define TT_LIVERING_H

#include <stddef.h>
#include <stdint.h>

typedef struct tt_livering tt_livering;

/* epoch: this collector's start (non-zero), so that a viewer's numbers from an earlier collector on the
 * same endpoint are not taken for this one's. NULL when out of memory. Free with tt_livering_free. */
tt_livering *tt_livering_new(uint64_t epoch, size_t max_bytes, size_t max_msgs);
void tt_livering_free(tt_livering *r);

/* Keeps a copy of msg (newlines become spaces: one message, one line) as number tt_livering_next();
 * the oldest go to make room. msg NULL: a message viewers will not get (nobody was asking) — the ring
 * is emptied so that whoever asks next is told of the gap. */
void tt_livering_push(tt_livering *r, const char *msg, size_t len);
/* The number the next message will get (the first is 1). */
uint64_t tt_livering_next(const tt_livering *r);

/* A reply to {"type":"live","epoch":E,"since":S}: the header line
 * {"v":1,"type":"live","epoch":E,"next":N,"gap":G,"more":M} and then the messages numbered S.. one per
 * line, up to about max_bytes (at least one message). epoch 0 asks only where the ring is (no messages,
 * no gap). gap: messages from S on are gone, or E is another collector's (the viewer reloads the
 * history, then asks from N); more: the reply stopped early (ask again from N at once).
 * Malloc'd (*len bytes), NULL when out of memory. */
char *tt_livering_reply(const tt_livering *r, uint64_t epoch, uint64_t since, size_t max_bytes, size_t *len);

#endif
