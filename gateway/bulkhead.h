/*
 * bulkhead.h — caps on the gateway's RPC calls, so one daemon that stops
 * answering cannot hold every civetweb worker, and a burst of password
 * checks waits its turn instead of being shed by td-auth.
 *
 * - Per daemon (auth, diary, sentiment): at most GATEWAY_UPSTREAM_MAX_INFLIGHT
 *   calls in flight; one more is refused at once (503 with Retry-After), so a
 *   stopped daemon ties up that many workers for its RPC timeout and no more:
 *   the other daemons' routes and the system routes keep theirs.
 * - Password checks (register, login, password change, account deletion:
 *   td-auth hashes with argon2id for each): at most GATEWAY_PWHASH_CONCURRENCY
 *   in flight, the rest wait in a FIFO queue here. An attempt is queued when
 *   its expected wait (its place in the queue times the measured duration of
 *   a check, over the concurrency) is within GATEWAY_PWHASH_QUEUE_MS, and
 *   shed at once with 503 and a Retry-After of that expected wait otherwise.
 *   Waiting and in-flight checks together stay within the auth cap above.
 *   td-auth bounds its own hashing too (PWHASH_CONCURRENCY, a short queue);
 *   with the gateway's concurrency at most td-auth's, td-auth never has to
 *   shed what the gateway sends.
 */
#ifndef GW_BULKHEAD_H
#define GW_BULKHEAD_H

#include "config.h"

#include <stdbool.h>
#include <stdint.h>

enum gw_upstream { GW_UP_AUTH = 0, GW_UP_DIARY, GW_UP_SENTIMENT, GW_UP_COUNT };

struct gw_bulkhead;

/* 0 or TD_ENOMEM; *out written on success only. */
int gw_bulkhead_new(const struct gw_config *cfg, struct gw_bulkhead **out);

/* Accepts NULL; sets *b to NULL. No call may be in flight. */
void gw_bulkhead_free(struct gw_bulkhead **b);

/* One admitted call; filled by gw_bulkhead_enter, given back to
 * gw_bulkhead_leave. */
struct gw_bulkhead_ticket {
    enum gw_upstream up;
    bool pwhash;
    int64_t started_us; /* monotonic, when the call was admitted; 0: none */
};

/* Admits one call to `up` (a password check when `pwhash`; it may wait in
 * the queue first). Returns 0 with *t filled, or TD_EDOWN when refused, with
 * *retry_after_s (at least 1) for the client. A NULL bulkhead admits all. */
int gw_bulkhead_enter(struct gw_bulkhead *b, enum gw_upstream up, bool pwhash,
                      struct gw_bulkhead_ticket *t, int *retry_after_s);

/* Ends the call admitted as *t; `rc` is td_rpc_call's result (a timeout or
 * "down" is remembered for gw_bulkhead_unresponsive). */
void gw_bulkhead_leave(struct gw_bulkhead *b, const struct gw_bulkhead_ticket *t, int rc);

/* Records the result of a call made outside the caps (/ready's ping). */
void gw_bulkhead_note(struct gw_bulkhead *b, enum gw_upstream up, int rc);

/* For /ready: true when `up` is known not to be answering, so a ping would
 * only wait: every slot is taken, or the last call ended in a timeout or
 * "down" less than `stall_ms` ago with none answered since. */
bool gw_bulkhead_unresponsive(struct gw_bulkhead *b, enum gw_upstream up, int stall_ms);

/* ---- /metrics ------------------------------------------------------------ */

struct gw_bulkhead_stats {
    unsigned in_flight[GW_UP_COUNT];
    uint64_t shed[GW_UP_COUNT]; /* refused: the daemon's cap was full */
    unsigned pwhash_waiting;
    uint64_t pwhash_shed;       /* refused: the expected wait was too long */
    double pwhash_seconds;      /* the measured duration of one check */
};

/* Zeroes *out when b is NULL. */
void gw_bulkhead_stats(struct gw_bulkhead *b, struct gw_bulkhead_stats *out);

/* ---- parts, for tests ---------------------------------------------------- */

/* The expected wait, in microseconds, of an attempt that finds `waiting`
 * attempts queued ahead of it and `in_flight` of `concurrency` slots taken,
 * when one check takes `check_us`: whole rounds of `concurrency` checks
 * ahead of it, and the round it joins. 0 when a slot is free and nobody
 * waits. */
int64_t gw_bulkhead_expected_wait(unsigned waiting, unsigned in_flight, unsigned concurrency,
                                  int64_t check_us);

#endif
