/* safefile: files are created 0600 in 0700 directories, a symbolic link or anything but a regular file
 * is refused (a FIFO without blocking), descriptors are close-on-exec; the recording reader is bounded
 * by the message limit and refuses what is not a file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../collectors/safefile.h"
#include "../../collectors/recording.h"
#include "../../proto/protocol.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tt-safefile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static mode_t mode_of(const char *p)
{
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    return st.st_mode & 07777;
}

static void creates_private(void **state)
{
    (void)state;
    char d[128], p[160], err[512];
    snprintf(d, sizeof d, "%s/a/b", dir);
    assert_int_equal(tt_safefile_mkdirs(d, err, sizeof err), 0);
    assert_int_equal(mode_of(d), 0700);
    snprintf(p, sizeof p, "%s/run.jsonl", d);
    FILE *f = tt_safefile_open(p, "a", err, sizeof err);
    assert_non_null(f);
    assert_int_equal(mode_of(p), 0600);
    assert_true(fcntl(fileno(f), F_GETFD) & FD_CLOEXEC);
    fclose(f);
    chmod(p, 0644);                                  /* an older version's file: closed to others again */
    f = tt_safefile_open(p, "a+", err, sizeof err);
    assert_non_null(f);
    assert_int_equal(mode_of(p), 0600);
    fclose(f);
    assert_null(tt_safefile_open(p, "w", err, sizeof err));
    assert_non_null(strstr(err, "expected r, a or a+"));
}

static void refuses_links_and_devices(void **state)
{
    (void)state;
    char target[160], link[160], fifo[160], err[512];
    snprintf(target, sizeof target, "%s/target", dir);
    snprintf(link, sizeof link, "%s/link.jsonl", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    fclose(fopen(target, "w"));
    assert_int_equal(symlink(target, link), 0);
    assert_null(tt_safefile_open(link, "a", err, sizeof err));
    assert_non_null(strstr(err, "symbolic link"));
    assert_null(tt_safefile_open(link, "r", err, sizeof err));
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_null(tt_safefile_open(fifo, "r", err, sizeof err));      /* returns at once: nobody writes it */
    assert_non_null(strstr(err, "expected a regular file"));
    assert_null(tt_safefile_open("/dev/zero", "r", err, sizeof err));
    assert_non_null(strstr(err, "/dev/zero: expected a regular file"));
    assert_int_equal(tt_safefile_mkdirs(link, err, sizeof err), -1);  /* a link where a directory should be */
    assert_non_null(strstr(err, "expected a directory"));
}

static int count(void *ud, const char *line, size_t len)
{
    (void)line;
    (void)len;
    ++*(long *)ud;
    return 0;
}

static void recording_reader_is_bounded(void **state)
{
    (void)state;
    char p[160], err[512];
    long n = 0;
    assert_int_equal(tt_recording_read("/dev/zero", count, &n, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "expected a regular file"));
    /* one line longer than any message: refused after reading that much, not the whole file */
    snprintf(p, sizeof p, "%s/long.jsonl", dir);
    FILE *f = fopen(p, "w");
    fputs("{\"v\":1}\n", f);
    for (size_t i = 0; i < (size_t)TT_MSG_MAX_BYTES + 10; i++) fputc('x', f);
    fputs("\n{\"v\":1}\n", f);
    fclose(f);
    assert_int_equal(tt_recording_read(p, count, &n, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 2 is longer than a message may be"));
    assert_int_equal(n, 1);
    /* a line of exactly the limit is a line */
    f = fopen(p, "w");
    for (size_t i = 0; i < (size_t)TT_MSG_MAX_BYTES; i++) fputc(' ', f);
    fputs("\n", f);
    fclose(f);
    n = 0;
    assert_int_equal(tt_recording_read(p, count, &n, NULL, err, sizeof err), 1);
    assert_int_equal(n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(creates_private, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_links_and_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(recording_reader_is_bounded, setup, teardown),
    };
    return cmocka_run_group_tests_name("safefile", tests, NULL, NULL);
}
