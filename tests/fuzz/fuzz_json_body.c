/*
 * fuzz_json_body.c — the gateway's JSON intake (gateway/body.h) and the
 * JSON -> msgpack -> JSON bridge to the daemons (common/td_json_mp.h).
 *
 * The input is a request body, parsed exactly as the pipeline does with the
 * default GATEWAY_MAX_JSON_DEPTH (32).
 *
 * Oracles:
 *  - a refusal is TD_EJSON with a message; an acceptance is an object no
 *    deeper than the limit;
 *  - an accepted body, packed as the args of an RPC request the way
 *    gateway/forward.c and td_rpc_client do, is a request the daemons can
 *    decode (td_mp_unpack): whatever the gateway lets in reaches a handler
 *    instead of bouncing off the envelope decoder;
 *  - the args converted back to JSON equal the body (keys of 256 bytes or
 *    more have no way back, td_mp_to_json refuses them: TD_EPROTO).
 */
#include "gateway/body.h"
#include "fuzz.h"
#include "td_error.h"
#include "td_json_mp.h"
#include "td_mp.h"
#include "td_rpc.h"

#include <string.h>

#define DEFAULT_MAX_DEPTH 32 /* gateway/config.c */

static bool has_long_key(const json_t *j)
{
    const char *key;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach((json_t *)j, key, v)
        {
            if (strlen(key) >= 256 || has_long_key(v))
                return true;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            if (has_long_key(v))
                return true;
        }
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = NULL;
    const char *problem = NULL;
    int rc = gw_parse_json_body((const char *)data, size, DEFAULT_MAX_DEPTH, &body, &problem);
    if (rc != 0) {
        FUZZ_CHECK(rc == TD_EJSON && problem != NULL, "refused with %s", td_error_symbol(rc));
        FUZZ_CHECK(body == NULL, "out-parameter written on failure");
        return 0;
    }
    FUZZ_CHECK(json_is_object(body), "accepted a body that is not an object");
    FUZZ_CHECK(td_json_depth(body) <= DEFAULT_MAX_DEPTH, "accepted a body %d deep",
               td_json_depth(body));

    /* The request td_rpc_client sends for it (encode_request). */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    FUZZ_CHECK(msgpack_pack_map(&pk, 6) == 0 && td_mp_pack_kv_int(&pk, TD_KEY_VERSION, 1) == 0 &&
                   td_mp_pack_kv_str(&pk, TD_KEY_OP, "diary.create") == 0 &&
                   td_mp_pack_kv_str(&pk, TD_KEY_REQUEST_ID, "fuzz") == 0 &&
                   td_mp_pack_kv_str(&pk, TD_KEY_CALL_ID, "0123456789abcdef") == 0 &&
                   td_mp_pack_kv_int(&pk, TD_KEY_USER_ID, 7) == 0 &&
                   td_mp_pack_cstr(&pk, TD_KEY_ARGS) == 0,
               "packing the envelope failed");
    rc = td_json_to_mp(body, &pk);
    FUZZ_CHECK(rc == 0, "td_json_to_mp: %s", td_error_symbol(rc));

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    rc = td_mp_unpack(sb.data, sb.size, &up);
    FUZZ_CHECK(rc == 0, "a daemon cannot decode the request for an accepted body (%d deep): %s",
               td_json_depth(body), td_error_symbol(rc));
    const msgpack_object *args = td_mp_map_get(&up.data, TD_KEY_ARGS);
    FUZZ_CHECK(args != NULL && args->type == MSGPACK_OBJECT_MAP, "args is not a map");
    json_t *back = NULL;
    rc = td_mp_to_json(args, &back);
    if (rc == TD_EPROTO && has_long_key(body)) {
        /* no JSON twin for a 256-byte key: expected */
    } else {
        FUZZ_CHECK(rc == 0, "args have no JSON form: %s", td_error_symbol(rc));
        FUZZ_CHECK(json_equal(body, back), "JSON -> msgpack -> JSON changed the body");
    }
    json_decref(back);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    json_decref(body);
    return 0;
}
