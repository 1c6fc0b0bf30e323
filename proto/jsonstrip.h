/* jsonstrip: removes a top-level member from a JSON object's text without building a DOM — the token
 * from a message before it is recorded or handed to viewers. */
#ifndef TT_JSONSTRIP_H
#define TT_JSONSTRIP_H

#include <stddef.h>

/* Copies in (n bytes) to out (room for n bytes) without every top-level member named key (compared
 * after JSON unescaping, so "tok\u0065n" is the same key). Text that is not an object, or is cut short,
 * is copied as far as it is understood and the rest unchanged. Returns the bytes written (≤ n). */
size_t tt_json_strip_member(const char *in, size_t n, const char *key, char *out);

#endif
