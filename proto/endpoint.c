/* endpoint: one base endpoint names all four sockets, so probe, collector and viewers agree with one setting. */
#include "endpoint.h"
#include "traintop/probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const suffix[] = { "", ".ctl", ".q" };

int tt_endpoint_check(const char *ep, char *err, size_t errlen)
{
    if (!ep || !*ep) { snprintf(err, errlen, "endpoint is empty: expected ipc://PATH, tcp://HOST:PORT or inproc://NAME"); return -1; }
    if (strlen(ep) > 200) { snprintf(err, errlen, "endpoint '%.40s…' is too long: expected at most 200 characters", ep); return -1; }
    if (!strncmp(ep, "ipc://", 6) && ep[6]) return 0;
    if (!strncmp(ep, "inproc://", 9) && ep[9]) return 0;
    if (!strncmp(ep, "tcp://", 6)) {
        const char *colon = strrchr(ep + 6, ':');
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (colon && colon > ep + 6 && colon[1] && !*end && port > 0 && port <= 65533) return 0;
        snprintf(err, errlen, "endpoint '%s': expected tcp://HOST:PORT with PORT in 1..65533 (the next two ports are used too)", ep);
        return -1;
    }
    snprintf(err, errlen, "endpoint '%s': expected ipc://PATH, tcp://HOST:PORT or inproc://NAME", ep);
    return -1;
}

int tt_endpoint_derive(const char *base, tt_ep_kind kind, char *out, size_t len, char *err, size_t errlen)
{
    if (tt_endpoint_check(base, err, errlen)) return -1;
    int n;
    if (!strncmp(base, "tcp://", 6)) {
        const char *colon = strrchr(base + 6, ':');
        long port = strtol(colon + 1, NULL, 10) + (long)kind;
        n = snprintf(out, len, "%.*s:%ld", (int)(colon - base), base, port);
    } else {
        n = snprintf(out, len, "%s%s", base, suffix[kind]);
    }
    if (n < 0 || (size_t)n >= len) { snprintf(err, errlen, "endpoint '%s' is too long", base); return -1; }
    return 0;
}

int tt_runtime_dir(char *out, size_t len, char *err, size_t errlen)
{
    /* A directory only this user can enter keeps other users off the sockets. */
    const char *rt = getenv("XDG_RUNTIME_DIR");
    int n;
    if (rt && *rt && access(rt, W_OK) == 0)
        n = snprintf(out, len, "%s/traintop", rt);
    else
        n = snprintf(out, len, "/tmp/traintop-%u", (unsigned)getuid());
    if (n < 0 || (size_t)n >= len) { snprintf(err, errlen, "runtime directory path is too long"); return -1; }
    if (mkdir(out, 0700) && errno != EEXIST) {
        snprintf(err, errlen, "cannot create socket directory %s: %s", out, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(out, &st) || !S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077)) {
        snprintf(err, errlen, "socket directory %s: expected a directory owned by uid %u with mode 0700",
                 out, (unsigned)getuid());
        return -1;
    }
    return 0;
}

int tt_state_dir(char *out, size_t len, char *err, size_t errlen)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int n;
    if (state && *state == '/')
        n = snprintf(out, len, "%s/traintop", state);
    else if (home && *home == '/')
        n = snprintf(out, len, "%s/.local/state/traintop", home);
    else
        n = snprintf(out, len, "/tmp/traintop-%u", (unsigned)getuid());
    if (n < 0 || (size_t)n >= len) { snprintf(err, errlen, "state directory: path too long"); return -1; }
    return 0;
}

int tt_spool_dir(const char *ep, char *out, size_t len, char *err, size_t errlen)
{
    if (tt_endpoint_check(ep, err, errlen) || tt_state_dir(out, len, err, errlen)) return -1;
    size_t n0 = strlen(out);
    int n = snprintf(out + n0, len - n0, "/spool/");
    if (n < 0 || n0 + (size_t)n + strlen(ep) >= len) { snprintf(err, errlen, "spool directory for %s: path too long", ep); return -1; }
    n += (int)n0;
    /* one directory per endpoint, so a collector imports only what was meant for it */
    char *p = out + n;
    for (const char *s = ep; *s; s++) *p++ = *s == '/' || *s == ':' ? '_' : *s;
    *p = 0;
    return 0;
}

int tt_default_endpoint(char *out, size_t len, char *err, size_t errlen)
{
    const char *env = getenv("TRAINTOP_ENDPOINT");
    if (env && *env) {
        if (tt_endpoint_check(env, err, errlen)) return -1;
        snprintf(out, len, "%s", env);
        return 0;
    }
    char dir[200];
    if (tt_runtime_dir(dir, sizeof dir, err, errlen)) return -1;
    int n = snprintf(out, len, "ipc://%s/collector.sock", dir);
    if (n < 0 || (size_t)n >= len) { snprintf(err, errlen, "socket path under %s is too long", dir); return -1; }
    return 0;
}
