/* transport: messages leave without the training thread ever waiting, and none is let go before the
 * collector has it. A message stays queued until a cumulative ack covers it; the queue is sent again
 * from its oldest message when the collector asks (it restarted: resend_start; it missed one: resend)
 * or when acks stop coming for a while (a connection that died with messages in it). What exceeds the
 * memory budget, and what is unacknowledged at close, goes to the spool file; only without a spool is
 * a message dropped, and counted. */
#include "transport.h"
#include "../proto/endpoint.h"
#include "../proto/protocol.h"
#include "../proto/jsonstrip.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/pubsub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RTO_MIN 2.0        /* seconds without an ack before the queue is sent again... */
#define RTO_MAX 16.0       /* ...doubling while the collector stays silent (stopped, or gone) */

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the spool: what could not be kept, in a file that a collector imports and `traintop replay` reads ---- */

static int mkdir_p(const char *dir)
{
    char tmp[520];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') { *s = 0; if (mkdir(tmp, 0700) && errno != EEXIST) return -1; *s = '/'; }
    return mkdir(tmp, 0700) && errno != EEXIST ? -1 : 0;
}

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
        const char *path = t->spool_part[0] ? t->spool_part : t->spool_path;
        char dir[sizeof t->spool_part];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) { *slash = 0; mkdir_p(dir); }
        /* it holds the run's data: the user's alone, and no child of the trainer inherits it */
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 || !(t->spool = fdopen(fd, "a"))) {
            fprintf(stderr, "traintop: run '%s' rank %d: cannot write the spool %s: %s; unacknowledged messages are dropped\n",
                    t->run, t->rank, path, strerror(errno));
            if (fd >= 0) close(fd);
            t->spool_path[0] = 0;
            return -1;
        }
        size_t n = 0;
        char *start = t->start_msg ? t->start_msg(t->ctx, &n) : NULL;
        if (start) spool_line(t->spool, start, n);
        free(start);
    }
    if (spool_line(t->spool, msg, len)) return -1;
    t->c->spooled++;
    return 0;
}

/* ---- the queue ---- */

static tt_tx_msg *at(tt_queue *q, size_t i) { return &q->m[(q->head + i) % TT_QUEUE_MSGS]; }

static void pop_head(tt_transport *t)
{
    tt_queue *q = &t->q;
    tt_tx_msg *m = at(q, 0);
    q->bytes -= m->len;
    free(m->msg);
    memset(m, 0, sizeof *m);
    q->head = (q->head + 1) % TT_QUEUE_MSGS;
    q->count--;
    if (q->sent) q->sent--;
}

/* The oldest message leaves memory unacknowledged: spooled, or dropped and counted. */
static void spill_oldest(tt_transport *t)
{
    tt_tx_msg *m = at(&t->q, 0);
    if (spool_write(t, m->msg, m->len) < 0) t->c->dropped++;
    pop_head(t);
}

void tt_tx_stamp(const tt_transport *t, tt_enc_sender *s)
{
    s->seq = t->next_seq;
    /* everything before the oldest message still held was acknowledged, spooled or dropped */
    s->base = t->q.count ? t->q.m[t->q.head].seq - 1 : t->next_seq - 1;
}

static void try_send(tt_transport *t)
{
    tt_queue *q = &t->q;
    if (t->push < 0) return;
    if (t->start_due && t->start_msg) {
        size_t n = 0;
        char *s = t->start_msg(t->ctx, &n);
        int rc = s ? nn_send(t->push, s, n, NN_DONTWAIT) : -1;
        free(s);
        if (rc < 0) return;
        t->start_due = 0;
        t->c->sent++;
    }
    while (q->sent < q->count) {
        tt_tx_msg *m = at(q, q->sent);
        if (nn_send(t->push, m->msg, m->len, NN_DONTWAIT) < 0) break;
        if (m->was_sent) t->c->resent++;
        else t->c->sent++;
        m->was_sent = 1;
        q->sent++;
    }
}

void tt_tx_flush(tt_transport *t) { try_send(t); }

void tt_tx_send(tt_transport *t, char *msg, size_t len)
{
    tt_queue *q = &t->q;
    if (!msg) { t->c->dropped++; return; }          /* encoding ran out of memory */
    if (len > TT_MSG_MAX_BYTES) {                   /* the collector's transport would refuse it */
        if (!t->warned_size++)
            fprintf(stderr, "traintop: run '%s' rank %d: a message of %zu bytes exceeds the protocol's %u; dropped "
                            "(counted): publish fewer layers, or layer statistics less often\n", t->run, t->rank, len, TT_MSG_MAX_BYTES);
        free(msg);
        t->c->dropped++;
        return;
    }
    if (!q->count) t->last_progress = now_mono();   /* the timer runs while something waits for its ack */
    while (q->count == TT_QUEUE_MSGS || q->bytes + len > TT_QUEUE_BYTES) spill_oldest(t);
    tt_tx_msg *m = at(q, q->count);
    *m = (tt_tx_msg){ .msg = msg, .len = len, .seq = t->next_seq++, .queued_at = now_mono() };
    q->count++;
    q->bytes += len;
    try_send(t);
}

/* ---- acknowledgements ---- */

static void acked(tt_transport *t, uint64_t seq)
{
    if (seq >= t->next_seq) seq = t->next_seq - 1;   /* never trust an ack for what was not sent */
    while (t->q.count && at(&t->q, 0)->seq <= seq) pop_head(t);
    if (seq > t->acked) {
        t->acked = seq;
        t->last_progress = now_mono();
        t->rto = RTO_MIN;
    }
}

/* Send everything held again, from the oldest (the collector drops what it already has). */
static void rewind_queue(tt_transport *t)
{
    t->q.sent = 0;
    t->last_progress = now_mono();
}

/* Acks stopped with messages out: the connection may have died with them in it. Also the one warning
 * that nobody takes the run's messages, and where they are kept. */
static void check_silence(tt_transport *t)
{
    tt_queue *q = &t->q;
    if (!q->count) return;
    double now = now_mono();
    if (q->sent && now - t->last_progress > t->rto) {
        rewind_queue(t);
        t->rto = t->rto * 2 > RTO_MAX ? RTO_MAX : t->rto * 2;
    }
    if (!t->warned_silent && now - at(q, 0)->queued_at > TT_TX_WARN_S) {
        t->warned_silent = 1;
        fprintf(stderr, "traintop: run '%s' rank %d: no collector has acknowledged its messages for %.0f s (endpoint %s); "
                        "keeping them in memory (up to %d), then in %s\n", t->run, t->rank, TT_TX_WARN_S, t->endpoint,
                TT_QUEUE_MSGS, t->spool_path[0] ? t->spool_path : "nothing: spooling is off, the oldest are dropped");
    }
}

static uint64_t seq_of(const cJSON *m)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "seq");
    return cJSON_IsNumber(s) && s->valuedouble >= 0 && s->valuedouble <= TT_MAX_STEP ? (uint64_t)s->valuedouble : 0;
}

void tt_tx_poll_control(tt_transport *t)
{
    if (t->sub >= 0) {
        for (int i = 0; i < 64; i++) {
            char *buf = NULL;
            int n = nn_recv(t->sub, &buf, NN_MSG, NN_DONTWAIT);
            if (n < 0) break;
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
                } else if (!strcmp(a, TT_CTL_ACK)) {
                    acked(t, seq_of(m));
                } else if (!strcmp(a, TT_CTL_RESEND)) {
                    acked(t, seq_of(m));
                    rewind_queue(t);
                } else if (!strcmp(a, TT_CTL_RESEND_START) && t->started) {
                    t->start_due = 1;            /* a collector that does not know the run: start, then all we hold */
                    rewind_queue(t);
                }
            }
            cJSON_Delete(m);
        }
    }
    check_silence(t);
    try_send(t);
}

/* ---- sockets ---- */

/* The default spool: one file per run, rank and process under the endpoint's spool directory. */
static int default_spool(tt_transport *t, const char *ep, char *err, size_t errlen)
{
    char dir[400];
    if (tt_spool_dir(ep, dir, sizeof dir, err, errlen)) return -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int n = snprintf(t->spool_path, sizeof t->spool_path, "%s/%s.%d.%ld.%lld%06ld.jsonl", dir, t->run, t->rank,
                     (long)getpid(), (long long)ts.tv_sec, ts.tv_nsec / 1000);
    if (n < 0 || (size_t)n >= sizeof t->spool_path) { snprintf(err, errlen, "run '%s': the spool path under %s is too long", t->run, dir); return -1; }
    snprintf(t->spool_part, sizeof t->spool_part, "%s.part", t->spool_path);
    return 0;
}

int tt_tx_open(tt_transport *t, const char *ep, const char *ctl, const char *spool, char *err, size_t errlen)
{
    snprintf(t->endpoint, sizeof t->endpoint, "%s", ep);
    t->next_seq = 1;
    t->rto = RTO_MIN;
    t->last_progress = now_mono();
    if (!spool) {
        if (default_spool(t, ep, err, errlen)) return -1;
    } else if (*spool) {
        if (strlen(spool) >= sizeof t->spool_path) { snprintf(err, errlen, "run '%s': spool path '%.40s…': expected at most %zu bytes", t->run, spool, sizeof t->spool_path - 1); return -1; }
        snprintf(t->spool_path, sizeof t->spool_path, "%s", spool);
    }
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

void tt_tx_linger(tt_transport *t, int linger_ms)
{
    /* nanomsg discards unsent data on close: wait (bounded) until the collector has acknowledged it all. */
    double deadline = now_mono() + linger_ms / 1000.0;
    while ((t->q.count || t->start_due) && now_mono() < deadline) {
        tt_tx_poll_control(t);
        if (t->q.count || t->start_due) usleep(2000);
    }
}

void tt_tx_close(tt_transport *t)
{
    if (t->push >= 0) nn_close(t->push);
    if (t->sub >= 0) nn_close(t->sub);
    t->push = t->sub = -1;
    uint64_t spooled = t->c->spooled, dropped = t->c->dropped, held = t->q.count;
    while (t->q.count) spill_oldest(t);           /* never acknowledged: spooled, or counted as dropped */
    if (t->spool) {
        fclose(t->spool);
        t->spool = NULL;
        if (t->spool_part[0] && rename(t->spool_part, t->spool_path))
            fprintf(stderr, "traintop: run '%s' rank %d: cannot rename the spool %s: %s\n", t->run, t->rank, t->spool_part, strerror(errno));
    }
    if (held && t->c->spooled > spooled)
        fprintf(stderr, "traintop: run '%s' rank %d: %llu messages were not acknowledged by a collector; kept in %s "
                        "(a collector on %s imports it; `traintop replay` reads it)\n", t->run, t->rank,
                (unsigned long long)(t->c->spooled - spooled), t->spool_path, t->endpoint);
    if (held && t->c->dropped > dropped)
        fprintf(stderr, "traintop: run '%s' rank %d: %llu messages were not acknowledged by a collector and are lost (spooling is off)\n",
                t->run, t->rank, (unsigned long long)(t->c->dropped - dropped));
}
