/*
 * test_ratelimit.c — the limit syntax and the memory store of the rate
 * limiter: exact counts, sliding windows, refusals that leave no trace,
 * thread safety and bounded memory.
 */
#include "gateway/ratelimit.h"
#include "td_error.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define SEC 1000000LL

Test(ratelimit_parse, accepts_api_examples_and_units)
{
    struct gw_rl_limit l;
    TD_ASSERT_OK(gw_rl_parse("3/hour", &l));
    cr_assert_eq(l.limit, 3);
    cr_assert_eq(l.window_us, 3600 * SEC);
    TD_ASSERT_OK(gw_rl_parse("5/15minutes", &l));
    cr_assert_eq(l.limit, 5);
    cr_assert_eq(l.window_us, 900 * SEC);
    TD_ASSERT_OK(gw_rl_parse("10/second", &l));
    cr_assert_eq(l.window_us, SEC);
    TD_ASSERT_OK(gw_rl_parse("1/2days", &l));
    cr_assert_eq(l.window_us, 2 * 86400 * SEC);
    TD_ASSERT_OK(gw_rl_parse("7/1minute", &l));
    cr_assert_eq(l.window_us, 60 * SEC);
    TD_ASSERT_OK(gw_rl_parse("100/hours", &l));
}

Test(ratelimit_parse, refuses_malformed_values_without_writing)
{
    const char *bad[] = {"", "3", "3/", "/hour", "0/hour", "-1/hour", "3/hr", "3/Hour",
                         "3 /hour", "3/ hour", "3/hourz", "3/0minutes", "3/-5minutes",
                         "99999999999999999999/hour", "20000/hour", "3/hour ", "x/hour",
                         "3/15", "3/1e3seconds", "3/999999999days"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gw_rl_limit l = {42, 42};
        cr_expect_eq(gw_rl_parse(bad[i], &l), TD_EINVAL, "'%s' was accepted", bad[i]);
        cr_expect_eq(l.limit, 42, "'%s' wrote the out-param", bad[i]);
    }
}

struct gw_rl_mem *mem;
static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    TD_ASSERT_OK(gw_rl_mem_new(1024, &mem));
}
static void teardown(void)
{
    gw_rl_mem_free(&mem);
    cr_assert_null(mem);
}
TestSuite(ratelimit_memory, .init = setup, .fini = teardown);

Test(ratelimit_memory, allows_exactly_the_limit_then_refuses_with_retry)
{
    struct gw_rl_limit lim = {3, 3600 * SEC};
    int64_t t0 = 1700000000 * SEC;
    struct gw_rl_result r;
    for (int i = 0; i < 3; i++) {
        gw_rl_mem_hit(mem, "k", &lim, t0 + i * SEC, false, &r);
        cr_assert(r.allowed, "hit %d refused", i + 1);
        cr_assert_eq(r.limit, 3);
        cr_assert_eq(r.remaining, 2 - i);
        cr_assert_eq(r.reset_us, t0 + 3600 * SEC, "a slot frees when the first hit leaves");
    }
    gw_rl_mem_hit(mem, "k", &lim, t0 + 10 * SEC, false, &r);
    cr_assert_not(r.allowed);
    cr_assert_eq(r.remaining, 0);
    cr_assert_eq(r.retry_us, 3590 * SEC);
}

Test(ratelimit_memory, window_slides_one_slot_at_a_time)
{
    struct gw_rl_limit lim = {2, 10 * SEC};
    int64_t t0 = 1000 * SEC;
    struct gw_rl_result r;
    gw_rl_mem_hit(mem, "k", &lim, t0, false, &r);
    gw_rl_mem_hit(mem, "k", &lim, t0 + 5 * SEC, false, &r);
    gw_rl_mem_hit(mem, "k", &lim, t0 + 9 * SEC, false, &r);
    cr_assert_not(r.allowed);
    /* The first hit leaves at t0+10: one slot, not two (no fixed-window burst). */
    gw_rl_mem_hit(mem, "k", &lim, t0 + 10 * SEC + 1, false, &r);
    cr_assert(r.allowed);
    cr_assert_eq(r.remaining, 0);
    gw_rl_mem_hit(mem, "k", &lim, t0 + 11 * SEC, false, &r);
    cr_assert_not(r.allowed);
    cr_assert_eq(r.retry_us, 4 * SEC, "the t0+5 hit frees a slot at t0+15");
}

Test(ratelimit_memory, refused_hits_are_not_counted)
{
    struct gw_rl_limit lim = {1, 10 * SEC};
    struct gw_rl_result r;
    gw_rl_mem_hit(mem, "k", &lim, 0 + SEC, false, &r);
    for (int i = 0; i < 50; i++) {
        gw_rl_mem_hit(mem, "k", &lim, SEC + i * 100000, false, &r);
        cr_assert_not(r.allowed);
    }
    /* Hammering while refused does not push the window out. */
    gw_rl_mem_hit(mem, "k", &lim, 11 * SEC + 1, false, &r);
    cr_assert(r.allowed);
}

Test(ratelimit_memory, keys_are_independent)
{
    struct gw_rl_limit lim = {1, 10 * SEC};
    struct gw_rl_result r;
    gw_rl_mem_hit(mem, "td:rl:login:127.0.0.2", &lim, SEC, false, &r);
    cr_assert(r.allowed);
    gw_rl_mem_hit(mem, "td:rl:login:127.0.0.2", &lim, SEC, false, &r);
    cr_assert_not(r.allowed);
    gw_rl_mem_hit(mem, "td:rl:login:127.0.0.3", &lim, SEC, false, &r);
    cr_assert(r.allowed);
    gw_rl_mem_hit(mem, "td:rl:register:127.0.0.2", &lim, SEC, false, &r);
    cr_assert(r.allowed);
}

Test(ratelimit_memory, forced_hits_are_recorded_over_the_limit)
{
    struct gw_rl_limit lim = {2, 10 * SEC};
    struct gw_rl_result r;
    for (int i = 0; i < 5; i++)
        gw_rl_mem_hit(mem, "k", &lim, SEC + i, true, &r);
    cr_assert(r.allowed);
    cr_assert_eq(r.remaining, 0);
    gw_rl_mem_hit(mem, "k", &lim, 2 * SEC, false, &r);
    cr_assert_not(r.allowed);
}

Test(ratelimit_memory, memory_is_bounded_and_idle_keys_expire)
{
    struct gw_rl_limit lim = {5, 10 * SEC};
    struct gw_rl_result r;
    char key[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "td:rl:login:10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        gw_rl_mem_hit(mem, key, &lim, SEC, false, &r);
        cr_assert(r.allowed);
    }
    cr_assert_leq(gw_rl_mem_size(mem), 1024, "store holds %zu keys", gw_rl_mem_size(mem));
    /* Long after the window, traffic from new clients reclaims the idle keys. */
    for (int i = 0; i < 4000; i++) {
        snprintf(key, sizeof key, "td:rl:login:11.0.%d.%d", (i >> 8) & 255, i & 255);
        gw_rl_mem_hit(mem, key, &lim, 100 * SEC, false, &r);
    }
    for (int i = 0; i < 64; i++) {
        snprintf(key, sizeof key, "td:rl:login:12.0.0.%d", i);
        gw_rl_mem_hit(mem, key, &lim, 1000 * SEC, false, &r);
    }
    cr_assert_leq(gw_rl_mem_size(mem), 1024);
}

Test(ratelimit_memory, a_live_key_survives_while_others_churn_below_the_bound)
{
    struct gw_rl_limit lim = {1, 100 * SEC};
    struct gw_rl_result r;
    gw_rl_mem_hit(mem, "victim", &lim, SEC, false, &r);
    char key[64];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "other-%d", i);
        gw_rl_mem_hit(mem, key, &lim, SEC, false, &r);
    }
    gw_rl_mem_hit(mem, "victim", &lim, 2 * SEC, false, &r);
    cr_assert_not(r.allowed, "the victim's hit was forgotten");
}

struct race {
    atomic_int allowed;
    int64_t now;
};

static void *hammer(void *arg)
{
    struct race *race = arg;
    struct gw_rl_limit lim = {50, 60 * SEC};
    for (int i = 0; i < 100; i++) {
        struct gw_rl_result r;
        gw_rl_mem_hit(mem, "shared", &lim, race->now, false, &r);
        if (r.allowed)
            atomic_fetch_add(&race->allowed, 1);
        char key[32];
        snprintf(key, sizeof key, "noise-%d", i);
        gw_rl_mem_hit(mem, key, &lim, race->now, false, &r);
    }
    return NULL;
}

Test(ratelimit_memory, exact_limit_under_eight_threads)
{
    struct race race = {.now = 5 * SEC};
    atomic_init(&race.allowed, 0);
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, &race), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&race.allowed), 50, "%d of 800 allowed", atomic_load(&race.allowed));
}

Test(ratelimit_redis_url, parses_and_refuses)
{
    struct gw_rl_redis *r = NULL;
    const char *good[] = {"redis://127.0.0.1:6379/0", "redis://localhost", "redis://h:1/15",
                          "redis://127.0.0.1:6380/"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        TD_ASSERT_OK(gw_rl_redis_new(good[i], &r), "%s", good[i]);
        gw_rl_redis_free(&r);
        cr_assert_null(r);
    }
    const char *bad[] = {"memcached://x", "redis://", "redis://:6379", "redis://h:0",
                         "redis://h:70000", "redis://h:1/x", "redis://h:1/1/2", "redis://h:1x",
                         "http://h:1/0", "redis://h:1/-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(gw_rl_redis_new(bad[i], &r), TD_EINVAL, "'%s' accepted", bad[i]);
}

Test(ratelimit_redis_url, unreachable_redis_reports_down_quickly_and_counts_errors)
{
    struct gw_rl_redis *r = NULL;
    /* Port 1 on loopback: connection refused at once. */
    TD_ASSERT_OK(gw_rl_redis_new("redis://127.0.0.1:1/0", &r));
    struct gw_rl_limit lim = {5, 60 * SEC};
    struct gw_rl_result res;
    cr_assert_eq(gw_rl_redis_hit(r, "k", &lim, &res), TD_EDOWN);
    /* Backing off: the next call does not even try. */
    cr_assert_eq(gw_rl_redis_hit(r, "k", &lim, &res), TD_EDOWN);
    struct gw_rl_redis_stats st;
    gw_rl_redis_stats(r, &st);
    cr_assert_eq(st.errors, 1);
    cr_assert_eq(st.outages, 1);
    cr_assert_not(st.up);
    gw_rl_redis_free(&r);
}
