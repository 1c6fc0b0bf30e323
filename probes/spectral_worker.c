/* spectral_worker: one pthread, a FIFO of layer indices to compute and a FIFO of finished layers.
 * A layer's slot moves IDLE → FILLING (the submitter copies, outside the lock) → QUEUED → RUNNING
 * (the worker reads the snapshot, outside the lock) → IDLE; only the owner of the state touches the
 * snapshot, so the lock covers bookkeeping alone. */
#include "spectral_worker.h"

#include <cblas.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum { IDLE, FILLING, QUEUED, RUNNING };

typedef struct {
    float *snap;
    size_t cap;                 /* floats in snap */
    size_t rows, cols;
    int64_t step;
    int state;
    int has_result, in_done;
    tt_spectral_result result;
} slot;

struct tt_spectral_worker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop, running;
    size_t n;
    slot *slots;
    size_t *jobs, job_head, job_len;      /* ring of queued layer indices (each at most once) */
    size_t *done, done_head, done_len;    /* ring of layers with an unread result (each at most once) */
    tt_spectral_worker_counters c;
    tt_spectral_opts spectral;
    int nice;
};

void tt_spectral_worker_opts_default(tt_spectral_worker_opts *o)
{
    tt_spectral_opts_default(&o->spectral);
    o->blas_threads = 1;
    o->nice = 10;
}

static void ring_push(size_t *ring, size_t cap, size_t head, size_t *len, size_t v)
{
    ring[(head + *len) % cap] = v;
    (*len)++;
}

static size_t ring_pop(const size_t *ring, size_t cap, size_t *head, size_t *len)
{
    size_t v = ring[*head];
    *head = (*head + 1) % cap;
    (*len)--;
    return v;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *worker_main(void *arg)
{
    tt_spectral_worker *wk = arg;
#ifdef __linux__
    /* Linux applies a tid's niceness to that thread alone. Best effort: a failure changes nothing. */
    if (wk->nice > 0) {
        id_t tid = (id_t)gettid();
        int cur = getpriority(PRIO_PROCESS, tid);
        if (setpriority(PRIO_PROCESS, tid, cur + wk->nice) != 0) { /* keep the priority we have */ }
    }
#endif
    tt_spectral_ws *ws = NULL;   /* created on the first job, grown to the largest layer */
    pthread_mutex_lock(&wk->mu);
    for (;;) {
        while (!wk->stop && wk->job_len == 0)
            pthread_cond_wait(&wk->cv, &wk->mu);
        if (wk->stop)
            break;
        size_t layer = ring_pop(wk->jobs, wk->n, &wk->job_head, &wk->job_len);
        slot *s = &wk->slots[layer];
        s->state = RUNNING;
        wk->running = 1;
        tt_spectral_result r = { .layer = layer, .step = s->step, .rows = s->rows, .cols = s->cols };
        pthread_mutex_unlock(&wk->mu);

        double t0 = mono();
        if (!ws)
            ws = tt_spectral_ws_create(r.rows, r.cols, &wk->spectral);
        r.rc = tt_spectral_compute(s->snap, r.rows, r.cols, &wk->spectral, &r.stats, ws);  /* NULL ws: NaN, -1 */
        r.seconds = mono() - t0;

        pthread_mutex_lock(&wk->mu);
        if (s->has_result)
            wk->c.replaced++;
        s->result = r;
        s->has_result = 1;
        if (!s->in_done) {
            ring_push(wk->done, wk->n, wk->done_head, &wk->done_len, layer);
            s->in_done = 1;
        }
        s->state = IDLE;
        wk->running = 0;
        wk->c.completed++;
    }
    while (wk->job_len) {   /* stopping: drop what is still queued */
        size_t layer = ring_pop(wk->jobs, wk->n, &wk->job_head, &wk->job_len);
        wk->slots[layer].state = IDLE;
        wk->c.discarded++;
    }
    pthread_mutex_unlock(&wk->mu);
    tt_spectral_ws_free(ws);
    return NULL;
}

static void free_worker(tt_spectral_worker *wk)
{
    for (size_t i = 0; wk->slots && i < wk->n; i++)
        free(wk->slots[i].snap);
    free(wk->slots);
    free(wk->jobs);
    free(wk->done);
    free(wk);
}

tt_spectral_worker *tt_spectral_worker_create(size_t max_layers, const tt_spectral_worker_opts *o)
{
    tt_spectral_worker_opts d;
    if (!o) { tt_spectral_worker_opts_default(&d); o = &d; }
    if (max_layers == 0)
        return NULL;
    tt_spectral_worker *wk = calloc(1, sizeof *wk);
    if (!wk)
        return NULL;
    wk->n = max_layers;
    wk->spectral = o->spectral;
    wk->nice = o->nice < 0 ? 0 : o->nice > 19 ? 19 : o->nice;
    wk->slots = calloc(max_layers, sizeof *wk->slots);
    wk->jobs = calloc(max_layers, sizeof *wk->jobs);
    wk->done = calloc(max_layers, sizeof *wk->done);
    if (!wk->slots || !wk->jobs || !wk->done) {
        free_worker(wk);
        return NULL;
    }
    if (pthread_mutex_init(&wk->mu, NULL) != 0) {
        free_worker(wk);
        return NULL;
    }
    if (pthread_cond_init(&wk->cv, NULL) != 0) {
        pthread_mutex_destroy(&wk->mu);
        free_worker(wk);
        return NULL;
    }
    if (o->blas_threads > 0)
        openblas_set_num_threads(o->blas_threads);   /* process-wide: see the header */

    /* The thread inherits this mask: asynchronous signals stay with the trainer's threads; faults
     * still reach their handlers (a sanitizer's, say) on the thread that faulted. */
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV); sigdelset(&all, SIGBUS); sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL); sigdelset(&all, SIGTRAP); sigdelset(&all, SIGABRT);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&wk->thread, NULL, worker_main, wk);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&wk->cv);
        pthread_mutex_destroy(&wk->mu);
        free_worker(wk);
        return NULL;
    }
    return wk;
}

int tt_spectral_worker_submit(tt_spectral_worker *wk, size_t layer, int64_t step, const float *w,
                              size_t rows, size_t cols)
{
    if (!wk || !w || layer >= wk->n || rows == 0 || cols == 0 || cols > SIZE_MAX / rows ||
        rows * cols > SIZE_MAX / sizeof(float))
        return -1;
    slot *s = &wk->slots[layer];
    pthread_mutex_lock(&wk->mu);
    if (s->state != IDLE) {
        wk->c.skipped++;
        pthread_mutex_unlock(&wk->mu);
        return 0;
    }
    s->state = FILLING;   /* the slot's buffer is ours until QUEUED */
    pthread_mutex_unlock(&wk->mu);

    size_t n = rows * cols;
    if (n > s->cap) {
        float *p = malloc(n * sizeof(float));
        if (!p) {
            pthread_mutex_lock(&wk->mu);
            s->state = IDLE;
            pthread_mutex_unlock(&wk->mu);
            return -1;
        }
        free(s->snap);
        s->snap = p;
        s->cap = n;
    }
    memcpy(s->snap, w, n * sizeof(float));

    pthread_mutex_lock(&wk->mu);
    s->rows = rows;
    s->cols = cols;
    s->step = step;
    s->state = QUEUED;
    ring_push(wk->jobs, wk->n, wk->job_head, &wk->job_len, layer);
    wk->c.submitted++;
    pthread_cond_signal(&wk->cv);
    pthread_mutex_unlock(&wk->mu);
    return 1;
}

int tt_spectral_worker_poll(tt_spectral_worker *wk, tt_spectral_result *out)
{
    if (!wk || !out)
        return 0;
    pthread_mutex_lock(&wk->mu);
    int got = 0;
    if (wk->done_len) {
        slot *s = &wk->slots[ring_pop(wk->done, wk->n, &wk->done_head, &wk->done_len)];
        *out = s->result;
        s->has_result = 0;
        s->in_done = 0;
        got = 1;
    }
    pthread_mutex_unlock(&wk->mu);
    return got;
}

size_t tt_spectral_worker_pending(tt_spectral_worker *wk)
{
    if (!wk)
        return 0;
    pthread_mutex_lock(&wk->mu);
    size_t n = wk->job_len + (size_t)wk->running;
    pthread_mutex_unlock(&wk->mu);
    return n;
}

void tt_spectral_worker_get_counters(tt_spectral_worker *wk, tt_spectral_worker_counters *out)
{
    if (!wk || !out)
        return;
    pthread_mutex_lock(&wk->mu);
    *out = wk->c;
    pthread_mutex_unlock(&wk->mu);
}

void tt_spectral_worker_destroy(tt_spectral_worker *wk)
{
    if (!wk)
        return;
    pthread_mutex_lock(&wk->mu);
    wk->stop = 1;
    pthread_cond_broadcast(&wk->cv);
    pthread_mutex_unlock(&wk->mu);
    pthread_join(wk->thread, NULL);
    pthread_cond_destroy(&wk->cv);
    pthread_mutex_destroy(&wk->mu);
    free_worker(wk);
}
