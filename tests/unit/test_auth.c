/* auth: the token (what one may be, a comparison that looks at every byte), the listening policy, the
 * query check, the token stripped from a message's text, and the live ring viewers read from. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/token.h"
#include "../../proto/jsonstrip.h"
#include "../../collectors/auth.h"
#include "../../collectors/livering.h"

static void tokens(void **state)
{
    (void)state;
    assert_true(tt_token_ok("s3cret"));
    assert_false(tt_token_ok(""));
    assert_false(tt_token_ok("has space"));
    assert_false(tt_token_ok("quo\"te"));
    assert_false(tt_token_ok("back\\slash"));
    assert_false(tt_token_ok("new\nline"));
    char long_tok[TT_TOKEN_MAX + 1];
    memset(long_tok, 'a', TT_TOKEN_MAX);
    long_tok[TT_TOKEN_MAX] = 0;
    assert_false(tt_token_ok(long_tok));
    assert_true(tt_token_eq("s3cret", 6, "s3cret"));
    assert_false(tt_token_eq("s3cre", 5, "s3cret"));
    assert_false(tt_token_eq("s3cretX", 7, "s3cret"));
    assert_false(tt_token_eq("s3cres", 6, "s3cret"));
    assert_false(tt_token_eq("", 0, "s3cret"));
    assert_false(tt_token_eq("s3cret\0", 7, "s3cret"));

    char out[TT_TOKEN_MAX], err[256];
    unsetenv("TRAINTOP_TOKEN");
    assert_int_equal(tt_token_from_env(out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "");
    setenv("TRAINTOP_TOKEN", "abc", 1);
    assert_int_equal(tt_token_from_env(out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "abc");
    setenv("TRAINTOP_TOKEN", "a b", 1);
    assert_int_equal(tt_token_from_env(out, sizeof out, err, sizeof err), -1);
    assert_non_null(strstr(err, "TRAINTOP_TOKEN: expected"));
    unsetenv("TRAINTOP_TOKEN");
}

static void listening(void **state)
{
    (void)state;
    char err[512];
    FILE *log = tmpfile();
    assert_int_equal(tt_auth_listen("ipc:///tmp/x", "", 0, 0, log, err, sizeof err), 0);
    assert_int_equal(tt_auth_listen("tcp://127.0.0.1:5555", "", 0, 0, log, err, sizeof err), -1);
    assert_non_null(strstr(err, "--insecure-tcp"));
    assert_int_equal(tt_auth_listen("tcp://127.0.0.1:5555", "tok", 0, 0, log, err, sizeof err), 0);
    assert_int_equal(tt_auth_listen("tcp://10.0.0.1:5555", "tok", 0, 0, log, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a loopback address"));
    assert_int_equal(tt_auth_listen("tcp://10.0.0.1:5555", "tok", 1, 0, log, err, sizeof err), 0);
    assert_int_equal(tt_auth_listen("tcp://127.0.0.1:5555", "", 0, 1, log, err, sizeof err), 0);
    char text[1024] = "";
    rewind(log);
    size_t n = fread(text, 1, sizeof text - 1, log);
    text[n] = 0;
    assert_non_null(strstr(text, "reachable from the network"));
    assert_non_null(strstr(text, "WARNING: --insecure-tcp"));
    fclose(log);
}

static void queries(void **state)
{
    (void)state;
    cJSON *with = cJSON_Parse("{\"type\":\"ls\",\"token\":\"tok\"}"), *wrong = cJSON_Parse("{\"type\":\"ls\",\"token\":\"tok2\"}");
    cJSON *none = cJSON_Parse("{\"type\":\"ls\"}"), *num = cJSON_Parse("{\"type\":\"ls\",\"token\":1}");
    assert_true(tt_auth_query_ok(none, ""));
    assert_true(tt_auth_query_ok(with, "tok"));
    assert_false(tt_auth_query_ok(wrong, "tok"));
    assert_false(tt_auth_query_ok(none, "tok"));
    assert_false(tt_auth_query_ok(num, "tok"));
    assert_false(tt_auth_query_ok(NULL, "tok"));
    char err[256];
    setenv("TRAINTOP_TOKEN", "tok", 1);
    assert_int_equal(tt_auth_sign(none, err, sizeof err), 0);
    assert_true(tt_auth_query_ok(none, "tok"));
    unsetenv("TRAINTOP_TOKEN");
    cJSON_Delete(with); cJSON_Delete(wrong); cJSON_Delete(none); cJSON_Delete(num);
}

static char *strip(const char *in)
{
    static char out[4096];
    size_t n = tt_json_strip_member(in, strlen(in), "token", out);
    out[n] = 0;
    return out;
}

static void stripping(void **state)
{
    (void)state;
    assert_string_equal(strip("{\"v\":1,\"token\":\"s\",\"run\":\"a\"}"), "{\"v\":1,\"run\":\"a\"}");
    assert_string_equal(strip("{\"token\":\"s\",\"run\":\"a\"}"), "{\"run\":\"a\"}");
    assert_string_equal(strip("{\"run\":\"a\",\"token\":\"s\"}"), "{\"run\":\"a\"}");
    assert_string_equal(strip("{\"token\":\"s\"}"), "{}");
    assert_string_equal(strip("{ \"token\" : \"s\" , \"token\":\"t\", \"x\":[1,{\"token\":2}]}"), "{ \"x\":[1,{\"token\":2}]}");
    assert_string_equal(strip("{\"a\":{\"token\":\"s\"},\"b\":\"token\",\"tok\\u0065n\":\"s\"}"), "{\"a\":{\"token\":\"s\"},\"b\":\"token\"}");
    assert_string_equal(strip("{\"a\":\"x\\\"y\",\"token\":\"s\"}"), "{\"a\":\"x\\\"y\"}");
    assert_string_equal(strip("[\"token\"]"), "[\"token\"]");
    assert_string_equal(strip("{\"token\":"), "{\"token\":");
    assert_string_equal(strip(""), "");
    /* every prefix of a message: never more bytes than were given, never a crash (ASan watches) */
    const char *m = "{\"v\":1,\"type\":\"step\",\"token\":\"s3cret\",\"layers\":[[1,2],[3,4]],\"s\":\"a\\\\b\"}";
    for (size_t k = 0; k <= strlen(m); k++) {
        char out[256];
        assert_true(tt_json_strip_member(m, k, "token", out) <= k);
    }
    cJSON *j = cJSON_Parse(strip(m));
    assert_non_null(j);
    assert_null(cJSON_GetObjectItemCaseSensitive(j, "token"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(j, "layers"));
    cJSON_Delete(j);
}

/* The reply's header, parsed. */
static void header(const char *reply, size_t len, uint64_t *next, int *gap, int *more, int *lines)
{
    const char *nl = memchr(reply, '\n', len);
    assert_non_null(nl);
    cJSON *h = cJSON_ParseWithLength(reply, (size_t)(nl - reply));
    assert_non_null(h);
    *next = (uint64_t)cJSON_GetObjectItemCaseSensitive(h, "next")->valuedouble;
    *gap = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "gap"));
    *more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "more"));
    *lines = 0;
    for (size_t i = 0; i < len; i++) *lines += reply[i] == '\n';
    (*lines)--;
    cJSON_Delete(h);
}

static void live_ring(void **state)
{
    (void)state;
    tt_livering *r = tt_livering_new(7, 100, 4);
    uint64_t next;
    int gap, more, lines;
    size_t len;
    char *rep = tt_livering_reply(r, 0, 0, 1000, &len);        /* where are you */
    header(rep, len, &next, &gap, &more, &lines);
    assert_int_equal(next, 1); assert_false(gap); assert_int_equal(lines, 0);
    free(rep);
    tt_livering_push(r, "{\"a\":1}", 7);
    tt_livering_push(r, "{\"a\":\n2}", 8);
    rep = tt_livering_reply(r, 7, 1, 1000, &len);
    header(rep, len, &next, &gap, &more, &lines);
    assert_int_equal(next, 3); assert_false(gap); assert_false(more); assert_int_equal(lines, 2);
    assert_non_null(strstr(rep, "{\"a\": 2}\n"));                /* one message, one line */
    free(rep);
    rep = tt_livering_reply(r, 7, 1, 8, &len);                   /* a small reply: one message, more to come */
    header(rep, len, &next, &gap, &more, &lines);
    assert_int_equal(next, 2); assert_true(more); assert_int_equal(lines, 1);
    free(rep);
    rep = tt_livering_reply(r, 8, 1, 1000, &len);                /* another collector's numbers */
    header(rep, len, &next, &gap, &more, &lines);
    assert_true(gap); assert_int_equal(lines, 0); assert_int_equal(next, 3);
    free(rep);
    for (int i = 0; i < 4; i++) tt_livering_push(r, "{\"b\":1}", 7);   /* 4 slots: 1 and 2 are gone */
    rep = tt_livering_reply(r, 7, 2, 1000, &len);
    header(rep, len, &next, &gap, &more, &lines);
    assert_true(gap); assert_int_equal(next, 7);
    free(rep);
    rep = tt_livering_reply(r, 7, 3, 1000, &len);
    header(rep, len, &next, &gap, &more, &lines);
    assert_false(gap); assert_int_equal(lines, 4);
    free(rep);
    tt_livering_push(r, NULL, 0);                                /* nobody was asking: whoever asks hears of it */
    rep = tt_livering_reply(r, 7, 7, 1000, &len);
    header(rep, len, &next, &gap, &more, &lines);
    assert_true(gap); assert_int_equal(next, 8);
    free(rep);
    char big[200];
    memset(big, ' ', sizeof big);
    tt_livering_push(r, big, sizeof big);                        /* over the byte bound: not kept, a gap */
    rep = tt_livering_reply(r, 7, 8, 1000, &len);
    header(rep, len, &next, &gap, &more, &lines);
    assert_true(gap);
    free(rep);
    tt_livering_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tokens),
        cmocka_unit_test(listening),
        cmocka_unit_test(queries),
        cmocka_unit_test(stripping),
        cmocka_unit_test(live_ring),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
