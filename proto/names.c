/* names: one definition of a valid name, shared by both ends of the wire. */
#include "names.h"
#include "traintop/probe.h"

#include <string.h>

int tt_run_name_ok(const char *s)
{
    if (!s || !*s || *s == '.' || *s == '-' || strlen(s) >= TT_NAME_MAX) return 0;   /* not a hidden file, not an option */
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_.:+=-", c)))
            return 0;
    }
    return 1;
}

int tt_label_ok(const char *s)
{
    if (!s || !*s || strlen(s) >= TT_NAME_MAX) return 0;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\') return 0;
    return 1;
}
