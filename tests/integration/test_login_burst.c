/*
 * test_login_burst.c — registration and login under a burst, at the
 * production password-hashing cost (argon2id, 2 passes, 64 MiB; td-auth's
 * default PWHASH_CONCURRENCY of 2), issue 13. The gateway queues password
 * checks it can serve within GATEWAY_PWHASH_QUEUE_MS and sheds only beyond
 * that, with Retry-After:
 * - ten clients registering one email at once get one 201 and nine 409
 *   (before: some got 503, td-auth's hashing queue being full);
 * - sixteen clients logging in over and over are served, not shed (before:
 *   about 100 logins in 10 s against more than 50,000 503s).
 */
#include "harness.h"
#include "suite.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The testing cap on calls per daemon (12, for a pool of 32 workers)
 * would shed some of sixteen waiting logins by itself; a cap like the
 * production default (96) does not. */
TH_STACK_SUITE(login_burst, 180, .env = {"GATEWAY_UPSTREAM_MAX_INFLIGHT=64"},
               .daemon_env = {[TH_AUTH] = {"PWHASH_OPSLIMIT=2", "PWHASH_MEMLIMIT=67108864"}});

static const char *const json_ct[] = {"Content-Type: application/json", NULL};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- registration -------------------------------------------------------- */

struct registrant {
    pthread_barrier_t *start;
    long status;
    char body[256];
};

static void *register_main(void *arg)
{
    struct registrant *r = arg;
    pthread_barrier_wait(r->start);
    struct th_response res;
    r->status = -1;
    if (th_http(&stack, "POST", "/auth/register", json_ct,
                "{\"email\":\"same@example.com\",\"password\":\"Burst-pass-2026!\"}", &res) == 0) {
        r->status = res.status;
        snprintf(r->body, sizeof r->body, "%s", res.body ? res.body : "");
        th_response_free(&res);
    }
    return NULL;
}

Test(login_burst, ten_registrations_of_one_email_give_one_201_and_nine_409)
{
    enum { N = 10 };
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    pthread_t t[N];
    struct registrant r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (struct registrant){.start = &start};
        cr_assert_eq(pthread_create(&t[i], NULL, register_main, &r[i]), 0);
    }
    int created = 0, exists = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (r[i].status == 201)
            created++;
        else if (r[i].status == 409)
            exists++;
        else
            cr_assert_fail("registration %d: %ld %s", i, r[i].status, r[i].body);
    }
    pthread_barrier_destroy(&start);
    cr_assert_eq(created, 1);
    cr_assert_eq(exists, N - 1);
}

/* ---- logins -------------------------------------------------------------- */

struct burst {
    double until;
    atomic_int ok, shed, other, shed_without_retry;
    _Atomic double slowest_ok;
    char other_example[256];
};

static void *login_main(void *arg)
{
    struct burst *b = arg;
    while (now_s() < b->until) {
        struct th_response r;
        double t0 = now_s();
        if (th_http(&stack, "POST", "/auth/login", json_ct,
                    "{\"email\":\"burst@example.com\",\"password\":\"Burst-pass-2026!\"}",
                    &r) != 0) {
            atomic_fetch_add(&b->other, 1);
            continue;
        }
        double took = now_s() - t0;
        char v[32];
        if (r.status == 200) {
            atomic_fetch_add(&b->ok, 1);
            double seen = atomic_load(&b->slowest_ok);
            while (took > seen && !atomic_compare_exchange_weak(&b->slowest_ok, &seen, took))
                ;
        } else if (r.status == 503) {
            atomic_fetch_add(&b->shed, 1);
            if (!th_header(&r, "Retry-After", v, sizeof v) || atoi(v) < 1)
                atomic_fetch_add(&b->shed_without_retry, 1);
        } else {
            atomic_fetch_add(&b->other, 1);
            snprintf(b->other_example, sizeof b->other_example, "%ld %s", r.status, r.body);
        }
        th_response_free(&r);
    }
    return NULL;
}

Test(login_burst, sixteen_clients_logging_in_together_are_queued_not_shed)
{
    struct th_response r;
    cr_assert_eq(th_http(&stack, "POST", "/auth/register", json_ct,
                         "{\"email\":\"burst@example.com\",\"password\":\"Burst-pass-2026!\"}", &r),
                 0);
    cr_assert_eq(r.status, 201, "%s", r.body);
    th_response_free(&r);

    enum { CLIENTS = 16 };
    double seconds = 6.0;
    struct burst b = {.until = now_s() + seconds};
    pthread_t t[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, login_main, &b), 0);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    int ok = atomic_load(&b.ok), shed = atomic_load(&b.shed);
    fprintf(stderr,
            "login_burst: %d clients for %.0f s: %d logins (%.1f/s), %d shed, slowest login "
            "%.2f s\n",
            CLIENTS, seconds, ok, ok / seconds, shed, atomic_load(&b.slowest_ok));
    cr_assert_eq(atomic_load(&b.other), 0, "unexpected answer: %s", b.other_example);
    cr_assert_eq(atomic_load(&b.shed_without_retry), 0, "a 503 without Retry-After");
    cr_assert_geq(ok, CLIENTS, "only %d logins in %.0f s", ok, seconds);
    cr_assert_lt(shed, ok, "%d attempts shed against %d logins", shed, ok);

    /* The gateway measured what a check costs and queued by it. */
    cr_assert_gt(th_metric(stack.base_url, "td_pwhash_check_seconds"), 0.0);
}
