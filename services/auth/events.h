/*
 * events.h — td-auth's revocation feed: an nng pub0 socket on
 * AUTH_EVENTS_URL to which every gateway subscribes, so a revoked token is
 * refused everywhere without an RPC per request.
 *
 * Each message is one msgpack map:
 *   {"v": 1, "kind": "jti",  "jti": str, "exp": int}
 *   {"v": 1, "kind": "user", "uid": int, "cutoff_us": int, "until": int}
 * Events are published after the change committed. pub/sub may drop
 * messages (a gateway that is disconnected hears nothing), so gateways also
 * pull the whole current set with auth.revocations whenever they (re)connect.
 */
#ifndef AUTH_EVENTS_H
#define AUTH_EVENTS_H

#include <stdint.h>

struct auth_events;

/* Listens on `url`. Returns 0 and *out, TD_EDOWN (cannot listen) or TD_ENOMEM. */
int auth_events_open(const char *url, struct auth_events **out);

/* Closes and frees; NULLs *ev (no-op on NULL). */
void auth_events_close(struct auth_events **ev);

/* Publishes one revocation; best effort (a failure is logged, never fatal:
 * gateways re-sync). `ev` may be NULL (tests, --migrate-only). */
void auth_events_publish_jti(struct auth_events *ev, const char *jti, int64_t exp);
void auth_events_publish_user(struct auth_events *ev, int64_t uid, int64_t cutoff_us,
                              int64_t until);

#endif
