/* sysmetrics: /proc/self/stat (CPU times), /proc/self/statm (resident pages), /proc/meminfo (the host),
 * NVML for the GPUs; one thread that sleeps on a condition variable between samples, so stopping it
 * never waits for the interval. */
#include "sysmetrics.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void add(tt_sys_sample *s, const char *name, double v)
{
    if (s->n == TT_SYS_MAX_VALUES) return;
    snprintf(s->name[s->n], sizeof s->name[0], "%s", name);
    s->value[s->n++] = v;
}

/* utime, stime (fields 14, 15) and starttime (22) of /proc/self/stat, after the parenthesised name. */
static int proc_times(double *cpu_s, double *start_s)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st, start;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu", &ut, &st, &start) != 3)
        return -1;
    double tick = (double)sysconf(_SC_CLK_TCK);
    *cpu_s = (double)(ut + st) / tick;
    *start_s = (double)start / tick;
    return 0;
}

static double meminfo_kb(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

int tt_sys_read_proc(tt_sys_cpu_mark *mark, tt_sys_sample *out)
{
    int rc = 0;
    double cpu, start, now = mono();
    if (!proc_times(&cpu, &start)) {
        double since;
        if (mark->have) {
            since = now - mark->wall_seconds;
            add(out, "sys_cpu_percent", since > 0 ? 100.0 * (cpu - mark->cpu_seconds) / since : NAN);
        } else {                                   /* the first: the average since the process started */
            double up = NAN;
            FILE *f = fopen("/proc/uptime", "r");
            if (f) { if (fscanf(f, "%lf", &up) != 1) up = NAN; fclose(f); }
            since = up - start;
            add(out, "sys_cpu_percent", since > 0 ? 100.0 * cpu / since : NAN);
        }
        *mark = (tt_sys_cpu_mark){ cpu, now, 1 };
    } else {
        rc = -1;
    }
    unsigned long long size, resident;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%llu %llu", &size, &resident) == 2) add(out, "sys_rss_bytes", (double)resident * (double)sysconf(_SC_PAGESIZE));
    else rc = -1;
    if (f) fclose(f);
    char text[4096];
    f = fopen("/proc/meminfo", "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = 0;
    double total = meminfo_kb(text, "MemTotal:"), avail = meminfo_kb(text, "MemAvailable:");
    if (isfinite(total) && isfinite(avail)) {
        add(out, "sys_host_mem_used_bytes", (total - avail) * 1024);
        add(out, "sys_host_mem_total_bytes", total * 1024);
    } else {
        rc = -1;
    }
    return rc;
}

struct tt_sysmetrics {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    double interval;
    tt_nvml *nvml;
    tt_sys_cpu_mark mark;
    tt_sys_sample latest;      /* under mu */
    atomic_uint_fast64_t made, taken;
};

static void sample(tt_sysmetrics *s)
{
    tt_sys_sample x = { 0 };
    tt_sys_read_proc(&s->mark, &x);
    for (int i = 0; i < tt_nvml_count(s->nvml); i++) {
        tt_nvml_reading r;
        tt_nvml_read(s->nvml, i, &r);
        const struct { const char *what; double v; } g[] = {
            { "util_percent", r.util_percent }, { "mem_used_bytes", r.mem_used_bytes }, { "mem_total_bytes", r.mem_total_bytes },
            { "power_watts", r.power_watts }, { "temp_celsius", r.temp_celsius }, { "sm_clock_mhz", r.sm_clock_mhz },
        };
        for (size_t k = 0; k < sizeof g / sizeof *g; k++) {
            char name[32];
            snprintf(name, sizeof name, "gpu%d_%s", tt_nvml_ordinal(s->nvml, i), g[k].what);
            add(&x, name, g[k].v);
        }
    }
    pthread_mutex_lock(&s->mu);
    s->latest = x;
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add(&s->made, 1);
}

static void *run(void *arg)
{
    tt_sysmetrics *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pthread_mutex_unlock(&s->mu);
        sample(s);
        pthread_mutex_lock(&s->mu);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        double t = until.tv_sec + until.tv_nsec * 1e-9 + s->interval;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0) {}
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

tt_sysmetrics *tt_sysmetrics_start(double interval_s, const char *gpus, char *err, size_t errlen)
{
    if (!(interval_s > 0)) { snprintf(err, errlen, "system metrics interval %g s: expected a positive number of seconds", interval_s); return NULL; }
    tt_sysmetrics *s = calloc(1, sizeof *s);
    if (!s) { snprintf(err, errlen, "out of memory"); return NULL; }
    s->interval = interval_s;
    char why[256];
    s->nvml = tt_nvml_open(gpus, why, sizeof why);   /* none: /proc alone */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* the sampler takes no signal meant for the trainer */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s->thread, NULL, run, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        snprintf(err, errlen, "cannot start the system metrics thread: %s", strerror(rc));
        tt_nvml_close(s->nvml);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return NULL;
    }
    return s;
}

int tt_sysmetrics_take(tt_sysmetrics *s, tt_sys_sample *out)
{
    uint_fast64_t made = atomic_load(&s->made);
    if (made == atomic_load(&s->taken)) return 0;
    pthread_mutex_lock(&s->mu);
    *out = s->latest;
    pthread_mutex_unlock(&s->mu);
    atomic_store(&s->taken, made);
    return 1;
}

int tt_sysmetrics_gpus(const tt_sysmetrics *s) { return tt_nvml_count(s->nvml); }

void tt_sysmetrics_stop(tt_sysmetrics *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    tt_nvml_close(s->nvml);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
