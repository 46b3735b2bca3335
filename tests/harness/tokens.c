/*
 * tokens.c — signing test tokens with libjwt (see tokens.h). Claims go in
 * through jwt_add_grants_json so their JSON types are exactly td-auth's
 * (sub a string, fresh a boolean).
 */
#include "tokens.h"
#include "harness.h"

#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *th_token_new(int64_t user_id, const char *type, long ttl_s)
{
    if (sodium_init() < 0)
        return NULL;
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    char jti[33];
    sodium_bin2hex(jti, sizeof jti, raw, sizeof raw);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long now = (long)ts.tv_sec;
    long long now_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    /* td-auth's tokens also carry iat_us (the issue time in microseconds,
     * for per-user revocation cut-offs) and, on refresh tokens, fam (the
     * login they descend from); the gateway requires both. */
    char extra[64];
    if (strcmp(type, "refresh") == 0)
        snprintf(extra, sizeof extra, "\"fam\":\"%s\"", jti);
    else
        snprintf(extra, sizeof extra, "\"fresh\":true");
    char claims[512];
    snprintf(claims, sizeof claims,
             "{\"sub\":\"%lld\",\"type\":\"%s\",\"iat\":%ld,\"iat_us\":%lld,\"nbf\":%ld,"
             "\"exp\":%ld,\"jti\":\"%s\",%s}",
             (long long)user_id, type, now, now_us, now, now + ttl_s, jti, extra);
    jwt_t *jwt = NULL;
    char *out = NULL;
    if (jwt_new(&jwt) == 0 && jwt_add_grants_json(jwt, claims) == 0 &&
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)TH_JWT_SECRET,
                    (int)strlen(TH_JWT_SECRET)) == 0)
        out = jwt_encode_str(jwt);
    jwt_free(jwt);
    return out;
}

char *th_token_access(int64_t user_id, long ttl_s)
{
    return th_token_new(user_id, "access", ttl_s);
}

char *th_bearer_header(const char *token, char *buf, size_t size)
{
    int n = snprintf(buf, size, "Authorization: Bearer %s", token ? token : "");
    return n > 0 && (size_t)n < size ? buf : NULL;
}
