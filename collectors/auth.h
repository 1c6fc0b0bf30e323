/* auth: who may talk to a collector. With a token ($TRAINTOP_TOKEN) every message and every query must
 * carry it, on every transport; without one, only the per-user unix socket is private, so TCP is
 * refused unless the user opts out of protection (--insecure-tcp), loudly. */
#ifndef TT_AUTH_H
#define TT_AUTH_H

#include <stdio.h>
#include <cjson/cJSON.h>

/* May a collector (or relay) with this token (""/NULL: none) listen on endpoint? Refuses, with one line
 * in err, tcp:// on a non-loopback address without allow_remote, and tcp:// without a token unless
 * insecure_tcp; what is allowed but exposed is logged to log as a warning on every start. */
int tt_auth_listen(const char *endpoint, const char *token, int allow_remote, int insecure_tcp, FILE *log,
                   char *err, size_t errlen);

/* 1 when a query may be answered: no token is required, or q's "token" matches it. */
int tt_auth_query_ok(const cJSON *q, const char *token);

/* The client's side: adds $TRAINTOP_TOKEN (when set) to a request. -1 with err when it is not valid. */
int tt_auth_sign(cJSON *request, char *err, size_t errlen);

#endif
