/* fmt: compact number formatting for the dashboard — 4 significant digits, SI suffixes for large
 * values, short exponents for tiny ones, "nan"/"inf" spelled out. Never wider than TUI_FMT_MAX-1. */
#ifndef TUI_FMT_H
#define TUI_FMT_H

#include <stddef.h>
#include <stdint.h>

#define TUI_FMT_MAX 16      /* a buffer this large always suffices */

/* 4 significant digits, trailing zeros dropped:
 *   0 → "0", 0.5 → "0.5", 1234 → "1234", 12345 → "12.35k", 1.5e9 → "1.5G",
 *   0.001234 → "0.001234", 1.234e-5 → "1.234e-5", 1e21 → "1e21", NaN → "nan", -Inf → "-inf".
 * Values of 1e-3 ≤ |v| < 1e4 are plain decimals, 1e4 ≤ |v| < 1e18 take k M G T P suffixes,
 * anything else an exponent. Returns buf. */
char *tui_fmt_num(char *buf, size_t len, double v);

/* Counters: exact below 100000 ("99999"), then 4 significant digits with a suffix ("123.5k"). */
char *tui_fmt_count(char *buf, size_t len, uint64_t v);

/* A percentage: one decimal below 10 ("0.8%"), whole above ("23%", "1234%"). Negative or NaN → "-". */
char *tui_fmt_pct(char *buf, size_t len, double pct);

/* Seconds as a short duration: "42s", "3m05s", "2h07m", "3d04h". Negative or NaN → "-". */
char *tui_fmt_duration(char *buf, size_t len, double seconds);

#endif
