/* transport: messages leave without the training thread ever waiting. A bounded local queue absorbs
 * the moments when no collector is connected (start-up race, collector restart); when it is full the
 * oldest message goes to the spool file, or is dropped and counted. */
#include "transport.h"
#include "../proto/protocol.h"
#include "../proto/jsonstrip.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/pubsub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the spool: what could not be sent, kept in a file that `traintop replay` reads ---- */

/* One message as a line of the spool, without the token (a replay needs none; the file must not hold it). */
static int spool_line(FILE *f, const char *msg, size_t len)
{
    char *b = malloc(len ? len : 1);
    size_t n = b ? tt_json_strip_member(msg, len, "token", b) : 0;
    int ok = b && fwrite(b, 1, n, f) == n && fputc('\n', f) != EOF;
    free(b);
    return ok ? 0 : -1;
}

/* Appends one message to the spool file, which starts with the run's start so it replays on its own.
 * Returns 0, or -1 when there is no spool or it cannot be written (the message then counts as dropped). */
static int spool_write(tt_transport *t, const char *msg, size_t len)
{
    if (!t->spool_path[0]) return -1;
    if (!t->spool) {
        /* it holds the run's data: the user's alone, and no child of the trainer inherits it */
        int fd = open(t->spool_path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 || !(t->spool = fdopen(fd, "a"))) { if (fd >= 0) close(fd); t->spool_path[0] = 0; return -1; }
        size_t n = 0;
        char *start = t->start_msg ? t->start_msg(t->ctx, &n) : NULL;
        if (start) spool_line(t->spool, start, n);
        free(start);
    }
    if (spool_line(t->spool, msg, len)) return -1;
    t->c->spooled++;
    return 0;
}

/* ---- the send queue ---- */

static void queue_drop_oldest(tt_transport *t)
{
    tt_queue *q = &t->q;
    q->bytes -= q->len[q->head];
    if (spool_write(t, q->msg[q->head], q->len[q->head]) < 0) t->c->dropped++;   /* spooled is kept, not lost */
    free(q->msg[q->head]);
    q->msg[q->head] = NULL;
    q->head = (q->head + 1) % TT_QUEUE_MSGS;
    q->count--;
}

void tt_tx_flush(tt_transport *t)
{
    tt_queue *q = &t->q;
    while (q->count && t->push >= 0) {
        if (nn_send(t->push, q->msg[q->head], q->len[q->head], NN_DONTWAIT) < 0) break;
        q->bytes -= q->len[q->head];
        free(q->msg[q->head]);
        q->msg[q->head] = NULL;
        q->head = (q->head + 1) % TT_QUEUE_MSGS;
        q->count--;
        t->c->sent++;
    }
}

void tt_tx_send(tt_transport *t, char *msg, size_t len)
{
    tt_queue *q = &t->q;
    if (!msg) { t->c->dropped++; return; }          /* encoding ran out of memory */
    if (len > TT_QUEUE_BYTES) { free(msg); t->c->dropped++; return; }
    while (q->count == TT_QUEUE_MSGS || q->bytes + len > TT_QUEUE_BYTES) queue_drop_oldest(t);
    size_t tail = (q->head + q->count) % TT_QUEUE_MSGS;
    q->msg[tail] = msg;
    q->len[tail] = len;
    q->count++;
    q->bytes += len;
    tt_tx_flush(t);
}

/* ---- sockets and control ---- */

int tt_tx_open(tt_transport *t, const char *ep, const char *ctl, char *err, size_t errlen)
{
    snprintf(t->endpoint, sizeof t->endpoint, "%s", ep);
    /* nanomsg connects lazily and retries on its own: an absent collector is not an error. */
    t->push = nn_socket(AF_SP, NN_PUSH);
    if (t->push >= 0) {
        int sndbuf = 1 << 20;
        nn_setsockopt(t->push, NN_SOL_SOCKET, NN_SNDBUF, &sndbuf, sizeof sndbuf);
        if (nn_connect(t->push, ep) < 0) { nn_close(t->push); t->push = -1; }
    }
    t->sub = nn_socket(AF_SP, NN_SUB);
    if (t->sub >= 0) {
        if (nn_setsockopt(t->sub, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) < 0 || nn_connect(t->sub, ctl) < 0) {
            nn_close(t->sub);
            t->sub = -1;
        }
    }
    if (t->push < 0) {
        snprintf(err, errlen, "run '%s': cannot open a nanomsg socket to %s: %s", t->run, ep, nn_strerror(nn_errno()));
        return -1;
    }
    return 0;
}

void tt_tx_poll_control(tt_transport *t)
{
    if (t->sub < 0) return;
    for (int i = 0; i < 64; i++) {
        char *buf = NULL;
        int n = nn_recv(t->sub, &buf, NN_MSG, NN_DONTWAIT);
        if (n < 0) return;
        cJSON *m = cJSON_ParseWithLength(buf, (size_t)n);
        nn_freemsg(buf);
        if (!m) continue;
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(m, "run");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(m, "type");
        const cJSON *action = cJSON_GetObjectItemCaseSensitive(m, "action");
        const cJSON *rank = cJSON_GetObjectItemCaseSensitive(m, "rank");
        int mine = cJSON_IsString(run) && !strcmp(run->valuestring, t->run) &&
                   (!cJSON_IsNumber(rank) || (int)rank->valuedouble == t->rank);
        if (mine && cJSON_IsString(type) && !strcmp(type->valuestring, TT_MSG_CONTROL) && cJSON_IsString(action)) {
            const char *a = action->valuestring;
            if (!strcmp(a, TT_CTL_STOP)) {
                const cJSON *reason = cJSON_GetObjectItemCaseSensitive(m, "reason");
                t->stop = 1;
                snprintf(t->stop_reason, sizeof t->stop_reason, "%s",
                         cJSON_IsString(reason) ? reason->valuestring : "stopped by the collector");
            } else if (!strcmp(a, TT_CTL_RESEND_START) && t->started && t->start_msg) {
                size_t len = 0;
                char *start = t->start_msg(t->ctx, &len);
                tt_tx_send(t, start, len);
            } else if (!strcmp(a, TT_CTL_ACK_END)) {
                t->end_acked = 1;
            }
        }
        cJSON_Delete(m);
    }
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void tt_tx_linger(tt_transport *t, int linger_ms)
{
    /* nanomsg discards unsent data on close: wait (bounded) for the collector to acknowledge the end. */
    double deadline = now_mono() + linger_ms / 1000.0;
    while (!t->end_acked && now_mono() < deadline) {
        tt_tx_flush(t);
        tt_tx_poll_control(t);
        if (!t->end_acked) usleep(2000);
    }
}

void tt_tx_close(tt_transport *t)
{
    if (t->push >= 0) nn_close(t->push);
    if (t->sub >= 0) nn_close(t->sub);
    t->push = t->sub = -1;
    while (t->q.count) queue_drop_oldest(t);          /* never delivered: spooled, or counted as dropped */
    if (t->spool) fclose(t->spool);
    t->spool = NULL;
}
