/*
 * test_ready_load.c — 32 concurrent clients hammer /ready (three RPCs per
 * call) for a few seconds: every call must answer 200, and every daemon must
 * then stop cleanly (under the sanitizer build that includes "no leak").
 * Throughput is printed, not asserted: speed is make bench's business.
 */
#include "harness.h"
#include "suite.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

TH_STACK_SUITE(ready_load, 120);

struct worker {
    double until;
    atomic_int *ok;
    atomic_int *bad;
};

/* The first failed answer, so a red run says what it was (a ping past its
 * 1 s timeout on a starved machine reads differently from a lost call). */
static pthread_mutex_t first_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_bad[512];

static void note_bad(const char *what)
{
    pthread_mutex_lock(&first_lock);
    if (first_bad[0] == '\0')
        snprintf(first_bad, sizeof first_bad, "%s", what);
    pthread_mutex_unlock(&first_lock);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *hammer(void *arg)
{
    struct worker *w = arg;
    while (now_s() < w->until) {
        struct th_response r;
        if (th_http(&stack, "GET", "/ready", NULL, NULL, &r) != 0) {
            atomic_fetch_add(w->bad, 1);
            note_bad("the request itself failed");
            continue;
        }
        if (r.status == 200)
            atomic_fetch_add(w->ok, 1);
        else {
            atomic_fetch_add(w->bad, 1);
            char what[512];
            snprintf(what, sizeof what, "%ld %.400s", r.status, r.body ? r.body : "");
            note_bad(what);
        }
        th_response_free(&r);
    }
    return NULL;
}

Test(ready_load, thirty_two_clients_for_ten_seconds_get_no_error)
{
    enum { CLIENTS = 32 };
    double seconds = getenv("TD_LOAD_SECONDS") ? atof(getenv("TD_LOAD_SECONDS")) : 10.0;
    atomic_int ok = 0, bad = 0;
    pthread_t t[CLIENTS];
    struct worker w = {.until = now_s() + seconds, .ok = &ok, .bad = &bad};
    for (int i = 0; i < CLIENTS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, &w), 0);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    fprintf(stderr, "ready_load: %d calls in %.0f s (%.0f/s, 3 RPCs each), %d failed\n",
            atomic_load(&ok) + atomic_load(&bad), seconds,
            (atomic_load(&ok) + atomic_load(&bad)) / seconds, atomic_load(&bad));
    cr_assert_gt(atomic_load(&ok), 0);
    cr_assert_eq(atomic_load(&bad), 0, "first failure: %s", first_bad);
}
