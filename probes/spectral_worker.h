/* spectral_worker: a background thread that computes METRICS.md §3 spectra of weight snapshots, so a
 * training step never waits for an eigensolver.
 *
 * Lifetime: tt_spectral_worker_create → loop { tt_spectral_worker_submit…; tt_spectral_worker_poll… }
 *           → tt_spectral_worker_destroy
 * submit and poll never wait for a spectrum: they take one mutex that the worker holds only for O(1)
 * bookkeeping, and submit's only real cost is the memcpy of the weights (plus an allocation the first
 * time a layer is seen or grows). Each layer has one snapshot buffer: while a layer's previous job is
 * queued or running, its new submissions are skipped and counted. Results wait, one per layer (a newer
 * one replaces an unread older one, counted), until polled, in the order they finished.
 *
 * BLAS threads: OpenBLAS (0.3.21, pthreads build) has one process-wide thread count and no per-thread
 * setting. A multithreaded OpenBLAS call from the worker would take OpenBLAS's thread pool, which the
 * trainer's own threaded GEMMs then queue behind (OpenBLAS serialises callers of the pool), and spin
 * threads on the trainer's cores. So by default create calls openblas_set_num_threads(1): the worker's
 * LAPACK runs on the worker thread alone. That is process-wide — it also makes the trainer's own
 * OpenBLAS calls single-threaded (traintop's demo trainer already runs one thread; PyTorch and numpy
 * carry their own BLAS and are unaffected). A C trainer that wants a threaded OpenBLAS sets
 * blas_threads = 0 (or N) and accepts sharing the pool with the worker.
 * The worker thread also lowers its own priority (Linux: per-thread nice) and blocks every signal, so
 * it takes idle cycles first and the trainer's signal handlers run on the trainer's threads. */
#ifndef TT_SPECTRAL_WORKER_H
#define TT_SPECTRAL_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "../metrics/spectral.h"

typedef struct tt_spectral_worker tt_spectral_worker;

typedef struct {
    tt_spectral_opts spectral;  /* what each job computes (defaults: tt_spectral_opts_default) */
    int blas_threads;           /* > 0: openblas_set_num_threads(blas_threads) at create, process-wide
                                 * (default 1); 0: leave OpenBLAS's setting alone */
    int nice;                   /* added to the worker thread's niceness, 0..19 (default 10) */
} tt_spectral_worker_opts;

void tt_spectral_worker_opts_default(tt_spectral_worker_opts *o);

typedef struct {
    size_t layer;               /* layer index given to submit */
    int64_t step;               /* step given to submit */
    size_t rows, cols;
    int rc;                     /* tt_spectral_compute's return: 0, or < 0 with NaN statistics */
    double seconds;             /* time the computation took on the worker */
    tt_spectrum_stats stats;
} tt_spectral_result;

typedef struct {
    uint64_t submitted;         /* jobs queued */
    uint64_t skipped;           /* submissions skipped because that layer's job was still pending */
    uint64_t completed;         /* jobs finished */
    uint64_t replaced;          /* finished results replaced by a newer one before being polled */
    uint64_t discarded;         /* queued jobs dropped by destroy */
} tt_spectral_worker_counters;

/* Starts the worker thread for layers 0 … max_layers−1. o NULL means the defaults. NULL on failure. */
tt_spectral_worker *tt_spectral_worker_create(size_t max_layers, const tt_spectral_worker_opts *o);

/* Snapshots the rows x cols float32 row-major w of a layer and queues its spectrum. Returns 1 when
 * queued, 0 when skipped because the layer's previous job is still queued or running, -1 on bad
 * arguments or when the snapshot buffer cannot be allocated. Thread-safe. */
int tt_spectral_worker_submit(tt_spectral_worker *wk, size_t layer, int64_t step, const float *w,
                              size_t rows, size_t cols);

/* Copies one finished result into *out and returns 1, or returns 0 when none is waiting. Never waits
 * for a computation. Thread-safe. */
int tt_spectral_worker_poll(tt_spectral_worker *wk, tt_spectral_result *out);

/* Number of layers whose job is queued or running. */
size_t tt_spectral_worker_pending(tt_spectral_worker *wk);

void tt_spectral_worker_get_counters(tt_spectral_worker *wk, tt_spectral_worker_counters *out);

/* Stops the thread: queued jobs are discarded, the job being computed (at most one spectrum) is
 * finished first, then the thread is joined and everything freed. NULL-safe. */
void tt_spectral_worker_destroy(tt_spectral_worker *wk);

#endif
