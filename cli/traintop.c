/* traintop: `top` for neural-network training — subcommand dispatch. */
#include "cmd.h"

#include <string.h>
#include <unistd.h>

static const cmd_entry *const commands[] = { &cmd_top_entry, &cmd_demo_entry, &cmd_ls_entry, &cmd_replay_entry,
                                                 &cmd_attach_entry, &cmd_endpoint_entry, &cmd_plugins_entry,
                                                 &cmd_stop_entry, &cmd_export_entry };
#define NCOMMANDS (sizeof commands / sizeof *commands)

static void usage(FILE *f)
{
    fprintf(f, "usage: traintop [COMMAND] [OPTIONS]\n"
               "top for neural-network training: a live terminal dashboard of training dynamics.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %-28s %s\n", commands[i]->name ? commands[i]->name : "(none)", commands[i]->args, commands[i]->summary);
    fprintf(f, "\n`traintop COMMAND --help` shows a command's options.\n"
               "Environment: TRAINTOP_ENDPOINT overrides the default collector endpoint; NO_COLOR disables colour.\n");
}

int main(int argc, char **argv)
{
    opterr = 0;                  /* a bad option is one line of ours (cmd_bad_option), not getopt's and the usage */
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) { usage(stdout); return 0; }
    if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) { printf("traintop %s\n", TT_VERSION); return 0; }
    if (argc > 1 && argv[1][0] != '-') {
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (commands[i]->name && !strcmp(commands[i]->name, argv[1])) return commands[i]->exec(argc - 1, argv + 1);
        fprintf(stderr, "traintop: unknown command '%s': expected one of demo, ls, replay, attach, endpoint, plugins, stop (see traintop --help)\n", argv[1]);
        return 2;
    }
    return cmd_top_entry.exec(argc, argv);
}
