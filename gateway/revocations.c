/*
 * revocations.c — the revocation set of revocations.h: a chained hash table
 * (SipHash with a per-process key, so bucket placement cannot be steered)
 * behind a rwlock, a receiver thread on the sub socket and a sync thread
 * that pulls auth.revocations.
 */
#include "revocations.h"
#include "td_config.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_time.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_MAX 72
#define FEED_MAX_MSG 4096
#define RESYNC_EVERY_MS 30000
#define RESYNC_FOLLOW_UP_MS 1000
#define RESYNC_RETRY_MS 250
#define FEED_URL_MAX 1024
#define PRUNE_EVERY_MS 10000
#define PAGE_LIMIT 5000

struct entry {
    struct entry *next;
    int64_t value; /* jti: its exp; user: the cut-off in microseconds */
    int64_t until; /* Unix seconds after which the entry no longer matters */
    char key[KEY_MAX]; /* "j<jti>" or "u<uid>" */
};

struct gw_revocations {
    pthread_rwlock_t lock;
    struct entry **buckets;
    size_t nbuckets, count;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    long long leeway;

    /* feed + sync (absent in a plain set) */
    struct td_rpc_client *auth;
    bool has_feed;
    nng_socket sock;
    pthread_t recv_thread, sync_thread;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* sync wanted / synced / stopping */
    bool sync_now;
    int64_t follow_up_ms; /* a second sync due at this mono time, 0: none */
    bool synced;
    bool waited_out; /* a wait for the first sync timed out: later ones do not wait */
    /* Catch-up after a feed connection is (re)established: want_gen counts
     * the connections made, done_gen is the want_gen a successful sync
     * started after; token checks wait while done_gen < want_gen, except for
     * a generation one request already waited out (waited_gen). */
    uint64_t want_gen, done_gen, waited_gen;
    atomic_bool stopping;
};

/* ---- the table ----------------------------------------------------------- */

static size_t bucket_of(const struct gw_revocations *r, const char *key, size_t nbuckets)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, strlen(key), r->hash_key);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return (size_t)(v & (nbuckets - 1));
}

/* Doubles the table; called with the write lock held. Failure is harmless:
 * chains just get longer. */
static void grow(struct gw_revocations *r)
{
    size_t n = r->nbuckets * 2;
    struct entry **b = calloc(n, sizeof *b);
    if (b == NULL)
        return;
    for (size_t i = 0; i < r->nbuckets; i++) {
        for (struct entry *e = r->buckets[i], *next; e; e = next) {
            next = e->next;
            size_t k = bucket_of(r, e->key, n);
            e->next = b[k];
            b[k] = e;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = n;
}

/* Adds or raises an entry: a revocation only ever widens. */
static void put(struct gw_revocations *r, const char *key, int64_t value, int64_t until)
{
    if (strlen(key) >= KEY_MAX)
        return;
    pthread_rwlock_wrlock(&r->lock);
    size_t k = bucket_of(r, key, r->nbuckets);
    struct entry *e = r->buckets[k];
    while (e && strcmp(e->key, key) != 0)
        e = e->next;
    if (e != NULL) {
        if (value > e->value)
            e->value = value;
        if (until > e->until)
            e->until = until;
    } else if ((e = calloc(1, sizeof *e)) != NULL) {
        memcpy(e->key, key, strlen(key) + 1);
        e->value = value;
        e->until = until;
        e->next = r->buckets[k];
        r->buckets[k] = e;
        if (++r->count > r->nbuckets)
            grow(r);
    } else {
        TD_LOG(TD_LOG_ERR, "revocation_dropped", "out of memory adding a revocation");
    }
    pthread_rwlock_unlock(&r->lock);
}

/* Looks up with the read lock held. */
static const struct entry *find(const struct gw_revocations *r, const char *key)
{
    const struct entry *e = r->buckets[bucket_of(r, key, r->nbuckets)];
    while (e && strcmp(e->key, key) != 0)
        e = e->next;
    return e;
}

bool gw_revocations_revoked(struct gw_revocations *r, const char *jti, int64_t uid,
                            int64_t iat_us)
{
    char jkey[KEY_MAX], ukey[KEY_MAX];
    snprintf(jkey, sizeof jkey, "j%s", jti);
    snprintf(ukey, sizeof ukey, "u%lld", (long long)uid);
    pthread_rwlock_rdlock(&r->lock);
    bool revoked = find(r, jkey) != NULL;
    const struct entry *u = revoked ? NULL : find(r, ukey);
    if (u != NULL && iat_us < u->value)
        revoked = true;
    pthread_rwlock_unlock(&r->lock);
    return revoked;
}

void gw_revocations_add_jti(struct gw_revocations *r, const char *jti, int64_t exp)
{
    char key[KEY_MAX];
    if (snprintf(key, sizeof key, "j%s", jti) >= (int)sizeof key)
        return;
    /* The gateway accepts a token until exp + leeway: keep it that long. */
    put(r, key, exp, exp + r->leeway + 1);
}

void gw_revocations_add_user(struct gw_revocations *r, int64_t uid, int64_t cutoff_us,
                             int64_t until)
{
    char key[KEY_MAX];
    snprintf(key, sizeof key, "u%lld", (long long)uid);
    put(r, key, cutoff_us, until);
}

size_t gw_revocations_prune(struct gw_revocations *r, int64_t now_s)
{
    pthread_rwlock_wrlock(&r->lock);
    for (size_t i = 0; i < r->nbuckets; i++) {
        struct entry **pp = &r->buckets[i];
        while (*pp) {
            struct entry *e = *pp;
            if (e->until < now_s) {
                *pp = e->next;
                free(e);
                r->count--;
            } else {
                pp = &e->next;
            }
        }
    }
    size_t left = r->count;
    pthread_rwlock_unlock(&r->lock);
    return left;
}

/* ---- feed messages ---------------------------------------------------------- */

static bool copy_id(const msgpack_object *o, char *buf, size_t size)
{
    if (td_mp_copy_str(o, buf, size) != 0 || buf[0] == '\0')
        return false;
    for (const char *p = buf; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

int gw_revocations_apply_event(struct gw_revocations *r, const char *data, size_t len)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = td_mp_unpack(data, len, &up);
    const msgpack_object *m = rc == 0 ? &up.data : NULL;
    int64_t v = 0, a = 0, b = 0, c = 0;
    char jti[64];
    if (rc == 0 && (td_mp_as_int64(td_mp_map_get(m, "v"), &v) != 0 || v != 1))
        rc = TD_EPROTO;
    if (rc == 0 && td_mp_str_eq(td_mp_map_get(m, "kind"), "jti")) {
        if (copy_id(td_mp_map_get(m, "jti"), jti, sizeof jti) &&
            td_mp_as_int64(td_mp_map_get(m, "exp"), &a) == 0)
            gw_revocations_add_jti(r, jti, a);
        else
            rc = TD_EPROTO;
    } else if (rc == 0 && td_mp_str_eq(td_mp_map_get(m, "kind"), "user")) {
        if (td_mp_as_int64(td_mp_map_get(m, "uid"), &a) == 0 &&
            td_mp_as_int64(td_mp_map_get(m, "cutoff_us"), &b) == 0 &&
            td_mp_as_int64(td_mp_map_get(m, "until"), &c) == 0)
            gw_revocations_add_user(r, a, b, c);
        else
            rc = TD_EPROTO;
    } else if (rc == 0) {
        rc = TD_EPROTO; /* a kind from a newer td-auth: the next sync covers it */
    }
    msgpack_unpacked_destroy(&up);
    return rc == 0 ? 0 : TD_EPROTO;
}

/* ---- full sync ----------------------------------------------------------------- */

/* Applies one page of auth.revocations; more and last say where to go on. */
static int apply_page(struct gw_revocations *r, const msgpack_object *res, bool *more,
                      char last[64])
{
    const msgpack_object *jtis = td_mp_map_get(res, "jtis");
    const msgpack_object *users = td_mp_map_get(res, "users");
    const msgpack_object *m = td_mp_map_get(res, "more");
    if (jtis == NULL || jtis->type != MSGPACK_OBJECT_ARRAY || users == NULL ||
        users->type != MSGPACK_OBJECT_ARRAY || m == NULL || m->type != MSGPACK_OBJECT_BOOLEAN)
        return TD_EPROTO;
    for (uint32_t i = 0; i < jtis->via.array.size; i++) {
        const msgpack_object *row = &jtis->via.array.ptr[i];
        char jti[64];
        int64_t exp;
        if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != 2 ||
            !copy_id(&row->via.array.ptr[0], jti, sizeof jti) ||
            td_mp_as_int64(&row->via.array.ptr[1], &exp) != 0)
            return TD_EPROTO;
        gw_revocations_add_jti(r, jti, exp);
        memcpy(last, jti, strlen(jti) + 1);
    }
    for (uint32_t i = 0; i < users->via.array.size; i++) {
        const msgpack_object *row = &users->via.array.ptr[i];
        int64_t v[3];
        if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != 3)
            return TD_EPROTO;
        for (int k = 0; k < 3; k++) {
            if (td_mp_as_int64(&row->via.array.ptr[k], &v[k]) != 0)
                return TD_EPROTO;
        }
        gw_revocations_add_user(r, v[0], v[1], v[2]);
    }
    *more = m->via.boolean && jtis->via.array.size > 0;
    return 0;
}

static int sync_all(struct gw_revocations *r)
{
    char last[64] = "";
    bool more = true;
    int rc = 0;
    while (rc == 0 && more && !atomic_load(&r->stopping)) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        int prc = msgpack_pack_map(&pk, last[0] ? 2 : 1);
        prc = prc ? prc : td_mp_pack_kv_int(&pk, "limit", PAGE_LIMIT);
        if (last[0])
            prc = prc ? prc : td_mp_pack_kv_str(&pk, "after", last);
        struct td_rpc_call call = {.op = TD_OP_AUTH_REVOCATIONS, .request_id = "gw-revocations",
                                   .args = sb.data, .args_len = sb.size};
        struct td_rpc_result res;
        rc = prc ? TD_ENOMEM : td_rpc_call(r->auth, &call, &res);
        msgpack_sbuffer_destroy(&sb);
        if (rc != 0)
            break;
        rc = res.status == 200 ? apply_page(r, res.result, &more, last) : TD_EDOWN;
        td_rpc_result_free(&res);
    }
    return rc;
}

/* ---- threads --------------------------------------------------------------- */

static void *recv_main(void *arg)
{
    struct gw_revocations *r = arg;
    while (!atomic_load(&r->stopping)) {
        void *buf = NULL;
        size_t len = 0;
        int rv = nng_recv(r->sock, &buf, &len, NNG_FLAG_ALLOC);
        if (rv == NNG_ETIMEDOUT)
            continue;
        if (rv != 0)
            break; /* closed */
        if (gw_revocations_apply_event(r, buf, len) != 0)
            TD_LOG(TD_LOG_WARN, "revocation_bad_event", "unusable revocation event ignored");
        nng_free(buf, len);
    }
    return NULL;
}

static void timespec_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *sync_main(void *arg)
{
    struct gw_revocations *r = arg;
    int64_t next_full = 0, next_prune = td_mono_ms() + PRUNE_EVERY_MS;
    pthread_mutex_lock(&r->mu);
    while (!atomic_load(&r->stopping)) {
        int64_t now = td_mono_ms();
        bool due = r->sync_now || now >= next_full ||
                   (r->follow_up_ms != 0 && now >= r->follow_up_ms);
        if (due) {
            r->sync_now = false;
            if (r->follow_up_ms != 0 && now >= r->follow_up_ms)
                r->follow_up_ms = 0;
            /* Everything committed before this point is in the pull: it
             * covers the connections counted so far. */
            uint64_t gen = r->want_gen;
            pthread_mutex_unlock(&r->mu);
            int rc = sync_all(r);
            pthread_mutex_lock(&r->mu);
            if (rc == 0) {
                if (!r->synced)
                    TD_LOG(TD_LOG_INFO, "revocations_synced", "revocation set loaded");
                r->synced = true;
                if (gen > r->done_gen) {
                    r->done_gen = gen;
                    TD_LOG(TD_LOG_INFO, "revocations_caught_up",
                           "revocation set pulled after feed connection %llu",
                           (unsigned long long)gen);
                }
                pthread_cond_broadcast(&r->cond);
                next_full = td_mono_ms() + RESYNC_EVERY_MS;
            } else {
                /* td-auth down or slow: try again soon, and keep serving with
                 * what we have (the feed reconnects by itself). */
                next_full = td_mono_ms() + RESYNC_RETRY_MS;
            }
        }
        now = td_mono_ms();
        if (now >= next_prune) {
            pthread_mutex_unlock(&r->mu);
            gw_revocations_prune(r, td_now_us() / 1000000);
            pthread_mutex_lock(&r->mu);
            next_prune = now + PRUNE_EVERY_MS;
        }
        int64_t wake = next_full < next_prune ? next_full : next_prune;
        if (r->follow_up_ms != 0 && r->follow_up_ms < wake)
            wake = r->follow_up_ms;
        int wait = (int)(wake - td_mono_ms());
        if (wait > 0 && !r->sync_now && !atomic_load(&r->stopping)) {
            struct timespec ts;
            timespec_in(&ts, wait);
            pthread_cond_timedwait(&r->cond, &r->mu, &ts);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* nng calls this when a feed connection to a td-auth replica is up (again):
 * what that replica published while we were away is only in the database
 * (which every replica shares, so any replica's auth.revocations has it). */
static void on_pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)ev;
    struct gw_revocations *r = arg;
    char *url = NULL;
    nng_dialer d = nng_pipe_dialer(p);
    bool named = nng_dialer_id(d) > 0 && nng_dialer_get_string(d, NNG_OPT_URL, &url) == 0;
    TD_LOG(TD_LOG_INFO, "revocations_feed_up", "revocation feed connected: %s",
           named ? url : "?");
    if (named)
        nng_strfree(url);
    pthread_mutex_lock(&r->mu);
    r->want_gen++;
    r->sync_now = true;
    r->follow_up_ms = td_mono_ms() + RESYNC_FOLLOW_UP_MS;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static int feed_open(struct gw_revocations *r, const char *url)
{
    int rv = nng_sub0_open(&r->sock);
    if (rv != 0)
        return TD_ENOMEM;
    rv = nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, FEED_MAX_MSG);
    rv = rv ? rv : nng_socket_set(r->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0);
    rv = rv ? rv : nng_socket_set_ms(r->sock, NNG_OPT_RECVTIMEO, 250);
    rv = rv ? rv : nng_socket_set_ms(r->sock, NNG_OPT_RECONNMINT, 100);
    rv = rv ? rv : nng_socket_set_ms(r->sock, NNG_OPT_RECONNMAXT, 1000);
    rv = rv ? rv : nng_pipe_notify(r->sock, NNG_PIPE_EV_ADD_POST, on_pipe_added, r);
    if (rv != 0) {
        nng_close(r->sock);
        return TD_ENOMEM;
    }
    /* One dialer per td-auth replica: each publishes only the revocations
     * it made, and one sub socket receives from all of its connections. A
     * host name is dialled at every address it resolves to, re-resolved as
     * replicas come and go (td_rpc_dial_replicas): a replica behind the
     * name that we did not subscribe to would revoke tokens unseen.
     * Non-blocking: a replica may not be up yet; nng keeps redialling. */
    const char *cursor = url, *item;
    size_t len;
    int n = 0;
    while (rv == 0 && td_list_next(&cursor, &item, &len)) {
        char u[FEED_URL_MAX];
        if (len >= sizeof u) {
            rv = NNG_EINVAL;
            break;
        }
        memcpy(u, item, len);
        u[len] = '\0';
        rv = td_rpc_dial_replicas(r->sock, u, TD_ROLE_AUTH, 1, "auth-events");
        if (rv != 0)
            TD_LOG(TD_LOG_ERR, "revocations_feed_failed", "cannot subscribe to %s: %s", u,
                   nng_strerror(rv));
        n++;
    }
    if (rv != 0 || n == 0) {
        if (n == 0)
            TD_LOG(TD_LOG_ERR, "revocations_feed_failed", "AUTH_EVENTS_URL names no address");
        td_rpc_unwatch(r->sock); /* forgets the names dialled so far */
        nng_close(r->sock);
        return TD_EINVAL;
    }
    return 0;
}

int gw_revocations_new(const char *events_url, struct td_rpc_client *auth, long long leeway,
                       struct gw_revocations **out)
{
    struct gw_revocations *r = calloc(1, sizeof *r);
    if (r == NULL)
        return TD_ENOMEM;
    r->nbuckets = 1024;
    r->leeway = leeway;
    r->buckets = calloc(r->nbuckets, sizeof *r->buckets);
    crypto_shorthash_keygen(r->hash_key);
    pthread_condattr_t ca;
    bool locks = r->buckets != NULL && pthread_rwlock_init(&r->lock, NULL) == 0;
    if (locks && pthread_mutex_init(&r->mu, NULL) != 0) {
        pthread_rwlock_destroy(&r->lock);
        locks = false;
    }
    if (locks && (pthread_condattr_init(&ca) != 0 ||
                  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
                  pthread_cond_init(&r->cond, &ca) != 0)) {
        pthread_mutex_destroy(&r->mu);
        pthread_rwlock_destroy(&r->lock);
        locks = false;
    }
    if (!locks) {
        free(r->buckets);
        free(r);
        return TD_ENOMEM;
    }
    pthread_condattr_destroy(&ca);
    if (events_url == NULL || auth == NULL) {
        r->synced = true;
        *out = r;
        return 0;
    }
    r->auth = auth;
    int rc = feed_open(r, events_url);
    if (rc == 0) {
        r->has_feed = true;
        if (pthread_create(&r->recv_thread, NULL, recv_main, r) != 0) {
            rc = TD_ENOMEM;
        } else if (pthread_create(&r->sync_thread, NULL, sync_main, r) != 0) {
            atomic_store(&r->stopping, true);
            pthread_join(r->recv_thread, NULL); /* before the close: see _free */
            td_rpc_unwatch(r->sock);
            nng_close(r->sock);
            r->has_feed = false;
            rc = TD_ENOMEM;
        }
        if (rc != 0 && r->has_feed) {
            td_rpc_unwatch(r->sock);
            nng_close(r->sock);
            r->has_feed = false;
        }
    }
    if (rc != 0) {
        gw_revocations_free(&r);
        return rc;
    }
    *out = r;
    return 0;
}

bool gw_revocations_wait_synced(struct gw_revocations *r, int timeout_ms)
{
    struct timespec ts;
    timespec_in(&ts, timeout_ms);
    pthread_mutex_lock(&r->mu);
    /* Once one request has waited the full time in vain, td-auth is down:
     * the others answer 503 at once instead of each holding a civetweb
     * worker for the whole wait. */
    while (!r->synced && !r->waited_out) {
        if (pthread_cond_timedwait(&r->cond, &r->mu, &ts) != 0) {
            r->waited_out = !r->synced;
            break;
        }
    }
    bool synced = r->synced;
    /* A feed connection came up since the last pull: revocations its
     * replica made while we were not listening are in the database only.
     * Wait for the catch-up pull (milliseconds: that replica just
     * answered). If it cannot be had in time, serve with the set we hold,
     * as before the reconnection, rather than refuse every token: the
     * pull keeps being retried every RESYNC_RETRY_MS. */
    uint64_t want = r->want_gen;
    if (synced && r->done_gen < want && r->waited_gen < want) {
        while (r->done_gen < want) {
            if (pthread_cond_timedwait(&r->cond, &r->mu, &ts) != 0) {
                if (r->done_gen < want) {
                    r->waited_gen = want;
                    TD_LOG(TD_LOG_WARN, "revocations_catchup_late",
                           "no revocation pull since a feed reconnected; serving with the "
                           "set held");
                }
                break;
            }
        }
    }
    pthread_mutex_unlock(&r->mu);
    return synced;
}

void gw_revocations_free(struct gw_revocations **pr)
{
    struct gw_revocations *r = *pr;
    if (r == NULL)
        return;
    if (r->has_feed) {
        atomic_store(&r->stopping, true);
        pthread_mutex_lock(&r->mu);
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->mu);
        /* The receiver sees `stopping` within its 250 ms receive timeout.
         * The socket is closed only after both threads are gone: nng 1.5.2
         * frees a socket under a thread still inside nng_recv on it, which
         * ends the process with "panic: pthread_mutex_lock: Invalid
         * argument" (docs/library-notes.md). */
        pthread_join(r->recv_thread, NULL);
        pthread_join(r->sync_thread, NULL);
        td_rpc_unwatch(r->sock); /* no feed dialer is added or closed after this */
        nng_close(r->sock);
    }
    for (size_t i = 0; i < r->nbuckets; i++) {
        for (struct entry *e = r->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(r->buckets);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
    pthread_rwlock_destroy(&r->lock);
    free(r);
    *pr = NULL;
}
