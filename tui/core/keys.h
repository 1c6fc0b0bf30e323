/* keys: the one table of key bindings; it drives dispatch, the footer hints and the help screen.
 * A binding acts in the views of its mask (0: all), and some only with (or without) vim keys. */
#ifndef TUI_KEYS_H
#define TUI_KEYS_H

#define TUI_KEY_MAX_CODES 4

#include "../panel.h"

struct tui_app;

typedef struct {
    int codes[TUI_KEY_MAX_CODES];   /* curses key codes bound to the action, 0-terminated */
    const char *label;              /* the keys as the help screen spells them */
    const char *fkey;               /* the key as the footer spells it; NULL: help screen only */
    const char *hint;               /* one word for the footer */
    const char *help;               /* one line for the help screen */
    tui_reaction (*fn)(struct tui_app *a, int arg);   /* returns what the loop should do */
    int arg;                        /* passed to fn */
    unsigned views;                 /* TUI_VBIT(view) mask where the binding acts; 0: everywhere */
    int vim;                        /* 1: only with vim keys on; -1: only with them off; 0: always */
    const char *section;            /* starts a section of the help screen */
    unsigned hint_views;            /* views whose footer shows fkey; 0: wherever the binding acts */
} tui_key;

extern const tui_key tui_keys[];
extern const int tui_nkeys;

/* The binding of a key code in view (vim keys on or off), NULL if unbound there. */
const tui_key *tui_key_lookup(int code, int view, int vim);
/* The first binding of a key code in any view (without vim keys), NULL if unbound everywhere. */
const tui_key *tui_key_find(int code);
/* Runs the binding of code for the app's view and applies its reaction (tui_app_react); returns 1 if
 * there was a binding. */
int tui_key_dispatch(struct tui_app *a, int code);
/* Whether binding k acts in view. */
int tui_key_in_view(const tui_key *k, int view, int vim);

/* After an Esc (27) from curses: the rest of an escape sequence curses did not know (a terminal whose
 * TERM does not match), read with next() (returns -1 when nothing more is waiting). Returns the key a
 * well-known sequence means (KEY_HOME for ESC [ 1 ~, KEY_UP for ESC O A, …), 27 for a lone Esc (an Esc
 * right behind it is handed back with unget(), to come next), or 0 for a sequence to ignore whole (an
 * unknown one, or Alt with a key) — none of it becomes keystrokes. */
int tui_key_escape(int (*next)(void *ud), void (*unget)(int key, void *ud), void *ud);

#endif
