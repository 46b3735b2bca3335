/*
 * test_jwt.c — the gateway's token checker (jwt_check.c) and revocation set
 * (revocations.c), without sockets: every way a token can be wrong, what
 * the verified-token cache must not change (a cached token still expires,
 * forged bytes and other secrets are still refused, threads and overflow
 * still get the right claims), and the set's lookups, cut-offs, feed
 * messages and pruning.
 */
#include "gateway/jwt_check.h"
#include "gateway/revocations.h"
#include "td_error.h"
#include "gateway/token_cache.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <jwt.h>
#include <msgpack.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "unit-test-secret-0123456789abcdefghijkl"
#define NOW 1700000000LL
#define JTI "abcdefghijklmnopqrstuv"

static struct gw_jwt *jwt;

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    TD_ASSERT_OK(gw_jwt_new(SECRET, 30, &jwt));
}

static void teardown(void)
{
    gw_jwt_free(&jwt);
    cr_assert_null(jwt);
}

TestSuite(jwt, .init = setup, .fini = teardown);

static json_t *claims(const char *type)
{
    json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:I}", "sub", "42", "type", type,
                          "iat", (json_int_t)NOW, "nbf", (json_int_t)NOW, "exp",
                          (json_int_t)(NOW + 900), "jti", JTI, "iat_us",
                          (json_int_t)(NOW * 1000000 + 5));
    if (strcmp(type, "access") == 0)
        json_object_set_new(c, "fresh", json_true());
    else
        json_object_set_new(c, "fam", json_string("FAMILYfamily0123456789"));
    return c;
}

static char *sign(json_t *c, jwt_alg_t alg, const char *key)
{
    char *json = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    jwt_t *j = NULL;
    cr_assert_eq(jwt_new(&j), 0);
    cr_assert_eq(jwt_add_grants_json(j, json), 0);
    free(json);
    cr_assert_eq(jwt_set_alg(j, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0), 0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    cr_assert_not_null(t);
    return t;
}

static int verify_at(char *token, long long now, struct gw_token *t)
{
    int rc = gw_jwt_verify(jwt, token, now, t);
    free(token);
    return rc;
}

static int verify(char *token)
{
    struct gw_token t;
    return verify_at(token, NOW + 10, &t);
}

/* A token built from raw header and payload JSON, signed HS256 with SECRET. */
static char *raw_token(const char *header, const char *payload)
{
    char h[512], p[1024], signing[1600];
    sodium_bin2base64(h, sizeof h, (const unsigned char *)header, strlen(header),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(p, sizeof p, (const unsigned char *)payload, strlen(payload),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(signing, sizeof signing, "%s.%s", h, p);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET, strlen(SECRET));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, strlen(signing));
    crypto_auth_hmacsha256_final(&st, mac);
    char sig[64];
    sodium_bin2base64(sig, sizeof sig, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(2048);
    snprintf(out, 2048, "%s.%s", signing, sig);
    return out;
}

#define GOOD_PAYLOAD                                                                           \
    "{\"sub\":\"42\",\"type\":\"access\",\"iat\":1700000000,\"nbf\":1700000000,"               \
    "\"exp\":1700000900,\"jti\":\"" JTI "\",\"iat_us\":1700000000000005,\"fresh\":true}"

Test(jwt, a_good_access_token_is_read_whole)
{
    struct gw_token t;
    cr_assert_eq(verify_at(sign(claims("access"), JWT_ALG_HS256, SECRET), NOW + 10, &t), 0);
    cr_expect_eq(t.user_id, 42);
    cr_expect_not(t.refresh);
    cr_expect_str_eq(t.jti, JTI);
    cr_expect_eq(t.exp, NOW + 900);
    cr_expect_eq(t.iat_us, NOW * 1000000 + 5);
    cr_expect(t.fresh);
    cr_assert_eq(verify_at(sign(claims("refresh"), JWT_ALG_HS256, SECRET), NOW + 10, &t), 0);
    cr_expect(t.refresh);
    cr_expect_str_eq(t.family, "FAMILYfamily0123456789");
    cr_expect_eq(verify(raw_token("{\"alg\":\"HS256\"}", GOOD_PAYLOAD)), 0, "typ is optional");
}

Test(jwt, short_secret_is_refused)
{
    struct gw_jwt *j = NULL;
    cr_expect_eq(gw_jwt_new("", 30, &j), TD_ECONFIG);
    cr_expect_eq(gw_jwt_new("0123456789abcdef0123456789abcde", 30, &j), TD_ECONFIG, "31 bytes");
    cr_expect_null(j);
    cr_expect_eq(gw_jwt_new(NULL, 30, &j), TD_ECONFIG);
}

Test(jwt, other_algorithms_and_keys_are_invalid)
{
    cr_expect_eq(verify(sign(claims("access"), JWT_ALG_NONE, NULL)), TD_EBADTOKEN);
    cr_expect_eq(verify(sign(claims("access"), JWT_ALG_HS512, SECRET)), TD_EBADTOKEN);
    cr_expect_eq(verify(sign(claims("access"), JWT_ALG_HS384, SECRET)), TD_EBADTOKEN);
    cr_expect_eq(verify(sign(claims("access"), JWT_ALG_HS256, SECRET "x")), TD_EBADTOKEN);
    /* Header tricks: duplicate alg (libjwt: last wins), extra keys, other typ. */
    cr_expect_eq(verify(raw_token("{\"alg\":\"none\",\"alg\":\"HS256\"}", GOOD_PAYLOAD)),
                 TD_EBADTOKEN);
    cr_expect_eq(verify(raw_token("{\"alg\":\"HS256\",\"kid\":\"x\"}", GOOD_PAYLOAD)),
                 TD_EBADTOKEN);
    cr_expect_eq(verify(raw_token("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", GOOD_PAYLOAD)),
                 TD_EBADTOKEN);
}

Test(jwt, signature_is_checked_before_expiry)
{
    json_t *c = claims("access");
    json_object_set_new(c, "iat", json_integer(NOW - 2000));
    json_object_set_new(c, "nbf", json_integer(NOW - 2000));
    json_object_set_new(c, "iat_us", json_integer((NOW - 2000) * 1000000));
    json_object_set_new(c, "exp", json_integer(NOW - 1000));
    json_t *c2 = json_deep_copy(c);
    cr_expect_eq(verify(sign(c, JWT_ALG_HS256, SECRET)), TD_EEXPIRED);
    cr_expect_eq(verify(sign(c2, JWT_ALG_HS256, "another-secret-0123456789abcdefghij")),
                 TD_EBADTOKEN);
}

Test(jwt, exp_and_nbf_use_the_leeway)
{
    struct gw_token t;
    cr_expect_eq(verify_at(sign(claims("access"), JWT_ALG_HS256, SECRET), NOW + 900 + 29, &t), 0);
    cr_expect_eq(verify_at(sign(claims("access"), JWT_ALG_HS256, SECRET), NOW + 900 + 30, &t),
                 TD_EEXPIRED);
    cr_expect_eq(verify_at(sign(claims("access"), JWT_ALG_HS256, SECRET), NOW - 30, &t), 0);
    cr_expect_eq(verify_at(sign(claims("access"), JWT_ALG_HS256, SECRET), NOW - 31, &t),
                 TD_EBADTOKEN, "nbf in the future");
}

Test(jwt, claims_missing_or_mistyped_are_invalid)
{
    const char *required[] = {"sub", "type", "iat", "nbf", "exp", "jti", "iat_us", "fresh"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        json_t *c = claims("access");
        json_object_del(c, required[i]);
        cr_expect_eq(verify(sign(c, JWT_ALG_HS256, SECRET)), TD_EBADTOKEN, "without %s",
                     required[i]);
    }
    json_t *c = claims("refresh");
    json_object_del(c, "fam");
    cr_expect_eq(verify(sign(c, JWT_ALG_HS256, SECRET)), TD_EBADTOKEN, "refresh without fam");

    struct {
        const char *claim;
        json_t *value;
    } bad[] = {
        {"sub", json_integer(42)},          {"sub", json_string("042")},
        {"sub", json_string("0")},          {"sub", json_string("-1")},
        {"sub", json_string("4 2")},        {"sub", json_string("99999999999999999999")},
        {"type", json_string("admin")},     {"type", json_integer(1)},
        {"exp", json_string("1700000900")}, {"exp", json_real(1700000900.0)},
        {"iat", json_null()},               {"jti", json_string("short")},
        {"jti", json_string("has space in it 123456")}, {"jti", json_integer(5)},
        {"fresh", json_string("true")},     {"iat_us", json_integer(1)},
        {"exp", json_integer(NOW - 1)},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = claims("access");
        json_object_set_new(c, bad[i].claim, bad[i].value);
        cr_expect_eq(verify(sign(c, JWT_ALG_HS256, SECRET)), TD_EBADTOKEN, "bad %s (#%zu)",
                     bad[i].claim, i);
    }
    /* Duplicate claims are refused rather than resolved. */
    cr_expect_eq(verify(raw_token("{\"alg\":\"HS256\"}",
                                  "{\"sub\":\"1\",\"sub\":\"42\",\"type\":\"access\","
                                  "\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700000900,"
                                  "\"jti\":\"" JTI "\",\"iat_us\":1700000000000005,"
                                  "\"fresh\":true}")),
                 TD_EBADTOKEN);
}

Test(jwt, malformed_tokens_are_invalid)
{
    const char *bad[] = {"", "a", "a.b", "a.b.c", "a.b.c.d", "..", "e30.e30.", "!!!.!!!.!!!"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gw_token t;
        cr_expect_eq(gw_jwt_verify(jwt, bad[i], NOW, &t), TD_EBADTOKEN, "'%s'", bad[i]);
    }
    char *big = malloc(GW_JWT_MAX_LEN + 10);
    memset(big, 'a', GW_JWT_MAX_LEN + 9);
    big[10] = '.';
    big[20] = '.';
    big[GW_JWT_MAX_LEN + 9] = '\0';
    struct gw_token t;
    cr_expect_eq(gw_jwt_verify(jwt, big, NOW, &t), TD_EBADTOKEN);
    free(big);
}

Test(jwt, bearer_header_is_parsed_strictly)
{
    const char *tok = NULL;
    cr_expect_eq(gw_jwt_bearer(NULL, &tok), TD_EMISSINGTOKEN);
    cr_expect_eq(gw_jwt_bearer("Basic dXNlcjpwYXNz", &tok), TD_EMISSINGTOKEN);
    cr_expect_eq(gw_jwt_bearer("Bearerx a.b.c", &tok), TD_EMISSINGTOKEN);
    const char *bad[] = {"Bearer", "Bearer ", "Bearer  a.b.c", "Bearer a.b.c ", "Bearer a.b",
                         "Bearer a.b.c.d", "Bearer a.b.c=", "Bearer a.b.c x", "Bearer a+b.c.d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(gw_jwt_bearer(bad[i], &tok), TD_EBADTOKEN, "'%s'", bad[i]);
    TD_ASSERT_OK(gw_jwt_bearer("bEaReR a-_.b9.c", &tok));
    cr_expect_str_eq(tok, "a-_.b9.c");
}

/* ---- the verified-token cache, seen through gw_jwt_verify ---- */

/* An access token of user `uid` with a jti of its own; otherwise claims(). */
static char *mint_user(long long uid, const char *key)
{
    json_t *c = claims("access");
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", uid);
    json_object_set_new(c, "sub", json_string(buf));
    snprintf(buf, sizeof buf, "jti%019lld", uid);
    json_object_set_new(c, "jti", json_string(buf));
    return sign(c, JWT_ALG_HS256, key);
}

static bool is_user(const struct gw_token *t, long long uid)
{
    char jti[32];
    snprintf(jti, sizeof jti, "jti%019lld", uid);
    return t->user_id == uid && !t->refresh && t->fresh && strcmp(t->jti, jti) == 0 &&
           t->exp == NOW + 900 && t->nbf == NOW && t->iat_us == NOW * 1000000 + 5;
}

static uint64_t hits_of(const struct gw_jwt *j)
{
    uint64_t h = 0;
    gw_jwt_cache_stats(j, &h, NULL);
    return h;
}

Test(jwt, a_repeated_token_is_answered_from_the_cache_with_the_same_claims)
{
    char *tok = sign(claims("refresh"), JWT_ALG_HS256, SECRET);
    struct gw_token a, b;
    TD_ASSERT_OK(gw_jwt_verify(jwt, tok, NOW + 10, &a));
    cr_expect_eq(hits_of(jwt), 0);
    memset(&b, 0x5a, sizeof b);
    TD_ASSERT_OK(gw_jwt_verify(jwt, tok, NOW + 10, &b));
    cr_expect_eq(hits_of(jwt), 1, "the second call did not use the cache");
    cr_expect_eq(b.user_id, a.user_id);
    cr_expect_eq(b.refresh, a.refresh);
    cr_expect_str_eq(b.jti, a.jti);
    cr_expect_eq(b.iat, a.iat);
    cr_expect_eq(b.nbf, a.nbf);
    cr_expect_eq(b.exp, a.exp);
    cr_expect_eq(b.iat_us, a.iat_us);
    cr_expect_eq(b.fresh, a.fresh);
    cr_expect_str_eq(b.family, a.family);
    free(tok);
}

Test(jwt, a_cached_token_expires_at_exp_plus_leeway)
{
    char *tok = sign(claims("access"), JWT_ALG_HS256, SECRET);
    struct gw_token t;
    TD_ASSERT_OK(gw_jwt_verify(jwt, tok, NOW + 10, &t));
    cr_expect_eq(gw_jwt_verify(jwt, tok, NOW + 900 + 29, &t), 0);
    cr_expect_eq(gw_jwt_verify(jwt, tok, NOW + 900 + 30, &t), TD_EEXPIRED);
    cr_expect_eq(gw_jwt_verify(jwt, tok, NOW + 900 + 100000, &t), TD_EEXPIRED);
    cr_expect_eq(hits_of(jwt), 2, "the first expiry was decided on a cache hit");
    /* The expired entry was dropped; with an earlier clock the token is
     * verified in full again and accepted, as an uncached one would be. */
    cr_expect_eq(gw_jwt_verify(jwt, tok, NOW + 10, &t), 0);
    cr_expect_eq(t.user_id, 42);
    free(tok);
}

Test(jwt, a_cached_token_is_refused_before_its_nbf)
{
    char *tok = sign(claims("access"), JWT_ALG_HS256, SECRET);
    struct gw_token t;
    TD_ASSERT_OK(gw_jwt_verify(jwt, tok, NOW, &t));
    cr_expect_eq(gw_jwt_verify(jwt, tok, NOW - 31, &t), TD_EBADTOKEN, "nbf in the future");
    cr_expect_eq(hits_of(jwt), 1, "decided on a cache hit");
    cr_expect_eq(gw_jwt_verify(jwt, tok, NOW - 30, &t), 0);
    free(tok);
}

Test(jwt, failures_are_never_cached)
{
    uint64_t h, m;
    struct gw_token t;
    /* Expired, then (with an earlier clock) accepted: both full checks. */
    char *tok = sign(claims("access"), JWT_ALG_HS256, SECRET);
    cr_expect_eq(gw_jwt_verify(jwt, tok, NOW + 930, &t), TD_EEXPIRED);
    cr_expect_eq(gw_jwt_verify(jwt, tok, NOW + 930, &t), TD_EEXPIRED);
    /* Not yet valid, then valid. */
    cr_expect_eq(gw_jwt_verify(jwt, tok, NOW - 31, &t), TD_EBADTOKEN);
    gw_jwt_cache_stats(jwt, &h, &m);
    cr_expect_eq(h, 0);
    cr_expect_eq(m, 3);
    cr_expect_eq(gw_jwt_verify(jwt, tok, NOW, &t), 0);
    cr_expect_eq(hits_of(jwt), 0, "accepted once, only now cached");
    cr_expect_eq(gw_jwt_verify(jwt, tok, NOW, &t), 0);
    cr_expect_eq(hits_of(jwt), 1);
    free(tok);
    /* Another key, and another algorithm with our key: refused every time. */
    char *bad[] = {sign(claims("access"), JWT_ALG_HS256, "another-secret-0123456789abcdefghij"),
                   sign(claims("access"), JWT_ALG_HS512, SECRET)};
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 3; k++)
            cr_expect_eq(gw_jwt_verify(jwt, bad[i], NOW + 10, &t), TD_EBADTOKEN, "#%d", i);
        free(bad[i]);
    }
    cr_expect_eq(hits_of(jwt), 1);
}

Test(jwt, a_token_one_byte_off_is_refused_after_the_genuine_one_is_cached)
{
    char *tok = sign(claims("access"), JWT_ALG_HS256, SECRET);
    size_t len = strlen(tok);
    struct gw_token t;
    TD_ASSERT_OK(gw_jwt_verify(jwt, tok, NOW + 10, &t));
    TD_ASSERT_OK(gw_jwt_verify(jwt, tok, NOW + 10, &t));
    cr_assert_eq(hits_of(jwt), 1);
    char *forged = malloc(len + 2);
    /* Every byte of the token, the signature's included, changed in turn. */
    for (size_t i = 0; i < len; i++) {
        if (tok[i] == '.')
            continue;
        memcpy(forged, tok, len + 1);
        forged[i] = tok[i] == 'A' ? 'B' : 'A';
        cr_expect_eq(gw_jwt_verify(jwt, forged, NOW + 10, &t), TD_EBADTOKEN, "byte %zu of %zu",
                     i, len);
    }
    memcpy(forged, tok, len + 1);
    forged[len - 1] = '\0';
    cr_expect_eq(gw_jwt_verify(jwt, forged, NOW + 10, &t), TD_EBADTOKEN, "one byte short");
    memcpy(forged, tok, len);
    memcpy(forged + len, "A", 2);
    cr_expect_eq(gw_jwt_verify(jwt, forged, NOW + 10, &t), TD_EBADTOKEN, "one byte more");
    cr_expect_eq(hits_of(jwt), 1, "a forged token hit the cache");
    cr_expect_eq(gw_jwt_verify(jwt, tok, NOW + 10, &t), 0, "the genuine one still passes");
    cr_expect_eq(hits_of(jwt), 2);
    free(forged);
    free(tok);
}

#define SECRET_B "a-second-unit-test-secret-9876543210zyxw"

Test(jwt, checkers_with_other_secrets_do_not_share_what_they_cached)
{
    struct gw_jwt *b = NULL, *same = NULL;
    TD_ASSERT_OK(gw_jwt_new(SECRET_B, 30, &b));
    TD_ASSERT_OK(gw_jwt_new(SECRET, 30, &same));
    char *tok_a = mint_user(7, SECRET), *tok_b = mint_user(8, SECRET_B);
    struct gw_token t;
    TD_ASSERT_OK(gw_jwt_verify(jwt, tok_a, NOW + 10, &t));
    TD_ASSERT_OK(gw_jwt_verify(jwt, tok_a, NOW + 10, &t));
    TD_ASSERT_OK(gw_jwt_verify(b, tok_b, NOW + 10, &t));
    TD_ASSERT_OK(gw_jwt_verify(b, tok_b, NOW + 10, &t));
    for (int k = 0; k < 2; k++) {
        cr_expect_eq(gw_jwt_verify(b, tok_a, NOW + 10, &t), TD_EBADTOKEN);
        cr_expect_eq(gw_jwt_verify(jwt, tok_b, NOW + 10, &t), TD_EBADTOKEN);
    }
    cr_expect_eq(hits_of(jwt), 1);
    cr_expect_eq(hits_of(b), 1);
    /* Same secret, separate checker: its own (empty) cache, same answer. */
    cr_expect_eq(gw_jwt_verify(same, tok_a, NOW + 10, &t), 0);
    cr_expect(is_user(&t, 7));
    cr_expect_eq(hits_of(same), 0);
    free(tok_a);
    free(tok_b);
    gw_jwt_free(&b);
    gw_jwt_free(&same);
}

Test(jwt, more_distinct_tokens_than_slots_are_all_read_right)
{
    enum { N = GW_TOKEN_CACHE_SLOTS + GW_TOKEN_CACHE_SLOTS / 2 };
    char **toks = calloc(N, sizeof *toks);
    cr_assert_not_null(toks);
    for (int i = 0; i < N; i++)
        toks[i] = mint_user(i + 1, SECRET);
    struct gw_token t;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < N; i++) {
            memset(&t, 0, sizeof t);
            TD_ASSERT_OK(gw_jwt_verify(jwt, toks[i], NOW + 10, &t), "pass %d, #%d", pass, i);
            cr_assert(is_user(&t, i + 1), "pass %d: #%d read as user %lld", pass, i,
                      (long long)t.user_id);
        }
    }
    uint64_t h, m;
    gw_jwt_cache_stats(jwt, &h, &m);
    cr_expect_eq(h + m, 2 * (uint64_t)N);
    cr_expect_geq(m, (uint64_t)N, "the first pass can only miss");
    cr_expect_leq(h, (uint64_t)GW_TOKEN_CACHE_SLOTS, "more hits than the table holds");
    cr_expect_eq(gw_jwt_verify(jwt, toks[N - 1], NOW + 10, &t), 0);
    cr_expect_eq(hits_of(jwt), h + 1, "the most recent token was not kept");
    for (int i = 0; i < N; i++)
        free(toks[i]);
    free(toks);
}

/* civetweb's workers verify concurrently: each thread walks the same tokens
 * (and forgeries of them) in its own order. */
#define VERIFY_THREADS 8
#define VERIFY_ROUNDS 3000
#define VERIFY_TOKENS 64

static char *mt_tokens[VERIFY_TOKENS], *mt_forged[VERIFY_TOKENS];
static atomic_int mt_wrong;

static void *verify_worker(void *arg)
{
    int me = (int)(uintptr_t)arg;
    for (int r = 0; r < VERIFY_ROUNDS; r++) {
        int i = (r * 7 + me * 13) % VERIFY_TOKENS;
        struct gw_token t;
        memset(&t, 0, sizeof t);
        if (r % 10 == 9) {
            if (gw_jwt_verify(jwt, mt_forged[i], NOW + 10, &t) != TD_EBADTOKEN)
                atomic_fetch_add(&mt_wrong, 1);
        } else if (gw_jwt_verify(jwt, mt_tokens[i], NOW + 10, &t) != 0 || !is_user(&t, i + 1)) {
            atomic_fetch_add(&mt_wrong, 1);
        }
    }
    return NULL;
}

Test(jwt, many_threads_verifying_at_once_each_get_their_tokens_claims)
{
    for (int i = 0; i < VERIFY_TOKENS; i++) {
        mt_tokens[i] = mint_user(i + 1, SECRET);
        mt_forged[i] = strdup(mt_tokens[i]);
        size_t n = strlen(mt_forged[i]);
        mt_forged[i][n - 5] = mt_forged[i][n - 5] == 'x' ? 'y' : 'x';
    }
    pthread_t th[VERIFY_THREADS];
    for (int i = 0; i < VERIFY_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, verify_worker, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < VERIFY_THREADS; i++)
        pthread_join(th[i], NULL);
    cr_expect_eq(atomic_load(&mt_wrong), 0, "%d wrong answers", atomic_load(&mt_wrong));
    cr_expect_gt(hits_of(jwt), (uint64_t)VERIFY_THREADS * VERIFY_ROUNDS / 2,
                 "mostly answered from the cache");
    for (int i = 0; i < VERIFY_TOKENS; i++) {
        free(mt_tokens[i]);
        free(mt_forged[i]);
    }
}

TestSuite(revocations);

Test(revocations, jtis_and_cutoffs)
{
    struct gw_revocations *r = NULL;
    TD_ASSERT_OK(gw_revocations_new(NULL, NULL, 30, &r));
    cr_expect(gw_revocations_wait_synced(r, 0), "a plain set counts as synced");
    cr_expect_not(gw_revocations_revoked(r, JTI, 7, 100));
    gw_revocations_add_jti(r, JTI, NOW);
    cr_expect(gw_revocations_revoked(r, JTI, 7, 100));
    cr_expect_not(gw_revocations_revoked(r, "another-jti-0123456789", 7, 100));

    gw_revocations_add_user(r, 9, 5000, NOW + 100);
    cr_expect(gw_revocations_revoked(r, "x123456789012345678901", 9, 4999));
    cr_expect_not(gw_revocations_revoked(r, "x123456789012345678901", 9, 5000));
    cr_expect_not(gw_revocations_revoked(r, "x123456789012345678901", 10, 1));
    /* A cut-off only moves forward. */
    gw_revocations_add_user(r, 9, 10, NOW + 100);
    cr_expect(gw_revocations_revoked(r, "x123456789012345678901", 9, 4999));

    /* Pruned only once exp + leeway has passed. */
    cr_expect_eq(gw_revocations_prune(r, NOW + 30), 2);
    cr_expect_eq(gw_revocations_prune(r, NOW + 32), 1);
    cr_expect_not(gw_revocations_revoked(r, JTI, 7, 100));
    cr_expect_eq(gw_revocations_prune(r, NOW + 101), 0);
    gw_revocations_free(&r);
    cr_assert_null(r);
}

Test(revocations, many_entries_grow_the_table)
{
    struct gw_revocations *r = NULL;
    TD_ASSERT_OK(gw_revocations_new(NULL, NULL, 0, &r));
    char jti[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(jti, sizeof jti, "jti-%08d-abcdefghij", i);
        gw_revocations_add_jti(r, jti, NOW + i);
    }
    for (int i = 0; i < 5000; i += 7) {
        snprintf(jti, sizeof jti, "jti-%08d-abcdefghij", i);
        cr_assert(gw_revocations_revoked(r, jti, 1, 1), "%s lost", jti);
    }
    cr_expect_eq(gw_revocations_prune(r, NOW + 2500), 2501, "exp + 1 >= now kept");
    gw_revocations_free(&r);
}

static void pack_event(msgpack_sbuffer *sb, const char *kind, bool good)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    bool jti = strcmp(kind, "jti") == 0;
    msgpack_pack_map(&pk, jti ? 4 : 5);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "kind", 4);
    msgpack_pack_str_with_body(&pk, kind, strlen(kind));
    if (jti) {
        msgpack_pack_str_with_body(&pk, "jti", 3);
        msgpack_pack_str_with_body(&pk, good ? JTI : "bad jti!", good ? strlen(JTI) : 8);
        msgpack_pack_str_with_body(&pk, "exp", 3);
        msgpack_pack_int64(&pk, NOW);
    } else {
        msgpack_pack_str_with_body(&pk, "uid", 3);
        msgpack_pack_int64(&pk, 3);
        msgpack_pack_str_with_body(&pk, "cutoff_us", 9);
        if (good)
            msgpack_pack_int64(&pk, 777);
        else
            msgpack_pack_str_with_body(&pk, "777", 3);
        msgpack_pack_str_with_body(&pk, "until", 5);
        msgpack_pack_int64(&pk, NOW + 10);
    }
}

Test(revocations, feed_messages_are_checked)
{
    struct gw_revocations *r = NULL;
    TD_ASSERT_OK(gw_revocations_new(NULL, NULL, 30, &r));
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_event(&sb, "jti", true);
    cr_expect_eq(gw_revocations_apply_event(r, sb.data, sb.size), 0);
    cr_expect(gw_revocations_revoked(r, JTI, 1, 1));
    msgpack_sbuffer_clear(&sb);
    pack_event(&sb, "user", true);
    cr_expect_eq(gw_revocations_apply_event(r, sb.data, sb.size), 0);
    cr_expect(gw_revocations_revoked(r, "zzzzzzzzzzzzzzzzzzzzzz", 3, 776));
    msgpack_sbuffer_clear(&sb);
    pack_event(&sb, "jti", false);
    cr_expect_eq(gw_revocations_apply_event(r, sb.data, sb.size), TD_EPROTO);
    msgpack_sbuffer_clear(&sb);
    pack_event(&sb, "user", false);
    cr_expect_eq(gw_revocations_apply_event(r, sb.data, sb.size), TD_EPROTO);
    msgpack_sbuffer_clear(&sb);
    pack_event(&sb, "other", true);
    cr_expect_eq(gw_revocations_apply_event(r, sb.data, sb.size), TD_EPROTO);
    cr_expect_eq(gw_revocations_apply_event(r, "\xdd\x0f\xff\xff\xff", 5), TD_EPROTO);
    cr_expect_eq(gw_revocations_apply_event(r, "", 0), TD_EPROTO);
    msgpack_sbuffer_destroy(&sb);
    gw_revocations_free(&r);
}
