/* encode: the probe side of the wire, written straight into text (no DOM on the training thread). The
 * order of the fields is fixed: the collector's fast path (fastjson) takes messages in this shape. */
#include "encode.h"

void tt_enc_open(jsonw *w, const tt_enc_sender *s, tt_msg_type type, double time)
{
    jw_raw(w, "{");
    jw_key(w, "v"); jw_int(w, TT_PROTOCOL_VERSION);
    jw_key(w, "type"); jw_str(w, tt_msg_type_name(type));
    jw_key(w, "run"); jw_str(w, s->run);
    jw_key(w, "rank"); jw_int(w, s->rank);
    if (s->seq) { jw_key(w, "seq"); jw_int(w, (int64_t)s->seq); }
    if (s->base) { jw_key(w, "base"); jw_int(w, (int64_t)s->base); }
    if (time > 0) { jw_key(w, "time"); jw_time(w, time); }
    if (s->token && s->token[0]) { jw_key(w, "token"); jw_str(w, s->token); }
}

void tt_enc_header(jsonw *w, const tt_enc_sender *s, tt_msg_type type, double time)
{
    jw_reset(w);
    tt_enc_open(w, s, type, time);
}

void tt_enc_run_start_begin(jsonw *w, const tt_enc_sender *s, double time, int world, int64_t pid,
                            const char *host, int every, const char *hparams_json)
{
    tt_enc_header(w, s, TT_MSG_RUN_START, time);
    jw_key(w, "world"); jw_int(w, world);
    jw_key(w, "pid"); jw_int(w, pid);
    jw_key(w, "host"); jw_str(w, host);
    jw_key(w, "every"); jw_int(w, every);
    jw_key(w, "hparams"); jw_raw(w, hparams_json ? hparams_json : "{}");
    jw_key(w, "stats"); jw_raw(w, "[");
    for (int k = 0; k < TT_STAT_COUNT; k++) { jw_sep(w); jw_str(w, tt_stat_names[k]); }
    jw_raw(w, "]");
    jw_key(w, "row_stats"); jw_int(w, TT_NSTATS);
    jw_key(w, "layers"); jw_raw(w, "[");
}

void tt_enc_run_start_layer(jsonw *w, const char *name, size_t rows, size_t cols)
{
    jw_sep(w); jw_raw(w, "{");
    jw_key(w, "name"); jw_str(w, name);
    jw_key(w, "rows"); jw_int(w, (int64_t)rows);
    jw_key(w, "cols"); jw_int(w, (int64_t)cols);
    jw_raw(w, "}");
}

void tt_enc_run_start_end(jsonw *w) { jw_raw(w, "]}"); }

void tt_enc_step_begin(jsonw *w, const tt_enc_sender *s, double time, int64_t step)
{
    tt_enc_header(w, s, TT_MSG_STEP, time);
    jw_key(w, "step"); jw_int(w, step);
}

void tt_enc_rows_begin(jsonw *w) { jw_key(w, "layers"); jw_raw(w, "["); }

void tt_enc_row(jsonw *w, const double stats[TT_NSTATS])
{
    jw_sep(w); jw_raw(w, "[");
    for (int k = 0; k < TT_NSTATS; k++) { jw_sep(w); jw_num(w, stats[k]); }
    jw_raw(w, "]");
}

void tt_enc_rows_end(jsonw *w) { jw_raw(w, "]"); }

void tt_enc_extras_begin(jsonw *w) { jw_key(w, "extra"); jw_raw(w, "["); }

void tt_enc_extra(jsonw *w, int layer, int stat, double value, int64_t at_step)
{
    jw_sep(w); jw_raw(w, "[");
    jw_int(w, layer); jw_sep(w); jw_int(w, stat); jw_sep(w);
    jw_num(w, value);
    if (at_step != TT_ENC_AT_STEP) { jw_sep(w); jw_int(w, at_step); }
    jw_raw(w, "]");
}

void tt_enc_extras_end(jsonw *w) { jw_raw(w, "]"); }

void tt_enc_scalars_begin(jsonw *w) { jw_key(w, "scalars"); jw_raw(w, "{"); }

void tt_enc_scalar(jsonw *w, const char *name, double value)
{
    jw_key(w, name);
    jw_num(w, value);
}

void tt_enc_scalars_end(jsonw *w) { jw_raw(w, "}"); }

void tt_enc_step_end(jsonw *w) { jw_raw(w, "}"); }

void tt_enc_run_end(jsonw *w, const tt_enc_sender *s, double time, int64_t step, const char *status,
                    uint64_t steps, uint64_t sent, uint64_t dropped, uint64_t spooled)
{
    tt_enc_header(w, s, TT_MSG_RUN_END, time);
    jw_key(w, "step"); jw_int(w, step);
    jw_key(w, "status"); jw_str(w, status);
    jw_key(w, "steps"); jw_int(w, (int64_t)steps);
    jw_key(w, "sent"); jw_int(w, (int64_t)sent);
    jw_key(w, "dropped"); jw_int(w, (int64_t)dropped);
    jw_key(w, "spooled"); jw_int(w, (int64_t)spooled);
    jw_raw(w, "}");
}
