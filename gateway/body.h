/*
 * body.h — the gateway's JSON intake: the bytes of a request body to one
 * JSON object, or a client-facing reason why not.
 *
 * Kept apart from server.c (which reads the bytes off the connection) so the
 * exact parse the pipeline runs is also what tests/fuzz/fuzz_json_body.c
 * feeds hostile bytes to.
 */
#ifndef GW_BODY_H
#define GW_BODY_H

#include "td_mp.h"

#include <jansson.h>
#include <stddef.h>

/* The deepest body a daemon can take: the body travels as the args of the
 * RPC request map, one level down, and td_mp_unpack refuses messages nested
 * deeper than TD_MP_MAX_DEPTH. A larger GATEWAY_MAX_JSON_DEPTH is capped to
 * this, so a body the gateway accepts is never refused as a malformed RPC
 * message (400 invalid_message, an error the API does not have). */
#define GW_BODY_MAX_DEPTH (TD_MP_MAX_DEPTH - 1)

/* Parses buf[0..len) (any bytes) as the body of a JSON route: nesting over
 * `max_depth` (at most GW_BODY_MAX_DEPTH) is refused on the raw bytes before
 * jansson recurses, then
 * json_loadb with the exact length and JSON_REJECT_DUPLICATES, then the value
 * must be an object. Returns 0 and a new object in *out (caller decrefs), or
 * TD_EJSON with *problem set to the message for the client (static storage);
 * *out is untouched on failure. */
int gw_parse_json_body(const char *buf, size_t len, long long max_depth, json_t **out,
                       const char **problem);

#endif
