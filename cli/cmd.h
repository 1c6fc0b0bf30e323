/* cmd: one descriptor per `traintop` subcommand (after tmux's cmd_entry); each lives in cli/cmd_NAME.c. */
#ifndef TT_CMD_H
#define TT_CMD_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char *name;       /* NULL for the default command (`traintop` alone) */
    const char *args;       /* usage after the name */
    const char *summary;    /* one line for `traintop --help` */
    const char *help;       /* the options, for `traintop NAME --help` */
    int (*exec)(int argc, char **argv);   /* argv[0] is the subcommand name */
} cmd_entry;

extern const cmd_entry cmd_top_entry, cmd_demo_entry, cmd_ls_entry, cmd_replay_entry, cmd_attach_entry,
    cmd_endpoint_entry, cmd_plugins_entry, cmd_stop_entry, cmd_export_entry;

/* Prints the command's usage and options to f. */
void cmd_usage(const cmd_entry *e, FILE *f);
/* getopt_long's '?' (opterr is 0): one line naming the option and where the list is; returns 2. */
int cmd_bad_option(const cmd_entry *e, int argc, char *const *argv);
/* Parses a positive integer option value; on error prints one line naming the option and returns -1. */
int cmd_parse_long(const char *cmd, const char *opt, const char *val, long lo, long hi, long *out);

struct tui_opts_s;
/* The dashboard's display options, shared by every command that opens it: --ascii, --no-color,
 * --no-mouse, --view NAME, --config FILE. Returns 1 when ch was one of them (applied to o). */
#define CMD_TUI_LONGOPTS { "ascii", no_argument, 0, 0x101 }, { "no-color", no_argument, 0, 0x102 }, \
    { "no-mouse", no_argument, 0, 0x103 }, { "view", required_argument, 0, 0x104 }, { "config", required_argument, 0, 0x105 }, \
    { "plugin", required_argument, 0, 0x106 }
#define CMD_TUI_HELP "      --ascii        no Unicode drawing characters\n" \
    "      --no-color     monochrome (also when NO_COLOR is set)\n" \
    "      --no-mouse     leave the mouse to the terminal (copy and paste)\n" \
    "      --view NAME    open overview, charts, layers, heatmap, compare or alerts\n" \
    "      --config FILE  settings instead of $XDG_CONFIG_HOME/traintop/config.json\n" \
    "      --plugin PATH  also load this plugin panel (view 7; repeatable)\n"
int cmd_tui_option(int ch, const char *arg, void *tui_opts);

/* The rule sources every command that collects or shows data takes (docs/alerts.md): besides the
 * defaults and $XDG_CONFIG_HOME/traintop/rules.json, --rules FILE, --alert SPEC, --no-default-rules. */
typedef struct {
    const char *files[16];
    int nfiles;
    const char *specs[32];
    int nspecs;
    int no_defaults;
} cmd_rules;
#define CMD_RULES_LONGOPTS { "rules", required_argument, 0, 0x120 }, { "alert", required_argument, 0, 0x121 }, \
    { "no-default-rules", no_argument, 0, 0x122 }
#define CMD_RULES_HELP "      --rules FILE   alert and early-stopping rules (docs/alerts.md), besides the defaults and\n" \
    "                     $XDG_CONFIG_HOME/traintop/rules.json; repeatable\n" \
    "      --alert SPEC   one rule in the short form, e.g. 'val_loss min patience=20 stop'; repeatable\n" \
    "      --no-default-rules  no alerts for non-finite loss or gradients and stalled runs\n"
/* Returns 1 when ch was one of them (kept in r), 0 when not, -1 after one line on stderr (too many). */
int cmd_rules_option(const char *cmd, int ch, const char *arg, cmd_rules *r);
/* Whether any rule was named on the command line. */
static inline int cmd_rules_given(const cmd_rules *r) { return r->nfiles || r->nspecs || r->no_defaults; }
struct tt_alerts;
/* The rules from every source; NULL after the mistakes, one line each, on stderr. */
struct tt_alerts *cmd_rules_build(const cmd_rules *r);


#endif
