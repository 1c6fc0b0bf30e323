/* transport: the probe's way out — a bounded send queue over a nanomsg PUSH socket that never waits,
 * the spool file for what cannot be sent, and the control socket (stop, resend_start, ack_end). */
#ifndef TT_PROBE_TRANSPORT_H
#define TT_PROBE_TRANSPORT_H

#include <stddef.h>
#include <stdio.h>
#include "traintop/probe.h"
#include "../proto/protocol.h"

#define TT_QUEUE_MSGS 1024                 /* pending messages kept while nobody listens */
#define TT_QUEUE_BYTES (16u << 20)

typedef struct {
    char *msg[TT_QUEUE_MSGS];
    size_t len[TT_QUEUE_MSGS];
    size_t head, count, bytes;
} tt_queue;

typedef struct {
    char endpoint[256];
    int push, sub;                      /* nanomsg sockets, -1 when unavailable */
    tt_queue q;
    char spool_path[512];               /* "" when not spooling */
    FILE *spool;                        /* opened at the first message that cannot be sent */
    char token[128];                    /* $TRAINTOP_TOKEN: sent with every message when set */
    int stop;                           /* the collector asked the run to stop */
    char stop_reason[256];
    int end_acked;
    /* what the transport knows of its run: the name and rank control messages address, and whether
     * run_start went out (a resend request is answered only then) */
    char run[TT_NAME_MAX];
    int rank, started;
    tt_probe_counters *c;               /* the owner's counters: sent, dropped, spooled */
    /* the owner's run_start message (malloc'd, or NULL), for the spool's first line and resends */
    char *(*start_msg)(void *ctx, size_t *len);
    void *ctx;
} tt_transport;

/* Connects to ep (ingest) and ctl (control); an absent collector is not an error. The caller has set
 * run, rank, c, start_msg and ctx. Returns 0, or -1 with err when no socket can be made. */
int tt_tx_open(tt_transport *t, const char *ep, const char *ctl, char *err, size_t errlen);
/* Queues msg (malloc'd; the transport owns it from here, NULL counts as dropped) and sends what the
 * transport takes now. */
void tt_tx_send(tt_transport *t, char *msg, size_t len);
/* Sends what the transport accepts now; stops at the first refusal to keep order. */
void tt_tx_flush(tt_transport *t);
/* Reads every pending control message; never waits. */
void tt_tx_poll_control(tt_transport *t);
/* Waits at most linger_ms for the collector to acknowledge the run's end. */
void tt_tx_linger(tt_transport *t, int linger_ms);
/* Closes the sockets; what is still queued is spooled or counted as dropped. */
void tt_tx_close(tt_transport *t);

#endif
