/*
 * test_auth_lockout.c — PUT /auth/password and DELETE /auth/me are no
 * password-guessing oracle for someone holding a stolen access token: after
 * five wrong passwords the account refuses re-authentication, even with the
 * right password, and nothing changes.
 */
#include "auth_helpers.h"
#include "suite.h"

TH_STACK_SUITE(auth_lockout, 60);

Test(auth_lockout, wrong_passwords_lock_reauthentication)
{
    register_user(&stack, "locked@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&stack, "locked@example.com", GOOD_PASSWORD, &t);
    struct th_response r;
    for (int i = 0; i < 5; i++) {
        req(&stack, "PUT", "/auth/password", t.access,
            "{\"current_password\": \"Wr0ng!Guess\", \"new_password\": \"N3w!Password\"}", &r);
        expect_error(&r, 401, "invalid_credentials", "wrong current password");
    }
    /* The right password is refused now too: guessing learns nothing. */
    req(&stack, "DELETE", "/auth/me", t.access, "{\"password\": \"" GOOD_PASSWORD "\"}", &r);
    expect_error(&r, 401, "invalid_credentials", "right password while locked");
    req(&stack, "GET", "/auth/me", t.access, NULL, &r);
    cr_assert_eq(r.status, 200, "the account is still there: %s", r.body);
    th_response_free(&r);
    /* Login is not locked (its own rate limit guards it). */
    login(&stack, "locked@example.com", GOOD_PASSWORD, &t);
}
