/* A plugin whose init fails: must be refused, and never drawn. */
#include "traintop/plugin.h"
static int init(const tt_plugin_services *s, void **st) { (void)s; (void)st; return -1; }
static void draw(void *s, const tt_plugin_frame *f) { (void)s; (void)f; }
static const tt_plugin_desc d = { .size = sizeof d, .abi_major = TT_PLUGIN_ABI_MAJOR, .abi_minor = TT_PLUGIN_ABI_MINOR,
                                   .name = "init_fails", .title = "x", .description = "x", .init = init, .draw = draw };
const tt_plugin_desc *traintop_plugin(void) { return &d; }
