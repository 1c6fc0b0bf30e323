/* sysmetrics: /proc readings against the kernel's own accounting (getrusage, sysinfo), the sampler's
 * hand-over to the training thread, and the probe publishing a sample as scalars at its next step.
 * NVML: without a driver it is skipped cleanly; with one, every visible GPU reads plausible values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "traintop/probe.h"
#include "../../probes/sysmetrics.h"
#include "../../collectors/collector.h"

static double get(const tt_sys_sample *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->name[i], name)) return s->value[i];
    fail_msg("no %s in the sample", name);
    return NAN;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double rusage_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static void proc_matches_the_kernel(void **state)
{
    (void)state;
    tt_sys_cpu_mark mark = { 0 };
    tt_sys_sample a = { 0 }, b = { 0 };
    assert_int_equal(tt_sys_read_proc(&mark, &a), 0);
    assert_int_equal(a.n, 4);
    double t0 = mono(), c0 = rusage_cpu();
    /* 64 MB touched, and 0.3 s of CPU burnt: both must show */
    size_t big = 64u << 20;
    volatile char *m = malloc(big);
    assert_non_null((void *)m);
    for (size_t i = 0; i < big; i += 4096) m[i] = 1;
    volatile double x = 0;
    while (rusage_cpu() - c0 < 0.3) for (int i = 0; i < 100000; i++) x += i * 1e-9;
    assert_int_equal(tt_sys_read_proc(&mark, &b), 0);
    double wall = mono() - t0, cpu = rusage_cpu() - c0;
    /* cpu% × wall is the CPU time the kernel counted, to its 10 ms ticks (plus what ran between readings) */
    assert_true(fabs(get(&b, "sys_cpu_percent") / 100 * wall - cpu) < 0.05);
    assert_true(get(&b, "sys_rss_bytes") - get(&a, "sys_rss_bytes") > 60e6);
    struct sysinfo si;
    sysinfo(&si);
    double total = (double)si.totalram * si.mem_unit;
    assert_true(fabs(get(&b, "sys_host_mem_total_bytes") - total) < 4096 * 16);
    assert_true(get(&b, "sys_host_mem_used_bytes") > get(&b, "sys_rss_bytes") && get(&b, "sys_host_mem_used_bytes") < total);
    free((void *)m);
    /* the first reading of a fresh mark: the average since the process started, so a number */
    tt_sys_cpu_mark fresh = { 0 };
    tt_sys_sample c = { 0 };
    tt_sys_read_proc(&fresh, &c);
    assert_true(get(&c, "sys_cpu_percent") > 0 && get(&c, "sys_cpu_percent") < 100.0 * sysconf(_SC_NPROCESSORS_ONLN) + 1);
}

static void sampler_hands_over_once_and_stops_at_once(void **state)
{
    (void)state;
    char err[256];
    assert_null(tt_sysmetrics_start(0, NULL, err, sizeof err));
    assert_non_null(strstr(err, "expected a positive number of seconds"));
    /* a long interval: one sample at once, then none — and stop must not wait for the interval */
    tt_sysmetrics *s = tt_sysmetrics_start(3600, NULL, err, sizeof err);
    assert_non_null(s);
    tt_sys_sample x;
    double t0 = mono();
    while (!tt_sysmetrics_take(s, &x)) { assert_true(mono() - t0 < 30); usleep(1000); }
    assert_true(x.n >= 4 && get(&x, "sys_rss_bytes") > 0);
    assert_int_equal(tt_sysmetrics_take(s, &x), 0);
    if (tt_sysmetrics_gpus(s) == 0) print_message("      (no NVML here: GPUs skipped)\n");
    t0 = mono();
    tt_sysmetrics_stop(s);
    assert_true(mono() - t0 < 30);
}

static void nvml_skips_or_reads(void **state)
{
    (void)state;
    char err[256];
    tt_nvml *n = tt_nvml_open(NULL, err, sizeof err);
    if (!n) {
        assert_true(strstr(err, "NVML") != NULL);      /* one line that says why */
        print_message("      (skipped: %s)\n", err);
        return;
    }
    for (int i = 0; i < tt_nvml_count(n); i++) {
        tt_nvml_reading r;
        tt_nvml_read(n, i, &r);
        assert_true(r.mem_total_bytes > 1e8 && r.mem_used_bytes >= 0 && r.mem_used_bytes <= r.mem_total_bytes);
        assert_true(r.util_percent >= 0 && r.util_percent <= 100);
        assert_true(isnan(r.temp_celsius) || (r.temp_celsius > 0 && r.temp_celsius < 120));
    }
    tt_nvml_close(n);
    assert_null(tt_nvml_open("0,x", err, sizeof err));
    assert_non_null(strstr(err, "expected visible GPU numbers"));
}

static void probe_publishes_the_sample(void **state)
{
    (void)state;
    char ep[128], err[256];
    snprintf(ep, sizeof ep, "ipc:///tmp/tt-test-sys-%d.sock", (int)getpid());
    tt_collector_opts co = { .endpoint = ep, .quiet = 1 };
    tt_collector *c = tt_collector_open(&co, err, sizeof err);
    assert_non_null(c);
    tt_probe_opts o = { .run = "r-sys", .endpoint = ep };
    tt_probe *p = tt_probe_open(&o, sizeof o, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(tt_probe_system_metrics(p, -1, "", err, sizeof err), 0);   /* default interval, no GPUs */
    assert_int_equal(tt_probe_system_metrics(NULL, 1, NULL, err, sizeof err), -1);
    tt_run *r = NULL;
    double t0 = mono();
    int64_t step = 0;
    /* steps until one carried the sample (the sampler's first comes at once, on its own thread) */
    while (mono() - t0 < 30 && (!(r = tt_store_find(tt_collector_store(c), "r-sys", 0)) || !tt_run_scalar(r, "sys_rss_bytes"))) {
        tt_probe_step(p, ++step);
        tt_probe_should_stop(p, NULL, 0);
        tt_collector_wait(c, 10);
    }
    assert_non_null(r);
    const tt_named_series *rss = tt_run_scalar(r, "sys_rss_bytes");
    assert_non_null(rss);
    assert_true(rss->last > 1e6);
    assert_non_null(tt_run_scalar(r, "sys_cpu_percent"));
    assert_non_null(tt_run_scalar(r, "sys_host_mem_total_bytes"));
    assert_null(tt_run_scalar(r, "gpu0_util_percent"));
    tt_probe_close(p, NULL, 0);
    tt_collector_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(proc_matches_the_kernel),
        cmocka_unit_test(sampler_hands_over_once_and_stops_at_once),
        cmocka_unit_test(nvml_skips_or_reads),
        cmocka_unit_test(probe_publishes_the_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
