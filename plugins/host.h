/* host: finds, checks, loads and unloads plugin panels (include/traintop/plugin.h). No drawing here. */
#ifndef TT_PLUGIN_HOST_H
#define TT_PLUGIN_HOST_H

#include <stdio.h>
#include "traintop/plugin.h"

typedef struct {
    char path[512];
    char name[64];               /* the descriptor's name once loaded, else the file name */
    int loaded;                  /* 1: usable; 0: refused (why says why) */
    char why[256];
    void *dl;
    const tt_plugin_desc *desc;
    void *state;                 /* the plugin's, from init */
} tt_plugin;

typedef struct {
    tt_plugin *v;
    int n;
} tt_plugins;

/* Finds *.so in the installed directory (may be NULL), $XDG_DATA_HOME/traintop/plugins (else
 * ~/.local/share/traintop/plugins), and the explicit paths; loads and checks each, then calls init
 * with svc. Problems are recorded per plugin, never fatal. */
void tt_plugins_load(tt_plugins *ps, const char *installed_dir, const char *const *paths, int npaths,
                     const tt_plugin_services *svc);
void tt_plugins_unload(tt_plugins *ps);
/* One line per plugin: name, path, loaded or refused and why. */
void tt_plugins_report(const tt_plugins *ps, FILE *out);

/* The real path of rel taken from the directory of this binary (bin/), e.g. "../lib/traintop/plugins";
 * 0, or -1 when it does not exist. */
int tt_beside_exe(const char *rel, char *out, size_t len);
/* The directory of bundled plugins for this binary: <bin>/../lib/traintop/plugins, else the
 * installed one (TT_PLUGIN_DIR). */
void tt_plugin_dir(char *out, size_t len);

#endif
