/* mirror: one REQ socket; a timerfd says when the next live ask is due, so a viewer sleeps in poll()
 * between asks. The collector numbers live messages (collectors/livering); we ask from the next one we
 * have not seen, and reload the history when told that some are gone. */
#include "mirror.h"
#include "auth.h"
#include "../proto/endpoint.h"
#include "../proto/protocol.h"

#include <cjson/cJSON.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define POLL_S 0.1       /* live messages are asked for this often */
#define RETRY_S 2.0      /* an ask with no answer is sent again after this long (a restarted collector) */

struct tt_mirror {
    int req, timer;
    int timeout_ms;
    tt_mirror_line_fn fn;
    void *ud;
    uint64_t epoch, since;     /* the collector's start, and the next live message wanted */
    int asking;
    double ask_at, asked_at;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* {"v":1,"type":T[,"epoch":E,"since":S],"token":…} as text; NULL with err. */
static char *request(const char *type, uint64_t epoch, uint64_t since, char *err, size_t errlen)
{
    cJSON *q = cJSON_CreateObject();
    char *txt = NULL;
    if (!q) { snprintf(err, errlen, "out of memory"); return NULL; }
    cJSON_AddNumberToObject(q, "v", TT_PROTOCOL_VERSION);
    cJSON_AddStringToObject(q, "type", type);
    if (epoch) {
        cJSON_AddNumberToObject(q, "epoch", (double)epoch);
        cJSON_AddNumberToObject(q, "since", (double)since);
    }
    if (tt_auth_sign(q, err, errlen) == 0 && !(txt = cJSON_PrintUnformatted(q))) snprintf(err, errlen, "out of memory");
    cJSON_Delete(q);
    return txt;
}

/* The reply's first line when it is {"type":"error",…}: its message into err. */
static int refused(const char *buf, size_t n, char *err, size_t errlen)
{
    const char *nl = memchr(buf, '\n', n);
    cJSON *h = cJSON_ParseWithLength(buf, nl ? (size_t)(nl - buf) : n);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(h, "type"), *e = cJSON_GetObjectItemCaseSensitive(h, "error");
    int bad = cJSON_IsString(t) && !strcmp(t->valuestring, "error");
    if (bad) snprintf(err, errlen, "%s", cJSON_IsString(e) ? e->valuestring : "refused");
    cJSON_Delete(h);
    return bad;
}

/* One request, waiting for its reply (open, and history after a gap). The reply is nn_freemsg'd by the caller. */
static int ask_blocking(tt_mirror *m, const char *type, uint64_t epoch, uint64_t since, char **buf, const char *ep,
                        char *err, size_t errlen)
{
    char *txt = request(type, epoch, since, err, errlen);
    if (!txt) return -1;
    int n = -1;
    if (nn_send(m->req, txt, strlen(txt), 0) >= 0) n = nn_recv(m->req, buf, NN_MSG, 0);
    free(txt);
    if (n < 0) { snprintf(err, errlen, "no collector answered on %s within %d ms", ep, m->timeout_ms); return -1; }
    if (refused(*buf, (size_t)n, err, errlen)) { nn_freemsg(*buf); return -1; }
    return n;
}

/* Lines after the first (skip_header) or all of them, to fn. */
static int hand_on(tt_mirror *m, const char *buf, size_t n, int skip_header)
{
    int lines = 0;
    for (const char *p = buf, *end = buf + n; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len && !skip_header) { m->fn(m->ud, p, len); lines++; }
        skip_header = 0;
        p += len + 1;
    }
    return lines;
}

/* The live reply's header: epoch, next, gap, more. -1 when it is not one. */
static int live_header(const char *buf, size_t n, uint64_t *epoch, uint64_t *next, int *gap, int *more)
{
    const char *nl = memchr(buf, '\n', n);
    cJSON *h = cJSON_ParseWithLength(buf, nl ? (size_t)(nl - buf) : n);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(h, "type"), *e = cJSON_GetObjectItemCaseSensitive(h, "epoch"),
                *x = cJSON_GetObjectItemCaseSensitive(h, "next");
    int ok = cJSON_IsString(t) && !strcmp(t->valuestring, "live") && cJSON_IsNumber(e) && cJSON_IsNumber(x) &&
             e->valuedouble >= 1 && x->valuedouble >= 1;
    if (ok) {
        *epoch = (uint64_t)e->valuedouble;
        *next = (uint64_t)x->valuedouble;
        *gap = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "gap"));
        *more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "more"));
    }
    cJSON_Delete(h);
    return ok ? 0 : -1;
}

/* Where the live numbers are now, then the history: what happens in between comes twice, and the
 * receiver refuses steps it already has. */
static int resync(tt_mirror *m, const char *ep, char *err, size_t errlen)
{
    char *buf = NULL;
    int gap, more, n = ask_blocking(m, "live", 0, 0, &buf, ep, err, errlen);
    if (n < 0) return -1;
    int bad = live_header(buf, (size_t)n, &m->epoch, &m->since, &gap, &more);
    nn_freemsg(buf);
    if (bad) { snprintf(err, errlen, "the collector on %s does not serve live messages (an older traintopd?)", ep); return -1; }
    if ((n = ask_blocking(m, "history", 0, 0, &buf, ep, err, errlen)) < 0) return -1;
    hand_on(m, buf, (size_t)n, 0);
    nn_freemsg(buf);
    return 0;
}

static void arm(tt_mirror *m, double at)
{
    double d = at - mono();
    if (d < 0.001) d = 0.001;
    struct itimerspec its = { .it_value = { (time_t)d, (long)((d - (time_t)d) * 1e9) } };
    timerfd_settime(m->timer, 0, &its, NULL);
}

tt_mirror *tt_mirror_open(const char *endpoint, int timeout_ms, tt_mirror_line_fn fn, void *ud, char *err, size_t errlen)
{
    char q[256];
    if (tt_endpoint_derive(endpoint, TT_EP_QUERY, q, sizeof q, err, errlen)) return NULL;
    tt_mirror *m = calloc(1, sizeof *m);
    if (!m) { snprintf(err, errlen, "out of memory"); return NULL; }
    m->req = -1;
    m->fn = fn;
    m->ud = ud;
    m->timeout_ms = timeout_ms;
    m->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    int unlimited = -1, resend = (int)(RETRY_S * 1000);
    if (m->timer < 0 || (m->req = nn_socket(AF_SP, NN_REQ)) < 0 ||
        nn_setsockopt(m->req, NN_SOL_SOCKET, NN_RCVMAXSIZE, &unlimited, sizeof unlimited) < 0 ||
        nn_setsockopt(m->req, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout_ms, sizeof timeout_ms) < 0 ||
        nn_setsockopt(m->req, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout_ms, sizeof timeout_ms) < 0 ||
        nn_setsockopt(m->req, NN_REQ, NN_REQ_RESEND_IVL, &resend, sizeof resend) < 0 || nn_connect(m->req, q) < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", q, nn_strerror(nn_errno()));
        tt_mirror_close(m);
        return NULL;
    }
    if (resync(m, endpoint, err, errlen)) { tt_mirror_close(m); return NULL; }
    m->ask_at = mono();
    arm(m, m->ask_at);
    return m;
}

void tt_mirror_close(tt_mirror *m)
{
    if (!m) return;
    if (m->req >= 0) nn_close(m->req);
    if (m->timer >= 0) close(m->timer);
    free(m);
}

int tt_mirror_fds(const tt_mirror *m, int *fds, int max)
{
    int n = 0, fd;
    size_t sz = sizeof fd;
    if (n < max && nn_getsockopt(m->req, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) == 0) fds[n++] = fd;
    if (n < max) fds[n++] = m->timer;
    return n;
}

int tt_mirror_process(tt_mirror *m)
{
    uint64_t expirations;
    while (read(m->timer, &expirations, sizeof expirations) > 0) {}
    int lines = 0;
    char *buf = NULL, err[256];
    int n = m->asking ? nn_recv(m->req, &buf, NN_MSG, NN_DONTWAIT) : -1;
    if (n >= 0) {
        uint64_t epoch, next;
        int gap = 0, more = 0;
        m->asking = 0;
        m->ask_at = mono() + POLL_S;
        if (live_header(buf, (size_t)n, &epoch, &next, &gap, &more) == 0) {
            if (gap) {
                /* messages we never got, or another collector: start over from its history */
                nn_freemsg(buf);
                buf = NULL;
                if (resync(m, "the collector", err, sizeof err) == 0) m->ask_at = mono();
            } else {
                lines = hand_on(m, buf, (size_t)n, 1);
                m->since = next;
                if (more) m->ask_at = mono();
            }
        }
        if (buf) nn_freemsg(buf);
    }
    double now = mono();
    if ((!m->asking && now >= m->ask_at) || (m->asking && now - m->asked_at >= RETRY_S)) {
        char *txt = request("live", m->epoch, m->since, err, sizeof err);
        if (txt && nn_send(m->req, txt, strlen(txt), NN_DONTWAIT) >= 0) { m->asking = 1; m->asked_at = now; }
        else m->ask_at = now + POLL_S;
        free(txt);
    }
    arm(m, m->asking ? m->asked_at + RETRY_S : m->ask_at);
    return lines;
}
