/*
 * test_mp.c — the strict msgpack decoder: hostile headers never reach
 * msgpack-c's allocator, trailing and truncated bytes are refused.
 */
#include "td_error.h"
#include "td_mp.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static int unpack(const char *data, size_t len)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = td_mp_unpack(data, len, &up);
    msgpack_unpacked_destroy(&up);
    return rc;
}

Test(mp, accepts_a_well_formed_map)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    td_mp_pack_kv_str(&pk, "op", "diary.list");
    td_mp_pack_kv_int(&pk, "uid", 42);

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    TD_ASSERT_OK(td_mp_unpack(sb.data, sb.size, &up));
    int64_t uid;
    TD_ASSERT_OK(td_mp_as_int64(td_mp_map_get(&up.data, "uid"), &uid));
    cr_assert_eq(uid, 42);
    cr_assert(td_mp_str_eq(td_mp_map_get(&up.data, "op"), "diary.list"));
    cr_assert_null(td_mp_map_get(&up.data, "missing"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

Test(mp, refuses_array_headers_that_declare_more_than_the_bytes_left)
{
    /* 5 bytes that would make msgpack-c reserve count x 24 bytes: gigabytes. */
    cr_assert_eq(unpack("\xdd\x0f\xff\xff\xff", 5), TD_EPROTO);
    cr_assert_eq(unpack("\xdd\xff\xff\xff\xff", 5), TD_EPROTO);
    cr_assert_eq(unpack("\xdf\x7f\xff\xff\xff", 5), TD_EPROTO);
    cr_assert_eq(unpack("\xdc\xff\xff\x01", 4), TD_EPROTO);
}

Test(mp, refuses_strings_longer_than_the_input)
{
    cr_assert_eq(unpack("\xdb\x7f\xff\xff\xff" "abc", 8), TD_EPROTO);
    cr_assert_eq(unpack("\xd9\x05" "abc", 5), TD_EPROTO);
    cr_assert_eq(unpack("\xa5" "abc", 4), TD_EPROTO);
}

Test(mp, refuses_trailing_bytes_and_truncation)
{
    cr_assert_eq(unpack("\xc0\xc0", 2), TD_EPROTO, "two objects are not one message");
    cr_assert_eq(unpack("\x92\x01", 2), TD_EPROTO, "array of 2 with 1 element");
    cr_assert_eq(unpack("\xcd\x01", 2), TD_EPROTO, "uint16 cut short");
    cr_assert_eq(unpack("", 0), TD_EPROTO);
    cr_assert_eq(unpack(NULL, 0), TD_EPROTO);
}

Test(mp, refuses_deep_nesting_ext_and_reserved_bytes)
{
    char deep[64];
    memset(deep, 0x91, sizeof deep); /* fixarray of 1, nested 63 times */
    deep[sizeof deep - 1] = (char)0xc0;
    cr_assert_eq(unpack(deep, sizeof deep), TD_EPROTO);
    cr_assert_eq(unpack("\xc1", 1), TD_EPROTO);
    cr_assert_eq(unpack("\xd4\x01\x02", 3), TD_EPROTO, "fixext1");
    cr_assert_eq(unpack("\xc7\x01\x05\x00", 4), TD_EPROTO, "ext8");
}

Test(mp, nesting_up_to_the_limit_is_fine)
{
    char ok[TD_MP_MAX_DEPTH + 1];
    memset(ok, 0x91, TD_MP_MAX_DEPTH);
    ok[TD_MP_MAX_DEPTH] = (char)0xc0;
    cr_assert_eq(unpack(ok, sizeof ok), 0);
}

Test(mp, random_bytes_never_crash_or_leak)
{
    srand(1234);
    char buf[256];
    for (int round = 0; round < 20000; round++) {
        size_t len = 1 + (size_t)rand() % sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)(rand() & 0xff);
        int rc = unpack(buf, len);
        cr_assert(rc == 0 || rc == TD_EPROTO, "unexpected %s", td_error_symbol(rc));
    }
}

Test(mp, copy_str_refuses_nul_and_overflow)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_STR};
    o.via.str.ptr = "ab\0c";
    o.via.str.size = 4;
    char buf[8];
    cr_assert_eq(td_mp_copy_str(&o, buf, sizeof buf), TD_EINVAL);
    o.via.str.ptr = "abcdefgh";
    o.via.str.size = 8;
    cr_assert_eq(td_mp_copy_str(&o, buf, sizeof buf), TD_EINVAL, "no room for the NUL");
    o.via.str.size = 7;
    TD_ASSERT_OK(td_mp_copy_str(&o, buf, sizeof buf));
    cr_assert_str_eq(buf, "abcdefg");
}

Test(mp, a_map_with_a_key_twice_or_a_non_string_key_is_not_unique)
{
    /* {"a":1,"b":2} / {"a":1,"a":2} / {1:1} */
    const char ok[] = "\x82\xa1" "a" "\x01\xa1" "b" "\x02";
    const char dup[] = "\x82\xa1" "a" "\x01\xa1" "a" "\x02";
    const char intkey[] = "\x81\x01\x01";
    const struct {
        const char *bytes;
        size_t len;
        bool unique;
    } cases[] = {{ok, sizeof ok - 1, true}, {dup, sizeof dup - 1, false},
                 {intkey, sizeof intkey - 1, false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        TD_ASSERT_OK(td_mp_unpack(cases[i].bytes, cases[i].len, &up), "case %zu", i);
        cr_assert_eq(td_mp_map_keys_unique(&up.data), cases[i].unique, "case %zu", i);
        msgpack_unpacked_destroy(&up);
    }
}
