/* relay: two nn_device loops, each in its own thread: raw PULL (probes) → raw PUSH (head ingest), and
 * raw SUB (head control) → raw PUB (probes' control). Raw sockets pass messages through untouched. */
#include "relay.h"
#include "../proto/endpoint.h"

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/pubsub.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tt_relay {
    int up_fds[2], down_fds[2];      /* each device's two sockets: in, out */
    pthread_t up, down;
    int up_started, down_started;
};

static void *device(void *arg)
{
    int *s = arg;
    nn_device(s[0], s[1]);            /* returns when nn_term() is called */
    return NULL;
}

static int sock(int proto, const char *ep, int bind, char *err, size_t errlen)
{
    int s = nn_socket(AF_SP_RAW, proto);
    if (s < 0) { snprintf(err, errlen, "cannot create a nanomsg socket: %s", nn_strerror(nn_errno())); return -1; }
    if (proto == NN_SUB) nn_setsockopt(s, NN_SUB, NN_SUB_SUBSCRIBE, "", 0);
    if (bind && !strncmp(ep, "ipc://", 6)) unlink(ep + 6);
    if ((bind ? nn_bind(s, ep) : nn_connect(s, ep)) < 0) {
        snprintf(err, errlen, "cannot %s %s: %s", bind ? "listen on" : "connect to", ep, nn_strerror(nn_errno()));
        nn_close(s);
        return -1;
    }
    return s;
}

tt_relay *tt_relay_start(const char *listen, const char *head, char *err, size_t errlen)
{
    char lctl[256], hctl[256];
    if (tt_endpoint_derive(listen, TT_EP_CONTROL, lctl, sizeof lctl, err, errlen) ||
        tt_endpoint_derive(head, TT_EP_CONTROL, hctl, sizeof hctl, err, errlen)) return NULL;
    tt_relay *r = calloc(1, sizeof *r);
    if (!r) { snprintf(err, errlen, "out of memory"); return NULL; }
    if ((r->up_fds[0] = sock(NN_PULL, listen, 1, err, errlen)) < 0 || (r->up_fds[1] = sock(NN_PUSH, head, 0, err, errlen)) < 0 ||
        (r->down_fds[0] = sock(NN_SUB, hctl, 0, err, errlen)) < 0 || (r->down_fds[1] = sock(NN_PUB, lctl, 1, err, errlen)) < 0) {
        free(r);
        return NULL;
    }
    r->up_started = pthread_create(&r->up, NULL, device, r->up_fds) == 0;
    r->down_started = pthread_create(&r->down, NULL, device, r->down_fds) == 0;
    if (!r->up_started || !r->down_started) { snprintf(err, errlen, "cannot start the relay threads"); tt_relay_stop(r); return NULL; }
    return r;
}

void tt_relay_stop(tt_relay *r)
{
    if (!r) return;
    nn_term();
    if (r->up_started) pthread_join(r->up, NULL);
    if (r->down_started) pthread_join(r->down, NULL);
    free(r);
}
