/* tui/core/keys: the one key table — complete help, no key bound twice in any view (with vim keys on or
 * off), the essential keys present everywhere, and dispatch reaching the handlers per view. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../tui/core/app.h"
#include "../../tui/core/keys.h"

static void test_every_binding_documented(void **state)
{
    (void)state;
    assert_true(tui_nkeys > 0);
    for (int i = 0; i < tui_nkeys; i++) {
        const tui_key *k = &tui_keys[i];
        assert_non_null(k->fn);
        assert_non_null(k->label);
        assert_true(strlen(k->label) > 0);
        assert_non_null(k->help);
        assert_true(strlen(k->help) >= 8);
        assert_true(strlen(k->label) + strlen(k->help) + 6 <= 80);   /* one help line at 80 columns */
        assert_true(k->codes[0] != 0);
        if (k->fkey) {
            assert_non_null(k->hint);
            assert_true(strlen(k->hint) > 0);
        }
        for (const char *p = k->label; *p; p++) assert_true(*p >= 0x20 && *p < 0x7f);   /* ASCII: works everywhere */
    }
}

static void test_no_duplicate_keys(void **state)
{
    (void)state;
    for (int vim = 0; vim <= 1; vim++)
        for (int v = 0; v < TUI_NVIEWS; v++)
            for (int i = 0; i < tui_nkeys; i++) {
                if (!tui_key_in_view(&tui_keys[i], v, vim)) continue;
                for (int j = 0; j < TUI_KEY_MAX_CODES && tui_keys[i].codes[j]; j++) {
                    int code = tui_keys[i].codes[j];
                    int seen = 0;
                    for (int k = 0; k < tui_nkeys; k++) {
                        if (!tui_key_in_view(&tui_keys[k], v, vim)) continue;
                        for (int m = 0; m < TUI_KEY_MAX_CODES && tui_keys[k].codes[m]; m++) seen += tui_keys[k].codes[m] == code;
                    }
                    if (seen != 1) fail_msg("key code %d is bound %d times in view %d (vim %d)", code, seen, v, vim);
                    assert_ptr_equal(tui_key_lookup(code, v, vim), &tui_keys[i]);
                }
            }
    for (int i = 0; i < tui_nkeys; i++)                 /* the footer and help labels are distinct too */
        for (int k = 0; k < i; k++) assert_string_not_equal(tui_keys[i].label, tui_keys[k].label);
}

static void test_essential_keys(void **state)
{
    (void)state;
    const int need[] = { 'q', '?', 'j', 'k', 'p', KEY_UP, KEY_DOWN, KEY_NPAGE, KEY_PPAGE, KEY_HOME, KEY_END, KEY_LEFT, KEY_RIGHT,
                         '1', '2', '3', '4', '5', '6', 27, KEY_MOUSE, ']', '[' };
    for (int vim = 0; vim <= 1; vim++)
        for (int v = 0; v < TUI_NVIEWS; v++)
            for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
                if (!tui_key_lookup(need[i], v, vim)) fail_msg("key code %d is unbound in view %d", need[i], v);
    /* per view */
    assert_non_null(tui_key_lookup('s', TUI_V_LAYERS, 0));
    assert_non_null(tui_key_lookup('/', TUI_V_LAYERS, 0));
    assert_non_null(tui_key_lookup('/', TUI_V_HEATMAP, 0));
    assert_non_null(tui_key_lookup('m', TUI_V_HEATMAP, 0));
    assert_non_null(tui_key_lookup(' ', TUI_V_COMPARE, 0));
    assert_non_null(tui_key_lookup('+', TUI_V_CHARTS, 0));
    assert_non_null(tui_key_lookup('y', TUI_V_CHARTS, 0));
    assert_non_null(tui_key_lookup('\t', TUI_V_OVERVIEW, 0));
    assert_non_null(tui_key_lookup('\n', TUI_V_OVERVIEW, 0));
    assert_null(tui_key_lookup('+', TUI_V_ALERTS, 0));   /* no time axis there */
    /* vim keys: h is help without them, left with them */
    assert_ptr_equal(tui_key_lookup('h', TUI_V_CHARTS, 0)->fn, tui_key_lookup('?', TUI_V_CHARTS, 0)->fn);
    assert_ptr_equal(tui_key_lookup('h', TUI_V_CHARTS, 1)->fn, tui_key_lookup(KEY_LEFT, TUI_V_CHARTS, 1)->fn);
    assert_null(tui_key_lookup(4, TUI_V_LAYERS, 0));       /* ^D only with vim keys */
    assert_non_null(tui_key_lookup(4, TUI_V_LAYERS, 1));
    assert_null(tui_key_find('z'));
    assert_null(tui_key_find(0));
}

/* Escape sequences curses did not decode: known ones become their key, unknown ones and Alt-keys vanish
 * whole, a lone Esc stays Esc. */
typedef struct {
    const char *s;
    size_t i;
} bytes;

static int next_byte(void *ud)
{
    bytes *b = ud;
    return b->s[b->i] ? (unsigned char)b->s[b->i++] : -1;
}

static void unget_byte(int key, void *ud)
{
    bytes *b = ud;
    assert_true(b->i > 0 && (unsigned char)b->s[b->i - 1] == key);
    b->i--;
}

static int decode(const char *rest, size_t *left)
{
    bytes b = { rest, 0 };
    int k = tui_key_escape(next_byte, unget_byte, &b);
    if (left) *left = strlen(rest) - b.i;
    return k;
}

static void test_escape_sequences(void **state)
{
    (void)state;
    size_t left;
    assert_int_equal(decode("[1~", &left), KEY_HOME);      /* Home under a TERM whose khome differs */
    assert_int_equal(left, 0);
    assert_int_equal(decode("[4~", NULL), KEY_END);
    assert_int_equal(decode("OH", NULL), KEY_HOME);
    assert_int_equal(decode("[A", NULL), KEY_UP);
    assert_int_equal(decode("[6~", NULL), KEY_NPAGE);
    assert_int_equal(decode("OP", NULL), KEY_F(1));
    assert_int_equal(decode("", NULL), 27);                 /* Esc alone */
    assert_int_equal(decode("\033", &left), 27);            /* Esc Esc, quickly: the second is left to come */
    assert_int_equal(left, 1);
    assert_int_equal(decode("[1;5D", &left), 0);            /* Ctrl-Left: unknown, swallowed whole */
    assert_int_equal(left, 0);
    assert_int_equal(decode("[200~", &left), 0);            /* bracketed paste start */
    assert_int_equal(left, 0);
    assert_int_equal(decode("x", &left), 0);                /* Alt-x: not an x */
    assert_int_equal(left, 0);
    assert_int_equal(decode("[<0;21;2M", &left), 0);        /* a mouse report curses did not take */
    assert_int_equal(left, 0);
    /* an unknown sequence never reaches the key table: nothing changes */
    tui_app a;
    tui_app_init(&a, NULL, NULL, 1);
    int view = a.view, run = a.ctx.run_cur;
    tui_app_key(&a, decode("[1;2H", NULL));
    assert_int_equal(a.view, view);
    assert_int_equal(a.ctx.run_cur, run);
    assert_string_equal(a.ctx.layers.filter.pattern, "");
    tui_app_free(&a);
}

/* Layer groups by name prefix, and folding them. */
static void test_layer_groups(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        { "blocks.3.attn.w", "blocks.3" }, { "model.layers.10.mlp.weight", "model.layers.10" }, { "fc1.weight", "fc1" },
        { "embed", "embed" },              { "h.0", "h.0" },                                   { "x.y2.z", "x" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char g[96];
        tui_layer_group(cases[i][0], g, sizeof g);
        assert_string_equal(g, cases[i][1]);
    }
    tui_layersel ls;
    tui_layersel_init(&ls);
    assert_false(tui_layersel_folded(&ls, "blocks.3"));
    tui_layersel_fold(&ls, "blocks.3", -1);
    assert_true(tui_layersel_folded(&ls, "blocks.3"));
    assert_false(tui_layersel_folded(&ls, "blocks.4"));
    tui_layersel_fold_all(&ls, 1);
    assert_true(tui_layersel_folded(&ls, "blocks.4"));
    tui_layersel_fold(&ls, "blocks.4", 0);                     /* unfold one of all */
    assert_false(tui_layersel_folded(&ls, "blocks.4"));
    assert_true(tui_layersel_folded(&ls, "blocks.5"));
    tui_layersel_fold_all(&ls, 0);
    assert_false(tui_layersel_folded(&ls, "blocks.5"));
    tui_layersel_free(&ls);
}

static void test_dispatch(void **state)
{
    (void)state;
    tui_app a;
    assert_int_equal(tui_app_init(&a, NULL, NULL, 1), -1);     /* no collector: state still set up */
    assert_int_equal(tui_key_dispatch(&a, 'z'), 0);
    assert_int_equal(a.help, 0);
    assert_int_equal(tui_key_dispatch(&a, '?'), 1);
    assert_int_equal(a.help, 1);
    tui_app_key(&a, 'q');                                       /* q leaves the help screen, not traintop */
    assert_int_equal(a.help, 0);
    assert_int_equal(a.quit, 0);
    tui_app_key(&a, '?');
    assert_int_equal(a.help, 1);
    tui_app_key(&a, '3');                                       /* a view key in help: that view */
    assert_int_equal(a.help, 0);
    assert_int_equal(a.view, TUI_V_LAYERS);
    tui_app_key(&a, '1');

    /* s: order → problems → name → each shown column → order; S reverses */
    a.ctx.layers.lcols[0] = "w_norm";
    a.ctx.layers.lcols[1] = "g_norm";
    a.ctx.layers.nlcols = 2;
    assert_string_equal(a.ctx.layers.sort_key, "");
    tui_app_key(&a, 's');
    assert_string_equal(a.ctx.layers.sort_key, "problems");
    tui_app_key(&a, 's');
    assert_string_equal(a.ctx.layers.sort_key, "name");
    tui_app_key(&a, 's');
    assert_string_equal(a.ctx.layers.sort_key, "w_norm");
    tui_app_key(&a, 's');
    assert_string_equal(a.ctx.layers.sort_key, "g_norm");
    tui_app_key(&a, 's');
    assert_string_equal(a.ctx.layers.sort_key, "");
    tui_app_key(&a, 'S');
    assert_int_equal(a.ctx.layers.sort_rev, 1);

    /* views: 1-6, and keys scoped to a view do nothing elsewhere */
    tui_app_key(&a, '3');
    assert_int_equal(a.view, TUI_V_LAYERS);
    tui_app_key(&a, '/');                                       /* the filter line takes the keys */
    assert_int_equal(a.ctx.layers.input, 1);
    tui_app_key(&a, 'f');
    tui_app_key(&a, 'c');
    tui_app_key(&a, '[');                                       /* invalid: said, not applied */
    assert_string_equal(a.ctx.layers.filter.pattern, "fc[");
    assert_string_equal(a.ctx.layers.filter.active, "fc");
    assert_true(a.ctx.layers.filter.err[0] != 0);
    tui_app_key(&a, '1');
    tui_app_key(&a, ']');
    assert_string_equal(a.ctx.layers.filter.active, "fc[1]");
    tui_app_key(&a, '\r');
    assert_int_equal(a.ctx.layers.input, 0);
    assert_int_equal(a.view, TUI_V_LAYERS);                   /* typed, not dispatched */
    tui_app_key(&a, 27);                                        /* Esc clears the filter */
    assert_string_equal(a.ctx.layers.filter.active, "");
    tui_app_key(&a, '2');
    assert_int_equal(a.view, TUI_V_CHARTS);
    tui_app_key(&a, 'y');
    assert_int_equal(a.cfg.log_y, 1);
    tui_app_key(&a, '+');
    tui_app_key(&a, '6');
    assert_int_equal(a.view, TUI_V_ALERTS);
    int before = a.cfg.log_y;
    tui_app_key(&a, 'y');                                       /* unbound in the alerts view */
    assert_int_equal(a.cfg.log_y, before);

    tui_app_key(&a, 'q');
    assert_int_equal(a.quit, 1);
    tui_app_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_binding_documented),
        cmocka_unit_test(test_no_duplicate_keys),
        cmocka_unit_test(test_essential_keys),
        cmocka_unit_test(test_escape_sequences),
        cmocka_unit_test(test_layer_groups),
        cmocka_unit_test(test_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
