/* livering: a circular array of owned copies; the numbers are consecutive, so message S sits at a fixed
 * offset from the oldest one. */
#include "livering.h"
#include "../proto/protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char *text; size_t len; } entry;

struct tt_livering {
    entry *e;
    size_t cap, head, count;   /* e[head] is the oldest, count entries from there */
    size_t bytes, max_bytes;
    uint64_t next;             /* the number of the next message; the oldest is next - count */
    uint64_t epoch;
};

tt_livering *tt_livering_new(uint64_t epoch, size_t max_bytes, size_t max_msgs)
{
    tt_livering *r = calloc(1, sizeof *r);
    if (!r || !(r->e = calloc(max_msgs ? max_msgs : 1, sizeof *r->e))) { free(r); return NULL; }
    r->cap = max_msgs ? max_msgs : 1;
    r->max_bytes = max_bytes;
    r->next = 1;
    r->epoch = epoch;
    return r;
}

static void drop_oldest(tt_livering *r)
{
    entry *e = &r->e[r->head];
    r->bytes -= e->len;
    free(e->text);
    *e = (entry){ 0 };
    r->head = (r->head + 1) % r->cap;
    r->count--;
}

void tt_livering_free(tt_livering *r)
{
    if (!r) return;
    while (r->count) drop_oldest(r);
    free(r->e);
    free(r);
}

void tt_livering_push(tt_livering *r, const char *msg, size_t len)
{
    r->next++;
    char *copy = msg && len <= r->max_bytes ? malloc(len ? len : 1) : NULL;
    if (!copy) {                               /* not kept: nobody may think they have everything */
        while (r->count) drop_oldest(r);
        return;
    }
    for (size_t i = 0; i < len; i++) copy[i] = msg[i] == '\n' || msg[i] == '\r' ? ' ' : msg[i];
    while (r->count && (r->count == r->cap || r->bytes + len > r->max_bytes)) drop_oldest(r);
    r->e[(r->head + r->count) % r->cap] = (entry){ copy, len };
    r->count++;
    r->bytes += len;
}

uint64_t tt_livering_next(const tt_livering *r) { return r->next; }

char *tt_livering_reply(const tt_livering *r, uint64_t epoch, uint64_t since, size_t max_bytes, size_t *len)
{
    uint64_t oldest = r->next - r->count;
    int gap = epoch && (epoch != r->epoch || since < oldest || since > r->next);
    uint64_t from = !epoch || gap ? r->next : since, to = from;
    size_t body = 0;
    while (to < r->next) {
        const entry *e = &r->e[(r->head + (to - oldest)) % r->cap];
        if (to > from && body + e->len + 1 > max_bytes) break;
        body += e->len + 1;
        to++;
    }
    char head[128];
    int hl = snprintf(head, sizeof head, "{\"v\":%d,\"type\":\"live\",\"epoch\":%llu,\"next\":%llu,\"gap\":%s,\"more\":%s}\n",
                      TT_PROTOCOL_VERSION, (unsigned long long)r->epoch, (unsigned long long)to, gap ? "true" : "false", to < r->next ? "true" : "false");
    char *out = malloc((size_t)hl + body);
    if (!out) return NULL;
    memcpy(out, head, (size_t)hl);
    size_t o = (size_t)hl;
    for (uint64_t s = from; s < to; s++) {
        const entry *e = &r->e[(r->head + (s - oldest)) % r->cap];
        memcpy(out + o, e->text, e->len);
        o += e->len;
        out[o++] = '\n';
    }
    *len = o;
    return out;
}
