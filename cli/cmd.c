/* cmd: helpers shared by the subcommands. */
#include "cmd.h"
#include "../tui/tui.h"
#include "../tui/views.h"
#include "../collectors/alerts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cmd_usage(const cmd_entry *e, FILE *f)
{
    fprintf(f, "usage: traintop%s%s %s\n%s\n\n%s", e->name ? " " : "", e->name ? e->name : "", e->args, e->summary, e->help);
}

int cmd_bad_option(const cmd_entry *e, int argc, char *const *argv)
{
    int i = optind - 1 < argc ? optind - 1 : argc - 1;
    const char *name = e->name ? e->name : "", *sp = *name ? " " : "";
    char what[64];
    if (i >= 0 && !strncmp(argv[i], "--", 2)) snprintf(what, sizeof what, "%.*s", (int)strcspn(argv[i], "="), argv[i]);
    else if (optopt > 0 && optopt < 127) snprintf(what, sizeof what, "-%c", optopt);
    else snprintf(what, sizeof what, "%s", i >= 0 ? argv[i] : "");
    fprintf(stderr, "traintop%s%s: '%s': unknown option, or one missing its value (traintop%s%s --help lists them)\n",
            sp, name, what, sp, name);
    return 2;
}

int cmd_parse_long(const char *cmd, const char *opt, const char *val, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < lo || v > hi) {
        fprintf(stderr, "traintop %s: %s '%s': expected an integer in %ld..%ld\n", cmd, opt, val, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cmd_tui_option(int ch, const char *arg, void *opts)
{
    tui_opts *o = opts;
    switch (ch) {
    case 0x101: o->ascii = 1; return 1;
    case 0x102: o->no_color = 1; return 1;
    case 0x103: o->no_mouse = 1; return 1;
    case 0x104:
        if (tui_view_by_name(arg) < 0) {
            fprintf(stderr, "traintop: --view '%s': expected overview, charts, layers, heatmap, compare or alerts\n", arg);
            exit(2);
        }
        o->view = arg;
        return 1;
    case 0x105: o->config = arg; return 1;
    case 0x106: {
        static const char *paths[32];
        if (o->nplugins == 32) { fprintf(stderr, "traintop: at most 32 --plugin paths\n"); exit(2); }
        paths[o->nplugins++] = arg;
        o->plugins = paths;
        return 1;
    }
    }
    return 0;
}

int cmd_rules_option(const char *cmd, int ch, const char *arg, cmd_rules *r)
{
    switch (ch) {
    case 0x120:
        if (r->nfiles == 16) { fprintf(stderr, "traintop%s%s: at most 16 --rules files\n", cmd ? " " : "", cmd ? cmd : ""); return -1; }
        r->files[r->nfiles++] = arg;
        return 1;
    case 0x121:
        if (r->nspecs == 32) { fprintf(stderr, "traintop%s%s: at most 32 --alert rules\n", cmd ? " " : "", cmd ? cmd : ""); return -1; }
        r->specs[r->nspecs++] = arg;
        return 1;
    case 0x122: r->no_defaults = 1; return 1;
    }
    return 0;
}

struct tt_alerts *cmd_rules_build(const cmd_rules *r)
{
    int errors = 0;
    const tt_alerts_sources src = { r->files, r->nfiles, r->specs, r->nspecs, !r->no_defaults };
    tt_alerts *a = tt_alerts_build(&src, stderr, &errors);
    if (!a) fprintf(stderr, "traintop: out of memory building the rules\n");
    if (errors) {
        tt_alerts_free(a);
        return NULL;
    }
    return a;
}
