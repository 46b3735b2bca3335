/*
 * pending.c — the pending-analysis worker (see pending.h).
 *
 * The thread sleeps on a condition variable (CLOCK_MONOTONIC) until a kick,
 * its poll interval or the end of a backoff; a kick during a backoff is
 * remembered but does not cut the backoff short, so a burst of creates while
 * td-sentiment is down costs no extra calls.
 */
#include "pending.h"
#include "analysis.h"
#include "logic.h"
#include "td_error.h"
#include "td_log.h"
#include "td_time.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int diary_pending_run_once(struct diary_store *store, unsigned conn,
                           struct td_rpc_client *sentiment, int timeout_ms, int64_t now_us,
                           struct diary_pending_stats *st)
{
    struct diary_pending_item *items = NULL;
    size_t n = 0;
    /* The batch's lease (store.h): long enough to try every entry at the
     * full timeout, twice over, so a live replica never loses its work to
     * another; a dead one delays its entries by this much at most. */
    int64_t lease_us = (int64_t)DIARY_PENDING_BATCH * timeout_ms * 2 * 1000;
    int rc = diary_store_pending(store, conn, now_us, DIARY_PENDING_BATCH, lease_us, &items, &n);
    if (rc != 0)
        return rc;
    size_t i = 0;
    for (; rc == 0 && i < n; i++) {
        struct diary_pending_item *p = &items[i];
        char rid[48];
        snprintf(rid, sizeof rid, "pending-%lld", (long long)p->id);
        td_log_set_request_id(rid);
        struct diary_analysis a = {0};
        int frc = diary_analysis_fetch(sentiment, timeout_ms, p->content, p->content_len, &a);
        if (frc == TD_EDOWN || frc == TD_ETIMEDOUT) {
            rc = frc; /* td-sentiment is unreachable: no point trying the rest */
        } else if (frc == 0) {
            bool applied = false;
            rc = diary_store_apply_analysis(store, conn, p->id, p->version, a.analyzed,
                                            a.analyzed_len, a.positive_count, a.negative_count,
                                            &applied);
            if (rc == 0 && st != NULL) {
                st->analysed += applied;
                st->stale += !applied;
            }
            if (rc == 0)
                TD_LOG(TD_LOG_INFO, applied ? "analysis_applied" : "analysis_stale",
                       "entry %lld version %lld: %s", (long long)p->id, (long long)p->version,
                       applied ? "analysed" : "no longer pending, result dropped");
        } else if (frc == TD_ENOMEM) {
            rc = frc;
        } else {
            int64_t delay = diary_backoff_ms(p->attempts, DIARY_PENDING_ENTRY_BACKOFF_BASE_MS,
                                             DIARY_PENDING_ENTRY_BACKOFF_MAX_MS);
            rc = diary_store_defer(store, conn, p->id, p->version, now_us + delay * 1000);
            if (st != NULL)
                st->deferred++;
            TD_LOG(TD_LOG_WARN, "analysis_deferred", "entry %lld: analysis failed, next in %lld ms",
                   (long long)p->id, (long long)delay);
        }
        diary_analysis_clear(&a);
    }
    /* Stopped early: the entries not tried (and the one that failed) are
     * due again at once rather than when the lease ends. */
    if (rc != 0 && i > 0) {
        int rrc = diary_store_release(store, conn, &items[i - 1], n - (i - 1));
        if (rrc != 0)
            TD_LOG(TD_LOG_WARN, "analysis_release_failed", "leases left to expire: %s",
                   td_error_symbol(rrc));
    }
    td_log_set_request_id(NULL);
    diary_pending_free(&items, n);
    return rc;
}

struct diary_pending_worker {
    struct diary_store *store;
    struct td_rpc_client *sentiment;
    int timeout_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool kicked;
    bool stopping;
};

static struct timespec deadline_in(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Sleeps up to `ms`; a kick ends the sleep early only when `wake_on_kick`.
 * Returns false when the worker is stopping. */
static bool sleep_ms(struct diary_pending_worker *w, int64_t ms, bool wake_on_kick)
{
    struct timespec until = deadline_in(ms);
    pthread_mutex_lock(&w->mu);
    while (!w->stopping && !(wake_on_kick && w->kicked)) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0)
            break;
    }
    w->kicked = false;
    bool go_on = !w->stopping;
    pthread_mutex_unlock(&w->mu);
    return go_on;
}

static void *worker_main(void *arg)
{
    struct diary_pending_worker *w = arg;
    unsigned conn = diary_store_bg_conn(w->store);
    unsigned failures = 0; /* consecutive rounds with td-sentiment unreachable */
    int64_t wait_ms = 0;   /* first round at once: pending entries of a previous run */
    bool wake_on_kick = true;
    while (sleep_ms(w, wait_ms, wake_on_kick)) {
        struct diary_pending_stats st = {0};
        int rc;
        do {
            st.analysed = st.stale = st.deferred = 0;
            rc = diary_pending_run_once(w->store, conn, w->sentiment, w->timeout_ms, td_now_us(),
                                        &st);
            /* A full batch that made progress: go on without sleeping. */
        } while (rc == 0 && st.analysed + st.stale + st.deferred == DIARY_PENDING_BATCH &&
                 !__atomic_load_n(&w->stopping, __ATOMIC_RELAXED));
        if (rc == TD_EDOWN || rc == TD_ETIMEDOUT) {
            wait_ms = diary_backoff_ms(failures, DIARY_PENDING_BACKOFF_BASE_MS,
                                       DIARY_PENDING_BACKOFF_MAX_MS);
            if (failures < 32)
                failures++;
            wake_on_kick = false;
        } else {
            if (rc != 0)
                TD_LOG(TD_LOG_ERR, "pending_failed", "pending analysis pass failed: %s",
                       td_error_symbol(rc));
            failures = 0;
            wait_ms = DIARY_PENDING_POLL_MS;
            wake_on_kick = true;
        }
    }
    return NULL;
}

int diary_pending_start(struct diary_store *store, struct td_rpc_client *sentiment,
                        int timeout_ms, struct diary_pending_worker **out)
{
    struct diary_pending_worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return TD_ENOMEM;
    w->store = store;
    w->sentiment = sentiment;
    w->timeout_ms = timeout_ms;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int bad = pthread_mutex_init(&w->mu, NULL);
    bad = bad ? bad : pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (bad == 0 && pthread_create(&w->thread, NULL, worker_main, w) == 0) {
        *out = w;
        return 0;
    }
    free(w);
    return TD_ENOMEM;
}

void diary_pending_kick(struct diary_pending_worker *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->kicked = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void diary_pending_stop(struct diary_pending_worker **pw)
{
    struct diary_pending_worker *w = *pw;
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    __atomic_store_n(&w->stopping, true, __ATOMIC_RELAXED);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    *pw = NULL;
}
