/*
 * token_cache.h — the gateway's cache of verified bearer tokens.
 *
 * Verifying a token (jwt_check.c: libjwt decode, HMAC, two strict JSON
 * parses) is a large share of the gateway's CPU on every authenticated
 * request, and a client sends the same access token with every request for
 * its whole life. This table remembers the claims of tokens that passed
 * every check, so a token seen before costs one keyed hash and a lookup.
 *
 * What it holds and what it does not:
 * - The key is a keyed BLAKE2b hash (crypto_generichash, 32 bytes) of the
 *   exact token bytes, with a random key made per table: the token itself is
 *   never stored, and without the key nobody can aim tokens at one set or
 *   find two tokens that share an entry. Hashes are compared with
 *   sodium_memcmp.
 * - The value is the struct gw_token that jwt_check.c produced. Nothing here
 *   looks at time: the caller re-checks nbf/exp on every hit, and revocation
 *   stays the caller's per-request check. Only the caller decides what goes
 *   in (jwt_check.c stores successes only).
 * - Memory is fixed at creation: GW_TOKEN_CACHE_WAYS-way sets, each under its
 *   own mutex (civetweb's workers look up concurrently and rarely meet on a
 *   set), least recently used entry replaced when a set is full. Nothing
 *   grows; at GW_TOKEN_CACHE_SLOTS entries the table is about 1 MB.
 */
#ifndef GW_TOKEN_CACHE_H
#define GW_TOKEN_CACHE_H

#include "jwt_check.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_TOKEN_CACHE_SLOTS 4096 /* the gateway's table (jwt_check.c) */
#define GW_TOKEN_CACHE_WAYS 8     /* entries per set */
#define GW_TOKEN_CACHE_HASH 32    /* bytes of keyed BLAKE2b per token */

struct gw_token_cache;

/* A token's identity in one table; made by gw_token_cache_key. */
struct gw_token_key {
    unsigned char h[GW_TOKEN_CACHE_HASH];
};

/* A table of at least `slots` entries (rounded up to a power-of-two number
 * of sets; at least one set) with a fresh random hash key. sodium_init()
 * must have run. Returns 0 and *out, or TD_ENOMEM / TD_EINTERNAL. */
int gw_token_cache_new(size_t slots, struct gw_token_cache **out);

/* Zeroes the key and every entry, then frees and NULLs *c (no-op on NULL).
 * No other thread may be using the table. */
void gw_token_cache_free(struct gw_token_cache **c);

/* The keyed hash of `len` bytes of `token`, valid for this table only. */
void gw_token_cache_key(const struct gw_token_cache *c, const char *token, size_t len,
                        struct gw_token_key *key);

/* Returns true and copies the stored claims to *out when `key` is in the
 * table (and marks it recently used); false, *out untouched, otherwise. */
bool gw_token_cache_get(struct gw_token_cache *c, const struct gw_token_key *key,
                        struct gw_token *out);

/* Stores a copy of *t under `key`, replacing the entry already there for
 * `key`, else an empty one, else the set's least recently used. */
void gw_token_cache_put(struct gw_token_cache *c, const struct gw_token_key *key,
                        const struct gw_token *t);

/* Removes (and zeroes) the entry for `key`, if any. */
void gw_token_cache_drop(struct gw_token_cache *c, const struct gw_token_key *key);

/* Lookups since creation that found their key (*hits) and that did not
 * (*misses); either pointer may be NULL. For tests and metrics. */
void gw_token_cache_stats(struct gw_token_cache *c, uint64_t *hits, uint64_t *misses);

#endif
