/* transport: the probe's way out — a bounded send queue over a nanomsg PUSH socket that never waits,
 * the spool file for what cannot be sent, and the control socket (stop, resend_start, ack_end). */
#ifndef TT_PROBE_TRANSPORT_H
#define TT_PROBE_TRANSPORT_H

#include <stddef.h>
#include <stdio.h>

#define TT_QUEUE_MSGS 1024                 /* pending messages kept while nobody listens */
#define TT_QUEUE_BYTES (16u << 20)

typedef struct tt_probe tt_probe;

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
} tt_transport;

/* Connects to ep (ingest) and ctl (control); an absent collector is not an error. Returns 0, or -1
 * with err when no socket can be made. */
int tt_tx_open(tt_probe *p, const char *ep, const char *ctl, char *err, size_t errlen);
/* Queues the probe's writer's message and sends what the transport takes now. */
void tt_tx_send_writer(tt_probe *p);
/* Sends what the transport accepts now; stops at the first refusal to keep order. */
void tt_tx_flush(tt_probe *p);
/* Reads every pending control message; never waits. */
void tt_tx_poll_control(tt_probe *p);
/* Waits at most linger_ms for the collector to acknowledge the run's end. */
void tt_tx_linger(tt_probe *p, int linger_ms);
/* Closes the sockets; what is still queued is spooled or counted as dropped. */
void tt_tx_close(tt_probe *p);

#endif
