/* collector: binds the endpoints, validates and ingests probe messages into the store, answers queries,
 * and sends control messages back to probes. Single-threaded: the owner polls tt_collector_fds() and
 * calls tt_collector_process() when one is readable, so a dashboard can sleep on sockets and keyboard. */
#ifndef TT_COLLECTOR_H
#define TT_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "store.h"

typedef struct tt_collector tt_collector;

typedef struct {
    const char *endpoint;      /* NULL: the default endpoint */
    double stall_seconds;      /* a running run with no message for this long is stalled (0: 30 s) */
    size_t level_cap;          /* scalar series buckets per level (0: 512; layer series use min(this, 32)) */
    FILE *log;                 /* one line per rejected message cause; NULL: stderr */
    int quiet;                 /* suppress log lines (still counted) */
    const char *record_dir;    /* append every accepted message to DIR/<run>.jsonl; NULL: no recording.
                                  Recordings already there are loaded first, so a restart continues them. */
    int record_no_load;        /* record, but do not load what record_dir holds (a dashboard's default
                                  recording keeps every run ever made; showing them all is not wanted) */
    double flush_seconds;      /* recording flush interval (0: 0.2 s) */
    int allow_remote;          /* permit tcp:// on an address other than loopback (a warning is logged) */
    int insecure_tcp;          /* permit tcp:// without TRAINTOP_TOKEN (anyone reaching the port may read, feed
                                  and stop runs; a warning is logged) */
    struct tt_alerts *alerts;  /* rules to evaluate (owned by the collector from now on); NULL: none. On
                                  loaded history (record_dir, tt_collector_load) they fire to show only:
                                  no log line, no actions */
    const char *alerts_log;    /* JSON lines of fired rules; NULL: RECORD_DIR/alerts.jsonl when recording */
} tt_collector_opts;

typedef struct {
    uint64_t received;         /* messages read from the socket */
    uint64_t accepted;
    uint64_t rejected;
    uint64_t layer_records;    /* per-layer statistic rows ingested */
    uint64_t queries;
    uint64_t refused;          /* queries without the collector's token */
} tt_collector_counters;

tt_collector *tt_collector_open(const tt_collector_opts *o, char *err, size_t errlen);
void tt_collector_close(tt_collector *c);

/* File descriptors that become readable when there is work; returns how many were written (≤ max). */
int tt_collector_fds(tt_collector *c, int *fds, int max);
/* Handles up to max_msgs pending messages and queries without waiting; returns how many were handled. */
int tt_collector_process(tt_collector *c, int max_msgs);
/* For loops with nothing else to wait on: sleeps until a message arrives or timeout_ms passes,
 * handles what came and ticks. Returns the number handled. */
int tt_collector_wait(tt_collector *c, int timeout_ms);
/* Time-based housekeeping (stalled runs); call at least once a second. */
void tt_collector_tick(tt_collector *c);

/* Validates and applies one message as if it had arrived on the socket (tests, replay). 0 or -1 + err. */
int tt_collector_ingest(tt_collector *c, const char *msg, size_t len, char *err, size_t errlen);

/* A viewer's collector: a copy of a remote collector's store, rebuilt from its downsampled history
 * and then kept current from its live messages (tt_collector_fds / _process as usual). Stop requests
 * go to the remote collector. alerts (owned from now on, also on failure; NULL: none): the viewer's
 * own rules, evaluated on the history (shown only) and then live (a stop is asked of the remote
 * collector, which keeps its own rules). NULL with err when no collector answers within timeout_ms. */
tt_collector *tt_collector_open_mirror(const char *endpoint, int timeout_ms, struct tt_alerts *alerts, char *err, size_t errlen);

/* Loads a recording (DIR/<run>.jsonl) into the store without recording it again. Returns the number
 * of messages accepted, or -1 with err. Rejected lines are counted and logged like socket messages. */
long tt_collector_load(tt_collector *c, const char *path, char *err, size_t errlen);

/* Replaces the rules (SIGHUP reload): the collector owns the new set and frees the old one. */
void tt_collector_set_alerts(tt_collector *c, struct tt_alerts *a);
/* The rules in use (the collector's; NULL: none), e.g. to reload from them (tt_alerts_reload). */
struct tt_alerts *tt_collector_alerts(const tt_collector *c);

/* Loads several files holding parts of the same runs (a recording and a probe's spool), merged by step. */
long tt_collector_load_merged(tt_collector *c, const char *const *paths, int n, char *err, size_t errlen);

/* Asks every rank of a run to stop; the probe's tt_probe_should_stop() then returns the reason. */
int tt_collector_stop_run(tt_collector *c, const char *run, const char *reason);

/* One request to a collector's query socket (docs/protocol.md), e.g. {"v":1,"type":"ls"}, sent with
 * $TRAINTOP_TOKEN when set: the parsed reply, or NULL with err (no collector within timeout_ms, a reply
 * that is not JSON, or an error reply: its message, e.g. the token refused or no such run). */
cJSON *tt_collector_request(const char *endpoint, const char *request, int timeout_ms, char *err, size_t errlen);

tt_store *tt_collector_store(tt_collector *c);
const char *tt_collector_endpoint(const tt_collector *c);
void tt_collector_get_counters(const tt_collector *c, tt_collector_counters *out);

#endif
