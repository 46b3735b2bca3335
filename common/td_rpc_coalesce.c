/*
 * td_rpc_coalesce.c — natural batching of RPC calls (td_rpc_coalesce.h).
 *
 * Per batch class (td_proto.h) a client lets at most `max_in_flight`
 * messages travel at once. A call that finds fewer goes out alone on its
 * own thread, exactly as without coalescing (TD_RPC_GO_ALONE). Otherwise it
 * joins its class's queue and sleeps; when a message of the class comes
 * back, the queue leaves as one batch (TD_PROTO_BATCH_MAX calls,
 * TD_PROTO_BATCH_BYTES of envelopes at most; a lone waiter leaves in the
 * single form). So batches form only under load, and no call ever waits
 * for company.
 *
 * A batch travels on a context of its own with an aio callback: sent, then
 * received, then split, each waiter woken with its own reply (a message of
 * its own, so it is decoded and freed like a call's alone) or the error its
 * call would have had alone. Each waiter sleeps until its own deadline at
 * most: one that gives up unhooks itself from its queue or its batch, and
 * a reply that comes for it later is dropped. A batch's context is reused
 * after a clean round trip and closed after any failure, as a call's
 * (td_rpc_client.c), so no reply to an abandoned batch reaches another.
 *
 * A peer that answers a batch with one envelope predates batches (it found
 * the array malformed and served nothing): its calls are sent again alone,
 * and batching pauses for OLD_PEER_PAUSE_MS. A reply element
 * TD_PROTO_BATCH_ALONE (too large to share a message) is asked for again
 * alone, which is safe only for short reads: a call of another class
 * answered so fails as a malformed reply.
 */
#include "td_rpc_coalesce.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_rpc_batch.h"
#include "td_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OLD_PEER_PAUSE_MS 60000

enum waiter_state { W_QUEUED, W_SENT, W_DONE };

/* A call waiting for its batch, on its caller's stack; its fields change
 * under q->lock. */
struct waiter {
    struct waiter *next; /* in its class's queue */
    pthread_cond_t cv;
    int64_t deadline;
    const char *kv; /* its envelope's key-value pairs (the caller's) */
    size_t kv_len;
    enum waiter_state state;
    struct flight *flight; /* W_SENT: its batch, and its place in it */
    unsigned index;
    int rc;        /* W_DONE: 0 with reply, TD_RPC_AGAIN_ALONE, or TD_E* */
    nng_msg *reply;
};

/* A batch message and its context. */
struct flight {
    struct td_rpc_coalescer *q;
    struct flight *next; /* in the idle list */
    nng_ctx ctx;
    nng_aio *aio;
    bool receiving;
    enum td_batch_class cls;
    int64_t until; /* the latest deadline of its calls */
    unsigned n;
    struct waiter *w[TD_PROTO_BATCH_MAX]; /* NULL: that caller gave up */
};

struct td_rpc_coalescer {
    char service[32];
    nng_socket sock;
    atomic_int *peers;
    int max_in_flight;
    pthread_mutex_t lock;
    pthread_condattr_t cattr; /* CLOCK_MONOTONIC, as td_mono_ms */
    pthread_cond_t idle;      /* nflights fell to 0 */
    int in_flight[TD_B_CLASSES];
    struct waiter *head[TD_B_CLASSES], *tail[TD_B_CLASSES];
    unsigned nflights; /* batches whose callback has not ended */
    struct flight *spare;
    bool closing;
    _Atomic int64_t paused_until; /* an old peer refused a batch */
    atomic_uint_fast64_t messages, batches, batched_calls, largest, alone_again;
};

int td_rpc_nng_error(int rv, int peers)
{
    switch (rv) {
    case NNG_ETIMEDOUT:
        return peers > 0 ? TD_ETIMEDOUT : TD_EDOWN;
    case NNG_ENOMEM:
        return TD_ENOMEM;
    default: /* ECONNRESET, ECLOSED, ECONNREFUSED, ...: the peer is gone */
        return TD_EDOWN;
    }
}

/* The request message handed to nng's req0 socket. Its own, never inlined
 * frame, because nng 1.5.2 leaks such a message when the connection it was
 * being sent on closes at that moment (docs/library-notes.md, "A request
 * sent as its connection closes is leaked"): tests that kill a daemon under
 * traffic suppress exactly this frame (tests/lsan-peer-death.supp), and every
 * other test still catches a request message that our own code loses. Its
 * room is reserved here, so filling it allocates nothing more. */
__attribute__((noinline)) nng_msg *td_rpc_request_msg(size_t cap)
{
    nng_msg *msg = NULL;
    if (nng_msg_alloc(&msg, 0) != 0)
        return NULL;
    if (nng_msg_reserve(msg, cap) != 0) {
        nng_msg_free(msg);
        return NULL;
    }
    return msg;
}

int td_rpc_coalescer_new(nng_socket sock, atomic_int *peers, const char *service,
                         int max_in_flight, struct td_rpc_coalescer **out)
{
    struct td_rpc_coalescer *q = calloc(1, sizeof *q);
    if (q == NULL)
        return TD_ENOMEM;
    snprintf(q->service, sizeof q->service, "%s", service);
    q->sock = sock;
    q->peers = peers;
    q->max_in_flight = max_in_flight;
    bool attr = pthread_condattr_init(&q->cattr) == 0;
    if (!attr || pthread_condattr_setclock(&q->cattr, CLOCK_MONOTONIC) != 0 ||
        pthread_mutex_init(&q->lock, NULL) != 0) {
        if (attr)
            pthread_condattr_destroy(&q->cattr);
        free(q);
        return TD_ENOMEM;
    }
    if (pthread_cond_init(&q->idle, NULL) != 0) {
        pthread_mutex_destroy(&q->lock);
        pthread_condattr_destroy(&q->cattr);
        free(q);
        return TD_ENOMEM;
    }
    *out = q;
    return 0;
}

/* Ends a waiter's wait. The caller holds q->lock. */
static void wake_locked(struct waiter *w, int rc, nng_msg *reply)
{
    w->state = W_DONE;
    w->rc = rc;
    w->reply = reply;
    pthread_cond_signal(&w->cv);
}

void td_rpc_coalescer_close(struct td_rpc_coalescer *q)
{
    pthread_mutex_lock(&q->lock);
    q->closing = true;
    for (int k = 0; k < TD_B_CLASSES; k++) {
        for (struct waiter *w = q->head[k]; w != NULL; w = w->next)
            wake_locked(w, TD_EDOWN, NULL);
        q->head[k] = q->tail[k] = NULL;
    }
    pthread_mutex_unlock(&q->lock);
}

void td_rpc_coalescer_free(struct td_rpc_coalescer **pq)
{
    struct td_rpc_coalescer *q = *pq;
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->lock);
    while (q->nflights > 0)
        pthread_cond_wait(&q->idle, &q->lock);
    pthread_mutex_unlock(&q->lock);
    for (struct flight *f = q->spare, *next; f != NULL; f = next) {
        next = f->next;
        nng_aio_free(f->aio); /* its context went with the socket */
        free(f);
    }
    pthread_cond_destroy(&q->idle);
    pthread_mutex_destroy(&q->lock);
    pthread_condattr_destroy(&q->cattr);
    free(q);
    *pq = NULL;
}

void td_rpc_coalesce_stats(struct td_rpc_coalescer *q, struct td_rpc_coalesce_stats *out)
{
    *out = (struct td_rpc_coalesce_stats){
        .messages = atomic_load(&q->messages),
        .batches = atomic_load(&q->batches),
        .batched_calls = atomic_load(&q->batched_calls),
        .largest_batch = atomic_load(&q->largest),
        .alone_again = atomic_load(&q->alone_again),
    };
}

static void flight_event(void *arg);

/* A spare batch context, or a new one; NULL when the socket is closing or
 * memory is short. The caller holds q->lock. */
static struct flight *flight_take_locked(struct td_rpc_coalescer *q)
{
    struct flight *f = q->spare;
    if (f != NULL) {
        q->spare = f->next;
        return f;
    }
    if ((f = calloc(1, sizeof *f)) == NULL)
        return NULL;
    f->q = q;
    if (nng_aio_alloc(&f->aio, flight_event, f) != 0) {
        free(f);
        return NULL;
    }
    if (nng_ctx_open(&f->ctx, q->sock) != 0) {
        nng_aio_free(f->aio);
        free(f);
        return NULL;
    }
    return f;
}

/* Packs the envelope of waiter `w` as batched: its map header, its pairs,
 * and its "ttl" (what is left of its time). */
static int pack_batched(msgpack_packer *pk, const struct waiter *w, int64_t now)
{
    int64_t ttl = w->deadline - now;
    ttl = ttl < 1 ? 1 : ttl > TD_PROTO_TTL_MAX ? TD_PROTO_TTL_MAX : ttl;
    /* The bin's length first: the header, the pairs, the ttl pair, each
     * packed into a small buffer to be measured. */
    msgpack_sbuffer head;
    msgpack_sbuffer_init(&head);
    msgpack_packer hp;
    msgpack_packer_init(&hp, &head, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&hp, 7);
    size_t map_len = head.size;
    rc = rc ? rc : td_mp_pack_kv_int(&hp, TD_KEY_TTL, ttl);
    rc = rc ? rc : msgpack_pack_bin(pk, head.size + w->kv_len);
    rc = rc ? rc : msgpack_pack_bin_body(pk, head.data, map_len);
    rc = rc ? rc : msgpack_pack_bin_body(pk, w->kv, w->kv_len);
    rc = rc ? rc : msgpack_pack_bin_body(pk, head.data + map_len, head.size - map_len);
    msgpack_sbuffer_destroy(&head);
    return rc;
}

/* Starts the next batch of class `cls` if a line is free and calls wait:
 * takes them off the queue and builds their message (under the lock, while
 * their envelopes are sure to exist). Returns the flight, its message in
 * *msg, to send after unlocking (flight_go); NULL when there is none. A
 * batch that cannot be made fails its calls with TD_EDOWN (the socket is
 * closing) or TD_ENOMEM. The caller holds q->lock. */
static struct flight *launch_locked(struct td_rpc_coalescer *q, enum td_batch_class cls,
                                    nng_msg **msg)
{
    if (q->closing || q->head[cls] == NULL || q->in_flight[cls] >= q->max_in_flight)
        return NULL;
    struct waiter *take[TD_PROTO_BATCH_MAX];
    unsigned n = 0;
    size_t bytes = 0;
    while (q->head[cls] != NULL && n < TD_PROTO_BATCH_MAX &&
           (n == 0 || bytes + q->head[cls]->kv_len <= TD_PROTO_BATCH_BYTES)) {
        struct waiter *w = q->head[cls];
        q->head[cls] = w->next;
        bytes += w->kv_len;
        take[n++] = w;
    }
    if (q->head[cls] == NULL)
        q->tail[cls] = NULL;

    struct flight *f = flight_take_locked(q);
    /* room: the array's header, and each element's bin header, map header
     * and ttl pair (16 bytes cover them all) */
    nng_msg *m = f ? td_rpc_request_msg(5 + bytes + 16 * (size_t)n) : NULL;
    int rc = m ? 0 : q->closing ? TD_EDOWN : TD_ENOMEM;
    int64_t now = td_mono_ms();
    if (rc == 0) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, m, td_rpc_msg_write);
        if (n == 1) { /* alone: the single form, as td_rpc_client.c sends */
            rc = msgpack_pack_map(&pk, 6);
            rc = rc ? rc : nng_msg_append(m, take[0]->kv, take[0]->kv_len);
        } else {
            rc = msgpack_pack_array(&pk, n);
            for (unsigned i = 0; rc == 0 && i < n; i++)
                rc = pack_batched(&pk, take[i], now);
        }
        rc = rc == 0 ? 0 : TD_ENOMEM;
    }
    if (rc != 0) {
        if (m != NULL)
            nng_msg_free(m);
        if (f != NULL) {
            f->next = q->spare;
            q->spare = f;
        }
        for (unsigned i = 0; i < n; i++)
            wake_locked(take[i], rc, NULL);
        return NULL;
    }
    f->cls = cls;
    f->n = n;
    f->until = 0;
    for (unsigned i = 0; i < n; i++) {
        f->w[i] = take[i];
        take[i]->state = W_SENT;
        take[i]->flight = f;
        take[i]->index = i;
        if (take[i]->deadline > f->until)
            f->until = take[i]->deadline;
    }
    q->in_flight[cls]++;
    q->nflights++;
    atomic_fetch_add(&q->messages, 1);
    if (n > 1) {
        atomic_fetch_add(&q->batches, 1);
        atomic_fetch_add(&q->batched_calls, n);
        uint64_t big = atomic_load(&q->largest);
        while (n > big && !atomic_compare_exchange_weak(&q->largest, &big, n))
            ;
    }
    *msg = m;
    return f;
}

static nng_duration left_ms(int64_t until)
{
    int64_t left = until - td_mono_ms();
    return left > 0 ? (nng_duration)left : 1;
}

/* Sends a launched batch; its callback takes it from here. */
static void flight_go(struct flight *f, nng_msg *msg)
{
    f->receiving = false;
    nng_aio_set_timeout(f->aio, left_ms(f->until));
    nng_aio_set_msg(f->aio, msg);
    nng_ctx_send(f->ctx, f->aio);
}

/* Splits a batch's reply: for call i, each[i] (a message of its own) and
 * rcs[i]. Returns false when the peer answered with one envelope: it does
 * not know batches. */
static bool split_reply(struct flight *f, nng_msg *reply, nng_msg **each, int *rcs)
{
    struct td_rpc_coalescer *q = f->q;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = td_mp_unpack(nng_msg_body(reply), nng_msg_len(reply), &up);
    bool knows = !(rc == 0 && up.data.type == MSGPACK_OBJECT_MAP);
    if (rc == 0 && knows && !td_rpc_batch_reply_ok(&up.data, f->n))
        rc = TD_EPROTO;
    for (unsigned i = 0; i < f->n; i++) {
        each[i] = NULL;
        const msgpack_object *e = rc == 0 && knows ? &up.data.via.array.ptr[i] : NULL;
        if (!knows) {
            rcs[i] = TD_RPC_AGAIN_ALONE;
        } else if (e == NULL) {
            rcs[i] = rc;
        } else if (e->type == MSGPACK_OBJECT_BIN) {
            rcs[i] = nng_msg_alloc(&each[i], 0) == 0 &&
                             nng_msg_append(each[i], e->via.bin.ptr, e->via.bin.size) == 0
                         ? 0
                         : TD_ENOMEM;
            if (rcs[i] != 0 && each[i] != NULL) {
                nng_msg_free(each[i]);
                each[i] = NULL;
            }
        } else if (e->via.u64 == TD_PROTO_BATCH_LATE) {
            rcs[i] = TD_ETIMEDOUT; /* not served in time: as a call alone would time out */
        } else {
            rcs[i] = f->cls == TD_B_SHORT ? TD_RPC_AGAIN_ALONE : TD_EPROTO;
        }
    }
    if (rc != 0 && knows)
        TD_LOG(TD_LOG_ERR, "rpc_bad_reply", "%s: malformed reply to a batch of %u calls",
               q->service, f->n);
    msgpack_unpacked_destroy(&up);
    nng_msg_free(reply);
    return knows;
}

/* The batch is over with `rv` (nng's result) and, on success, `reply`. */
static void flight_end(struct flight *f, int rv, nng_msg *reply)
{
    struct td_rpc_coalescer *q = f->q;
    nng_msg *each[TD_PROTO_BATCH_MAX];
    int rcs[TD_PROTO_BATCH_MAX];
    int fail = rv == 0 ? 0 : td_rpc_nng_error(rv, atomic_load(q->peers));
    for (unsigned i = 0; i < f->n; i++) {
        each[i] = NULL;
        rcs[i] = fail;
    }
    if (rv == 0 && f->n == 1) {
        each[0] = reply; /* the single form: the reply is the call's own */
    } else if (rv == 0 && !split_reply(f, reply, each, rcs)) {
        TD_LOG(TD_LOG_WARN, "rpc_batch_refused",
               "%s: the peer does not take batches; sending calls alone for %d s", q->service,
               OLD_PEER_PAUSE_MS / 1000);
        atomic_store(&q->paused_until, td_mono_ms() + OLD_PEER_PAUSE_MS);
    }
    if (fail == TD_ETIMEDOUT || fail == TD_EDOWN)
        TD_LOG(TD_LOG_WARN, "rpc_call_failed", "%s: a batch of %u calls %s", q->service, f->n,
               fail == TD_ETIMEDOUT ? "timed out" : "found the service down");

    enum td_batch_class cls = f->cls;
    unsigned n = f->n; /* f may be reused once unlocked */
    pthread_mutex_lock(&q->lock);
    for (unsigned i = 0; i < f->n; i++) {
        if (f->w[i] != NULL) {
            wake_locked(f->w[i], rcs[i], each[i]);
            each[i] = NULL;
        }
    }
    q->in_flight[cls]--;
    if (rv == 0) { /* a clean round trip: the context is ready again */
        f->next = q->spare;
        q->spare = f;
    }
    nng_msg *next_msg = NULL;
    struct flight *next = launch_locked(q, cls, &next_msg);
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; i < n; i++) {
        if (each[i] != NULL) /* its caller gave up */
            nng_msg_free(each[i]);
    }
    if (rv != 0) {
        /* A failed batch's context may still await a reply that must never
         * reach another batch. */
        nng_ctx_close(f->ctx);
        nng_aio_reap(f->aio);
        free(f);
    }
    if (next != NULL)
        flight_go(next, next_msg);
    /* Last: once nflights is 0 the coalescer may be freed. */
    pthread_mutex_lock(&q->lock);
    if (--q->nflights == 0)
        pthread_cond_broadcast(&q->idle);
    pthread_mutex_unlock(&q->lock);
}

static void flight_event(void *arg)
{
    struct flight *f = arg;
    int rv = nng_aio_result(f->aio);
    if (!f->receiving) {
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(f->aio)); /* a failed send leaves it ours */
            flight_end(f, rv, NULL);
            return;
        }
        f->receiving = true;
        nng_aio_set_timeout(f->aio, left_ms(f->until));
        nng_ctx_recv(f->ctx, f->aio);
        return;
    }
    flight_end(f, rv, rv == 0 ? nng_aio_get_msg(f->aio) : NULL);
}

void td_rpc_coalesce_leave(struct td_rpc_coalescer *q, enum td_batch_class cls)
{
    pthread_mutex_lock(&q->lock);
    q->in_flight[cls]--;
    nng_msg *msg = NULL;
    struct flight *f = launch_locked(q, cls, &msg);
    pthread_mutex_unlock(&q->lock);
    if (f != NULL)
        flight_go(f, msg);
}

int td_rpc_coalesce_enter(struct td_rpc_coalescer *q, enum td_batch_class cls, const char *kv,
                          size_t kv_len, int64_t deadline, nng_msg **reply)
{
    if (cls == TD_B_ALONE || cls >= TD_B_CLASSES || td_mono_ms() < atomic_load(&q->paused_until))
        return TD_RPC_AGAIN_ALONE;
    pthread_mutex_lock(&q->lock);
    if (q->closing) {
        pthread_mutex_unlock(&q->lock);
        return TD_EDOWN;
    }
    if (q->head[cls] == NULL && q->in_flight[cls] < q->max_in_flight) {
        q->in_flight[cls]++;
        pthread_mutex_unlock(&q->lock);
        return TD_RPC_GO_ALONE;
    }
    struct waiter w = {.deadline = deadline, .kv = kv, .kv_len = kv_len, .state = W_QUEUED};
    if (pthread_cond_init(&w.cv, &q->cattr) != 0) {
        pthread_mutex_unlock(&q->lock);
        return TD_ENOMEM;
    }
    if (q->tail[cls] != NULL)
        q->tail[cls]->next = &w;
    else
        q->head[cls] = &w;
    q->tail[cls] = &w;
    /* Every line may have come free since (a launch that failed). */
    nng_msg *msg = NULL;
    struct flight *f = launch_locked(q, cls, &msg);
    if (f != NULL) {
        pthread_mutex_unlock(&q->lock);
        flight_go(f, msg);
        pthread_mutex_lock(&q->lock);
    }
    struct timespec until = {.tv_sec = (time_t)(deadline / 1000),
                             .tv_nsec = (long)(deadline % 1000) * 1000000L};
    while (w.state != W_DONE) {
        if (pthread_cond_timedwait(&w.cv, &q->lock, &until) != ETIMEDOUT || w.state == W_DONE)
            continue;
        /* Our deadline: give up, and leave no trace for the batch. */
        if (w.state == W_QUEUED) {
            struct waiter **pp = &q->head[cls], *prev = NULL;
            while (*pp != &w) {
                prev = *pp;
                pp = &(*pp)->next;
            }
            *pp = w.next;
            if (q->tail[cls] == &w)
                q->tail[cls] = prev;
        } else {
            w.flight->w[w.index] = NULL;
        }
        wake_locked(&w, td_rpc_nng_error(NNG_ETIMEDOUT, atomic_load(q->peers)), NULL);
    }
    pthread_mutex_unlock(&q->lock);
    pthread_cond_destroy(&w.cv);
    if (w.rc == TD_RPC_AGAIN_ALONE)
        atomic_fetch_add(&q->alone_again, 1);
    if (w.rc == 0)
        *reply = w.reply;
    return w.rc;
}
