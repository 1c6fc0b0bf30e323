/* token: the shared secret ($TRAINTOP_TOKEN) — what one may be, where it comes from, and a comparison
 * whose time does not depend on where the first difference lies. */
#ifndef TT_TOKEN_H
#define TT_TOKEN_H

#include <stddef.h>

#define TT_TOKEN_MAX 128   /* bytes, the NUL included */

/* A token: 1..127 printable ASCII characters, no '"', '\\' or space (it travels inside JSON unescaped). */
int tt_token_ok(const char *s);
/* $TRAINTOP_TOKEN into out ("" when unset or empty). -1 with err when it is set but not a valid token. */
int tt_token_from_env(char *out, size_t len, char *err, size_t errlen);
/* 1 when given (given_len bytes, not NUL-terminated) equals expected; the time depends on expected's
 * length only. */
int tt_token_eq(const char *given, size_t given_len, const char *expected);

#endif
