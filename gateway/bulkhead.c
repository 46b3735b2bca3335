/*
 * bulkhead.c — the caps of bulkhead.h.
 *
 * One mutex guards everything: per daemon, the count of calls in flight and
 * when a call last failed and last got a reply (for /ready). The
 * password-check queue is a FIFO list of waiters that live on their callers'
 * stacks; a finishing check hands its slot to the head of the list (so a
 * late arrival cannot overtake it) and wakes the waiters, each of which
 * checks its own flag. The duration of a check is a moving average of the
 * calls that completed, seeded with a guess until the first ones do.
 */
#include "bulkhead.h"
#include "td_error.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The duration of one password check before any has been measured: about
 * libsodium's INTERACTIVE cost on a small host (docs/library-notes.md, libsodium: ~80 ms). */
#define PWHASH_GUESS_US 100000
/* Weight of the newest measurement in the moving average. */
#define EWMA_NEW 0.2
/* A shed password check is answered after this pause. Clients that ignore
 * Retry-After (load tools do) come straight back, and a few dozen worker
 * threads answering 503 in a loop take the CPU the checks themselves need:
 * measured here at 64 such clients, logins fell to under one per second
 * with instant answers. The pause holds a worker, so at most the auth cap's
 * worth of threads pause at once; beyond that the 503 goes out at once. */
#define PWHASH_SHED_PAUSE_MS 250

struct waiter {
    struct waiter *next;
    bool admitted;
};

struct upstream {
    unsigned cap;
    unsigned in_flight;
    int64_t last_fail_us; /* the last call that timed out or found it down */
    int64_t last_ok_us;   /* the last call that got any reply */
    atomic_ullong shed;
};

struct gw_bulkhead {
    pthread_mutex_t lock; /* everything below */
    pthread_cond_t turn;  /* a queued password check may have been admitted */
    struct upstream up[GW_UP_COUNT];
    unsigned pw_concurrency, pw_in_flight, pw_waiting;
    int64_t pw_max_wait_us;
    double pw_check_us;
    struct waiter *pw_head, *pw_tail;
    atomic_ullong pw_shed;
    atomic_uint pw_pausing; /* shed checks in their pause */
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int gw_bulkhead_new(const struct gw_config *cfg, struct gw_bulkhead **out)
{
    struct gw_bulkhead *b = calloc(1, sizeof *b);
    if (b == NULL)
        return TD_ENOMEM;
    for (int i = 0; i < GW_UP_COUNT; i++) {
        b->up[i].cap = (unsigned)cfg->upstream_max_inflight;
        atomic_init(&b->up[i].shed, 0);
    }
    b->pw_concurrency = (unsigned)cfg->pwhash_concurrency;
    b->pw_max_wait_us = cfg->pwhash_queue_ms * 1000;
    b->pw_check_us = PWHASH_GUESS_US;
    atomic_init(&b->pw_shed, 0);
    atomic_init(&b->pw_pausing, 0);
    pthread_condattr_t ca;
    bool locks = pthread_mutex_init(&b->lock, NULL) == 0;
    if (locks) {
        bool cond = pthread_condattr_init(&ca) == 0;
        if (cond) {
            cond = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                   pthread_cond_init(&b->turn, &ca) == 0;
            pthread_condattr_destroy(&ca);
        }
        if (!cond) {
            pthread_mutex_destroy(&b->lock);
            locks = false;
        }
    }
    if (!locks) {
        free(b);
        return TD_ENOMEM;
    }
    *out = b;
    return 0;
}

void gw_bulkhead_free(struct gw_bulkhead **bp)
{
    struct gw_bulkhead *b = *bp;
    if (b == NULL)
        return;
    pthread_cond_destroy(&b->turn);
    pthread_mutex_destroy(&b->lock);
    free(b);
    *bp = NULL;
}

int64_t gw_bulkhead_expected_wait(unsigned waiting, unsigned in_flight, unsigned concurrency,
                                  int64_t check_us)
{
    if (concurrency == 0)
        return INT64_MAX;
    if (waiting == 0 && in_flight < concurrency)
        return 0;
    return (int64_t)(waiting / concurrency + 1) * check_us;
}

static int seconds_up(int64_t us)
{
    int64_t s = (us + 999999) / 1000000;
    return s < 1 ? 1 : s > 3600 ? 3600 : (int)s;
}

/* Removes w from the password queue; the caller holds the lock. */
static void unqueue_locked(struct gw_bulkhead *b, struct waiter *w)
{
    struct waiter **pp = &b->pw_head, *prev = NULL;
    while (*pp != NULL && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = w->next;
    if (b->pw_tail == w)
        b->pw_tail = prev;
    b->pw_waiting--;
}

/* Hands free password slots to the head of the queue; caller holds lock. */
static void admit_waiters_locked(struct gw_bulkhead *b)
{
    bool any = false;
    while (b->pw_head != NULL && b->pw_in_flight < b->pw_concurrency) {
        struct waiter *w = b->pw_head;
        b->pw_head = w->next;
        if (b->pw_head == NULL)
            b->pw_tail = NULL;
        b->pw_waiting--;
        b->pw_in_flight++;
        w->admitted = true;
        any = true;
    }
    if (any)
        pthread_cond_broadcast(&b->turn);
}

/* Waits in the password queue until admitted (0) or until its expected
 * wait has long passed (TD_EDOWN). The caller holds the lock. */
static int pw_queue_locked(struct gw_bulkhead *b, struct upstream *u, int *retry_after_s)
{
    if (b->pw_head == NULL && b->pw_in_flight < b->pw_concurrency) {
        b->pw_in_flight++;
        return 0;
    }
    int64_t expected = gw_bulkhead_expected_wait(b->pw_waiting, b->pw_in_flight,
                                                 b->pw_concurrency, (int64_t)b->pw_check_us);
    /* Waiting checks hold a civetweb worker each, like calls in flight:
     * they count against td-auth's cap together. */
    bool room = u->in_flight + b->pw_waiting + 1 <= u->cap;
    if (expected > b->pw_max_wait_us || !room) {
        *retry_after_s = seconds_up(expected);
        atomic_fetch_add_explicit(&b->pw_shed, 1, memory_order_relaxed);
        return TD_EDOWN;
    }
    struct waiter w = {NULL, false};
    if (b->pw_tail != NULL)
        b->pw_tail->next = &w;
    else
        b->pw_head = &w;
    b->pw_tail = &w;
    b->pw_waiting++;
    /* The estimate is only an estimate (the first checks of a cold td-auth
     * take longer than the ones after): a waiter gives up only once the
     * longest wait the queue promises, plus two checks, has passed, which
     * means td-auth has stopped answering. */
    int64_t give_up = mono_us() + b->pw_max_wait_us + 2 * (int64_t)b->pw_check_us;
    struct timespec ts = {(time_t)(give_up / 1000000), (long)(give_up % 1000000) * 1000L};
    while (!w.admitted) {
        int rc = pthread_cond_timedwait(&b->turn, &b->lock, &ts);
        if (rc == ETIMEDOUT && !w.admitted) {
            unqueue_locked(b, &w);
            *retry_after_s = seconds_up(gw_bulkhead_expected_wait(
                b->pw_waiting, b->pw_in_flight, b->pw_concurrency, (int64_t)b->pw_check_us));
            atomic_fetch_add_explicit(&b->pw_shed, 1, memory_order_relaxed);
            return TD_EDOWN;
        }
    }
    return 0; /* admit_waiters_locked counted it in flight */
}

int gw_bulkhead_enter(struct gw_bulkhead *b, enum gw_upstream up, bool pwhash,
                      struct gw_bulkhead_ticket *t, int *retry_after_s)
{
    t->up = up;
    t->pwhash = false;
    t->started_us = 0;
    if (b == NULL || up >= GW_UP_COUNT)
        return 0;
    struct upstream *u = &b->up[up];
    pthread_mutex_lock(&b->lock);
    if (pwhash) {
        int rc = pw_queue_locked(b, u, retry_after_s);
        if (rc != 0) {
            unsigned cap = u->cap;
            pthread_mutex_unlock(&b->lock);
            if (atomic_fetch_add(&b->pw_pausing, 1) < cap) {
                struct timespec ts = {0, PWHASH_SHED_PAUSE_MS * 1000000L};
                nanosleep(&ts, NULL);
            }
            atomic_fetch_sub(&b->pw_pausing, 1);
            return rc;
        }
        t->pwhash = true;
    }
    if (u->in_flight >= u->cap) {
        if (t->pwhash) {
            b->pw_in_flight--;
            admit_waiters_locked(b);
        }
        pthread_mutex_unlock(&b->lock);
        atomic_fetch_add_explicit(&u->shed, 1, memory_order_relaxed);
        *retry_after_s = 1;
        return TD_EDOWN;
    }
    u->in_flight++;
    t->started_us = mono_us();
    pthread_mutex_unlock(&b->lock);
    return 0;
}

static void note_locked(struct upstream *u, int rc, int64_t now)
{
    if (rc == TD_ETIMEDOUT || rc == TD_EDOWN || rc == TD_ECLOSED)
        u->last_fail_us = now;
    else if (rc == 0)
        u->last_ok_us = now;
}

void gw_bulkhead_leave(struct gw_bulkhead *b, const struct gw_bulkhead_ticket *t, int rc)
{
    if (b == NULL || t->started_us == 0 || t->up >= GW_UP_COUNT)
        return;
    struct upstream *u = &b->up[t->up];
    int64_t now = mono_us();
    pthread_mutex_lock(&b->lock);
    if (u->in_flight > 0)
        u->in_flight--;
    note_locked(u, rc, now);
    if (t->pwhash) {
        /* Only answered checks say how long a check takes. */
        if (rc == 0)
            b->pw_check_us = (1 - EWMA_NEW) * b->pw_check_us +
                             EWMA_NEW * (double)(now - t->started_us);
        if (b->pw_in_flight > 0)
            b->pw_in_flight--;
        admit_waiters_locked(b);
    }
    pthread_mutex_unlock(&b->lock);
}

void gw_bulkhead_note(struct gw_bulkhead *b, enum gw_upstream up, int rc)
{
    if (b == NULL || up >= GW_UP_COUNT)
        return;
    pthread_mutex_lock(&b->lock);
    note_locked(&b->up[up], rc, mono_us());
    pthread_mutex_unlock(&b->lock);
}

bool gw_bulkhead_unresponsive(struct gw_bulkhead *b, enum gw_upstream up, int stall_ms)
{
    if (b == NULL || up >= GW_UP_COUNT)
        return false;
    struct upstream *u = &b->up[up];
    int64_t now = mono_us(), stall = (int64_t)stall_ms * 1000;
    /* A call merely taking long says nothing: td-diary's creates wait up to
     * SENTIMENT_TIMEOUT_MS on td-sentiment while it answers pings at once. */
    pthread_mutex_lock(&b->lock);
    bool stuck = u->in_flight >= u->cap ||
                 (u->last_fail_us > u->last_ok_us && now - u->last_fail_us < stall);
    pthread_mutex_unlock(&b->lock);
    return stuck;
}

void gw_bulkhead_stats(struct gw_bulkhead *b, struct gw_bulkhead_stats *out)
{
    memset(out, 0, sizeof *out);
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->lock);
    for (int i = 0; i < GW_UP_COUNT; i++) {
        out->in_flight[i] = b->up[i].in_flight;
        out->shed[i] = atomic_load_explicit(&b->up[i].shed, memory_order_relaxed);
    }
    out->pwhash_waiting = b->pw_waiting;
    out->pwhash_seconds = b->pw_check_us / 1e6;
    pthread_mutex_unlock(&b->lock);
    out->pwhash_shed = atomic_load_explicit(&b->pw_shed, memory_order_relaxed);
}
