/* nvml: the dlopen'ed NVML read through a stand-in driver library with known devices
 * (tests/nvml/fake_nvml.c): units, what a board cannot report (NaN), the CUDA_VISIBLE_DEVICES mapping
 * (indices, UUID prefixes), every refusal as one line, and the probe's scalars named by CUDA number.
 * The test re-executes itself with the stand-in on LD_LIBRARY_PATH (the loader reads it at start only). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../probes/nvml.h"
#include "../../probes/sysmetrics.h"

static tt_nvml *open_with(const char *visible, const char *gpus, char *err, size_t errlen)
{
    if (visible) setenv("CUDA_VISIBLE_DEVICES", visible, 1);
    else unsetenv("CUDA_VISIBLE_DEVICES");
    return tt_nvml_open(gpus, err, errlen);
}

static void reads_every_visible_gpu(void **state)
{
    (void)state;
    char err[256];
    tt_nvml *n = open_with(NULL, NULL, err, sizeof err);
    assert_non_null(n);
    assert_int_equal(tt_nvml_count(n), 3);
    for (int i = 0; i < 3; i++) {
        tt_nvml_reading r;
        tt_nvml_read(n, i, &r);
        assert_int_equal(tt_nvml_ordinal(n, i), i);
        assert_true(r.util_percent == 10 + i);
        assert_true(r.mem_used_bytes == (double)(i + 1) * (1 << 30) && r.mem_total_bytes == 16.0 * (1 << 30));
        if (i == 1) assert_true(isnan(r.power_watts));            /* not supported by that board */
        else assert_true(r.power_watts == 100 + i + 0.5);         /* milliwatts → watts */
        assert_true(r.temp_celsius == 50 + i && r.sm_clock_mhz == 1000 + i);
    }
    tt_nvml_close(n);
}

static void cuda_numbers_map_to_nvml_devices(void **state)
{
    (void)state;
    char err[256];
    tt_nvml_reading r;
    /* CUDA's device 0 is NVML's 2, device 1 is NVML's 0 */
    tt_nvml *n = open_with("2,0", NULL, err, sizeof err);
    assert_non_null(n);
    assert_int_equal(tt_nvml_count(n), 2);
    tt_nvml_read(n, 0, &r);
    assert_true(r.util_percent == 12);
    tt_nvml_read(n, 1, &r);
    assert_true(r.util_percent == 10);
    tt_nvml_close(n);
    /* a UUID prefix, as CUDA accepts; and one chosen GPU */
    n = open_with("GPU-fake-1,2", "0", err, sizeof err);
    assert_non_null(n);
    assert_int_equal(tt_nvml_count(n), 1);
    tt_nvml_read(n, 0, &r);
    assert_true(r.util_percent == 11);
    tt_nvml_close(n);
    n = open_with(NULL, "2,0", err, sizeof err);
    assert_non_null(n);
    assert_int_equal(tt_nvml_ordinal(n, 0), 2);
    assert_int_equal(tt_nvml_ordinal(n, 1), 0);
    tt_nvml_close(n);
}

static void refusals_are_one_line(void **state)
{
    (void)state;
    char err[256];
    static const struct { const char *visible, *gpus, *needle; } bad[] = {
        { NULL, "", "no GPUs asked for" },
        { NULL, "0,x", "gpus '0,x': expected visible GPU numbers like 0,1" },
        { NULL, "5", "GPU 5: NVML sees 3 GPUs" },
        { "1", "1", "GPU 1: CUDA_VISIBLE_DEVICES='1' makes fewer visible" },
        { "7", NULL, "CUDA_VISIBLE_DEVICES entry 7 is not one of NVML's 3 GPUs" },
        { "GPU-nope", NULL, "CUDA_VISIBLE_DEVICES entry 'GPU-nope' matches no GPU NVML sees" },
        { "", NULL, "NVML sees no GPU visible to this process" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_null(open_with(bad[i].visible, bad[i].gpus, err, sizeof err));
        if (!strstr(err, bad[i].needle)) fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].needle);
        assert_null(strchr(err, '\n'));
    }
}

static void sampler_names_scalars_by_cuda_number(void **state)
{
    (void)state;
    char err[256];
    setenv("CUDA_VISIBLE_DEVICES", "2,0", 1);
    tt_sysmetrics *s = tt_sysmetrics_start(3600, "1", err, sizeof err);
    assert_non_null(s);
    assert_int_equal(tt_sysmetrics_gpus(s), 1);
    tt_sys_sample x;
    for (int tries = 0; !tt_sysmetrics_take(s, &x); tries++) { assert_true(tries < 30000); usleep(1000); }
    tt_sysmetrics_stop(s);
    int found = 0;
    for (int i = 0; i < x.n; i++) {
        if (!strcmp(x.name[i], "gpu1_util_percent")) { found++; assert_true(x.value[i] == 10); }   /* CUDA 1 = NVML 0 */
        if (!strcmp(x.name[i], "gpu1_power_watts")) { found++; assert_true(x.value[i] == 100.5); }
        assert_null(strstr(x.name[i], "gpu0_"));
    }
    assert_int_equal(found, 2);
    assert_int_equal(x.n, 4 + 6);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *lp = getenv("LD_LIBRARY_PATH");
    if (!lp || !strstr(lp, "/test-nvml")) {
        char exe[4096], dir[4200];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);     /* build/tests/test_nvml */
        if (n <= 0) { perror("test_nvml: /proc/self/exe"); return 1; }
        exe[n] = 0;
        *strrchr(exe, '/') = 0;
        snprintf(dir, sizeof dir, "%s/../test-nvml", exe);
        setenv("LD_LIBRARY_PATH", dir, 1);
        execv("/proc/self/exe", argv);
        perror("test_nvml: re-exec with LD_LIBRARY_PATH");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_every_visible_gpu),
        cmocka_unit_test(cuda_numbers_map_to_nvml_devices),
        cmocka_unit_test(refusals_are_one_line),
        cmocka_unit_test(sampler_names_scalars_by_cuda_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
