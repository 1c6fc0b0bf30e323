/* endpoint: the default per-user endpoint and the companion endpoints derived from a base one. */
#ifndef TT_ENDPOINT_H
#define TT_ENDPOINT_H

#include <stddef.h>

typedef enum {
    TT_EP_INGEST,    /* probes PUSH steps here; the collector PULLs (the base endpoint itself) */
    TT_EP_CONTROL,   /* the collector PUBlishes control messages; probes SUBscribe */
    TT_EP_QUERY,     /* viewers and `traintop ls` REQuest; the collector REPlies */
    TT_EP_LIVE,      /* the collector PUBlishes live updates to viewers */
} tt_ep_kind;

/* ipc://P → ipc://P, P.ctl, P.q; tcp://H:N → ports N, N+1, N+2; inproc://X likewise with suffixes.
 * Returns 0, or -1 with err naming the endpoint and what was expected. */
int tt_endpoint_derive(const char *base, tt_ep_kind kind, char *out, size_t len, char *err, size_t errlen);

/* Checks that an endpoint is one traintop can use (ipc://, tcp://host:port, inproc://). */
int tt_endpoint_check(const char *ep, char *err, size_t errlen);

/* The per-user socket directory ($XDG_RUNTIME_DIR/traintop or /tmp/traintop-UID), created 0700 and
 * checked to be owned by the user and closed to others. */
int tt_runtime_dir(char *out, size_t len, char *err, size_t errlen);

/* This user's traintop state directory: $XDG_STATE_HOME/traintop (XDG_STATE_HOME defaults to
 * ~/.local/state; /tmp/traintop-UID without a home). Not created here. 0, or -1 with err. */
int tt_state_dir(char *out, size_t len, char *err, size_t errlen);

/* The directory where probes keep what a collector on endpoint ep has not acknowledged, and where that
 * collector looks for it: <state dir>/spool/<ep with '/' and ':' as '_'>. Not created here. */
int tt_spool_dir(const char *ep, char *out, size_t len, char *err, size_t errlen);

#endif
