/* recording: append-only JSON lines, one file per run, flushed at a bounded interval. Lines are
 * buffered here and handed to the kernel whole (one write of whole lines), so a killed collector leaves
 * no half line; should one appear anyway (a full disk, a crashed machine), tt_recording_repair moves it
 * to a side file before the recording is read or appended to again. */
#include "recording.h"
#include "safefile.h"
#include "../proto/protocol.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 256        /* open files kept; the least recently used is closed beyond that */
#define BUF_FLUSH (64u << 10) /* a file's buffer is written out beyond this */

typedef struct {
    char run[128];
    int fd;                  /* -1: not open */
    char *buf;               /* whole lines not yet written */
    size_t len, cap;
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

/* Writes the buffered whole lines. A failed write keeps what was not written for the next try. */
static int write_out(rec_file *f)
{
    size_t off = 0;
    while (off < f->len) {
        ssize_t n = write(f->fd, f->buf + off, f->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    memmove(f->buf, f->buf + off, f->len - off);
    f->len -= off;
    if (!f->len) f->dirty_since = 0;
    return f->len ? -1 : 0;
}

static void close_file(rec_file *f)
{
    if (f->fd > 0) { write_out(f); close(f->fd); }
    free(f->buf);
    memset(f, 0, sizeof *f);
}

static rec_file *file_for(tt_recorder *r, const char *run, char *err, size_t errlen)
{
    rec_file *lru = &r->files[0];
    for (int i = 0; i < MAX_FILES; i++) {
        rec_file *f = &r->files[i];
        if (f->fd > 0 && !strcmp(f->run, run)) return f;
        if (f->fd <= 0) { lru = f; break; }
        if (f->used < lru->used) lru = f;
    }
    close_file(lru);
    char path[700];
    snprintf(path, sizeof path, "%s/%s.jsonl", r->dir, run);
    if (tt_recording_repair(path, stderr, err, errlen) < 0) return NULL;   /* a torn tail left by a crash */
    /* the user's alone, never through a symbolic link, no child inherits it */
    char why[800];
    lru->fd = tt_safefile_fd(path, O_WRONLY | O_APPEND | O_CREAT, why, sizeof why);
    if (lru->fd == 0) {                     /* 0 marks a closed slot: move it (stdin was closed) */
        int fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
        close(0);
        lru->fd = fd;
    }
    if (lru->fd < 0) {
        lru->fd = 0;
        snprintf(err, errlen, "cannot append to recording %s", why);
        return NULL;
    }
    snprintf(lru->run, sizeof lru->run, "%s", run);
    return lru;
}

int tt_recorder_append(tt_recorder *r, const char *run, const char *msg, size_t len, char *err, size_t errlen)
{
    rec_file *f = file_for(r, run, err, errlen);
    if (!f) return -1;
    if (f->len + len + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap < f->len + len + 1) cap *= 2;
        char *nb = realloc(f->buf, cap);
        if (!nb) { snprintf(err, errlen, "recording %s/%s.jsonl: out of memory", r->dir, run); return -1; }
        f->buf = nb;
        f->cap = cap;
    }
    /* One message, one line: newlines can only be JSON whitespace in a message that passed validation. */
    for (size_t i = 0; i < len; i++) f->buf[f->len++] = msg[i] == '\n' || msg[i] == '\r' ? ' ' : msg[i];
    f->buf[f->len++] = '\n';
    double now = mono();
    f->used = now;
    if (!f->dirty_since) f->dirty_since = now;
    if (f->len >= BUF_FLUSH && write_out(f)) {
        snprintf(err, errlen, "writing %s/%s.jsonl: %s", r->dir, run, strerror(errno));
        return -1;
    }
    return 0;
}

void tt_recorder_tick(tt_recorder *r)
{
    double now = mono();
    for (int i = 0; i < MAX_FILES; i++) {
        rec_file *f = &r->files[i];
        if (f->fd > 0 && f->dirty_since && now - f->dirty_since >= r->flush_seconds) write_out(f);
    }
}

int tt_recorder_flush(tt_recorder *r)
{
    int rc = 0;
    for (int i = 0; i < MAX_FILES; i++)
        if (r->files[i].fd > 0 && r->files[i].len && write_out(&r->files[i])) rc = -1;
    return rc;
}

int tt_recording_repair(const char *path, FILE *warn, char *err, size_t errlen)
{
    char why[800];
    int fd = tt_safefile_fd(path, O_RDWR | O_NONBLOCK, why, sizeof why);   /* no link, no FIFO */
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "recording %s", why);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st)) { snprintf(err, errlen, "recording %s: %s", path, strerror(errno)); close(fd); return -1; }
    if (st.st_size == 0) { close(fd); return 0; }
    /* the tail after the last newline: read backwards in blocks */
    off_t end = st.st_size, cut = 0;
    char block[4096];
    for (off_t pos = end; pos > 0 && !cut;) {
        size_t n = pos >= (off_t)sizeof block ? sizeof block : (size_t)pos;
        pos -= (off_t)n;
        if (pread(fd, block, n, pos) != (ssize_t)n) { close(fd); snprintf(err, errlen, "reading recording %s: %s", path, strerror(errno)); return -1; }
        if (pos + (off_t)n == end && block[n - 1] == '\n') { close(fd); return 0; }   /* whole */
        for (size_t i = n; i-- > 0;)
            if (block[i] == '\n') { cut = pos + (off_t)i + 1; break; }
    }
    /* keep the torn bytes beside the recording (DIR/run.torn), then cut them off */
    char side[1100];
    size_t pl = strlen(path);
    snprintf(side, sizeof side, "%.*s.torn", (int)(pl > 6 && !strcmp(path + pl - 6, ".jsonl") ? pl - 6 : pl), path);
    int sfd = open(side, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    int ok = sfd >= 0;
    for (off_t pos = cut; ok && pos < end;) {
        size_t n = end - pos >= (off_t)sizeof block ? sizeof block : (size_t)(end - pos);
        ok = pread(fd, block, n, pos) == (ssize_t)n && write(sfd, block, n) == (ssize_t)n;
        pos += (off_t)n;
    }
    ok = ok && write(sfd, "\n", 1) == 1;
    if (sfd >= 0) close(sfd);
    if (!ok || ftruncate(fd, cut)) {
        snprintf(err, errlen, "recording %s: cannot move its torn last line to %s: %s", path, side, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    if (warn) {
        fprintf(warn, "traintop: %s: its last line was torn (the writer stopped mid-line): %lld bytes moved to %s\n",
                path, (long long)(end - cut), side);
        fflush(warn);
    }
    return 1;
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
