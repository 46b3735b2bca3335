/*
 * test_rpc_args.c — common/td_rpc_args.c: an operation's arguments checked
 * against its declaration, every fault one detail worded the same way.
 * Requests are packed for real with msgpack-c and decoded with td_mp_unpack,
 * as the RPC server hands them to handlers.
 */
#include "td_error.h"
#include "td_mp.h"
#include "td_rpc_args.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <string.h>

/* The arguments of the operation the tests call. */
static void declare(struct td_arg a[5])
{
    struct td_arg d[5] = {
        TD_ARG_INT("id", TD_ARG_REQUIRED, 1, INT64_MAX),
        TD_ARG_STR("q", TD_ARG_TEXT, 1, 8),
        TD_ARG_BOOL("clear", 0),
        TD_ARG_ARRAY("entries", 0, 1, 3),
        TD_ARG_INT("offset", 0, 0, 9),
    };
    memcpy(a, d, sizeof d);
}

/* Packs the args map from a printf-like spec: each character one value.
 *   i<int64>  s<string>  n (nil)  t/f (booleans)  a<count> (array of nils)
 *   m (an empty map)  k<int> (an integer KEY, then its value) */
struct kv {
    const char *key; /* NULL: an integer key */
    char type;
    int64_t i;
    const char *s;
    size_t slen;
};

struct call {
    msgpack_sbuffer buf;
    msgpack_unpacked u;
    struct td_rpc_request req;
    struct td_rpc_reply rep;
};

static void call_take(struct call *c, const struct kv *kvs, size_t n, struct td_arg *args,
                      size_t nargs, int *rc)
{
    msgpack_sbuffer_init(&c->buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &c->buf, msgpack_sbuffer_write);
    cr_assert_eq(msgpack_pack_map(&pk, n), 0);
    for (size_t i = 0; i < n; i++) {
        if (kvs[i].key == NULL)
            cr_assert_eq(msgpack_pack_int64(&pk, 7), 0);
        else
            TD_ASSERT_OK(td_mp_pack_cstr(&pk, kvs[i].key));
        int prc = 0;
        switch (kvs[i].type) {
        case 'i':
            prc = msgpack_pack_int64(&pk, kvs[i].i);
            break;
        case 's':
            prc = td_mp_pack_strn(&pk, kvs[i].s, kvs[i].slen ? kvs[i].slen : strlen(kvs[i].s));
            break;
        case 'n':
            prc = msgpack_pack_nil(&pk);
            break;
        case 't':
            prc = msgpack_pack_true(&pk);
            break;
        case 'f':
            prc = msgpack_pack_false(&pk);
            break;
        case 'a':
            prc = msgpack_pack_array(&pk, (size_t)kvs[i].i);
            for (int64_t j = 0; prc == 0 && j < kvs[i].i; j++)
                prc = msgpack_pack_nil(&pk);
            break;
        case 'm':
            prc = msgpack_pack_map(&pk, 0);
            break;
        default:
            cr_assert_fail("bad type %c", kvs[i].type);
        }
        cr_assert_eq(prc, 0);
    }
    msgpack_unpacked_init(&c->u);
    TD_ASSERT_OK(td_mp_unpack(c->buf.data, c->buf.size, &c->u));
    memset(&c->req, 0, sizeof c->req);
    c->req.args = &c->u.data;
    memset(&c->rep, 0, sizeof c->rep);
    *rc = td_rpc_args_take(&c->req, &c->rep, args, nargs);
}

static void call_free(struct call *c)
{
    msgpack_unpacked_destroy(&c->u);
    msgpack_sbuffer_destroy(&c->buf);
}

/* The message of `field`'s detail, or NULL. */
static const char *detail(const struct call *c, const char *field)
{
    for (size_t i = 0; i < c->rep.ndetails; i++)
        if (strcmp(c->rep.details[i].field, field) == 0)
            return c->rep.details[i].message;
    return NULL;
}

#define KV_I(k, v)                                                                                 \
    {                                                                                              \
        (k), 'i', (v), NULL, 0                                                                     \
    }
#define KV_S(k, v)                                                                                 \
    {                                                                                              \
        (k), 's', 0, (v), 0                                                                        \
    }
#define KV(k, t)                                                                                   \
    {                                                                                              \
        (k), (t), 0, NULL, 0                                                                       \
    }
#define KV_A(k, n)                                                                                 \
    {                                                                                              \
        (k), 'a', (n), NULL, 0                                                                     \
    }

Test(rpc_args, good_arguments_are_filled_in_and_absent_ones_left_empty)
{
    struct td_arg a[5];
    declare(a);
    struct kv kvs[] = {KV_I("id", 42), KV_S("q", "café"), KV("clear", 't'), KV_A("entries", 2)};
    struct call c;
    int rc;
    call_take(&c, kvs, 4, a, 5, &rc);
    cr_assert_eq(rc, 0, "details: %zu", c.rep.ndetails);
    cr_expect_eq(a[0].i, 42);
    cr_expect_eq(a[1].len, 5);
    cr_expect_eq(memcmp(a[1].s, "café", 5), 0);
    cr_expect(a[2].b);
    cr_expect_eq(a[3].value->via.array.size, 2);
    cr_expect_null(a[4].value, "offset was not sent");
    cr_expect_eq(c.rep.ndetails, 0);
    call_free(&c);
}

Test(rpc_args, a_request_without_args_lacks_only_the_required_ones)
{
    struct td_arg a[5];
    declare(a);
    struct td_rpc_request req = {0};
    struct td_rpc_reply rep;
    memset(&rep, 0, sizeof rep);
    cr_assert_eq(td_rpc_args_take(&req, &rep, a, 5), TD_EINVAL);
    cr_expect_eq(rep.ndetails, 1);
    cr_expect_str_eq(rep.details[0].field, "id");
    cr_expect_str_eq(rep.details[0].message, "Missing data for required field.");
}

/* Each case: one faulty argument beside a good id, and the one detail it gives. */
Test(rpc_args, each_fault_is_one_detail_in_the_shared_words)
{
    static const struct {
        struct kv kv;
        const char *field, *message;
    } cases[] = {
        {KV_S("id", "42"), "id", "Not a valid integer."},
        {KV_S("mood", "x"), "mood", "Unknown field."},
        {KV_S("", "x"), "", "Unknown field."},
        {{NULL, 'i', 1, NULL, 0}, "?", "Field names must be strings."},
        {KV("q", 'n'), "q", "Not a valid string."},
        {KV_I("q", 5), "q", "Not a valid string."},
        {KV_S("q", ""), "q", "Shorter than minimum length 1."},
        {KV_S("q", "123456789"), "q", "Longer than maximum length 8."},
        {KV_S("q", "caf\xc3"), "q", "Must be valid UTF-8 without NUL characters."},
        {{"q", 's', 0, "a\0b", 3}, "q", "Must be valid UTF-8 without NUL characters."},
        {KV_I("clear", 1), "clear", "Not a valid boolean."},
        {KV("entries", 'm'), "entries", "Not a valid list."},
        {KV_A("entries", 0), "entries", "Must hold between 1 and 3 items."},
        {KV_A("entries", 4), "entries", "Must hold between 1 and 3 items."},
        {KV_I("offset", -1), "offset", "Must be between 0 and 9."},
        {KV_I("offset", 10), "offset", "Must be between 0 and 9."},
        {KV("offset", 'f'), "offset", "Not a valid integer."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct td_arg a[5];
        declare(a);
        bool about_id = cases[i].kv.key != NULL && strcmp(cases[i].kv.key, "id") == 0;
        struct kv kvs[] = {cases[i].kv, KV_I("id", 1)};
        struct call c;
        int rc;
        call_take(&c, kvs, about_id ? 1 : 2, a, 5, &rc);
        cr_expect_eq(rc, TD_EINVAL, "case %zu: rc %d", i, rc);
        cr_expect_eq(c.rep.code, TD_EINVAL, "case %zu", i);
        cr_expect_eq(c.rep.ndetails, 1, "case %zu: %zu details", i, c.rep.ndetails);
        const char *m = detail(&c, cases[i].field);
        cr_expect(m != NULL && strcmp(m, cases[i].message) == 0, "case %zu: %s: got %s, want %s", i,
                  cases[i].field, m ? m : "(none)", cases[i].message);
        call_free(&c);
    }
}

Test(rpc_args, an_id_below_one_is_not_a_positive_integer)
{
    struct td_arg a[5];
    declare(a);
    struct kv kvs[] = {KV_I("id", 0)};
    struct call c;
    int rc;
    call_take(&c, kvs, 1, a, 5, &rc);
    cr_expect_eq(rc, TD_EINVAL);
    cr_expect_str_eq(detail(&c, "id"), "Must be a positive integer.");
    cr_expect_eq(a[0].value, NULL, "an invalid value is not handed on");
    call_free(&c);
}

Test(rpc_args, a_repeated_key_is_refused_and_every_fault_is_reported)
{
    struct td_arg a[5];
    declare(a);
    struct kv kvs[] = {KV_I("id", 1), KV_I("id", 2), KV_S("mood", "x"), KV_I("offset", 99)};
    struct call c;
    int rc;
    call_take(&c, kvs, 4, a, 5, &rc);
    cr_expect_eq(rc, TD_EINVAL);
    cr_expect_eq(c.rep.ndetails, 3);
    cr_expect_str_eq(detail(&c, "id"), "Duplicate field.");
    cr_expect_str_eq(detail(&c, "mood"), "Unknown field.");
    cr_expect_str_eq(detail(&c, "offset"), "Must be between 0 and 9.");
    call_free(&c);
}

Test(rpc_args, args_that_are_not_a_map_are_refused)
{
    struct td_arg a[5];
    declare(a);
    msgpack_object arr = {.type = MSGPACK_OBJECT_ARRAY};
    struct td_rpc_request req = {.args = &arr};
    struct td_rpc_reply rep;
    memset(&rep, 0, sizeof rep);
    cr_expect_eq(td_rpc_args_take(&req, &rep, a, 5), TD_EINVAL);
    cr_expect_eq(rep.code, TD_EINVAL);
}
