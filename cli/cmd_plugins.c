/* traintop plugins: which plugin panels were found, which loaded and which were refused, and why. */
#include "cmd.h"
#include "../plugins/host.h"
#include "../tui/plugin_services.h"

#include <getopt.h>
#include <stdio.h>

static int plugins_exec(int argc, char **argv)
{
    static const struct option opts[] = { { "plugin", required_argument, 0, 'p' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    const char *paths[32];
    int npaths = 0, ch;
    while ((ch = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (npaths == 32) { fprintf(stderr, "traintop plugins: at most 32 --plugin paths\n"); return 2; }
            paths[npaths++] = optarg;
            break;
        case 'h': cmd_usage(&cmd_plugins_entry, stdout); return 0;
        default: return cmd_bad_option(&cmd_plugins_entry, argc, argv);
        }
    }
    if (optind < argc) { fprintf(stderr, "traintop plugins: unexpected argument '%s'\n", argv[optind]); return 2; }
    tt_store empty;
    tt_store_init(&empty, 0);
    tt_plugin_host host = { .store = &empty, .log = stdout };
    tt_plugin_services svc;
    tui_plugin_services(&host, &svc);
    char dir[600];
    tt_plugin_dir(dir, sizeof dir);
    tt_plugins ps;
    tt_plugins_load(&ps, dir, paths, npaths, &svc);
    tt_plugins_report(&ps, stdout);
    tt_plugins_unload(&ps);
    tt_store_free(&empty);
    return 0;
}

const cmd_entry cmd_plugins_entry = {
    "plugins", "[--plugin PATH]…", "list the plugin panels found, loaded and refused",
    "  -p, --plugin PATH  also load this .so (as `traintop --plugin PATH` would)\n"
    "Searched: the bundled plugins (lib/traintop/plugins beside bin/, or the installed directory),\n"
    "$XDG_DATA_HOME/traintop/plugins (~/.local/share/traintop/plugins).\n",
    plugins_exec,
};
