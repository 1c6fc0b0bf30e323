/* A plugin whose init fails: must be refused, and never drawn. */
#include "traintop/plugin.h"
static int init(const tt_plugin_services *s, void **st) { (void)s; (void)st; return -1; }
static void draw(void *s, const tt_plugin_frame *f) { (void)s; (void)f; }
static const tt_plugin_desc d = { sizeof d, TT_PLUGIN_ABI_MAJOR, TT_PLUGIN_ABI_MINOR, "init_fails", "x", "x", init, draw, 0, 0 };
const tt_plugin_desc *traintop_plugin(void) { return &d; }
