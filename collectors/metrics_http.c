/* metrics_http: GET /metrics through libmicrohttpd in its external-poll mode (one epoll fd). */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct tt_metrics_http {
    struct MHD_Daemon *d;
    tt_metrics_render_fn render;
    void *ud;
    char auth[256];            /* "Bearer TOKEN", "" when no token is required */
    char url[300];
};

/* Equal strings in time that does not depend on where they differ. */
static int same_secret(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char diff = na != nb;
    for (size_t i = 0; i < na; i++) diff |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return !diff;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_UNAUTHORIZED) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"traintop\"");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result plain(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return reply(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text), MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_len, void **state)
{
    (void)version; (void)upload; (void)state;
    tt_metrics_http *h = cls;
    if (*upload_len) { *upload_len = 0; return MHD_YES; }       /* a body is read and ignored */
    if (strcmp(url, "/metrics")) return plain(conn, MHD_HTTP_NOT_FOUND, "traintop: only /metrics is served here\n");
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) return plain(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "traintop: /metrics answers GET\n");
    if (h->auth[0]) {
        const char *got = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!got || !same_secret(got, h->auth)) return plain(conn, MHD_HTTP_UNAUTHORIZED, "traintop: /metrics needs the collector's token (Authorization: Bearer)\n");
    }
    char *body = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&body, &len);
    if (!out) return plain(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "traintop: out of memory\n");
    int rc = h->render(h->ud, out);
    if (fclose(out) || rc) { free(body); return plain(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "traintop: the page could not be rendered\n"); }
    return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len, MHD_RESPMEM_MUST_FREE);
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    return sa->sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

tt_metrics_http *tt_metrics_http_start(const tt_metrics_http_opts *o, char *err, size_t errlen)
{
    /* HOST:PORT, the host in brackets when it is an IPv6 address */
    const char *colon = strrchr(o->listen, ':');
    char host[256];
    size_t hn = colon ? (size_t)(colon - o->listen) : 0;
    if (hn >= 2 && o->listen[0] == '[' && o->listen[hn - 1] == ']') snprintf(host, sizeof host, "%.*s", (int)hn - 2, o->listen + 1);
    else snprintf(host, sizeof host, "%.*s", (int)hn, o->listen);
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || !hn || hn >= sizeof host || !colon[1] || *end || port < 0 || port > 65535) {
        snprintf(err, errlen, "--metrics-listen '%s': expected HOST:PORT, e.g. 127.0.0.1:9464", o->listen);
        return NULL;
    }
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai) { snprintf(err, errlen, "--metrics-listen '%s': cannot resolve '%s': %s", o->listen, host, gai_strerror(gai)); return NULL; }
    if (!is_loopback(ai->ai_addr)) {
        if (!o->allow_remote) {
            snprintf(err, errlen, "--metrics-listen '%s' is not a loopback address: it would expose the metrics to the network; "
                                  "use 127.0.0.1:PORT, or pass --allow-remote and set TRAINTOP_TOKEN", o->listen);
            freeaddrinfo(ai);
            return NULL;
        }
        fprintf(o->log ? o->log : stderr, "traintopd: warning: metrics on %s, reachable from the network%s\n", o->listen,
                o->token && *o->token ? "" : " WITHOUT a token (set TRAINTOP_TOKEN)");
    }
    tt_metrics_http *h = calloc(1, sizeof *h);
    if (!h) { freeaddrinfo(ai); snprintf(err, errlen, "out of memory"); return NULL; }
    h->render = o->render;
    h->ud = o->ud;
    if (o->token && *o->token) snprintf(h->auth, sizeof h->auth, "Bearer %s", o->token);
    unsigned flags = MHD_USE_EPOLL | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    errno = 0;
    h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_END);
    int saved = errno;
    freeaddrinfo(ai);
    if (!h->d) {
        snprintf(err, errlen, "--metrics-listen '%s': cannot listen there: %s", o->listen, saved ? strerror(saved) : "libmicrohttpd refused");
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *bound = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(h->url, sizeof h->url, "http://%.*s:%u/metrics", (int)hn, o->listen, bound ? bound->port : (unsigned)port);
    return h;
}

int tt_metrics_http_fd(const tt_metrics_http *h)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    return i ? i->epoll_fd : -1;
}

void tt_metrics_http_run(tt_metrics_http *h) { MHD_run(h->d); }
const char *tt_metrics_http_url(const tt_metrics_http *h) { return h->url; }

void tt_metrics_http_stop(tt_metrics_http *h)
{
    if (!h) return;
    MHD_stop_daemon(h->d);
    free(h);
}
