/* nvml: GPU utilisation, memory, power, temperature and clocks through NVML, loaded at run time with
 * dlopen — no link dependency, and a machine without the driver just has no GPUs here. */
#ifndef TT_NVML_H
#define TT_NVML_H

#include <stddef.h>

#define TT_NVML_MAX_GPUS 8

typedef struct tt_nvml tt_nvml;

/* The GPUs to read, as CUDA numbers them for this process: gpus is a comma-separated list of visible
 * ordinals ("0", "0,2"), NULL for every visible GPU (at most 4), "" for none. Visible ordinal k is
 * CUDA_VISIBLE_DEVICES' k-th entry (an index or a GPU-UUID prefix), or NVML index k when it is unset.
 * NULL with err when NVML cannot be loaded or initialised, or a GPU is not there (err says which). */
tt_nvml *tt_nvml_open(const char *gpus, char *err, size_t errlen);
int tt_nvml_count(const tt_nvml *n);
/* The visible ordinal of the i-th GPU read. */
int tt_nvml_ordinal(const tt_nvml *n, int i);

typedef struct {
    double util_percent, mem_used_bytes, mem_total_bytes, power_watts, temp_celsius, sm_clock_mhz;   /* NaN: unknown */
} tt_nvml_reading;

/* One reading of the i-th GPU: what NVML could not tell is NaN. */
void tt_nvml_read(tt_nvml *n, int i, tt_nvml_reading *out);
void tt_nvml_close(tt_nvml *n);

#endif
