/*
 * test_auth_load.c — a burst of logins larger than the CPU can hash: the
 * excess is shed with 503 in the contract's shape (never a 504 after a long
 * queue), nothing else in td-auth starves meanwhile (GET /auth/me answers),
 * and correct logins keep succeeding once the burst is over.
 */
#include "auth_helpers.h"
#include "suite.h"

#include <pthread.h>
#include <stdatomic.h>

/* Real argon2id cost (64 MiB, 3 passes) with one hash at a time. */
TH_STACK_SUITE(auth_load, 120,
               .env = {"PWHASH_OPSLIMIT=3", "PWHASH_MEMLIMIT=67108864", "PWHASH_CONCURRENCY=1",
                       "RPC_WORKERS=8"});

struct burst {
    atomic_int ok, shed, other;
    char other_example[256];
};

static void *login_once(void *arg)
{
    struct burst *b = arg;
    struct th_response r;
    req(&stack, "POST", "/auth/login", NULL,
        "{\"email\":\"load@example.com\",\"password\":\"" GOOD_PASSWORD "\"}", &r);
    const char *code = json_string_value(json_object_get(r.json, "error"));
    if (r.status == 200)
        atomic_fetch_add(&b->ok, 1);
    else if (r.status == 503 && code && strcmp(code, "service_unavailable") == 0)
        atomic_fetch_add(&b->shed, 1);
    else {
        atomic_fetch_add(&b->other, 1);
        snprintf(b->other_example, sizeof b->other_example, "%ld %s", r.status, r.body);
    }
    th_response_free(&r);
    return NULL;
}

Test(auth_load, a_login_burst_is_shed_with_503_and_starves_nothing)
{
    register_user(&stack, "load@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&stack, "load@example.com", GOOD_PASSWORD, &t);

    enum { N = 40 };
    pthread_t th[N];
    struct burst b = {0};
    for (int i = 0; i < N; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, login_once, &b), 0);
    /* While the burst runs, cheap operations still get a worker. */
    struct th_response r;
    req(&stack, "GET", "/auth/me", t.access, NULL, &r);
    cr_assert_eq(r.status, 200, "me during the burst: %ld %s", r.status, r.body);
    th_response_free(&r);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    fprintf(stderr, "auth_load: %d logged in, %d shed with 503, %d other\n", atomic_load(&b.ok),
            atomic_load(&b.shed), atomic_load(&b.other));
    cr_assert_eq(atomic_load(&b.other), 0, "unexpected answer: %s", b.other_example);
    cr_assert_gt(atomic_load(&b.ok), 0);

    /* After the burst, logins work again. */
    login(&stack, "load@example.com", GOOD_PASSWORD, &t);
}
