/* A stand-in for the NVIDIA driver's libnvidia-ml.so.1 for the tests of probes/nvml.c on machines
 * without a GPU: the dozen entry points traintop uses, with NVML's ABI, over three fixed devices whose
 * numbers are known (device i: UUID GPU-fake-<i>0000, utilisation 10 + i %, memory (i + 1) GiB of 16 GiB,
 * 100 + i W, 50 + i °C, 1000 + i MHz; device 1 reports no power, as some boards do). It is built as
 * build/test-nvml/libnvidia-ml.so.1 and found through LD_LIBRARY_PATH; it never ships. */
#include <stdio.h>
#include <string.h>

#define NDEV 3
typedef struct { int index; } device;
static device devices[NDEV] = { { 0 }, { 1 }, { 2 } };
static int initialised;

typedef struct { unsigned gpu, memory; } utilization;
typedef struct { unsigned long long total, free, used; } memory;

enum { OK = 0, UNINITIALIZED = 1, INVALID_ARGUMENT = 2, NOT_SUPPORTED = 3, NOT_FOUND = 6 };

int nvmlInit_v2(void) { initialised++; return OK; }
int nvmlShutdown(void) { initialised--; return OK; }
int nvmlDeviceGetCount_v2(unsigned *n) { if (!initialised) return UNINITIALIZED; *n = NDEV; return OK; }

int nvmlDeviceGetHandleByIndex_v2(unsigned i, device **d)
{
    if (!initialised) return UNINITIALIZED;
    if (i >= NDEV) return INVALID_ARGUMENT;
    *d = &devices[i];
    return OK;
}

int nvmlDeviceGetUUID(device *d, char *out, unsigned len)
{
    snprintf(out, len, "GPU-fake-%d0000-aaaa", d->index);
    return OK;
}

int nvmlDeviceGetHandleByUUID(const char *uuid, device **d)
{
    for (int i = 0; i < NDEV; i++) {
        char u[64];
        nvmlDeviceGetUUID(&devices[i], u, sizeof u);
        if (!strcmp(u, uuid)) { *d = &devices[i]; return OK; }
    }
    return NOT_FOUND;
}

int nvmlDeviceGetUtilizationRates(device *d, utilization *u) { u->gpu = 10 + (unsigned)d->index; u->memory = 5; return OK; }

int nvmlDeviceGetMemoryInfo(device *d, memory *m)
{
    m->total = 16ull << 30;
    m->used = (unsigned long long)(d->index + 1) << 30;
    m->free = m->total - m->used;
    return OK;
}

int nvmlDeviceGetPowerUsage(device *d, unsigned *mw) { if (d->index == 1) return NOT_SUPPORTED; *mw = 1000u * (100u + (unsigned)d->index) + 500u; return OK; }
int nvmlDeviceGetTemperature(device *d, int sensor, unsigned *c) { if (sensor != 0) return INVALID_ARGUMENT; *c = 50u + (unsigned)d->index; return OK; }
int nvmlDeviceGetClockInfo(device *d, int clock, unsigned *mhz) { if (clock != 1) return INVALID_ARGUMENT; *mhz = 1000u + (unsigned)d->index; return OK; }
