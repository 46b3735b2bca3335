/*
 * jwt_check.h — the gateway's token checker.
 *
 * libjwt 1.10 verifies the signature and nothing else (PITFALLS.md): it
 * accepts HS384/HS512 tokens signed with our key, reads duplicate header keys
 * last-wins and lets every claim through. So the checks here are ours: the
 * token's shape, the HMAC (libjwt, constant-time in Debian's build), then the
 * header parsed again strictly (alg exactly HS256, no duplicate keys), then
 * every claim with its JSON type, then nbf and exp with the configured
 * leeway. The signature comes first: an expired token with a bad signature
 * is invalid_token, not token_expired.
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
 * `leeway` seconds off. Returns 0 and *out, TD_ECONFIG for a secret under
 * GW_JWT_MIN_SECRET bytes, or TD_ENOMEM. */
int gw_jwt_new(const char *secret, long long leeway, struct gw_jwt **out);

/* Frees and NULLs *j (no-op on NULL). */
void gw_jwt_free(struct gw_jwt **j);

/* Checks `token` (NUL-terminated) at Unix time now_s. Returns 0 and fills
 * *out, TD_EBADTOKEN (malformed, bad signature, other algorithm, a claim
 * missing or mistyped, nbf in the future) or TD_EEXPIRED. The route's token
 * type and revocation are the caller's to check. */
int gw_jwt_verify(const struct gw_jwt *j, const char *token, int64_t now_s,
                  struct gw_token *out);

/* Parses an Authorization header value strictly: the scheme "Bearer" (any
 * case), one space, then the token (base64url segments and dots, nothing
 * after). Returns 0 with *token pointing into `value`, TD_EMISSINGTOKEN when
 * `value` is NULL or another scheme, TD_EBADTOKEN when malformed. */
int gw_jwt_bearer(const char *value, const char **token);

#endif
