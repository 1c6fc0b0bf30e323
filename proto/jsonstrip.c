/* jsonstrip: one pass over the text; members are removed with the comma that separates them. */
#include "jsonstrip.h"

#include <string.h>

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* s[i] is '"': the index after the closing quote, or n. */
static size_t skip_string(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\') i++;
        else if (s[i] == '"') return i + 1;
    }
    return n;
}

/* A value from s[i]: the index of the ',' or '}' after it (or n). */
static size_t skip_value(const char *s, size_t i, size_t n)
{
    size_t depth = 0;
    while (i < n) {
        char c = s[i];
        if (c == '"') { i = skip_string(s, i, n); continue; }
        if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') { if (!depth) return i; depth--; }
        else if (c == ',' && !depth) return i;
        i++;
    }
    return n;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The key between quotes (raw, len bytes) unescaped equals key? Escapes beyond ASCII never match. */
static int key_is(const char *raw, size_t len, const char *key)
{
    size_t k = 0, klen = strlen(key);
    for (size_t i = 0; i < len; i++, k++) {
        char c = raw[i];
        if (c == '\\') {
            if (++i >= len) return 0;
            switch (raw[i]) {
            case '"': case '\\': case '/': c = raw[i]; break;
            case 'u': {
                if (i + 4 >= len) return 0;
                int v = 0;
                for (int j = 1; j <= 4; j++) {
                    int h = hexval(raw[i + j]);
                    if (h < 0) return 0;
                    v = v * 16 + h;
                }
                if (v < 1 || v > 0x7e) return 0;
                c = (char)v;
                i += 4;
                break;
            }
            default: return 0;     /* \b \f \n \r \t: control characters are in no key we strip */
            }
        }
        if (k >= klen || key[k] != c) return 0;
    }
    return k == klen;
}

size_t tt_json_strip_member(const char *in, size_t n, const char *key, char *out)
{
    size_t o = 0, copied = 0;                  /* in[copied..] is still to be written */
    size_t i = skip_ws(in, 0, n);
    if (i < n && in[i] == '{') {
        size_t first = ++i;                    /* where the object's first (remaining) member starts */
        for (;;) {
            size_t start = i;
            i = skip_ws(in, i, n);
            if (i >= n || in[i] != '"') break;
            size_t ke = skip_string(in, i, n);
            if (ke >= n) break;
            int match = key_is(in + i + 1, ke - i - 2, key);
            i = skip_ws(in, ke, n);
            if (i >= n || in[i] != ':') break;
            i = skip_value(in, skip_ws(in, i + 1, n), n);
            if (i >= n || (in[i] != ',' && in[i] != '}')) break;
            int more = in[i] == ',';
            if (match && start == first) {     /* the first member: it goes with the comma after it */
                memcpy(out + o, in + copied, start - copied);
                o += start - copied;
                copied = more ? i + 1 : i;
                first = i + 1;
            } else if (match) {                /* a later one: with the comma before it */
                memcpy(out + o, in + copied, start - 1 - copied);
                o += start - 1 - copied;
                copied = i;
            }
            if (!more) break;
            i++;
        }
    }
    memcpy(out + o, in + copied, n - copied);
    return o + n - copied;
}
