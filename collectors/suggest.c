/* suggest: optimal-string-alignment distance (Damerau-Levenshtein without repeated edits of one
 * substring), which counts the common swap of two letters ("stpo") as one edit. */
#include "suggest.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define WORD_MAX 128   /* metric and field names are shorter; longer words get no suggestion */

static int min3(int a, int b, int c) { return a < b ? (a < c ? a : c) : (b < c ? b : c); }

static int same(char a, char b) { return tolower((unsigned char)a) == tolower((unsigned char)b); }

/* Edits from a to b, case ignored; INT_MAX when either is too long. Three rows of the usual table. */
static int distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n >= WORD_MAX || m >= WORD_MAX) return INT_MAX;
    int rows[3][WORD_MAX + 1];
    int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= m; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + !same(a[i - 1], b[j - 1]));
            if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]) && prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
        int *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[m];
}

static int begins(const char *known, const char *word)
{
    for (; *word; word++, known++)
        if (!*known || !same(*known, *word)) return 0;
    return 1;
}

/* Short words are close to too many others: "mse" is 2 edits from "max". */
static int edits_allowed(size_t len) { return len >= 5 ? 2 : len >= 3 ? 1 : 0; }

int tt_word_index(const char *const *words, const char *w)
{
    for (int i = 0; words[i]; i++)
        if (!strcmp(words[i], w)) return i;
    return -1;
}

const char *tt_suggest(const char *word, const char *const *known)
{
    size_t len = word ? strlen(word) : 0;
    if (!len) return NULL;
    const char *best = NULL;
    int best_d = INT_MAX;
    for (int i = 0; known[i]; i++) {
        int d = distance(word, known[i]);
        int close = d <= edits_allowed(len) || (len >= 3 && begins(known[i], word));
        if (close && d < best_d) { best = known[i]; best_d = d; }
    }
    return best;
}

const char *tt_did_you_mean(char *buf, size_t len, const char *word, const char *const *known)
{
    const char *s = tt_suggest(word, known);
    if (s) snprintf(buf, len, "; did you mean \"%s\"?", s);
    else if (len) buf[0] = 0;
    return buf;
}
