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
    long now = (long)time(NULL);
    char claims[512];
    snprintf(claims, sizeof claims,
             "{\"sub\":\"%lld\",\"type\":\"%s\",\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld,"
             "\"jti\":\"%s\",\"fresh\":true}",
             (long long)user_id, type, now, now, now + ttl_s, jti);
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
