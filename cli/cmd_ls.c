/* traintop ls: asks a running collector for its runs and their latest scalars. */
#include "cmd.h"
#include "../proto/endpoint.h"
#include "../collectors/collector.h"
#include "../collectors/ingest.h"
#include "../collectors/recording.h"
#include "../collectors/summary.h"
#include "traintop/probe.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void print_value(const cJSON *v)
{
    if (cJSON_IsNumber(v)) printf(" %10.4g", v->valuedouble);
    else if (cJSON_IsString(v)) printf(" %10s", v->valuestring);
    else printf(" %10s", "-");
}

static void print_table(const cJSON *runs)
{
    static const char *const cols[] = { "loss", "val_loss", "val_acc", "lr" };
    static const char *const delivery[] = { "steps", "sent", "lost", "resent", "spooled" };
    printf("%-24s %4s %-9s %9s %8s", "RUN", "RANK", "STATE", "STEP", "STEPS/S");
    for (size_t i = 0; i < 4; i++) printf(" %10s", cols[i]);
    printf(" %8s %8s %6s %6s %7s\n", "RECEIVED", "SENT", "LOST", "RESENT", "SPOOLED");
    for (const cJSON *r = runs->child; r; r = r->next) {
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(r, "scalars");
        printf("%-24s %4d %-9s %9.0f %8.1f", cJSON_GetObjectItemCaseSensitive(r, "run")->valuestring,
               cJSON_GetObjectItemCaseSensitive(r, "rank")->valueint,
               cJSON_GetObjectItemCaseSensitive(r, "state")->valuestring,
               cJSON_GetObjectItemCaseSensitive(r, "step")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(r, "steps_per_s")->valuedouble);
        for (size_t i = 0; i < 4; i++) print_value(cJSON_GetObjectItemCaseSensitive(sc, cols[i]));
        /* delivery: "-" where the probe has not said yet (it says at its end) or is too old to say */
        static const int width[] = { 8, 8, 6, 6, 7 };
        for (size_t i = 0; i < 5; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, delivery[i]);
            if (cJSON_IsNumber(v)) printf(" %*.0f", width[i], v->valuedouble);
            else printf(" %*s", width[i], "-");
        }
        printf("\n");
    }
}

static int load_line(void *ud, const char *line, size_t len)
{
    tt_ingest_result r;
    char err[512];
    return tt_ingest(ud, line, len, 0, &r, err, sizeof err);
}

/* The same reply as a collector's, from recordings (several files are merged by step). */
static cJSON *from_recordings(const char *const *paths, int n, char *err, size_t errlen)
{
    tt_store st;
    tt_store_init(&st, 0);
    st.seq_lenient = 1;            /* a file's gaps cannot be resent: counted as lost */
    long got = n == 1 ? tt_recording_read(paths[0], load_line, &st, stderr, err, errlen)
                      : tt_recording_read_merged(paths, n, load_line, &st, stderr, err, errlen);
    cJSON *rep = NULL;
    if (got >= 0 && (rep = cJSON_CreateObject())) cJSON_AddItemToObject(rep, "runs", tt_summary_runs(&st));
    tt_store_free(&st);
    return rep;
}

static int ls_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        { "endpoint", required_argument, 0, 'e' }, { "json", no_argument, 0, 'j' },
        { "timeout", required_argument, 0, 't' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *endpoint = NULL;
    int json = 0, ch;
    long timeout_ms = 2000;
    while ((ch = getopt_long(argc, argv, "e:jh", opts, NULL)) != -1) {
        switch (ch) {
        case 'e': endpoint = optarg; break;
        case 'j': json = 1; break;
        case 't': if (cmd_parse_long("ls", "--timeout", optarg, 1, 600000, &timeout_ms)) return 2; break;
        case 'h': cmd_usage(&cmd_ls_entry, stdout); return 0;
        default: return cmd_bad_option(&cmd_ls_entry, argc, argv);
        }
    }
    char ep[256], err[512];
    cJSON *rep = NULL;
    if (optind < argc) {
        if (endpoint) { fprintf(stderr, "traintop ls: recordings and --endpoint exclude each other\n"); return 2; }
        if (!(rep = from_recordings((const char *const *)argv + optind, argc - optind, err, sizeof err))) {
            fprintf(stderr, "traintop ls: %s\n", err);
            return 1;
        }
        goto print;
    }
    if (endpoint) snprintf(ep, sizeof ep, "%s", endpoint);
    else if (tt_default_endpoint(ep, sizeof ep, err, sizeof err)) { fprintf(stderr, "traintop ls: %s\n", err); return 1; }
    if (tt_endpoint_check(ep, err, sizeof err)) { fprintf(stderr, "traintop ls: %s\n", err); return 2; }
    rep = tt_collector_request(ep, "{\"v\":1,\"type\":\"ls\"}", (int)timeout_ms, err, sizeof err);
    if (!rep) { fprintf(stderr, "traintop ls: %s\n", err); return 1; }
print:;
    const cJSON *runs = rep ? cJSON_GetObjectItemCaseSensitive(rep, "runs") : NULL;
    if (!cJSON_IsArray(runs)) {
        fprintf(stderr, "traintop ls: the collector on %s sent a reply without a runs array\n", ep);
        cJSON_Delete(rep);
        return 1;
    }
    if (json) {
        char *txt = cJSON_Print(runs);
        if (txt) puts(txt);
        cJSON_free(txt);
    } else {
        print_table(runs);
    }
    cJSON_Delete(rep);
    return 0;
}

const cmd_entry cmd_ls_entry = {
    "ls", "[--endpoint E | FILE…] [--json]", "list a collector's (or recordings') runs with state, step and latest scalars",
    "  -e, --endpoint E   the collector's endpoint (default: $TRAINTOP_ENDPOINT or the per-user socket)\n"
    "  -j, --json         print a JSON array with one object per run\n"
    "      --timeout MS   how long to wait for the collector (2000)\n",
    ls_exec,
};
