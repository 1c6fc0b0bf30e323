/* rulespec: one table says, for every parameter, its rules-file field, its --alert key, its type and
 * range, and the kinds that read it — so both forms check the same things, and a parameter the kind
 * does not read is a mistake rather than silently ignored. */
#include "rulespec.h"
#include "suggest.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tt_rulespec_free(tt_rule *r)
{
    for (int i = 0; r->exec[i]; i++) free(r->exec[i]);
    r->exec[0] = NULL;
}

static int fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    /* the message quotes what the user wrote: it stays one line whatever that held */
    for (char *p = err; len && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return -1;
}

/* ---- what a rule may say: one table for the rules file's fields and the --alert keys ---- */

#define K(kind) (1u << (kind))
#define K_ES K(TT_RULE_EARLY_STOP)
#define K_TH K(TT_RULE_THRESHOLD)
#define K_SP K(TT_RULE_SPIKE)
#define K_WC K(TT_RULE_WINDOW_CHANGE)
#define K_ST K(TT_RULE_STALLED)
#define K_ALL (K_ES | K_TH | K_SP | K_WC | K_ST)
#define K_SERIES (K_ALL & ~K_ST)        /* the kinds that watch a series */
#define BIG 1e300                       /* a bound that is no bound */

typedef enum { P_STR, P_NUM, P_INT, P_INT64, P_BOOL, P_LIST } ptype;

typedef struct {
    const char *field;         /* in a rules file */
    const char *key;           /* in an --alert spec; NULL: a clause or a flag says it */
    unsigned kinds;            /* the kinds that use it: anything else is a mistake, not silently ignored */
    ptype type;
    double lo, hi;             /* numbers */
    size_t off;                /* where a number or a bool goes in tt_rule */
} param;

#define AT(m) offsetof(tt_rule, m)
static const param params[] = {
    { "name", NULL, K_ALL, P_STR, 0, 0, 0 },
    { "kind", NULL, K_ALL, P_STR, 0, 0, 0 },
    { "monitor", NULL, K_SERIES, P_STR, 0, 0, 0 },
    { "layer", NULL, K_SERIES, P_STR, 0, 0, 0 },
    { "mode", NULL, K_ES, P_STR, 0, 0, 0 },
    { "min_delta", "min_delta", K_ES, P_NUM, 0, BIG, AT(min_delta) },
    { "patience", "patience", K_ES, P_INT, 0, 1e9, AT(patience) },
    { "baseline", "baseline", K_ES, P_NUM, -BIG, BIG, AT(baseline) },
    { "start_step", "start", K_SERIES, P_INT64, 0, 9e15, AT(start_step) },
    { "stopping_threshold", "stop_at", K_ES, P_NUM, -BIG, BIG, AT(stopping_threshold) },
    { "divergence_threshold", "diverge", K_ES, P_NUM, -BIG, BIG, AT(divergence_threshold) },
    { "check_finite", NULL, K_ES | K_TH | K_SP, P_BOOL, 0, 0, AT(check_finite) },
    { "smooth", "smooth", K_ES | K_TH | K_SP, P_INT, 1, TT_RULE_MAX_SMOOTH, AT(smooth) },
    { "confirm", NULL, K_ES, P_STR, 0, 0, 0 },
    { "confirm_drop", NULL, K_ES, P_NUM, 0, 1, AT(confirm_drop) },
    { "confirm_min", NULL, K_ES, P_NUM, -BIG, BIG, AT(confirm_min) },
    { "confirm_once", NULL, K_ES, P_BOOL, 0, 0, AT(confirm_once) },
    { "centred", NULL, K_ES, P_BOOL, 0, 0, AT(centred) },
    { "stop_on_pole", NULL, K_ES | K_TH | K_SP, P_BOOL, 0, 0, AT(stop_on_pole) },
    { "op", NULL, K_TH | K_WC, P_STR, 0, 0, 0 },
    { "threshold", NULL, K_TH | K_WC, P_NUM, -BIG, BIG, AT(threshold) },
    { "for_steps", "for", K_TH, P_INT, 1, 1e9, AT(for_steps) },
    { "factor", "factor", K_SP, P_NUM, 1e-300, BIG, AT(factor) },
    { "alpha", "alpha", K_SP, P_NUM, 1e-6, 1, AT(alpha) },
    { "warmup", "warmup", K_SP, P_INT, 0, 1e9, AT(warmup) },
    { "window", "window", K_WC, P_INT, 2, TT_RULE_MAX_WINDOW, AT(window) },
    { "relative", NULL, K_WC, P_BOOL, 0, 0, AT(relative) },
    { "seconds", "seconds", K_ST, P_NUM, 0.001, 1e9, AT(seconds) },
    { "actions", NULL, K_ALL, P_LIST, 0, 0, 0 },
    { "exec", "exec", K_ALL, P_LIST, 0, 0, 0 },
    { "exec_timeout", "timeout", K_ALL, P_NUM, 0.001, 3600, AT(exec_timeout) },
    { "once", NULL, K_ALL, P_BOOL, 0, 0, AT(once) },
    { "enabled", NULL, K_ALL, P_BOOL, 0, 0, AT(enabled) },
};
#define NPARAMS (sizeof params / sizeof *params)

static const char *const kind_words[] = { "early_stop", "threshold", "spike", "window_change", "stalled", NULL };
static const char *const mode_words[] = { "min", "max", NULL };
static const char *const op_words[] = { ">", ">=", "<", "<=", NULL };
static const char *const action_words[] = { "stop", "bell", "alert", NULL };

/* The metrics docs/metrics.md (and docs/protocol.md, docs/gpu.md) name. A run may send others. */
static const char *const known_scalars[] = { "loss", "val_loss", "train_loss", "val_acc", "train_acc", "lr", "gwa",
    "gwa_gamma_mean", "gwa_gamma_std", "gwa_kurtosis", "gwa_frac_neg", "gwa_pole", "gwa_robust", "gwa_pearson",
    "gwa_bimodality", "gwa_gamma_median", "mislabeled_frac", "gamma_coverage", "gwa_paper", "gwa_paper_pole", "gwa_head_mean", "gamma_mean", "trace_sigma", "grad_sq",
    "noise_scale", "noise_scale_raw", "norm_test", "inner_test", "ortho_test", "eq_angle", "local_grad_sq",
    "grad_sq_ranks", "trace_sigma_ranks", "noise_scale_ranks", "gpu_busy_ms", "gpu_kernels", "probe_gpu_ms", "probe_ms",
    "probe_overhead_pct",
    NULL };
static const char *const known_stats[] = { "w_norm", "g_norm", "w_rms", "g_rms", "w_var", "update_norm", "update_ratio",
    "angle", "angle_rows", "gw_cos", "dist_init", "nonfinite", "stable_rank", "log_spectral_norm", "log_norm", "alpha",
    "alpha_err", "alpha_weighted", "alpha_window", "gamma_mean", "trace_sigma", "noise_scale", "norm_test", "gsnr",
    "scale_inv_cos", "eff_step", NULL };

static const param *param_by_field(const char *field)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (!strcmp(params[i].field, field)) return &params[i];
    return NULL;
}

static const param *param_by_key(const char *key)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (params[i].key && !strcmp(params[i].key, key)) return &params[i];
    return NULL;
}

/* The rules file's fields (keys 0) or the --alert keys (keys 1), NULL-terminated, for suggestions. */
static void param_names(const char **out, int keys)
{
    int n = 0;
    for (size_t i = 0; i < NPARAMS; i++)
        if (!keys || params[i].key) out[n++] = keys ? params[i].key : params[i].field;
    out[n] = NULL;
}


/* `"a", "b" or "c"` (conj "or", quote "\"") */
static void join(char *out, size_t len, const char *const *words, const char *quote, const char *conj)
{
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; words[i] && o < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%s%s%s%s%s", i == 0 ? "" : words[i + 1] ? ", " : " ", i && !words[i + 1] ? conj : "",
                              i && !words[i + 1] ? " " : "", quote, words[i], quote);
}

static void one_of(char *out, size_t len, const char *const *words, const char *quote) { join(out, len, words, quote, "or"); }

/* "early_stop, threshold and spike": the kinds in a mask */
static void kinds_text(char *out, size_t len, unsigned kinds)
{
    const char *names[6];
    int n = 0;
    for (int k = 0; kind_words[k]; k++)
        if (kinds & K(k)) names[n++] = kind_words[k];
    names[n] = NULL;
    join(out, len, names, "", "and");
}

/* The range a number must be in, as words: "", " >= 0", " > 0", " in 2..1024". */
static void range_text(char *out, size_t len, double lo, double hi)
{
    if (lo <= -BIG && hi >= BIG) out[0] = 0;
    else if (hi >= BIG) snprintf(out, len, lo > 0 && lo < 1e-200 ? " > 0" : " >= %.15g", lo);
    else snprintf(out, len, " in %.15g..%.15g", lo, hi);
}

/* Checks a number against a parameter's type and range and stores it. */
static int set_number(tt_rule *r, const param *p, double x)
{
    if (!(x >= p->lo && x <= p->hi)) return -1;
    if ((p->type == P_INT || p->type == P_INT64) && x != floor(x)) return -1;
    char *at = (char *)r + p->off;
    if (p->type == P_NUM) *(double *)(void *)at = x;
    else if (p->type == P_INT) *(int *)(void *)at = (int)x;
    else if (p->type == P_INT64) *(int64_t *)(void *)at = (int64_t)x;
    else return -1;
    return 0;
}

static void number_expected(char *out, size_t len, const param *p)
{
    char range[80];
    range_text(range, sizeof range, p->lo, p->hi);
    snprintf(out, len, "%s%s", p->type == P_NUM ? "a number" : "an integer", range);
}

#define KEPT " (the rule is kept: a run may send its own names)"

/* A metric name is open — a run may send its own — so a doubtful one is a warning, never a mistake:
 * a near miss of a known name, or a known name on the wrong side (a layer statistic as a run scalar). */
int tt_rulespec_metric_warning(const tt_rule *r, char *out, size_t len)
{
    if (r->kind == TT_RULE_STALLED) return 0;
    const char *m = r->monitor;
    int scalar = tt_word_index(known_scalars, m) >= 0, stat = tt_word_index(known_stats, m) >= 0;
    if (!r->layer[0] && stat && !scalar)
        return snprintf(out, len, "\"%s\" is a layer statistic, not a run scalar: give it a layer (\"*\" for any)" KEPT, m), 1;
    if (r->layer[0] && scalar && !stat)
        return snprintf(out, len, "\"%s\" is a run scalar, not a layer statistic: drop the layer" KEPT, m), 1;
    if (scalar || stat) return 0;
    const char *s = tt_suggest(m, r->layer[0] ? known_stats : known_scalars);
    if (!s) s = tt_suggest(m, r->layer[0] ? known_scalars : known_stats);
    if (!s) return 0;
    snprintf(out, len, "\"%s\" is not a metric traintop knows; did you mean \"%s\"?" KEPT, m, s);
    return 1;
}

/* ---- the JSON form ---- */

static int parse_op(const char *s, tt_rule_op *op)
{
    int i = tt_word_index(op_words, s);
    if (i < 0) return -1;
    static const tt_rule_op ops[] = { TT_OP_GT, TT_OP_GE, TT_OP_LT, TT_OP_LE };
    *op = ops[i];
    return 0;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* A JSON value as the user wrote it, for "got …" */
static void json_text(char *out, size_t len, const cJSON *v)
{
    if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) {   /* cJSON would print it as null */
        snprintf(out, len, "a number beyond the range of a double");
        return;
    }
    char *txt = cJSON_PrintUnformatted(v);
    snprintf(out, len, "%.60s", txt ? txt : "?");
    free(txt);
}

/* `field "F": expected "a", "b" or "c", got "x"; did you mean "y"?` */
static int expected_word(char *err, size_t len, const char *field, const cJSON *v, const char *const *words)
{
    char list[200], got[80], dym[120] = "";
    one_of(list, sizeof list, words, "\"");
    json_text(got, sizeof got, v);
    if (cJSON_IsString(v)) tt_did_you_mean(dym, sizeof dym, v->valuestring, words);
    return fail(err, len, "field \"%s\": expected %s, got %s%s", field, list, got, dym);
}

/* Unknown and repeated fields: a typo must not silently disable a rule, nor a second value hide. */
static int check_fields(const cJSON *o, char *err, size_t len)
{
    for (const cJSON *f = o->child; f; f = f->next) {
        if (!param_by_field(f->string)) {
            const char *names[NPARAMS + 1];
            char dym[120];
            param_names(names, 0);
            tt_did_you_mean(dym, sizeof dym, f->string, names);
            return fail(err, len, "field \"%.60s\": unknown%s", f->string, dym[0] ? dym : " (docs/alerts.md lists the fields)");
        }
        for (const cJSON *g = o->child; g != f; g = g->next)
            if (!strcmp(g->string, f->string)) return fail(err, len, "field \"%s\": given twice", f->string);
    }
    return 0;
}

static int parse_name_kind(const cJSON *o, tt_rule *r, char *err, size_t len)
{
    const cJSON *name = get(o, "name"), *kind = get(o, "kind");
    if (!name) return fail(err, len, "field \"name\": missing (every rule needs a unique name)");
    if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) >= TT_RULE_NAME)
        return fail(err, len, "field \"name\": expected a string of 1-%d characters", TT_RULE_NAME - 1);
    snprintf(r->name, sizeof r->name, "%s", name->valuestring);
    char list[200];
    one_of(list, sizeof list, kind_words, "\"");
    if (!kind) return fail(err, len, "field \"kind\": missing; expected %s", list);
    int k = cJSON_IsString(kind) ? tt_word_index(kind_words, kind->valuestring) : -1;
    if (k < 0) return expected_word(err, len, "kind", kind, kind_words);
    r->kind = (tt_rule_kind)k;
    return 0;
}

/* A field the rule's kind does not read is a mistake: "patience" on a threshold rule meant "for_steps". */
static int check_kind_fields(const cJSON *o, tt_rule_kind kind, char *err, size_t len)
{
    for (const cJSON *f = o->child; f; f = f->next) {
        const param *p = param_by_field(f->string);
        if (p->kinds & K(kind)) continue;
        char users[120];
        kinds_text(users, sizeof users, p->kinds);
        return fail(err, len, "field \"%s\": not used by a %s rule (%s only)", f->string, tt_rule_kind_name(kind), users);
    }
    return 0;
}

static int parse_values(const cJSON *o, tt_rule *r, char *err, size_t len)
{
    for (size_t i = 0; i < NPARAMS; i++) {
        const param *p = &params[i];
        const cJSON *v = get(o, p->field);
        if (!v || p->type == P_STR || p->type == P_LIST) continue;
        char got[80], want[120];
        json_text(got, sizeof got, v);
        if (p->type == P_BOOL) {
            if (!cJSON_IsBool(v)) return fail(err, len, "field \"%s\": expected true or false, got %s", p->field, got);
            *(int *)(void *)((char *)r + p->off) = cJSON_IsTrue(v);
            continue;
        }
        if (!cJSON_IsNumber(v) || set_number(r, p, v->valuedouble)) {
            number_expected(want, sizeof want, p);
            return fail(err, len, "field \"%s\": expected %s, got %s", p->field, want, got);
        }
    }
    return 0;
}

static int parse_strings(const cJSON *o, tt_rule *r, char *err, size_t len)
{
    const cJSON *mon = get(o, "monitor"), *layer = get(o, "layer"), *mode = get(o, "mode"), *op = get(o, "op");
    if (mon && (!cJSON_IsString(mon) || !mon->valuestring[0] || strlen(mon->valuestring) >= sizeof r->monitor))
        return fail(err, len, "field \"monitor\": expected a metric name of 1-%zu characters", sizeof r->monitor - 1);
    snprintf(r->monitor, sizeof r->monitor, "%s", mon ? mon->valuestring : r->kind == TT_RULE_STALLED ? "stalled" : "");
    if (layer && (!cJSON_IsString(layer) || strlen(layer->valuestring) >= sizeof r->layer))
        return fail(err, len, "field \"layer\": expected \"*\", a layer name or a pattern (at most %zu characters)", sizeof r->layer - 1);
    if (layer) snprintf(r->layer, sizeof r->layer, "%s", layer->valuestring);
    if (mode) {
        int m = cJSON_IsString(mode) ? tt_word_index(mode_words, mode->valuestring) : -1;
        if (m < 0) return expected_word(err, len, "mode", mode, mode_words);
        r->mode_max = m == 1;
    }
    if (op && (!cJSON_IsString(op) || parse_op(op->valuestring, &r->op))) return expected_word(err, len, "op", op, op_words);
    const cJSON *conf = get(o, "confirm");
    if (conf && (!cJSON_IsString(conf) || !conf->valuestring[0] || strlen(conf->valuestring) >= sizeof r->confirm))
        return fail(err, len, "field \"confirm\": expected a run scalar's name of 1-%zu characters", sizeof r->confirm - 1);
    if (conf) snprintf(r->confirm, sizeof r->confirm, "%s", conf->valuestring);
    return 0;
}

static int parse_actions(const cJSON *o, tt_rule *r, char *err, size_t len)
{
    const cJSON *acts = get(o, "actions");
    if (!acts) return 0;
    if (!cJSON_IsArray(acts)) return fail(err, len, "field \"actions\": expected an array of \"stop\", \"bell\" or \"alert\"");
    for (const cJSON *x = acts->child; x; x = x->next) {
        int k = cJSON_IsString(x) ? tt_word_index(action_words, x->valuestring) : -1;
        if (k < 0) return expected_word(err, len, "actions", x, action_words);
        r->actions |= k == 0 ? TT_ACT_STOP : k == 1 ? TT_ACT_BELL : 0;
    }
    return 0;
}

static int parse_exec(const cJSON *o, tt_rule *r, char *err, size_t len)
{
    const cJSON *ex = get(o, "exec");
    if (!ex) return 0;
    if (!cJSON_IsArray(ex) || cJSON_GetArraySize(ex) < 1 || cJSON_GetArraySize(ex) > TT_RULE_MAX_EXEC)
        return fail(err, len, "field \"exec\": expected an argument vector [\"/path/program\", \"arg\", …] of 1-%d strings", TT_RULE_MAX_EXEC);
    int n = 0;
    for (const cJSON *x = ex->child; x; x = x->next, n++) {
        if (!cJSON_IsString(x)) return fail(err, len, "field \"exec\": entry %d: expected a string", n);
        if (!(r->exec[n] = strdup(x->valuestring))) return fail(err, len, "out of memory");
        r->exec[n + 1] = NULL;
    }
    if (r->exec[0][0] != '/')
        return fail(err, len, "field \"exec\": \"%.60s\": expected an absolute path (no shell, no PATH search)", r->exec[0]);
    r->actions |= TT_ACT_EXEC;
    return 0;
}

static int check_complete(const cJSON *o, const tt_rule *r, char *err, size_t len)
{
    if (r->kind != TT_RULE_STALLED && !get(o, "monitor"))
        return fail(err, len, "field \"monitor\": missing (the metric to watch, e.g. \"val_loss\")");
    if (get(o, "confirm_drop") && !get(o, "confirm"))
        return fail(err, len, "field \"confirm_drop\": needs \"confirm\" (the run scalar whose drop confirms the stop)");
    for (const char *const *f = (const char *const[]){ "confirm_min", "confirm_once", NULL }; *f; f++)
        if (get(o, *f) && !get(o, "confirm"))
            return fail(err, len, "field \"%s\": needs \"confirm\" (the run scalar that confirms the stop)", *f);
    if (r->centred && r->smooth <= 1)
        return fail(err, len, "field \"centred\": needs \"smooth\" > 1 (the best step is the middle of the smoothed values)");
    if (get(o, "confirm_drop") && get(o, "confirm_min"))
        return fail(err, len, "field \"confirm_min\": not with \"confirm_drop\" (a level or a drop confirms, not both)");
    if (r->kind == TT_RULE_THRESHOLD || r->kind == TT_RULE_WINDOW_CHANGE) {
        const char *missing = !get(o, "op") ? "op" : !get(o, "threshold") ? "threshold" : NULL;
        if (missing) return fail(err, len, "field \"%s\": missing (a %s rule needs \"op\" and \"threshold\")", missing, tt_rule_kind_name(r->kind));
    }
    return 0;
}

int tt_rulespec_json(const cJSON *o, tt_rule *r, char *err, size_t len)
{
    tt_rule_defaults(r);
    if (!cJSON_IsObject(o)) return fail(err, len, "expected an object {\"name\": …, \"kind\": …}");
    if (check_fields(o, err, len) || parse_name_kind(o, r, err, len) || check_kind_fields(o, r->kind, err, len) ||
        parse_values(o, r, err, len) || parse_strings(o, r, err, len) || parse_actions(o, r, err, len) ||
        parse_exec(o, r, err, len) || check_complete(o, r, err, len)) {
        tt_rulespec_free(r);
        return -1;
    }
    return 0;
}

/* ---- the command-line form (docs/alerts.md) ---- */

static const char *const clause_words[] = { "min", "max", "spike", "change", NULL };
static const char *const flag_words[] = { "stop", "bell", "relative", NULL };

typedef struct {               /* what an --alert spec has said so far */
    tt_rule *r;
    const char *clause;        /* the token that chose the kind */
    const char *op;            /* the operator's token */
    const char *set[NPARAMS];  /* the token that set each parameter */
} spec_ctx;

static void spec_set(spec_ctx *c, const char *field, const char *tok) { c->set[param_by_field(field) - params] = tok; }

/* NAME:METRIC[LAYER] — a colon inside the brackets belongs to the layer. */
static int spec_head(spec_ctx *c, char *tok, char *err, size_t len)
{
    tt_rule *r = c->r;
    char *br = strchr(tok, '['), *colon = strchr(tok, ':');
    if (colon && (!br || colon < br)) {
        *colon = 0;
        if (!tok[0] || strlen(tok) >= sizeof r->name) return fail(err, len, "'%s': a rule name has 1-%zu characters", tok, sizeof r->name - 1);
        snprintf(r->name, sizeof r->name, "%s", tok);
        tok = colon + 1;
    }
    if (br) {
        char *end = strrchr(br, ']');
        if (!end || end[1] || end == br + 1) return fail(err, len, "'%s': expected METRIC[LAYER]", tok);
        *end = 0;
        if (strlen(br + 1) >= sizeof r->layer) return fail(err, len, "'%s': a layer has at most %zu characters", br + 1, sizeof r->layer - 1);
        snprintf(r->layer, sizeof r->layer, "%s", br + 1);
        *br = 0;
    }
    if (!tok[0] || strlen(tok) >= sizeof r->monitor) return fail(err, len, "expected METRIC or METRIC[LAYER] first (1-%zu characters)", sizeof r->monitor - 1);
    snprintf(r->monitor, sizeof r->monitor, "%s", tok);
    if (!strcmp(tok, "stalled")) {
        r->kind = TT_RULE_STALLED;
        c->clause = tok;
    }
    return 0;
}

static int spec_clause(spec_ctx *c, const char *tok, char *err, size_t len)
{
    if (c->clause) return fail(err, len, "'%s': one clause per rule, and '%s' came first", tok, c->clause);
    int k = tt_word_index(clause_words, tok);
    static const tt_rule_kind kinds[] = { TT_RULE_EARLY_STOP, TT_RULE_EARLY_STOP, TT_RULE_SPIKE, TT_RULE_WINDOW_CHANGE };
    c->r->kind = kinds[k];
    c->r->mode_max = k == 1;
    c->clause = tok;
    return 0;
}

/* OP NUMBER[%]: a threshold rule, or the comparison of a change clause. */
static int spec_op(spec_ctx *c, const char *tok, tt_rule_op op, char **save, char *err, size_t len)
{
    tt_rule *r = c->r;
    if (c->op) return fail(err, len, "'%s': one operator per rule, and '%s' came first", tok, c->op);
    if (c->clause && r->kind != TT_RULE_WINDOW_CHANGE) return fail(err, len, "'%s': one clause per rule, and '%s' came first", tok, c->clause);
    char *v = strtok_r(NULL, " \t", save), *end;
    if (!v) return fail(err, len, "'%s' needs a number after it", tok);
    r->op = op;
    r->threshold = strtod(v, &end);
    if (end == v || (*end && strcmp(end, "%")) || !isfinite(r->threshold)) return fail(err, len, "'%s': expected a number", v);
    if (*end == '%') {
        r->threshold /= 100;
        r->relative = 1;
        spec_set(c, "relative", v);
    }
    spec_set(c, "threshold", v);
    c->op = tok;
    if (!c->clause) { r->kind = TT_RULE_THRESHOLD; c->clause = tok; }
    return 0;
}

static int spec_flag(spec_ctx *c, const char *tok)
{
    if (!strcmp(tok, "stop")) c->r->actions |= TT_ACT_STOP;
    else if (!strcmp(tok, "bell")) c->r->actions |= TT_ACT_BELL;
    else { c->r->relative = 1; spec_set(c, "relative", tok); }
    return 0;
}

static int spec_exec(tt_rule *r, char *v, char *err, size_t len)
{
    if (r->exec[0]) return fail(err, len, "'exec': given twice");
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == TT_RULE_MAX_EXEC) return fail(err, len, "'exec': at most %d entries", TT_RULE_MAX_EXEC);
        if (!(r->exec[n++] = strdup(t))) return fail(err, len, "out of memory");
        r->exec[n] = NULL;
    }
    if (!n || r->exec[0][0] != '/') return fail(err, len, "'exec': expected an absolute path (no shell, no PATH search)");
    r->actions |= TT_ACT_EXEC;
    return 0;
}

static int spec_key(spec_ctx *c, char *tok, char *eq, char *err, size_t len)
{
    *eq = 0;
    const char *v = eq + 1;
    const param *p = param_by_key(tok);
    if (!p) {
        const char *keys[NPARAMS + 1];
        char dym[120], list[300];
        param_names(keys, 1);
        one_of(list, sizeof list, keys, "");
        tt_did_you_mean(dym, sizeof dym, tok, keys);
        if (dym[0]) return fail(err, len, "'%s': unknown key%s", tok, dym);
        return fail(err, len, "'%s': unknown key; expected %s", tok, list);
    }
    if (c->set[p - params]) return fail(err, len, "'%s': given twice", tok);
    c->set[p - params] = tok;
    if (p->type == P_LIST) return spec_exec(c->r, eq + 1, err, len);
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || set_number(c->r, p, d)) {
        char want[120];
        number_expected(want, sizeof want, p);
        return fail(err, len, "'%s=%s': expected %s", tok, v, want);
    }
    return 0;
}

/* "300s" after stalled */
static int spec_seconds(spec_ctx *c, const char *tok, char *err, size_t len)
{
    char *end;
    double s = strtod(tok, &end);
    if (end == tok || strcmp(end, "s") || set_number(c->r, param_by_field("seconds"), s))
        return fail(err, len, "'%s': expected a duration in seconds, like 300s", tok);
    spec_set(c, "seconds", tok);
    return 0;
}

static int spec_unknown(const char *tok, char *err, size_t len)
{
    const char *words[16 + NPARAMS];
    int n = 0;
    for (int i = 0; clause_words[i]; i++) words[n++] = clause_words[i];
    for (int i = 0; flag_words[i]; i++) words[n++] = flag_words[i];
    param_names(words + n, 1);
    if (param_by_key(tok)) return fail(err, len, "'%s': expected %s=VALUE", tok, tok);
    char dym[120];
    return fail(err, len, "'%s': expected min, max, spike, change, an operator, stop, bell, relative or KEY=VALUE%s", tok,
                tt_did_you_mean(dym, sizeof dym, tok, words));
}

static int spec_token(spec_ctx *c, char *tok, char **save, char *err, size_t len)
{
    tt_rule_op op;
    char *eq = strchr(tok, '=');
    if (tt_word_index(clause_words, tok) >= 0) return spec_clause(c, tok, err, len);
    if (!parse_op(tok, &op)) return spec_op(c, tok, op, save, err, len);
    if (tt_word_index(flag_words, tok) >= 0) return spec_flag(c, tok);
    if (c->r->kind == TT_RULE_STALLED && c->clause && !eq && (tok[0] == '.' || (tok[0] >= '0' && tok[0] <= '9')))
        return spec_seconds(c, tok, err, len);
    if (eq) return spec_key(c, tok, eq, err, len);
    return spec_unknown(tok, err, len);
}

/* After the last token: a clause was given, it is complete, and every key is one its kind reads. */
static int spec_finish(spec_ctx *c, char *err, size_t len)
{
    tt_rule *r = c->r;
    if (!c->clause) return fail(err, len, "expected min, max, spike, change or an operator after the metric");
    if (r->kind == TT_RULE_WINDOW_CHANGE && !c->op) return fail(err, len, "'%s': needs an operator and a number, e.g. change<-1%%", c->clause);
    for (size_t i = 0; i < NPARAMS; i++) {
        if (!c->set[i] || (params[i].kinds & K(r->kind))) continue;
        char users[120], what[80] = "";
        kinds_text(users, sizeof users, params[i].kinds);
        if (!params[i].key || strcmp(c->set[i], params[i].key)) snprintf(what, sizeof what, " %s is", params[i].field);   /* '5%': relative is … */
        return fail(err, len, "'%s':%s not used by a %s rule (%s only)", c->set[i], what, tt_rule_kind_name(r->kind), users);
    }
    if (r->kind == TT_RULE_STALLED && r->layer[0]) return fail(err, len, "'stalled[%s]': a stalled rule watches the run, not a layer", r->layer);
    return 0;
}

/* A spec without NAME: is named by itself; a long one keeps a hash of the rest so that two long specs
 * that begin alike do not collide. */
static void spec_name(tt_rule *r, const char *spec)
{
    if (strlen(spec) < sizeof r->name) { snprintf(r->name, sizeof r->name, "%s", spec); return; }
    uint32_t h = 2166136261u;
    for (const char *p = spec; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    snprintf(r->name, sizeof r->name, "%.54s~%08x", spec, h);
}

/* "change<1%" and ">0.5" may be glued: space out the operators. */
static void space_ops(char *out, size_t cap, const char *in)
{
    size_t o = 0;
    for (const char *p = in; *p && o < cap - 4; p++) {
        if ((*p == '<' || *p == '>') && o && out[o - 1] != ' ') out[o++] = ' ';
        out[o++] = *p;
        if ((*p == '<' || *p == '>') && p[1] != '=' && p[1] != ' ') out[o++] = ' ';
        if (*p == '=' && o >= 2 && (out[o - 2] == '<' || out[o - 2] == '>') && p[1] != ' ') out[o++] = ' ';
    }
    out[o] = 0;
}

static int spec_parse(tt_rule *r, const char *spec, char *err, size_t len)
{
    spec_ctx c = { .r = r };
    if (strlen(spec) >= 512) return fail(err, len, "expected a rule of at most 511 characters");
    char sp[1100];
    space_ops(sp, sizeof sp, spec);
    char *save = NULL, *tok = strtok_r(sp, " \t", &save);
    if (!tok) return fail(err, len, "empty");
    if (spec_head(&c, tok, err, len)) return -1;
    while ((tok = strtok_r(NULL, " \t", &save)))
        if (spec_token(&c, tok, &save, err, len)) return -1;
    if (spec_finish(&c, err, len)) return -1;
    if (!r->name[0]) spec_name(r, spec);
    return 0;
}

int tt_rulespec_text(const char *spec, tt_rule *r, char *err, size_t len)
{
    tt_rule_defaults(r);
    if (!spec_parse(r, spec, err, len)) return 0;
    tt_rulespec_free(r);
    return -1;
}
