/* traintop endpoint: prints the endpoint a probe and a collector agree on here — what `traintop
 * attach` asks a remote host for. */
#include "cmd.h"
#include "../proto/endpoint.h"
#include "traintop/probe.h"

#include <stdio.h>
#include <string.h>

static int endpoint_exec(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) { cmd_usage(&cmd_endpoint_entry, stdout); return 0; }
    if (argc > 1) { fprintf(stderr, "traintop endpoint: unexpected argument '%s'\n", argv[1]); return 2; }
    char ep[256], err[256];
    if (tt_default_endpoint(ep, sizeof ep, err, sizeof err)) { fprintf(stderr, "traintop endpoint: %s\n", err); return 1; }
    printf("%s\n", ep);
    return 0;
}

const cmd_entry cmd_endpoint_entry = {
    "endpoint", "", "print the default collector endpoint of this user on this host",
    "  ($TRAINTOP_ENDPOINT, else ipc://$XDG_RUNTIME_DIR/traintop/collector.sock)\n",
    endpoint_exec,
};
