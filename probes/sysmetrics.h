/* sysmetrics: the process's CPU and memory, the host's memory (from /proc) and the GPUs' state (nvml.h),
 * sampled on a background thread every few seconds and handed to the training thread as named values.
 *
 * Lifetime: tt_sysmetrics_start → (each step) tt_sysmetrics_take → tt_sysmetrics_stop.
 * take costs one atomic load when no new sample is waiting, so the probe calls it every step. */
#ifndef TT_SYSMETRICS_H
#define TT_SYSMETRICS_H

#include <stddef.h>
#include <stdint.h>
#include "nvml.h"

#define TT_SYS_MAX_VALUES (4 + 6 * TT_NVML_MAX_GPUS)

typedef struct {
    int n;
    char name[TT_SYS_MAX_VALUES][32];
    double value[TT_SYS_MAX_VALUES];
} tt_sys_sample;

/* /proc readings; prev keeps what the CPU percentage is a difference of. */
typedef struct {
    double cpu_seconds, wall_seconds;     /* the process's user + system time; the monotonic clock */
    int have;
} tt_sys_cpu_mark;

/* Appends sys_cpu_percent (since mark, or since the process started when mark has nothing yet),
 * sys_rss_bytes, sys_host_mem_used_bytes and sys_host_mem_total_bytes to out and moves mark.
 * 0, or -1 when /proc cannot be read (what could be read is still appended). */
int tt_sys_read_proc(tt_sys_cpu_mark *mark, tt_sys_sample *out);

typedef struct tt_sysmetrics tt_sysmetrics;

/* Samples every interval_s seconds (the first sample at once). gpus as tt_nvml_open takes it; a
 * machine without NVML samples /proc alone. NULL with err when the thread cannot start. */
tt_sysmetrics *tt_sysmetrics_start(double interval_s, const char *gpus, char *err, size_t errlen);
/* 1 and the newest sample when one arrived since the last take, else 0. */
int tt_sysmetrics_take(tt_sysmetrics *s, tt_sys_sample *out);
/* How many GPUs are read (0 without NVML). */
int tt_sysmetrics_gpus(const tt_sysmetrics *s);
void tt_sysmetrics_stop(tt_sysmetrics *s);

#endif
