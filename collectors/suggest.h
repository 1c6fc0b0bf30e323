/* suggest: "did you mean" — the known word closest to a misspelt one, for every message that names
 * a word the user typed (a rules file's fields, an --alert key, a kind, a metric). */
#ifndef TT_SUGGEST_H
#define TT_SUGGEST_H

#include <stddef.h>

/* The index of w in words (NULL-terminated), or -1: the exact lookup that comes before a suggestion. */
int tt_word_index(const char *const *words, const char *w);

/* The entry of known (NULL-terminated) closest to word, ignoring case: at most 2 edits away (an edit:
 * one character inserted, deleted, replaced, or two neighbours swapped), 1 for words of 3-4
 * characters, none but case for shorter ones; or one that word begins, when word has 3+ characters.
 * The fewest edits win, then the first listed. NULL when none is that close. */
const char *tt_suggest(const char *word, const char *const *known);

/* `; did you mean "X"?` to append to a message, or "" when nothing is close. Returns buf. */
const char *tt_did_you_mean(char *buf, size_t len, const char *word, const char *const *known);

#endif
