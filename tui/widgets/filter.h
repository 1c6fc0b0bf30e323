/* filter: the layer-name filter — a POSIX extended regular expression compiled on every edit, so the
 * table narrows as the user types. An invalid pattern keeps the last valid one in force and says why. */
#ifndef TUI_FILTER_H
#define TUI_FILTER_H

#include <regex.h>

#define TUI_FILTER_MAX 128

typedef struct {
    char pattern[TUI_FILTER_MAX];   /* as typed */
    char active[TUI_FILTER_MAX];    /* the pattern in force ("" : everything matches) */
    char err[160];                  /* why pattern does not compile ("" when it does) */
    regex_t re;
    int compiled;                   /* re holds active */
    unsigned gen;                   /* bumped whenever the pattern in force changes */
} tui_filter;

void tui_filter_init(tui_filter *f);
void tui_filter_free(tui_filter *f);
/* Sets the pattern. Smart case: a pattern without capitals ignores case. Returns 0 when it compiled
 * (or is empty), -1 when it did not: err says why and the previous pattern stays in force. */
int tui_filter_set(tui_filter *f, const char *pattern);
/* Whether name passes (always, with no pattern in force). */
int tui_filter_match(const tui_filter *f, const char *name);
/* A pattern is in force. */
int tui_filter_on(const tui_filter *f);

#endif
