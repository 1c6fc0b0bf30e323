/* filter: regcomp/regexec with REG_EXTENDED | REG_NOSUB; a failed compile leaves the last good one. */
#include "filter.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void tui_filter_init(tui_filter *f)
{
    memset(f, 0, sizeof *f);
}

void tui_filter_free(tui_filter *f)
{
    if (f->compiled) regfree(&f->re);
    f->compiled = 0;
}

int tui_filter_set(tui_filter *f, const char *pattern)
{
    if (!pattern) pattern = "";
    snprintf(f->pattern, sizeof f->pattern, "%s", pattern);
    f->err[0] = '\0';
    if (strcmp(f->pattern, f->active) == 0 && (f->compiled || !f->active[0])) return 0;
    if (!f->pattern[0]) {
        tui_filter_free(f);
        f->active[0] = '\0';
        f->gen++;
        return 0;
    }
    int icase = 1;
    for (const char *p = f->pattern; *p; p++)
        if (isupper((unsigned char)*p)) { icase = 0; break; }
    regex_t re;
    int rc = regcomp(&re, f->pattern, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
    if (rc != 0) {
        char msg[128];
        regerror(rc, &re, msg, sizeof msg);
        snprintf(f->err, sizeof f->err, "%s", msg);
        return -1;
    }
    tui_filter_free(f);
    f->re = re;
    f->compiled = 1;
    snprintf(f->active, sizeof f->active, "%s", f->pattern);
    f->gen++;
    return 0;
}

int tui_filter_match(const tui_filter *f, const char *name)
{
    if (!f->compiled) return 1;
    return regexec(&f->re, name ? name : "", 0, NULL, 0) == 0;
}

int tui_filter_on(const tui_filter *f) { return f->compiled; }
