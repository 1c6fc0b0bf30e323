/* export: each recorded line decoded with the collector's own checks (proto/decode.h), against the
 * layer table its run declared, then handed to a writer as plain points. */
#include "export.h"
#include "recording.h"
#include "tfevents.h"
#include "../proto/decode.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What one (run, rank) declared in its run_start, which its steps are decoded against. */
typedef struct {
    char run[TT_NAME_MAX];
    int rank;
    int nlayers, nstats, row_stats;
    char **layers, **stats;
    int64_t last_step;
    int64_t *last_at;          /* nlayers × nstats */
} run_view;

typedef struct {
    run_view *runs;
    int nruns;
    int (*fn)(void *ud, const tt_export_point *p);
    void *ud;
    FILE *warn;
    const char *source;        /* the file, when there is one (warnings name it) */
    long line;
    long points;
    int stopped;
} walker;

static const char *layer_name(const void *ctx, int i) { return ((const run_view *)ctx)->layers[i]; }
static const char *stat_name(const void *ctx, int k) { return ((const run_view *)ctx)->stats[k]; }
static int64_t last_at(const void *ctx, int i, int k)
{
    const run_view *v = ctx;
    return v->last_at[(size_t)i * (size_t)v->nstats + (size_t)k];
}

static void view_clear(run_view *v)
{
    for (int i = 0; i < v->nlayers; i++) free(v->layers[i]);
    for (int k = 0; k < v->nstats; k++) free(v->stats[k]);
    free(v->layers);
    free(v->stats);
    free(v->last_at);
    v->layers = v->stats = NULL;
    v->last_at = NULL;
    v->nlayers = v->nstats = 0;
}

static run_view *find(walker *w, const char *run, int rank)
{
    for (int i = 0; i < w->nruns; i++)
        if (w->runs[i].rank == rank && !strcmp(w->runs[i].run, run)) return &w->runs[i];
    return NULL;
}

/* A run_start (again, when a probe resends it): the tables are replaced, the step order kept. */
static int apply_start(walker *w, tt_msg *m, char *err, size_t errlen)
{
    tt_msg_run_start s;
    if (tt_msg_decode_run_start(m, &s, err, errlen)) return -1;
    run_view *v = find(w, m->run, m->rank);
    if (!v) {
        run_view *grown = realloc(w->runs, ((size_t)w->nruns + 1) * sizeof *grown);
        if (!grown) { snprintf(err, errlen, "out of memory"); return -1; }
        w->runs = grown;
        v = &w->runs[w->nruns++];
        memset(v, 0, sizeof *v);
        snprintf(v->run, sizeof v->run, "%s", m->run);
        v->rank = m->rank;
        v->last_step = -1;
    }
    view_clear(v);
    v->layers = calloc((size_t)s.nlayers + 1, sizeof *v->layers);
    v->stats = calloc((size_t)s.nstats + 1, sizeof *v->stats);
    v->last_at = malloc(((size_t)s.nlayers * (size_t)s.nstats + 1) * sizeof *v->last_at);
    if (!v->layers || !v->stats || !v->last_at) { view_clear(v); snprintf(err, errlen, "out of memory"); return -1; }
    for (; v->nlayers < s.nlayers; v->nlayers++)
        if (!(v->layers[v->nlayers] = strdup(s.layers[v->nlayers].name))) { view_clear(v); snprintf(err, errlen, "out of memory"); return -1; }
    for (; v->nstats < s.nstats; v->nstats++)
        if (!(v->stats[v->nstats] = strdup(s.stats[v->nstats]))) { view_clear(v); snprintf(err, errlen, "out of memory"); return -1; }
    for (size_t i = 0; i < (size_t)s.nlayers * (size_t)s.nstats; i++) v->last_at[i] = -1;
    v->row_stats = s.row_stats;
    return 0;
}

static int emit(walker *w, const run_view *v, int64_t step, double time, const char *series, double value)
{
    const tt_export_point p = { v->run, v->rank, step, time, series, value };
    w->points++;
    if (w->fn(w->ud, &p)) w->stopped = 1;
    return w->stopped;
}

static int emit_stat(walker *w, run_view *v, int64_t step, double time, int layer, int stat, double value)
{
    char series[3 * TT_NAME_MAX];
    snprintf(series, sizeof series, "layer/%s/%s", v->layers[layer], v->stats[stat]);
    v->last_at[(size_t)layer * (size_t)v->nstats + (size_t)stat] = step;
    return emit(w, v, step, time, series, value);
}

static int apply_step(walker *w, tt_msg *m, char *err, size_t errlen)
{
    run_view *v = find(w, m->run, m->rank);
    if (!v) return tt_msg_reject(m, "unknown_run", err, errlen, "step before the run's run_start");
    const tt_msg_run view = { v->nlayers, v->nstats, v->row_stats, v->last_step, v, layer_name, stat_name, last_at };
    tt_msg_step s;
    if (tt_msg_decode_step(m, &view, &s, err, errlen)) return -1;
    v->last_step = s.step;
    for (int i = 0; i < s.nscalars; i++)
        if (emit(w, v, s.step, m->time, s.scalar_name[i], s.scalar[i])) return 0;
    for (int l = 0; s.has_rows && l < v->nlayers; l++)
        for (int k = 0; k < v->row_stats; k++)
            if (emit_stat(w, v, s.step, m->time, l, k, s.rows[(size_t)l * (size_t)v->row_stats + (size_t)k])) return 0;
    for (int i = 0; i < s.nextra; i++)
        if (emit_stat(w, v, s.extra[i].step, m->time, s.extra[i].layer, s.extra[i].stat, s.extra[i].value)) return 0;
    return 0;
}

static int on_line(void *ud, const char *line, size_t len)
{
    walker *w = ud;
    w->line++;
    if (w->stopped) return 0;
    tt_msg m;
    char err[512];
    int rc = tt_msg_decode(&m, line, len, "", err, sizeof err);
    if (!rc && m.type == TT_MSG_RUN_START) rc = apply_start(w, &m, err, sizeof err);
    else if (!rc && m.type == TT_MSG_STEP) rc = apply_step(w, &m, err, sizeof err);
    if (rc && w->warn) {
        if (w->source) fprintf(w->warn, "traintop export: %s line %ld: skipped: %s\n", w->source, w->line, err);
        else fprintf(w->warn, "traintop export: skipped a message: %s\n", err);
    }
    tt_msg_free(&m);
    return 0;
}

long tt_export_walk(const char *const *paths, int npaths, int (*fn)(void *ud, const tt_export_point *p), void *ud,
                    FILE *warn, char *err, size_t errlen)
{
    walker w = { .fn = fn, .ud = ud, .warn = warn, .source = npaths == 1 ? paths[0] : NULL };
    /* One file is streamed (a recording keeps each rank's steps in order): memory stays bounded. Several
     * are merged by step, which holds their lines in memory. */
    long got = npaths == 1 ? tt_recording_read(paths[0], on_line, &w, warn, err, errlen)
                           : tt_recording_read_merged(paths, npaths, on_line, &w, warn, err, errlen);
    for (int i = 0; i < w.nruns; i++) view_clear(&w.runs[i]);
    free(w.runs);
    return got < 0 ? -1 : w.points;
}

/* ---- TensorBoard: one event file per (run, rank) ---- */

typedef struct {
    char run[TT_NAME_MAX];
    int rank;
    tt_tfevents *w;
} tb_file;

typedef struct {
    const char *dir;
    tb_file *files;
    int n;
    char *err;
    size_t errlen;
    int failed;
} tb_sink;

static int tb_point(void *ud, const tt_export_point *p)
{
    tb_sink *s = ud;
    tb_file *f = NULL;
    for (int i = 0; i < s->n && !f; i++)
        if (s->files[i].rank == p->rank && !strcmp(s->files[i].run, p->run)) f = &s->files[i];
    if (!f) {
        tb_file *grown = realloc(s->files, ((size_t)s->n + 1) * sizeof *grown);
        if (!grown) { snprintf(s->err, s->errlen, "out of memory"); return s->failed = 1; }
        s->files = grown;
        char dir[4096];
        if (p->rank) snprintf(dir, sizeof dir, "%s/%s/rank%d", s->dir, p->run, p->rank);
        else snprintf(dir, sizeof dir, "%s/%s", s->dir, p->run);
        tt_tfevents *w = tt_tfevents_open(dir, p->time, s->err, s->errlen);
        if (!w) return s->failed = 1;
        f = &s->files[s->n++];
        snprintf(f->run, sizeof f->run, "%s", p->run);
        f->rank = p->rank;
        f->w = w;
    }
    if (tt_tfevents_scalar(f->w, p->step, p->time, p->series, p->value, s->err, s->errlen)) return s->failed = 1;
    return 0;
}

/* ---- CSV: one tidy table ---- */

typedef struct {
    FILE *f;
} csv_sink;

/* A field quoted when it holds a comma, a quote or a line break (RFC 4180). */
static void csv_field(FILE *f, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_number(FILE *f, double v)
{
    if (isnan(v)) { fputs("NaN", f); return; }
    if (isinf(v)) { fputs(v > 0 ? "inf" : "-inf", f); return; }
    char b[40];
    snprintf(b, sizeof b, "%.15g", v);
    if (strtod(b, NULL) != v) snprintf(b, sizeof b, "%.17g", v);
    fputs(b, f);
}

static int csv_point(void *ud, const tt_export_point *p)
{
    csv_sink *s = ud;
    csv_field(s->f, p->run);
    fprintf(s->f, ",%d,%lld,", p->rank, (long long)p->step);
    if (p->time > 0) fprintf(s->f, "%.6f", p->time);
    fputc(',', s->f);
    csv_field(s->f, p->series);
    fputc(',', s->f);
    csv_number(s->f, p->value);
    fputc('\n', s->f);
    return ferror(s->f) != 0;
}

long tt_export(tt_export_format fmt, const char *const *paths, int npaths, const char *out_dir, FILE *warn,
               char *err, size_t errlen)
{
    if (mkdir(out_dir, 0755) && errno != EEXIST) { snprintf(err, errlen, "%s: cannot create the directory: %s", out_dir, strerror(errno)); return -1; }
    if (fmt == TT_EXPORT_CSV) {
        char path[4096];
        snprintf(path, sizeof path, "%s/traintop.csv", out_dir);
        csv_sink s = { fopen(path, "w") };
        if (!s.f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
        fputs("run,rank,step,time,series,value\n", s.f);
        long n = tt_export_walk(paths, npaths, csv_point, &s, warn, err, errlen);
        int bad = ferror(s.f);
        if (fclose(s.f) || bad) {
            if (n >= 0) snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
            return -1;
        }
        return n;
    }
    tb_sink s = { .dir = out_dir, .err = err, .errlen = errlen };
    long n = tt_export_walk(paths, npaths, tb_point, &s, warn, err, errlen);
    char cerr[512];
    for (int i = 0; i < s.n; i++)
        if (tt_tfevents_close(s.files[i].w, cerr, sizeof cerr) && !s.failed) { s.failed = 1; snprintf(err, errlen, "%s", cerr); }
    free(s.files);
    return n < 0 || s.failed ? -1 : n;
}
