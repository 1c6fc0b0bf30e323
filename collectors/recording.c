/* recording: append-only JSON lines, one file per run, flushed at a bounded interval. A file is only
 * ever appended to, so a crash can tear at most its last line; a restarted collector first ends a
 * torn line so the next message starts on a line of its own. */
#include "recording.h"
#include "safefile.h"
#include "../proto/protocol.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 256        /* open files kept; the least recently used is closed beyond that */

typedef struct {
    char run[128];
    FILE *f;
    double dirty_since;      /* 0 when everything is flushed */
    double used;
} rec_file;

struct tt_recorder {
    char dir[512];
    double flush_seconds;
    rec_file files[MAX_FILES];
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

tt_recorder *tt_recorder_open(const char *dir, double flush_seconds, char *err, size_t errlen)
{
    if (!dir || !*dir || strlen(dir) > 400) { snprintf(err, errlen, "recording directory '%s': expected a path of 1-400 bytes", dir ? dir : ""); return NULL; }
    char why[600];
    if (tt_safefile_mkdirs(dir, why, sizeof why)) { snprintf(err, errlen, "recording %s", why); return NULL; }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode) || access(dir, W_OK)) {
        snprintf(err, errlen, "recording directory %s: expected a writable directory", dir);
        return NULL;
    }
    tt_recorder *r = calloc(1, sizeof *r);
    if (!r) { snprintf(err, errlen, "out of memory"); return NULL; }
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    r->flush_seconds = flush_seconds > 0 ? flush_seconds : 0.2;
    return r;
}

static void close_file(rec_file *f)
{
    if (f->f) fclose(f->f);
    memset(f, 0, sizeof *f);
}

/* Opens DIR/run.jsonl for appending; ends a torn last line left by a crash. */
static FILE *open_append(const char *path, char *err, size_t errlen)
{
    FILE *f = tt_safefile_open(path, "a+", err, errlen);
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > 0 && fseek(f, -1, SEEK_END) == 0) {
        int c = fgetc(f);
        fseek(f, 0, SEEK_END);
        if (c != '\n') fputc('\n', f);
    }
    setvbuf(f, NULL, _IOFBF, 1 << 16);
    return f;
}

static rec_file *file_for(tt_recorder *r, const char *run, char *err, size_t errlen)
{
    rec_file *lru = &r->files[0];
    for (int i = 0; i < MAX_FILES; i++) {
        rec_file *f = &r->files[i];
        if (f->f && !strcmp(f->run, run)) return f;
        if (!f->f) { lru = f; break; }
        if (f->used < lru->used) lru = f;
    }
    close_file(lru);
    char path[700];
    snprintf(path, sizeof path, "%s/%s.jsonl", r->dir, run);
    char why[800];
    if (!(lru->f = open_append(path, why, sizeof why))) { snprintf(err, errlen, "cannot append to %s", why); return NULL; }
    snprintf(lru->run, sizeof lru->run, "%s", run);
    return lru;
}

int tt_recorder_append(tt_recorder *r, const char *run, const char *msg, size_t len, char *err, size_t errlen)
{
    rec_file *f = file_for(r, run, err, errlen);
    if (!f) return -1;
    /* One message, one line: newlines can only be JSON whitespace in a message that passed validation. */
    for (size_t i = 0; i < len; i++) {
        char c = msg[i] == '\n' || msg[i] == '\r' ? ' ' : msg[i];
        if (putc(c, f->f) == EOF) goto ioerr;
    }
    if (putc('\n', f->f) == EOF) goto ioerr;
    double now = mono();
    f->used = now;
    if (!f->dirty_since) f->dirty_since = now;
    return 0;
ioerr:
    snprintf(err, errlen, "writing %s/%s.jsonl: %s", r->dir, run, strerror(errno));
    return -1;
}

void tt_recorder_tick(tt_recorder *r)
{
    double now = mono();
    for (int i = 0; i < MAX_FILES; i++) {
        rec_file *f = &r->files[i];
        if (f->f && f->dirty_since && now - f->dirty_since >= r->flush_seconds) { fflush(f->f); f->dirty_since = 0; }
    }
}

void tt_recorder_flush(tt_recorder *r)
{
    for (int i = 0; i < MAX_FILES; i++)
        if (r->files[i].f) { fflush(r->files[i].f); r->files[i].dirty_since = 0; }
}

void tt_recorder_close(tt_recorder *r)
{
    if (!r) return;
    for (int i = 0; i < MAX_FILES; i++) close_file(&r->files[i]);
    free(r);
}

const char *tt_recorder_dir(const tt_recorder *r) { return r->dir; }

long tt_recording_read(const char *path, int (*fn)(void *ud, const char *line, size_t len), void *ud,
                       FILE *warn, char *err, size_t errlen)
{
    char why[800];
    FILE *f = tt_safefile_open(path, "r", why, sizeof why);
    if (!f) { snprintf(err, errlen, "cannot read recording %s", why); return -1; }
    /* one message per line, and a message is at most TT_MSG_MAX_BYTES: a longer line is no recording.
     * Read in chunks; a line that lies whole in a chunk is handed on from there, others are gathered. */
    enum { CHUNK = 1 << 16 };
    char *chunk = malloc(CHUNK), *line = NULL;         /* line: only once one spans two chunks */
    size_t ll = 0, got;
    long lines = 0, lineno = 0;
    int toolong = 0, oom = !chunk;
    while (!oom && !toolong && (got = fread(chunk, 1, CHUNK, f)) > 0) {
        for (size_t i = 0; i < got;) {
            const char *p = chunk + i, *nl = memchr(p, '\n', got - i);
            size_t take = nl ? (size_t)(nl - p) : got - i;
            if (ll + take > TT_MSG_MAX_BYTES) { toolong = 1; lineno++; break; }
            if (nl && !ll) {
                if (take) { fn(ud, p, take); lines++; }
            } else {
                if (!line && !(line = malloc(TT_MSG_MAX_BYTES))) { oom = 1; break; }
                memcpy(line + ll, p, take);
                ll += take;
                if (nl && ll) { fn(ud, line, ll); lines++; }
            }
            i += take + (nl != NULL);
            if (nl) { lineno++; ll = 0; }
        }
    }
    int bad = ferror(f), e = errno;
    fclose(f);
    free(chunk);
    free(line);
    if (oom) { snprintf(err, errlen, "reading recording %s: out of memory", path); return -1; }
    if (toolong) {
        snprintf(err, errlen, "recording %s: line %ld is longer than a message may be (%u bytes): expected JSON lines written by traintop",
                 path, lineno, TT_MSG_MAX_BYTES);
        return -1;
    }
    if (bad) { snprintf(err, errlen, "reading recording %s: %s", path, strerror(e)); return -1; }
    if (ll && warn)
        fprintf(warn, "traintop: %s: line %ld is torn (no newline at the end: the writer stopped mid-line); skipped\n", path, lineno + 1);
    return lines;
}

/* ---- merging several files: a recording and a probe's spool hold parts of one run ---- */

typedef struct {
    char *line;
    size_t len;
    char run[128];
    int rank, phase;           /* phase: 0 run_start, 1 step, 2 run_end, 3 unparsable (kept last) */
    int64_t step;
    long order;                /* file then line order: keeps sorting stable */
} merged_line;

typedef struct {
    merged_line *v;
    size_t n, cap;
    long order;
    int oom;
} merge_acc;

static int merge_collect(void *ud, const char *line, size_t len)
{
    merge_acc *a = ud;
    if (a->oom) return -1;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 1024;
        merged_line *nv = realloc(a->v, cap * sizeof *nv);
        if (!nv) { a->oom = 1; return -1; }
        a->v = nv;
        a->cap = cap;
    }
    merged_line *m = &a->v[a->n];
    memset(m, 0, sizeof *m);
    if (!(m->line = malloc(len + 1))) { a->oom = 1; return -1; }
    memcpy(m->line, line, len);
    m->line[len] = 0;
    m->len = len;
    m->order = a->order++;
    m->phase = 3;
    cJSON *j = cJSON_ParseWithLength(line, len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type"), *run = cJSON_GetObjectItemCaseSensitive(j, "run");
    const cJSON *rank = cJSON_GetObjectItemCaseSensitive(j, "rank"), *step = cJSON_GetObjectItemCaseSensitive(j, "step");
    if (cJSON_IsString(type) && cJSON_IsString(run)) {
        snprintf(m->run, sizeof m->run, "%s", run->valuestring);
        m->rank = cJSON_IsNumber(rank) ? rank->valueint : 0;
        m->step = cJSON_IsNumber(step) && fabs(step->valuedouble) < 9e18 ? (int64_t)step->valuedouble : 0;   /* the validator judges it */
        m->phase = !strcmp(type->valuestring, "run_start") ? 0 : !strcmp(type->valuestring, "step") ? 1 : 2;
    }
    cJSON_Delete(j);
    a->n++;
    return 0;
}

static int merged_cmp(const void *pa, const void *pb)
{
    const merged_line *a = pa, *b = pb;
    int c = strcmp(a->run, b->run);
    if (!c) c = (a->rank > b->rank) - (a->rank < b->rank);
    if (!c) c = (a->phase > b->phase) - (a->phase < b->phase);
    if (!c && a->phase == 1) c = (a->step > b->step) - (a->step < b->step);
    if (!c) c = (a->order > b->order) - (a->order < b->order);
    return c;
}

long tt_recording_read_merged(const char *const *paths, int npaths, int (*fn)(void *ud, const char *line, size_t len),
                              void *ud, FILE *warn, char *err, size_t errlen)
{
    merge_acc a = { 0 };
    long rc = 0;
    for (int i = 0; i < npaths && rc >= 0; i++)
        if (tt_recording_read(paths[i], merge_collect, &a, warn, err, errlen) < 0) rc = -1;
    if (rc >= 0 && a.oom) { snprintf(err, errlen, "out of memory merging %d recordings", npaths); rc = -1; }
    if (rc >= 0) {
        if (a.n) qsort(a.v, a.n, sizeof *a.v, merged_cmp);
        for (size_t i = 0; i < a.n; i++) {
            const merged_line *m = &a.v[i];
            /* the same step in two files (a spool and the recording overlap): once is enough */
            if (i && m->phase == 1 && a.v[i - 1].phase == 1 && a.v[i - 1].step == m->step &&
                a.v[i - 1].rank == m->rank && !strcmp(a.v[i - 1].run, m->run)) continue;
            fn(ud, m->line, m->len);
            rc++;
        }
    }
    for (size_t i = 0; i < a.n; i++) free(a.v[i].line);
    free(a.v);
    return rc;
}
