/* nvml: the dozen NVML entry points used, declared here with NVML's own ABI (nvml.h, stable since
 * NVML 10): handles are opaque pointers, results an int where 0 is success. */
#include "nvml.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *nvml_device;
typedef struct { unsigned gpu, memory; } nvml_utilization;
typedef struct { unsigned long long total, free, used; } nvml_memory;

struct tt_nvml {
    void *lib;
    int (*shutdown)(void);
    int (*utilization)(nvml_device, nvml_utilization *);
    int (*memory)(nvml_device, nvml_memory *);
    int (*power)(nvml_device, unsigned *);                 /* milliwatts */
    int (*temperature)(nvml_device, int, unsigned *);      /* sensor 0: the GPU die */
    int (*clock)(nvml_device, int, unsigned *);            /* clock 1: SM, MHz */
    nvml_device dev[TT_NVML_MAX_GPUS];
    int ordinal[TT_NVML_MAX_GPUS];
    int n;
};

/* The NVML device behind visible ordinal k. */
static int visible_device(tt_nvml *n, int k, unsigned count, nvml_device *out, char *err, size_t errlen)
{
    int (*by_index)(unsigned, nvml_device *) = (int (*)(unsigned, nvml_device *))dlsym(n->lib, "nvmlDeviceGetHandleByIndex_v2");
    int (*by_uuid)(const char *, nvml_device *) = (int (*)(const char *, nvml_device *))dlsym(n->lib, "nvmlDeviceGetHandleByUUID");
    const char *vis = getenv("CUDA_VISIBLE_DEVICES");
    if (!by_index) { snprintf(err, errlen, "NVML: nvmlDeviceGetHandleByIndex_v2 missing"); return -1; }
    if (!vis) {
        if ((unsigned)k >= count) { snprintf(err, errlen, "GPU %d: NVML sees %u GPUs", k, count); return -1; }
        return by_index((unsigned)k, out) ? (snprintf(err, errlen, "GPU %d: NVML has no handle for it", k), -1) : 0;
    }
    const char *p = vis;
    for (int i = 0; i < k && p; i++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
    if (!p || !*p || *p == ',') { snprintf(err, errlen, "GPU %d: CUDA_VISIBLE_DEVICES='%s' makes fewer visible", k, vis); return -1; }
    char entry[96];
    snprintf(entry, sizeof entry, "%.*s", (int)strcspn(p, ","), p);
    char *end;
    long idx = strtol(entry, &end, 10);
    if (end != entry && !*end) {
        if (idx < 0 || (unsigned long)idx >= count || by_index((unsigned)idx, out)) {
            snprintf(err, errlen, "GPU %d: CUDA_VISIBLE_DEVICES entry %ld is not one of NVML's %u GPUs", k, idx, count);
            return -1;
        }
        return 0;
    }
    /* A UUID, perhaps a prefix (CUDA accepts "GPU-8932f937"): find the GPU whose UUID starts with it. */
    int (*uuid)(nvml_device, char *, unsigned) = (int (*)(nvml_device, char *, unsigned))dlsym(n->lib, "nvmlDeviceGetUUID");
    for (unsigned i = 0; uuid && i < count; i++) {
        nvml_device d;
        char u[96];
        if (!by_index(i, &d) && !uuid(d, u, sizeof u) && !strncmp(u, entry, strlen(entry))) { *out = d; return 0; }
    }
    if (by_uuid && !by_uuid(entry, out)) return 0;
    snprintf(err, errlen, "GPU %d: CUDA_VISIBLE_DEVICES entry '%s' matches no GPU NVML sees", k, entry);
    return -1;
}

tt_nvml *tt_nvml_open(const char *gpus, char *err, size_t errlen)
{
    if (gpus && !*gpus) { snprintf(err, errlen, "no GPUs asked for"); return NULL; }
    tt_nvml *n = calloc(1, sizeof *n);
    if (!n) { snprintf(err, errlen, "out of memory"); return NULL; }
    if (!(n->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL))) {
        snprintf(err, errlen, "no NVML (libnvidia-ml.so.1: no NVIDIA driver here)");
        free(n);
        return NULL;
    }
    int (*init)(void) = (int (*)(void))dlsym(n->lib, "nvmlInit_v2");
    int (*count_fn)(unsigned *) = (int (*)(unsigned *))dlsym(n->lib, "nvmlDeviceGetCount_v2");
    n->shutdown = (int (*)(void))dlsym(n->lib, "nvmlShutdown");
    *(void **)&n->utilization = dlsym(n->lib, "nvmlDeviceGetUtilizationRates");
    *(void **)&n->memory = dlsym(n->lib, "nvmlDeviceGetMemoryInfo");
    *(void **)&n->power = dlsym(n->lib, "nvmlDeviceGetPowerUsage");
    *(void **)&n->temperature = dlsym(n->lib, "nvmlDeviceGetTemperature");
    *(void **)&n->clock = dlsym(n->lib, "nvmlDeviceGetClockInfo");
    unsigned count = 0;
    if (!init || !count_fn || !n->shutdown || init()) {
        snprintf(err, errlen, "NVML did not initialise (driver not loaded?)");
        dlclose(n->lib);
        free(n);
        return NULL;
    }
    if (count_fn(&count)) count = 0;
    const char *vis = getenv("CUDA_VISIBLE_DEVICES");
    int nvis = (int)count;
    if (vis) {                                   /* entries up to the first one CUDA would reject */
        nvis = *vis ? 1 : 0;
        for (const char *p = vis; *p; p++) nvis += *p == ',';
    }
    for (const char *p = gpus; p ? *p : n->n < (nvis < 4 ? nvis : 4);) {
        int k = n->n;
        if (p) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < 0 || v > 63 || (*end && *end != ',')) { snprintf(err, errlen, "gpus '%s': expected visible GPU numbers like 0,1", gpus); goto fail; }
            k = (int)v;
            p = *end ? end + 1 : end;
        }
        if (n->n == TT_NVML_MAX_GPUS) { snprintf(err, errlen, "gpus '%s': at most %d GPUs", gpus ? gpus : "", TT_NVML_MAX_GPUS); goto fail; }
        if (visible_device(n, k, count, &n->dev[n->n], err, errlen)) goto fail;
        n->ordinal[n->n++] = k;
    }
    if (!n->n) { snprintf(err, errlen, "NVML sees no GPU visible to this process"); goto fail; }
    return n;
fail:
    tt_nvml_close(n);
    return NULL;
}

int tt_nvml_count(const tt_nvml *n) { return n ? n->n : 0; }
int tt_nvml_ordinal(const tt_nvml *n, int i) { return n->ordinal[i]; }

void tt_nvml_read(tt_nvml *n, int i, tt_nvml_reading *out)
{
    nvml_device d = n->dev[i];
    nvml_utilization u;
    nvml_memory m;
    unsigned v;
    out->util_percent = n->utilization && !n->utilization(d, &u) ? u.gpu : NAN;
    int mem_ok = n->memory && !n->memory(d, &m);
    out->mem_used_bytes = mem_ok ? (double)m.used : NAN;
    out->mem_total_bytes = mem_ok ? (double)m.total : NAN;
    out->power_watts = n->power && !n->power(d, &v) ? v / 1000.0 : NAN;
    out->temp_celsius = n->temperature && !n->temperature(d, 0, &v) ? v : NAN;
    out->sm_clock_mhz = n->clock && !n->clock(d, 1, &v) ? v : NAN;
}

void tt_nvml_close(tt_nvml *n)
{
    if (!n) return;
    n->shutdown();
    dlclose(n->lib);
    free(n);
}
