/* A plugin that needs a newer minor ABI than the host has: must be refused. */
#include "traintop/plugin.h"
static void draw(void *s, const tt_plugin_frame *f) { (void)s; (void)f; }
static const tt_plugin_desc d = { .size = sizeof d, .abi_major = TT_PLUGIN_ABI_MAJOR, .abi_minor = TT_PLUGIN_ABI_MINOR + 1,
                                   .name = "newer_minor", .title = "x", .description = "x", .draw = draw };
const tt_plugin_desc *traintop_plugin(void) { return &d; }
