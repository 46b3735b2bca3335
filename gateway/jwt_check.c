/*
 * jwt_check.c — the token checker of jwt_check.h, and the one user of the
 * verified-token cache (token_cache.h).
 *
 * The cache sits here, inside gw_jwt_verify, rather than in gw_auth_check:
 * every caller (the bearer check, logout's refresh token, the fuzz target)
 * gets the same answer from one code path; the table lives and dies with
 * the secret it vouches for (one per gw_jwt, so a checker with another key
 * never sees it); and its value is exactly what this file produces. A hit
 * skips only what cannot change for the same bytes (signature, header,
 * claim shapes); nbf/exp are checked on every call by check_time, the same
 * function the full path uses, and revocation remains the caller's.
 */
#include "jwt_check.h"
#include "td_error.h"
#include "token_cache.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct gw_jwt {
    unsigned char *secret;
    size_t secret_len;
    long long leeway;
    struct gw_token_cache *cache; /* successes only; see the top of this file */
};

int gw_jwt_new(const char *secret, long long leeway, struct gw_jwt **out)
{
    size_t len = secret ? strlen(secret) : 0;
    /* libjwt accepts any token, forged or not, with an empty key, and signs
     * happily with a 1-byte one: a short secret is a configuration error. */
    if (len < GW_JWT_MIN_SECRET)
        return TD_ECONFIG;
    struct gw_jwt *j = calloc(1, sizeof *j);
    if (j == NULL || (j->secret = malloc(len)) == NULL) {
        free(j);
        return TD_ENOMEM;
    }
    int rc = gw_token_cache_new(GW_TOKEN_CACHE_SLOTS, &j->cache);
    if (rc != 0) {
        free(j->secret);
        free(j);
        return rc;
    }
    memcpy(j->secret, secret, len);
    j->secret_len = len;
    j->leeway = leeway;
    *out = j;
    return 0;
}

void gw_jwt_free(struct gw_jwt **pj)
{
    struct gw_jwt *j = *pj;
    if (j == NULL)
        return;
    gw_token_cache_free(&j->cache);
    sodium_memzero(j->secret, j->secret_len);
    free(j->secret);
    free(j);
    *pj = NULL;
}

static bool is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

int gw_jwt_bearer(const char *value, const char **token)
{
    if (value == NULL || strncasecmp(value, "Bearer", 6) != 0 ||
        (value[6] != '\0' && value[6] != ' '))
        return TD_EMISSINGTOKEN;
    if (value[6] != ' ')
        return TD_EBADTOKEN; /* "Bearer" with no token */
    const char *t = value + 7;
    size_t n = 0, dots = 0;
    for (; t[n]; n++) {
        if (t[n] == '.')
            dots++;
        else if (!is_b64url(t[n]))
            return TD_EBADTOKEN; /* spaces, padding, a second token... */
        if (n >= GW_JWT_MAX_LEN)
            return TD_EBADTOKEN;
    }
    if (n == 0 || dots != 2)
        return TD_EBADTOKEN;
    *token = t;
    return 0;
}

/* Decodes one base64url segment and parses it as a JSON object, refusing
 * duplicate keys. Returns the object (caller decrefs) or NULL. */
static json_t *segment_json(const char *seg, size_t len)
{
    if (len == 0 || len > GW_JWT_MAX_LEN)
        return NULL;
    size_t cap = len * 3 / 4 + 3, bin_len = 0;
    unsigned char *bin = malloc(cap);
    if (bin == NULL)
        return NULL;
    const char *end = NULL;
    json_t *json = NULL;
    if (sodium_base642bin(bin, cap, seg, len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
        end == seg + len)
        json = json_loadb((const char *)bin, bin_len, JSON_REJECT_DUPLICATES, NULL);
    free(bin);
    if (json != NULL && !json_is_object(json)) {
        json_decref(json);
        json = NULL;
    }
    return json;
}

/* The header, re-read strictly: {"alg": "HS256"} plus at most "typ": "JWT". */
static bool header_ok(const char *token, size_t len)
{
    json_t *h = segment_json(token, len);
    if (h == NULL)
        return false;
    const char *key;
    json_t *v;
    bool ok = true;
    json_object_foreach(h, key, v) {
        if (strcmp(key, "alg") == 0)
            ok = ok && json_is_string(v) && strcmp(json_string_value(v), "HS256") == 0;
        else if (strcmp(key, "typ") == 0)
            ok = ok && json_is_string(v) && strcmp(json_string_value(v), "JWT") == 0;
        else
            ok = false;
    }
    ok = ok && json_object_get(h, "alg") != NULL;
    json_decref(h);
    return ok;
}

static bool claim_int(const json_t *claims, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(claims, name);
    if (!json_is_integer(v))
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

/* A token id: 16-63 URL-safe base64 characters (>= 96 bits). */
static bool claim_id(const json_t *claims, const char *name, char out[GW_JWT_ID_MAX + 1])
{
    const json_t *v = json_object_get(claims, name);
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n < 16 || n > GW_JWT_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_b64url(s[i]))
            return false;
    }
    memcpy(out, s, n + 1);
    return true;
}

/* sub: the user id as a string, [1-9][0-9]{0,18} fitting int64. */
static bool claim_sub(const json_t *claims, int64_t *out)
{
    const json_t *v = json_object_get(claims, "sub");
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > 19 || s[0] < '1' || s[0] > '9')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    errno = 0;
    long long id = strtoll(s, NULL, 10);
    if (errno != 0)
        return false;
    *out = id;
    return true;
}

/* The time-dependent checks, for a token just read (after check_claims) and
 * for a cache hit alike, so a cached token stops being accepted at the same
 * second an uncached one would. nbf more than `leeway` ahead is
 * TD_EBADTOKEN; now at or past exp + leeway is TD_EEXPIRED. Only now_s (the
 * clock) is offset by the leeway (0-300, config.c), never a claim, so a
 * signed but absurd exp or nbf near the int64 limits cannot overflow. */
static int check_time(const struct gw_jwt *j, const struct gw_token *t, int64_t now_s)
{
    if (t->nbf > now_s + j->leeway)
        return TD_EBADTOKEN;
    if (now_s - j->leeway >= t->exp)
        return TD_EEXPIRED;
    return 0;
}

/* Every claim with its JSON type, and their consistency; not time, which is
 * check_time's. Fills *t; returns 0 or TD_EBADTOKEN. */
static int check_claims(const json_t *c, struct gw_token *t)
{
    const json_t *type = json_object_get(c, "type");
    if (!json_is_string(type))
        return TD_EBADTOKEN;
    if (strcmp(json_string_value(type), "access") == 0)
        t->refresh = false;
    else if (strcmp(json_string_value(type), "refresh") == 0)
        t->refresh = true;
    else
        return TD_EBADTOKEN;
    if (!claim_sub(c, &t->user_id) || !claim_id(c, "jti", t->jti) ||
        !claim_int(c, "iat", &t->iat) || !claim_int(c, "nbf", &t->nbf) ||
        !claim_int(c, "exp", &t->exp) || !claim_int(c, "iat_us", &t->iat_us))
        return TD_EBADTOKEN;
    /* Our tokens say the same issue time twice; a token that does not was
     * not made by td-auth. exp before iat never was either. */
    if (t->iat_us < 0 || t->iat_us / 1000000 != t->iat || t->exp <= t->iat)
        return TD_EBADTOKEN;
    if (t->refresh) {
        if (!claim_id(c, "fam", t->family))
            return TD_EBADTOKEN;
    } else {
        const json_t *fresh = json_object_get(c, "fresh");
        if (!json_is_boolean(fresh))
            return TD_EBADTOKEN;
        t->fresh = json_is_true(fresh);
    }
    return 0;
}

int gw_jwt_verify(const struct gw_jwt *j, const char *token, int64_t now_s,
                  struct gw_token *out)
{
    size_t len = strnlen(token, GW_JWT_MAX_LEN + 1);
    if (len == 0 || len > GW_JWT_MAX_LEN)
        return TD_EBADTOKEN;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return TD_EBADTOKEN;

    /* 0. A token that passed 1-3 before: only the time is left to check. An
     * expired entry is dropped so it stops taking a way; a later call with
     * an earlier clock simply verifies it again in full. */
    struct gw_token_key key;
    gw_token_cache_key(j->cache, token, len, &key);
    struct gw_token t;
    if (gw_token_cache_get(j->cache, &key, &t)) {
        int rc = check_time(j, &t, now_s);
        if (rc == TD_EEXPIRED)
            gw_token_cache_drop(j->cache, &key);
        if (rc == 0)
            *out = t;
        return rc;
    }

    /* 1. The signature, before anything else is believed. */
    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, token, j->secret, (int)j->secret_len) != 0 || jwt == NULL)
        return TD_EBADTOKEN;
    jwt_alg_t alg = jwt_get_alg(jwt);
    jwt_free(jwt);
    /* 2. The algorithm: libjwt takes HS384/HS512 with the same key. */
    if (alg != JWT_ALG_HS256 || !header_ok(token, (size_t)(dot1 - token)))
        return TD_EBADTOKEN;
    /* 3. The claims, parsed again from the signed bytes so duplicate keys
     * are refused rather than resolved. */
    json_t *claims = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (claims == NULL)
        return TD_EBADTOKEN;
    memset(&t, 0, sizeof t);
    int rc = check_claims(claims, &t);
    json_decref(claims);
    /* 4. Time; then the token is remembered, but only if it is accepted now:
     * failures, including not-yet-valid and expired, are never cached. */
    if (rc == 0)
        rc = check_time(j, &t, now_s);
    if (rc == 0) {
        gw_token_cache_put(j->cache, &key, &t);
        *out = t;
    }
    return rc;
}

void gw_jwt_cache_stats(const struct gw_jwt *j, uint64_t *hits, uint64_t *misses)
{
    gw_token_cache_stats(j->cache, hits, misses);
}
