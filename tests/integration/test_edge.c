/*
 * test_edge.c — the gateway's edge against the real daemons: CORS
 * preflights and headers, per-IP rate limits in memory, security headers on
 * every kind of response, hostile framing and bodies, a slow-loris client,
 * /metrics and the configuration checks that stop start-up.
 */
#include "edge_http.h"

#include <arpa/inet.h>
#include <signal.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct th_stack stack;

static void start_with(const char *const *env)
{
    struct th_options o = {.peers_die = true}; /* td-auth is killed under traffic */
    for (int i = 0; env && env[i] && i < TH_MAX_ENV - 1; i++)
        o.env[i] = env[i];
    cr_assert_eq(th_stack_start(&stack, &o), 0, "stack did not start");
}

static void stop(void)
{
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
}

static char *url(const char *path)
{
    static __thread char buf[512];
    snprintf(buf, sizeof buf, "%s%s", stack.base_url, path);
    return buf;
}

static void assert_security_headers(const struct th_response *r)
{
    char v[512];
    cr_assert(th_header(r, "X-Content-Type-Options", v, sizeof v), "%s", r->headers);
    cr_assert_str_eq(v, "nosniff");
    cr_assert(th_header(r, "X-Frame-Options", v, sizeof v));
    cr_assert_str_eq(v, "DENY");
    cr_assert(th_header(r, "Referrer-Policy", v, sizeof v));
    cr_assert_str_eq(v, "no-referrer");
    cr_assert(th_header(r, "Content-Security-Policy", v, sizeof v));
    cr_assert_not_null(strstr(v, "default-src 'none'"), "CSP %s", v);
    cr_assert(th_header(r, "X-Request-ID", v, sizeof v));
    cr_assert_not(th_header(r, "Strict-Transport-Security", v, sizeof v),
                  "HSTS over plain HTTP from an untrusted peer");
}

/* ---- CORS --------------------------------------------------------------- */

static void cors_setup(void)
{
    const char *env[] = {"CORS_ORIGINS=http://localhost:5173,https://app.example.com", NULL};
    start_with(env);
}
TestSuite(edge_cors, .init = cors_setup, .fini = stop, .timeout = 60);

Test(edge_cors, preflight_from_allowed_origin_is_answered_by_the_gateway)
{
    const char *h[] = {"Origin: https://app.example.com", "Access-Control-Request-Method: POST",
                       "Access-Control-Request-Headers: content-type, authorization", NULL};
    const char *paths[] = {"/auth/login", "/diaries/42", "/health"};
    for (size_t i = 0; i < 3; i++) {
        struct th_response r;
        cr_assert_eq(th_http(&stack, "OPTIONS", paths[i], h, NULL, &r), 0);
        cr_assert_eq(r.status, 204, "%s: %ld", paths[i], r.status);
        char v[512];
        cr_assert(th_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
        cr_assert_str_eq(v, "https://app.example.com");
        cr_assert(th_header(&r, "Access-Control-Allow-Credentials", v, sizeof v));
        cr_assert_str_eq(v, "true");
        cr_assert(th_header(&r, "Access-Control-Allow-Methods", v, sizeof v));
        cr_assert_str_eq(v, "GET, POST, PUT, DELETE, OPTIONS");
        cr_assert(th_header(&r, "Access-Control-Allow-Headers", v, sizeof v));
        cr_assert_str_eq(v, "Content-Type, Authorization");
        cr_assert(th_header(&r, "Access-Control-Max-Age", v, sizeof v));
        cr_assert_gt(atoi(v), 0);
        cr_assert(th_header(&r, "Vary", v, sizeof v));
        cr_assert_str_eq(v, "Origin");
        cr_assert(th_header(&r, "Allow", v, sizeof v));
        cr_assert_not_null(strstr(v, "OPTIONS"));
        cr_assert_eq(r.body_len, 0);
        assert_security_headers(&r);
        th_response_free(&r);
    }
}

Test(edge_cors, preflight_is_never_forwarded_or_rate_limited)
{
    /* With td-auth gone, a forwarded preflight would be 503. */
    th_daemon_signal(&stack, TH_AUTH, SIGKILL);
    const char *h[] = {"Origin: http://localhost:5173", "Access-Control-Request-Method: POST",
                       NULL};
    struct th_response r;
    cr_assert_eq(th_http(&stack, "OPTIONS", "/auth/register", h, NULL, &r), 0);
    cr_assert_eq(r.status, 204);
    char v[64];
    cr_assert_not(th_header(&r, "X-RateLimit-Limit", v, sizeof v));
    th_response_free(&r);
    cr_assert_eq(th_daemon_start(&stack, TH_AUTH), 0);
    cr_assert_eq(th_wait_ready(&stack, 200, 10000), 0);
}

Test(edge_cors, preflight_from_disallowed_origin_has_no_access_control_headers)
{
    const char *h[] = {"Origin: https://evil.example.com", "Access-Control-Request-Method: POST",
                       NULL};
    struct th_response r;
    cr_assert_eq(th_http(&stack, "OPTIONS", "/auth/login", h, NULL, &r), 0);
    cr_assert_eq(r.status, 204);
    cr_assert_null(strcasestr(r.headers, "access-control-"), "%s", r.headers);
    char v[64];
    cr_assert(th_header(&r, "Allow", v, sizeof v));
    cr_assert_str_eq(v, "POST, OPTIONS");
    th_response_free(&r);
}

Test(edge_cors, options_on_unknown_path_is_404)
{
    const char *h[] = {"Origin: https://app.example.com", NULL};
    struct th_response r;
    cr_assert_eq(th_http(&stack, "OPTIONS", "/nope", h, NULL, &r), 0);
    cr_assert_eq(r.status, 404);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "error")), "not_found");
    th_response_free(&r);
}

Test(edge_cors, simple_requests_carry_cors_headers_only_for_allowed_origins)
{
    const char *good[] = {"Origin: http://localhost:5173", NULL};
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/health", good, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    char v[512];
    cr_assert(th_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    cr_assert_str_eq(v, "http://localhost:5173");
    cr_assert(th_header(&r, "Access-Control-Expose-Headers", v, sizeof v));
    cr_assert_not_null(strstr(v, "X-Request-ID"));
    cr_assert_not_null(strstr(v, "X-RateLimit-Remaining"));
    cr_assert_not_null(strstr(v, "Retry-After"));
    cr_assert(th_header(&r, "Vary", v, sizeof v));
    cr_assert_str_eq(v, "Origin");
    th_response_free(&r);

    /* Errors too: a 404 to an allowed origin is readable by its script. */
    cr_assert_eq(th_http(&stack, "GET", "/nope", good, NULL, &r), 0);
    cr_assert_eq(r.status, 404);
    cr_assert(th_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    th_response_free(&r);

    const char *bad[] = {"Origin: http://localhost:5174", NULL};
    cr_assert_eq(th_http(&stack, "GET", "/health", bad, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "the request itself is served normally");
    cr_assert_null(strcasestr(r.headers, "access-control-"));
    th_response_free(&r);
}

/* ---- rate limits (memory) ----------------------------------------------- */

static void rl_setup(void)
{
    const char *env[] = {"RATELIMIT_ENABLED=true", NULL};
    start_with(env);
}
TestSuite(edge_ratelimit, .init = rl_setup, .fini = stop, .timeout = 90);

static const char bad_login[] = "{\"email\":\"nobody@example.com\",\"password\":\"Wrong-pass1\"}";

Test(edge_ratelimit, fourth_register_in_an_hour_is_429_and_other_ips_are_unaffected)
{
    long reset0 = 0;
    for (int i = 0; i < 3; i++) {
        struct th_response r;
        /* Invalid bodies: the limit counts before td-auth sees anything. */
        cr_assert_eq(edge_http(url("/auth/register"), "127.0.0.2", "POST", edge_json_ct,
                               "{\"email\":\"x\"}", false, &r),
                     0);
        cr_assert_neq(r.status, 429, "attempt %d", i + 1);
        char v[64];
        cr_assert(th_header(&r, "X-RateLimit-Limit", v, sizeof v), "%s", r.headers);
        cr_assert_str_eq(v, "3");
        cr_assert(th_header(&r, "X-RateLimit-Remaining", v, sizeof v));
        cr_assert_eq(atoi(v), 2 - i);
        cr_assert(th_header(&r, "X-RateLimit-Reset", v, sizeof v));
        long reset = atol(v);
        cr_assert_geq(reset, (long)time(NULL) + 3590);
        if (i == 0)
            reset0 = reset;
        cr_assert_eq(reset, reset0, "the first hit frees the first slot");
        th_response_free(&r);
    }
    struct th_response r;
    cr_assert_eq(edge_http(url("/auth/register"), "127.0.0.2", "POST", edge_json_ct,
                           "{\"email\":\"x\"}", false, &r),
                 0);
    cr_assert_eq(r.status, 429);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "error")), "rate_limit_exceeded");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "message")),
                     "Too many requests. Please try again later.");
    char v[64];
    cr_assert(th_header(&r, "Retry-After", v, sizeof v));
    cr_assert(atol(v) > 3500 && atol(v) <= 3600, "Retry-After %s", v);
    cr_assert(th_header(&r, "X-RateLimit-Remaining", v, sizeof v));
    cr_assert_str_eq(v, "0");
    cr_assert(th_header(&r, "X-RateLimit-Reset", v, sizeof v));
    assert_security_headers(&r);
    th_response_free(&r);

    cr_assert_neq(edge_status(url("/auth/register"), "127.0.0.3", "POST", edge_json_ct, "{}"),
                  429, "another client address has its own budget");
    /* Login has its own budget too. */
    cr_assert_neq(edge_status(url("/auth/login"), "127.0.0.2", "POST", edge_json_ct, bad_login),
                  429);
}

Test(edge_ratelimit, twenty_concurrent_logins_let_exactly_five_through)
{
    long st[20];
    edge_concurrent(url("/auth/login"), "127.0.0.4", bad_login, 20, st);
    int passed = 0, refused = 0;
    for (int i = 0; i < 20; i++) {
        cr_assert_neq(st[i], -1);
        if (st[i] == 429)
            refused++;
        else
            passed++;
    }
    cr_assert_eq(passed, 5, "%d passed, %d refused", passed, refused);
    cr_assert_eq(th_wait_metric(stack.base_url, "td_ratelimit_rejections_total{route=\"/auth/login\"}",
                                15, TH_WAIT_MS),
                 15);
}

Test(edge_ratelimit, failed_logins_count_and_errors_carry_the_headers)
{
    for (int i = 0; i < 5; i++) {
        struct th_response r;
        cr_assert_eq(edge_http(url("/auth/login"), "127.0.0.5", "POST", edge_json_ct, bad_login,
                               false, &r),
                     0);
        cr_assert_eq(r.status, 401, "a wrong password is 401: %s", r.body);
        char v[32];
        cr_assert(th_header(&r, "X-RateLimit-Remaining", v, sizeof v));
        cr_assert_eq(atoi(v), 4 - i);
        th_response_free(&r);
    }
    cr_assert_eq(edge_status(url("/auth/login"), "127.0.0.5", "POST", edge_json_ct, bad_login),
                 429);
    /* A malformed body on a limited route: still counted, still headed. */
    struct th_response r;
    cr_assert_eq(edge_http(url("/auth/login"), "127.0.0.6", "POST", edge_json_ct, "{", false, &r),
                 0);
    cr_assert_eq(r.status, 400);
    char v[32];
    cr_assert(th_header(&r, "X-RateLimit-Limit", v, sizeof v));
    cr_assert_str_eq(v, "5");
    th_response_free(&r);
    /* Unlimited routes carry no rate-limit headers. */
    cr_assert_eq(th_http(&stack, "GET", "/health", NULL, NULL, &r), 0);
    cr_assert_not(th_header(&r, "X-RateLimit-Limit", v, sizeof v));
    th_response_free(&r);
}

Test(edge_ratelimit, spoofed_forwarded_headers_from_an_untrusted_peer_change_nothing)
{
    char xff[64];
    for (int i = 0; i < 8; i++) {
        snprintf(xff, sizeof xff, "X-Forwarded-For: 198.51.100.%d", i + 1);
        const char *h[] = {"Content-Type: application/json", xff, "X-Real-IP: 192.0.2.1",
                           "Forwarded: for=192.0.2.2", NULL};
        long st = edge_status(url("/auth/login"), "127.0.0.7", "POST", h, bad_login);
        cr_assert_eq(st, i < 5 ? 401 : 429, "request %d: %ld", i + 1, st);
    }
}

Test(edge_ratelimit, a_refused_registration_creates_no_account)
{
    char body[128];
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body, "{\"email\":\"rl%d@example.com\",\"password\":\"Str0ng!pass\"}",
                 i);
        cr_assert_eq(edge_status(url("/auth/register"), "127.0.0.8", "POST", edge_json_ct, body),
                     201);
    }
    const char *victim = "{\"email\":\"refused@example.com\",\"password\":\"Str0ng!pass\"}";
    cr_assert_eq(edge_status(url("/auth/register"), "127.0.0.8", "POST", edge_json_ct, victim),
                 429);
    cr_assert_eq(edge_status(url("/auth/register"), "127.0.0.9", "POST", edge_json_ct, victim),
                 201, "the refused registration must not have created the account");
}

Test(edge_ratelimit, bad_limit_values_stop_start_up_with_one_line)
{
    const char *cases[][2] = {{"RATELIMIT_LOGIN", "5/fortnight"},
                              {"RATELIMIT_REGISTER", "three/hour"},
                              {"RATELIMIT_STORAGE", "memcached://x"},
                              {"CORS_ORIGINS", "*"},
                              {"TRUSTED_PROXIES", "proxy.local"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 /* Leak reports of an aborted start-up (nng's asynchronous
                  * teardown) are not what this test is about. */
                 "env ASAN_OPTIONS=detect_leaks=0 APP_ENV=testing TD_ENV_FILE=/dev/null "
                 "GATEWAY_LISTEN=127.0.0.1:%d "
                 "AUTH_RPC_URL=%s DIARY_RPC_URL=%s SENTIMENT_RPC_URL=%s AUTH_EVENTS_URL=%s "
                 "%s='%s' %s/td-gateway 2>&1",
                 th_free_port(), stack.auth_url, stack.diary_url, stack.sentiment_url,
                 stack.events_url, cases[i][0], cases[i][1], TD_BIN_DIR);
        FILE *p = popen(cmd, "r");
        cr_assert_not_null(p);
        char out[4096] = "";
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = '\0';
        int status = pclose(p);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "%s accepted: %s", cases[i][0],
                  out);
        cr_assert_not_null(strstr(out, cases[i][0]), "no line names %s: %s", cases[i][0], out);
        int lines = 0;
        for (char *c = out; *c; c++)
            lines += *c == '\n';
        cr_assert_eq(lines, 1, "want one clear line, got: %s", out);
    }
}

/* ---- hardening ----------------------------------------------------------- */

static void hard_setup(void)
{
    const char *env[] = {"RATELIMIT_ENABLED=true", "TRUSTED_PROXIES=127.0.0.1", NULL};
    start_with(env);
}
TestSuite(edge_hardening, .init = hard_setup, .fini = stop, .timeout = 90);

Test(edge_hardening, security_headers_on_200_404_405_415_and_429)
{
    struct th_response r;
    cr_assert_eq(edge_http(url("/health"), "127.0.0.2", "GET", NULL, NULL, false, &r), 0);
    cr_assert_eq(r.status, 200);
    assert_security_headers(&r);
    char v[512];
    cr_assert(th_header(&r, "Content-Security-Policy", v, sizeof v));
    cr_assert_null(strstr(v, "script-src"), "JSON gets the strict policy: %s", v);
    th_response_free(&r);

    cr_assert_eq(edge_http(url("/nope"), "127.0.0.2", "GET", NULL, NULL, false, &r), 0);
    cr_assert_eq(r.status, 404);
    assert_security_headers(&r);
    th_response_free(&r);

    cr_assert_eq(edge_http(url("/health"), "127.0.0.2", "DELETE", NULL, NULL, false, &r), 0);
    cr_assert_eq(r.status, 405);
    assert_security_headers(&r);
    th_response_free(&r);

    const char *text[] = {"Content-Type: text/plain", NULL};
    cr_assert_eq(edge_http(url("/auth/login"), "127.0.0.3", "POST", text, "hello", false, &r), 0);
    cr_assert_eq(r.status, 415);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "error")),
                     "unsupported_media_type");
    assert_security_headers(&r);
    th_response_free(&r);

    for (int i = 0; i < 6; i++)
        edge_status(url("/auth/login"), "127.0.0.2", "POST", edge_json_ct, "{}");
    cr_assert_eq(edge_http(url("/auth/login"), "127.0.0.2", "POST", edge_json_ct, "{}", false, &r),
                 0);
    cr_assert_eq(r.status, 429);
    assert_security_headers(&r);
    cr_assert(th_header(&r, "Cache-Control", v, sizeof v));
    cr_assert_str_eq(v, "no-store");
    th_response_free(&r);
}

Test(edge_hardening, hsts_only_when_a_trusted_proxy_says_https)
{
    const char *https[] = {"X-Forwarded-Proto: https", NULL};
    struct th_response r;
    char v[256];
    /* 127.0.0.1 is the trusted proxy here. */
    cr_assert_eq(edge_http(url("/health"), "127.0.0.1", "GET", https, NULL, false, &r), 0);
    cr_assert(th_header(&r, "Strict-Transport-Security", v, sizeof v), "%s", r.headers);
    cr_assert_not_null(strstr(v, "max-age="));
    th_response_free(&r);
    cr_assert_eq(edge_http(url("/nope"), "127.0.0.1", "GET", https, NULL, false, &r), 0);
    cr_assert(th_header(&r, "Strict-Transport-Security", v, sizeof v), "errors too");
    th_response_free(&r);
    cr_assert_eq(edge_http(url("/health"), "127.0.0.2", "GET", https, NULL, false, &r), 0);
    cr_assert_not(th_header(&r, "Strict-Transport-Security", v, sizeof v));
    th_response_free(&r);
}

Test(edge_hardening, trusted_proxy_forwarded_address_is_the_rate_limit_key)
{
    /* Through the trusted proxy 127.0.0.1, two forwarded clients have two
     * budgets, and a client-written left part of the list is ignored. */
    for (int i = 0; i < 5; i++) {
        const char *h[] = {"Content-Type: application/json",
                           "X-Forwarded-For: 6.6.6.6, 203.0.113.10", NULL};
        cr_assert_neq(edge_status(url("/auth/login"), "127.0.0.1", "POST", h, bad_login), 429);
    }
    const char *same[] = {"Content-Type: application/json",
                          "X-Forwarded-For: 7.7.7.7, 203.0.113.10", NULL};
    cr_assert_eq(edge_status(url("/auth/login"), "127.0.0.1", "POST", same, bad_login), 429);
    const char *other[] = {"Content-Type: application/json", "X-Forwarded-For: 203.0.113.11",
                           NULL};
    cr_assert_neq(edge_status(url("/auth/login"), "127.0.0.1", "POST", other, bad_login), 429);
}

static void raw_expect(const char *req, size_t len, const char *status_prefix, const char *body_part)
{
    static char out[65536];
    cr_assert_gt(th_raw(&stack, req, len, out, sizeof out, 3000), 0, "no answer to %.60s", req);
    cr_assert(strncmp(out, status_prefix, strlen(status_prefix)) == 0, "want %s, got: %.300s",
              status_prefix, out);
    if (body_part)
        cr_assert_not_null(strstr(out, body_part), "got: %.500s", out);
}

Test(edge_hardening, declared_one_mebibyte_body_is_413_before_it_is_sent)
{
    const char req[] = "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 1048576\r\n\r\n{\"email\":";
    raw_expect(req, sizeof req - 1, "HTTP/1.1 413", "\"error\":\"payload_too_large\"");
}

Test(edge_hardening, chunked_body_over_the_limit_is_413)
{
    size_t chunk = 262144 + 4096;
    size_t cap = chunk + 256;
    char *req = malloc(cap);
    int n = snprintf(req, cap,
                     "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
                     chunk);
    memset(req + n, ' ', chunk);
    memcpy(req + n + chunk, "\r\n0\r\n\r\n", 7);
    raw_expect(req, (size_t)n + chunk + 7, "HTTP/1.1 413", "payload_too_large");
    free(req);
}

Test(edge_hardening, deeply_nested_json_is_refused_without_crashing)
{
    size_t depth = 10000;
    char *body = malloc(2 * depth + 1);
    memset(body, '[', depth);
    memset(body + depth, ']', depth);
    body[2 * depth] = '\0';
    struct th_response r;
    cr_assert_eq(edge_http(url("/auth/login"), "127.0.0.4", "POST", edge_json_ct, body, false, &r),
                 0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "error")), "invalid_json");
    th_response_free(&r);
    free(body);

    /* An object 64 deep parses, but is over GATEWAY_MAX_JSON_DEPTH (32). */
    char obj[1024] = "";
    for (int i = 0; i < 64; i++)
        strcat(obj, "{\"a\":");
    strcat(obj, "1");
    for (int i = 0; i < 64; i++)
        strcat(obj, "}");
    cr_assert_eq(edge_http(url("/auth/login"), "127.0.0.4", "POST", edge_json_ct, obj, false, &r),
                 0);
    cr_assert_eq(r.status, 400);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "error")), "invalid_json");
    th_response_free(&r);
    cr_assert_eq(th_http(&stack, "GET", "/health", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "the gateway survived");
    th_response_free(&r);
}

Test(edge_hardening, encoded_path_tricks_reach_no_handler)
{
    const char *paths[] = {"/diaries/1%00", "/diaries/%31", "/auth%2flogin", "/auth/login%00",
                           "/diaries/1%2f2", "/docs/..%2fopenapi.json", "/docs/%2e%2e/x.js",
                           "/docs/.gitignore", "/docs/package.json", "//health"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct th_response r;
        cr_assert_eq(th_http(&stack, "GET", paths[i], NULL, NULL, &r), 0);
        cr_assert_eq(r.status, 404, "%s: %ld", paths[i], r.status);
        cr_assert_not_null(r.json, "%s: not the JSON error shape", paths[i]);
        th_response_free(&r);
    }
}

Test(edge_hardening, oversized_headers_get_the_json_error_shape)
{
    size_t big = 20000;
    char *req = malloc(big + 128);
    int n = snprintf(req, big + 128, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', big);
    memcpy(req + n + big, "\r\n\r\n", 4);
    raw_expect(req, (size_t)n + big + 4, "HTTP/1.1 4", "\"error\":");
    free(req);
}

Test(edge_hardening, duplicate_content_length_and_cl_with_te_are_400)
{
    const char dup[] = "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}";
    raw_expect(dup, sizeof dup - 1, "HTTP/1.1 400", "bad_request");
    const char clte[] = "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    raw_expect(clte, sizeof clte - 1, "HTTP/1.1 400", "bad_request");
}

/* ---- slow clients ------------------------------------------------------- */

static void slow_setup(void)
{
    const char *env[] = {"GATEWAY_THREADS=4", "GATEWAY_QUEUE=64", "GATEWAY_REQUEST_TIMEOUT_MS=1000",
                         "GATEWAY_KEEPALIVE_MS=500", NULL};
    start_with(env);
}
TestSuite(edge_slow, .init = slow_setup, .fini = stop, .timeout = 60);

static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

Test(edge_slow, slow_loris_clients_cannot_hold_every_worker)
{
    /* Twice as many dribbling clients as workers; each sends a header byte
     * every 200 ms and never finishes. */
    enum { N = 8 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = connect_local(stack.http_port);
        cr_assert_geq(fds[i], 0);
        send(fds[i], "GET /health HTTP/1.1\r\nHost: x\r\n", 31, MSG_NOSIGNAL);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long status = 0;
    /* Keep dribbling while a normal client asks for /health. */
    for (int round = 0; round < 40 && status != 200; round++) {
        for (int i = 0; i < N; i++)
            send(fds[i], "X", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        struct th_response r;
        CURL *probe = NULL;
        (void)probe;
        if (th_http(&stack, "GET", "/health", NULL, NULL, &r) == 0) {
            status = r.status;
            th_response_free(&r);
        }
        edge_sleep_ms(200);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    for (int i = 0; i < N; i++)
        close(fds[i]);
    cr_assert_eq(status, 200, "/health never answered");
    cr_assert_lt(waited, 5.0, "/health took %.1f s behind slow clients", waited);
}

/* ---- metrics ------------------------------------------------------------ */

TestSuite(edge_metrics, .init = rl_setup, .fini = stop, .timeout = 60);

Test(edge_metrics, requests_upstream_calls_and_rejections_are_counted)
{
    for (int i = 0; i < 3; i++)
        cr_assert_eq(edge_status(url("/health"), NULL, "GET", NULL, NULL), 200);
    cr_assert_eq(edge_status(url("/nope"), NULL, "GET", NULL, NULL), 404);
    for (int i = 0; i < 6; i++)
        edge_status(url("/auth/login"), "127.0.0.2", "POST", edge_json_ct, bad_login);
    /* The gateway counts a request once its response has gone out: wait
     * for each count rather than read it once. */
    cr_assert_eq(th_wait_metric(stack.base_url,
                                "td_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"}",
                                3, TH_WAIT_MS),
                 3);
    cr_assert_eq(th_wait_metric(stack.base_url,
                                "td_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}",
                                1, TH_WAIT_MS),
                 1);
    cr_assert_eq(th_wait_metric(stack.base_url,
                                "td_http_requests_total{route=\"/auth/login\",method=\"POST\",status=\"429\"}",
                                1, TH_WAIT_MS),
                 1);
    cr_assert_eq(th_wait_metric(stack.base_url, "td_ratelimit_rejections_total{route=\"/auth/login\"}",
                                1, TH_WAIT_MS),
                 1);
    cr_assert_geq(th_wait_metric(stack.base_url,
                                 "td_upstream_requests_total{service=\"auth\",outcome=\"ok\"}", 5,
                                 TH_WAIT_MS),
                  5);
    cr_assert_geq(th_wait_metric(stack.base_url,
                                 "td_http_request_duration_seconds_count{route=\"/health\",method=\"GET\"}", 3,
                                 TH_WAIT_MS),
                  3);
    cr_assert_geq(th_wait_metric(stack.base_url,
                                 "td_upstream_request_duration_seconds_count{service=\"auth\"}", 5,
                                 TH_WAIT_MS),
                  5);
    cr_assert_eq(th_metric(stack.base_url, "td_redis_errors_total"), 0);

    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/metrics", NULL, NULL, &r), 0);
    char ct[128];
    cr_assert(th_header(&r, "Content-Type", ct, sizeof ct));
    cr_assert_not_null(strstr(ct, "text/plain"));
    th_response_free(&r);
}

Test(edge_metrics, access_log_has_one_line_per_request)
{
    const char *h[] = {"X-Request-ID: access-log-probe-1", NULL};
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/version", h, NULL, &r), 0);
    th_response_free(&r);
    /* The line is written once the response has gone out, so it may land a
     * moment after the client has read the response: wait for it. "One, not
     * two" is checked again once a later request has been logged, which
     * gives a late duplicate of the first line time to show. */
    const char *line = "[access-log-probe-1] access: 127.0.0.1 GET /version 200 ";
    cr_assert_eq(th_wait_log_count(&stack, "td-gateway.log", line, 1, TH_WAIT_MS), 1);
    const char *h2[] = {"X-Request-ID: access-log-probe-2", NULL};
    cr_assert_eq(th_http(&stack, "GET", "/version", h2, NULL, &r), 0);
    th_response_free(&r);
    cr_assert(th_wait_log(&stack, "td-gateway.log", "[access-log-probe-2] access: ", TH_WAIT_MS));
    cr_assert_eq(th_log_count(&stack, "td-gateway.log", line), 1);
}
