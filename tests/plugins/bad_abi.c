/* A plugin built for a future major ABI: must be refused. */
#include "traintop/plugin.h"
static void draw(void *s, const tt_plugin_frame *f) { (void)s; (void)f; }
static const tt_plugin_desc d = { sizeof d, TT_PLUGIN_ABI_MAJOR + 1, 0, "bad_abi", "x", "x", 0, draw, 0, 0 };
const tt_plugin_desc *traintop_plugin(void) { return &d; }
