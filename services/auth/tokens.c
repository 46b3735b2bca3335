/*
 * tokens.c — JWT issuing (tokens.h). Only td-auth signs tokens; the gateway
 * verifies them (gateway/jwt_check.c) and daemons never see them.
 */
#include "tokens.h"
#include "td_error.h"

#include <errno.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void auth_random_id(char buf[AUTH_ID_LEN + 1])
{
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(buf, AUTH_ID_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int64_t auth_token_exp(const struct auth_claims *c)
{
    return c->iat_us / 1000000 + c->ttl;
}

int auth_token_issue(const char *secret, struct auth_claims *c, char **out)
{
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0)
        return TD_ENOMEM;
    auth_random_id(c->jti);
    char sub[24];
    snprintf(sub, sizeof sub, "%lld", (long long)c->user_id);
    int64_t iat = c->iat_us / 1000000;
    bool access = c->type == AUTH_TOKEN_ACCESS;
    int rc = jwt_add_grant(jwt, "sub", sub);
    rc = rc ? rc : jwt_add_grant(jwt, "type", access ? "access" : "refresh");
    rc = rc ? rc : jwt_add_grant_int(jwt, "iat", (long)iat);
    rc = rc ? rc : jwt_add_grant_int(jwt, "nbf", (long)iat);
    rc = rc ? rc : jwt_add_grant_int(jwt, "exp", (long)auth_token_exp(c));
    rc = rc ? rc : jwt_add_grant(jwt, "jti", c->jti);
    rc = rc ? rc : jwt_add_grant_int(jwt, "iat_us", (long)c->iat_us);
    if (access)
        rc = rc ? rc : jwt_add_grant_bool(jwt, "fresh", c->fresh);
    else
        rc = rc ? rc : jwt_add_grant(jwt, "fam", c->family);
    rc = rc ? rc
            : jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret));
    char *token = rc ? NULL : jwt_encode_str(jwt);
    jwt_free(jwt);
    if (token == NULL)
        return rc == ENOMEM ? TD_ENOMEM : TD_EINTERNAL;
    *out = token;
    return 0;
}
