/* schedule: what the probe publishes beside a step's layer rows, on its own schedule — extra entries
 * (spectra from a background thread, per-sample statistics of a dense layer, scale invariance) and
 * the model's per-sample scalars — and the optimizer they need. */
#ifndef TT_PROBE_SCHEDULE_H
#define TT_PROBE_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include "persample_acc.h"

typedef struct tt_probe tt_probe;
typedef struct tt_schedule tt_schedule;   /* its state: probe_internal.h, inside struct tt_probe */

void tt_sched_init(tt_schedule *s, int spectral_every, int persample_full, int gwa_window);
void tt_sched_free(tt_schedule *s);

/* Queues an extra entry for the next step message (cut, not queued, beyond the protocol's limit). */
void tt_sched_add_extra(tt_probe *p, int layer, int stat, double value, int64_t step);
/* Writes the queued entries into the step message being built, and forgets them. */
void tt_sched_write_extras(tt_probe *p);
/* Hands 2-D layers to the background worker every spectral_every steps and collects what it finished. */
void tt_sched_spectral(tt_probe *p, int64_t step);
/* The model's per-sample statistics of this step, as scalars; GWA when its window closes. */
void tt_sched_persample_scalars(tt_probe *p);
/* A dense layer's weight and bias (-1: none) for per-sample work: registered, distinct, bias of the
 * weight's row count. 0, or -1 with err naming `what`. */
int tt_sched_dense_layers_ok(const tt_probe *p, int weight_layer, int bias_layer, const char *what, char *err, size_t errlen);
/* One layer's per-sample statistics of this step, as extra entries. */
void tt_sched_layer_extras(tt_probe *p, int layer, const tt_psacc_layer *s);

#endif
