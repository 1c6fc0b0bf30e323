/* crossrank: the gradient-noise scale of a data-parallel run from its ranks' local gradient norms
 * (METRICS.md §2), computed by the collector — the one place that sees every rank. */
#ifndef TT_CROSSRANK_H
#define TT_CROSSRANK_H

#include "store.h"

/* After rank r's step message: when every rank of the run has sent "local_grad_sq" (‖G_k‖² of its
 * micro-batch before the all-reduce) for this step, appends to rank 0 the scalars
 * noise_scale_ranks (b·tr Σ_K / |G|²), trace_sigma_ranks and grad_sq_ranks, with ‖Ḡ‖² from rank 0's
 * "grad_sq_reduced" scalar of the step if sent, else Σ over its layers of g_norm² at that step, and
 * b = rank 0's hyperparameter "batch" (per-rank batch size). Returns 1 when it appended, else 0. */
int tt_crossrank_step(tt_store *st, const tt_run *r, int64_t step);

#endif
