/* fmt: number formatting. Rounding is done once, by printf's %e, so a value that rounds up into the
 * next decade (9999.7 → 1.000e+04) is formatted from its rounded digits and lands in the right form. */
#include "fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* |v| ≈ d.ddd × 10^exp with the 4 digits rounded once. */
static void sig4(double av, char digits[5], int *exp)
{
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.3e", av);            /* "d.ddde±XX" */
    digits[0] = tmp[0];
    digits[1] = tmp[2];
    digits[2] = tmp[3];
    digits[3] = tmp[4];
    digits[4] = '\0';
    *exp = atoi(tmp + 6);
}

/* Writes the 4 digits with the decimal point after `point` digits (≤ 0: leading "0.000"), then drops
 * trailing fractional zeros and a bare point. */
static void place(char *out, size_t len, const char *digits, int point)
{
    char s[24];
    size_t n = 0;
    if (point <= 0) {
        s[n++] = '0';
        s[n++] = '.';
        for (int i = 0; i < -point; i++) s[n++] = '0';
        for (int i = 0; i < 4; i++) s[n++] = digits[i];
    } else {
        for (int i = 0; i < 4 || i < point; i++) {
            if (i == point) s[n++] = '.';
            s[n++] = i < 4 ? digits[i] : '0';
        }
    }
    s[n] = '\0';
    if (strchr(s, '.')) {
        while (n > 0 && s[n - 1] == '0') s[--n] = '\0';
        if (n > 0 && s[n - 1] == '.') s[--n] = '\0';
    }
    snprintf(out, len, "%s", s);
}

char *tui_fmt_num(char *buf, size_t len, double v)
{
    if (!buf || len == 0) return buf;
    if (isnan(v)) { snprintf(buf, len, "nan"); return buf; }
    if (isinf(v)) { snprintf(buf, len, v < 0 ? "-inf" : "inf"); return buf; }
    if (v == 0) { snprintf(buf, len, "0"); return buf; }

    const char *sign = v < 0 ? "-" : "";
    char digits[5], body[24];
    int e;
    sig4(fabs(v), digits, &e);
    if (e >= -3 && e <= 3) {
        place(body, sizeof body, digits, e + 1);
        snprintf(buf, len, "%s%s", sign, body);
    } else if (e >= 4 && e < 18) {
        static const char suffix[] = "kMGTP";
        int k = e / 3;
        place(body, sizeof body, digits, e - 3 * k + 1);
        snprintf(buf, len, "%s%s%c", sign, body, suffix[k - 1]);
    } else {
        place(body, sizeof body, digits, 1);
        snprintf(buf, len, "%s%se%d", sign, body, e);
    }
    return buf;
}

char *tui_fmt_count(char *buf, size_t len, uint64_t v)
{
    if (!buf || len == 0) return buf;
    if (v < 100000) snprintf(buf, len, "%llu", (unsigned long long)v);
    else tui_fmt_num(buf, len, (double)v);
    return buf;
}

char *tui_fmt_pct(char *buf, size_t len, double pct)
{
    if (!buf || len == 0) return buf;
    if (!(pct >= 0) || !isfinite(pct)) snprintf(buf, len, "-");
    else if (pct < 9.95) snprintf(buf, len, "%.1f%%", pct);
    else if (pct < 1e6) snprintf(buf, len, "%.0f%%", pct);
    else snprintf(buf, len, ">1e6%%");
    return buf;
}

char *tui_fmt_duration(char *buf, size_t len, double s)
{
    if (!buf || len == 0) return buf;
    if (!(s >= 0) || !isfinite(s)) { snprintf(buf, len, "-"); return buf; }
    unsigned long long t = (unsigned long long)s;
    if (t < 60) snprintf(buf, len, "%llus", t);
    else if (t < 3600) snprintf(buf, len, "%llum%02llus", t / 60, t % 60);
    else if (t < 86400) snprintf(buf, len, "%lluh%02llum", t / 3600, t / 60 % 60);
    else snprintf(buf, len, "%llud%02lluh", t / 86400, t / 3600 % 24);
    return buf;
}
