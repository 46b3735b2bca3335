/*
 * ratelimit.h — the parts of the rate limiter below gw_ratelimit_refuse
 * (edge.h): the limit syntax, and the two stores that count hits.
 *
 * Both stores implement the same algorithm, a sliding-window log: a key keeps
 * the times of the hits it was allowed in the last window, and a hit is
 * allowed while fewer than `limit` remain. This gives the contract's exact "N per
 * window" semantics (no burst of 2N across a fixed-window boundary), and a
 * refused hit is never recorded, so a 429 has no effect. The cost is O(limit)
 * memory per key, which is why a limit is capped at GW_RL_MAX_LIMIT: these
 * limits guard expensive, abuse-prone routes (register, login), not bulk
 * traffic. Keeping one algorithm in both stores means a gateway that falls
 * back from Redis to memory keeps exactly the same meaning of a limit.
 */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_RL_MAX_LIMIT 10000
#define GW_RL_MAX_WINDOW_S (366LL * 86400)
#define GW_RL_KEY_MAX 96

struct gw_rl_limit {
    int64_t limit;     /* hits allowed per window */
    int64_t window_us; /* window length */
};

/* The verdict on one hit. */
struct gw_rl_result {
    bool allowed;
    int64_t limit;
    int64_t remaining; /* hits left in the window after this one */
    int64_t reset_us;  /* when the oldest counted hit leaves the window (a slot frees) */
    int64_t retry_us;  /* refused: how long until a hit would be allowed */
};

/* Parses "N/unit" or "N/Munits" (unit: second, minute, hour, day, singular or
 * plural; "3/hour", "5/15minutes"). 0 or TD_EINVAL; *out written on success. */
int gw_rl_parse(const char *spec, struct gw_rl_limit *out);

/* ---- memory store (ratelimit_memory.c) ---------------------------------
 * Thread-safe through striped locks (a key's stripe is chosen by its hash),
 * bounded (at most max_keys keys; when full, expired keys go first, then the
 * least recently used), and expiring (a key whose hits all left the window
 * is reclaimed). */
struct gw_rl_mem;

/* 0 or TD_ENOMEM. Keys are hashed with a fresh random key (libsodium:
 * sodium_init() must have run). */
int gw_rl_mem_new(size_t max_keys, struct gw_rl_mem **out);
void gw_rl_mem_free(struct gw_rl_mem **m);

/* Counts one hit of `key` at `now_us` against `lim`, or refuses it. When
 * `force` is set the hit is recorded even over the limit (used to mirror hits
 * that Redis allowed, so a fallback starts from this gateway's real count);
 * the oldest hit is dropped then. */
void gw_rl_mem_hit(struct gw_rl_mem *m, const char *key, const struct gw_rl_limit *lim,
                   int64_t now_us, bool force, struct gw_rl_result *out);

/* Number of keys held (for tests and metrics). */
size_t gw_rl_mem_size(struct gw_rl_mem *m);

/* ---- Redis store (ratelimit_redis.c) ------------------------------------ */
struct gw_rl_redis;

/* Parses "redis://host:port/db" (port default 6379, db default 0) and
 * prepares a connection pool; no connection is made yet. 0 or TD_EINVAL. */
int gw_rl_redis_new(const char *url, struct gw_rl_redis **out);
void gw_rl_redis_free(struct gw_rl_redis **r);

/* Counts one hit in Redis with one atomic script. 0 with *out filled, or
 * TD_EDOWN when Redis cannot be used now (down, backing off, slow, pool
 * exhausted): the caller falls back to memory. Never blocks longer than the
 * connect/command timeouts. */
int gw_rl_redis_hit(struct gw_rl_redis *r, const char *key, const struct gw_rl_limit *lim,
                    struct gw_rl_result *out);

/* Counters for /metrics. */
struct gw_rl_redis_stats {
    uint64_t errors;   /* failed connects and commands */
    uint64_t outages;  /* transitions from usable to unreachable */
    bool up;           /* last attempt succeeded */
};
void gw_rl_redis_stats(struct gw_rl_redis *r, struct gw_rl_redis_stats *out);

/* ---- the limiter as a whole (ratelimit.c), for /metrics ----------------- *
 * It counts its own decisions; metrics.c reads them here. */
struct gw_ratelimit;
struct gw_ratelimit_stats {
    bool enabled;
    bool redis;             /* RATELIMIT_STORAGE is Redis */
    bool redis_up;          /* the last Redis attempt succeeded */
    uint64_t redis_errors;  /* failed Redis connects and commands */
    uint64_t redis_outages; /* times Redis became unusable */
    uint64_t fallbacks;     /* hits counted in memory because Redis was unusable */
    size_t memory_keys;     /* keys held by the memory store */
    uint64_t rejected_register; /* requests refused with 429 by RATELIMIT_REGISTER */
    uint64_t rejected_login;    /* and by RATELIMIT_LOGIN */
};
void gw_ratelimit_stats(struct gw_ratelimit *r, struct gw_ratelimit_stats *out);

#endif
