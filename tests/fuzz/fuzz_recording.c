/* fuzz_recording: libFuzzer target for what is recorded and read back — the recording reader (alone and
 * merging two files, as replay does with a recording and a spool) over any bytes, and the token taken
 * out of any message before it is written. Invariants: the reader hands on lines without a newline and
 * within the message limit; the stripped text is never longer, and when the input is a JSON object the
 * output is one too, without a top-level "token" and with every other member. */
#include "../../collectors/recording.h"
#include "../../proto/jsonstrip.h"
#include "../../proto/protocol.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int line(void *ud, const char *l, size_t len)
{
    (void)ud;
    if (len > TT_MSG_MAX_BYTES || memchr(l, '\n', len)) __builtin_trap();
    return 0;
}

static int members(const cJSON *o)
{
    int n = 0;
    for (const cJSON *m = o->child; m; m = m->next) n++;
    return n;
}

static char path[64];
static void remove_file(void) { unlink(path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        atexit(remove_file);
        snprintf(path, sizeof path, "%s/fuzz_recording-%ld.jsonl", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm", (long)getpid());
    }
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    char err[512];
    tt_recording_read(path, line, NULL, NULL, err, sizeof err);
    const char *both[] = { path, path };
    tt_recording_read_merged(both, 2, line, NULL, NULL, err, sizeof err);

    char *out = malloc(size ? size : 1);
    if (!out) return 0;
    size_t n = tt_json_strip_member((const char *)data, size, "token", out);
    if (n > size) __builtin_trap();
    cJSON *in = cJSON_ParseWithLength((const char *)data, size);
    if (cJSON_IsObject(in)) {
        cJSON *stripped = cJSON_ParseWithLength(out, n);
        int tokens = 0;
        for (const cJSON *m = in->child; m; m = m->next) tokens += m->string && !strcmp(m->string, "token");
        if (!cJSON_IsObject(stripped) || cJSON_GetObjectItemCaseSensitive(stripped, "token") ||
            members(stripped) != members(in) - tokens) __builtin_trap();
        cJSON_Delete(stripped);
    }
    cJSON_Delete(in);
    free(out);
    return 0;
}
