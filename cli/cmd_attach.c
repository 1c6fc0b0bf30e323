/* traintop attach [user@]host[:port|:/socket]: the dashboard on a remote collector, through the system's
 * OpenSSH (so ~/.ssh/config, agents, ProxyJump and keys work as usual). ssh forwards one local unix
 * socket to the remote collector's query socket (history, live messages and stop all go through it);
 * nothing is opened to the network. */
#include "cmd.h"
#include "config.h"
#include "../tui/tui.h"
#include "../proto/endpoint.h"
#include "../collectors/alerts.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SSH_ARGS 32

typedef struct {
    char *ssh[MAX_SSH_ARGS];      /* the ssh command and its own options (--ssh), NULL-terminated */
    int nssh;
    char host[256];               /* [user@]host as given */
    char remote[256];             /* the remote collector's base endpoint */
    char local[256];              /* our base: ipc://…/attach-PID.sock */
    char errfile[256];            /* ssh's stderr, for the one-line diagnosis */
    pid_t pid;                    /* the forwarding ssh, 0 when down */
    double retry_at;
    int attempt;                  /* reconnection attempts since the link went down (0: up and steady) */
    double up_since;              /* when the current ssh's forward came up */
    int connecting;               /* pid is an ssh whose forward is not up yet */
    double deadline, timeout;     /* connecting: when it is given up, and the time it was given */
    char title[1024];             /* the dashboard's header: host, and the link's state */
} attach;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The last line ssh wrote, classified into what the user should know. */
static void ssh_diagnosis(const attach *a, char *out, size_t len)
{
    char line[512] = "", buf[512];
    FILE *f = fopen(a->errfile, "r");
    while (f && fgets(buf, sizeof buf, f))
        if (buf[0] != '\n' && strncmp(buf, "Warning: Permanently added", 26)) snprintf(line, sizeof line, "%s", buf);
    if (f) fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    const char *what = strstr(line, "Permission denied") || strstr(line, "Too many authentication") ? "authentication failed for"
                     : strstr(line, "Could not resolve") || strstr(line, "Connection refused") || strstr(line, "timed out") ||
                       strstr(line, "No route") || strstr(line, "Network is unreachable") ? "cannot reach"
                     : "ssh to";
    snprintf(out, len, "%s %s: %s", what, a->host, line[0] ? line : "ssh exited");
}

/* Runs ssh with extra arguments; its stdout goes to out (NULL: /dev/null), stderr to errfile. */
static pid_t ssh_spawn(attach *a, const char *const *extra, int nextra, int out_fd)
{
    const char *argv[MAX_SSH_ARGS + 24];
    int n = 0;
    for (int i = 0; i < a->nssh; i++) argv[n++] = a->ssh[i];
    for (int i = 0; i < nextra; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY), err = open(a->errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in >= 0) dup2(in, 0);            /* passwords are read from /dev/tty, never from stdin */
        if (err >= 0) dup2(err, 2);
        dup2(out_fd >= 0 ? out_fd : (err >= 0 ? err : 2), 1);
        signal(SIGINT, SIG_IGN);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(255);
    }
    return pid;
}

/* Runs a command on the remote host and captures its first output line. Returns its exit status. */
static int ssh_run(attach *a, const char *cmd, char *out, size_t len)
{
    int fds[2];
    if (pipe(fds)) return -1;
    const char *extra[] = { "-o", "BatchMode=no", "-n", a->host, cmd };
    pid_t pid = ssh_spawn(a, extra, 5, fds[1]);
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    if (out && len) out[0] = 0;
    char buf[512];
    while (f && fgets(buf, sizeof buf, f))
        if (out && !out[0]) {
            size_t n = strcspn(buf, "\r\n");
            if (n >= len) n = len - 1;
            memcpy(out, buf, n);
            out[n] = 0;
        }
    if (f) fclose(f);
    int st = 0;
    if (pid > 0) waitpid(pid, &st, 0);
    return pid < 0 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

/* s as one word for the remote shell: in single quotes, each ' written as '\''. -1 when it does not fit. */
static int sh_quote(const char *s, char *out, size_t len)
{
    size_t o = 0;
    if (len < 3) return -1;
    out[o++] = '\'';
    for (; *s; s++) {
        const char *piece = *s == '\'' ? "'\\''" : NULL;
        size_t n = piece ? 4 : 1;
        if (o + n + 2 > len) return -1;
        if (piece) memcpy(out + o, piece, n);
        else out[o] = *s;
        o += n;
    }
    out[o++] = '\'';
    out[o] = 0;
    return 0;
}

/* A remote socket path travels in ssh -L LOCAL:REMOTE and in a remote command: absolute, and without ':'
 * (ssh would read a host:port) or control characters. */
static int remote_path_ok(const char *p)
{
    if (p[0] != '/') return 0;
    for (; *p; p++)
        if (*p == ':' || (unsigned char)*p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

/* What ssh -L forwards to: a remote unix socket, or a remote loopback port. */
static int forward_spec(const attach *a, tt_ep_kind kind, char *out, size_t len, char *err, size_t errlen)
{
    char local[256], remote[256];
    if (tt_endpoint_derive(a->local, kind, local, sizeof local, err, errlen) ||
        tt_endpoint_derive(a->remote, kind, remote, sizeof remote, err, errlen)) return -1;
    if (!strncmp(remote, "ipc://", 6)) snprintf(out, len, "%s:%s", local + 6, remote + 6);
    else if (!strncmp(remote, "tcp://", 6)) snprintf(out, len, "%s:%s", local + 6, remote + 6);
    else { snprintf(err, errlen, "remote endpoint %s: expected ipc:// or tcp://", a->remote); return -1; }
    return 0;
}

/* The path of the local socket ssh forwards the queries through, or NULL. */
static const char *local_socket(const attach *a, char *p, size_t len)
{
    char err[128];
    return tt_endpoint_derive(a->local, TT_EP_QUERY, p, len, err, sizeof err) ? NULL : p + 6;
}

static int socket_up(const attach *a)
{
    char p[256];
    struct stat st;
    const char *path = local_socket(a, p, sizeof p);
    return path && !stat(path, &st);
}

/* Starts the forwarding ssh; link_poll then says when its local socket is up. The stale socket of an
 * earlier ssh is removed first, so that only the new one's counts. */
static int link_spawn(attach *a, int batch, double timeout, char *err, size_t errlen)
{
    char q[600], p[256];
    if (forward_spec(a, TT_EP_QUERY, q, sizeof q, err, errlen)) return -1;
    const char *stale = local_socket(a, p, sizeof p);
    if (stale) unlink(stale);
    const char *extra[] = { "-N", "-o", "ExitOnForwardFailure=yes", "-o", "StreamLocalBindUnlink=yes",
                            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2",
                            "-o", batch ? "BatchMode=yes" : "BatchMode=no", "-L", q, a->host };
    if ((a->pid = ssh_spawn(a, extra, (int)(sizeof extra / sizeof *extra), -1)) < 0) {
        snprintf(err, errlen, "cannot start ssh: %s", strerror(errno));
        a->pid = 0;
        return -1;
    }
    a->timeout = timeout;
    a->deadline = mono() + timeout;
    a->connecting = 1;
    return 0;
}

/* Where the ssh started by link_spawn stands, without waiting: 1 its forward is up, 0 not yet, -1 it
 * failed (exited, or no forward by the deadline; it is gone then) with one line in err. */
static int link_poll(attach *a, char *err, size_t errlen)
{
    int st;
    if (waitpid(a->pid, &st, WNOHANG) == a->pid) { a->pid = 0; a->connecting = 0; ssh_diagnosis(a, err, errlen); return -1; }
    if (socket_up(a)) { a->connecting = 0; return 1; }
    if (mono() < a->deadline) return 0;
    kill(a->pid, SIGTERM);
    waitpid(a->pid, NULL, 0);
    a->pid = 0;
    a->connecting = 0;
    snprintf(err, errlen, "ssh to %s did not set up its forwards within %.0f s", a->host, a->timeout);
    return -1;
}

/* Starts the forwarding ssh and waits (bounded) for the local socket. */
static int link_up(attach *a, int batch, double timeout, char *err, size_t errlen)
{
    if (link_spawn(a, batch, timeout, err, errlen)) return -1;
    int r;
    while ((r = link_poll(a, err, errlen)) == 0) usleep(50000);
    return r > 0 ? 0 : -1;
}

static void link_down(attach *a)
{
    if (a->pid > 0) { kill(a->pid, SIGTERM); waitpid(a->pid, NULL, 0); }
    a->pid = 0;
    a->connecting = 0;
    char p[256];
    const char *path = local_socket(a, p, sizeof p);
    if (path) unlink(path);
}

/* A reconnection attempt failed: the header says why, the next one in 2 s. */
static void retry_later(attach *a, const char *err)
{
    a->retry_at = mono() + 2;
    snprintf(a->title, sizeof a->title, "%s - LINK DOWN, reconnecting (attempt %d): %.200s", a->host, a->attempt, err);
    a->attempt++;
}

/* Once per loop: notices a dropped link and brings it back (the mirror's sockets reconnect by themselves).
 * It never waits: the dashboard keeps drawing (the header says LINK DOWN at once) while a new ssh
 * connects, which may take seconds. */
static int watch_link(void *ud)
{
    attach *a = ud;
    int st;
    char err[512];
    /* the header says "reconnecting (attempt k)" from the drop until a new link has held for 3 s: it does
     * not flip back to the plain title between retries */
    if (a->pid > 0 && a->connecting) {
        int r = link_poll(a, err, sizeof err);
        if (r > 0) {
            a->up_since = mono();
            snprintf(a->title, sizeof a->title, "%s - LINK DOWN, reconnecting (attempt %d)", a->host, a->attempt);
            a->attempt++;
        } else if (r < 0) {
            retry_later(a, err);
        }
        return 0;
    }
    if (a->pid > 0 && waitpid(a->pid, &st, WNOHANG) == a->pid) {
        a->pid = 0;
        a->retry_at = mono() + 1;
        if (!a->attempt) a->attempt = 1;
        snprintf(a->title, sizeof a->title, "%s - LINK DOWN, reconnecting (attempt %d)", a->host, a->attempt);
    }
    if (a->pid == 0 && mono() >= a->retry_at) {
        if (link_spawn(a, 1, 5, err, sizeof err)) retry_later(a, err);
        return 0;
    }
    if (a->pid > 0 && a->attempt && mono() - a->up_since >= 3) {
        a->attempt = 0;
        snprintf(a->title, sizeof a->title, "%s (%s)", a->host, a->remote);
    }
    return 0;
}

static int split_ssh(attach *a, const char *cmd)
{
    char *copy = strdup(cmd), *save = NULL;
    a->nssh = 0;
    for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (a->nssh >= MAX_SSH_ARGS - 1) return -1;
        a->ssh[a->nssh++] = strdup(t);
    }
    a->ssh[a->nssh] = NULL;
    free(copy);
    return a->nssh ? 0 : -1;
}

static int attach_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        { "start", no_argument, 0, 's' }, { "ssh", required_argument, 0, 'S' }, CMD_RULES_LONGOPTS, CMD_TUI_LONGOPTS, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    attach a = { 0 };
    tui_opts to = { .settings = &tui_settings_file };
    int start = 0, ch, rc = 1;
    cmd_rules rules = { .nfiles = 0 };
    const char *ssh_cmd = getenv("TRAINTOP_SSH") ? getenv("TRAINTOP_SSH") : "ssh";
    while ((ch = getopt_long(argc, argv, "sh", opts, NULL)) != -1) {
        switch (ch) {
        case 's': start = 1; break;
        case 'S': ssh_cmd = optarg; break;
        case 'h': cmd_usage(&cmd_attach_entry, stdout); return 0;
        default: {
            int rr = cmd_rules_option("attach", ch, optarg, &rules);
            if (rr < 0) return 2;
            if (rr || cmd_tui_option(ch, optarg, &to)) break;
            return cmd_bad_option(&cmd_attach_entry, argc, argv);
        }
        }
    }
    if (optind != argc - 1) { fprintf(stderr, "traintop attach: expected one target, [user@]host[:port|:/socket]\n"); return 2; }
    if (split_ssh(&a, ssh_cmd)) { fprintf(stderr, "traintop attach: --ssh '%s': expected a command\n", ssh_cmd); return 2; }
    const char *target = argv[optind];
    const char *colon = strchr(target, ':');
    size_t hl = colon ? (size_t)(colon - target) : strlen(target);
    if (hl == 0 || hl >= sizeof a.host || target[0] == '-') { fprintf(stderr, "traintop attach: '%s': expected [user@]host[:port|:/socket]\n", target); return 2; }
    memcpy(a.host, target, hl);
    char err[512], dir[200], line[256];
    if (tt_runtime_dir(dir, sizeof dir, err, sizeof err)) { fprintf(stderr, "traintop attach: %s\n", err); return 1; }
    snprintf(a.errfile, sizeof a.errfile, "%s/attach-%ld.err", dir, (long)getpid());
    snprintf(a.local, sizeof a.local, "ipc://%s/attach-%ld.sock", dir, (long)getpid());
    if (colon && colon[1] == '/') {
        if (!remote_path_ok(colon + 1) || strlen(colon + 1) + 6 >= sizeof a.remote) {
            char shown[300];
            snprintf(shown, sizeof shown, "%s", target);
            for (char *p = shown; *p; p++) if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
            fprintf(stderr, "traintop attach: '%s': expected an absolute socket path after ':', without ':' or control characters\n", shown);
            return 2;
        }
        snprintf(a.remote, sizeof a.remote, "ipc://%s", colon + 1);
    } else if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port < 1 || port > 65533) { fprintf(stderr, "traintop attach: '%s': expected a port in 1..65533 or an absolute socket path after ':'\n", target); return 2; }
        snprintf(a.remote, sizeof a.remote, "tcp://127.0.0.1:%ld", port);
    } else {
        /* the remote user's own default, as the remote traintop computes it */
        int st = ssh_run(&a, "traintop endpoint", line, sizeof line);
        if (st == 255 || st < 0) { ssh_diagnosis(&a, err, sizeof err); fprintf(stderr, "traintop attach: %s\n", err); goto out; }
        if (st == 127) { fprintf(stderr, "traintop attach: traintop is not installed on %s (or not on its PATH)\n", a.host); goto out; }
        if (st != 0 || tt_endpoint_check(line, err, sizeof err) || (!strncmp(line, "ipc://", 6) && !remote_path_ok(line + 6))) {
            for (char *p = line; *p; p++) if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
            fprintf(stderr, "traintop attach: %s answered '%s' for its endpoint\n", a.host, line);
            goto out;
        }
        snprintf(a.remote, sizeof a.remote, "%s", line);
    }
    if (start) {
        /* one string for the remote shell: the endpoint (user input) is quoted, never interpreted */
        char cmd[1400], q[600];
        if (sh_quote(a.remote, q, sizeof q)) { fprintf(stderr, "traintop attach: '%s': the endpoint is too long\n", target); goto out; }
        snprintf(cmd, sizeof cmd, "traintop ls --endpoint %s --timeout 1000 >/dev/null 2>&1 || traintopd --listen %s --daemon", q, q);
        int st = ssh_run(&a, cmd, line, sizeof line);
        if (st != 0) {
            if (st == 255) ssh_diagnosis(&a, err, sizeof err);
            else snprintf(err, sizeof err, "could not start traintopd on %s (exit %d)", a.host, st);
            fprintf(stderr, "traintop attach: %s\n", err);
            goto out;
        }
    }
    struct tt_alerts *alerts = cmd_rules_build(&rules);
    if (!alerts) { rc = 2; goto out; }
    if (link_up(&a, 0, 30, err, sizeof err)) { tt_alerts_free(alerts); fprintf(stderr, "traintop attach: %s\n", err); goto out; }
    tt_collector *c = tt_collector_open_mirror(a.local, 5000, alerts, err, sizeof err);
    if (!c) {
        fprintf(stderr, "traintop attach: no collector on %s at %s (`traintop attach --start %s` starts one)\n", a.host, a.remote, target);
        goto out;
    }
    snprintf(a.title, sizeof a.title, "%s (%s)", a.host, a.remote);
    to.title = a.title;
    to.on_tick = watch_link;
    to.ud = &a;
    rc = tui_run(c, &to);
    tt_collector_close(c);
out:
    link_down(&a);
    unlink(a.errfile);
    for (int i = 0; i < a.nssh; i++) free(a.ssh[i]);
    return rc;
}

const cmd_entry cmd_attach_entry = {
    "attach", "[--start] [user@]host[:port|:/socket]", "the dashboard on a remote collector, through ssh",
    "  host               a name ssh knows (~/.ssh/config, ProxyJump, agents and keys work as usual);\n"
    "                     without :port or :/socket, the remote user's default endpoint (traintop endpoint)\n"
    "  host:PORT          a collector listening on tcp://127.0.0.1:PORT over there\n"
    "  host:/PATH         a collector listening on ipc:///PATH over there\n"
    "  -s, --start        start traintopd over there when none answers\n"
    "      --ssh CMD      the ssh command and options (default: $TRAINTOP_SSH or ssh), e.g. \"ssh -F cfg\"\n"
    "Only one local unix socket (mode 0700 directory) is forwarded; the link is watched and restored.\n"
    "The rules below are this dashboard's own (alerts shown here; a stop goes to the remote collector).\n" CMD_RULES_HELP CMD_TUI_HELP,
    attach_exec,
};
