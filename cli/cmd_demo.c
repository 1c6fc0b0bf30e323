/* traintop demo: an embedded collector, several real training runs (the C MLP demo trainer, one
 * process each, different learning rates) and the dashboard — or, with --headless, a summary. */
#include "cmd.h"
#include "config.h"
#include "../plugins/host.h"
#include "../tui/tui.h"
#include "../collectors/summary.h"
#include "../collectors/alerts.h"
#include "../proto/endpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *name;
    const char *args[8];      /* trainer options, NULL-terminated */
} demo_run;

/* Three learning rates of one recipe, and one AdamW run: learning-rate effects side by side. */
static const demo_run runs[] = {
    { "sgd-lr0.01", { "--optimizer", "sgd", "--lr", "0.01", NULL } },
    { "sgd-lr0.05", { "--optimizer", "sgd", "--lr", "0.05", NULL } },
    { "sgd-lr0.2", { "--optimizer", "sgd", "--lr", "0.2", NULL } },
    { "adamw-lr0.002", { "--optimizer", "adamw", "--lr", "0.002", "--wd", "0.01", NULL } },
};
#define MAX_RUNS ((int)(sizeof runs / sizeof *runs))

typedef struct {
    pid_t pid[MAX_RUNS];
    int status[MAX_RUNS];
    int nruns, alive;
} children;

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The trainer sits beside this binary (bin/), else on PATH. */
static void trainer_path(char *out, size_t len)
{
    if (tt_beside_exe("traintop-demo-trainer", out, len) || access(out, X_OK)) snprintf(out, len, "traintop-demo-trainer");
}

static int spawn(children *ch, int i, const char *exe, const char *endpoint, long steps, long delay_ms, long seed, int quiet_child)
{
    char steps_s[24], delay_s[24], seed_s[24];
    snprintf(steps_s, sizeof steps_s, "%ld", steps);
    snprintf(delay_s, sizeof delay_s, "%ld", delay_ms);
    snprintf(seed_s, sizeof seed_s, "%ld", seed);
    const char *argv[32];
    int a = 0;
    argv[a++] = exe;
    argv[a++] = "--run"; argv[a++] = runs[i].name;
    argv[a++] = "--endpoint"; argv[a++] = endpoint;
    argv[a++] = "--steps"; argv[a++] = steps_s;
    argv[a++] = "--step-delay-ms"; argv[a++] = delay_s;
    argv[a++] = "--seed"; argv[a++] = seed_s;
    argv[a++] = "--quiet";
    for (int k = 0; runs[i].args[k]; k++) argv[a++] = runs[i].args[k];
    argv[a] = NULL;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (quiet_child) {   /* the dashboard owns the terminal */
            int fd = open("/dev/null", O_RDWR);
            if (fd >= 0) { dup2(fd, 0); dup2(fd, 1); dup2(fd, 2); close(fd); }
        }
        signal(SIGINT, SIG_IGN);   /* ^C goes to the dashboard, which stops the runs in order */
        prctl(PR_SET_PDEATHSIG, SIGTERM);   /* and if the dashboard dies, the runs end too */
        execvp(exe, (char *const *)argv);
        fprintf(stderr, "traintop demo: cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    ch->pid[i] = pid;
    ch->alive++;
    return 0;
}

static void reap(children *ch)
{
    for (int i = 0; i < ch->nruns; i++) {
        int st;
        if (ch->pid[i] > 0 && waitpid(ch->pid[i], &st, WNOHANG) == ch->pid[i]) {
            ch->status[i] = st;
            ch->pid[i] = 0;
            ch->alive--;
        }
    }
}

/* Ingests for up to ms with an embedded collector; just sleeps when the runs go to a remote one. */
static void wait_a_bit(tt_collector *c, int ms)
{
    if (c) tt_collector_wait(c, ms);
    else usleep((useconds_t)ms * 1000);
}

/* Asks the trainers to stop, keeps ingesting their last messages, and kills what lingers. */
static void stop_children(children *ch, tt_collector *c)
{
    for (int i = 0; i < ch->nruns; i++) if (ch->pid[i] > 0) kill(ch->pid[i], SIGTERM);
    double deadline = mono() + 5;
    while (ch->alive && mono() < deadline) { wait_a_bit(c, 20); reap(ch); }
    for (int i = 0; i < ch->nruns; i++) if (ch->pid[i] > 0) kill(ch->pid[i], SIGKILL);
    while (ch->alive) { usleep(10000); reap(ch); }
}

static int tick(void *ud)
{
    reap(ud);
    return 0;
}

static int all_ended(tt_collector *c, int nruns)
{
    tt_store *st = tt_collector_store(c);
    if (st->nruns < nruns) return 0;
    for (int i = 0; i < st->nruns; i++)
        if (st->runs[i]->state == TT_RUN_RUNNING || st->runs[i]->state == TT_RUN_STALLED) return 0;
    return 1;
}

/* The demo's runs as the remote collector has them. */
static int remote_summary(const char *endpoint, int nruns, int json)
{
    char err[512];
    cJSON *rep = tt_collector_request(endpoint, "{\"v\":1,\"type\":\"ls\"}", 5000, err, sizeof err);
    if (!rep) { fprintf(stderr, "traintop demo: %s\n", err); return -1; }
    cJSON *mine = cJSON_CreateArray();
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(rep, "runs");
    for (const cJSON *r = cJSON_IsArray(all) ? all->child : NULL; r; r = r->next) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(r, "run");
        for (int i = 0; i < nruns; i++)
            if (cJSON_IsString(name) && !strcmp(name->valuestring, runs[i].name)) cJSON_AddItemToArray(mine, cJSON_Duplicate(r, 1));
    }
    tt_summary_print_json_runs(mine, stdout, json);
    cJSON_Delete(mine);
    cJSON_Delete(rep);
    return 0;
}

static int demo_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        { "headless", no_argument, 0, 'H' }, { "steps", required_argument, 0, 's' }, { "json", no_argument, 0, 'j' },
        { "runs", required_argument, 0, 'r' }, { "seed", required_argument, 0, 'S' }, { "delay-ms", required_argument, 0, 'd' },
        { "endpoint", required_argument, 0, 'e' },
        CMD_RULES_LONGOPTS, CMD_TUI_LONGOPTS, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int headless = 0, json = 0, ch;
    tui_opts to = { .title = "demo", .settings = &tui_settings_file };
    const char *remote = NULL;
    cmd_rules rules = { .nfiles = 0 };
    long steps = -1, nruns = MAX_RUNS, seed = 1, delay_ms = -1;
    while ((ch = getopt_long(argc, argv, "Hs:jr:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'H': headless = 1; break;
        case 'j': json = 1; break;
        case 'e': remote = optarg; break;
        case 's': if (cmd_parse_long("demo", "--steps", optarg, 1, 100000000, &steps)) return 2; break;
        case 'r': if (cmd_parse_long("demo", "--runs", optarg, 1, MAX_RUNS, &nruns)) return 2; break;
        case 'S': if (cmd_parse_long("demo", "--seed", optarg, 0, LONG_MAX, &seed)) return 2; break;
        case 'd': if (cmd_parse_long("demo", "--delay-ms", optarg, 0, 10000, &delay_ms)) return 2; break;
        case 'h': cmd_usage(&cmd_demo_entry, stdout); return 0;
        default: {
            int rr = cmd_rules_option("demo", ch, optarg, &rules);
            if (rr < 0) return 2;
            if (rr || cmd_tui_option(ch, optarg, &to)) break;
            return cmd_bad_option(&cmd_demo_entry, argc, argv);
        }
        }
    }
    if (optind < argc) { fprintf(stderr, "traintop demo: unexpected argument '%s'\n", argv[optind]); return 2; }
    if (json && !headless) { fprintf(stderr, "traintop demo: --json needs --headless\n"); return 2; }
    if (remote && !headless) { fprintf(stderr, "traintop demo: --endpoint needs --headless (to watch, run `traintop --connect E`)\n"); return 2; }
    if (steps < 0) steps = headless ? 1000 : 6000;
    if (delay_ms < 0) delay_ms = headless ? 0 : 15;   /* watchable pace on screen, full speed headless */

    char dir[200], endpoint[256], err[512], exe[PATH_MAX];
    if (remote) {                                /* the runs go to a collector that is already running */
        if (tt_endpoint_check(remote, err, sizeof err)) { fprintf(stderr, "traintop demo: %s\n", err); return 2; }
        snprintf(endpoint, sizeof endpoint, "%s", remote);
        cJSON *alive = tt_collector_request(endpoint, "{\"v\":1,\"type\":\"ls\"}", 2000, err, sizeof err);
        if (!alive) { fprintf(stderr, "traintop demo: %s\n", err); return 1; }
        cJSON_Delete(alive);
    } else {
        if (tt_runtime_dir(dir, sizeof dir, err, sizeof err)) { fprintf(stderr, "traintop demo: %s\n", err); return 1; }
        snprintf(endpoint, sizeof endpoint, "ipc://%s/demo-%ld.sock", dir, (long)getpid());
    }
    if (remote && cmd_rules_given(&rules)) { fprintf(stderr, "traintop demo: --rules/--alert belong to the collector at %s (traintopd --rules)\n", remote); return 2; }
    tt_collector_opts co = { .endpoint = endpoint, .quiet = !headless };
    if (!remote && !(co.alerts = cmd_rules_build(&rules))) return 2;
    tt_collector *c = remote ? NULL : tt_collector_open(&co, err, sizeof err);
    if (!c && !remote) { fprintf(stderr, "traintop demo: %s\n", err); return 1; }

    struct sigaction sa = { .sa_handler = on_signal };
    if (headless) { sigaction(SIGINT, &sa, NULL); sigaction(SIGTERM, &sa, NULL); }
    trainer_path(exe, sizeof exe);
    children kids = { .nruns = (int)nruns };
    for (int i = 0; i < nruns; i++)
        if (spawn(&kids, i, exe, endpoint, steps, delay_ms, seed + i, !headless)) {
            fprintf(stderr, "traintop demo: cannot start run %s: %s\n", runs[i].name, strerror(errno));
            stop_children(&kids, c);
            tt_collector_close(c);
            return 1;
        }

    int rc = 0;
    if (headless) {
        double t0 = mono();
        while (!interrupted && kids.alive) { wait_a_bit(c, 100); reap(&kids); }
        if (interrupted) stop_children(&kids, c);
        if (c) {
            /* The trainers wait for the collector's acknowledgement of their end: drain what is left. */
            double deadline = mono() + 2;
            while (!all_ended(c, (int)nruns) && mono() < deadline) tt_collector_wait(c, 20);
            tt_summary_print(tt_collector_store(c), stdout, json);
        } else if (remote_summary(endpoint, (int)nruns, json)) {
            rc = 1;
        }
        if (!json) fprintf(stderr, "traintop demo: %ld runs x %ld steps in %.1f s\n", nruns, steps, mono() - t0);
        for (int i = 0; i < nruns; i++)
            if (!WIFEXITED(kids.status[i]) || WEXITSTATUS(kids.status[i]) != 0) {
                fprintf(stderr, "traintop demo: run %s exited with status %d\n", runs[i].name,
                        WIFEXITED(kids.status[i]) ? WEXITSTATUS(kids.status[i]) : 128 + WTERMSIG(kids.status[i]));
                rc = 1;
            }
    } else {
        to.on_tick = tick;
        to.ud = &kids;
        rc = tui_run(c, &to);
        stop_children(&kids, c);
    }
    tt_collector_close(c);
    return rc;
}

const cmd_entry cmd_demo_entry = {
    "demo", "[--headless [--json]] [--steps N]", "train demo MLPs (label noise, several learning rates) and watch them",
    "      --headless     no dashboard: run to the end and print a summary per run\n"
    "  -j, --json         with --headless: the summary as a JSON array, one object per run\n"
    "  -s, --steps N      training steps per run (default 6000 on screen, 1000 headless)\n"
    "  -r, --runs N       how many runs, 1..4 (default 4)\n"
    "      --seed N       seed of the first run; run i uses N+i (default 1)\n"
    "      --delay-ms N   pause per training step so the dashboard can be watched (15; headless 0)\n"
    "  -e, --endpoint E   with --headless: send the runs to the collector already running at E\n"
    CMD_RULES_HELP CMD_TUI_HELP,
    demo_exec,
};
