/*
 * test_edge_ipv6.c — IPv6 clients are rate limited per /64, not per
 * address (issue 13): one subscriber holds a whole /64 and can pick a fresh
 * address for every request. civetweb listens on IPv4 only here, so IPv6
 * clients arrive through a trusted proxy's X-Forwarded-For, as behind the
 * nginx of docs/operations.md.
 */
#include "edge_http.h"
#include "suite.h"

#include <criterion/criterion.h>

TH_STACK_SUITE(edge_ipv6, 60, .env = {"RATELIMIT_ENABLED=true", "TRUSTED_PROXIES=127.0.0.1"});

static const char bad_login[] = "{\"email\":\"nobody@example.com\",\"password\":\"Wrong-pass1\"}";

static long login_as(const char *client)
{
    char url[128], xff[96];
    snprintf(url, sizeof url, "%s/auth/login", stack.base_url);
    snprintf(xff, sizeof xff, "X-Forwarded-For: %s", client);
    const char *h[] = {"Content-Type: application/json", xff, NULL};
    return edge_status(url, "127.0.0.1", "POST", h, bad_login);
}

Test(edge_ipv6, addresses_of_one_slash_64_share_one_budget)
{
    /* RATELIMIT_LOGIN is 5 per 15 minutes: five different addresses of
     * 2001:db8:1:2::/64 use it up... */
    const char *same[] = {"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:aaaa::3",
                          "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2:1:2:3:4"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        cr_assert_eq(login_as(same[i]), 401, "attempt %zu from %s", i + 1, same[i]);
    /* ...and a sixth one, never seen before, is refused. */
    cr_assert_eq(login_as("2001:db8:1:2:dead:beef::6"), 429);
    /* The next /64 has its own budget; so does an IPv4 client. */
    cr_assert_eq(login_as("2001:db8:1:3::1"), 401);
    cr_assert_eq(login_as("203.0.113.7"), 401);
    /* An IPv4-mapped address counts as the IPv4 address it carries. */
    for (int i = 0; i < 4; i++)
        cr_assert_eq(login_as("::ffff:203.0.113.7"), 401, "mapped attempt %d", i + 1);
    cr_assert_eq(login_as("203.0.113.7"), 429);
}
