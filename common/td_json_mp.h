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
#include <stddef.h>

/* Packs `json` as one msgpack object. Returns 0 or TD_ENOMEM / TD_EINVAL. */
int td_json_to_mp(const json_t *json, msgpack_packer *pk);

/* Converts `obj` to a new JSON value in *out (caller json_decref's).
 * Returns 0, TD_EPROTO (no JSON twin) or TD_ENOMEM; *out set only on success. */
int td_mp_to_json(const msgpack_object *obj, json_t **out);

/* Writes `obj` as JSON text, byte for byte what json_dumps(JSON_COMPACT)
 * makes of td_mp_to_json's tree, without building the tree (the gateway's
 * reply path: half its CPU on GET /diaries went to the tree and the dump).
 * On 0, *out is malloc'd and NUL-terminated, *out_len its length. Returns
 * TD_EPROTO for anything it does not write the same way (no JSON twin,
 * invalid UTF-8, duplicate keys, maps over 64 keys): the caller then takes the
 * td_mp_to_json path, which decides. TD_ENOMEM otherwise. */
int td_mp_to_json_text(const msgpack_object *obj, char **out, size_t *out_len);

/* The deepest nesting of arrays/objects in `json` (a scalar is 0). */
int td_json_depth(const json_t *json);

#endif
