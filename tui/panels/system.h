/* system: the selected run's system strip — CPU, memory and each GPU, from the sys_* and gpu<k>_* scalars
 * the probe samples on its own timer (docs/metrics.md, System and GPU metrics). */
#ifndef TUI_PANELS_SYSTEM_H
#define TUI_PANELS_SYSTEM_H

#include "../model.h"

/* Rows the strip wants for run r, its title included: 0 when the run publishes no system metrics. */
int tui_system_rows(const tt_run *r);

#endif
