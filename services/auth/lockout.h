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
 * The counts live in the store (auth_store_lockout_*, table reauth_lockout),
 * so every td-auth replica sharing a PostgreSQL database sees the same
 * count; they were a per-process table before, which N replicas would have
 * multiplied by N.
 */
#ifndef AUTH_LOCKOUT_H
#define AUTH_LOCKOUT_H

#define AUTH_LOCKOUT_FAILURES 5
#define AUTH_LOCKOUT_WINDOW_S 900
#define AUTH_LOCKOUT_S 900

#endif
