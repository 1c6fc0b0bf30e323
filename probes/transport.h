/* transport: the probe's way out — acknowledged delivery over a nanomsg PUSH socket that never waits.
 * Every step and run_end gets a sequence number and stays in a bounded retention queue until the
 * collector acknowledges it on the control socket; what the budget cannot hold, and what is still
 * unacknowledged at close, goes to the spool file. Also the control socket's other actions (stop,
 * resend_start, resend). */
#ifndef TT_PROBE_TRANSPORT_H
#define TT_PROBE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "traintop/probe.h"
#include "../proto/encode.h"
#include "../proto/protocol.h"

#define TT_QUEUE_MSGS 8192                 /* unacknowledged messages kept in memory */
#define TT_QUEUE_BYTES (32u << 20)
#define TT_TX_WARN_S 3.0                   /* a collector silent this long gets one warning line */

typedef struct {
    char *msg;
    size_t len;
    uint64_t seq;
    double queued_at;                   /* monotonic: how long the collector has left it unacknowledged */
    int was_sent;                       /* handed to nanomsg at least once (a second time is a resend) */
} tt_tx_msg;

/* A ring: the oldest unacknowledged message at head; the first `sent` were handed to nanomsg since the
 * last rewind, the rest wait for the connection. */
typedef struct {
    tt_tx_msg m[TT_QUEUE_MSGS];
    size_t head, count, bytes, sent;
} tt_queue;

typedef struct {
    char endpoint[256];
    int push, sub;                      /* nanomsg sockets, -1 when unavailable */
    tt_queue q;
    uint64_t next_seq;                  /* the next message's sequence number (from 1) */
    uint64_t acked;                     /* the collector keeps every message up to it */
    int start_due;                      /* run_start goes out before the queue (first send, resend_start) */
    double last_progress, rto;          /* the resend timer: an ack, or a rewind, restarts it */
    int warned_silent, warned_size;
    char spool_path[512];               /* "" when not spooling */
    char spool_part[520];               /* default spools are written here, then renamed to spool_path */
    FILE *spool;                        /* opened at the first message that cannot be kept */
    char token[128];                    /* $TRAINTOP_TOKEN: sent with every message when set */
    int stop;                           /* the collector asked the run to stop */
    char stop_reason[256];
    /* what the transport knows of its run: the name and rank control messages address, and whether
     * run_start went out (a resend request is answered only then) */
    char run[TT_NAME_MAX];
    int rank, started;
    tt_probe_counters *c;               /* the owner's counters: sent, dropped, spooled, resent */
    /* the owner's run_start message (malloc'd, or NULL), for the spool's first line and resends */
    char *(*start_msg)(void *ctx, size_t *len);
    void *ctx;
} tt_transport;

/* Connects to ep (ingest) and ctl (control); an absent collector is not an error. The caller has set
 * run, rank, c, start_msg and ctx; spool: a file (written as given), NULL for the default one under
 * tt_spool_dir(ep) (written as .part, renamed at close so a collector imports only whole spools), or ""
 * for none (what cannot be kept is dropped and counted). Returns 0, or -1 with err. */
int tt_tx_open(tt_transport *t, const char *ep, const char *ctl, const char *spool, char *err, size_t errlen);
/* The sequence number and base the next message must carry (written into s for the encoder). */
void tt_tx_stamp(const tt_transport *t, tt_enc_sender *s);
/* Queues msg, stamped by tt_tx_stamp (malloc'd; the transport owns it from here; NULL, or one larger
 * than the protocol allows, counts as dropped and gives up no sequence number), and sends what the
 * transport takes now. */
void tt_tx_send(tt_transport *t, char *msg, size_t len);
/* Sends run_start (when due), then what waits, as far as nanomsg takes it now; keeps order. */
void tt_tx_flush(tt_transport *t);
/* Reads every pending control message (stop, acks, resend requests) and rewinds the queue when the
 * collector has been silent too long; never waits. */
void tt_tx_poll_control(tt_transport *t);
/* Waits at most linger_ms for the collector to acknowledge everything queued (the run_end included). */
void tt_tx_linger(tt_transport *t, int linger_ms);
/* Closes the sockets; what is still unacknowledged goes to the spool (one warning line says where), or
 * is counted as dropped. */
void tt_tx_close(tt_transport *t);

#endif
