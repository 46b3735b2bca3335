/*
 * test_logic.c — td-auth's pure rules: email normalisation and shape, the
 * password policy, revocation lifetimes, outbox backoff, token issuing.
 */
#include "services/auth/logic.h"
#include "services/auth/outbox.h"
#include "services/auth/tokens.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <jwt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void init(void)
{
    cr_assert_geq(sodium_init(), 0);
}

TestSuite(email, .init = init);

static const char *norm(const char *in, char out[AUTH_EMAIL_MAX + 1])
{
    return auth_email_normalize(in, strlen(in), out);
}

Test(email, trims_and_lower_cases)
{
    char out[AUTH_EMAIL_MAX + 1];
    cr_assert_null(norm("  User.Name+tag@Example.COM\t\n", out));
    cr_assert_str_eq(out, "user.name+tag@example.com");
}

Test(email, refuses_bad_shapes)
{
    const char *bad[] = {"", "   ", "plain", "a@b", "@example.com", "a@", "a@.com", "a@com.",
                         "a@-x.com", "a@x-.com", "a b@example.com", "a@@example.com",
                         "a@b@example.com", ".a@example.com", "a.@example.com",
                         "a..b@example.com", "a@example.c", "a@example.c0m", "a@exa_mple.com",
                         "\"a\"@example.com", "a@example..com", "é@example.com",
                         "a@exämple.com"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[AUTH_EMAIL_MAX + 1] = "untouched";
        cr_expect_not_null(norm(bad[i], out), "accepted '%s'", bad[i]);
        cr_expect_str_eq(out, "untouched");
    }
}

Test(email, accepts_common_shapes)
{
    const char *good[] = {"a@example.com", "first.last@sub.example.co.uk", "x_y-z@a-b.io",
                          "o'neil@example.org", "1@2.xn--p1ai"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char out[AUTH_EMAIL_MAX + 1];
        const char *p = norm(good[i], out);
        cr_expect_null(p, "refused '%s': %s", good[i], p);
    }
}

Test(email, length_limit_is_254_after_trimming)
{
    char in[300], out[AUTH_EMAIL_MAX + 1];
    /* 64-char local part, domain made of 63-char labels, total 254. */
    memset(in, 'a', 64);
    in[64] = '@';
    size_t n = 65;
    while (n < 254 - 4) {
        size_t label = 254 - 4 - n > 63 ? 63 : 254 - 4 - n;
        memset(in + n, 'b', label);
        n += label;
        if (n < 254 - 4)
            in[n++] = '.';
    }
    memcpy(in + n, ".com", 5);
    cr_assert_eq(strlen(in), 254);
    cr_expect_null(norm(in, out), "254 characters refused");
    char padded[310];
    snprintf(padded, sizeof padded, "   %s   ", in);
    cr_expect_null(norm(padded, out), "spaces counted towards the limit");
    in[0] = 'c';
    memmove(in + 1, in, 255);
    in[0] = 'x';
    cr_expect_not_null(norm(in, out), "255 characters accepted");
}

Test(email, input_with_nul_is_refused)
{
    char out[AUTH_EMAIL_MAX + 1];
    cr_expect_not_null(auth_email_normalize("a@example.com\0x", 15, out));
}

TestSuite(password, .init = init);

static unsigned check(const char *pw)
{
    return auth_password_check(pw, strlen(pw));
}

Test(password, each_rule_is_reported)
{
    cr_expect_eq(check("Str0ng!Passw0rd"), 0);
    cr_expect_eq(check("Sh0rt!"), AUTH_PW_TOO_SHORT);
    cr_expect_eq(check("alllower1!"), AUTH_PW_NO_UPPER);
    cr_expect_eq(check("ALLUPPER1!"), AUTH_PW_NO_LOWER);
    cr_expect_eq(check("NoDigits!!"), AUTH_PW_NO_DIGIT);
    cr_expect_eq(check("NoSpecial11"), AUTH_PW_NO_SPECIAL);
    cr_expect_eq(check("No Special11"), AUTH_PW_NO_SPECIAL, "a space is not special");
    cr_expect_eq(check(""), AUTH_PW_TOO_SHORT | AUTH_PW_NO_UPPER | AUTH_PW_NO_LOWER |
                                AUTH_PW_NO_DIGIT | AUTH_PW_NO_SPECIAL);
}

Test(password, length_counts_characters_not_bytes)
{
    /* 8 characters, 11 bytes: é is two bytes, € three. */
    cr_expect_eq(check("Aé1€bcde"), 0);
    char pw[600];
    memset(pw, 'a', 128);
    memcpy(pw, "A1!", 3);
    pw[128] = '\0';
    cr_expect_eq(check(pw), 0);
    pw[128] = 'a';
    pw[129] = '\0';
    cr_expect_eq(check(pw), AUTH_PW_TOO_LONG);
    /* 128 two-byte characters are still 128 characters. */
    strcpy(pw, "Aa1!");
    for (int i = 0; i < 124; i++)
        strcat(pw, "é");
    cr_expect_eq(check(pw), 0);
}

Test(password, bad_utf8_and_controls_are_refused)
{
    cr_expect_eq(auth_password_check("Abc1!\xff" "defg", 10), AUTH_PW_BAD_UTF8);
    cr_expect_eq(auth_password_check("Abc1!\xc0\xaf" "defg", 11), AUTH_PW_BAD_UTF8, "overlong");
    cr_expect_eq(auth_password_check("Abc1!\xed\xa0\x80" "defg", 12), AUTH_PW_BAD_UTF8,
                 "surrogate");
    cr_expect_eq(auth_password_check("Abc1!\0defg", 10), AUTH_PW_BAD_UTF8, "NUL");
    cr_expect_eq(check("Abc1!\tdefg"), AUTH_PW_BAD_UTF8, "tab");
    cr_expect_eq(auth_password_check("Abc1!\xe2\x82", 7), AUTH_PW_BAD_UTF8, "truncated");
}

Test(password, every_problem_has_a_message)
{
    for (unsigned bit = 1; bit <= AUTH_PW_NO_SPECIAL; bit <<= 1)
        cr_expect_str_neq(auth_password_problem_message(bit), "Invalid password.");
}

TestSuite(lifetimes);

Test(lifetimes, revocations_outlive_the_largest_leeway)
{
    cr_expect_gt(auth_revocation_keep_until(1000), 1000 + AUTH_MAX_LEEWAY_S);
}

Test(lifetimes, outbox_backoff_doubles_and_caps)
{
    cr_expect_eq(auth_outbox_backoff_s(1), 1);
    cr_expect_eq(auth_outbox_backoff_s(2), 2);
    cr_expect_eq(auth_outbox_backoff_s(5), 16);
    cr_expect_eq(auth_outbox_backoff_s(40), 300);
    cr_expect_eq(auth_outbox_backoff_s(1000000), 300);
}

TestSuite(tokens, .init = init);

#define SECRET "unit-test-secret-0123456789abcdefghijkl"

Test(tokens, claims_are_those_of_api_md)
{
    struct auth_claims c = {.user_id = 42, .type = AUTH_TOKEN_ACCESS,
                            .iat_us = 1700000000123456LL, .ttl = 900, .fresh = true};
    char *tok = NULL;
    TD_ASSERT_OK(auth_token_issue(SECRET, &c, &tok));
    cr_assert_eq(strlen(c.jti), AUTH_ID_LEN);
    jwt_t *jwt = NULL;
    cr_assert_eq(jwt_decode(&jwt, tok, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
    cr_expect_eq(jwt_get_alg(jwt), JWT_ALG_HS256);
    cr_expect_str_eq(jwt_get_grant(jwt, "sub"), "42");
    cr_expect_str_eq(jwt_get_grant(jwt, "type"), "access");
    cr_expect_str_eq(jwt_get_grant(jwt, "jti"), c.jti);
    cr_expect_eq(jwt_get_grant_int(jwt, "iat"), 1700000000);
    cr_expect_eq(jwt_get_grant_int(jwt, "nbf"), 1700000000);
    cr_expect_eq(jwt_get_grant_int(jwt, "exp"), 1700000900);
    cr_expect_eq(jwt_get_grant_int(jwt, "iat_us"), 1700000000123456LL);
    cr_expect_eq(jwt_get_grant_bool(jwt, "fresh"), 1);
    jwt_free(jwt);
    free(tok);
}

Test(tokens, refresh_tokens_carry_their_family_and_ids_are_unique)
{
    struct auth_claims c = {.user_id = 7, .type = AUTH_TOKEN_REFRESH, .iat_us = 1000000,
                            .ttl = 604800};
    auth_random_id(c.family);
    char *a = NULL, *b = NULL;
    TD_ASSERT_OK(auth_token_issue(SECRET, &c, &a));
    char first[AUTH_ID_LEN + 1];
    memcpy(first, c.jti, sizeof first);
    TD_ASSERT_OK(auth_token_issue(SECRET, &c, &b));
    cr_expect_str_neq(first, c.jti);
    jwt_t *jwt = NULL;
    cr_assert_eq(jwt_decode(&jwt, b, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
    cr_expect_str_eq(jwt_get_grant(jwt, "fam"), c.family);
    cr_expect_str_eq(jwt_get_grant(jwt, "type"), "refresh");
    cr_expect_null(jwt_get_grant(jwt, "fresh"));
    jwt_free(jwt);
    free(a);
    free(b);
}
