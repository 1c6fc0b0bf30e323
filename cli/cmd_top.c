/* traintop (no command): an embedded collector on the default endpoint and the dashboard. */
#include "cmd.h"
#include "config.h"
#include "../proto/endpoint.h"
#include "../tui/tui.h"
#include "../collectors/prom_serve.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void serve_metrics(void *ud) { tt_prom_serve_run(ud); }

static int top_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        { "endpoint", required_argument, 0, 'e' }, { "connect", required_argument, 0, 'c' },
        { "record", required_argument, 0, 'r' }, { "no-record", no_argument, 0, 0x180 }, CMD_RULES_LONGOPTS,
        { "metrics-listen", required_argument, 0, 'M' }, { "metrics-layers", required_argument, 0, 'Y' }, CMD_TUI_LONGOPTS,
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    /* the runs it collects are recorded by default, without loading every earlier run into the dashboard */
    tt_collector_opts co = { .quiet = 1, .record_no_load = 1 };
    char record[512];
    int no_record = 0;
    tui_opts to = { .settings = &tui_settings_file };
    const char *connect = NULL, *metrics_listen = NULL, *metrics_layers = NULL;
    cmd_rules rules = { .nfiles = 0 };
    int ch;
    while ((ch = getopt_long(argc, argv, "e:c:r:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'e': co.endpoint = optarg; break;
        case 'r': co.record_dir = optarg; break;
        case 0x180: no_record = 1; break;
        case 'c': connect = optarg; break;
        case 'M': metrics_listen = optarg; break;
        case 'Y': metrics_layers = optarg; break;
        case 'h': cmd_usage(&cmd_top_entry, stdout); return 0;
        default: {
            int rr = cmd_rules_option(NULL, ch, optarg, &rules);
            if (rr < 0) return 2;
            if (rr || cmd_tui_option(ch, optarg, &to)) break;
            return cmd_bad_option(&cmd_top_entry, argc, argv);
        }
        }
    }
    if (optind < argc) { fprintf(stderr, "traintop: unexpected argument '%s' (see traintop --help)\n", argv[optind]); return 2; }
    char err[512];
    if (connect && co.endpoint) { fprintf(stderr, "traintop: --connect and --endpoint exclude each other\n"); return 2; }
    if (no_record && co.record_dir) { fprintf(stderr, "traintop: --record and --no-record exclude each other\n"); return 2; }
    if (!connect && !no_record && !co.record_dir) {
        if (tt_state_dir(record, sizeof record - 12, err, sizeof err)) { fprintf(stderr, "traintop: %s\n", err); return 1; }
        strcat(record, "/recordings");
        co.record_dir = record;
    }
    if (metrics_layers && !metrics_listen) { fprintf(stderr, "traintop: --metrics-layers needs --metrics-listen\n"); return 2; }
    /* --connect: a viewer of a running collector (traintopd, another traintop): its history, then live */
    /* the rules are evaluated here whether this dashboard collects or views another collector */
    if (!(co.alerts = cmd_rules_build(&rules))) return 2;
    tt_collector *c = connect ? tt_collector_open_mirror(connect, 5000, co.alerts, err, sizeof err) : tt_collector_open(&co, err, sizeof err);
    if (!c) { fprintf(stderr, "traintop: %s\n", err); return 1; }
    tt_prom_serve *metrics = NULL;
    if (metrics_listen) {
        /* loopback only: the dashboard has no --allow-remote (a collector for the network is traintopd's job) */
        if (!(metrics = tt_prom_serve_start(c, metrics_listen, metrics_layers, 0, getenv("TRAINTOP_TOKEN"), NULL, err, sizeof err))) {
            fprintf(stderr, "traintop: %s\n", err);
            tt_collector_close(c);
            return 1;
        }
        to.extra_fd = tt_prom_serve_fd(metrics);
        to.on_extra = serve_metrics;
        to.ud = metrics;
    }
    to.title = tt_collector_endpoint(c);
    int rc = tui_run(c, &to);
    tt_prom_serve_stop(metrics);
    tt_collector_close(c);
    return rc;
}

const cmd_entry cmd_top_entry = {
    NULL, "[--endpoint E | --connect E] [--record DIR | --no-record] [--metrics-listen HOST:PORT]", "collect on the default endpoint and show the dashboard",
    "  -e, --endpoint E   listen here instead of $TRAINTOP_ENDPOINT / the per-user socket\n"
    "      --metrics-listen HOST:PORT  also serve Prometheus metrics at http://HOST:PORT/metrics (loopback;\n"
    "                     docs/prometheus.md); --metrics-layers REGEX adds those layers' series\n"
    "  -c, --connect E    view a running collector (traintopd) instead of collecting: its whole history,\n"
    "                     then live\n"
    "  -r, --record DIR   append every message to DIR/<run>.jsonl (default: $XDG_STATE_HOME/traintop/recordings,\n"
    "                     ~/.local/state/traintop/recordings; earlier runs there are not loaded)\n"
    "      --no-record    do not record\n" CMD_RULES_HELP CMD_TUI_HELP,
    top_exec,
};
