/*
 * td_json_mp.h — JSON (jansson) ⇄ msgpack conversion for the gateway edge.
 *
 * The gateway speaks JSON to clients and msgpack to daemons. Conversion is
 * one-to-one: objects ⇄ maps with string keys, arrays, strings, integers
 * (int64), reals, booleans, null. Anything without a JSON twin (binary, ext,
 * non-string keys, integers above INT64_MAX) is refused, never guessed.
 */
#ifndef TD_JSON_MP_H
#define TD_JSON_MP_H

#include <jansson.h>
#include <msgpack.h>

/* Packs `json` as one msgpack object. Returns 0 or TD_ENOMEM / TD_EINVAL. */
int td_json_to_mp(const json_t *json, msgpack_packer *pk);

/* Converts `obj` to a new JSON value in *out (caller json_decref's).
 * Returns 0, TD_EPROTO (no JSON twin) or TD_ENOMEM; *out set only on success. */
int td_mp_to_json(const msgpack_object *obj, json_t **out);

/* The deepest nesting of arrays/objects in `json` (a scalar is 0). */
int td_json_depth(const json_t *json);

#endif
