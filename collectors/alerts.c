/* alerts: rules are kept with one state per (run, rank, layer); an exec hook is a child process with
 * an argument vector, an environment of its own and a deadline, never a shell. Rules are found by name
 * through a hash index, so loading n rules is linear in n. */
#include "alerts.h"
#include "rulespec.h"
#include "suggest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char run[TT_NAME_MAX];
    int rank, nlayers;
    double first_seen;         /* tells a new incarnation of the run (another layer table) from the old */
    tt_rule_state *st;         /* [0]: the run scalar; [1 + l]: layer l */
} run_states;

typedef struct {
    tt_rule rule;
    char origin[200];          /* where it was defined, for a duplicate's message */
    run_states *runs;
    int nruns;
} rule_slot;

typedef struct { pid_t pid; double deadline; } hook;

struct tt_alerts {
    rule_slot *v;
    int n, cap;
    int *index;                /* open addressing over rule names: slot + 1, 0 empty; nindex a power of 2 ≥ 2·cap */
    size_t nindex;
    int unreadable;            /* sources that could not be read at all */
    hook hooks[32];
    int nhooks;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

tt_alerts *tt_alerts_new(void) { return calloc(1, sizeof(tt_alerts)); }

static void free_states(rule_slot *s)
{
    for (int k = 0; k < s->nruns; k++) free(s->runs[k].st);
    free(s->runs);
    s->runs = NULL;
    s->nruns = 0;
}

void tt_alerts_free(tt_alerts *a)
{
    if (!a) return;
    for (int i = 0; i < a->n; i++) {
        tt_rulespec_free(&a->v[i].rule);
        free_states(&a->v[i]);
    }
    free(a->v);
    free(a->index);
    free(a);
}

int tt_alerts_count(const tt_alerts *a) { return a->n; }
const tt_rule *tt_alerts_rule(const tt_alerts *a, int i) { return i >= 0 && i < a->n ? &a->v[i].rule : NULL; }
int tt_alerts_unreadable(const tt_alerts *a) { return a->unreadable; }

static size_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;            /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

/* The index position holding name, or the empty one where it would go. */
static size_t index_pos(const tt_alerts *a, const char *name)
{
    size_t mask = a->nindex - 1, i = name_hash(name) & mask;
    while (a->index[i] && strcmp(a->v[a->index[i] - 1].rule.name, name)) i = (i + 1) & mask;
    return i;
}

static rule_slot *slot_named(const tt_alerts *a, const char *name)
{
    if (!a->nindex) return NULL;
    int k = a->index[index_pos(a, name)];
    return k ? &a->v[k - 1] : NULL;
}

/* Room for one more rule: the array and the index grow geometrically. */
static int grow(tt_alerts *a)
{
    if (a->n < a->cap) return 0;
    int cap = a->cap ? 2 * a->cap : 16;
    size_t nindex = 4 * (size_t)cap;
    rule_slot *nv = realloc(a->v, (size_t)cap * sizeof *nv);
    if (!nv) return -1;
    a->v = nv;
    int *ni = calloc(nindex, sizeof *ni);
    if (!ni) return -1;
    free(a->index);
    a->index = ni;
    a->nindex = nindex;
    a->cap = cap;
    for (int i = 0; i < a->n; i++) a->index[index_pos(a, a->v[i].rule.name)] = i + 1;
    return 0;
}

/* Takes r (and its exec argv) on success; on failure r is still the caller's. */
static int add_rule(tt_alerts *a, const tt_rule *r, const char *origin, char *err, size_t errlen)
{
    const rule_slot *dup = slot_named(a, r->name);
    if (dup) { snprintf(err, errlen, "already used by %s (names must be unique)", dup->origin); return -1; }
    if (grow(a)) { snprintf(err, errlen, "out of memory"); return -1; }
    a->index[index_pos(a, r->name)] = a->n + 1;
    rule_slot *s = &a->v[a->n++];
    memset(s, 0, sizeof *s);
    s->rule = *r;
    snprintf(s->origin, sizeof s->origin, "%s", origin);
    return 0;
}

/* ---- rules files (one rule: rulespec.c) ---- */

static const char *const top_words[] = { "rules", "defaults", NULL };
static const char *const default_words[] = { "nonfinite_loss", "nonfinite_grad", "stalled", NULL };
static const char *const default_names[] = { "default:nonfinite-loss", "default:nonfinite-grad", "default:stalled" };

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* How a message names a rule: by its name when it has a valid one, else by its place. */
static void rule_label(char *out, size_t len, const cJSON *o, int i)
{
    const cJSON *nm = cJSON_IsObject(o) ? get(o, "name") : NULL;
    if (cJSON_IsString(nm) && nm->valuestring[0] && strlen(nm->valuestring) < TT_RULE_NAME) snprintf(out, len, "rule \"%s\"", nm->valuestring);
    else snprintf(out, len, "rules[%d]", i);
}

/* A regular file of at most TT_RULES_MAX_BYTES, whole; NULL with why (a FIFO, /dev/zero or a huge file
 * is refused before anything is read, so it can neither block nor fill the memory). */
static char *read_all(const char *path, size_t *len, char *why, size_t whylen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) { snprintf(why, whylen, "cannot read: %s", strerror(errno)); if (fd >= 0) close(fd); return NULL; }
    if (!S_ISREG(st.st_mode) || st.st_size > TT_RULES_MAX_BYTES) {
        snprintf(why, whylen, S_ISREG(st.st_mode) ? "expected a rules file of at most %d MiB" : "expected a regular file (at most %d MiB)",
                 TT_RULES_MAX_BYTES >> 20);
        close(fd);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = 0;
    ssize_t got = 1;
    while (buf && n < (size_t)st.st_size && (got = read(fd, buf + n, (size_t)st.st_size - n)) > 0) n += (size_t)got;
    if (!buf || got < 0) snprintf(why, whylen, "cannot read: %s", buf ? strerror(errno) : "out of memory");
    close(fd);
    if (!buf || got < 0) { free(buf); return NULL; }
    buf[n] = 0;                                /* a file that shrank meanwhile is read as far as it goes */
    *len = n;
    return buf;
}

static cJSON *parse_file(const char *path, FILE *errs)
{
    size_t len;
    char why[200];
    char *buf = read_all(path, &len, why, sizeof why);
    if (!buf) { fprintf(errs, "traintop: %s: %s\n", path, why); return NULL; }
    cJSON *root = cJSON_ParseWithLength(buf, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long line = 1;
        for (const char *p = buf; at && p < at && p < buf + len; p++) line += *p == '\n';
        fprintf(errs, "traintop: %s: not valid JSON (near line %ld)\n", path, line);
    }
    free(buf);
    return root;
}

/* Top-level fields besides "rules" and "defaults" are mistakes ("rule" for "rules" would drop them all). */
static int check_top(const cJSON *root, const char *path, FILE *errs)
{
    int bad = 0;
    for (const cJSON *f = cJSON_IsObject(root) ? root->child : NULL; f; f = f->next) {
        if (tt_word_index(top_words, f->string) >= 0) continue;
        char dym[120];
        tt_did_you_mean(dym, sizeof dym, f->string, top_words);
        fprintf(errs, "traintop: %s: field \"%.60s\": unknown%s\n", path, f->string, dym[0] ? dym : " (expected \"rules\" and \"defaults\")");
        bad++;
    }
    return bad;
}

/* "defaults": true/false, or {"nonfinite_loss": bool, "nonfinite_grad": bool, "stalled": bool}. Turns
 * off the defaults already in a; returns the mistakes. */
static int apply_defaults(tt_alerts *a, const cJSON *root, const char *path, FILE *errs)
{
    const cJSON *d = cJSON_IsObject(root) ? get(root, "defaults") : NULL;
    int keep[3] = { 1, 1, 1 }, bad = 0;
    if (!d) return 0;
    if (cJSON_IsBool(d)) {
        keep[0] = keep[1] = keep[2] = cJSON_IsTrue(d);
    } else if (cJSON_IsObject(d)) {
        for (const cJSON *f = d->child; f; f = f->next) {
            int k = tt_word_index(default_words, f->string);
            char dym[120] = "";
            if (k < 0) tt_did_you_mean(dym, sizeof dym, f->string, default_words);
            if (k < 0) fprintf(errs, "traintop: %s: field \"defaults\": \"%.60s\": unknown%s\n", path, f->string, dym[0] ? dym : " (expected \"nonfinite_loss\", \"nonfinite_grad\" or \"stalled\")");
            else if (!cJSON_IsBool(f)) fprintf(errs, "traintop: %s: field \"defaults\": \"%s\": expected true or false\n", path, f->string);
            else { keep[k] = cJSON_IsTrue(f); continue; }
            bad++;
        }
    } else {
        fprintf(errs, "traintop: %s: field \"defaults\": expected true, false or {\"nonfinite_loss\", \"nonfinite_grad\", \"stalled\": true or false}\n", path);
        return 1;
    }
    for (int k = 0; k < 3; k++) {
        rule_slot *s = keep[k] ? NULL : slot_named(a, default_names[k]);
        if (s) s->rule.enabled = 0;
    }
    return bad;
}

/* One rule of a file: added, or one line saying why not. 1 when added. */
static int load_rule(tt_alerts *a, const cJSON *o, int i, const char *path, FILE *errs)
{
    tt_rule r;
    char err[400], label[96], origin[200], warn[300];
    rule_label(label, sizeof label, o, i);
    snprintf(origin, sizeof origin, "rules[%d] in %.160s", i, path);
    if (tt_rulespec_json(o, &r, err, sizeof err)) {
        fprintf(errs, "traintop: %s: %s: %s\n", path, label, err);
        return 0;
    }
    if (add_rule(a, &r, origin, err, sizeof err)) {
        fprintf(errs, "traintop: %s: %s: field \"name\": %s\n", path, label, err);
        tt_rulespec_free(&r);
        return 0;
    }
    if (tt_rulespec_metric_warning(&r, warn, sizeof warn)) fprintf(errs, "traintop: %s: %s: warning: field \"monitor\": %s\n", path, label, warn);
    return 1;
}

int tt_alerts_load_file(tt_alerts *a, const char *path, FILE *errs, int *mistakes)
{
    cJSON *root = parse_file(path, errs);
    if (!root) { a->unreadable++; return -1; }
    const cJSON *rules = cJSON_IsArray(root) ? root : get(root, "rules");
    int bad = check_top(root, path, errs);
    /* a file may only turn defaults off; one with neither key says nothing the user meant */
    if (rules ? !cJSON_IsArray(rules) : (!cJSON_IsObject(root) || !get(root, "defaults"))) {
        fprintf(errs, "traintop: %s: expected {\"rules\": [...], \"defaults\": …} or an array of rules\n", path);
        cJSON_Delete(root);
        a->unreadable++;
        if (mistakes) *mistakes += bad;
        return -1;
    }
    int added = 0, i = 0;
    for (const cJSON *o = rules ? rules->child : NULL; o; o = o->next, i++) {
        int ok = load_rule(a, o, i, path, errs);
        added += ok;
        bad += !ok;
    }
    bad += apply_defaults(a, root, path, errs);
    cJSON_Delete(root);
    if (mistakes) *mistakes += bad;
    return added;
}

void tt_alerts_add_defaults(tt_alerts *a)
{
    char err[128];
    tt_rule r;
    tt_rule_defaults(&r);
    snprintf(r.name, sizeof r.name, "%s", default_names[0]);
    r.kind = TT_RULE_THRESHOLD;            /* NaN/Inf only: a finite loss never satisfies "> +inf" */
    snprintf(r.monitor, sizeof r.monitor, "loss");
    r.op = TT_OP_GT;
    r.threshold = INFINITY;
    add_rule(a, &r, "the default rules", err, sizeof err);
    tt_rule_defaults(&r);
    snprintf(r.name, sizeof r.name, "%s", default_names[1]);
    r.kind = TT_RULE_THRESHOLD;
    snprintf(r.monitor, sizeof r.monitor, "nonfinite");
    snprintf(r.layer, sizeof r.layer, "*");
    r.op = TT_OP_GT;
    r.threshold = 0;
    add_rule(a, &r, "the default rules", err, sizeof err);
    tt_rule_defaults(&r);
    snprintf(r.name, sizeof r.name, "%s", default_names[2]);
    r.kind = TT_RULE_STALLED;
    snprintf(r.monitor, sizeof r.monitor, "stalled");
    r.seconds = 120;
    add_rule(a, &r, "the default rules", err, sizeof err);
}

int tt_alerts_add_spec(tt_alerts *a, const char *spec, FILE *errs)
{
    tt_rule r;
    char err[400], origin[200], warn[300];
    if (!spec) spec = "";
    snprintf(origin, sizeof origin, "--alert '%.160s'", spec);
    if (tt_rulespec_text(spec, &r, err, sizeof err)) {
        fprintf(errs, "traintop: --alert '%s': %s\n", spec, err);
        return -1;
    }
    if (add_rule(a, &r, origin, err, sizeof err)) {
        fprintf(errs, "traintop: --alert '%s': name \"%s\": %s\n", spec, r.name, err);
        tt_rulespec_free(&r);
        return -1;
    }
    if (tt_rulespec_metric_warning(&r, warn, sizeof warn)) fprintf(errs, "traintop: --alert '%s': warning: %s\n", spec, warn);
    return 0;
}

/* ---- evaluation ---- */

/* One state set per (run, rank), made when the run is first seen and made again for a new incarnation
 * of the run (another layer table): a rule over layers that match nothing yet simply has none. */
static tt_rule_state *states_for(rule_slot *s, const tt_run *r)
{
    run_states *rs = NULL;
    for (int i = 0; i < s->nruns && !rs; i++)
        if (s->runs[i].rank == r->rank && !strcmp(s->runs[i].run, r->name)) rs = &s->runs[i];
    if (rs && rs->nlayers == r->nlayers && rs->first_seen == r->first_seen) return rs->st;
    if (!rs) {
        run_states *nv = realloc(s->runs, (size_t)(s->nruns + 1) * sizeof *nv);
        if (!nv) return NULL;
        s->runs = nv;
        rs = &s->runs[s->nruns++];
        memset(rs, 0, sizeof *rs);
        snprintf(rs->run, sizeof rs->run, "%s", r->name);
        rs->rank = r->rank;
    }
    /* a run-scalar rule needs one state, not one per layer (a state holds a 16 KiB window) */
    int n = s->rule.layer[0] ? r->nlayers + 1 : 1;
    tt_rule_state *st = realloc(rs->st, (size_t)n * sizeof *st);
    if (!st) return NULL;
    rs->st = st;
    rs->nlayers = r->nlayers;
    rs->first_seen = r->first_seen;
    for (int i = 0; i < n; i++) tt_rule_state_init(&st[i]);
    return st;
}

static void fill(tt_alert *al, const tt_run *r, const tt_rule *rule, const char *layer, const tt_rule_event *ev)
{
    memset(al, 0, sizeof *al);
    snprintf(al->run, sizeof al->run, "%s", r->name);
    al->rank = r->rank;
    snprintf(al->rule, sizeof al->rule, "%s", rule->name);
    snprintf(al->metric, sizeof al->metric, "%s", rule->monitor);
    snprintf(al->layer, sizeof al->layer, "%s", layer ? layer : "");
    al->step = ev->step;
    al->value = ev->value;
    al->best_step = rule->kind == TT_RULE_EARLY_STOP ? ev->best_step : -1;
    if (layer) snprintf(al->reason, sizeof al->reason, "%.80s: %.160s", layer, ev->reason);
    else snprintf(al->reason, sizeof al->reason, "%s", ev->reason);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    al->time = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
    al->stop = !!(rule->actions & TT_ACT_STOP);
    al->bell = !!(rule->actions & TT_ACT_BELL);
}

/* A ratio with a pole (the paper's GWA) comes with the flag <monitor>_pole at the same step. */
static int at_pole(const tt_run *r, const char *monitor)
{
    char name[160];
    snprintf(name, sizeof name, "%.120s_pole", monitor);
    const tt_named_series *p = tt_run_scalar(r, name);
    return p && p->last_step == r->step && p->last != 0;
}

int tt_alerts_on_step(tt_alerts *a, const tt_run *r, tt_alert *out, int max)
{
    int n = 0;
    tt_rule_event ev;
    for (int i = 0; i < a->n && n < max; i++) {
        rule_slot *s = &a->v[i];
        const tt_rule *rule = &s->rule;
        if (!rule->enabled || rule->kind == TT_RULE_STALLED) continue;
        tt_rule_state *st = states_for(s, r);
        if (!st) continue;
        if (!rule->layer[0]) {
            if (rule->confirm[0]) {
                const tt_named_series *cf = tt_run_scalar(r, rule->confirm);
                if (cf && cf->last_step == r->step) tt_rule_confirm_value(rule, &st[0], cf->last);
            }
            const tt_named_series *sc = tt_run_scalar(r, rule->monitor);
            if (!sc || sc->last_step != r->step) continue;
            if (at_pole(r, rule->monitor) ? tt_rule_check_pole(rule, &st[0], r->step, sc->last, &ev)
                                          : tt_rule_check(rule, &st[0], r->step, sc->last, &ev))
                fill(&out[n++], r, rule, NULL, &ev);
            continue;
        }
        int k = tt_run_stat_index(r, rule->monitor);
        if (k < 0) continue;
        /* "any layer" fires on the first layer that meets it and names it */
        for (int l = 0; l < r->nlayers && n < max; l++) {
            if (tt_series_last_step(r->layers[l].stat[k]) != r->step || !tt_rule_matches_layer(rule, r->layers[l].name)) continue;
            if (tt_rule_check(rule, &st[1 + l], r->step, r->layers[l].last[k], &ev)) {
                fill(&out[n++], r, rule, r->layers[l].name, &ev);
                if (rule->once) for (int m = 0; m <= r->nlayers; m++) st[m].fired = 1;
                break;
            }
        }
    }
    return n;
}

int tt_alerts_on_tick(tt_alerts *a, const tt_run *r, double idle, tt_alert *out, int max)
{
    int n = 0;
    tt_rule_event ev;
    for (int i = 0; i < a->n && n < max; i++) {
        rule_slot *s = &a->v[i];
        if (s->rule.kind != TT_RULE_STALLED || !s->rule.enabled) continue;
        tt_rule_state *st = states_for(s, r);
        if (st && tt_rule_tick(&s->rule, &st[0], idle, r->step, &ev)) fill(&out[n++], r, &s->rule, NULL, &ev);
    }
    return n;
}

/* ---- actions ---- */

/* The hook's whole environment: its details as data (no shell ever parses them) and a fixed PATH; nothing
 * of the collector's own (no TRAINTOP_TOKEN). Built before the child exists: a forked copy of a
 * threaded process may only call async-signal-safe functions. */
#define HOOK_PATH "PATH=/usr/local/bin:/usr/bin:/bin"

int tt_alerts_exec(tt_alerts *a, const tt_alert *al)
{
    const tt_rule *rule = NULL;
    for (int i = 0; i < a->n; i++) if (!strcmp(a->v[i].rule.name, al->rule)) rule = &a->v[i].rule;
    if (!rule || !rule->exec[0]) return -1;
    tt_alerts_reap(a);
    if (a->nhooks == (int)(sizeof a->hooks / sizeof *a->hooks)) return -1;   /* too many still running */
    char run[TT_NAME_MAX + 16], rank[32], name[TT_RULE_NAME + 16], metric[160], layer[TT_NAME_MAX + 16], value[64], step[48],
         reason[sizeof al->reason + 16];
    snprintf(run, sizeof run, "TRAINTOP_RUN=%s", al->run);
    snprintf(rank, sizeof rank, "TRAINTOP_RANK=%d", al->rank);
    snprintf(name, sizeof name, "TRAINTOP_RULE=%s", al->rule);
    snprintf(metric, sizeof metric, "TRAINTOP_METRIC=%s", al->metric);
    snprintf(layer, sizeof layer, "TRAINTOP_LAYER=%s", al->layer);
    snprintf(value, sizeof value, "TRAINTOP_VALUE=%.17g", al->value);
    snprintf(step, sizeof step, "TRAINTOP_STEP=%lld", (long long)al->step);
    snprintf(reason, sizeof reason, "TRAINTOP_REASON=%s", al->reason);
    char *const envp[] = { HOOK_PATH, run, rank, name, metric, layer, value, step, reason, NULL };

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    /* stdin from /dev/null, stdout and stderr shared with the collector's, every other descriptor closed
     * (ours are close-on-exec already: this also covers those the collector inherited from its parent) */
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);            /* its own group: the deadline kills what it started too */
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);     /* SIGPIPE and friends as a fresh process has them */
    pid_t pid;
    int rc = posix_spawn(&pid, rule->exec[0], &fa, &at, rule->exec, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc) return -1;
    a->hooks[a->nhooks++] = (hook){ pid, mono() + rule->exec_timeout };
    return (int)pid;
}

void tt_alerts_reap(tt_alerts *a)
{
    double now = mono();
    for (int i = 0; i < a->nhooks;) {
        hook *h = &a->hooks[i];
        if (waitpid(h->pid, NULL, WNOHANG) == h->pid) { *h = a->hooks[--a->nhooks]; continue; }
        if (now > h->deadline) { kill(-h->pid, SIGKILL); kill(h->pid, SIGKILL); }
        i++;
    }
}

void tt_alert_write_json(const tt_alert *al, FILE *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "time", al->time);
    cJSON_AddStringToObject(o, "run", al->run);
    cJSON_AddNumberToObject(o, "rank", al->rank);
    cJSON_AddStringToObject(o, "rule", al->rule);
    cJSON_AddStringToObject(o, "metric", al->metric);
    if (al->layer[0]) cJSON_AddStringToObject(o, "layer", al->layer);
    cJSON_AddNumberToObject(o, "step", (double)al->step);
    if (isfinite(al->value)) cJSON_AddNumberToObject(o, "value", al->value);
    else cJSON_AddStringToObject(o, "value", isnan(al->value) ? "NaN" : al->value > 0 ? "Inf" : "-Inf");
    if (al->best_step >= 0) cJSON_AddNumberToObject(o, "best_step", (double)al->best_step);
    cJSON_AddStringToObject(o, "reason", al->reason);
    cJSON_AddBoolToObject(o, "stop", al->stop);
    char *txt = cJSON_PrintUnformatted(o);
    if (txt) { fprintf(f, "%s\n", txt); fflush(f); }
    free(txt);
    cJSON_Delete(o);
}

/* ---- building and reloading ---- */

tt_alerts *tt_alerts_build(const tt_alerts_sources *src, FILE *errs, int *errors)
{
    tt_alerts *a = tt_alerts_new();
    if (!a) return NULL;
    *errors = 0;
    if (src->defaults) tt_alerts_add_defaults(a);
    /* the user's standing rules, then the ones named for this collector; a file that exists but
     * cannot be read is reported, not skipped */
    char user[600];
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) snprintf(user, sizeof user, "%s/traintop/rules.json", xdg);
    else if (home && *home) snprintf(user, sizeof user, "%s/.config/traintop/rules.json", home);
    else user[0] = 0;
    if (user[0] && access(user, F_OK) == 0 && tt_alerts_load_file(a, user, errs, errors) < 0) (*errors)++;
    for (int i = 0; i < src->nfiles; i++)
        if (tt_alerts_load_file(a, src->files[i], errs, errors) < 0) (*errors)++;
    for (int i = 0; i < src->nspecs; i++)
        if (tt_alerts_add_spec(a, src->specs[i], errs)) (*errors)++;
    return a;
}

int tt_alerts_take_state(tt_alerts *to, tt_alerts *from)
{
    int kept = 0;
    for (int i = 0; i < to->n; i++) {
        rule_slot *t = &to->v[i], *f = slot_named(from, t->rule.name);
        if (!f || !tt_rule_same_params(&t->rule, &f->rule)) continue;
        free_states(t);
        t->runs = f->runs;
        t->nruns = f->nruns;
        f->runs = NULL;
        f->nruns = 0;
        kept++;
    }
    /* hooks still running must still be reaped and killed at their deadline */
    while (from->nhooks && to->nhooks < (int)(sizeof to->hooks / sizeof *to->hooks))
        to->hooks[to->nhooks++] = from->hooks[--from->nhooks];
    return kept;
}

static int count_named_in(const tt_alerts *a, const tt_alerts *b)
{
    int n = 0;
    for (int i = 0; i < a->n; i++) n += slot_named(b, a->v[i].rule.name) != NULL;
    return n;
}

tt_alerts *tt_alerts_reload(tt_alerts *cur, const tt_alerts_sources *src, FILE *errs)
{
    int mistakes = 0, in_use = cur ? cur->n : 0;
    tt_alerts *next = tt_alerts_build(src, errs, &mistakes);
    if (!next || next->unreadable) {
        /* a half-saved or deleted file must not silently drop every rule it held */
        if (next) fprintf(errs, "traintop: rules not reloaded: %d rules file%s could not be read (above); keeping the %d rules in use, with their state\n",
                          next->unreadable, next->unreadable == 1 ? "" : "s", in_use);
        else fprintf(errs, "traintop: rules not reloaded: out of memory; keeping the %d rules in use\n", in_use);
        tt_alerts_free(next);
        return cur;
    }
    int common = cur ? count_named_in(next, cur) : 0, kept = cur ? tt_alerts_take_state(next, cur) : 0;
    fprintf(errs, "traintop: rules reloaded: %d rules, %d mistake%s; %d kept their state, %d changed, %d new, %d removed\n",
            next->n, mistakes, mistakes == 1 ? "" : "s", kept, common - kept, next->n - common, in_use - common);
    return next;
}
