/* cmd: helpers shared by the subcommands. */
#include "cmd.h"

#include <errno.h>
#include <stdlib.h>

void cmd_usage(const cmd_entry *e, FILE *f)
{
    fprintf(f, "usage: traintop%s%s %s\n%s\n\n%s", e->name ? " " : "", e->name ? e->name : "", e->args, e->summary, e->help);
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
