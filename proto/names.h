/* names: what a run, layer or scalar name may be — checked by the probe and again by the collector. */
#ifndef TT_NAMES_H
#define TT_NAMES_H

#include <stddef.h>

/* Run names end up in file names and argv: [A-Za-z0-9_.:+=-]{1,127}, not starting with '.' or '-'. */
int tt_run_name_ok(const char *s);
/* Layer and scalar names: 1..127 printable ASCII characters, no '"' or '\\'. */
int tt_label_ok(const char *s);

#endif
