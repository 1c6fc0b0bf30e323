/* draw: UTF-8 aware text placement. Widths come from mbrtowc + wcwidth under the user's locale. */
#include "draw.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* Columns and byte length of the next character of s (n bytes left). */
static int next_char(const char *s, size_t n, size_t *bytes)
{
    unsigned char c = (unsigned char)*s;
    if (c < 0x80) { *bytes = 1; return c >= 0x20 && c != 0x7f ? 1 : 0; }
    mbstate_t st;
    memset(&st, 0, sizeof st);
    wchar_t wc;
    size_t r = mbrtowc(&wc, s, n, &st);
    if (r == (size_t)-1 || r == (size_t)-2 || r == 0) { *bytes = 1; return 1; }
    *bytes = r;
    int cw = wcwidth(wc);
    return cw < 0 ? 1 : cw;
}

int tui_text_width(const char *s)
{
    if (!s) return 0;
    int w = 0;
    size_t n = strlen(s), b;
    while (n > 0) {
        w += next_char(s, n, &b);
        s += b;
        n -= b;
    }
    return w;
}

/* Byte length of the longest prefix of s that fits in maxw columns; *cols gets its width. */
static size_t prefix_fit(const char *s, int maxw, int *cols)
{
    size_t n = strlen(s), used = 0, b;
    int w = 0;
    while (used < n) {
        int cw = next_char(s + used, n - used, &b);
        if (w + cw > maxw) break;
        w += cw;
        used += b;
    }
    *cols = w;
    return used;
}

/* Byte offset of the shortest suffix start such that the suffix fits in maxw columns. */
static size_t suffix_fit(const char *s, int maxw, int *cols)
{
    int total = tui_text_width(s);
    size_t n = strlen(s), off = 0, b;
    int w = total;
    while (off < n && w > maxw) {
        w -= next_char(s + off, n - off, &b);
        off += b;
    }
    *cols = w;
    return off;
}

static void put_bytes(WINDOW *w, int y, int x, const char *s, size_t n, attr_t a)
{
    if (n == 0) return;
    wattr_set(w, a & ~A_COLOR, (short)PAIR_NUMBER(a), NULL);
    mvwaddnstr(w, y, x, s, (int)n);
    wattr_set(w, A_NORMAL, 0, NULL);
}

void tui_fill(WINDOW *w, int y, int x, int n, attr_t a)
{
    if (n <= 0) return;
    wattr_set(w, a & ~A_COLOR, (short)PAIR_NUMBER(a), NULL);
    mvwhline(w, y, x, ' ', n);
    wattr_set(w, A_NORMAL, 0, NULL);
}

int tui_puts(WINDOW *w, int y, int x, int maxw, const char *s, attr_t a)
{
    if (!s || maxw <= 0) return 0;
    int cols;
    size_t n = prefix_fit(s, maxw, &cols);
    put_bytes(w, y, x, s, n, a);
    return cols;
}

int tui_put(WINDOW *w, int y, int x, int width, const char *s, attr_t a, tui_align al, int ascii)
{
    if (width <= 0) return 0;
    if (!s) s = "";
    const char *ell = ascii ? "~" : "\u2026";
    int tw = tui_text_width(s);
    tui_fill(w, y, x, width, a);
    if (tw <= width) {
        int off = al == TUI_RIGHT ? width - tw : al == TUI_CENTER ? (width - tw) / 2 : 0;
        put_bytes(w, y, x + off, s, strlen(s), a);
        return tw;
    }
    if (width == 1) {
        put_bytes(w, y, x, ell, strlen(ell), a);
        return 1;
    }
    int cols;
    if (al == TUI_KEEP_TAIL) {
        size_t off = suffix_fit(s, width - 1, &cols);
        put_bytes(w, y, x, ell, strlen(ell), a);
        put_bytes(w, y, x + 1, s + off, strlen(s + off), a);
    } else {
        size_t n = prefix_fit(s, width - 1, &cols);
        put_bytes(w, y, x, s, n, a);
        put_bytes(w, y, x + cols, ell, strlen(ell), a);
    }
    return cols + 1;
}

void *tui_buf_reserve(tui_buf *b, size_t n)
{
    if (n <= b->cap) return b->p;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < n) cap *= 2;
    void *p = realloc(b->p, cap);
    if (!p) return NULL;
    b->p = p;
    b->cap = cap;
    return p;
}

void tui_buf_free(tui_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->cap = 0;
}
