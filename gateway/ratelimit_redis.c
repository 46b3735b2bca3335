/*
 * ratelimit_redis.c — the shared rate-limit store: sliding-window logs
 * (ratelimit.h) kept in Redis, so every gateway using one Redis enforces one
 * limit per client and route.
 *
 * Check-and-count is one Lua script, atomic on the Redis side: a sorted set
 * per key holds the times of the allowed hits (score = microseconds), the
 * script drops the ones out of the window, counts, and adds the new hit only
 * when it is allowed. Sliding log rather than GCRA because it gives exactly
 * "N per window" with the same meaning as the memory store, so a gateway
 * falling back to memory during an outage keeps the same semantics; its
 * O(limit) memory per key is small for the register/login limits. Time comes
 * from Redis (TIME) so gateways with skewed clocks still share one window.
 *
 * hiredis contexts are not thread-safe (docs/library-notes.md, hiredis): a small locked pool
 * lends one to each civetweb worker for one command. Every context has short
 * connect and command timeouts, so no request waits on Redis longer than
 * that. When Redis fails, the store reports TD_EDOWN (the caller falls back to
 * memory), logs once per outage and backs off: until the back-off ends no
 * request tries Redis, then a single request probes it. After a Redis restart
 * the script cache is empty: EVALSHA's NOSCRIPT is answered with EVAL.
 */
#include "ratelimit.h"
#include "td_error.h"
#include "td_log.h"
#include "td_rpc.h"
#include "td_time.h"

#include <hiredis/hiredis.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL_MAX 32
#define CONNECT_TIMEOUT_MS 150
#define COMMAND_TIMEOUT_MS 200
#define POOL_WAIT_MS 100
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

/* KEYS[1] the key; ARGV: limit, window (µs), a unique member for this hit.
 * Returns {allowed, remaining, reset_us, retry_us}. */
static const char SCRIPT[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n"
    "local key = KEYS[1]\n"
    "local limit = tonumber(ARGV[1])\n"
    "local window = tonumber(ARGV[2])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)\n"
    "local count = redis.call('ZCARD', key)\n"
    "local oldest = now\n"
    "if count > 0 then\n"
    "  oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])\n"
    "end\n"
    "if count < limit then\n"
    "  redis.call('ZADD', key, now, ARGV[3])\n"
    "  redis.call('PEXPIRE', key, math.ceil(window / 1000))\n"
    "  return {1, limit - count - 1, oldest + window, 0}\n"
    "end\n"
    "return {0, 0, oldest + window, oldest + window - now}\n";

struct gw_rl_redis {
    char host[256];
    int port;
    int db;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    redisContext *idle[POOL_MAX];
    int nidle;
    int total;               /* contexts in existence, lent or idle */
    char sha[41];            /* the script's SHA1 once loaded, "" before */
    bool outage;             /* under lock: between the first failure and the next success */
    int backoff_ms;          /* under lock */
    atomic_llong down_until_ms; /* monotonic ms; no attempt before it */
    atomic_bool probing;     /* one request at a time probes a Redis in outage */
    atomic_ullong errors;
    atomic_ullong outages;
    atomic_bool up;
};

int gw_rl_redis_new(const char *url, struct gw_rl_redis **out)
{
    const char *prefix = "redis://";
    if (strncmp(url, prefix, strlen(prefix)) != 0)
        return TD_EINVAL;
    const char *h = url + strlen(prefix);
    size_t hlen = strcspn(h, ":/");
    if (hlen == 0 || hlen >= 256)
        return TD_EINVAL;
    long port = 6379, db = 0;
    const char *p = h + hlen;
    char *end;
    if (*p == ':') {
        errno = 0;
        port = strtol(p + 1, &end, 10);
        if (end == p + 1 || errno || port < 1 || port > 65535)
            return TD_EINVAL;
        p = end;
    }
    if (*p == '/' && p[1] != '\0') {
        errno = 0;
        db = strtol(p + 1, &end, 10);
        if (end == p + 1 || errno || db < 0 || db > 65535 || *end != '\0')
            return TD_EINVAL;
        p = end;
    } else if (*p == '/') {
        p++;
    }
    if (*p != '\0')
        return TD_EINVAL;

    struct gw_rl_redis *r = calloc(1, sizeof *r);
    if (r == NULL)
        return TD_ENOMEM;
    memcpy(r->host, h, hlen);
    r->port = (int)port;
    r->db = (int)db;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return TD_ENOMEM;
    }
    if (pthread_cond_init(&r->freed, NULL) != 0) {
        pthread_mutex_destroy(&r->lock);
        free(r);
        return TD_ENOMEM;
    }
    atomic_init(&r->down_until_ms, 0);
    atomic_init(&r->probing, false);
    atomic_init(&r->errors, 0);
    atomic_init(&r->outages, 0);
    atomic_init(&r->up, false);
    *out = r;
    return 0;
}

void gw_rl_redis_free(struct gw_rl_redis **rp)
{
    struct gw_rl_redis *r = *rp;
    if (r == NULL)
        return;
    for (int i = 0; i < r->nidle; i++)
        redisFree(r->idle[i]);
    pthread_cond_destroy(&r->freed);
    pthread_mutex_destroy(&r->lock);
    free(r);
    *rp = NULL;
}

static void note_failure(struct gw_rl_redis *r, const char *what)
{
    atomic_fetch_add(&r->errors, 1);
    atomic_store(&r->up, false);
    redisContext *stale[POOL_MAX];
    int nstale = 0;
    pthread_mutex_lock(&r->lock);
    bool first = !r->outage;
    r->outage = true;
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (r->backoff_ms > BACKOFF_MAX_MS)
        r->backoff_ms = BACKOFF_MAX_MS;
    atomic_store(&r->down_until_ms, td_mono_ms() + r->backoff_ms);
    /* Idle contexts most likely point at the dead server too. */
    for (int i = 0; i < r->nidle; i++)
        stale[nstale++] = r->idle[i];
    r->total -= r->nidle;
    r->nidle = 0;
    pthread_mutex_unlock(&r->lock);
    for (int i = 0; i < nstale; i++)
        redisFree(stale[i]);
    if (first) {
        atomic_fetch_add(&r->outages, 1);
        TD_LOG(TD_LOG_WARN, "ratelimit_redis_down",
               "Redis %s:%d unusable (%s): rate limits fall back to this gateway's memory",
               r->host, r->port, what);
    }
}

static void note_success(struct gw_rl_redis *r)
{
    atomic_store(&r->up, true);
    if (!atomic_load(&r->down_until_ms))
        return; /* the common case: no outage was ever seen, no lock taken */
    pthread_mutex_lock(&r->lock);
    bool was_out = r->outage;
    r->outage = false;
    r->backoff_ms = 0;
    atomic_store(&r->down_until_ms, 0);
    pthread_mutex_unlock(&r->lock);
    if (was_out)
        TD_LOG(TD_LOG_NOTICE, "ratelimit_redis_up", "Redis %s:%d is back: shared rate limits",
               r->host, r->port);
}

/* A fresh context, connected, on the right db, with timeouts; NULL on failure
 * (why in *what). */
static redisContext *connect_one(struct gw_rl_redis *r, const char **what)
{
    struct timeval ct = {0, CONNECT_TIMEOUT_MS * 1000};
    struct timeval cmd = {0, COMMAND_TIMEOUT_MS * 1000};
    redisContext *c = redisConnectWithTimeout(r->host, r->port, ct);
    if (c == NULL) {
        *what = "out of memory";
        return NULL;
    }
    if (c->err || redisSetTimeout(c, cmd) != REDIS_OK) {
        *what = "connect failed";
        redisFree(c);
        return NULL;
    }
    if (r->db != 0) {
        redisReply *rep = redisCommand(c, "SELECT %d", r->db);
        bool ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;
        if (rep)
            freeReplyObject(rep);
        if (!ok) {
            *what = "SELECT failed";
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* Borrows a context: an idle one, a new one while the pool has room, or one
 * freed within POOL_WAIT_MS. *reused tells whether it had served before (and
 * may have gone stale). */
static redisContext *borrow(struct gw_rl_redis *r, bool *reused, bool *exhausted,
                            const char **what)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += POOL_WAIT_MS * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->lock);
    for (;;) {
        if (r->nidle > 0) {
            redisContext *c = r->idle[--r->nidle];
            pthread_mutex_unlock(&r->lock);
            *reused = true;
            return c;
        }
        if (r->total < POOL_MAX) {
            r->total++;
            pthread_mutex_unlock(&r->lock);
            *reused = false;
            redisContext *c = connect_one(r, what);
            if (c == NULL) {
                pthread_mutex_lock(&r->lock);
                r->total--;
                pthread_cond_signal(&r->freed);
                pthread_mutex_unlock(&r->lock);
            }
            return c;
        }
        if (pthread_cond_timedwait(&r->freed, &r->lock, &deadline) != 0) {
            pthread_mutex_unlock(&r->lock);
            *what = "pool exhausted";
            *exhausted = true;
            return NULL;
        }
    }
}

static void give_back(struct gw_rl_redis *r, redisContext *c, bool broken)
{
    pthread_mutex_lock(&r->lock);
    if (broken || r->nidle >= POOL_MAX) {
        r->total--;
    } else {
        r->idle[r->nidle++] = c;
        c = NULL;
    }
    pthread_cond_signal(&r->freed);
    pthread_mutex_unlock(&r->lock);
    if (c)
        redisFree(c);
}

static bool reply_is_noscript(const redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

/* Runs the script on c. 0 with *out filled; TD_EDOWN when the context broke
 * (*broken set) or Redis answered an error. */
static int run_script(struct gw_rl_redis *r, redisContext *c, const char *key,
                      const struct gw_rl_limit *lim, struct gw_rl_result *out, bool *broken,
                      const char **what)
{
    char member[33];
    td_rpc_new_id(member); /* random: a client-chosen id could collapse hits */
    char sha[41];
    pthread_mutex_lock(&r->lock);
    memcpy(sha, r->sha, sizeof sha);
    pthread_mutex_unlock(&r->lock);

    redisReply *rep = NULL;
    if (sha[0])
        rep = redisCommand(c, "EVALSHA %s 1 %s %lld %lld %s", sha, key, (long long)lim->limit,
                           (long long)lim->window_us, member);
    if (sha[0] == '\0' || reply_is_noscript(rep)) {
        if (rep)
            freeReplyObject(rep);
        /* EVAL also caches the script on this server for the next EVALSHA. */
        rep = redisCommand(c, "EVAL %s 1 %s %lld %lld %s", SCRIPT, key, (long long)lim->limit,
                           (long long)lim->window_us, member);
        if (rep && rep->type == REDIS_REPLY_ARRAY && sha[0] == '\0') {
            redisReply *l = redisCommand(c, "SCRIPT LOAD %s", SCRIPT);
            if (l && l->type == REDIS_REPLY_STRING && l->len == 40) {
                pthread_mutex_lock(&r->lock);
                memcpy(r->sha, l->str, 40);
                r->sha[40] = '\0';
                pthread_mutex_unlock(&r->lock);
            }
            if (l)
                freeReplyObject(l);
        }
    }
    if (rep == NULL) {
        *broken = true;
        *what = c->err == REDIS_ERR_IO && (c->errstr[0] == '\0' || strstr(c->errstr, "temporarily"))
                    ? "command timed out"
                    : "connection lost";
        return TD_EDOWN;
    }
    int rc = TD_EDOWN;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 4) {
        bool ints = true;
        for (size_t i = 0; i < 4; i++)
            ints = ints && rep->element[i]->type == REDIS_REPLY_INTEGER;
        if (ints) {
            out->allowed = rep->element[0]->integer == 1;
            out->limit = lim->limit;
            out->remaining = rep->element[1]->integer;
            out->reset_us = rep->element[2]->integer;
            out->retry_us = rep->element[3]->integer;
            rc = 0;
        }
    }
    if (rc != 0)
        *what = rep->type == REDIS_REPLY_ERROR ? "script error" : "unexpected reply";
    freeReplyObject(rep);
    return rc;
}

int gw_rl_redis_hit(struct gw_rl_redis *r, const char *key, const struct gw_rl_limit *lim,
                    struct gw_rl_result *out)
{
    long long until = atomic_load(&r->down_until_ms);
    bool probe = false;
    if (until != 0) {
        if (td_mono_ms() < until)
            return TD_EDOWN;
        bool expected = false;
        if (!atomic_compare_exchange_strong(&r->probing, &expected, true))
            return TD_EDOWN; /* someone else is probing right now */
        probe = true;
    }
    const char *what = "unknown";
    int rc = TD_EDOWN;
    bool exhausted = false;
    /* A reused context may have died with a Redis restart while idle: one
     * retry on a fresh context tells that from a Redis that is really down. */
    for (int attempt = 0; attempt < 2; attempt++) {
        bool reused = false, broken = false;
        redisContext *c = borrow(r, &reused, &exhausted, &what);
        if (c == NULL)
            break;
        rc = run_script(r, c, key, lim, out, &broken, &what);
        give_back(r, c, broken);
        if (rc == 0 || !broken || !reused)
            break;
    }
    if (rc == 0)
        note_success(r);
    else if (!exhausted) /* a busy pool is no Redis outage: this hit just falls back */
        note_failure(r, what);
    if (probe)
        atomic_store(&r->probing, false);
    return rc;
}

void gw_rl_redis_stats(struct gw_rl_redis *r, struct gw_rl_redis_stats *out)
{
    out->errors = atomic_load(&r->errors);
    out->outages = atomic_load(&r->outages);
    out->up = atomic_load(&r->up);
}
