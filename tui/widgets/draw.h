/* draw: text helpers over curses — display-width-aware truncation with an ellipsis, alignment, fills,
 * and a growable scratch buffer so a frame allocates nothing once warm. */
#ifndef TUI_DRAW_H
#define TUI_DRAW_H

#include <stddef.h>
#include "tui_curses.h"

typedef enum {
    TUI_LEFT,            /* left-aligned, cut at the right end with an ellipsis */
    TUI_RIGHT,           /* right-aligned, cut at the right end */
    TUI_KEEP_TAIL,       /* left-aligned, cut at the left end ("…q_proj.weight") */
    TUI_CENTER,
} tui_align;

/* Display columns of a UTF-8 string (invalid bytes count as one column each). */
int tui_text_width(const char *s);

/* Writes s in the `width` columns starting at (y, x), padding with spaces (in attribute a) to the full
 * width, truncating with "…" ("~" when ascii). Returns the columns actually used by text. */
int tui_put(WINDOW *w, int y, int x, int width, const char *s, attr_t a, tui_align al, int ascii);

/* Writes s at (y, x) without padding, at most maxw columns (cut without ellipsis). Returns columns used. */
int tui_puts(WINDOW *w, int y, int x, int maxw, const char *s, attr_t a);

/* Fills n columns with spaces in attribute a. */
void tui_fill(WINDOW *w, int y, int x, int n, attr_t a);

/* A scratch buffer reused across frames. */
typedef struct { void *p; size_t cap; } tui_buf;
/* Ensures at least n bytes; returns the memory or NULL on OOM (the old memory stays). */
void *tui_buf_reserve(tui_buf *b, size_t n);
void tui_buf_free(tui_buf *b);

#endif
