/* collector: the sockets around ingest. PULL for probe messages, PUB for control back to probes,
 * REP for queries (viewers ask there for live messages too, so every read passes the token check).
 * All non-blocking: the owner's poll loop decides when to sleep. */
#include "collector.h"
#include "ingest.h"
#include "summary.h"
#include "recording.h"
#include "history.h"
#include "crossrank.h"
#include "alerts.h"
#include "auth.h"
#include "safefile.h"
#include "livering.h"
#include "mirror.h"
#include "../proto/endpoint.h"
#include "../proto/token.h"
#include "../proto/jsonstrip.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LOGGED_MAX 256      /* distinct (cause, run) pairs logged before going quiet */
#define ASKED_MAX 64        /* unknown runs we recently asked to resend their start */
#define NO_END_GRACE_S 10.0 /* a run whose probe is gone stays "no_end" this long before it is "crashed" */
#define QUERY_MAX_BYTES 65536      /* a query is a small object; larger ones are dropped by the transport */
#define LIVE_BYTES (16u << 20)      /* the live ring: what a viewer polling every LIVE_POLL_S can fall behind by */
#define LIVE_MSGS 8192
#define LIVE_REPLY_BYTES (4u << 20)
#define LIVE_IDLE_S 10.0            /* no viewer asked for this long: stop copying messages for them */

typedef struct { char cause[16]; char run[TT_NAME_MAX]; } logged_key;
typedef struct { char run[TT_NAME_MAX]; double at; } asked;

struct tt_collector {
    char endpoint[256];
    int pull, pub, rep;
    tt_livering *live;         /* accepted messages (without the token) for viewers; NULL until one asks */
    uint64_t epoch;            /* this start, told to viewers with the live messages */
    double live_asked;         /* when a viewer last asked for them */
    char *stripped;            /* the message without its token, to record and hand to viewers */
    size_t stripped_cap, stripped_len;
    int mirror;                /* a viewer's copy of a remote collector ... */
    tt_mirror *view;           /* ... kept current by asking its query socket */
    tt_store store;
    double stall_seconds;
    FILE *log;
    int quiet;
    tt_collector_counters n;
    logged_key logged[LOGGED_MAX];
    int nlogged;
    asked asked[ASKED_MAX];
    double last_tick;
    tt_recorder *rec;          /* NULL when not recording */
    char hostname[64];         /* to tell local probes, whose pid we can check, from remote ones */
    int loading;               /* replaying a recording: do not record again */
    tt_alerts *alerts;
    FILE *alerts_log;
    char spool_dir[400];       /* where probes of this endpoint leave what we did not acknowledge ("": none) */
    double last_spool_scan;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A socket file that refuses connections was left by a dead collector: remove it. One that accepts
 * belongs to a live collector, which we must not steal from. */
static int ipc_in_use(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof a.sun_path) return 0;
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    int live = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    if (!live) unlink(path);
    return live;
}

static int bind_one(int proto, const char *ep, char *err, size_t errlen)
{
    int s = nn_socket(AF_SP, proto);
    if (s < 0) { snprintf(err, errlen, "cannot create a nanomsg socket: %s", nn_strerror(nn_errno())); return -1; }
    if (!strncmp(ep, "ipc://", 6) && ipc_in_use(ep + 6)) {
        snprintf(err, errlen, "cannot listen on %s: another collector is already listening there", ep);
        nn_close(s);
        return -1;
    }
    if (nn_bind(s, ep) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", ep, nn_strerror(nn_errno()));
        nn_close(s);
        return -1;
    }
    return s;
}

static int load_line(void *ud, const char *line, size_t len)
{
    char err[512];
    return tt_collector_ingest(ud, line, len, err, sizeof err);
}

/* Recordings hold no token (it is stripped before they are written): loading them asks for none. */
static void loading(tt_collector *c, int on, char *saved_token)
{
    c->loading = on;
    if (on) {
        memcpy(saved_token, c->store.token, sizeof c->store.token);
        c->store.token[0] = 0;
    } else {
        memcpy(c->store.token, saved_token, sizeof c->store.token);
    }
}

long tt_collector_load(tt_collector *c, const char *path, char *err, size_t errlen)
{
    uint64_t before = c->n.accepted;
    char token[sizeof c->store.token];
    loading(c, 1, token);
    c->store.seq_lenient = 1;   /* a recording's gaps cannot be resent: take what is there */
    long n = tt_recording_read(path, load_line, c, c->quiet ? NULL : c->log, err, errlen);
    c->store.seq_lenient = 0;
    loading(c, 0, token);
    return n < 0 ? -1 : (long)(c->n.accepted - before);
}

long tt_collector_load_merged(tt_collector *c, const char *const *paths, int n, char *err, size_t errlen)
{
    uint64_t before = c->n.accepted;
    char token[sizeof c->store.token];
    loading(c, 1, token);
    c->store.seq_lenient = 1;
    long r = tt_recording_read_merged(paths, n, load_line, c, c->quiet ? NULL : c->log, err, errlen);
    c->store.seq_lenient = 0;
    loading(c, 0, token);
    return r < 0 ? -1 : (long)(c->n.accepted - before);
}

static void import_spools(tt_collector *c);

/* A restarted collector picks up where its recordings end. */
static int load_dir(tt_collector *c, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) { snprintf(err, errlen, "cannot list recording directory %s: %s", dir, strerror(errno)); return -1; }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 7 || e->d_name[0] == '.' || strcmp(e->d_name + n - 6, ".jsonl")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (tt_recording_repair(path, c->quiet ? NULL : c->log, err, errlen) < 0 ||   /* a crash's torn line: aside */
            tt_collector_load(c, path, err, errlen) < 0) { rc = -1; break; }
    }
    closedir(d);
    return rc;
}

tt_collector *tt_collector_open(const tt_collector_opts *o, char *err, size_t errlen)
{
    tt_collector *c = calloc(1, sizeof *c);
    if (!c) { snprintf(err, errlen, "out of memory"); if (o) tt_alerts_free(o->alerts); return NULL; }
    c->pull = c->pub = c->rep = -1;
    c->alerts = o ? o->alerts : NULL;   /* owned from here: freed on failure too */
    if (o && o->endpoint) {
        if (tt_endpoint_check(o->endpoint, err, errlen)) goto fail;
        snprintf(c->endpoint, sizeof c->endpoint, "%s", o->endpoint);
    } else if (tt_default_endpoint(c->endpoint, sizeof c->endpoint, err, errlen)) {
        goto fail;
    }
    char token[TT_TOKEN_MAX];
    if (tt_token_from_env(token, sizeof token, err, errlen) ||
        tt_auth_listen(c->endpoint, token, o && o->allow_remote, o && o->insecure_tcp, o && o->log ? o->log : stderr,
                       err, errlen)) goto fail;
    c->stall_seconds = o && o->stall_seconds > 0 ? o->stall_seconds : 30;
    gethostname(c->hostname, sizeof c->hostname - 1);
    c->log = o && o->log ? o->log : stderr;
    c->quiet = o ? o->quiet : 0;
    tt_store_init(&c->store, o ? o->level_cap : 0);
    snprintf(c->store.token, sizeof c->store.token, "%s", token);

    char ctl[256], q[256];
    if (tt_endpoint_derive(c->endpoint, TT_EP_CONTROL, ctl, sizeof ctl, err, errlen) ||
        tt_endpoint_derive(c->endpoint, TT_EP_QUERY, q, sizeof q, err, errlen)) goto fail;
    if ((c->pull = bind_one(NN_PULL, c->endpoint, err, errlen)) < 0) goto fail;
    if ((c->pub = bind_one(NN_PUB, ctl, err, errlen)) < 0) goto fail;
    if ((c->rep = bind_one(NN_REP, q, err, errlen)) < 0) goto fail;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);       /* differs between starts; kept below 2^53 to survive JSON */
    c->epoch = ((((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec) ^ ((uint64_t)getpid() << 40)) & ((1ull << 53) - 1)) | 1;
    int maxsz = TT_MSG_MAX_BYTES, qmax = QUERY_MAX_BYTES;
    nn_setsockopt(c->pull, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof maxsz);
    nn_setsockopt(c->rep, NN_SOL_SOCKET, NN_RCVMAXSIZE, &qmax, sizeof qmax);
    int rcvbuf = 4 << 20;
    nn_setsockopt(c->pull, NN_SOL_SOCKET, NN_RCVBUF, &rcvbuf, sizeof rcvbuf);
    c->last_tick = mono();
    if (o && (o->alerts_log || o->record_dir)) {
        char path[700];
        snprintf(path, sizeof path, "%s%s", o->alerts_log ? o->alerts_log : o->record_dir, o->alerts_log ? "" : "/alerts.jsonl");
        char why[800];
        if (o->record_dir && !o->alerts_log && tt_safefile_mkdirs(o->record_dir, why, sizeof why)) { snprintf(err, errlen, "recording %s", why); goto fail; }
        if (!(c->alerts_log = tt_safefile_open(path, "a", why, sizeof why))) { snprintf(err, errlen, "alerts log %s", why); goto fail; }
    }
    if (o && o->record_dir) {
        if (!(c->rec = tt_recorder_open(o->record_dir, o->flush_seconds, err, errlen))) goto fail;
        if (!o->record_no_load && load_dir(c, o->record_dir, err, errlen)) goto fail;
    }
    if (tt_spool_dir(c->endpoint, c->spool_dir, sizeof c->spool_dir, err, errlen)) c->spool_dir[0] = 0;
    import_spools(c);
    return c;
fail:
    tt_collector_close(c);
    return NULL;
}

void tt_collector_close(tt_collector *c)
{
    if (!c) return;
    if (c->pull >= 0) nn_close(c->pull);
    if (c->pub >= 0) nn_close(c->pub);
    if (c->rep >= 0) nn_close(c->rep);
    tt_mirror_close(c->view);
    tt_livering_free(c->live);
    free(c->stripped);
    tt_recorder_close(c->rec);
    tt_alerts_free(c->alerts);
    if (c->alerts_log) fclose(c->alerts_log);
    /* The socket files are ours once bound: leave no stale ones behind. */
    if (c->pull >= 0 && !c->mirror && !strncmp(c->endpoint, "ipc://", 6)) {
        char ep[256], err[128];
        for (int k = TT_EP_INGEST; k <= TT_EP_QUERY; k++)
            if (!tt_endpoint_derive(c->endpoint, (tt_ep_kind)k, ep, sizeof ep, err, sizeof err)) unlink(ep + 6);
    }
    tt_store_free(&c->store);
    free(c);
}

int tt_collector_fds(tt_collector *c, int *fds, int max)
{
    if (c->view) return tt_mirror_fds(c->view, fds, max);
    int socks[] = { c->pull, c->rep }, n = 0;
    for (int i = 0; i < 2 && n < max; i++) {
        if (socks[i] < 0) continue;
        int fd;
        size_t sz = sizeof fd;
        if (nn_getsockopt(socks[i], NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) == 0) fds[n++] = fd;
    }
    return n;
}

static void publish(tt_collector *c, cJSON *m)
{
    char *txt = cJSON_PrintUnformatted(m);
    if (txt) nn_send(c->pub, txt, strlen(txt), NN_DONTWAIT);   /* PUB never blocks; no subscriber → gone */
    free(txt);
}

static void control_seq(tt_collector *c, const char *run, int rank, const char *action, const char *reason, uint64_t seq)
{
    cJSON *m = cJSON_CreateObject();
    if (!m) return;
    cJSON_AddNumberToObject(m, "v", TT_PROTOCOL_VERSION);
    cJSON_AddStringToObject(m, "type", "control");
    cJSON_AddStringToObject(m, "run", run);
    if (rank >= 0) cJSON_AddNumberToObject(m, "rank", rank);
    cJSON_AddStringToObject(m, "action", action);
    if (reason) cJSON_AddStringToObject(m, "reason", reason);
    if (seq) cJSON_AddNumberToObject(m, "seq", (double)seq);
    publish(c, m);
    cJSON_Delete(m);
}

static void control(tt_collector *c, const char *run, int rank, const char *action, const char *reason)
{
    control_seq(c, run, rank, action, reason, 0);
}

/* Acknowledges what the runs have, once it is in the recording's files (flushed: it survives our crash). */
static void send_acks(tt_collector *c)
{
    int due = 0;
    for (int i = 0; i < c->store.nruns; i++) due |= c->store.runs[i]->ack_due;
    if (!due) return;
    if (c->rec && tt_recorder_flush(c->rec)) return;   /* not on disk: not acknowledged (the probe keeps it) */
    for (int i = 0; i < c->store.nruns; i++) {
        tt_run *r = c->store.runs[i];
        if (!r->ack_due) continue;
        r->ack_due = 0;
        r->seq_acked = r->seq_last;
        control_seq(c, r->name, r->rank, TT_CTL_ACK, NULL, r->seq_last);
    }
}

/* A message came after a missing one: ask for everything after what we have, at most 4 times a second. */
static void ask_resend_after(tt_collector *c, tt_run *r)
{
    double now = mono();
    if (now - r->resend_asked < 0.25) return;
    r->resend_asked = now;
    /* the request acknowledges what we have: only what is on disk when recording */
    uint64_t have = c->rec && tt_recorder_flush(c->rec) ? r->seq_acked : r->seq_last;
    r->seq_acked = have;
    control_seq(c, r->name, r->rank, TT_CTL_RESEND, NULL, have);
}

/* A probe we have not heard start (collector restarted, or its start was lost): ask it, at most 4×/s. */
static void ask_resend(tt_collector *c, const char *run)
{
    double now = mono();
    int slot = 0;
    for (int i = 0; i < ASKED_MAX; i++) {
        if (!strcmp(c->asked[i].run, run)) {
            if (now - c->asked[i].at < 0.25) return;
            slot = i;
            break;
        }
        if (c->asked[i].at < c->asked[slot].at) slot = i;
    }
    snprintf(c->asked[slot].run, sizeof c->asked[slot].run, "%s", run);
    c->asked[slot].at = now;
    control(c, run, -1, "resend_start", NULL);
}

/* One log line per (cause, run): a flood of one mistake does not flood the log. */
static void log_reject(tt_collector *c, const tt_ingest_result *r, const char *err)
{
    if (c->quiet) return;
    for (int i = 0; i < c->nlogged; i++)
        if (!strcmp(c->logged[i].cause, r->cause) && !strcmp(c->logged[i].run, r->run)) return;
    if (c->nlogged < LOGGED_MAX) {
        snprintf(c->logged[c->nlogged].cause, sizeof c->logged[0].cause, "%s", r->cause);
        snprintf(c->logged[c->nlogged].run, sizeof c->logged[0].run, "%s", r->run);
        c->nlogged++;
        fprintf(c->log, "traintop: rejected message (%s): %s\n", r->cause, err);
        fflush(c->log);
    }
}

/* A fired rule: remembered for the dashboard; live (actions), also logged and its actions taken. A rule
 * that fires on history (a recording loaded, a viewer's copy of a collector's history) only shows. */
static void act(tt_collector *c, const tt_alert *al, int actions)
{
    tt_store *st = &c->store;
    tt_store_alert *sa = &st->alerts[st->alerts_n++ % TT_STORE_ALERTS];
    snprintf(sa->run, sizeof sa->run, "%s", al->run);
    snprintf(sa->rule, sizeof sa->rule, "%s", al->rule);
    sa->step = al->step;
    sa->time = al->time;
    sa->stop = al->stop;
    snprintf(sa->reason, sizeof sa->reason, "%s", al->reason);
    tt_run *r = tt_store_find(st, al->run, al->rank);
    if (r) { r->alerts++; snprintf(r->last_alert, sizeof r->last_alert, "%.60s: %.190s", al->rule, al->reason); }
    st->version++;
    if (!actions) return;
    if (al->bell) st->bells++;
    if (c->alerts_log) tt_alert_write_json(al, c->alerts_log);
    if (!c->quiet) { fprintf(c->log, "traintop: alert %s on run '%s' at step %lld: %s\n", al->rule, al->run, (long long)al->step, al->reason); fflush(c->log); }
    if (al->stop) {
        char reason[400];
        snprintf(reason, sizeof reason, "rule %s: %s", al->rule, al->reason);
        tt_collector_stop_run(c, al->run, reason);
    }
    tt_alerts_exec(c->alerts, al);
}

void tt_collector_set_alerts(tt_collector *c, tt_alerts *a)
{
    tt_alerts_free(c->alerts);
    c->alerts = a;
}

tt_alerts *tt_collector_alerts(const tt_collector *c) { return c->alerts; }

/* The rules, on the step the run just accepted. */
static void evaluate(tt_collector *c, const tt_ingest_result *r, int actions)
{
    const tt_run *run = c->alerts ? tt_store_find(&c->store, r->run, r->rank) : NULL;
    if (!run) return;
    tt_alert fired[8];
    int n = tt_alerts_on_step(c->alerts, run, fired, 8);
    for (int i = 0; i < n; i++) act(c, &fired[i], actions);
}

static int ingest_one(tt_collector *c, const char *msg, size_t len, tt_ingest_result *res, char *err, size_t errlen);

/* 1 when msg had to lose a "token" member (c->stripped then holds it without); 0 when msg is fine as is. */
static int strip_token(tt_collector *c, const char *msg, size_t len)
{
    /* the key is "token", possibly with JSON escapes in it: a message with neither needs no pass */
    if (!memmem(msg, len, "token", 5) && !memchr(msg, '\\', len)) return 0;
    if (len > c->stripped_cap) {
        char *b = realloc(c->stripped, len);
        if (!b) return 0;
        c->stripped = b;
        c->stripped_cap = len;
    }
    c->stripped_len = tt_json_strip_member(msg, len, "token", c->stripped);
    return c->stripped_len != len;
}

int tt_collector_ingest(tt_collector *c, const char *msg, size_t len, char *err, size_t errlen)
{
    tt_ingest_result r;
    return ingest_one(c, msg, len, &r, err, errlen);
}

/* ---- spools: what probes of this endpoint could not get acknowledged, left for us to import ---- */

typedef struct {
    tt_collector *c;
    long kept;                 /* lines refused for a reason other than "we have it" */
    char first_err[512];
} spool_import;

static int import_line(void *ud, const char *line, size_t len)
{
    spool_import *x = ud;
    tt_collector *c = x->c;
    char err[512];
    tt_msg m;
    /* a spool starts with its run's start: for a run we know, the run goes on rather than restarts */
    int known_start = tt_msg_decode(&m, line, len, c->store.token, err, sizeof err) == 0 && m.type == TT_MSG_RUN_START &&
                      tt_store_find(&c->store, m.run, m.rank);
    tt_msg_free(&m);
    if (known_start) return 0;
    tt_ingest_result r;
    if (ingest_one(c, line, len, &r, err, sizeof err) == 0) {
        tt_run *run = r.type == TT_MSG_STEP ? tt_store_find(&c->store, r.run, r.rank) : NULL;
        if (run) run->from_spool++;
        return 0;
    }
    if (r.duplicate) {
        /* we have it, unless the run skipped messages it never had (a spill while it ran on) */
        const tt_run *run = tt_store_find(&c->store, r.run, r.rank);
        if (!run || !run->seq_missing) return 0;
        snprintf(err, sizeof err, "run '%s' rank %d: older than steps the collector already has", r.run, r.rank);
    }
    if (!x->kept++) snprintf(x->first_err, sizeof x->first_err, "%s", err);
    return -1;
}

/* Imports one whole spool as if its probe sent it now (recorded, shown live). Removed once we have all of
 * it; otherwise kept as FILE.kept, with one line saying why, for `traintop replay RECORDING FILE.kept`. */
static void import_spool(tt_collector *c, const char *path)
{
    spool_import x = { .c = c };
    char err[512];
    if (access(path, F_OK)) return;       /* seen twice in one listing, and already imported */
    /* a spool is the user's own file (0600 in a 0700 directory) and holds no token: trusted like a recording */
    char token[sizeof c->store.token];
    memcpy(token, c->store.token, sizeof token);
    c->store.token[0] = 0;
    c->store.seq_lenient = 1;          /* its probe is gone: nothing can be resent */
    long n = tt_recording_read(path, import_line, &x, c->quiet ? NULL : c->log, err, sizeof err);
    c->store.seq_lenient = 0;
    memcpy(c->store.token, token, sizeof token);
    if (n >= 0 && !x.kept) {
        if (c->rec) tt_recorder_flush(c->rec);
        if (!c->quiet) fprintf(c->log, "traintop: imported %ld messages from the spool %s\n", n, path);
        unlink(path);
    } else {
        char kept[1100];
        snprintf(kept, sizeof kept, "%s.kept", path);
        rename(path, kept);
        if (!c->quiet)
            fprintf(c->log, "traintop: spool %s: %ld of its messages could not be merged live (%s); kept as %s: "
                            "`traintop replay` merges it with the recording\n", path, x.kept, n < 0 ? err : x.first_err, kept);
    }
    fflush(c->log);
}

/* A spool a probe was still writing (NAME.jsonl.part) when its process died: NAME is
 * <run>.<rank>.<pid>.<time>. Taken once the pid is gone and the file has not changed for a minute (a
 * probe in another pid namespace may share the directory). */
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
    return stat(path, &st) == 0 && time(NULL) - st.st_mtime > 60;
}

/* Every whole spool (FILE.jsonl; a probe still writing one has FILE.jsonl.part), and the parts that
 * dead probes left. */
static void import_spools(tt_collector *c)
{
    c->last_spool_scan = mono();
    if (!c->spool_dir[0]) return;
    DIR *d = opendir(c->spool_dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", c->spool_dir, e->d_name);
        if (e->d_name[0] != '.' && abandoned_part(c->spool_dir, e->d_name)) {
            char whole[1024];
            snprintf(whole, sizeof whole, "%.*s", (int)strlen(path) - 5, path);   /* without ".part" */
            if (rename(path, whole) == 0) import_spool(c, whole);
            continue;
        }
        if (n < 7 || e->d_name[0] == '.' || strcmp(e->d_name + n - 6, ".jsonl")) continue;
        import_spool(c, path);
    }
    closedir(d);
}

static int ingest_one(tt_collector *c, const char *msg, size_t len, tt_ingest_result *res, char *err, size_t errlen)
{
    tt_ingest_result r;
    c->n.received++;
    if (tt_ingest(&c->store, msg, len, mono(), &r, err, errlen)) {
        c->n.rejected++;
        if (c->mirror) {            /* older than the history it loaded: already there, not an error */
            c->n.received--;
            c->n.rejected--;
            return -1;
        }
        tt_run *run = r.duplicate || r.gap ? tt_store_find(&c->store, r.run, r.rank) : NULL;
        if (r.unknown_run && r.run[0] && !c->loading) ask_resend(c, r.run);
        else if (run && r.duplicate) run->ack_due = !c->loading;   /* our ack may be what was lost: repeat it */
        else if (run && r.gap) { if (!c->loading) ask_resend_after(c, run); }
        else log_reject(c, &r, err);
        *res = r;
        return -1;
    }
    *res = r;
    c->n.accepted++;
    c->n.layer_records += r.layer_records;
    if (c->mirror) {           /* a viewer's copy: the real collector records and answers probes */
        if (r.type == TT_MSG_STEP) evaluate(c, &r, !c->loading);   /* the viewer's own rules (a stop goes to the collector) */
        return 0;
    }
    if (!c->loading) {
        /* the token is a secret between the probe and us: never recorded, never shown to a viewer */
        if (strip_token(c, msg, len)) { msg = c->stripped; len = c->stripped_len; }
        if (c->live) tt_livering_push(c->live, mono() - c->live_asked < LIVE_IDLE_S ? msg : NULL, len);
    }
    if (c->rec && !c->loading && tt_recorder_append(c->rec, r.run, msg, len, err, errlen) && !c->quiet) {
        fprintf(c->log, "traintop: recording: %s\n", err);   /* the store still has it */
        fflush(c->log);
    }
    if (c->rec && !c->loading && r.type == TT_MSG_RUN_END) tt_recorder_flush(c->rec);   /* a finished run's file is whole */
    if (c->loading) {           /* history, not a live probe: nothing to answer; its alerts only show */
        if (r.type == TT_MSG_STEP) evaluate(c, &r, 0);
        return 0;
    }
    if (r.seq) {
        tt_run *run = tt_store_find(&c->store, r.run, r.rank);
        if (run) run->ack_due = 1;
        if (r.type == TT_MSG_RUN_END) send_acks(c);   /* the probe is waiting for this one to close */
    } else if (r.type == TT_MSG_RUN_END) {
        control(c, r.run, r.rank, TT_CTL_ACK_END, NULL);   /* protocol version 1 */
    }
    if (r.type == TT_MSG_STEP) {
        const tt_run *stepped = tt_store_find(&c->store, r.run, r.rank);
        if (stepped && stepped->world > 1) tt_crossrank_step(&c->store, stepped, stepped->step);
        evaluate(c, &r, 1);
        /* control messages can be missed by a probe that just connected: repeat a stop until it ends */
        const tt_run *run = tt_store_find(&c->store, r.run, r.rank);
        if (run && run->stop_requested) control(c, r.run, r.rank, "stop", run->stop_reason);
    }
    return 0;
}

static void answer_query(tt_collector *c, const char *req, size_t len)
{
    cJSON *q = cJSON_ParseWithLength(req, len);
    cJSON *rep = cJSON_CreateObject();
    const cJSON *type = q ? cJSON_GetObjectItemCaseSensitive(q, "type") : NULL;
    c->n.queries++;
    cJSON_AddNumberToObject(rep, "v", TT_PROTOCOL_VERSION);
    if (!tt_auth_query_ok(q, c->store.token)) {
        c->n.refused++;
        if (!c->quiet && c->n.refused == 1) {   /* once: a prober must not flood the log */
            fprintf(c->log, "traintop: refused a query without the collector's TRAINTOP_TOKEN (further ones are only counted)\n");
            fflush(c->log);
        }
        cJSON_AddStringToObject(rep, "type", "error");
        cJSON_AddStringToObject(rep, "error", "token: missing or wrong (the collector requires TRAINTOP_TOKEN)");
    } else if (cJSON_IsString(type) && !strcmp(type->valuestring, "ls")) {
        cJSON_AddStringToObject(rep, "type", "ls");
        cJSON_AddItemToObject(rep, "runs", tt_summary_runs(&c->store));
        cJSON *n = cJSON_AddObjectToObject(rep, "counters");
        cJSON_AddNumberToObject(n, "received", (double)c->n.received);
        cJSON_AddNumberToObject(n, "accepted", (double)c->n.accepted);
        cJSON_AddNumberToObject(n, "rejected", (double)c->n.rejected);
        cJSON_AddNumberToObject(n, "refused", (double)c->n.refused);
        cJSON_AddNumberToObject(n, "layer_records", (double)c->n.layer_records);
    } else if (cJSON_IsString(type) && !strcmp(type->valuestring, "history")) {
        /* not JSON-wrapped: the reply is the history's JSON lines themselves */
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(q, "scalar_points");
        const cJSON *lp = cJSON_GetObjectItemCaseSensitive(q, "layer_points");
        size_t spn = cJSON_IsNumber(sp) && sp->valuedouble >= 1 && sp->valuedouble <= 100000 ? (size_t)sp->valuedouble : 2000;
        size_t lpn = cJSON_IsNumber(lp) && lp->valuedouble >= 1 && lp->valuedouble <= 100000 ? (size_t)lp->valuedouble : 200;
        size_t hl;
        char *h = tt_history_encode(&c->store, spn, lpn, &hl);
        if (h) {
            nn_send(c->rep, h, hl, NN_DONTWAIT);
            free(h);
            cJSON_Delete(rep);
            cJSON_Delete(q);
            return;
        }
        cJSON_AddStringToObject(rep, "type", "error");
        cJSON_AddStringToObject(rep, "error", "out of memory encoding the history");
    } else if (cJSON_IsString(type) && !strcmp(type->valuestring, "live")) {
        /* not JSON-wrapped either: a header line, then the messages (collectors/livering.h) */
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(q, "epoch"), *since = cJSON_GetObjectItemCaseSensitive(q, "since");
        double e = cJSON_IsNumber(ep) ? ep->valuedouble : 0, s = cJSON_IsNumber(since) ? since->valuedouble : 0;
        if (!c->live) c->live = tt_livering_new(c->epoch, LIVE_BYTES, LIVE_MSGS);
        c->live_asked = mono();
        size_t ll;
        char *l = c->live && e >= 0 && e < 9007199254740992.0 && s >= 0 && s < 9007199254740992.0
                ? tt_livering_reply(c->live, (uint64_t)e, (uint64_t)s, LIVE_REPLY_BYTES, &ll) : NULL;
        if (l) {
            nn_send(c->rep, l, ll, NN_DONTWAIT);
            free(l);
            cJSON_Delete(rep);
            cJSON_Delete(q);
            return;
        }
        cJSON_AddStringToObject(rep, "type", "error");
        cJSON_AddStringToObject(rep, "error", c->live ? "live: expected epoch and since as integers in 0..2^53" : "out of memory");
    } else if (cJSON_IsString(type) && !strcmp(type->valuestring, "stop")) {
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(q, "run");
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(q, "reason");
        int found = cJSON_IsString(run) &&
                    tt_collector_stop_run(c, run->valuestring, cJSON_IsString(reason) ? reason->valuestring : "stopped by user") == 0;
        cJSON_AddStringToObject(rep, "type", found ? "ok" : "error");
        if (!found) cJSON_AddStringToObject(rep, "error", "no such run");
    } else {
        cJSON_AddStringToObject(rep, "type", "error");
        cJSON_AddStringToObject(rep, "error", "unknown request: expected {\"type\":\"ls\"}, {\"type\":\"history\"}, {\"type\":\"live\"} or {\"type\":\"stop\",\"run\":…}");
    }
    char *txt = cJSON_PrintUnformatted(rep);
    if (txt) nn_send(c->rep, txt, strlen(txt), NN_DONTWAIT);
    free(txt);
    cJSON_Delete(rep);
    cJSON_Delete(q);
}

int tt_collector_process(tt_collector *c, int max_msgs)
{
    if (c->view) return tt_mirror_process(c->view);
    int handled = 0;
    char err[512];
    while (handled < max_msgs) {
        char *buf = NULL;
        int n = nn_recv(c->pull, &buf, NN_MSG, NN_DONTWAIT);
        if (n < 0) break;
        tt_collector_ingest(c, buf, (size_t)n, err, sizeof err);
        nn_freemsg(buf);
        handled++;
    }
    for (int i = 0; i < 16 && c->rep >= 0; i++) {
        char *buf = NULL;
        int n = nn_recv(c->rep, &buf, NN_MSG, NN_DONTWAIT);
        if (n < 0) break;
        answer_query(c, buf, (size_t)n);
        nn_freemsg(buf);
        handled++;
    }
    return handled;
}

/* A probe on this host whose process no longer exists ended without its run_end: it crashed (or was
 * killed). Probes on other hosts (or in another pid namespace) can only go stalled. */
static int probe_gone(const tt_collector *c, const tt_run *r)
{
    if (r->pid <= 0 || strcmp(r->host, c->hostname)) return 0;
    return kill((pid_t)r->pid, 0) == -1 && errno == ESRCH;
}

void tt_collector_tick(tt_collector *c)
{
    double now = mono();
    c->last_tick = now;
    send_acks(c);
    if (now - c->last_spool_scan >= 1.0) import_spools(c);
    if (c->rec) tt_recorder_tick(c->rec);
    if (c->alerts) tt_alerts_reap(c->alerts);
    for (int i = 0; i < c->store.nruns; i++) {
        tt_run *r = c->store.runs[i];
        if (r->state != TT_RUN_RUNNING && r->state != TT_RUN_STALLED && r->state != TT_RUN_NO_END) continue;
        if (c->alerts && !c->loading) {
            tt_alert fired[4];
            int n = tt_alerts_on_tick(c->alerts, r, now - r->last_seen, fired, 4);
            for (int k = 0; k < n; k++) act(c, &fired[k], 1);
        }
        if (probe_gone(c, r)) {
            /* a probe that acknowledges (version 2) spools its end when it could not deliver it: wait for
             * the spool (imported every second) before calling the run crashed */
            if (r->seq_last && r->state != TT_RUN_NO_END) { r->state = TT_RUN_NO_END; r->gone_at = now; }
            else if (!r->seq_last || now - r->gone_at > NO_END_GRACE_S) r->state = TT_RUN_CRASHED;
            else continue;
            c->store.version++;
        } else if (r->state == TT_RUN_RUNNING && now - r->last_seen > c->stall_seconds) {
            r->state = TT_RUN_STALLED;
            c->store.version++;
        }
    }
}

/* A viewer asks the real collector, which repeats the stop to the probes until they end. */
static int mirror_stop(tt_collector *c, const char *run, const char *reason)
{
    cJSON *q = cJSON_CreateObject();
    cJSON_AddNumberToObject(q, "v", TT_PROTOCOL_VERSION);
    cJSON_AddStringToObject(q, "type", "stop");
    cJSON_AddStringToObject(q, "run", run);
    cJSON_AddStringToObject(q, "reason", reason ? reason : "stopped by user");
    char *txt = cJSON_PrintUnformatted(q), err[256];
    cJSON_Delete(q);
    cJSON *rep = txt ? tt_collector_request(c->endpoint, txt, 2000, err, sizeof err) : NULL;
    free(txt);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rep, "type");
    int ok = cJSON_IsString(type) && !strcmp(type->valuestring, "ok");
    cJSON_Delete(rep);
    return ok ? 0 : -1;
}

int tt_collector_stop_run(tt_collector *c, const char *run, const char *reason)
{
    if (c->mirror) return mirror_stop(c, run, reason);
    int found = 0;
    for (int i = 0; i < c->store.nruns; i++) {
        tt_run *r = c->store.runs[i];
        if (strcmp(r->name, run)) continue;
        found = 1;
        r->stop_requested = 1;
        snprintf(r->stop_reason, sizeof r->stop_reason, "%s", reason ? reason : "stopped");
    }
    if (!found) return -1;
    c->store.version++;
    control(c, run, -1, "stop", reason);
    return 0;
}

static int mirror_line(void *ud, const char *line, size_t len)
{
    char err[512];
    return tt_collector_ingest(ud, line, len, err, sizeof err);
}

tt_collector *tt_collector_open_mirror(const char *endpoint, int timeout_ms, tt_alerts *alerts, char *err, size_t errlen)
{
    tt_collector *c = calloc(1, sizeof *c);
    if (!c) { snprintf(err, errlen, "out of memory"); tt_alerts_free(alerts); return NULL; }
    c->pull = c->pub = c->rep = -1;
    c->mirror = 1;
    c->quiet = 1;
    c->alerts = alerts;
    c->log = stderr;
    c->stall_seconds = 1e9;          /* the real collector decides; its states arrive as messages */
    snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
    tt_store_init(&c->store, 0);
    c->store.seq_lenient = 1;       /* what the history left out cannot be resent to a viewer */
    c->last_tick = mono();
    /* The history's lines, then the live messages (older steps are refused by ingest). */
    c->loading = 1;
    c->view = tt_mirror_open(endpoint, timeout_ms, mirror_line, c, err, errlen);
    c->loading = 0;
    if (!c->view) { tt_collector_close(c); return NULL; }
    return c;
}

tt_store *tt_collector_store(tt_collector *c) { return &c->store; }
const char *tt_collector_endpoint(const tt_collector *c) { return c->endpoint; }
void tt_collector_get_counters(const tt_collector *c, tt_collector_counters *out) { *out = c->n; }

int tt_collector_wait(tt_collector *c, int timeout_ms)
{
    struct pollfd pfd[4];
    int fds[4], n = tt_collector_fds(c, fds, 4);
    for (int i = 0; i < n; i++) pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
    int handled = 0;
    if (poll(pfd, (nfds_t)n, timeout_ms) > 0) handled = tt_collector_process(c, 100000);
    if (mono() - c->last_tick >= 0.1) tt_collector_tick(c);
    return handled;
}

cJSON *tt_collector_request(const char *endpoint, const char *request, int timeout_ms, char *err, size_t errlen)
{
    char q[256];
    if (tt_endpoint_derive(endpoint, TT_EP_QUERY, q, sizeof q, err, errlen)) return NULL;
    int s = nn_socket(AF_SP, NN_REQ), unlimited = -1;
    if (s < 0 || nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout_ms, sizeof timeout_ms) < 0 ||
        nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout_ms, sizeof timeout_ms) < 0 ||
        nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &unlimited, sizeof unlimited) < 0 || nn_connect(s, q) < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", q, nn_strerror(nn_errno()));
        if (s >= 0) nn_close(s);
        return NULL;
    }
    cJSON *req = cJSON_Parse(request);
    char *txt = NULL;
    if (!req) snprintf(err, errlen, "request '%.60s': expected a JSON object", request);
    else if (tt_auth_sign(req, err, errlen) == 0 && !(txt = cJSON_PrintUnformatted(req))) snprintf(err, errlen, "out of memory");
    cJSON_Delete(req);
    if (!txt) { nn_close(s); return NULL; }
    char *buf = NULL;
    int n = -1;
    if (nn_send(s, txt, strlen(txt), 0) >= 0) n = nn_recv(s, &buf, NN_MSG, 0);
    free(txt);
    nn_close(s);
    if (n < 0) { snprintf(err, errlen, "no collector answered on %s within %d ms", endpoint, timeout_ms); return NULL; }
    cJSON *rep = cJSON_ParseWithLength(buf, (size_t)n);
    nn_freemsg(buf);
    if (!rep) snprintf(err, errlen, "the collector on %s sent a reply that is not JSON", endpoint);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rep, "type"), *why = cJSON_GetObjectItemCaseSensitive(rep, "error");
    if (cJSON_IsString(type) && !strcmp(type->valuestring, "error")) {
        snprintf(err, errlen, "the collector on %s: %s", endpoint, cJSON_IsString(why) ? why->valuestring : "an error without a message");
        cJSON_Delete(rep);
        return NULL;
    }
    return rep;
}
