/*
 * test_json_mp.c — JSON ⇄ msgpack conversion keeps every JSON value exactly
 * and refuses msgpack that has no JSON twin.
 */
#include "td_error.h"
#include "td_json_mp.h"
#include "td_mp.h"
#include "td_utf8.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <string.h>

static json_t *round_trip(const char *text)
{
    json_t *in = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    cr_assert_not_null(in, "bad fixture %s", text);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    TD_ASSERT_OK(td_json_to_mp(in, &pk));
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    TD_ASSERT_OK(td_mp_unpack(sb.data, sb.size, &up));
    json_t *out = NULL;
    TD_ASSERT_OK(td_mp_to_json(&up.data, &out));
    cr_assert(json_equal(in, out), "%s changed in the round trip", text);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    json_decref(in);
    return out;
}

Test(json_mp, every_json_type_survives_the_round_trip)
{
    const char *docs[] = {
        "{}",
        "{\"a\": 1, \"b\": -9223372036854775808, \"c\": 9223372036854775807}",
        "{\"s\": \"h\\u00e9llo 😊 <script>\", \"t\": true, \"f\": false, \"n\": null}",
        "{\"arr\": [1, 2.5, [\"x\", {\"y\": []}]], \"real\": -0.125}",
        "{\"empty\": \"\", \"nested\": {\"deeper\": {\"deepest\": 1}}}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        json_decref(round_trip(docs[i]));
}

Test(json_mp, binary_ext_and_non_string_keys_have_no_json_form)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_int(&pk, 5); /* integer key */
    msgpack_pack_nil(&pk);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    TD_ASSERT_OK(td_mp_unpack(sb.data, sb.size, &up));
    json_t *out = NULL;
    cr_assert_eq(td_mp_to_json(&up.data, &out), TD_EPROTO);
    cr_assert_null(out);
    msgpack_unpacked_destroy(&up);

    msgpack_sbuffer_clear(&sb);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "abc", 3);
    msgpack_unpacked_init(&up);
    TD_ASSERT_OK(td_mp_unpack(sb.data, sb.size, &up));
    cr_assert_eq(td_mp_to_json(&up.data, &out), TD_EPROTO);
    msgpack_unpacked_destroy(&up);

    msgpack_sbuffer_clear(&sb);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_unpacked_init(&up);
    TD_ASSERT_OK(td_mp_unpack(sb.data, sb.size, &up));
    cr_assert_eq(td_mp_to_json(&up.data, &out), TD_EPROTO, "above INT64_MAX");
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

Test(json_mp, invalid_utf8_in_msgpack_strings_is_refused)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_STR};
    o.via.str.ptr = "\xff\xfe";
    o.via.str.size = 2;
    json_t *out = NULL;
    cr_assert_eq(td_mp_to_json(&o, &out), TD_EPROTO);
}

Test(json_mp, depth_counts_containers)
{
    json_t *j = json_loads("{\"a\": [[1], {\"b\": {}}]}", 0, NULL);
    cr_assert_eq(td_json_depth(j), 4);
    json_decref(j);
    j = json_integer(3);
    cr_assert_eq(td_json_depth(j), 0);
    json_decref(j);
}

Test(utf8, strict_decoding_counts_code_points_and_refuses_bad_bytes)
{
    cr_assert_eq(td_utf8_count("", 0), 0);
    cr_assert_eq(td_utf8_count("h\xc3\xa9llo \xf0\x9f\x98\x8a", 11), 7);
    cr_assert_eq(td_utf8_count("\xc0\xaf", 2), -1, "overlong");
    cr_assert_eq(td_utf8_count("\xed\xa0\x80", 3), -1, "surrogate");
    cr_assert_eq(td_utf8_count("\xf4\x90\x80\x80", 4), -1, "above U+10FFFF");
    cr_assert_eq(td_utf8_count("\xe2\x82", 2), -1, "truncated");
    cr_assert_eq(td_utf8_count("\x80", 1), -1, "stray continuation");
}
