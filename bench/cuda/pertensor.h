/* pertensor: bench_cuda's torch-free naive baseline — the 12 statistics of fp32 tensors with one cuBLAS
 * call or small kernel per operation (what an eager framework runs), results copied to the host once per
 * step. Used only by bench/cuda/bench_cuda.c. */
#ifndef TT_BENCH_PERTENSOR_H
#define TT_BENCH_PERTENSOR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tt_pertensor tt_pertensor;

/* nl fp32 tensors of rows × cols, W and G device pointers (kept, not copied); snapshots of W taken now.
 * stream: a cudaStream_t. NULL with err on failure. */
tt_pertensor *tt_pertensor_open(const float *const *w, const float *const *g, int nl, size_t rows, size_t cols,
                                void *stream, char *err, size_t errlen);
/* One step: every tensor's statistics, W_prev refreshed, one copy to the host, then waits for it. */
int tt_pertensor_step(tt_pertensor *p, char *err, size_t errlen);
/* The last step's 12 statistics of a layer (tt_probe_layer_stats order), as floats. */
const float *tt_pertensor_result(const tt_pertensor *p, int layer);
void tt_pertensor_close(tt_pertensor *p);

#ifdef __cplusplus
}
#endif

#endif
