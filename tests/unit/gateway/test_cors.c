/*
 * test_cors.c — CORS_ORIGINS validation and the headers queued for simple
 * (non-preflight) requests. Preflights answer on the wire: see
 * tests/integration/test_edge.c (edge_cors).
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

static void setup_origins(const char *list)
{
    gw_cors_free(&app.cors);
    cfg.cors_origins = (char *)list;
    TD_ASSERT_OK(gw_cors_new(&cfg, &app.cors));
    memset(&ri, 0, sizeof ri);
    memset(&req, 0, sizeof req);
    ri.request_method = "GET";
    req.ri = &ri;
    req.app = &app;
    req.path = "/health";
}

static void with_header(const char *name, const char *value)
{
    ri.http_headers[ri.num_headers].name = name;
    ri.http_headers[ri.num_headers].value = value;
    ri.num_headers++;
}

static void teardown(void)
{
    gw_cors_free(&app.cors);
}
TestSuite(cors, .fini = teardown);

Test(cors, allowed_origin_is_echoed_with_credentials_and_vary)
{
    setup_origins("http://localhost:5173, https://app.example.com");
    with_header("Origin", "https://app.example.com");
    cr_assert_not(gw_cors_handle(&req));
    req.extra_headers[req.extra_len] = '\0';
    const char *h = req.extra_headers;
    cr_assert_not_null(strstr(h, "Access-Control-Allow-Origin: https://app.example.com\r\n"), "%s", h);
    cr_assert_not_null(strstr(h, "Access-Control-Allow-Credentials: true\r\n"));
    cr_assert_not_null(strstr(h, "Vary: Origin\r\n"));
    cr_assert_not_null(strstr(h, "Access-Control-Expose-Headers: Content-Type, Authorization, "
                                 "X-Request-ID, X-RateLimit-Limit, X-RateLimit-Remaining, "
                                 "X-RateLimit-Reset, Retry-After\r\n"));
    cr_assert_null(strstr(h, "*"));
}

Test(cors, disallowed_lookalike_and_missing_origins_get_no_access_control_headers)
{
    const char *origins[] = {"https://evil.example.com", "https://app.example.com.evil.com",
                             "https://APP.example.com", "https://app.example.com/", "null",
                             "http://app.example.com", ""};
    for (size_t i = 0; i <= sizeof origins / sizeof origins[0]; i++) {
        setup_origins("https://app.example.com");
        if (i < sizeof origins / sizeof origins[0])
            with_header("Origin", origins[i]);
        cr_assert_not(gw_cors_handle(&req));
        req.extra_headers[req.extra_len] = '\0';
        cr_assert_null(strstr(req.extra_headers, "Access-Control-"), "origin %zu: %s", i,
                       req.extra_headers);
    }
}

Test(cors, two_origin_headers_are_not_trusted)
{
    setup_origins("https://app.example.com");
    with_header("Origin", "https://app.example.com");
    with_header("Origin", "https://app.example.com");
    cr_assert_not(gw_cors_handle(&req));
    req.extra_headers[req.extra_len] = '\0';
    cr_assert_null(strstr(req.extra_headers, "Access-Control-"));
}

Test(cors, wildcard_and_malformed_origins_are_refused_at_start)
{
    const char *bad[] = {"*", "http://a.com,*", "app.example.com", "https://", "https://a.com/path",
                         "https://a b.com"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gw_cors *c = NULL;
        cfg.cors_origins = (char *)bad[i];
        cr_expect_eq(gw_cors_new(&cfg, &c), TD_ECONFIG, "'%s' accepted", bad[i]);
        cr_expect_null(c);
    }
    struct gw_cors *c = NULL;
    cfg.cors_origins = "";
    TD_ASSERT_OK(gw_cors_new(&cfg, &c), "no origins at all is a valid setting");
    gw_cors_free(&c);
}
