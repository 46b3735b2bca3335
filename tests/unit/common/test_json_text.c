/*
 * test_json_text.c — td_mp_to_json_text writes exactly what
 * json_dumps(td_mp_to_json(obj), JSON_COMPACT) writes, and declines
 * (TD_EPROTO) whatever it would write differently.
 */
#include "td_error.h"
#include "td_json_mp.h"
#include "td_mp.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Packs with `fill`, then checks both paths agree (or the writer declines). */
typedef void (*fill_fn)(msgpack_packer *pk, void *arg);

static int compare(fill_fn fill, void *arg)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1); /* json_dumps writes only arrays and objects */
    fill(&pk, arg);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    char *text = NULL;
    size_t len = 0;
    int rc = td_mp_to_json_text(&up.data, &text, &len);
    json_t *tree = NULL;
    int trc = td_mp_to_json(&up.data, &tree);
    if (rc == 0) {
        cr_assert_eq(trc, 0, "the writer wrote what jansson refuses: %s", text);
        char *want = json_dumps(tree, JSON_COMPACT);
        cr_assert_not_null(want);
        cr_assert_eq(len, strlen(text));
        cr_assert_str_eq(text, want);
        free(want);
        free(text);
    } else {
        cr_assert_eq(rc, TD_EPROTO);
    }
    json_decref(tree);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void fill_str(msgpack_packer *pk, void *arg)
{
    const char *s = arg;
    td_mp_pack_strn(pk, s, strlen(s));
}

Test(json_text, strings_escape_like_jansson)
{
    const char *cases[] = {
        "", "plain", "quote \" and backslash \\", "slash / stays", "\b\f\n\r\t",
        "\x01\x02\x1f\x7f", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x8a", "<span class=\"positive\">x</span>",
        "I&#39;m \xe4\xb8\xad\xe6\x96\x87", "\xef\xbf\xbf\xf4\x8f\xbf\xbf",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(compare(fill_str, (void *)cases[i]), 0, "case %zu", i);
}

/* The writer skips plain ASCII eight bytes at a time: put each byte that
 * needs a look at every offset of a longer string, across word boundaries. */
Test(json_text, special_bytes_at_every_offset_of_a_long_string)
{
    const char *specials[] = {"\"", "\\", "\x01", "\x1f", "\x7f", "\x20", "!", "#", "[", "]",
                              "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x8a", "\x80", "\xff"};
    for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) {
        size_t n = strlen(specials[k]);
        for (size_t at = 0; at + n <= 24; at++) {
            char text[32];
            memset(text, 'a', 24);
            text[24] = '\0';
            memcpy(text + at, specials[k], n);
            bool valid = specials[k][0] != '\x80' && specials[k][0] != '\xff';
            cr_assert_eq(compare(fill_str, text), valid ? 0 : TD_EPROTO, "byte %zu at %zu", k, at);
        }
    }
}

Test(json_text, invalid_utf8_is_declined_like_jansson_refuses_it)
{
    const char *cases[] = {
        "\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80", "abc\xe2\x82", "\xff",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(compare(fill_str, (void *)cases[i]), TD_EPROTO, "case %zu", i);
}

static void fill_nul(msgpack_packer *pk, void *arg)
{
    (void)arg;
    td_mp_pack_strn(pk, "a\0b", 3);
}

Test(json_text, nul_in_a_string_is_escaped)
{
    cr_assert_eq(compare(fill_nul, NULL), 0);
}

static void fill_double(msgpack_packer *pk, void *arg)
{
    msgpack_pack_double(pk, *(double *)arg);
}

static void fill_float(msgpack_packer *pk, void *arg)
{
    msgpack_pack_float(pk, (float)*(double *)arg);
}

Test(json_text, reals_print_like_jansson)
{
    double cases[] = {0.0, -0.0, 1.0, -2.5, 0.1, 1.0 / 3, 1e20, 1e21, 1e-7, 123456789012345678.0,
                      DBL_MAX, DBL_MIN, 5e-324, 0.5, 100.0, 66.66666666666667};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(compare(fill_double, &cases[i]), 0, "case %zu", i);
        cr_assert_eq(compare(fill_float, &cases[i]), cases[i] > FLT_MAX ? TD_EPROTO : 0,
                     "float case %zu", i);
    }
    double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(compare(fill_double, &bad[i]), TD_EPROTO);
}

static void fill_ints(msgpack_packer *pk, void *arg)
{
    (void)arg;
    msgpack_pack_array(pk, 7);
    msgpack_pack_int64(pk, 0);
    msgpack_pack_int64(pk, -1);
    msgpack_pack_int64(pk, INT64_MIN);
    msgpack_pack_int64(pk, INT64_MAX);
    msgpack_pack_uint64(pk, 200);
    msgpack_pack_true(pk);
    msgpack_pack_nil(pk);
}

static void fill_u64_max(msgpack_packer *pk, void *arg)
{
    (void)arg;
    msgpack_pack_uint64(pk, UINT64_MAX);
}

Test(json_text, integers_booleans_null)
{
    cr_assert_eq(compare(fill_ints, NULL), 0);
    cr_assert_eq(compare(fill_u64_max, NULL), TD_EPROTO);
}

/* A page like td-diary's: nested maps and arrays, empty ones too. */
static void fill_page(msgpack_packer *pk, void *arg)
{
    (void)arg;
    msgpack_pack_map(pk, 5);
    td_mp_pack_kv_int(pk, "page", 1);
    td_mp_pack_cstr(pk, "items");
    msgpack_pack_array(pk, 3);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_map(pk, 4);
        td_mp_pack_kv_int(pk, "id", 200 - i);
        td_mp_pack_kv_str(pk, "content", "I'm \"so\" happy\n");
        td_mp_pack_kv_str(pk, "analyzed_content", "<span class=\"positive\">so happy</span>");
        td_mp_pack_kv_str(pk, "created_at", "2026-01-14T12:00:00.123456Z");
    }
    msgpack_pack_map(pk, 0);
    td_mp_pack_cstr(pk, "empty");
    msgpack_pack_array(pk, 0);
    td_mp_pack_cstr(pk, "ratio");
    msgpack_pack_double(pk, 0.25);
    td_mp_pack_cstr(pk, "k\xc3\xa9y \"q\"");
    msgpack_pack_false(pk);
}

Test(json_text, a_page_of_entries)
{
    cr_assert_eq(compare(fill_page, NULL), 0);
}

static void fill_dup(msgpack_packer *pk, void *arg)
{
    (void)arg;
    msgpack_pack_map(pk, 3);
    td_mp_pack_kv_int(pk, "a", 1);
    td_mp_pack_kv_int(pk, "b", 2);
    td_mp_pack_kv_int(pk, "a", 3);
}

static void fill_bad_keys(msgpack_packer *pk, void *arg)
{
    int which = *(int *)arg;
    msgpack_pack_map(pk, 1);
    if (which == 0) {
        msgpack_pack_int64(pk, 1);
    } else if (which == 1) {
        td_mp_pack_strn(pk, "a\0b", 3);
    } else {
        char key[300];
        memset(key, 'k', sizeof key);
        td_mp_pack_strn(pk, key, which == 2 ? 255 : 256);
    }
    msgpack_pack_nil(pk);
}

static void fill_bin(msgpack_packer *pk, void *arg)
{
    (void)arg;
    msgpack_pack_array(pk, 1);
    msgpack_pack_bin(pk, 2);
    msgpack_pack_bin_body(pk, "ab", 2);
}

static void fill_big_map(msgpack_packer *pk, void *arg)
{
    int n = *(int *)arg;
    msgpack_pack_map(pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        td_mp_pack_kv_int(pk, key, i);
    }
}

Test(json_text, what_it_declines)
{
    cr_assert_eq(compare(fill_dup, NULL), TD_EPROTO);
    for (int which = 0; which < 4; which++)
        cr_assert_eq(compare(fill_bad_keys, &which), which == 2 ? 0 : TD_EPROTO, "key %d", which);
    cr_assert_eq(compare(fill_bin, NULL), TD_EPROTO);
    int n = 64;
    cr_assert_eq(compare(fill_big_map, &n), 0);
    n = 65;
    cr_assert_eq(compare(fill_big_map, &n), TD_EPROTO);
}

static void fill_scalar_root(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, 5);
}

Test(json_text, a_scalar_at_the_top_is_declined_as_json_dumps_refuses_it)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    fill_scalar_root(&pk);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(td_mp_to_json_text(&up.data, &text, &len), TD_EPROTO);
    json_t *tree = NULL;
    TD_ASSERT_OK(td_mp_to_json(&up.data, &tree));
    cr_assert_null(json_dumps(tree, JSON_COMPACT));
    json_decref(tree);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}
