/* plugin_services: the services table handed to plugin panels — queries into a collector's store and
 * drawing with the dashboard's own charts, sparklines and colours. */
#ifndef TUI_PLUGIN_SERVICES_H
#define TUI_PLUGIN_SERVICES_H

#include <stdio.h>
#include "traintop/plugin.h"
#include "../collectors/store.h"

struct tt_plugin_host {
    const tt_store *store;       /* queries read it; the dashboard's loop is the only writer */
    FILE *log;                   /* plugin log lines; NULL: stderr */
    int ascii;
    void *scratch;               /* tui_buf for charts */
};

/* Fills svc for host. The store pointer may change between frames (set host->store). */
void tui_plugin_services(tt_plugin_host *host, tt_plugin_services *svc);

#endif
