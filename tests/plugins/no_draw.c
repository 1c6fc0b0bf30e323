/* A plugin without a draw function: must be refused. */
#include "traintop/plugin.h"
static const tt_plugin_desc d = { sizeof d, TT_PLUGIN_ABI_MAJOR, TT_PLUGIN_ABI_MINOR, "no_draw", "x", "x", 0, 0, 0, 0 };
const tt_plugin_desc *traintop_plugin(void) { return &d; }
