/*
 * td_json_mp.c — the recursive converters of td_json_mp.h. Depth is bounded
 * by the callers: the gateway refuses deep JSON before converting, and
 * td_mp_unpack refuses deep msgpack before anything reaches td_mp_to_json.
 */
#include "td_json_mp.h"
#include "td_error.h"
#include "td_mp.h"

#include <string.h>

int td_json_to_mp(const json_t *json, msgpack_packer *pk)
{
    int rc = 0;
    switch (json_typeof(json)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *value;
        rc = msgpack_pack_map(pk, json_object_size(json));
        json_object_foreach((json_t *)json, key, value)
        {
            if (rc != 0)
                break;
            rc = td_mp_pack_cstr(pk, key);
            rc = rc ? rc : td_json_to_mp(value, pk);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *value;
        rc = msgpack_pack_array(pk, json_array_size(json));
        json_array_foreach(json, i, value)
        {
            if (rc != 0)
                break;
            rc = td_json_to_mp(value, pk);
        }
        break;
    }
    case JSON_STRING:
        rc = td_mp_pack_strn(pk, json_string_value(json), json_string_length(json));
        break;
    case JSON_INTEGER:
        rc = msgpack_pack_int64(pk, json_integer_value(json));
        break;
    case JSON_REAL:
        rc = msgpack_pack_double(pk, json_real_value(json));
        break;
    case JSON_TRUE:
        rc = msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        rc = msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        rc = msgpack_pack_nil(pk);
        break;
    }
    return rc == 0 ? 0 : (rc < 0 ? TD_ENOMEM : rc);
}

int td_mp_to_json(const msgpack_object *obj, json_t **out)
{
    json_t *j = NULL;
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL:
        j = json_null();
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        j = json_boolean(obj->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (obj->via.u64 > INT64_MAX)
            return TD_EPROTO;
        j = json_integer((json_int_t)obj->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        j = json_integer((json_int_t)obj->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        j = json_real(obj->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        /* jansson refuses invalid UTF-8 here, so no bad bytes reach a client. */
        j = json_stringn(obj->via.str.ptr, obj->via.str.size);
        if (j == NULL)
            return TD_EPROTO;
        break;
    case MSGPACK_OBJECT_ARRAY:
        j = json_array();
        for (uint32_t i = 0; j && i < obj->via.array.size; i++) {
            json_t *item;
            int rc = td_mp_to_json(&obj->via.array.ptr[i], &item);
            if (rc != 0 || json_array_append_new(j, item) != 0) {
                json_decref(j);
                return rc != 0 ? rc : TD_ENOMEM;
            }
        }
        break;
    case MSGPACK_OBJECT_MAP:
        j = json_object();
        for (uint32_t i = 0; j && i < obj->via.map.size; i++) {
            const msgpack_object_kv *kv = &obj->via.map.ptr[i];
            char key[256];
            json_t *item;
            if (td_mp_copy_str(&kv->key, key, sizeof key) != 0) {
                json_decref(j);
                return TD_EPROTO;
            }
            int rc = td_mp_to_json(&kv->val, &item);
            if (rc != 0 || json_object_set_new(j, key, item) != 0) {
                json_decref(j);
                return rc != 0 ? rc : TD_ENOMEM;
            }
        }
        break;
    default: /* BIN, EXT */
        return TD_EPROTO;
    }
    if (j == NULL)
        return TD_ENOMEM;
    *out = j;
    return 0;
}

int td_json_depth(const json_t *json)
{
    int deepest = 0;
    if (json_is_object(json)) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)json, key, value)
        {
            int d = td_json_depth(value);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    if (json_is_array(json)) {
        size_t i;
        json_t *value;
        json_array_foreach(json, i, value)
        {
            int d = td_json_depth(value);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    return 0;
}
