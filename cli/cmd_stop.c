/* traintop stop RUN: asks a running collector to stop a run — its probes' tt_probe_should_stop()
 * then returns the reason, and well-behaved training loops end cleanly. */
#include "cmd.h"
#include "../collectors/collector.h"
#include "../proto/endpoint.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int stop_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        { "endpoint", required_argument, 0, 'e' }, { "reason", required_argument, 0, 'r' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *endpoint = NULL, *reason = "stopped by user (traintop stop)";
    int ch;
    while ((ch = getopt_long(argc, argv, "e:r:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'e': endpoint = optarg; break;
        case 'r': reason = optarg; break;
        case 'h': cmd_usage(&cmd_stop_entry, stdout); return 0;
        default: return cmd_bad_option(&cmd_stop_entry, argc, argv);
        }
    }
    if (optind != argc - 1) { fprintf(stderr, "traintop stop: expected one run name\n"); return 2; }
    char ep[256], err[512];
    if (endpoint) snprintf(ep, sizeof ep, "%s", endpoint);
    else if (tt_default_endpoint(ep, sizeof ep, err, sizeof err)) { fprintf(stderr, "traintop stop: %s\n", err); return 1; }
    cJSON *q = cJSON_CreateObject();
    cJSON_AddNumberToObject(q, "v", 1);
    cJSON_AddStringToObject(q, "type", "stop");
    cJSON_AddStringToObject(q, "run", argv[optind]);
    cJSON_AddStringToObject(q, "reason", reason);
    char *txt = cJSON_PrintUnformatted(q);
    cJSON_Delete(q);
    cJSON *rep = txt ? tt_collector_request(ep, txt, 3000, err, sizeof err) : NULL;
    free(txt);
    if (!rep) { fprintf(stderr, "traintop stop: %s\n", err); return 1; }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rep, "type");
    int ok = cJSON_IsString(type) && !strcmp(type->valuestring, "ok");
    if (!ok) fprintf(stderr, "traintop stop: the collector on %s did not take the request\n", ep);
    else printf("asked run %s to stop\n", argv[optind]);
    cJSON_Delete(rep);
    return ok ? 0 : 1;
}

const cmd_entry cmd_stop_entry = {
    "stop", "RUN [--endpoint E] [--reason TEXT]", "ask a run's probes to stop (tt_probe_should_stop)",
    "  -e, --endpoint E   the collector (default: $TRAINTOP_ENDPOINT or the per-user socket)\n"
    "  -r, --reason TEXT  what tt_probe_should_stop() reports to the training loop\n",
    stop_exec,
};
