/* A plugin without a draw function: must be refused. */
#include "traintop/plugin.h"
static const tt_plugin_desc d = { .size = sizeof d, .abi_major = TT_PLUGIN_ABI_MAJOR, .abi_minor = TT_PLUGIN_ABI_MINOR,
                                   .name = "no_draw", .title = "x", .description = "x" };
const tt_plugin_desc *traintop_plugin(void) { return &d; }
