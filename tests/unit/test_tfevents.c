/* tfevents: CRC-32C and TFRecord's mask against published check values, and an event file's framing
 * read back byte by byte (tests/python/test_export.py reads whole files with TensorBoard's reader). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../collectors/tfevents.h"

static void crc32c_check_values(void **state)
{
    (void)state;
    assert_int_equal(tt_crc32c("123456789", 9), 0xE3069283u);     /* the CRC catalogue's check value */
    assert_int_equal(tt_crc32c("", 0), 0);
    unsigned char zeros[32] = { 0 };
    assert_int_equal(tt_crc32c(zeros, 32), 0x8A9136AAu);          /* RFC 3720 B.4: 32 bytes of zeros */
    uint32_t c = 0x12345678u;
    assert_int_equal(tt_tfrecord_mask(c), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void records_are_framed(void **state)
{
    (void)state;
    char dir[] = "/tmp/tt-test-tfevents-XXXXXX", err[256];
    assert_non_null(mkdtemp(dir));
    tt_tfevents *w = tt_tfevents_open(dir, 1700000000.5, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(tt_tfevents_scalar(w, 1, 1700000001.0, "loss", 0.5, err, sizeof err), 0);
    assert_int_equal(tt_tfevents_scalar(w, 1, 1700000001.0, "layer/fc1.weight/g_norm", 2.0, err, sizeof err), 0);
    assert_int_equal(tt_tfevents_scalar(w, 2, 1700000002.0, "loss", 0.25, err, sizeof err), 0);
    assert_int_equal(tt_tfevents_close(w, err, sizeof err), 0);
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512] = "";
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "events.out.tfevents.1700000000.", 31)) snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    closedir(d);
    assert_true(path[0]);
    FILE *f = fopen(path, "rb");
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* three records: the file version, step 1 (two values), step 2 — each with valid CRCs */
    int records = 0;
    for (size_t at = 0; at < n; records++) {
        assert_true(at + 12 <= n);
        uint64_t len = le(buf + at, 8);
        assert_int_equal(le(buf + at + 8, 4), tt_tfrecord_mask(tt_crc32c(buf + at, 8)));
        assert_true(at + 12 + len + 4 <= n);
        assert_int_equal(le(buf + at + 12 + len, 4), tt_tfrecord_mask(tt_crc32c(buf + at + 12, len)));
        if (records == 0) assert_non_null(memmem(buf + at + 12, len, "brain.Event:2", 13));
        if (records == 1) assert_non_null(memmem(buf + at + 12, len, "layer/fc1.weight/g_norm", 23));
        at += 12 + len + 4;
    }
    assert_int_equal(records, 3);
    unlink(path);
    rmdir(dir);
    assert_null(tt_tfevents_open("/proc/no/such", 0, err, sizeof err));
    assert_non_null(strstr(err, "/proc/no/such: cannot create the directory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_check_values),
        cmocka_unit_test(records_are_framed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
