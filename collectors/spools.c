/* spools: finding the spools that are ready, reading them through the caller, and removing or keeping
 * them. A probe writes its default spool as NAME.jsonl.part and renames it NAME.jsonl when it closes, so
 * a whole one is never read while written; a part whose probe died is taken once it has rested. */
#include "spools.h"
#include "recording.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PART_REST_S 60     /* a dead probe's part is taken when unchanged this long (another pid namespace
                              may share the directory, where our pid check cannot see its writer) */

typedef struct {
    tt_spool_line_fn fn;
    void *ud;
    long kept;             /* lines the caller could not merge */
    char first[512];       /* why, for the first of them */
} reading;

static int one_line(void *ud, const char *line, size_t len)
{
    reading *x = ud;
    char why[512] = "";
    if (x->fn(x->ud, line, len, why, sizeof why) == 0) return 0;
    if (!x->kept++) snprintf(x->first, sizeof x->first, "%s", why);
    return -1;
}

static void import_one(const char *path, tt_spool_line_fn fn, void (*done)(void *), void *ud, FILE *log)
{
    if (access(path, F_OK)) return;       /* listed twice (renamed from a part), and already imported */
    reading x = { .fn = fn, .ud = ud };
    char err[512];
    long n = tt_recording_read(path, one_line, &x, log, err, sizeof err);
    if (n >= 0 && !x.kept) {
        if (done) done(ud);
        if (log) fprintf(log, "traintop: imported %ld messages from the spool %s\n", n, path);
        unlink(path);
    } else {
        char kept[1100];
        snprintf(kept, sizeof kept, "%s.kept", path);
        rename(path, kept);
        if (log)
            fprintf(log, "traintop: spool %s: %ld of its messages could not be merged live (%s); kept as %s: "
                         "`traintop replay` merges it with the recording\n", path, x.kept, n < 0 ? err : x.first, kept);
    }
    if (log) fflush(log);
}

/* NAME.jsonl.part, NAME = <run>.<rank>.<pid>.<time>: its pid is gone and it has rested. */
static int abandoned_part(const char *dir, const char *name)
{
    size_t n = strlen(name);
    if (n < 12 || strcmp(name + n - 11, ".jsonl.part")) return 0;
    char base[256];
    if (n - 11 >= sizeof base) return 0;
    memcpy(base, name, n - 11);
    base[n - 11] = 0;
    char *t = strrchr(base, '.');
    if (!t) return 0;
    *t = 0;
    char *p = strrchr(base, '.');
    long pid = p ? strtol(p + 1, NULL, 10) : 0;
    if (pid <= 0 || !(kill((pid_t)pid, 0) == -1 && errno == ESRCH)) return 0;
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 && time(NULL) - st.st_mtime > PART_REST_S;
}

void tt_spools_import(const char *dir, tt_spool_line_fn fn, void (*done)(void *ud), void *ud, FILE *log)
{
    DIR *d = dir && *dir ? opendir(dir) : NULL;
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (abandoned_part(dir, e->d_name)) {
            char whole[1024];
            snprintf(whole, sizeof whole, "%.*s", (int)strlen(path) - 5, path);   /* without ".part" */
            if (rename(path, whole) == 0) import_one(whole, fn, done, ud, log);
        } else if (n >= 7 && !strcmp(e->d_name + n - 6, ".jsonl")) {
            import_one(path, fn, done, ud, log);
        }
    }
    closedir(d);
}
