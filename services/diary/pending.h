/*
 * pending.h — the background pass that analyses entries saved while
 * td-sentiment was down, slow or wrong.
 *
 * One thread with its own SQLite connection (diary_store_bg_conn). It wakes
 * when a handler saved a pending entry, or every DIARY_PENDING_POLL_MS,
 * takes the oldest due pending entries in small batches, analyses each and
 * stores the result only if the entry was not edited meanwhile (version
 * check in diary_store_apply_analysis). While td-sentiment is unreachable it
 * backs off exponentially (DIARY_PENDING_BACKOFF_*), without penalising any
 * entry; an entry whose analysis fails for itself (an error reply, a result
 * that breaks the contract) gets its own growing delay, so one bad entry
 * never blocks the others.
 */
#ifndef DIARY_PENDING_H
#define DIARY_PENDING_H

#include "store.h"
#include "td_rpc.h"

#include <stddef.h>
#include <stdint.h>

#define DIARY_PENDING_BATCH 16
#define DIARY_PENDING_POLL_MS 1000
#define DIARY_PENDING_BACKOFF_BASE_MS 250
#define DIARY_PENDING_BACKOFF_MAX_MS 4000
#define DIARY_PENDING_ENTRY_BACKOFF_BASE_MS 1000
#define DIARY_PENDING_ENTRY_BACKOFF_MAX_MS 300000

struct diary_pending_stats {
    size_t analysed; /* results stored */
    size_t stale;    /* results dropped: the entry changed meanwhile */
    size_t deferred; /* entries whose own analysis failed */
};

/* One batch on connection `conn` at `now_us`: returns 0 when td-sentiment
 * answered (or nothing was due), TD_EDOWN / TD_ETIMEDOUT when it is
 * unreachable (the batch stops there), TD_ESTORAGE / TD_ENOMEM. *st adds up
 * what happened (may be NULL). */
int diary_pending_run_once(struct diary_store *store, unsigned conn,
                           struct td_rpc_client *sentiment, int timeout_ms, int64_t now_us,
                           struct diary_pending_stats *st);

struct diary_pending_worker;

/* Starts the thread. Returns 0 and *out, or TD_ENOMEM. */
int diary_pending_start(struct diary_store *store, struct td_rpc_client *sentiment,
                        int timeout_ms, struct diary_pending_worker **out);

/* Tells the thread there is new work (cheap; NULL is fine). */
void diary_pending_kick(struct diary_pending_worker *w);

/* Stops and joins the thread (a call in flight ends within its timeout);
 * NULLs *w. */
void diary_pending_stop(struct diary_pending_worker **w);

#endif
