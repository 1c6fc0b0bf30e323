/* traintopd: the headless collector — the same engine `traintop` embeds, without a terminal. */
#include "collector.h"
#include "../proto/endpoint.h"
#include "summary.h"
#include "relay.h"
#include "alerts.h"
#include "auth.h"
#include "safefile.h"
#include "../proto/token.h"
#include "prom_serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <getopt.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t quit, reload;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* tt_collector_wait, with the metrics endpoint's socket polled beside the collector's. */
static void serve(tt_collector *c, tt_prom_serve *http, int timeout_ms, double *last_tick)
{
    if (!http) { tt_collector_wait(c, timeout_ms); return; }
    struct pollfd pfd[5];
    int fds[4], n = tt_collector_fds(c, fds, 4);
    for (int i = 0; i < n; i++) pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
    pfd[n] = (struct pollfd){ .fd = tt_prom_serve_fd(http), .events = POLLIN };
    if (poll(pfd, (nfds_t)n + 1, timeout_ms) > 0) tt_collector_process(c, 100000);
    tt_prom_serve_run(http);
    if (mono() - *last_tick >= 0.1) { tt_collector_tick(c); *last_tick = mono(); }
}
static void on_signal(int sig) { (void)sig; quit = 1; }
static void on_hup(int sig) { (void)sig; reload = 1; }

static void usage(FILE *f)
{
    fprintf(f,
        "usage: traintopd [--listen ENDPOINT] [--record DIR] [--metrics-listen HOST:PORT] [--stall-seconds S] [--quiet]\n"
        "Collects training statistics from traintop probes and serves them to dashboards.\n\n"
        "  -l, --listen ENDPOINT   ipc://PATH, tcp://HOST:PORT (HOST should be 127.0.0.1)\n"
        "                          default: $TRAINTOP_ENDPOINT, else a per-user ipc socket\n"
        "  -r, --record DIR        append every message to DIR/<run>.jsonl (flushed every 0.2 s);\n"
        "                          recordings already in DIR are loaded, so a restart continues them\n"
        "      --stall-seconds S   mark a run stalled after S seconds without a message (30)\n"
        "  -q, --quiet             do not log rejected messages (they are still counted)\n"
        "  -F, --forward-to HEAD   relay: pass every probe message on to the collector at HEAD and its\n"
        "                          control messages back (nanomsg devices); keeps no history itself\n"
        "      --rules FILE        alert and early-stopping rules (docs/alerts.md); also read:\n"
        "                          $XDG_CONFIG_HOME/traintop/rules.json. SIGHUP reloads them;\n"
        "                          unchanged rules keep their state, an unreadable file keeps them all\n"
        "      --alert SPEC        one rule in the short form, e.g. 'val_loss min patience=10 stop'\n"
        "      --no-default-rules  no alerts for non-finite loss/gradients and stalled runs\n"
        "      --allow-remote      permit tcp:// on a non-loopback address (warns; set TRAINTOP_TOKEN)\n"
        "      --insecure-tcp      permit tcp:// without TRAINTOP_TOKEN: anyone who reaches the port can read,\n"
        "                          feed and stop runs (warns on every start)\n"
        "  -d, --daemon            detach from the terminal once listening (log to --log FILE, else nowhere)\n"
        "      --log FILE          append log lines to FILE\n"
        "      --metrics-listen HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics (docs/prometheus.md);\n"
        "                          loopback only unless --allow-remote; TRAINTOP_TOKEN, when set, is asked as a bearer token\n"
        "      --metrics-layers REGEX  per-layer series for the layers whose whole name matches REGEX (POSIX extended);\n"
        "                          default: only each statistic's min, mean and max over a run's layers\n"
        "  -h, --help              this text\n"
        "Environment: TRAINTOP_TOKEN, when set, must be carried by every message and every query (probes,\n"
        "traintop ls/stop and dashboards send it when they have the same variable); others are refused and\n"
        "counted. It is required on tcp:// (see --insecure-tcp). docs/security.md says what is protected.\n"
        "  -V, --version           print the version\n");
}

/* A node-local relay: nothing is stored here; the head collector sees every rank. */
static int relay_main(const tt_collector_opts *o, const char *head)
{
    char ep[256], err[512], token[TT_TOKEN_MAX];
    if (o->endpoint) snprintf(ep, sizeof ep, "%s", o->endpoint);
    else if (tt_default_endpoint(ep, sizeof ep, err, sizeof err)) { fprintf(stderr, "traintopd: %s\n", err); return 1; }
    if (tt_endpoint_check(ep, err, sizeof err) || tt_endpoint_check(head, err, sizeof err)) { fprintf(stderr, "traintopd: %s\n", err); return 2; }
    /* the head checks the token in every message; the relay's own port is a collector's port all the same */
    if (tt_token_from_env(token, sizeof token, err, sizeof err) ||
        tt_auth_listen(ep, token, o->allow_remote, o->insecure_tcp, stderr, err, sizeof err)) { fprintf(stderr, "traintopd: %s\n", err); return 1; }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    tt_relay *r = tt_relay_start(ep, head, err, sizeof err);
    if (!r) { fprintf(stderr, "traintopd: %s\n", err); return 1; }
    fprintf(stderr, "traintopd: relaying %s to %s\n", ep, head);
    while (!quit) pause();
    tt_relay_stop(r);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen", required_argument, 0, 'l' }, { "record", required_argument, 0, 'r' }, { "stall-seconds", required_argument, 0, 's' },
        { "quiet", no_argument, 0, 'q' }, { "daemon", no_argument, 0, 'd' }, { "allow-remote", no_argument, 0, 'R' }, { "insecure-tcp", no_argument, 0, 'I' }, { "forward-to", required_argument, 0, 'F' },
        { "rules", required_argument, 0, 'u' }, { "alert", required_argument, 0, 'A' }, { "no-default-rules", no_argument, 0, 'N' }, { "log", required_argument, 0, 'L' },
        { "metrics-listen", required_argument, 0, 'M' }, { "metrics-layers", required_argument, 0, 'Y' }, { "help", no_argument, 0, 'h' }, { "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 },
    };
    tt_collector_opts o = { 0 };
    int daemon_mode = 0;
    const char *forward_to = NULL;
    const char *rule_files[16], *specs[32];
    int nrule_files = 0, nspecs = 0, defaults = 1;
    const char *log_path = NULL, *metrics_listen = NULL, *metrics_layers = NULL;
    int ch;
    opterr = 0;                  /* a bad option is one line of ours, not getopt's and the usage */
    while ((ch = getopt_long(argc, argv, "l:r:qdhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'l': o.endpoint = optarg; break;
        case 'r': o.record_dir = optarg; break;
        case 's': {
            char *end;
            o.stall_seconds = strtod(optarg, &end);
            if (*end || !(o.stall_seconds > 0)) { fprintf(stderr, "traintopd: --stall-seconds '%s': expected a positive number\n", optarg); return 2; }
            break;
        }
        case 'q': o.quiet = 1; break;
        case 'd': daemon_mode = 1; break;
        case 'R': o.allow_remote = 1; break;
        case 'I': o.insecure_tcp = 1; break;
        case 'F': forward_to = optarg; break;
        case 'u': if (nrule_files == 16) { fprintf(stderr, "traintopd: at most 16 --rules files\n"); return 2; } rule_files[nrule_files++] = optarg; break;
        case 'A': if (nspecs == 32) { fprintf(stderr, "traintopd: at most 32 --alert rules\n"); return 2; } specs[nspecs++] = optarg; break;
        case 'N': defaults = 0; break;
        case 'L': log_path = optarg; break;
        case 'M': metrics_listen = optarg; break;
        case 'Y': metrics_layers = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("traintopd %s\n", TT_VERSION); return 0;
        default: {
            const char *a = optind - 1 < argc ? argv[optind - 1] : argv[argc - 1];
            if (strncmp(a, "--", 2) && optopt > 0 && optopt < 127) fprintf(stderr, "traintopd: '-%c': unknown option, or one missing its value (traintopd --help lists them)\n", optopt);
            else fprintf(stderr, "traintopd: '%.*s': unknown option, or one missing its value (traintopd --help lists them)\n", (int)strcspn(a, "="), a);
            return 2;
        }
        }
    }
    if (optind < argc) { fprintf(stderr, "traintopd: unexpected argument '%s'\n", argv[optind]); return 2; }

    char err[512];
    FILE *log = NULL;
    if (forward_to && metrics_listen) { fprintf(stderr, "traintopd: a relay (--forward-to) keeps no runs to serve as --metrics-listen\n"); return 2; }
    if (forward_to) return relay_main(&o, forward_to);
    if (metrics_layers && !metrics_listen) { fprintf(stderr, "traintopd: --metrics-layers needs --metrics-listen\n"); return 2; }
    int rule_errors;
    const tt_alerts_sources rules = { rule_files, nrule_files, specs, nspecs, defaults };
    o.alerts = tt_alerts_build(&rules, stderr, &rule_errors);
    /* at startup a rules file that cannot be used (said above, one line each) is an error: better no
     * collector than one that silently lacks every rule; a daemon fails before detaching. A mistake in
     * one rule is only reported, the others still work. */
    if (!o.alerts || tt_alerts_unreadable(o.alerts)) {
        if (!o.alerts) fprintf(stderr, "traintopd: out of memory building the rules\n");
        tt_alerts_free(o.alerts);
        return 2;
    }
    if (log_path && !(log = tt_safefile_open(log_path, "a", err, sizeof err))) { fprintf(stderr, "traintopd: --log %s\n", err); return 1; }
    if (log) { setvbuf(log, NULL, _IOLBF, 0); o.log = log; }
    tt_collector *c = tt_collector_open(&o, err, sizeof err);
    if (!c) { fprintf(stderr, "traintopd: %s\n", err); if (log) fclose(log); return 1; }
    tt_prom_serve *http = NULL;
    if (metrics_listen &&
        !(http = tt_prom_serve_start(c, metrics_listen, metrics_layers, o.allow_remote, getenv("TRAINTOP_TOKEN"), log, err, sizeof err))) {
        fprintf(stderr, "traintopd: %s\n", err);
        tt_collector_close(c);
        if (log) fclose(log);
        return 1;
    }
    if (daemon_mode) {
        /* Listening already (a bind error was reported above, to the terminal); nanomsg's worker
         * threads do not survive fork, so the collector is reopened in the child. */
        tt_collector_close(c);
        tt_prom_serve_stop(http);
        pid_t pid = fork();
        if (pid < 0) { fprintf(stderr, "traintopd: fork: %s\n", strerror(errno)); return 1; }
        if (pid > 0) { printf("traintopd: listening on %s (pid %ld)\n", o.endpoint ? o.endpoint : "the default endpoint", (long)pid); return 0; }
        setsid();
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) { dup2(fd, 0); dup2(fd, 1); dup2(fd, 2); if (fd > 2) close(fd); }
        if (!(c = tt_collector_open(&o, err, sizeof err))) { if (log) fprintf(log, "traintopd: %s\n", err); return 1; }
        if (metrics_listen &&
            !(http = tt_prom_serve_start(c, metrics_listen, metrics_layers, o.allow_remote, getenv("TRAINTOP_TOKEN"), log, err, sizeof err))) {
            if (log) fprintf(log, "traintopd: %s\n", err);
            return 1;
        }
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct sigaction sh = { .sa_handler = on_hup };
    sigaction(SIGHUP, &sh, NULL);
    signal(SIGPIPE, SIG_IGN);
    FILE *out = log ? log : stderr;
    fprintf(out, "traintopd: listening on %s\n", tt_collector_endpoint(c));
    if (http) fprintf(out, "traintopd: metrics on %s\n", tt_prom_serve_url(http));
    double last_tick = mono();
    while (!quit) {
        serve(c, http, 500, &last_tick);
        if (reload) {                /* SIGHUP: the rules again, from every source; unchanged rules keep their state */
            reload = 0;
            tt_alerts *cur = tt_collector_alerts(c), *next = tt_alerts_reload(cur, &rules, out);
            if (next != cur) tt_collector_set_alerts(c, next);
            fflush(out);
        }
    }
    tt_collector_counters n;
    tt_collector_get_counters(c, &n);
    fprintf(out, "traintopd: %llu messages received, %llu accepted, %llu rejected, %d runs, %llu queries refused\n",
            (unsigned long long)n.received, (unsigned long long)n.accepted, (unsigned long long)n.rejected,
            tt_collector_store(c)->nruns, (unsigned long long)n.refused);
    tt_prom_serve_stop(http);
    tt_collector_close(c);
    if (log) fclose(log);
    return 0;
}
