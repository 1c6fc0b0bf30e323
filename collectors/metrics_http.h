/* metrics_http: the /metrics HTTP endpoint (libmicrohttpd), served from the owner's poll loop — no thread,
 * so the page is rendered from the store on the thread that owns it, fresh for every scrape. */
#ifndef TT_METRICS_HTTP_H
#define TT_METRICS_HTTP_H

#include <stddef.h>
#include <stdio.h>

typedef struct tt_metrics_http tt_metrics_http;

/* Writes the page to out; 0, or -1 (the scrape gets a 500). */
typedef int (*tt_metrics_render_fn)(void *ud, FILE *out);

typedef struct {
    const char *listen;        /* HOST:PORT ([::1]:PORT for IPv6; port 0: any free port) */
    int allow_remote;          /* permit a HOST other than loopback (a warning is logged) */
    const char *token;         /* when not empty, scrapes must send "Authorization: Bearer TOKEN" */
    tt_metrics_render_fn render;
    void *ud;
    FILE *log;                 /* the warning for a non-loopback address; NULL: stderr */
} tt_metrics_http_opts;

/* Listens at once; NULL with err (one line naming the address) when it cannot. */
tt_metrics_http *tt_metrics_http_start(const tt_metrics_http_opts *o, char *err, size_t errlen);
/* A file descriptor that becomes readable when a scrape needs tt_metrics_http_run. */
int tt_metrics_http_fd(const tt_metrics_http *h);
/* Accepts, reads and answers what is pending without waiting. */
void tt_metrics_http_run(tt_metrics_http *h);
/* The URL scrapers use, with the port actually bound: http://HOST:PORT/metrics */
const char *tt_metrics_http_url(const tt_metrics_http *h);
void tt_metrics_http_stop(tt_metrics_http *h);

#endif
