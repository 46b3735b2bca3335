/*
 * tokens.h — access tokens signed by the test itself (HS256 with
 * TH_JWT_SECRET, the secret every test stack runs with), so integration tests
 * of authenticated routes need no td-auth round trip.
 */
#ifndef TD_HARNESS_TOKENS_H
#define TD_HARNESS_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A token like td-auth's access tokens: sub = user id as a string, type
 * "access", iat/nbf now, iat_us (the same instant in µs), exp now + ttl_s,
 * a random 128-bit jti, fresh true (a refresh token gets fam instead).
 * Returns a new string (free()), or NULL. */
char *th_token_access(int64_t user_id, long ttl_s);

/* The same with a chosen `type` claim ("access", "refresh"). */
char *th_token_new(int64_t user_id, const char *type, long ttl_s);

/* Writes "Authorization: Bearer <token>" into buf for th_http's header list.
 * Returns buf, or NULL when it does not fit. */
char *th_bearer_header(const char *token, char *buf, size_t size);

#endif
