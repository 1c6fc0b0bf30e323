/* fuzz_ingest: libFuzzer target for the collector's message parser and validator. Each input is one
 * message into a store that already holds a run (so step/run_end paths are reachable); every
 * fourth input resets the store so run_start paths see both a fresh and a populated store.
 * Differential: a second store takes every message through the general path only; the fast path for
 * step messages must accept and reject exactly the same messages. */
#include "../../collectors/ingest.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const char *const seed_start =
    "{\"v\":1,\"type\":\"run_start\",\"run\":\"r1\",\"rank\":0,\"world\":2,\"stats\":[\"a\",\"b\"],"
    "\"layers\":[{\"name\":\"fc\",\"rows\":2,\"cols\":2},{\"name\":\"b\",\"rows\":2,\"cols\":1}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tt_store st, gen;
    static unsigned n;
    static int ready;
    char err[512];
    tt_ingest_result r;
    if (!ready || n++ % 4 == 0) {
        if (ready) { tt_store_free(&st); tt_store_free(&gen); }
        tt_store_init(&st, 8);
        tt_store_init(&gen, 8);
        gen.no_fast = 1;
        tt_ingest(&st, seed_start, strlen(seed_start), 0, &r, err, sizeof err);
        tt_ingest(&gen, seed_start, strlen(seed_start), 0, &r, err, sizeof err);
        ready = 1;
    }
    err[0] = 0;
    int rc = tt_ingest(&st, (const char *)data, size, 1.0, &r, err, sizeof err);
    /* Invariants: a rejection has a cause and one line of text; the store stays consistent. */
    if (rc && (!r.cause || !err[0] || memchr(err, '\n', strnlen(err, sizeof err)))) __builtin_trap();
    tt_ingest_result rg;
    char eg[512];
    int rcg = tt_ingest(&gen, (const char *)data, size, 1.0, &rg, eg, sizeof eg);
    if (rc != rcg || st.nruns != gen.nruns || (rc == 0 && r.layer_records != rg.layer_records)) __builtin_trap();
    for (int i = 0; i < st.nruns; i++)
        if (st.runs[i]->step != gen.runs[i]->step || st.runs[i]->steps_received != gen.runs[i]->steps_received ||
            st.runs[i]->last_layer_step != gen.runs[i]->last_layer_step) __builtin_trap();
    /* the same values in the same series: rows and extra entries alike */
    for (int i = 0; i < st.nruns; i++)
        for (int l = 0; l < st.runs[i]->nlayers && l < gen.runs[i]->nlayers; l++)
            for (int k = 0; k < st.runs[i]->nstats && k < gen.runs[i]->nstats; k++) {
                const tt_layer *a = &st.runs[i]->layers[l], *b = &gen.runs[i]->layers[l];
                if (memcmp(&a->last[k], &b->last[k], sizeof a->last[k]) ||
                    tt_series_count(a->stat[k]) != tt_series_count(b->stat[k]) ||
                    tt_series_last_step(a->stat[k]) != tt_series_last_step(b->stat[k])) __builtin_trap();
            }
    for (int i = 0; i < st.nruns; i++)
        for (int l = 0; l < st.runs[i]->nlayers; l++)
            if (!st.runs[i]->layers[l].stat && st.runs[i]->nstats) __builtin_trap();
    return 0;
}
