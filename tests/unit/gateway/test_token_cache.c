/*
 * test_token_cache.c — the verified-token table (token_cache.c) on its own:
 * keys per table and per byte, replacement in a full set, overwrite and
 * drop, a table far smaller than its traffic, and many threads reading and
 * writing one small table. The behaviour seen through gw_jwt_verify (expiry
 * on a hit, other secrets, forged bytes) is in test_jwt.c.
 */
#include "gateway/token_cache.h"
#include "td_error.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
}

TestSuite(token_cache, .init = setup);

/* Claims that all derive from i, so a torn or mixed-up entry shows. */
static struct gw_token claims_of(int i)
{
    struct gw_token t;
    memset(&t, 0, sizeof t);
    t.user_id = 1000 + i;
    t.refresh = i % 2;
    snprintf(t.jti, sizeof t.jti, "jti-%018d", i);
    t.iat = 1700000000 + i;
    t.nbf = t.iat;
    t.exp = t.iat + 900;
    t.iat_us = t.iat * 1000000LL + i;
    t.fresh = i % 3 == 0;
    snprintf(t.family, sizeof t.family, "fam-%018d", i);
    return t;
}

static bool claims_are(const struct gw_token *t, int i)
{
    struct gw_token want = claims_of(i);
    return t->user_id == want.user_id && t->refresh == want.refresh &&
           strcmp(t->jti, want.jti) == 0 && t->iat == want.iat && t->nbf == want.nbf &&
           t->exp == want.exp && t->iat_us == want.iat_us && t->fresh == want.fresh &&
           strcmp(t->family, want.family) == 0;
}

static struct gw_token_key key_of(struct gw_token_cache *c, int i)
{
    char tok[64];
    int n = snprintf(tok, sizeof tok, "header.payload-%d.signature", i);
    struct gw_token_key k;
    gw_token_cache_key(c, tok, (size_t)n, &k);
    return k;
}

static void put(struct gw_token_cache *c, int i)
{
    struct gw_token_key k = key_of(c, i);
    struct gw_token t = claims_of(i);
    gw_token_cache_put(c, &k, &t);
}

static bool has(struct gw_token_cache *c, int i)
{
    struct gw_token_key k = key_of(c, i);
    struct gw_token t;
    if (!gw_token_cache_get(c, &k, &t))
        return false;
    cr_expect(claims_are(&t, i), "entry %d came back with another token's claims", i);
    return true;
}

Test(token_cache, a_stored_token_is_found_and_an_unknown_one_is_not)
{
    struct gw_token_cache *c = NULL;
    TD_ASSERT_OK(gw_token_cache_new(64, &c));
    struct gw_token t = claims_of(99);
    struct gw_token_key k = key_of(c, 1);
    cr_expect_not(gw_token_cache_get(c, &k, &t));
    cr_expect(claims_are(&t, 99), "a miss leaves *out untouched");
    put(c, 1);
    cr_expect(has(c, 1));
    cr_expect_not(has(c, 2));
    uint64_t hits = 0, misses = 0;
    gw_token_cache_stats(c, &hits, &misses);
    cr_expect_eq(hits, 1);
    cr_expect_eq(misses, 2);
    gw_token_cache_free(&c);
    cr_assert_null(c);
    gw_token_cache_free(&c); /* no-op on NULL */
}

Test(token_cache, keys_depend_on_every_byte_and_on_the_table)
{
    struct gw_token_cache *a = NULL, *b = NULL;
    TD_ASSERT_OK(gw_token_cache_new(64, &a));
    TD_ASSERT_OK(gw_token_cache_new(64, &b));
    const char tok[] = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl";
    struct gw_token_key ka, ka2, kb, kx;
    gw_token_cache_key(a, tok, strlen(tok), &ka);
    gw_token_cache_key(a, tok, strlen(tok), &ka2);
    gw_token_cache_key(b, tok, strlen(tok), &kb);
    cr_expect_eq(memcmp(ka.h, ka2.h, sizeof ka.h), 0, "same table, same bytes, same key");
    cr_expect_neq(memcmp(ka.h, kb.h, sizeof ka.h), 0, "each table has its own hash key");
    char other[sizeof tok];
    for (size_t i = 0; i < strlen(tok); i++) {
        memcpy(other, tok, sizeof tok);
        other[i] ^= 1;
        gw_token_cache_key(a, other, strlen(other), &kx);
        cr_expect_neq(memcmp(ka.h, kx.h, sizeof ka.h), 0, "byte %zu changed, same key", i);
    }
    gw_token_cache_key(a, tok, strlen(tok) - 1, &kx);
    cr_expect_neq(memcmp(ka.h, kx.h, sizeof ka.h), 0, "a prefix has its own key");

    /* What one table stores, another does not find. */
    struct gw_token t = claims_of(5);
    gw_token_cache_put(a, &ka, &t);
    cr_expect(gw_token_cache_get(a, &ka, &t));
    cr_expect_not(gw_token_cache_get(b, &kb, &t));
    gw_token_cache_free(&a);
    gw_token_cache_free(&b);
}

Test(token_cache, a_full_set_replaces_its_least_recently_used_entry)
{
    struct gw_token_cache *c = NULL;
    /* GW_TOKEN_CACHE_WAYS slots is exactly one set: every token meets. */
    TD_ASSERT_OK(gw_token_cache_new(GW_TOKEN_CACHE_WAYS, &c));
    for (int i = 0; i < GW_TOKEN_CACHE_WAYS; i++)
        put(c, i);
    for (int i = 0; i < GW_TOKEN_CACHE_WAYS; i++)
        cr_expect(has(c, i), "%d lost before the set was over-full", i);
    cr_expect(has(c, 0), "0 used again: 1 is now the least recent");
    put(c, 100);
    cr_expect_not(has(c, 1));
    cr_expect(has(c, 0));
    cr_expect(has(c, 100));
    for (int i = 2; i < GW_TOKEN_CACHE_WAYS; i++)
        cr_expect(has(c, i));
    gw_token_cache_free(&c);
}

Test(token_cache, putting_a_present_token_again_takes_no_second_slot)
{
    struct gw_token_cache *c = NULL;
    TD_ASSERT_OK(gw_token_cache_new(GW_TOKEN_CACHE_WAYS, &c));
    put(c, 0);
    put(c, 0);
    for (int i = 1; i < GW_TOKEN_CACHE_WAYS; i++)
        put(c, i);
    for (int i = 0; i < GW_TOKEN_CACHE_WAYS; i++)
        cr_expect(has(c, i), "%d evicted by a duplicate", i);
    gw_token_cache_free(&c);
}

Test(token_cache, drop_removes_only_its_token)
{
    struct gw_token_cache *c = NULL;
    TD_ASSERT_OK(gw_token_cache_new(GW_TOKEN_CACHE_WAYS, &c));
    put(c, 1);
    put(c, 2);
    struct gw_token_key k = key_of(c, 1);
    gw_token_cache_drop(c, &k);
    gw_token_cache_drop(c, &k); /* already gone: nothing happens */
    k = key_of(c, 3);
    gw_token_cache_drop(c, &k); /* never there */
    cr_expect_not(has(c, 1));
    cr_expect(has(c, 2));
    put(c, 1);
    cr_expect(has(c, 1));
    gw_token_cache_free(&c);
}

Test(token_cache, far_more_tokens_than_slots_never_return_wrong_claims)
{
    struct gw_token_cache *c = NULL;
    TD_ASSERT_OK(gw_token_cache_new(64, &c));
    for (int i = 0; i < 2000; i++)
        put(c, i);
    int found = 0;
    for (int i = 0; i < 2000; i++)
        found += has(c, i); /* has() checks the claims of every hit */
    cr_expect_leq(found, 64, "%d entries in a 64-slot table", found);
    cr_expect(has(c, 1999), "the last one stored is there");
    gw_token_cache_free(&c);
}

/* Many threads on one small table: two sets, so gets, puts and evictions of
 * 32 tokens collide constantly. A hit must always carry its own token's
 * claims, whole. */
#define THREADS 8
#define ROUNDS 20000
#define TOKENS 32

static struct gw_token_cache *shared;
static struct gw_token_key shared_keys[TOKENS];
static atomic_int wrong, hits;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)((seed >> 16) % TOKENS);
        struct gw_token t;
        if (gw_token_cache_get(shared, &shared_keys[i], &t)) {
            atomic_fetch_add(&hits, 1);
            if (!claims_are(&t, i))
                atomic_fetch_add(&wrong, 1);
        } else if (r % 3 == 0) {
            struct gw_token_key k = shared_keys[(i + 1) % TOKENS];
            gw_token_cache_drop(shared, &k);
        } else {
            t = claims_of(i);
            gw_token_cache_put(shared, &shared_keys[i], &t);
        }
    }
    return NULL;
}

Test(token_cache, many_threads_on_one_small_table_see_whole_entries)
{
    TD_ASSERT_OK(gw_token_cache_new(2 * GW_TOKEN_CACHE_WAYS, &shared));
    for (int i = 0; i < TOKENS; i++)
        shared_keys[i] = key_of(shared, i);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    cr_expect_eq(atomic_load(&wrong), 0, "%d hits with another token's claims",
                 atomic_load(&wrong));
    cr_expect_gt(atomic_load(&hits), 0, "the test never hit: it proved nothing");
    uint64_t h = 0, m = 0;
    gw_token_cache_stats(shared, &h, &m);
    cr_expect_eq(h + m, (uint64_t)THREADS * ROUNDS, "every lookup counted once");
    cr_expect_eq(h, (uint64_t)atomic_load(&hits));
    gw_token_cache_free(&shared);
}
