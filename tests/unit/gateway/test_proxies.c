/*
 * test_proxies.c — who the client is: the socket peer, or the right-most
 * untrusted forwarded address when (and only when) the peer is trusted.
 */
#include "gateway/edge.h"
#include "td_error.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct gw_config cfg;
static struct gw_app app;
static struct mg_request_info ri;
static struct gw_request req;

static void use_proxies(const char *list)
{
    gw_proxies_free(&app.proxies);
    cfg.trusted_proxies = (char *)list;
    TD_ASSERT_OK(gw_proxies_new(&cfg, &app.proxies), "'%s' refused", list);
}

static void request_from(const char *peer)
{
    memset(&ri, 0, sizeof ri);
    memset(&req, 0, sizeof req);
    ri.request_method = "GET";
    snprintf(ri.remote_addr, sizeof ri.remote_addr, "%s", peer);
    req.ri = &ri;
    req.app = &app;
}

static void with_header(const char *name, const char *value)
{
    ri.http_headers[ri.num_headers].name = name;
    ri.http_headers[ri.num_headers].value = value;
    ri.num_headers++;
}

static void teardown(void)
{
    gw_proxies_free(&app.proxies);
}
TestSuite(proxies, .fini = teardown);

Test(proxies, untrusted_peer_is_the_client_whatever_it_claims)
{
    use_proxies("10.0.0.1");
    request_from("127.0.0.2");
    with_header("X-Forwarded-For", "1.1.1.1");
    with_header("Forwarded", "for=2.2.2.2;proto=https");
    with_header("X-Real-IP", "3.3.3.3");
    with_header("X-Forwarded-Proto", "https");
    gw_proxies_identify(&req);
    cr_assert_str_eq(req.client_ip, "127.0.0.2");
    cr_assert_not(req.over_tls);
}

Test(proxies, no_trusted_proxies_means_peer_always)
{
    use_proxies("");
    request_from("127.0.0.1");
    with_header("X-Forwarded-For", "1.1.1.1");
    gw_proxies_identify(&req);
    cr_assert_str_eq(req.client_ip, "127.0.0.1");
}

Test(proxies, trusted_peer_gives_right_most_untrusted_address)
{
    use_proxies("127.0.0.1, 10.0.0.0/8");
    request_from("127.0.0.1");
    /* The client spoofed 6.6.6.6; nginx appended the real 203.0.113.7; an
     * inner proxy 10.1.2.3 appended itself. */
    with_header("X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.1.2.3");
    gw_proxies_identify(&req);
    cr_assert_str_eq(req.client_ip, "203.0.113.7");
}

Test(proxies, repeated_headers_form_one_list)
{
    use_proxies("127.0.0.1");
    request_from("127.0.0.1");
    with_header("X-Forwarded-For", "6.6.6.6");
    with_header("X-Forwarded-For", "198.51.100.4");
    gw_proxies_identify(&req);
    cr_assert_str_eq(req.client_ip, "198.51.100.4");
}

Test(proxies, garbage_stops_the_walk)
{
    use_proxies("127.0.0.1");
    request_from("127.0.0.1");
    with_header("X-Forwarded-For", "1.2.3.4, not-an-ip");
    gw_proxies_identify(&req);
    cr_assert_str_eq(req.client_ip, "127.0.0.1", "got %s", req.client_ip);
}

Test(proxies, all_trusted_chain_gives_the_left_most)
{
    use_proxies("127.0.0.1,10.0.0.0/8");
    request_from("127.0.0.1");
    with_header("X-Forwarded-For", "10.0.0.5, 10.0.0.6");
    gw_proxies_identify(&req);
    cr_assert_str_eq(req.client_ip, "10.0.0.5");
}

Test(proxies, ports_and_ipv6_forms_are_normalised)
{
    use_proxies("127.0.0.1");
    request_from("127.0.0.1");
    with_header("X-Forwarded-For", "203.0.113.9:5555");
    gw_proxies_identify(&req);
    cr_assert_str_eq(req.client_ip, "203.0.113.9");

    request_from("127.0.0.1");
    with_header("X-Forwarded-For", "[2001:DB8::1]:443");
    gw_proxies_identify(&req);
    cr_assert_str_eq(req.client_ip, "2001:db8::1");

    request_from("127.0.0.1");
    with_header("X-Forwarded-For", "::ffff:198.51.100.1");
    gw_proxies_identify(&req);
    cr_assert_str_eq(req.client_ip, "198.51.100.1");
}

Test(proxies, forwarded_and_x_real_ip_are_honoured_in_order)
{
    use_proxies("127.0.0.1");
    request_from("127.0.0.1");
    with_header("Forwarded", "for=6.6.6.6, for=\"[2001:db8::7]:80\";proto=https");
    with_header("X-Real-IP", "9.9.9.9");
    gw_proxies_identify(&req);
    cr_assert_str_eq(req.client_ip, "2001:db8::7");
    cr_assert(req.over_tls);

    request_from("127.0.0.1");
    with_header("X-Real-IP", "192.0.2.44");
    gw_proxies_identify(&req);
    cr_assert_str_eq(req.client_ip, "192.0.2.44");

    request_from("127.0.0.1");
    with_header("X-Forwarded-For", "192.0.2.1");
    with_header("X-Real-IP", "192.0.2.2");
    gw_proxies_identify(&req);
    cr_assert_str_eq(req.client_ip, "192.0.2.1", "X-Forwarded-For wins");
}

Test(proxies, https_only_from_a_trusted_peer)
{
    use_proxies("127.0.0.0/8");
    request_from("127.0.0.9");
    with_header("X-Forwarded-Proto", "https");
    gw_proxies_identify(&req);
    cr_assert(req.over_tls);

    request_from("127.0.0.9");
    with_header("X-Forwarded-Proto", "http");
    gw_proxies_identify(&req);
    cr_assert_not(req.over_tls);

    use_proxies("10.0.0.1");
    request_from("127.0.0.9");
    with_header("X-Forwarded-Proto", "https");
    gw_proxies_identify(&req);
    cr_assert_not(req.over_tls);
}

Test(proxies, bad_configuration_is_refused)
{
    const char *bad[] = {"localhost", "127.0.0.1/33", "10.0.0.0/", "1.2.3.4/x", "::1/129",
                         "1.2.3", "127.0.0.1,,nope"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gw_proxies *p = NULL;
        cfg.trusted_proxies = (char *)bad[i];
        cr_expect_eq(gw_proxies_new(&cfg, &p), TD_ECONFIG, "'%s' accepted", bad[i]);
        cr_expect_null(p);
    }
}
