/*
 * fuzz_jwt.c — Bearer/JWT handling at the gateway (gateway/jwt_check.h),
 * with a fixed secret and a fixed clock.
 *
 * The first byte picks what the rest is:
 *   0  an Authorization header value, taken as it comes (gw_jwt_bearer,
 *      then gw_jwt_verify on what it extracts);
 *   1  "<header JSON>\0<claims JSON>", signed here with HS256 and the
 *      gateway's key, so the fuzzer reaches the checks behind the HMAC;
 *   2  the same signed with HS512 and the same key (libjwt accepts it);
 *   3  the same signed with HS256 and another key.
 *
 * Oracles: the result is one of 0 / TD_EBADTOKEN / TD_EEXPIRED (and
 * TD_EMISSINGTOKEN from gw_jwt_bearer); HS512 and foreign keys are never
 * accepted; an accepted token has, read again independently of libjwt, a
 * header of exactly alg HS256 (plus typ JWT), a numeric string sub equal to
 * the user id given, a known type, iat_us matching iat, exp after iat, and
 * is within its nbf/exp window at the fixed time.
 */
#include "fuzz.h"
#include "gateway/jwt_check.h"
#include "td_error.h"

#include <jansson.h>
#include <sodium.h>
#include <string.h>

#define SECRET "fuzz-secret-0123456789abcdef-0123456789"
#define OTHER "another-secret-0123456789abcdef-012345"
#define NOW 1700000000
#define LEEWAY 30

static struct gw_jwt *g_jwt;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    FUZZ_CHECK(sodium_init() >= 0, "sodium_init");
    FUZZ_CHECK(gw_jwt_new(SECRET, LEEWAY, &g_jwt) == 0, "gw_jwt_new");
    return 0;
}

static char *b64(const unsigned char *bin, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = malloc(cap);
    FUZZ_CHECK(s != NULL, "malloc");
    sodium_bin2base64(s, cap, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return s;
}

/* header.claims.signature, signed with `key` by HS256 or HS512. */
static char *sign(const char *hdr, size_t hlen, const char *cl, size_t clen, const char *key,
                  bool hs512)
{
    char *h = b64((const unsigned char *)hdr, hlen), *c = b64((const unsigned char *)cl, clen);
    size_t ilen = strlen(h) + 1 + strlen(c);
    char *input = malloc(ilen + 1);
    FUZZ_CHECK(input != NULL, "malloc");
    snprintf(input, ilen + 1, "%s.%s", h, c);
    unsigned char mac[crypto_auth_hmacsha512_BYTES];
    size_t mlen;
    if (hs512) {
        crypto_auth_hmacsha512_state st;
        crypto_auth_hmacsha512_init(&st, (const unsigned char *)key, strlen(key));
        crypto_auth_hmacsha512_update(&st, (const unsigned char *)input, ilen);
        crypto_auth_hmacsha512_final(&st, mac);
        mlen = crypto_auth_hmacsha512_BYTES;
    } else {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)input, ilen);
        crypto_auth_hmacsha256_final(&st, mac);
        mlen = crypto_auth_hmacsha256_BYTES;
    }
    char *s = b64(mac, mlen);
    size_t tlen = ilen + 1 + strlen(s);
    char *token = malloc(tlen + 1);
    FUZZ_CHECK(token != NULL, "malloc");
    snprintf(token, tlen + 1, "%s.%s", input, s);
    free(h);
    free(c);
    free(input);
    free(s);
    return token;
}

static bool int_claim(const json_t *c, const char *k, json_int_t *v)
{
    const json_t *j = json_object_get(c, k);
    if (!json_is_integer(j))
        return false;
    *v = json_integer_value(j);
    return true;
}

/* An accepted token, checked again from its raw segments. */
static void check_accepted(const char *hdr, size_t hlen, const char *cl, size_t clen,
                           const struct gw_token *t)
{
    json_t *h = json_loadb(hdr, hlen, JSON_REJECT_DUPLICATES, NULL);
    json_t *c = json_loadb(cl, clen, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(json_is_object(h) && json_is_object(c), "accepted segments that are not objects");
    const char *alg = json_string_value(json_object_get(h, "alg"));
    FUZZ_CHECK(alg && strcmp(alg, "HS256") == 0, "accepted alg %s", alg ? alg : "(none)");
    size_t allowed = 1 + (json_object_get(h, "typ") != NULL);
    FUZZ_CHECK(json_object_size(h) == allowed, "accepted a header with other keys");
    const char *sub = json_string_value(json_object_get(c, "sub"));
    FUZZ_CHECK(sub && sub[0] >= '1' && sub[0] <= '9' && strtoll(sub, NULL, 10) == t->user_id &&
                   t->user_id > 0,
               "sub does not give the user id");
    const char *type = json_string_value(json_object_get(c, "type"));
    FUZZ_CHECK(type && strcmp(type, t->refresh ? "refresh" : "access") == 0, "type");
    json_int_t iat, nbf, exp, iat_us;
    FUZZ_CHECK(int_claim(c, "iat", &iat) && int_claim(c, "nbf", &nbf) &&
                   int_claim(c, "exp", &exp) && int_claim(c, "iat_us", &iat_us),
               "a time claim is missing or not an integer");
    FUZZ_CHECK(iat == t->iat && nbf == t->nbf && exp == t->exp && iat_us == t->iat_us,
               "times differ from the claims");
    FUZZ_CHECK(iat_us >= 0 && iat_us / 1000000 == iat && exp > iat, "inconsistent times");
    FUZZ_CHECK(nbf <= NOW + LEEWAY && NOW < exp + LEEWAY, "accepted outside nbf/exp");
    FUZZ_CHECK(strlen(t->jti) >= 16, "short jti");
    json_decref(h);
    json_decref(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    int mode = data[0] & 3;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    struct gw_token t;
    if (mode == 0) {
        char *value = malloc(n + 1);
        FUZZ_CHECK(value != NULL, "malloc");
        memcpy(value, rest, n);
        value[n] = '\0';
        const char *token = NULL;
        int rc = gw_jwt_bearer(value, &token);
        FUZZ_CHECK(rc == 0 || rc == TD_EMISSINGTOKEN || rc == TD_EBADTOKEN, "bearer: %s",
                   td_error_symbol(rc));
        if (rc == 0) {
            FUZZ_CHECK(token >= value + 7 && token < value + n, "token outside the header");
            rc = gw_jwt_verify(g_jwt, token, NOW, &t);
            FUZZ_CHECK(rc == 0 || rc == TD_EBADTOKEN || rc == TD_EEXPIRED, "verify: %s",
                       td_error_symbol(rc));
        }
        free(value);
        return 0;
    }
    const char *nul = memchr(rest, '\0', n);
    if (nul == NULL)
        return 0;
    const char *hdr = rest, *cl = nul + 1;
    size_t hlen = (size_t)(nul - rest), clen = n - hlen - 1;
    char *token = sign(hdr, hlen, cl, clen, mode == 3 ? OTHER : SECRET, mode == 2);
    memset(&t, 0, sizeof t);
    int rc = gw_jwt_verify(g_jwt, token, NOW, &t);
    FUZZ_CHECK(rc == 0 || rc == TD_EBADTOKEN || rc == TD_EEXPIRED, "verify: %s",
               td_error_symbol(rc));
    if (mode >= 2)
        FUZZ_CHECK(rc != 0, "accepted a token signed %s", mode == 2 ? "HS512" : "with another key");
    if (rc == 0)
        check_accepted(hdr, hlen, cl, clen, &t);
    /* The same token must pass the header parser the way a client sends it. */
    size_t vlen = strlen(token) + 8;
    char *value = malloc(vlen);
    FUZZ_CHECK(value != NULL, "malloc");
    snprintf(value, vlen, "Bearer %s", token);
    const char *extracted = NULL;
    int brc = gw_jwt_bearer(value, &extracted);
    FUZZ_CHECK(brc == 0 || strlen(token) > GW_JWT_MAX_LEN, "a well-formed token refused: %s",
               td_error_symbol(brc));
    free(value);
    free(token);
    return 0;
}
