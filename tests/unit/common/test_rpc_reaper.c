/*
 * test_rpc_reaper.c — the reaper watch (common/td_rpc_reaper.c) against nng's
 * real reaper: quiet while teardowns happen, and reporting once when the
 * reaper is held. The hold is real: NNG_PIPE_EV_REM_POST callbacks run on
 * nng's reaper thread, so one that blocks stops every teardown behind it, as
 * the wedge of docs/library-notes.md ("nng's reaper can wedge") does.
 */
#include "td_error.h"
#include "td_rpc.h"

#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

static atomic_int wedged_calls;

static void count_wedged(void)
{
    atomic_fetch_add(&wedged_calls, 1);
}

/* Polls for up to `ms` until `cond` holds. */
#define WAIT_FOR(cond, ms)                                                                  \
    do {                                                                                    \
        for (int waited_ = 0; !(cond) && waited_ < (ms); waited_ += 10)                     \
            usleep(10000);                                                                  \
    } while (0)

Test(rpc_reaper, a_healthy_reaper_keeps_the_watch_quiet)
{
    const struct td_rpc_reaper_watch_opts opts = {
        .period_ms = 30, .stuck_ms = 2000, .on_wedged = count_wedged};
    cr_assert_eq(td_rpc_reaper_watch_start(&opts), 0);
    WAIT_FOR(td_rpc_reaper_teardowns() >= 5, 5000);
    cr_assert_geq(td_rpc_reaper_teardowns(), 5, "the canary was torn down %llu times",
                  (unsigned long long)td_rpc_reaper_teardowns());
    cr_assert_not(td_rpc_reaper_wedged());
    cr_assert_eq(atomic_load(&wedged_calls), 0);
    td_rpc_reaper_watch_stop();
    cr_assert_eq(td_rpc_reaper_watch_start(&opts), 0, "the watch starts again after a stop");
    td_rpc_reaper_watch_stop();
}

Test(rpc_reaper, the_watch_takes_sane_options_and_runs_once)
{
    struct td_rpc_reaper_watch_opts opts = {.period_ms = 0, .stuck_ms = 100};
    cr_assert_eq(td_rpc_reaper_watch_start(&opts), TD_EINVAL);
    opts.period_ms = 100;
    opts.stuck_ms = 0;
    cr_assert_eq(td_rpc_reaper_watch_start(&opts), TD_EINVAL);
    opts.stuck_ms = 1000;
    cr_assert_eq(td_rpc_reaper_watch_start(&opts), 0);
    cr_assert_eq(td_rpc_reaper_watch_start(&opts), TD_EINVAL, "a second watch");
    td_rpc_reaper_watch_stop();
    td_rpc_reaper_watch_stop(); /* stopping twice is harmless */
}

/* A REM_POST callback that holds nng's reaper until released. */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static bool holding, released;
static atomic_uint held_pipe;

static void hold_reaper(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)arg;
    if (ev == NNG_PIPE_EV_ADD_POST) {
        atomic_store(&held_pipe, nng_pipe_id(p));
        return;
    }
    pthread_mutex_lock(&hold_lock);
    holding = true;
    while (!released)
        pthread_cond_wait(&hold_cv, &hold_lock);
    pthread_mutex_unlock(&hold_lock);
}

Test(rpc_reaper, a_held_reaper_is_reported_once, .timeout = 30)
{
    nng_socket a, b;
    cr_assert_eq(nng_pair0_open(&a), 0);
    cr_assert_eq(nng_pair0_open(&b), 0);
    cr_assert_eq(nng_pipe_notify(b, NNG_PIPE_EV_ADD_POST, hold_reaper, NULL), 0);
    cr_assert_eq(nng_pipe_notify(b, NNG_PIPE_EV_REM_POST, hold_reaper, NULL), 0);
    cr_assert_eq(nng_listen(a, "inproc://test-rpc-reaper-hold", NULL, 0), 0);
    cr_assert_eq(nng_dial(b, "inproc://test-rpc-reaper-hold", NULL, 0), 0);
    WAIT_FOR(atomic_load(&held_pipe) != 0, 5000);
    cr_assert_neq(atomic_load(&held_pipe), 0);

    const struct td_rpc_reaper_watch_opts opts = {
        .period_ms = 30, .stuck_ms = 300, .on_wedged = count_wedged};
    cr_assert_eq(td_rpc_reaper_watch_start(&opts), 0);
    WAIT_FOR(td_rpc_reaper_teardowns() >= 2, 5000);
    cr_assert_geq(td_rpc_reaper_teardowns(), 2, "the watch works before the hold");
    cr_assert_eq(atomic_load(&wedged_calls), 0);

    nng_pipe p = {.id = atomic_load(&held_pipe)};
    cr_assert_eq(nng_pipe_close(p), 0); /* its teardown holds the reaper */
    WAIT_FOR(atomic_load(&wedged_calls) > 0, 5000);
    cr_assert_eq(atomic_load(&wedged_calls), 1, "the held reaper was not reported");
    cr_assert(td_rpc_reaper_wedged());
    pthread_mutex_lock(&hold_lock);
    cr_assert(holding, "the reaper was not the thread held");
    pthread_mutex_unlock(&hold_lock);
    usleep(300000);
    cr_assert_eq(atomic_load(&wedged_calls), 1, "reported more than once");

    /* Unlike nng's real wedge, this one ends: let the reaper go. */
    pthread_mutex_lock(&hold_lock);
    released = true;
    pthread_cond_broadcast(&hold_cv);
    pthread_mutex_unlock(&hold_lock);
    td_rpc_reaper_watch_stop(); /* leaves its canary to the exit, as for a real wedge */
    cr_assert_eq(nng_close(a), 0);
    cr_assert_eq(nng_close(b), 0);
}
