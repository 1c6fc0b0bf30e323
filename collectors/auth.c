/* auth: the listening policy and the query check; the token itself is proto/token's. */
#include "auth.h"
#include "../proto/token.h"

#include <string.h>

static int is_loopback(const char *ep)
{
    const char *host = ep + 6, *colon = strrchr(host, ':');
    size_t n = colon ? (size_t)(colon - host) : strlen(host);
    return (n >= 4 && !strncmp(host, "127.", 4)) || (n == 9 && !strncmp(host, "localhost", 9)) ||
           (n == 5 && !strncmp(host, "[::1]", 5));
}

int tt_auth_listen(const char *ep, const char *token, int allow_remote, int insecure_tcp, FILE *log,
                   char *err, size_t errlen)
{
    if (strncmp(ep, "tcp://", 6)) return 0;          /* ipc: the 0700 per-user directory guards it */
    int has_token = token && token[0];
    if (!is_loopback(ep) && !allow_remote) {
        snprintf(err, errlen, "%s is not a loopback address: listening there exposes the collector to the network; "
                              "use tcp://127.0.0.1:PORT with ssh (traintop attach), or pass --allow-remote and set TRAINTOP_TOKEN", ep);
        return -1;
    }
    if (!has_token && !insecure_tcp) {
        snprintf(err, errlen, "%s: every local user can connect to a TCP port; set TRAINTOP_TOKEN (probes and viewers "
                              "send it), or pass --insecure-tcp to let anyone who reaches the port read, feed and stop runs", ep);
        return -1;
    }
    if (!is_loopback(ep))
        fprintf(log, "traintop: warning: listening on %s, reachable from the network%s\n", ep,
                has_token ? "" : " WITHOUT a token (set TRAINTOP_TOKEN)");
    if (!has_token)
        fprintf(log, "traintop: WARNING: --insecure-tcp: anyone who can connect to %s can read, feed and stop every run\n", ep);
    fflush(log);
    return 0;
}

int tt_auth_query_ok(const cJSON *q, const char *token)
{
    if (!token || !token[0]) return 1;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(q, "token");
    return cJSON_IsString(t) && tt_token_eq(t->valuestring, strlen(t->valuestring), token);
}

int tt_auth_sign(cJSON *request, char *err, size_t errlen)
{
    char tok[TT_TOKEN_MAX];
    if (tt_token_from_env(tok, sizeof tok, err, errlen)) return -1;
    if (!tok[0]) return 0;
    cJSON_DeleteItemFromObjectCaseSensitive(request, "token");
    return cJSON_AddStringToObject(request, "token", tok) ? 0 : (snprintf(err, errlen, "out of memory"), -1);
}
