/* token: validation, the environment, and a constant-time comparison. */
#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tt_token_ok(const char *s)
{
    if (!s || !*s || strlen(s) >= TT_TOKEN_MAX) return 0;
    for (; *s; s++)
        if (*s <= 0x20 || *s > 0x7e || *s == '"' || *s == '\\') return 0;
    return 1;
}

int tt_token_from_env(char *out, size_t len, char *err, size_t errlen)
{
    const char *t = getenv("TRAINTOP_TOKEN");
    out[0] = 0;
    if (!t || !*t) return 0;
    if (!tt_token_ok(t) || strlen(t) >= len) {
        snprintf(err, errlen, "TRAINTOP_TOKEN: expected 1-%d printable ASCII characters without spaces, '\"' or '\\'", TT_TOKEN_MAX - 1);
        return -1;
    }
    memcpy(out, t, strlen(t) + 1);
    return 0;
}

int tt_token_eq(const char *given, size_t given_len, const char *expected)
{
    size_t n = strlen(expected);
    /* every byte of expected is looked at, whatever given holds: no early exit to time */
    volatile unsigned char diff = given_len != n;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)expected[i] ^ (unsigned char)(i < given_len ? given[i] : 0);
    return diff == 0;
}
