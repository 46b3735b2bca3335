/*
 * revocations.h — the gateway's in-memory copy of td-auth's revocations, so
 * a revoked token is refused without an RPC per request.
 *
 * Two kinds of entry: a revoked token id (until its exp + leeway) and a
 * per-user cut-off (tokens of user U issued before T microseconds are
 * revoked; after a password change or account deletion). They arrive three
 * ways:
 *   - td-auth's feed (nng sub0 dialled to AUTH_EVENTS_URL, events.h there),
 *     within milliseconds of the change. Each td-auth replica publishes
 *     only what it revoked itself, so AUTH_EVENTS_URL lists every replica's
 *     feed (comma-separated, like AUTH_RPC_URL) and the one sub socket
 *     dials them all;
 *   - a full pull with auth.revocations at start, whenever one of the
 *     feed's connections is (re)established (pub/sub drops what is sent
 *     while disconnected), one second after that (the publisher may attach
 *     the new connection a moment after we see it) and every 30 s as a
 *     safety net. The replicas share one database, so any replica's answer
 *     is the whole set. Until the pull that follows a (re)connection has
 *     succeeded, token checks wait for it (gw_revocations_wait_synced);
 *   - the gateway's own logout/password/deletion replies, applied at once so
 *     the very next request through this gateway sees them.
 * Entries are only ever added (a revocation is permanent) and pruned once
 * they can no longer matter. Lookups take a read lock.
 */
#ifndef GW_REVOCATIONS_H
#define GW_REVOCATIONS_H

#include "td_rpc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_revocations;

/* Creates the set. With `events_url` and `auth` it subscribes to the feed and
 * starts syncing in the background; with NULL for both it is a plain set,
 * considered synced (tests). `leeway` is the gateway's JWT_LEEWAY. Returns 0
 * and *out, or TD_ENOMEM / TD_EINVAL (bad URL). */
int gw_revocations_new(const char *events_url, struct td_rpc_client *auth, long long leeway,
                       struct gw_revocations **out);

/* Stops the threads, frees; NULLs *r (no-op on NULL). */
void gw_revocations_free(struct gw_revocations **r);

/* true when the token `jti` of user `uid`, issued at iat_us, is revoked. */
bool gw_revocations_revoked(struct gw_revocations *r, const char *jti, int64_t uid,
                            int64_t iat_us);

void gw_revocations_add_jti(struct gw_revocations *r, const char *jti, int64_t exp);
void gw_revocations_add_user(struct gw_revocations *r, int64_t uid, int64_t cutoff_us,
                             int64_t until);

/* Applies one feed message (msgpack, events.h of td-auth). 0 or TD_EPROTO. */
int gw_revocations_apply_event(struct gw_revocations *r, const char *data, size_t len);

/* Waits up to timeout_ms for the first full sync, and for the pull that
 * follows a feed connection made since the last one. true when the first
 * sync is done (a late catch-up pull is logged and waited out once per
 * connection, not refused: the set held is served). */
bool gw_revocations_wait_synced(struct gw_revocations *r, int timeout_ms);

/* Drops entries that no longer matter at now_s; returns how many remain. */
size_t gw_revocations_prune(struct gw_revocations *r, int64_t now_s);

#endif
