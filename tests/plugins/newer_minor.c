/* A plugin that needs a newer minor ABI than the host has: must be refused. */
#include "traintop/plugin.h"
static void draw(void *s, const tt_plugin_frame *f) { (void)s; (void)f; }
static const tt_plugin_desc d = { sizeof d, TT_PLUGIN_ABI_MAJOR, TT_PLUGIN_ABI_MINOR + 1, "newer_minor", "x", "x", 0, draw, 0, 0 };
const tt_plugin_desc *traintop_plugin(void) { return &d; }
