/* traintop replay FILE…: a recording (or a probe's spool) in the dashboard, or summarised. */
#include "cmd.h"
#include "config.h"
#include "../tui/tui.h"
#include "../collectors/summary.h"
#include "../proto/endpoint.h"

#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

static int replay_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        { "summary", no_argument, 0, 's' }, { "json", no_argument, 0, 'j' }, CMD_RULES_LONGOPTS, CMD_TUI_LONGOPTS, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int summary = 0, json = 0, ch;
    cmd_rules rules = { .nfiles = 0 };
    tui_opts to = { .settings = &tui_settings_file };
    while ((ch = getopt_long(argc, argv, "sjh", opts, NULL)) != -1) {
        switch (ch) {
        case 's': summary = 1; break;
        case 'j': json = 1; break;
        case 'h': cmd_usage(&cmd_replay_entry, stdout); return 0;
        default: {
            int rr = cmd_rules_option("replay", ch, optarg, &rules);
            if (rr < 0) return 2;
            if (rr || cmd_tui_option(ch, optarg, &to)) break;
            return cmd_bad_option(&cmd_replay_entry, argc, argv);
        }
        }
    }
    if (optind >= argc) { fprintf(stderr, "traintop replay: expected a recording file (DIR/<run>.jsonl)\n"); return 2; }
    if (json && !summary) { fprintf(stderr, "traintop replay: --json needs --summary\n"); return 2; }

    /* A private endpoint: the dashboard's collector must not take over the user's default one. */
    char dir[200], ep[256], err[512];
    if (tt_runtime_dir(dir, sizeof dir, err, sizeof err)) { fprintf(stderr, "traintop replay: %s\n", err); return 1; }
    snprintf(ep, sizeof ep, "ipc://%s/replay-%ld.sock", dir, (long)getpid());
    tt_collector_opts co = { .endpoint = ep };
    if (!(co.alerts = cmd_rules_build(&rules))) return 2;   /* they fire on the recording: shown, no actions */
    tt_collector *c = tt_collector_open(&co, err, sizeof err);
    if (!c) { fprintf(stderr, "traintop replay: %s\n", err); return 1; }
    int rc = 0;
    /* one file streams; several (a recording and a spool) are merged by step */
    long loaded = argc - optind == 1 ? tt_collector_load(c, argv[optind], err, sizeof err)
                                     : tt_collector_load_merged(c, (const char *const *)argv + optind, argc - optind, err, sizeof err);
    if (loaded < 0) { fprintf(stderr, "traintop replay: %s\n", err); rc = 1; }
    if (rc == 0 && tt_collector_store(c)->nruns == 0) {
        fprintf(stderr, "traintop replay: %s holds no run (expected traintop protocol messages, one per line)\n", argv[optind]);
        rc = 1;
    }
    if (rc == 0) {
        if (summary) {
            tt_summary_print(tt_collector_store(c), stdout, json);
        } else {
            to.title = argv[optind];
            to.replay = 1;
            rc = tui_run(c, &to);
        }
    }
    tt_collector_close(c);
    return rc;
}

const cmd_entry cmd_replay_entry = {
    "replay", "FILE… [--summary [--json]]", "open recordings (traintopd --record DIR/<run>.jsonl) and probe spools in the dashboard",
    "  -s, --summary      print a summary per run instead of opening the dashboard\n"
    "  -j, --json         with --summary: a JSON array, one object per run\n" CMD_RULES_HELP CMD_TUI_HELP,
    replay_exec,
};
