/*
 * fuzz_mp.c — the msgpack decoder of untrusted bytes (common/td_mp.h) and
 * the msgpack -> JSON -> msgpack conversion behind it (common/td_json_mp.h).
 *
 * Oracles:
 *  - td_mp_validate and td_mp_unpack agree: validation passes exactly when
 *    unpacking succeeds, and never lets msgpack-c reserve memory for a
 *    declared length the bytes do not hold (ASan's allocator would abort on
 *    "dd ff ff ff ff", docs/library-notes.md);
 *  - what was unpacked packs again into bytes that validate, and packing
 *    those again gives the same bytes (the canonical form is a fixed point);
 *  - an object with a JSON twin survives msgpack -> JSON -> msgpack -> JSON
 *    unchanged, and one without is refused with TD_EPROTO, never TD_ENOMEM;
 *  - the gateway's direct writer, td_mp_to_json_text, writes byte for byte
 *    what json_dumps(JSON_COMPACT) makes of td_mp_to_json's tree (what
 *    gateway/http.c sends), or leaves the object to that path (TD_EPROTO).
 */
#include "fuzz.h"
#include "td_error.h"
#include "td_json_mp.h"
#include "td_mp.h"

#include <string.h>

static void repack(const msgpack_object *o, msgpack_sbuffer *sb)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    FUZZ_CHECK(msgpack_pack_object(&pk, *o) == 0, "repacking failed");
}

static void json_text(const msgpack_object *o, const json_t *tree)
{
    char *text = NULL;
    size_t len = 0;
    int rc = td_mp_to_json_text(o, &text, &len);
    FUZZ_CHECK(rc == 0 || rc == TD_EPROTO, "td_mp_to_json_text: %s", td_error_symbol(rc));
    if (rc != 0)
        return;
    FUZZ_CHECK(tree != NULL, "td_mp_to_json_text wrote what td_mp_to_json refuses: %s", text);
    char *dump = json_dumps(tree, JSON_COMPACT | JSON_ENCODE_ANY);
    FUZZ_CHECK(dump != NULL, "json_dumps failed");
    FUZZ_CHECK(strlen(text) == len && strcmp(text, dump) == 0,
               "direct writer and json_dumps differ:\n  %s\n  %s", text, dump);
    free(dump);
    free(text);
}

static void json_round_trip(const msgpack_object *o)
{
    json_t *j1 = NULL;
    int rc = td_mp_to_json(o, &j1);
    FUZZ_CHECK(rc == 0 || rc == TD_EPROTO, "td_mp_to_json: %s", td_error_symbol(rc));
    json_text(o, j1);
    if (rc != 0)
        return;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    FUZZ_CHECK(td_json_to_mp(j1, &pk) == 0, "td_json_to_mp of a converted value failed");
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    rc = td_mp_unpack(sb.data, sb.size, &up);
    FUZZ_CHECK(rc == 0, "JSON's msgpack does not unpack: %s", td_error_symbol(rc));
    json_t *j2 = NULL;
    rc = td_mp_to_json(&up.data, &j2);
    FUZZ_CHECK(rc == 0, "second conversion failed: %s", td_error_symbol(rc));
    FUZZ_CHECK(json_equal(j1, j2), "msgpack -> JSON -> msgpack -> JSON changed the value");
    json_decref(j2);
    json_decref(j1);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    int valid = td_mp_validate(in, size);
    FUZZ_CHECK(valid == 0 || valid == TD_EPROTO, "td_mp_validate: %s", td_error_symbol(valid));

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = td_mp_unpack(in, size, &up);
    FUZZ_CHECK((rc == 0) == (valid == 0), "validate says %s, unpack says %s",
               td_error_symbol(valid), td_error_symbol(rc));
    if (rc == 0) {
        msgpack_sbuffer a, b;
        repack(&up.data, &a);
        FUZZ_CHECK(td_mp_validate(a.data, a.size) == 0, "repacked bytes do not validate");
        msgpack_unpacked up2;
        msgpack_unpacked_init(&up2);
        FUZZ_CHECK(td_mp_unpack(a.data, a.size, &up2) == 0, "repacked bytes do not unpack");
        repack(&up2.data, &b);
        FUZZ_CHECK(a.size == b.size && memcmp(a.data, b.data, a.size) == 0,
                   "packing is not a fixed point");
        msgpack_unpacked_destroy(&up2);
        msgpack_sbuffer_destroy(&a);
        msgpack_sbuffer_destroy(&b);
        json_round_trip(&up.data);
    }
    msgpack_unpacked_destroy(&up);
    return 0;
}
