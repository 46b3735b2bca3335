/*
 * logic.h — td-auth's pure rules: what an acceptable email and password are,
 * and how long a revocation must be remembered. No I/O, no state: everything
 * here is unit-tested on its own (tests/unit/auth/test_logic.c).
 */
#ifndef AUTH_LOGIC_H
#define AUTH_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_EMAIL_MAX 254   /* characters, after trimming (RFC 5321's path limit) */
#define AUTH_PASSWORD_MIN 8  /* characters (code points) */
#define AUTH_PASSWORD_MAX 128

/* The largest gateway leeway (JWT_LEEWAY's upper bound): a token stays
 * acceptable this long after its exp, so its revocation must outlive it. */
#define AUTH_MAX_LEEWAY_S 300

/* The latest exp a token (and so a revocation) may carry: 9999-12-31T23:59:59Z.
 * auth_revocation_keep_until adds to it without overflowing. */
#define AUTH_EXP_MAX INT64_C(253402300799)

/* The problem auth_email_normalize returns for an over-long email (compare
 * the pointer): the one shape problem login reports rather than ignores. */
extern const char auth_email_too_long[];

/* Normalises an email: trims ASCII whitespace, lower-cases ASCII, then checks
 * the length and the local@domain.tld shape. On success writes the result
 * (NUL-terminated) to out, which must hold AUTH_EMAIL_MAX + 1 bytes, and
 * returns NULL; on failure returns a static message for the client and leaves
 * out untouched. `in` need not be NUL-terminated and may hold anything. */
const char *auth_email_normalize(const char *in, size_t len, char out[AUTH_EMAIL_MAX + 1]);

/* Bit set of the password rules a candidate breaks. */
enum auth_pw_problem {
    AUTH_PW_BAD_UTF8 = 1u << 0,  /* not valid UTF-8, or holds a control character */
    AUTH_PW_TOO_SHORT = 1u << 1,
    AUTH_PW_TOO_LONG = 1u << 2,
    AUTH_PW_NO_UPPER = 1u << 3,
    AUTH_PW_NO_LOWER = 1u << 4,
    AUTH_PW_NO_DIGIT = 1u << 5,
    AUTH_PW_NO_SPECIAL = 1u << 6,
};

/* Checks a new password against the contract's policy (gateway/docs/openapi.json): 8-128 characters (code
 * points), at least one ASCII upper-case letter, one lower-case letter, one
 * digit and one special character (any other printable character, non-ASCII
 * ones included; a space is not special). Returns 0 when acceptable, else the
 * OR of every problem found. */
unsigned auth_password_check(const char *pw, size_t len);

/* The client-facing message of one problem bit (static storage). */
const char *auth_password_problem_message(unsigned bit);

/* Number of code points of valid UTF-8 without control characters, or -1. */
long auth_utf8_chars(const char *s, size_t len);

/* Until when (Unix seconds) a revocation of a token expiring at `exp` must be
 * kept: past exp plus the largest leeway any gateway may grant. */
int64_t auth_revocation_keep_until(int64_t exp);

#endif
