/*
 * test_auth_expiry.c — real token expiry with short lifetimes
 * (JWT_ACCESS_TTL=1, JWT_REFRESH_TTL=2, JWT_LEEWAY=0), through the gateway.
 */
#include "auth_helpers.h"

#include <unistd.h>

static struct th_stack stack;

static void teardown(void)
{
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
}

static void setup_short(void)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    struct th_options o = {.env = {"JWT_ACCESS_TTL=1", "JWT_REFRESH_TTL=2", "JWT_LEEWAY=0",
                                   NULL}};
    cr_assert_eq(th_stack_start(&stack, &o), 0, "stack did not start");
}

TestSuite(short_ttl, .init = setup_short, .fini = teardown, .timeout = 60);

Test(short_ttl, tokens_expire_after_their_lifetime)
{
    register_user(&stack, "ttl@example.com", GOOD_PASSWORD);
    struct tokens t;
    struct th_response r;
    req(&stack, "POST", "/auth/login", NULL,
        "{\"email\":\"ttl@example.com\",\"password\":\"" GOOD_PASSWORD "\"}", &r);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "expires_in")), 1);
    tokens_from(&r, &t, "login");
    json_t *c = token_claims(t.refresh);
    cr_assert_eq(json_integer_value(json_object_get(c, "exp")) -
                     json_integer_value(json_object_get(c, "iat")),
                 2);
    json_decref(c);

    usleep(2100000);
    req(&stack, "GET", "/auth/me", t.access, NULL, &r);
    expect_error(&r, 401, "token_expired", "access token past its lifetime");
    usleep(1000000);
    req(&stack, "POST", "/auth/refresh", t.refresh, NULL, &r);
    expect_error(&r, 401, "token_expired", "refresh token past its lifetime");
}
