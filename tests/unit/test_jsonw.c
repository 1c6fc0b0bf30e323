/* jsonw: numbers are printf's text without printf — jw_num exactly %.10g, jw_float exactly %.9g (so a
 * float comes back bit for bit), jw_int exactly %lld — and non-finite values stay JSON strings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/jsonw.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)   /* xorshift64*: reproducible without libc's rand */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static double bits_double(uint64_t b) { double d; memcpy(&d, &b, sizeof d); return d; }
static float bits_float(uint32_t b) { float f; memcpy(&f, &b, sizeof f); return f; }

/* The writer's text for one number (the buffer is reused). */
static const char *num_text(jsonw *w, double v) { jw_reset(w); jw_num(w, v); return w->buf; }
static const char *float_text(jsonw *w, float v) { jw_reset(w); jw_float(w, v); return w->buf; }

static void check_double(jsonw *w, double v)
{
    char ref[48];
    const char *got = num_text(w, v);
    if (isnan(v)) { assert_string_equal(got, "\"NaN\""); return; }
    if (isinf(v)) { assert_string_equal(got, v > 0 ? "\"Inf\"" : "\"-Inf\""); return; }
    snprintf(ref, sizeof ref, "%.10g", v);
    if (strcmp(got, ref)) fail_msg("jw_num(%a): got %s, %%.10g gives %s", v, got, ref);
    assert_true(strtod(got, NULL) == strtod(ref, NULL));
}

static void check_float(jsonw *w, float f)
{
    char ref[48];
    const char *got = float_text(w, f);
    if (isnan(f)) { assert_string_equal(got, "\"NaN\""); return; }
    if (isinf(f)) { assert_string_equal(got, f > 0 ? "\"Inf\"" : "\"-Inf\""); return; }
    snprintf(ref, sizeof ref, "%.9g", (double)f);
    if (strcmp(got, ref)) fail_msg("jw_float(%a): got %s, %%.9g gives %s", (double)f, got, ref);
    float back = (float)strtod(got, NULL);
    if (memcmp(&back, &f, sizeof f)) fail_msg("jw_float(%a): %s reads back as %a", (double)f, got, (double)back);
}

static void doubles_match_printf(void **state)
{
    (void)state;
    jsonw w;
    jw_init(&w);
    const double fixed[] = { 0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1e-5, 1e-4, 9.5e-5, 123456789.0, 1234567890.0, 12345678901.0,
                             1234567890.5, 1234567891.5, 9999999999.5, 0.99999999995, 1e22, 1e23, 1e-22, 1e-23,
                             1e50, 1e-50, 9.99999999999e49, DBL_MAX, -DBL_MAX, DBL_MIN, DBL_TRUE_MIN, -DBL_TRUE_MIN,
                             DBL_MIN / 3, 4.9406564584124654e-324, 2.2250738585072009e-308, 1e308, 1e-308,
                             NAN, INFINITY, -INFINITY, 1.0 / 3, 2.0 / 3, M_PI, 1e15 + 0.3, 4503599627370497.0 };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) check_double(&w, fixed[i]);
    for (int i = 0; i < 200000; i++) check_double(&w, bits_double(next()));       /* every exponent, NaN payloads */
    for (int i = 0; i < 300000; i++) {                                            /* the fast path's range */
        double m = (double)(next() >> 11) / 9007199254740992.0;                   /* [0, 1) */
        int e = (int)(next() % 121) - 60;
        check_double(&w, (next() & 1 ? -1 : 1) * (1 + m) * pow(10, e));
    }
    for (int i = 0; i < 100000; i++) {                                            /* exact ties: n + 0.5 of 10 digits */
        double v = (double)(1000000000 + next() % 9000000000ull) + 0.5;
        check_double(&w, v / pow(10, (int)(next() % 20)));
        check_double(&w, v);
    }
    jw_free(&w);
}

static void floats_round_trip(void **state)
{
    (void)state;
    jsonw w;
    jw_init(&w);
    const float fixed[] = { 0.0f, -0.0f, 1.0f, 0.1f, -0.1f, 1.0f / 3, 16777216.0f, 16777217.0f, 1e-5f, 1e-4f,
                            FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, FLT_TRUE_MIN, -FLT_TRUE_MIN, FLT_MIN / 2,
                            bits_float(0x007fffffu), bits_float(0x00000002u), 3.4028234e38f, 1e38f, 1e-38f,
                            NAN, INFINITY, -INFINITY, (float)M_PI };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) check_float(&w, fixed[i]);
    for (int i = 0; i < 500000; i++) check_float(&w, bits_float((uint32_t)(next() >> 32)));
    for (uint32_t b = 1; b < 0x00800000u; b += 4099) check_float(&w, bits_float(b));   /* denormals */
    for (uint32_t b = 0x7f000000u; b < 0x7f800000u; b += 4099) check_float(&w, bits_float(b));   /* near the top */
    jw_free(&w);
}

static void ints_match_printf(void **state)
{
    (void)state;
    jsonw w;
    jw_init(&w);
    char ref[32];
    const int64_t fixed[] = { 0, 1, -1, 9, 10, -10, 99, 100, INT64_MAX, INT64_MIN, INT64_MIN + 1, 9007199254740992LL };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed + 200000; i++) {
        int64_t v = i < sizeof fixed / sizeof *fixed ? fixed[i] : (int64_t)(next() >> (next() % 64));
        if (i >= sizeof fixed / sizeof *fixed && (next() & 1)) v = -v;
        jw_reset(&w);
        jw_int(&w, v);
        snprintf(ref, sizeof ref, "%" PRId64, v);
        assert_string_equal(w.buf, ref);
    }
    jw_free(&w);
}

/* A message of numbers of every kind is valid JSON, and each value reads back as written. */
/* Times: whole microseconds as "%lld.%06lld" wrote them for non-negative times, random and at the edges. */
static void times_match_printf(void **state)
{
    (void)state;
    jsonw w;
    jw_init(&w);
    const double fixed[] = { 0, 1e-6, 0.5, 1.0000005, 59.999999, 1733380000.123456, 4102444800.999999 };
    for (int i = 0; i < 100000 + (int)(sizeof fixed / sizeof *fixed); i++) {
        double t = i < (int)(sizeof fixed / sizeof *fixed) ? fixed[i] : (double)(next() % 4102444800000000ull) * 1e-6;
        char ref[48];
        long long us = llround(t * 1e6);
        snprintf(ref, sizeof ref, "%lld.%06lld", us / 1000000, us % 1000000);
        jw_reset(&w);
        jw_time(&w, t);
        assert_string_equal(w.buf, ref);
    }
    jw_reset(&w);
    jw_time(&w, -1.5);                           /* before the epoch: a plain negative number */
    assert_string_equal(w.buf, "-1.500000");
    jw_free(&w);
}

static void output_is_json(void **state)
{
    (void)state;
    jsonw w;
    jw_init(&w);
    enum { N = 2000 };
    double v[N];
    jw_raw(&w, "[");
    for (int i = 0; i < N; i++) {
        v[i] = i % 3 == 0 ? bits_double(next()) : i % 3 == 1 ? (double)bits_float((uint32_t)next()) : (double)(int64_t)next();
        jw_sep(&w);
        if (i % 3 == 0) jw_num(&w, v[i]);
        else if (i % 3 == 1) jw_float(&w, (float)v[i]);
        else jw_int(&w, (int64_t)v[i]);
    }
    jw_raw(&w, "]");
    cJSON *a = cJSON_Parse(w.buf);
    assert_non_null(a);
    assert_int_equal(cJSON_GetArraySize(a), N);
    int i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (isnan(v[i])) { assert_true(cJSON_IsString(e) && !strcmp(e->valuestring, "NaN")); continue; }
        if (isinf(v[i])) { assert_true(cJSON_IsString(e)); continue; }
        assert_true(cJSON_IsNumber(e));
        if (i % 3 == 1) assert_true((float)e->valuedouble == (float)v[i]);
        else if (i % 3 == 0) assert_true(fabs(e->valuedouble - v[i]) <= 5e-10 * fabs(v[i]));
    }
    cJSON_Delete(a);
    jw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(doubles_match_printf),
        cmocka_unit_test(floats_round_trip),
        cmocka_unit_test(ints_match_printf),
        cmocka_unit_test(times_match_printf),
        cmocka_unit_test(output_is_json),
    };
    return cmocka_run_group_tests_name("jsonw", tests, NULL, NULL);
}
