/* tui: the ncurses dashboard over a collector's store. */
#ifndef TT_TUI_H
#define TT_TUI_H

#include "../collectors/collector.h"

typedef struct {
    const char *title;          /* shown in the header, e.g. "demo" or the endpoint */
    int ascii;                  /* no Unicode drawing characters (--ascii) */
    int no_color;               /* monochrome (--no-color; also when NO_COLOR is set) */
    int refresh_ms;             /* redraw interval while data changes (default: settings, else 200) */
    /* Called once per loop iteration (children reaping, etc.); a non-zero return ends the loop. */
    int (*on_tick)(void *ud);
    void *ud;
    int no_mouse;               /* --no-mouse: leave the mouse to the terminal (copy and paste) */
    const char *view;           /* --view NAME: the view to open (overview, charts, layers, heatmap,
                                   compare, alerts); NULL: the settings' */
    const char *config;         /* --config FILE: settings file instead of $XDG_CONFIG_HOME/traintop/
                                   config.json; NULL: that one */
    const char *clock;          /* the header's clock shown as this text (golden tests); NULL: the
                                   TRAINTOP_CLOCK environment variable, else the wall clock */
    const char *const *plugins; /* --plugin PATH…: plugin panels to load besides the bundled and the
                                   user's ($XDG_DATA_HOME/traintop/plugins) */
    int nplugins;
    /* Another socket to wait on beside the collector's (the Prometheus endpoint): on_extra(ud) runs when
     * extra_fd is readable. Used only when on_extra is set. */
    int extra_fd;
    void (*on_extra)(void *ud);
    int replay;                 /* a recording: nothing is live, so no run is ever called stale */
    /* Where the settings are read from and saved to (cli/config.c's file); NULL: defaults, never saved. */
    const struct tui_settings_io *settings;
} tui_opts;

/* Runs the dashboard until the user quits (q), or SIGINT/SIGTERM/SIGHUP arrives, or on_tick asks.
 * The terminal is restored on every path, crash signals included. Returns 0, or 1 with a message on
 * stderr if the terminal could not be set up. */
int tui_run(tt_collector *c, const tui_opts *o);

#endif
