/* alerts: rules are kept with one state per (run, rank, layer); an exec hook is a child process with
 * an argument vector and a deadline, never a shell. */
#include "alerts.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char run[TT_NAME_MAX];
    int rank, nlayers;
    tt_rule_state *st;         /* [0]: the run scalar; [1 + l]: layer l */
} run_states;

typedef struct {
    tt_rule rule;
    run_states *runs;
    int nruns;
} rule_slot;

typedef struct { pid_t pid; double deadline; } hook;

struct tt_alerts {
    rule_slot *v;
    int n;
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

static void free_rule(tt_rule *r)
{
    for (int i = 0; r->exec[i]; i++) free(r->exec[i]);
    r->exec[0] = NULL;
}

void tt_alerts_free(tt_alerts *a)
{
    if (!a) return;
    for (int i = 0; i < a->n; i++) {
        free_rule(&a->v[i].rule);
        for (int k = 0; k < a->v[i].nruns; k++) free(a->v[i].runs[k].st);
        free(a->v[i].runs);
    }
    free(a->v);
    free(a);
}

int tt_alerts_count(const tt_alerts *a) { return a->n; }
const tt_rule *tt_alerts_rule(const tt_alerts *a, int i) { return i >= 0 && i < a->n ? &a->v[i].rule : NULL; }

static int add_rule(tt_alerts *a, const tt_rule *r, char *err, size_t errlen)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->v[i].rule.name, r->name)) { snprintf(err, errlen, "name: '%s' is already a rule", r->name); return -1; }
    rule_slot *nv = realloc(a->v, (size_t)(a->n + 1) * sizeof *nv);
    if (!nv) { snprintf(err, errlen, "out of memory"); return -1; }
    a->v = nv;
    memset(&a->v[a->n], 0, sizeof *a->v);
    a->v[a->n++].rule = *r;
    return 0;
}

/* ---- the JSON form ---- */

static const char *const known[] = { "name", "kind", "monitor", "layer", "mode", "min_delta", "patience", "baseline",
    "start_step", "stopping_threshold", "divergence_threshold", "check_finite", "op", "threshold", "for_steps", "factor",
    "alpha", "warmup", "window", "relative", "seconds", "actions", "exec", "exec_timeout", "once", "enabled", NULL };

static int parse_op(const char *s, tt_rule_op *op)
{
    if (!strcmp(s, ">")) *op = TT_OP_GT;
    else if (!strcmp(s, ">=")) *op = TT_OP_GE;
    else if (!strcmp(s, "<")) *op = TT_OP_LT;
    else if (!strcmp(s, "<=")) *op = TT_OP_LE;
    else return -1;
    return 0;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); free_rule(r); return -1; } while (0)

static int num_field(const cJSON *o, const char *k, double lo, double hi, double *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        char *txt = cJSON_PrintUnformatted(v);
        snprintf(err, errlen, "%s: expected a number in %g..%g, got %.40s", k, lo, hi, txt ? txt : "?");
        free(txt);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

static int rule_from_json(const cJSON *o, tt_rule *r, char *err, size_t errlen)
{
    tt_rule_defaults(r);
    if (!cJSON_IsObject(o)) { snprintf(err, errlen, "expected an object"); return -1; }
    for (const cJSON *f = o->child; f; f = f->next) {
        int ok = 0;
        for (int i = 0; known[i]; i++) ok |= !strcmp(f->string, known[i]);
        if (!ok) FAIL("%.60s: unknown field (a typo would silently disable the rule)", f->string);
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name"), *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    const cJSON *mon = cJSON_GetObjectItemCaseSensitive(o, "monitor"), *layer = cJSON_GetObjectItemCaseSensitive(o, "layer");
    if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) >= TT_RULE_NAME) FAIL("name: expected a string of 1-63 characters");
    snprintf(r->name, sizeof r->name, "%s", name->valuestring);
    if (!cJSON_IsString(kind)) FAIL("kind: expected early_stop, threshold, spike, window_change or stalled");
    int k;
    for (k = 0; k < 5 && strcmp(kind->valuestring, tt_rule_kind_name((tt_rule_kind)k)); k++) {}
    if (k == 5) FAIL("kind '%.40s': expected early_stop, threshold, spike, window_change or stalled", kind->valuestring);
    r->kind = (tt_rule_kind)k;
    if (r->kind != TT_RULE_STALLED) {
        if (!cJSON_IsString(mon) || !mon->valuestring[0] || strlen(mon->valuestring) >= sizeof r->monitor) FAIL("monitor: expected a metric name");
        snprintf(r->monitor, sizeof r->monitor, "%s", mon->valuestring);
    } else {
        snprintf(r->monitor, sizeof r->monitor, "stalled");
    }
    if (layer && (!cJSON_IsString(layer) || strlen(layer->valuestring) >= sizeof r->layer)) FAIL("layer: expected \"*\", a layer name or a pattern");
    if (layer) snprintf(r->layer, sizeof r->layer, "%s", layer->valuestring);
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(o, "mode");
    if (mode && (!cJSON_IsString(mode) || (strcmp(mode->valuestring, "min") && strcmp(mode->valuestring, "max")))) FAIL("mode: expected \"min\" or \"max\"");
    r->mode_max = mode && !strcmp(mode->valuestring, "max");
    double d, start = 0, patience = 0, for_steps = 1, warmup = r->warmup, window = r->window;
    if (num_field(o, "min_delta", 0, 1e300, &r->min_delta, err, errlen) || num_field(o, "patience", 0, 1e9, &patience, err, errlen) ||
        num_field(o, "baseline", -1e300, 1e300, &r->baseline, err, errlen) || num_field(o, "start_step", 0, 9e15, &start, err, errlen) ||
        num_field(o, "stopping_threshold", -1e300, 1e300, &r->stopping_threshold, err, errlen) ||
        num_field(o, "divergence_threshold", -1e300, 1e300, &r->divergence_threshold, err, errlen) ||
        num_field(o, "threshold", -1e300, 1e300, &r->threshold, err, errlen) || num_field(o, "for_steps", 1, 1e9, &for_steps, err, errlen) ||
        num_field(o, "factor", 1e-300, 1e300, &r->factor, err, errlen) || num_field(o, "alpha", 1e-6, 1, &r->alpha, err, errlen) ||
        num_field(o, "warmup", 0, 1e9, &warmup, err, errlen) || num_field(o, "window", 2, TT_RULE_MAX_WINDOW, &window, err, errlen) ||
        num_field(o, "seconds", 0.001, 1e9, &r->seconds, err, errlen) || num_field(o, "exec_timeout", 0.001, 3600, &r->exec_timeout, err, errlen)) {
        free_rule(r);
        return -1;
    }
    r->patience = (int)patience;
    r->start_step = (int64_t)start;
    r->for_steps = (int)for_steps;
    r->warmup = (int)warmup;
    r->window = (int)window;
    (void)d;
    static const char *const bools[] = { "check_finite", "relative", "once", "enabled" };
    int *bool_dst[] = { &r->check_finite, &r->relative, &r->once, &r->enabled };
    for (int i = 0; i < 4; i++) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, bools[i]);
        if (b && !cJSON_IsBool(b)) FAIL("%s: expected true or false", bools[i]);
        if (b) *bool_dst[i] = cJSON_IsTrue(b);
    }
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "op");
    if (op && (!cJSON_IsString(op) || parse_op(op->valuestring, &r->op))) FAIL("op: expected \">\", \">=\", \"<\" or \"<=\"");
    if ((r->kind == TT_RULE_THRESHOLD || r->kind == TT_RULE_WINDOW_CHANGE) && (!op || !cJSON_GetObjectItemCaseSensitive(o, "threshold")))
        FAIL("op and threshold: a %s rule needs both", kind->valuestring);
    const cJSON *acts = cJSON_GetObjectItemCaseSensitive(o, "actions");
    if (acts && !cJSON_IsArray(acts)) FAIL("actions: expected an array of \"stop\", \"bell\", \"alert\"");
    for (const cJSON *x = acts ? acts->child : NULL; x; x = x->next) {
        if (cJSON_IsString(x) && !strcmp(x->valuestring, "stop")) r->actions |= TT_ACT_STOP;
        else if (cJSON_IsString(x) && !strcmp(x->valuestring, "bell")) r->actions |= TT_ACT_BELL;
        else if (cJSON_IsString(x) && !strcmp(x->valuestring, "alert")) {}
        else FAIL("actions: expected \"stop\", \"bell\" or \"alert\" entries");
    }
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "exec");
    if (ex) {
        int n = 0;
        if (!cJSON_IsArray(ex) || cJSON_GetArraySize(ex) < 1 || cJSON_GetArraySize(ex) > TT_RULE_MAX_EXEC)
            FAIL("exec: expected an argument vector [\"/path/program\", \"arg\", …] of 1-%d strings", TT_RULE_MAX_EXEC);
        for (const cJSON *x = ex->child; x; x = x->next) {
            if (!cJSON_IsString(x)) FAIL("exec[%d]: expected a string", n);
            if (!(r->exec[n++] = strdup(x->valuestring))) FAIL("out of memory");
            r->exec[n] = NULL;
        }
        if (r->exec[0][0] != '/') FAIL("exec[0] '%.60s': expected an absolute path (no shell, no PATH search)", r->exec[0]);
        r->actions |= TT_ACT_EXEC;
    }
    return 0;
}

static int defaults_wanted(const cJSON *root, const char *which)
{
    const cJSON *d = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "defaults") : NULL;
    if (!d) return 1;
    if (cJSON_IsBool(d)) return cJSON_IsTrue(d);
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(d, which);
    return !one || cJSON_IsTrue(one);
}

int tt_alerts_load_file(tt_alerts *a, const char *path, FILE *errs, int *mistakes)
{
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(errs, "traintop: rules file %s: %s\n", path, strerror(errno)); return -1; }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) { cap = (len + n + 1) * 2; char *nb = realloc(buf, cap); if (!nb) { free(buf); fclose(f); return -1; } buf = nb; }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    cJSON *root = buf ? cJSON_ParseWithLength(buf, len) : NULL;
    if (!root) {
        long at = buf && cJSON_GetErrorPtr() ? (long)(cJSON_GetErrorPtr() - buf) : 0;
        long line = 1;
        for (long i = 0; buf && i < at && i < (long)len; i++) line += buf[i] == '\n';
        fprintf(errs, "traintop: rules file %s: not valid JSON (near line %ld)\n", path, line);
        free(buf);
        return -1;
    }
    free(buf);
    const cJSON *rules = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "rules");
    if (!cJSON_IsArray(rules)) {
        fprintf(errs, "traintop: rules file %s: expected {\"rules\": [...]} or an array of rules\n", path);
        cJSON_Delete(root);
        return -1;
    }
    int added = 0, i = 0;
    for (const cJSON *o = rules->child; o; o = o->next, i++) {
        tt_rule r;
        char err[300];
        const cJSON *nm = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "name") : NULL;
        if (rule_from_json(o, &r, err, sizeof err) || add_rule(a, &r, err, sizeof err)) {
            fprintf(errs, "traintop: rules file %s: rule %d '%s': %s\n", path, i, cJSON_IsString(nm) ? nm->valuestring : "?", err);
            if (err[0] && strstr(err, "already a rule")) free_rule(&r);
            if (mistakes) (*mistakes)++;
            continue;
        }
        added++;
    }
    /* defaults: on unless "defaults": false (or {"nonfinite_loss": false, …}) */
    if (defaults_wanted(root, "nonfinite_loss") || defaults_wanted(root, "nonfinite_grad") || defaults_wanted(root, "stalled")) {
        int keep[3] = { defaults_wanted(root, "nonfinite_loss"), defaults_wanted(root, "nonfinite_grad"), defaults_wanted(root, "stalled") };
        static const char *const names[3] = { "default:nonfinite-loss", "default:nonfinite-grad", "default:stalled" };
        for (int d = 0; d < 3; d++)
            if (!keep[d])
                for (int k = 0; k < a->n; k++)
                    if (!strcmp(a->v[k].rule.name, names[d])) a->v[k].rule.enabled = 0;
    } else {
        for (int k = 0; k < a->n; k++)
            if (!strncmp(a->v[k].rule.name, "default:", 8)) a->v[k].rule.enabled = 0;
    }
    cJSON_Delete(root);
    return added;
}

void tt_alerts_add_defaults(tt_alerts *a)
{
    char err[128];
    tt_rule r;
    tt_rule_defaults(&r);
    snprintf(r.name, sizeof r.name, "default:nonfinite-loss");
    r.kind = TT_RULE_THRESHOLD;            /* NaN/Inf only: a finite loss never satisfies "> +inf" */
    snprintf(r.monitor, sizeof r.monitor, "loss");
    r.op = TT_OP_GT;
    r.threshold = INFINITY;
    add_rule(a, &r, err, sizeof err);
    tt_rule_defaults(&r);
    snprintf(r.name, sizeof r.name, "default:nonfinite-grad");
    r.kind = TT_RULE_THRESHOLD;
    snprintf(r.monitor, sizeof r.monitor, "nonfinite");
    snprintf(r.layer, sizeof r.layer, "*");
    r.op = TT_OP_GT;
    r.threshold = 0;
    add_rule(a, &r, err, sizeof err);
    tt_rule_defaults(&r);
    snprintf(r.name, sizeof r.name, "default:stalled");
    r.kind = TT_RULE_STALLED;
    snprintf(r.monitor, sizeof r.monitor, "stalled");
    r.seconds = 120;
    add_rule(a, &r, err, sizeof err);
}

/* ---- the command-line form (docs/alerts.md) ---- */

int tt_alerts_add_spec(tt_alerts *a, const char *spec, char *err, size_t errlen)
{
    tt_rule rr, *r = &rr;
    tt_rule_defaults(r);
    char buf[512];
    if (!spec || strlen(spec) >= sizeof buf) { snprintf(err, errlen, "--alert: expected a rule of at most 511 characters"); return -1; }
    snprintf(buf, sizeof buf, "%s", spec);
    /* "change<1%" and ">0.5" may be glued: space out the operators */
    char sp[1100];
    size_t o = 0;
    for (const char *p = buf; *p && o < sizeof sp - 4; p++) {
        if ((*p == '<' || *p == '>') && o && sp[o - 1] != ' ') sp[o++] = ' ';
        sp[o++] = *p;
        if ((*p == '<' || *p == '>') && p[1] != '=' && p[1] != ' ') sp[o++] = ' ';
        if (*p == '=' && o >= 2 && (sp[o - 2] == '<' || sp[o - 2] == '>') && p[1] != ' ') sp[o++] = ' ';
    }
    sp[o] = 0;
    char *save = NULL, *tok = strtok_r(sp, " \t", &save);
    if (!tok) { snprintf(err, errlen, "--alert '%s': empty", spec); return -1; }
    char *colon = strchr(tok, ':');
    if (colon && colon[1]) { *colon = 0; snprintf(r->name, sizeof r->name, "%s", tok); tok = colon + 1; }
    char *br = strchr(tok, '[');
    if (br) {
        char *end = strchr(br, ']');
        if (!end || end[1]) FAIL("--alert '%s': '%s': expected METRIC[LAYER]", spec, tok);
        *end = 0;
        snprintf(r->layer, sizeof r->layer, "%s", br + 1);
        *br = 0;
    }
    snprintf(r->monitor, sizeof r->monitor, "%s", tok);
    int have_kind = 0;
    if (!strcmp(tok, "stalled")) { r->kind = TT_RULE_STALLED; have_kind = 1; }
    while ((tok = strtok_r(NULL, " \t", &save))) {
        tt_rule_op op;
        char *eq = strchr(tok, '=');
        if (!strcmp(tok, "min") || !strcmp(tok, "max")) { r->kind = TT_RULE_EARLY_STOP; r->mode_max = tok[1] == 'a'; have_kind = 1; }
        else if (!strcmp(tok, "spike")) { r->kind = TT_RULE_SPIKE; have_kind = 1; }
        else if (!strcmp(tok, "change")) { r->kind = TT_RULE_WINDOW_CHANGE; have_kind = 1; }
        else if (!parse_op(tok, &op)) {
            char *v = strtok_r(NULL, " \t", &save), *end;
            if (!v) FAIL("--alert '%s': '%s' needs a number after it", spec, tok);
            r->op = op;
            r->threshold = strtod(v, &end);
            if (*end == '%' && !end[1]) { r->threshold /= 100; r->relative = 1; }
            else if (*end || end == v) FAIL("--alert '%s': '%s': expected a number", spec, v);
            if (!have_kind) { r->kind = TT_RULE_THRESHOLD; have_kind = 1; }
        }
        else if (!strcmp(tok, "stop")) r->actions |= TT_ACT_STOP;
        else if (!strcmp(tok, "bell")) r->actions |= TT_ACT_BELL;
        else if (!strcmp(tok, "relative")) r->relative = 1;
        else if (r->kind == TT_RULE_STALLED && tok[strlen(tok) - 1] == 's' && strtod(tok, NULL) > 0) r->seconds = strtod(tok, NULL);
        else if (eq) {
            *eq = 0;
            const char *k = tok, *v = eq + 1;
            char *end;
            double d = strtod(v, &end);
            int isnum = end != v && !*end;
            if (!strcmp(k, "exec")) {
                int n = 0;
                char *s2 = NULL;
                for (char *t = strtok_r((char *)v, ",", &s2); t && n < TT_RULE_MAX_EXEC; t = strtok_r(NULL, ",", &s2)) r->exec[n++] = strdup(t);
                r->exec[n] = NULL;
                if (!n || r->exec[0][0] != '/') FAIL("--alert '%s': exec: expected an absolute path (no shell, no PATH search)", spec);
                r->actions |= TT_ACT_EXEC;
            }
            else if (!isnum) FAIL("--alert '%s': %s: expected a number, got '%s'", spec, k, v);
            else if (!strcmp(k, "patience") && d >= 0) r->patience = (int)d;
            else if (!strcmp(k, "min_delta") && d >= 0) r->min_delta = d;
            else if (!strcmp(k, "baseline")) r->baseline = d;
            else if (!strcmp(k, "start") && d >= 0) r->start_step = (int64_t)d;
            else if (!strcmp(k, "stop_at")) r->stopping_threshold = d;
            else if (!strcmp(k, "diverge")) r->divergence_threshold = d;
            else if (!strcmp(k, "for") && d >= 1) r->for_steps = (int)d;
            else if (!strcmp(k, "factor") && d > 0) r->factor = d;
            else if (!strcmp(k, "alpha") && d > 0 && d <= 1) r->alpha = d;
            else if (!strcmp(k, "warmup") && d >= 0) r->warmup = (int)d;
            else if (!strcmp(k, "window") && d >= 2 && d <= TT_RULE_MAX_WINDOW) r->window = (int)d;
            else if (!strcmp(k, "seconds") && d > 0) r->seconds = d;
            else if (!strcmp(k, "timeout") && d > 0) r->exec_timeout = d;
            else FAIL("--alert '%s': %s=%s: unknown key or value out of range", spec, k, v);
        }
        else FAIL("--alert '%s': '%s': expected min, max, spike, change, an operator, stop, bell or KEY=VALUE", spec, tok);
    }
    if (!have_kind) FAIL("--alert '%s': expected min, max, spike, change or an operator after the metric", spec);
    if (!r->name[0]) snprintf(r->name, sizeof r->name, "%.40s", spec);
    if (add_rule(a, r, err, errlen)) { free_rule(r); return -1; }
    return 0;
}

/* ---- evaluation ---- */

static tt_rule_state *states_for(rule_slot *s, const tt_run *r)
{
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i].rank == r->rank && !strcmp(s->runs[i].run, r->name) && s->runs[i].nlayers == r->nlayers) return s->runs[i].st;
    run_states *nv = realloc(s->runs, (size_t)(s->nruns + 1) * sizeof *nv);
    if (!nv) return NULL;
    s->runs = nv;
    run_states *rs = &s->runs[s->nruns];
    snprintf(rs->run, sizeof rs->run, "%s", r->name);
    rs->rank = r->rank;
    rs->nlayers = r->nlayers;
    if (!(rs->st = malloc((size_t)(r->nlayers + 1) * sizeof *rs->st))) return NULL;
    for (int i = 0; i <= r->nlayers; i++) tt_rule_state_init(&rs->st[i]);
    s->nruns++;
    return rs->st;
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
    if (layer) snprintf(al->reason, sizeof al->reason, "%.80s: %.160s", layer, ev->reason);
    else snprintf(al->reason, sizeof al->reason, "%s", ev->reason);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    al->time = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
    al->stop = !!(rule->actions & TT_ACT_STOP);
    al->bell = !!(rule->actions & TT_ACT_BELL);
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
            const tt_named_series *sc = tt_run_scalar(r, rule->monitor);
            if (sc && sc->last_step == r->step && tt_rule_check(rule, &st[0], r->step, sc->last, &ev)) fill(&out[n++], r, rule, NULL, &ev);
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

int tt_alerts_exec(tt_alerts *a, const tt_alert *al)
{
    const tt_rule *rule = NULL;
    for (int i = 0; i < a->n; i++) if (!strcmp(a->v[i].rule.name, al->rule)) rule = &a->v[i].rule;
    if (!rule || !rule->exec[0]) return -1;
    tt_alerts_reap(a);
    if (a->nhooks == (int)(sizeof a->hooks / sizeof *a->hooks)) return -1;   /* too many still running */
    char value[64], step[32], rank[16];
    snprintf(value, sizeof value, "%.17g", al->value);
    snprintf(step, sizeof step, "%lld", (long long)al->step);
    snprintf(rank, sizeof rank, "%d", al->rank);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        /* the details travel as environment values, which no shell ever parses */
        setenv("TRAINTOP_RUN", al->run, 1);
        setenv("TRAINTOP_RANK", rank, 1);
        setenv("TRAINTOP_RULE", al->rule, 1);
        setenv("TRAINTOP_METRIC", al->metric, 1);
        setenv("TRAINTOP_LAYER", al->layer, 1);
        setenv("TRAINTOP_VALUE", value, 1);
        setenv("TRAINTOP_STEP", step, 1);
        setenv("TRAINTOP_REASON", al->reason, 1);
        setpgid(0, 0);
        execv(rule->exec[0], rule->exec);
        _exit(127);
    }
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
    cJSON_AddStringToObject(o, "reason", al->reason);
    cJSON_AddBoolToObject(o, "stop", al->stop);
    char *txt = cJSON_PrintUnformatted(o);
    if (txt) { fprintf(f, "%s\n", txt); fflush(f); }
    free(txt);
    cJSON_Delete(o);
}

tt_alerts *tt_alerts_build(const char *const *files, int nfiles, const char *const *specs, int nspecs, int defaults,
                           FILE *errs, int *errors)
{
    tt_alerts *a = tt_alerts_new();
    if (!a) return NULL;
    *errors = 0;
    if (defaults) tt_alerts_add_defaults(a);
    /* the user's standing rules, then the ones named for this collector */
    char user[600];
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) snprintf(user, sizeof user, "%s/traintop/rules.json", xdg);
    else if (home && *home) snprintf(user, sizeof user, "%s/.config/traintop/rules.json", home);
    else user[0] = 0;
    if (user[0] && access(user, R_OK) == 0 && tt_alerts_load_file(a, user, errs, errors) < 0) (*errors)++;
    for (int i = 0; i < nfiles; i++)
        if (tt_alerts_load_file(a, files[i], errs, errors) < 0) (*errors)++;
    for (int i = 0; i < nspecs; i++) {
        char err[400];
        if (tt_alerts_add_spec(a, specs[i], err, sizeof err)) { fprintf(errs, "traintop: %s\n", err); (*errors)++; }
    }
    return a;
}
