/* tui/keys: the one key table — complete help, no key bound twice, the essential keys present, and
 * dispatch reaching the handlers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../tui/app.h"
#include "../../tui/keys.h"

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
    for (int i = 0; i < tui_nkeys; i++)
        for (int j = 0; j < TUI_KEY_MAX_CODES && tui_keys[i].codes[j]; j++) {
            int code = tui_keys[i].codes[j];
            int seen = 0;
            for (int k = 0; k < tui_nkeys; k++)
                for (int m = 0; m < TUI_KEY_MAX_CODES && tui_keys[k].codes[m]; m++) seen += tui_keys[k].codes[m] == code;
            if (seen != 1) fail_msg("key code %d is bound %d times", code, seen);
            assert_ptr_equal(tui_key_find(code), &tui_keys[i]);
        }
    for (int i = 0; i < tui_nkeys; i++)                 /* the footer and help labels are distinct too */
        for (int k = 0; k < i; k++) assert_string_not_equal(tui_keys[i].label, tui_keys[k].label);
}

static void test_essential_keys(void **state)
{
    (void)state;
    const int need[] = { 'q', '?', '\t', 's', 'j', 'k', KEY_UP, KEY_DOWN, '\n', '\r', KEY_ENTER, KEY_NPAGE, KEY_PPAGE };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!tui_key_find(need[i])) fail_msg("key code %d is unbound", need[i]);
    assert_null(tui_key_find('z'));
    assert_null(tui_key_find(0));
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
    tui_app_key(&a, 'q');                                       /* the help screen swallows any key */
    assert_int_equal(a.help, 0);
    assert_int_equal(a.quit, 0);

    /* s: order → name → each shown column → order; S reverses */
    a.lcols[0] = "w_norm";
    a.lcols[1] = "g_norm";
    a.nlcols = 2;
    assert_string_equal(a.sort_key, "");
    tui_app_key(&a, 's');
    assert_string_equal(a.sort_key, "name");
    tui_app_key(&a, 's');
    assert_string_equal(a.sort_key, "w_norm");
    tui_app_key(&a, 's');
    assert_string_equal(a.sort_key, "g_norm");
    tui_app_key(&a, 's');
    assert_string_equal(a.sort_key, "");
    tui_app_key(&a, 'S');
    assert_int_equal(a.sort_rev, 1);

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
        cmocka_unit_test(test_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
