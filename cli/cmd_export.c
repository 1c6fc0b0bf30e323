/* traintop export: recordings and spools as TensorBoard event files or a tidy CSV (collectors/export.h). */
#include "cmd.h"
#include "../collectors/export.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char **v;
    int n;
} paths;

static int add(paths *p, const char *s)
{
    char **v = realloc(p->v, ((size_t)p->n + 1) * sizeof *v);
    if (!v) return -1;
    p->v = v;
    if (!(v[p->n] = strdup(s))) return -1;
    p->n++;
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A directory stands for its recordings: every *.jsonl but the alerts log. */
static int expand(paths *p, const char *arg)
{
    struct stat sb;
    if (stat(arg, &sb)) { fprintf(stderr, "traintop export: %s: %s\n", arg, strerror(errno)); return -1; }
    if (!S_ISDIR(sb.st_mode)) return add(p, arg);
    DIR *d = opendir(arg);
    if (!d) { fprintf(stderr, "traintop export: %s: %s\n", arg, strerror(errno)); return -1; }
    int first = p->n, rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 7 || strcmp(e->d_name + n - 6, ".jsonl") || !strcmp(e->d_name, "alerts.jsonl")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", arg, e->d_name);
        rc = add(p, path);
    }
    closedir(d);
    if (rc) { fprintf(stderr, "traintop export: out of memory\n"); return -1; }
    if (p->n == first) { fprintf(stderr, "traintop export: %s: expected a recording directory with <run>.jsonl files, found none\n", arg); return -1; }
    qsort(p->v + first, (size_t)(p->n - first), sizeof *p->v, by_name);
    return 0;
}

static int export_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        { "format", required_argument, 0, 'f' }, { "out", required_argument, 0, 'o' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    const char *format = NULL, *out = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f': format = optarg; break;
        case 'o': out = optarg; break;
        case 'h': cmd_usage(&cmd_export_entry, stdout); return 0;
        default: cmd_usage(&cmd_export_entry, stderr); return 2;
        }
    }
    tt_export_format fmt;
    if (!format) { fprintf(stderr, "traintop export: --format: expected tensorboard or csv\n"); return 2; }
    if (!strcmp(format, "tensorboard")) fmt = TT_EXPORT_TENSORBOARD;
    else if (!strcmp(format, "csv")) fmt = TT_EXPORT_CSV;
    else { fprintf(stderr, "traintop export: --format '%s': expected tensorboard or csv\n", format); return 2; }
    if (!out) { fprintf(stderr, "traintop export: --out DIR: expected the directory to write into\n"); return 2; }
    if (optind == argc) { fprintf(stderr, "traintop export: expected at least one recording (FILE or DIR)\n"); return 2; }
    paths p = { 0 };
    int rc = 0;
    for (int i = optind; i < argc && !rc; i++) rc = expand(&p, argv[i]);
    if (!rc) {
        char err[512];
        long n = tt_export(fmt, (const char *const *)p.v, p.n, out, stderr, err, sizeof err);
        if (n < 0) { fprintf(stderr, "traintop export: %s\n", err); rc = 1; }
        else printf("traintop export: %ld values from %d file%s into %s (%s)\n", n, p.n, p.n == 1 ? "" : "s", out, format);
    } else {
        rc = 1;
    }
    for (int i = 0; i < p.n; i++) free(p.v[i]);
    free(p.v);
    return rc;
}

const cmd_entry cmd_export_entry = {
    "export", "--format tensorboard|csv --out DIR FILE|DIR…",
    "recordings and spools as TensorBoard event files or a tidy CSV (docs/recording.md)",
    "  -f, --format F     tensorboard: DIR/<run>/events.out.tfevents.* (rank k > 0 in DIR/<run>/rank<k>/),\n"
    "                     scalars under their names, layer statistics as layer/<layer>/<stat>;\n"
    "                     csv: DIR/traintop.csv with the columns run,rank,step,time,series,value\n"
    "  -o, --out DIR      where to write (created if needed)\n"
    "  FILE|DIR           recordings and spools of the same runs are merged by step; a directory\n"
    "                     stands for its *.jsonl recordings\n",
    export_exec,
};
