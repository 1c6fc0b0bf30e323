/* spools: the files probes leave for a collector (docs/recording.md, Spools) — which are ready to import
 * (whole ones, and parts whose probe died writing them), and what becomes of each once read: removed
 * when the collector has all of it, else kept as FILE.kept with one line saying why. What a line means
 * is the caller's (a callback): this module knows files, not the store. */
#ifndef TT_SPOOLS_H
#define TT_SPOOLS_H

#include <stddef.h>
#include <stdio.h>

/* One message of a spool: 0 when the collector has it (applied now, or a copy of one it had), -1 with
 * why (one line) when it could not merge it live. */
typedef int (*tt_spool_line_fn)(void *ud, const char *line, size_t len, char *why, size_t whylen);

/* Reads every ready spool in dir through fn; before a spool is removed, done(ud) makes what fn applied
 * durable (flushes the recording). One line per spool on log (NULL: none). A missing dir is no spool. */
void tt_spools_import(const char *dir, tt_spool_line_fn fn, void (*done)(void *ud), void *ud, FILE *log);

#endif
