/*
 * jwt_check.h — the gateway's token checker.
 *
 * libjwt 1.10 verifies the signature and nothing else (docs/library-notes.md, libjwt): it
 * accepts HS384/HS512 tokens signed with our key, reads duplicate header keys
 * last-wins and lets every claim through. So the checks here are ours: the
 * token's shape, the HMAC (libjwt, constant-time in Debian's build), then the
 * header parsed again strictly (alg exactly HS256, no duplicate keys), then
 * every claim with its JSON type, then nbf and exp with the configured
 * leeway. The signature comes first: an expired token with a bad signature
 * is invalid_token, not token_expired.
 *
 * A token that passed every check is remembered (token_cache.h: a fixed-size
 * table per checker, keyed by a keyed hash of the exact token bytes, never
 * the token), so the next request with the same bytes skips the signature,
 * header and claim parsing; nbf and exp are checked again on every call,
 * with the same code, so a cached token expires at the same second as an
 * uncached one. Failures are never cached; revocation is the caller's.
 */
#ifndef GW_JWT_H
#define GW_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_JWT_MIN_SECRET 32    /* bytes; shorter secrets are refused at start */
#define GW_JWT_MAX_LEN 4096     /* a longer bearer token is not one of ours */
#define GW_JWT_ID_MAX 63        /* jti and fam: at most this many characters */

struct gw_jwt;

struct gw_token {
    int64_t user_id; /* sub */
    bool refresh;    /* type: "refresh" (else "access") */
    char jti[GW_JWT_ID_MAX + 1];
    int64_t iat, nbf, exp;
    int64_t iat_us;  /* issue time in microseconds (per-user cut-offs) */
    bool fresh;      /* access tokens: issued by login */
    char family[GW_JWT_ID_MAX + 1]; /* refresh tokens: the login they descend from */
};

/* A checker for HS256 tokens signed with `secret` (copied), accepting exp/nbf
 * `leeway` seconds off, with its own verified-token cache (a random hash key
 * from libsodium: sodium_init() must have run). Returns 0 and *out,
 * TD_ECONFIG for a secret under GW_JWT_MIN_SECRET bytes, TD_ENOMEM or
 * TD_EINTERNAL. */
int gw_jwt_new(const char *secret, long long leeway, struct gw_jwt **out);

/* Zeroes the secret and the cache, frees and NULLs *j (no-op on NULL). */
void gw_jwt_free(struct gw_jwt **j);

/* Checks `token` (NUL-terminated) at Unix time now_s. Returns 0 and fills
 * *out, TD_EBADTOKEN (malformed, bad signature, other algorithm, a claim
 * missing or mistyped, nbf in the future) or TD_EEXPIRED. The route's token
 * type and revocation are the caller's to check. Safe to call from many
 * threads at once on one checker. */
int gw_jwt_verify(const struct gw_jwt *j, const char *token, int64_t now_s,
                  struct gw_token *out);

/* How many gw_jwt_verify calls (that got as far as the cache) found their
 * token cached (*hits) or not (*misses); either pointer may be NULL. */
void gw_jwt_cache_stats(const struct gw_jwt *j, uint64_t *hits, uint64_t *misses);

/* Parses an Authorization header value strictly: the scheme "Bearer" (any
 * case), one space, then the token (base64url segments and dots, nothing
 * after). Returns 0 with *token pointing into `value`, TD_EMISSINGTOKEN when
 * `value` is NULL or another scheme, TD_EBADTOKEN when malformed. */
int gw_jwt_bearer(const char *value, const char **token);

#endif
