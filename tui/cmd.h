/* cmd: one descriptor per `traintop` subcommand (after tmux's cmd_entry); each lives in tui/cmd_NAME.c. */
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
    cmd_endpoint_entry, cmd_plugins_entry, cmd_stop_entry;

/* Prints the command's usage and options to f. */
void cmd_usage(const cmd_entry *e, FILE *f);
/* Parses a positive integer option value; on error prints one line naming the option and returns -1. */
int cmd_parse_long(const char *cmd, const char *opt, const char *val, long lo, long hi, long *out);

/* The real path of rel taken from the directory of this binary (bin/), e.g. "../lib/traintop/plugins";
 * 0, or -1 when it does not exist. */
int cmd_beside_exe(const char *rel, char *out, size_t len);

#endif
