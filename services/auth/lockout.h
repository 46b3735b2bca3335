/*
 * lockout.h — failed re-authentications per account (PUT /auth/password,
 * DELETE /auth/me).
 *
 * Those routes answer "wrong password" to whoever holds an access token, and
 * The HTTP contract (gateway/docs/openapi.json) leaves them outside the IP rate limits. Without a bound, a stolen
 * 15-minute token would be a password-guessing oracle that outlives it. So
 * after AUTH_LOCKOUT_FAILURES wrong passwords within AUTH_LOCKOUT_WINDOW_S,
 * re-authentication for that account is refused, unchecked, for
 * AUTH_LOCKOUT_S. Login is not affected (it has its own rate limit, and a
 * lockout there would let anyone lock anyone out).
 *
 * The table is in memory (td-auth is a single writer) and bounded: a slot per
 * uid hash, a colliding account takes the slot over.
 */
#ifndef AUTH_LOCKOUT_H
#define AUTH_LOCKOUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define AUTH_LOCKOUT_FAILURES 5
#define AUTH_LOCKOUT_WINDOW_S 900
#define AUTH_LOCKOUT_S 900
#define AUTH_LOCKOUT_SLOTS 4096

struct auth_lockout {
    pthread_mutex_t lock;
    struct {
        int64_t uid;
        int64_t window_start;
        int64_t locked_until;
        int failures;
    } slots[AUTH_LOCKOUT_SLOTS];
};

void auth_lockout_init(struct auth_lockout *l);
void auth_lockout_destroy(struct auth_lockout *l);

/* True while `uid` is locked out at now_s. */
bool auth_lockout_blocked(struct auth_lockout *l, int64_t uid, int64_t now_s);

/* Records a wrong password; the AUTH_LOCKOUT_FAILURES-th in a window locks. */
void auth_lockout_failed(struct auth_lockout *l, int64_t uid, int64_t now_s);

/* A right password clears the account's count. */
void auth_lockout_succeeded(struct auth_lockout *l, int64_t uid);

#endif
