/* A plugin built for a future major ABI: must be refused. */
#include "traintop/plugin.h"
static void draw(void *s, const tt_plugin_frame *f) { (void)s; (void)f; }
static const tt_plugin_desc d = { .size = sizeof d, .abi_major = TT_PLUGIN_ABI_MAJOR + 1, .abi_minor = 0,
                                   .name = "bad_abi", .title = "x", .description = "x", .draw = draw };
const tt_plugin_desc *traintop_plugin(void) { return &d; }
