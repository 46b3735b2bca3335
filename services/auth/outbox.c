/*
 * outbox.c — the background thread of outbox.h.
 *
 * Jobs are taken one at a time under a lease (auth_store_outbox_take), so
 * the lease covers one delivery: one RPC deadline, however long the queue.
 */
#include "outbox.h"
#include "store.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_time.h"

#include <sodium.h>
#include <stdio.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#define OUTBOX_BATCH 16
#define PRUNE_EVERY_S 60

struct auth_outbox {
    struct td_sql *db;
    struct td_rpc_client *diary;
    int64_t lease_s;
    char owner[40]; /* this process, in the leases it takes */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    bool kicked;
};

int64_t auth_outbox_backoff_s(int64_t attempts)
{
    int64_t d = 1;
    for (int64_t i = 1; i < attempts && d < 300; i++)
        d *= 2;
    return d < 300 ? d : 300;
}

int auth_diary_delete_user(struct td_rpc_client *diary, int64_t user_id, const char *request_id,
                           int timeout_ms)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 1);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "user_id", user_id);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sb);
        return TD_ENOMEM;
    }
    struct td_rpc_call call = {.op = TD_OP_DIARY_DELETE_USER, .request_id = request_id,
                               .args = sb.data, .args_len = sb.size, .timeout_ms = timeout_ms};
    struct td_rpc_result res;
    rc = td_rpc_call(diary, &call, &res);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        return rc;
    int status = res.status;
    td_rpc_result_free(&res);
    return status == 200 ? 0 : TD_EDOWN;
}

/* One delivery: 0 when td-diary acknowledged (200). Anything else, 404
 * unknown_operation from a td-diary that predates the operation included,
 * leaves the job queued. */
static int deliver(struct auth_outbox *ob, const struct auth_outbox_job *job)
{
    return auth_diary_delete_user(ob->diary, job->user_id, "auth-outbox", 0);
}

static void run_due(struct auth_outbox *ob)
{
    for (int i = 0; i < OUTBOX_BATCH; i++) {
        struct auth_outbox_job job;
        int n = auth_store_outbox_take(ob->db, ob->owner, td_now_us() / 1000000, ob->lease_s,
                                       &job, 1);
        if (n < 0)
            TD_LOG(TD_LOG_WARN, "outbox_take_failed", "outbox not read: %s",
                   td_error_symbol(n));
        if (n <= 0)
            return;
        int rc = deliver(ob, &job);
        if (rc == 0) {
            int drc = auth_store_outbox_done(ob->db, job.id);
            /* Delivered either way; a row left behind is delivered again
             * when its lease ends, which diary.delete_user allows. */
            TD_LOG(TD_LOG_INFO, "outbox_delivered", "diary.delete_user for user %lld done%s",
                   (long long)job.user_id, drc == 0 ? "" : " (job not cleared: repeats)");
        } else {
            int64_t delay = auth_outbox_backoff_s(job.attempts + 1);
            if (auth_store_outbox_retry(ob->db, job.id, ob->owner,
                                        td_now_us() / 1000000 + delay) != 0)
                delay = ob->lease_s; /* the lease's end frees it instead */
            TD_LOG(TD_LOG_WARN, "outbox_retry",
                   "diary.delete_user for user %lld not acknowledged (%s); retry in %llds",
                   (long long)job.user_id, td_error_symbol(rc), (long long)delay);
        }
    }
}

static void *outbox_main(void *arg)
{
    struct auth_outbox *ob = arg;
    int64_t next_prune = 0;
    pthread_mutex_lock(&ob->lock);
    while (!ob->stopping) {
        ob->kicked = false;
        pthread_mutex_unlock(&ob->lock);

        int64_t now = td_now_us() / 1000000;
        if (now >= next_prune) {
            if (auth_store_prune(ob->db, now) != 0)
                TD_LOG(TD_LOG_WARN, "prune_failed", "expired token state not pruned");
            next_prune = now + PRUNE_EVERY_S;
        }
        run_due(ob);
        int64_t next = auth_store_outbox_next(ob->db);
        now = td_now_us() / 1000000;
        int64_t wake = next_prune;
        if (next > 0 && next < wake)
            wake = next;
        if (wake <= now)
            wake = now + 1; /* never spin on a row that keeps failing at once */

        pthread_mutex_lock(&ob->lock);
        struct timespec ts = {.tv_sec = (time_t)wake, .tv_nsec = 0};
        while (!ob->stopping && !ob->kicked) {
            if (pthread_cond_timedwait(&ob->wake, &ob->lock, &ts) != 0)
                break;
        }
    }
    pthread_mutex_unlock(&ob->lock);
    return NULL;
}

int64_t auth_outbox_lease_s(int64_t rpc_timeout_ms)
{
    int64_t s = 2 * ((rpc_timeout_ms + 999) / 1000);
    return s > AUTH_OUTBOX_LEASE_MIN_S ? s : AUTH_OUTBOX_LEASE_MIN_S;
}

int auth_outbox_start(struct td_sql *db, struct td_rpc_client *diary, int64_t rpc_timeout_ms,
                      struct auth_outbox **out)
{
    struct auth_outbox *ob = calloc(1, sizeof *ob);
    if (ob == NULL)
        return TD_ENOMEM;
    ob->db = db;
    ob->diary = diary;
    ob->lease_s = auth_outbox_lease_s(rpc_timeout_ms);
    /* Random, so two processes never share an owner (pids repeat across
     * hosts and containers). */
    snprintf(ob->owner, sizeof ob->owner, "%08x%08x", randombytes_random(),
             randombytes_random());
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    /* CLOCK_REALTIME (the default) matches the Unix-seconds deadlines. */
    if (rc == 0 && pthread_mutex_init(&ob->lock, NULL) == 0) {
        if (pthread_cond_init(&ob->wake, &ca) == 0) {
            if (pthread_create(&ob->thread, NULL, outbox_main, ob) == 0) {
                pthread_condattr_destroy(&ca);
                *out = ob;
                return 0;
            }
            pthread_cond_destroy(&ob->wake);
        }
        pthread_mutex_destroy(&ob->lock);
    }
    if (rc == 0)
        pthread_condattr_destroy(&ca);
    free(ob);
    return TD_ENOMEM;
}

void auth_outbox_kick(struct auth_outbox *ob)
{
    if (ob == NULL)
        return;
    pthread_mutex_lock(&ob->lock);
    ob->kicked = true;
    pthread_cond_signal(&ob->wake);
    pthread_mutex_unlock(&ob->lock);
}

void auth_outbox_stop(struct auth_outbox **pob)
{
    struct auth_outbox *ob = *pob;
    if (ob == NULL)
        return;
    pthread_mutex_lock(&ob->lock);
    ob->stopping = true;
    pthread_cond_signal(&ob->wake);
    pthread_mutex_unlock(&ob->lock);
    pthread_join(ob->thread, NULL);
    pthread_cond_destroy(&ob->wake);
    pthread_mutex_destroy(&ob->lock);
    free(ob);
    *pob = NULL;
}
