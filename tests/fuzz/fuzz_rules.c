/* fuzz_rules: libFuzzer target for the rules parsers — the JSON form of a rule (each element of an
 * array, or the object itself) and the --alert text form. Invariants: every refusal is one non-empty
 * line; what is accepted can be freed. */
#include "../../collectors/rulespec.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void one_line(int rc, const char *err)
{
    if (rc && (!err[0] || strchr(err, '\n'))) __builtin_trap();
}

static void json_rule(const cJSON *o)
{
    tt_rule r;
    char err[512] = "";
    int rc = tt_rulespec_json(o, &r, err, sizeof err);
    one_line(rc, err);
    if (!rc) {
        char warn[300];
        tt_rulespec_metric_warning(&r, warn, sizeof warn);
        tt_rulespec_free(&r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    if (cJSON_IsArray(root))
        for (const cJSON *o = root->child; o; o = o->next) json_rule(o);
    else if (root)
        json_rule(root);
    cJSON_Delete(root);

    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    tt_rule r;
    char err[512] = "";
    int rc = tt_rulespec_text(text, &r, err, sizeof err);
    one_line(rc, err);
    if (!rc) tt_rulespec_free(&r);
    free(text);
    return 0;
}
