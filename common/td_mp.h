/*
 * td_mp.h — strict msgpack decoding of untrusted bytes, and small helpers for
 * reading and writing the maps the RPC layer carries.
 *
 * msgpack-c 4.0 allocates count x 24 bytes straight from an array or map
 * header, returns SUCCESS with trailing bytes left over, and nests until it
 * runs out of memory (docs/library-notes.md, msgpack-c). td_mp_unpack walks the bytes first and
 * refuses any declared length larger than the bytes left, nesting deeper than
 * TD_MP_MAX_DEPTH, ext types and the reserved byte, and then requires the
 * parse to consume exactly the input.
 */
#ifndef TD_MP_H
#define TD_MP_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TD_MP_MAX_DEPTH 16

/* Checks that data[0..len) is exactly one well-formed msgpack object within
 * the limits above. Returns 0 or TD_EPROTO. Touches no allocator. */
int td_mp_validate(const char *data, size_t len);

/* Validates, then unpacks into `out` (initialised by the caller with
 * msgpack_unpacked_init; the caller destroys it whatever the result).
 * Returns 0, TD_EPROTO for malformed input, TD_ENOMEM.
 * msgpack-c does not copy strings: the objects point into `data`, which must
 * outlive them. */
int td_mp_unpack(const char *data, size_t len, msgpack_unpacked *out);

/* True when every key of `map` (a map) is a string and no key appears twice:
 * with two "op" keys, two readers could take different ones. */
bool td_mp_map_keys_unique(const msgpack_object *map);

/* The value stored under `key` in a map, or NULL when `map` is not a map or
 * has no such key. Keys that are not strings are skipped. */
const msgpack_object *td_mp_map_get(const msgpack_object *map, const char *key);

/* true when `o` is a string equal to `s`. */
bool td_mp_str_eq(const msgpack_object *o, const char *s);

/* Reads an integer that fits int64. Returns 0 or TD_EINVAL (wrong type). */
int td_mp_as_int64(const msgpack_object *o, int64_t *out);

/* Copies a string object into buf (NUL-terminated) when it fits and holds no
 * NUL byte. Returns 0 or TD_EINVAL. */
int td_mp_copy_str(const msgpack_object *o, char *buf, size_t size);

/* Packing shorthands; each returns msgpack's result (0 on success). */
int td_mp_pack_cstr(msgpack_packer *pk, const char *s);
int td_mp_pack_strn(msgpack_packer *pk, const char *s, size_t len);
int td_mp_pack_kv_str(msgpack_packer *pk, const char *key, const char *value);
int td_mp_pack_kv_int(msgpack_packer *pk, const char *key, int64_t value);

#endif
