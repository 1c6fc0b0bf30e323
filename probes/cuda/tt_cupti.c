/* tt_cupti: per-step GPU timing from the CUPTI activity API.
 *
 * CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL records give every kernel's start and end (ns, GPU clock)
 * without serialising kernels; CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION records tie the API calls
 * made between ttc_cupti_push and ttc_cupti_pop (the backend's own launches, cuBLAS's included) to
 * our tag, so the probe's own kernels are known by correlation id. CUPTI writes an external
 * correlation record only in front of an API activity record (cupti_activity.h, at
 * cuptiActivityPushExternalCorrelationId), so the runtime and driver API kinds are enabled too, and
 * their records dropped: a kernel carries the correlation id of the runtime or driver call that
 * launched it (cuBLAS may launch through either). At each collect the buffers are
 * flushed (forced) and the kernels delivered since the previous collect make the step: busy time is
 * the union of their intervals, the probe's time the union of ours (tt_cuda_host.c does the sums).
 * CUPTI is per process: one backend at a time owns it, and none while another profiler subscribes
 * (the backend then times its work with CUDA events, tt_cuda.cu). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cupti.h>

#include "tt_cuda_host.h"

#define TTC_EXT_KIND CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0
#define TTC_EXT_ID 0x7474637564610001ull           /* "ttcuda" + 1 */
#define BUF_BYTES ((size_t)1 << 20)

/* kernels; our tags; the API records the tags are written in front of */
static const CUpti_ActivityKind kinds[] = { CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION,
                                            CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_ACTIVITY_KIND_DRIVER };
#define NKINDS (sizeof kinds / sizeof kinds[0])

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static ttc_timing agg;
static int owned;

static void CUPTIAPI buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records)
{
    *buffer = aligned_alloc(8, BUF_BYTES);
    *size = *buffer ? BUF_BYTES : 0;
    *max_records = 0;
}

static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t *buffer, size_t size, size_t valid)
{
    (void)ctx; (void)stream; (void)size;
    CUpti_Activity *rec = NULL;
    pthread_mutex_lock(&mu);
    while (owned && valid && cuptiActivityGetNextRecord(buffer, valid, &rec) == CUPTI_SUCCESS) {
        if (rec->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL || rec->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
            const CUpti_ActivityKernel10 *k = (const CUpti_ActivityKernel10 *)rec;
            if (k->start || k->end) ttc_timing_add_kernel(&agg, k->start, k->end, k->correlationId);
        } else if (rec->kind == CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION) {
            const CUpti_ActivityExternalCorrelation *x = (const CUpti_ActivityExternalCorrelation *)rec;
            if (x->externalKind == TTC_EXT_KIND && x->externalId == TTC_EXT_ID) ttc_timing_add_ours(&agg, x->correlationId);
        }
    }
    pthread_mutex_unlock(&mu);
    free(buffer);
}

static void CUPTIAPI noop_callback(void *data, CUpti_CallbackDomain domain, CUpti_CallbackId id, const void *info)
{
    (void)data; (void)domain; (void)id; (void)info;
}

static const char *cupti_msg(CUptiResult r)
{
    const char *s = NULL;
    if (cuptiGetResultString(r, &s) != CUPTI_SUCCESS || !s) s = "unknown CUPTI error";
    return s;
}

int ttc_cupti_start(char *err, size_t errlen)
{
    pthread_mutex_lock(&mu);
    if (owned) {
        pthread_mutex_unlock(&mu);
        if (err && errlen) snprintf(err, errlen, "CUPTI timing: another backend of this process owns it");
        return -1;
    }
    /* A profiler already using CUPTI (torch.profiler's Kineto, Nsight) holds a callback subscriber;
     * registering activity callbacks now would steal its buffers. Probe with a subscription of our own,
     * released at once so that a profiler started later can still subscribe. */
    CUpti_SubscriberHandle sub;
    CUptiResult r = cuptiSubscribe(&sub, noop_callback, NULL);
    if (r == CUPTI_SUCCESS) {
        cuptiUnsubscribe(sub);
    } else {
        pthread_mutex_unlock(&mu);
        if (err && errlen)
            snprintf(err, errlen, "CUPTI is in use by another profiler (%s)", cupti_msg(r));
        return -1;
    }
    r = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed);
    for (size_t k = 0; r == CUPTI_SUCCESS && k < NKINDS; k++) r = cuptiActivityEnable(kinds[k]);
    if (r != CUPTI_SUCCESS) {
        for (size_t k = 0; k < NKINDS; k++) cuptiActivityDisable(kinds[k]);
        pthread_mutex_unlock(&mu);
        if (err && errlen) snprintf(err, errlen, "CUPTI timing unavailable: %s", cupti_msg(r));
        return -1;
    }
    ttc_timing_init(&agg);
    owned = 1;
    pthread_mutex_unlock(&mu);
    return 0;
}

void ttc_cupti_stop(void)
{
    pthread_mutex_lock(&mu);
    int was = owned;
    pthread_mutex_unlock(&mu);
    if (!was) return;
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);   /* calls buffer_completed: not under mu */
    for (size_t k = 0; k < NKINDS; k++) cuptiActivityDisable(kinds[k]);
    pthread_mutex_lock(&mu);
    ttc_timing_free(&agg);
    owned = 0;
    pthread_mutex_unlock(&mu);
}

void ttc_cupti_abandon(void)
{
    /* another profiler registered its callbacks over ours: leave CUPTI as it is (disabling the
     * kinds or flushing would disturb it), only stop reading it */
    pthread_mutex_lock(&mu);
    if (owned) ttc_timing_free(&agg);
    owned = 0;
    pthread_mutex_unlock(&mu);
}

void ttc_cupti_push(void)
{
    cuptiActivityPushExternalCorrelationId(TTC_EXT_KIND, TTC_EXT_ID);
}

void ttc_cupti_pop(void)
{
    uint64_t last;
    cuptiActivityPopExternalCorrelationId(TTC_EXT_KIND, &last);
}

int ttc_cupti_step(double *busy_ms, double *probe_ms, int *kernels)
{
    if (cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED) != CUPTI_SUCCESS) return -1;
    pthread_mutex_lock(&mu);
    if (!owned) { pthread_mutex_unlock(&mu); return -1; }
    ttc_timing_step(&agg, busy_ms, probe_ms, kernels);
    pthread_mutex_unlock(&mu);
    return 0;
}
