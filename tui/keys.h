/* keys: the one table of key bindings; it drives dispatch, the footer hints and the help screen. */
#ifndef TUI_KEYS_H
#define TUI_KEYS_H

#define TUI_KEY_MAX_CODES 4

struct tui_app;

typedef struct {
    int codes[TUI_KEY_MAX_CODES];   /* curses key codes bound to the action, 0-terminated */
    const char *label;              /* the keys as the help screen spells them */
    const char *fkey;               /* the key as the footer spells it; NULL: help screen only */
    const char *hint;               /* one word for the footer */
    const char *help;               /* one line for the help screen */
    void (*fn)(struct tui_app *a);
} tui_key;

extern const tui_key tui_keys[];
extern const int tui_nkeys;

/* The binding of a key code, NULL if unbound. */
const tui_key *tui_key_find(int code);
/* Runs the binding of code; returns 1 if there was one. */
int tui_key_dispatch(struct tui_app *a, int code);

#endif
