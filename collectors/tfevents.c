/* tfevents: the few protobuf messages TensorBoard reads, encoded by hand (varints and length-delimited
 * fields), from tensorflow/core/util/event.proto and framework/summary.proto, tensor.proto:
 *   Event        { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary      { repeated Value value = 1; }
 *   Value        { string tag = 1; TensorProto tensor = 8; SummaryMetadata metadata = 9; }
 *   SummaryMetadata { PluginData plugin_data = 1; }  PluginData { string plugin_name = 1; }
 *   TensorProto  { DataType dtype = 1 (DT_DOUBLE = 2); TensorShapeProto tensor_shape = 2 (empty: a scalar);
 *                  repeated double double_val = 6 [packed]; }
 * A record: uint64 length, uint32 masked crc32c(length), data, uint32 masked crc32c(data), little-endian. */
#include "tfevents.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A growable byte buffer. */
typedef struct {
    unsigned char *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const void *data, size_t len)
{
    if (b->oom) return;
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
}

static void varint(buf *b, uint64_t v)
{
    unsigned char out[10];
    size_t n = 0;
    do {
        out[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(b, out, n);
}

static void key(buf *b, unsigned field, unsigned wire) { varint(b, (uint64_t)field << 3 | wire); }

static void le64(buf *b, uint64_t v)
{
    unsigned char out[8];
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)(v >> (8 * i));
    put(b, out, 8);
}

static void f_double(buf *b, unsigned field, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    key(b, field, 1);
    le64(b, u);
}

static void f_bytes(buf *b, unsigned field, const void *data, size_t len)
{
    key(b, field, 2);
    varint(b, len);
    put(b, data, len);
}

static void f_string(buf *b, unsigned field, const char *s) { f_bytes(b, field, s, strlen(s)); }

uint32_t tt_crc32c(const void *data, size_t len)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {                 /* idempotent: two threads racing here write the same values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    uint32_t crc = 0xFFFFFFFFu;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

uint32_t tt_tfrecord_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

struct tt_tfevents {
    FILE *f;
    char path[4096];
    buf event;                 /* scratch for one Event */
    buf values;                /* the pending step's Summary.Value fields */
    buf scratch;
    int64_t step;
    double wall_time;
    int pending;
    int failed;
};

static void record(tt_tfevents *w, const buf *data)
{
    unsigned char hdr[12];
    uint64_t len = data->n;
    for (int i = 0; i < 8; i++) hdr[i] = (unsigned char)(len >> (8 * i));
    uint32_t c = tt_tfrecord_mask(tt_crc32c(hdr, 8));
    for (int i = 0; i < 4; i++) hdr[8 + i] = (unsigned char)(c >> (8 * i));
    uint32_t d = tt_tfrecord_mask(tt_crc32c(data->p, data->n));
    unsigned char tail[4] = { (unsigned char)d, (unsigned char)(d >> 8), (unsigned char)(d >> 16), (unsigned char)(d >> 24) };
    if (fwrite(hdr, 1, 12, w->f) != 12 || fwrite(data->p, 1, data->n, w->f) != data->n || fwrite(tail, 1, 4, w->f) != 4) w->failed = 1;
}

static void flush_step(tt_tfevents *w)
{
    if (!w->pending) return;
    w->event.n = 0;
    f_double(&w->event, 1, w->wall_time);
    key(&w->event, 2, 0);
    varint(&w->event, (uint64_t)w->step);
    f_bytes(&w->event, 5, w->values.p, w->values.n);   /* Summary: the Value fields, each as field 1 */
    if (w->event.oom || w->values.oom) w->failed = 1;
    else record(w, &w->event);
    w->values.n = 0;
    w->pending = 0;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc && errno != EEXIST) return -1;
    }
    return mkdir(path, 0755) && errno != EEXIST ? -1 : 0;
}

tt_tfevents *tt_tfevents_open(const char *dir, double wall_time, char *err, size_t errlen)
{
    tt_tfevents *w = calloc(1, sizeof *w);
    if (!w) { snprintf(err, errlen, "out of memory"); return NULL; }
    char d[4096], host[64] = "localhost";
    snprintf(d, sizeof d, "%s", dir);
    gethostname(host, sizeof host - 1);
    if (mkdirs(d)) { snprintf(err, errlen, "%s: cannot create the directory: %s", dir, strerror(errno)); free(w); return NULL; }
    snprintf(w->path, sizeof w->path, "%s/events.out.tfevents.%lld.%s.traintop", dir, (long long)wall_time, host);
    if (!(w->f = fopen(w->path, "wb"))) { snprintf(err, errlen, "%s: %s", w->path, strerror(errno)); free(w); return NULL; }
    f_double(&w->event, 1, wall_time);
    f_string(&w->event, 3, "brain.Event:2");
    record(w, &w->event);
    return w;
}

int tt_tfevents_scalar(tt_tfevents *w, int64_t step, double wall_time, const char *tag, double value, char *err, size_t errlen)
{
    if (w->pending && step != w->step) flush_step(w);
    if (!w->pending) { w->step = step; w->wall_time = wall_time; w->pending = 1; }
    buf *v = &w->scratch, tensor = { 0 }, meta = { 0 }, plugin = { 0 };
    v->n = 0;
    f_string(v, 1, tag);
    key(&tensor, 1, 0);
    varint(&tensor, 2);                           /* DT_DOUBLE */
    f_bytes(&tensor, 2, "", 0);                   /* shape []: a scalar */
    unsigned char le[8];
    uint64_t u;
    memcpy(&u, &value, sizeof u);
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(u >> (8 * i));
    f_bytes(&tensor, 6, le, 8);                   /* double_val, packed */
    f_bytes(v, 8, tensor.p, tensor.n);
    f_string(&plugin, 1, "scalars");
    f_bytes(&meta, 1, plugin.p, plugin.n);
    f_bytes(v, 9, meta.p, meta.n);
    int oom = tensor.oom || meta.oom || plugin.oom || v->oom;
    free(tensor.p);
    free(meta.p);
    free(plugin.p);
    if (!oom) f_bytes(&w->values, 1, v->p, v->n);
    if (oom || w->values.oom) { snprintf(err, errlen, "%s: out of memory", w->path); return -1; }
    if (w->failed) { snprintf(err, errlen, "%s: write failed: %s", w->path, strerror(errno)); return -1; }
    return 0;
}

int tt_tfevents_close(tt_tfevents *w, char *err, size_t errlen)
{
    flush_step(w);
    int failed = w->failed | (fclose(w->f) != 0);
    if (failed) snprintf(err, errlen, "%s: write failed: %s", w->path, strerror(errno));
    free(w->event.p);
    free(w->values.p);
    free(w->scratch.p);
    free(w);
    return failed ? -1 : 0;
}
