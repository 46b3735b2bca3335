/*
 * tokens.h — issuing the JWTs of the HTTP contract (gateway/docs/openapi.json) with libjwt, HS256.
 *
 * Claims: sub (user id as a string), type ("access" | "refresh"), iat, nbf,
 * exp (exp - iat is exactly the lifetime), jti (128 random bits), iat_us (the
 * issue time in microseconds, so a per-user "everything issued before T is
 * revoked" cut-off works within one second), fresh (access tokens) and fam
 * (refresh tokens: the login the token descends from, for reuse detection).
 */
#ifndef AUTH_TOKENS_H
#define AUTH_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 16 random bytes, URL-safe base64 without padding: 22 characters. */
#define AUTH_ID_LEN 22

enum auth_token_type { AUTH_TOKEN_ACCESS, AUTH_TOKEN_REFRESH };

struct auth_claims {
    int64_t user_id;
    enum auth_token_type type;
    int64_t iat_us;               /* issue time, microseconds since the epoch */
    int64_t ttl;                  /* lifetime in seconds */
    char jti[AUTH_ID_LEN + 1];    /* filled by auth_token_issue */
    bool fresh;                   /* access only */
    char family[AUTH_ID_LEN + 1]; /* refresh only */
};

/* Fills buf with a fresh random id (AUTH_ID_LEN characters + NUL). */
void auth_random_id(char buf[AUTH_ID_LEN + 1]);

/* The exp claim a token with these claims carries. */
int64_t auth_token_exp(const struct auth_claims *c);

/* Draws a new jti into c->jti, signs the token with `secret` and returns it
 * in *out (caller frees with free()). Returns 0, TD_ENOMEM or TD_EINTERNAL. */
int auth_token_issue(const char *secret, struct auth_claims *c, char **out);

#endif
