/* layersel: the shared layer selection and the display order. */
#include "layersel.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runhealth.h"
#include "widgets/tui_curses.h"

void tui_layersel_init(tui_layersel *ls)
{
    memset(ls, 0, sizeof *ls);
    tui_filter_init(&ls->filter);
}

void tui_layersel_free(tui_layersel *ls)
{
    tui_buf_free(&ls->grp_n);
    tui_buf_free(&ls->seen);
    tui_buf_free(&ls->order);
    tui_buf_free(&ls->vals);
    tui_buf_free(&ls->ord_cache);
    tui_filter_free(&ls->filter);
}

typedef struct {
    const tt_run *run;
    const double *vals;
    int stat, rev;
} sort_ctx;

static int cmp_layers(const void *pa, const void *pb, void *arg)
{
    const sort_ctx *s = arg;
    int ia = *(const int *)pa, ib = *(const int *)pb;
    int c = 0;
    if (s->stat == -2) {
        c = strcmp(tui_layer_name(s->run, ia), tui_layer_name(s->run, ib));
    } else if (s->stat == -3) {                   /* problems: the worst first, then in wire order */
        c = s->vals[ia] < s->vals[ib] ? 1 : s->vals[ia] > s->vals[ib] ? -1 : 0;
    } else if (s->stat >= 0) {
        double va = s->vals[ia], vb = s->vals[ib];
        int fa = isfinite(va), fb = isfinite(vb);
        if (fa != fb) return fa - fb;             /* NaN/Inf first, whatever the direction */
        if (fa) c = va < vb ? 1 : va > vb ? -1 : 0; /* statistics: largest first */
    }
    if (s->rev) c = -c;
    return c ? c : (ia > ib) - (ia < ib);
}

int tui_layersel_sort_stat(const tui_layersel *ls, const tt_run *r)
{
    if (!ls->sort_key[0]) return -1;
    if (strcmp(ls->sort_key, "name") == 0) return -2;
    if (strcmp(ls->sort_key, "problems") == 0) return ls->health ? -3 : -1;
    int k = tui_run_stat_index(r, ls->sort_key);
    return k >= 0 ? k : -1;
}

/* The filter's pass list, rebuilt only when the run, its layers or the filter change; -1 on OOM. */
static int filtered(tui_layersel *ls, tui_model *m, const tt_run *r)
{
    int nl = tui_model_nlayers(m, r);
    if (ls->ord_run != (const void *)r || ls->ord_nlayers != nl || ls->ord_gen != ls->filter.gen) {
        int *c = tui_buf_reserve(&ls->ord_cache, (size_t)(nl > 0 ? nl : 1) * sizeof(int));
        if (!c) return -1;
        int n = 0;
        for (int i = 0; i < nl; i++) if (tui_filter_match(&ls->filter, tui_layer_name(r, i))) c[n++] = i;
        ls->ord_run = r;
        ls->ord_nlayers = nl;
        ls->ord_gen = ls->filter.gen;
        ls->ord_n = n;
    }
    return ls->ord_n;
}

void tui_layer_group(const char *name, char *out, size_t len)
{
    const char *p = name, *end = NULL;
    while ((p = strchr(p, '.'))) {          /* a numeric component ends the group */
        const char *q = p + 1;
        size_t d = strspn(q, "0123456789");
        if (d && (q[d] == '.' || q[d] == '\0')) { end = q + d; break; }
        p = q;
    }
    if (!end) end = strchr(name, '.');
    if (!end) end = name + strlen(name);
    snprintf(out, len, "%.*s", (int)(end - name), name);
}

static int fold_index(const tui_layersel *ls, const char *group)
{
    for (int i = 0; i < ls->nfolds; i++) if (strcmp(ls->folds[i], group) == 0) return i;
    return -1;
}

int tui_layersel_folded(const tui_layersel *ls, const char *group)
{
    int listed = fold_index(ls, group) >= 0;
    return ls->fold_all ? !listed : listed;
}

void tui_layersel_fold(tui_layersel *ls, const char *group, int how)
{
    int now = tui_layersel_folded(ls, group);
    int want = how < 0 ? !now : how;
    if (want == now) return;
    int i = fold_index(ls, group);
    if (i >= 0) {                            /* listed: unlist */
        memmove(ls->folds[i], ls->folds[i + 1], (size_t)(ls->nfolds - i - 1) * sizeof ls->folds[0]);
        ls->nfolds--;
    } else if (ls->nfolds < TUI_MAX_FOLDS) {
        snprintf(ls->folds[ls->nfolds++], sizeof ls->folds[0], "%s", group);
    }
}

void tui_layersel_fold_all(tui_layersel *ls, int on)
{
    ls->fold_all = on;
    ls->nfolds = 0;
}

int tui_layersel_group_size(const tui_layersel *ls, int layer)
{
    const int *g = ls->grp_n.p;
    return g && layer >= 0 && (size_t)layer < ls->grp_n.cap / sizeof(int) ? g[layer] : 0;
}

static int sev(tui_layersel *ls, tui_model *m, const tt_run *r, int layer)
{
    return ls->health ? tt_health_layer_severity(tui_health_layer(ls->health, m, r, layer)) : 0;
}

/* Folded groups: one row each — the layer with the worst problem, else the first in the current order;
 * the others go. */
static int fold_rows(tui_layersel *ls, tui_model *m, const tt_run *r, int nl, int *o, int n)
{
    int *gn = tui_buf_reserve(&ls->grp_n, (size_t)(nl > 0 ? nl : 1) * sizeof(int));
    if (gn) memset(gn, 0, (size_t)(nl > 0 ? nl : 1) * sizeof(int));
    if ((!ls->fold_all && ls->nfolds == 0) || !gn) return n;
    /* the representative of each folded group, by open addressing on the group's name hash */
    size_t cap = 1;
    while (cap < (size_t)n * 2 + 2) cap <<= 1;
    int *slot = tui_buf_reserve(&ls->seen, 2 * cap * sizeof(int)), *pos = slot + cap;   /* a group's row, and where */
    if (!slot) return n;
    for (size_t i = 0; i < cap; i++) slot[i] = -1;
    int k = 0;
    for (int i = 0; i < n; i++) {
        char g[96];
        tui_layer_group(tui_layer_name(r, o[i]), g, sizeof g);
        if (!tui_layersel_folded(ls, g)) { o[k++] = o[i]; continue; }
        size_t h = 1469598103934665603u;
        for (const char *c = g; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211u;
        size_t at = h & (cap - 1);
        int rep = -1;
        while (slot[at] >= 0) {
            char g2[96];
            tui_layer_group(tui_layer_name(r, slot[at]), g2, sizeof g2);
            if (strcmp(g, g2) == 0) { rep = slot[at]; break; }
            at = (at + 1) & (cap - 1);
        }
        if (rep >= 0) {               /* a worse problem stands for the group, in its place */
            int size = gn[rep] + 1;
            if (sev(ls, m, r, o[i]) > sev(ls, m, r, rep)) {
                gn[rep] = 0;
                o[pos[at]] = slot[at] = rep = o[i];
            }
            gn[rep] = size;
            continue;
        }
        slot[at] = o[i];
        pos[at] = k;
        gn[o[i]] = 1;
        o[k++] = o[i];
    }
    return k;
}

/* problems_only: keeps the layers with a problem among o[0..n); returns how many. */
static int sick_only(tui_layersel *ls, tui_model *m, const tt_run *r, int *o, int n)
{
    if (!ls->problems_only || !ls->health) return n;
    int k = 0;
    for (int i = 0; i < n; i++) if (tui_health_layer(ls->health, m, r, o[i])) o[k++] = o[i];
    return k;
}

int tui_layersel_count(tui_layersel *ls, tui_model *m, const tt_run *r)
{
    int n = filtered(ls, m, r);
    if (n <= 0) return 0;
    if (!ls->problems_only || !ls->health) return n;
    const tui_run_health *e = tui_health_of(ls->health, m, r);
    int k = 0;
    for (int i = 0; i < n; i++) {
        int l = ((const int *)ls->ord_cache.p)[i];
        if (l < e->nflags && e->flags[l]) k++;
    }
    return k;
}

int tui_layersel_order(tui_layersel *ls, tui_model *m, const tt_run *r, const int **order)
{
    int nl = tui_model_nlayers(m, r);
    if (filtered(ls, m, r) < 0) { *order = NULL; return 0; }
    int n = ls->ord_n;
    int *o = tui_buf_reserve(&ls->order, (size_t)(n > 0 ? n : 1) * sizeof(int));
    if (!o) { *order = NULL; return 0; }
    memcpy(o, ls->ord_cache.p, (size_t)n * sizeof(int));
    n = sick_only(ls, m, r, o, n);
    ls->nshown = ls->nfiltered = n;
    int k = tui_layersel_sort_stat(ls, r);
    if (k != -1 || ls->sort_rev) {
        double *vals = NULL;
        if (k >= 0 || k == -3) {
            vals = tui_buf_reserve(&ls->vals, (size_t)(nl > 0 ? nl : 1) * sizeof(double));
            if (!vals) { *order = o; return n; }
            for (int i = 0; i < n; i++)
                vals[o[i]] = k >= 0 ? tui_model_layer_last(m, r, o[i], k)
                                    : tt_health_layer_severity(tui_health_layer(ls->health, m, r, o[i]));
        }
        sort_ctx s = { r, vals, k, ls->sort_rev };
        qsort_r(o, (size_t)n, sizeof *o, cmp_layers, &s);
    }
    n = fold_rows(ls, m, r, nl, o, n);
    ls->nshown = n;
    *order = o;
    return n;
}

void tui_layersel_move(tui_layersel *ls, tui_model *m, const tt_run *r, int delta)
{
    if (tui_run_layers_total(r) == 0) return;
    const int *o;
    int n = tui_layersel_order(ls, m, r, &o);
    if (n == 0) return;
    int cur = -1;
    for (int i = 0; i < n; i++) if (o[i] == ls->cur) { cur = i; break; }
    long pos = (long)(cur < 0 ? 0 : cur) + delta;
    if (delta == INT_MIN || pos < 0) pos = 0;
    if (delta == INT_MAX || pos >= n) pos = n - 1;
    ls->cur = o[pos];
}

void tui_layersel_cycle_sort(tui_layersel *ls)
{
    const char *next = "problems";
    if (strcmp(ls->sort_key, "problems") == 0) {
        next = "name";
    } else if (strcmp(ls->sort_key, "name") == 0) {
        next = ls->nlcols > 0 ? ls->lcols[0] : "";
    } else if (ls->sort_key[0]) {
        next = "";
        for (int i = 0; i < ls->nlcols; i++)
            if (strcmp(ls->lcols[i], ls->sort_key) == 0) { next = i + 1 < ls->nlcols ? ls->lcols[i + 1] : ""; break; }
    }
    snprintf(ls->sort_key, sizeof ls->sort_key, "%s", next);
}

void tui_layersel_filter_begin(tui_layersel *ls)
{
    ls->input = 1;
    snprintf(ls->input_prev, sizeof ls->input_prev, "%s", ls->filter.active);
    snprintf(ls->filter.pattern, sizeof ls->filter.pattern, "%s", ls->filter.active);
    ls->filter.err[0] = '\0';
}

int tui_layersel_input_key(tui_layersel *ls, int ch)
{
    tui_filter *f = &ls->filter;
    char pat[TUI_FILTER_MAX];
    snprintf(pat, sizeof pat, "%s", f->pattern);
    size_t n = strlen(pat);
    switch (ch) {
    case '\n': case '\r': case KEY_ENTER:
        ls->input = 0;
        if (f->err[0]) {                 /* an invalid pattern is not kept: the last valid one is */
            snprintf(f->pattern, sizeof f->pattern, "%s", f->active);
            f->err[0] = '\0';
        }
        return 1;
    case 27:
        ls->input = 0;
        tui_filter_set(f, ls->input_prev);
        f->err[0] = '\0';
        return 1;
    case KEY_BACKSPACE: case 127: case 8:
        if (n == 0) {                    /* backspace on an empty line closes it */
            ls->input = 0;
            return 1;
        }
        pat[n - 1] = '\0';
        tui_filter_set(f, pat);
        return 1;
    case 21:                             /* ^U */
        tui_filter_set(f, "");
        return 1;
    default:
        if (ch >= 0x20 && ch < 0x7f) {
            if (n + 1 < sizeof pat) {
                pat[n] = (char)ch;
                pat[n + 1] = '\0';
                tui_filter_set(f, pat);
            }
            return 1;
        }
        return 0;
    }
}
