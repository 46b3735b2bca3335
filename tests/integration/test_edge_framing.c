/*
 * test_edge_framing.c — hostile framing at the edge (issue 13), on raw
 * sockets: after an answer that says "Connection: close" the connection
 * really closes (before, the bytes that followed ran as a new request);
 * a Content-Length that is not plain digits is 400; more headers than
 * civetweb keeps is 431; absolute-form and asterisk-form targets get a JSON
 * error instead of a dropped connection; a header value with a tab is
 * served, while an obs-fold line is refused rather than hiding the headers
 * after it.
 */
#include "edge_raw.h"
#include "suite.h"

#include <criterion/criterion.h>

TH_STACK_SUITE(edge_framing, 120);

static char reply[1 << 20];

/* Sends req (len bytes) on a fresh connection and reads until the gateway
 * closes (at most 3 s). Returns whether it closed. */
static bool exchange(const char *req, size_t len)
{
    bool closed = false;
    long n = raw_exchange(stack.http_port, NULL, req, len, reply, sizeof reply, 3000, &closed);
    cr_assert_geq(n, 0, "no connection");
    return closed;
}

/* Exactly one response, `status` with error `error`, and the connection
 * closed after it. */
static void expect_one_then_close(const char *req, size_t len, int status, const char *error,
                                  const char *what)
{
    bool closed = exchange(req, len);
    char line[32];
    snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    cr_assert(strncmp(reply, line, strlen(line)) == 0, "%s: want %d, got: %.300s", what, status,
              reply);
    char err[96];
    snprintf(err, sizeof err, "\"error\":\"%s\"", error);
    cr_assert_not_null(strstr(reply, err), "%s: %.400s", what, reply);
    cr_assert_eq(raw_count_responses(reply), 1,
                 "%s: the bytes after the refused request were served: %.600s", what, reply);
    cr_assert(closed, "%s: the connection stayed open after Connection: close", what);
    char v[64];
    cr_assert(raw_header(reply, "Connection", v, sizeof v), "%s: %.300s", what, reply);
    cr_assert_str_eq(v, "close");
    cr_assert(raw_header(reply, "X-Request-ID", v, sizeof v), "%s: %.300s", what, reply);
}

static const char next_request[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

/* ---- Connection: close means close -------------------------------------- */

Test(edge_framing, a_refused_duplicate_content_length_ends_the_connection)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}%s",
                     next_request);
    expect_one_then_close(req, (size_t)n, 400, "bad_request", "duplicate Content-Length");
}

Test(edge_framing, a_refused_content_length_with_chunked_ends_the_connection)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n%s",
                     next_request);
    expect_one_then_close(req, (size_t)n, 400, "bad_request", "Content-Length with chunked");
}

Test(edge_framing, a_chunked_body_over_the_limit_ends_the_connection)
{
    /* A whole chunked body one byte over GATEWAY_MAX_BODY, its last chunk,
     * then another request: civetweb had read the body to its end, so it
     * kept the connection and served what followed. */
    size_t data = 262144 + 1;
    size_t cap = data + 1024;
    char *req = malloc(cap);
    cr_assert_not_null(req);
    int n = snprintf(req, cap,
                     "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n%zx\r\n",
                     data);
    memset(req + n, ' ', data);
    size_t len = (size_t)n + data;
    len += (size_t)snprintf(req + len, cap - len, "\r\n0\r\n\r\n%s", next_request);
    expect_one_then_close(req, len, 413, "payload_too_large", "chunked over the limit");
    free(req);
}

Test(edge_framing, a_declared_body_over_the_limit_ends_the_connection)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1048576\r\n\r\n{\"email\":");
    expect_one_then_close(req, (size_t)n, 413, "payload_too_large", "declared over the limit");
}

/* ---- Content-Length ------------------------------------------------------ */

Test(edge_framing, a_content_length_that_is_not_plain_digits_is_400)
{
    /* civetweb reads each of these as 0 and served the request. The value
     * is written after "Content-Length:" as is: " 0" makes two spaces. */
    static const char *const bad[] = {" +0", " 0x10", " 0abc", " 0, 5", "  0", " 0 ", " -0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char req[256], what[64];
        int n = snprintf(req, sizeof req,
                         "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length:%s\r\n\r\n%s", bad[i],
                         next_request);
        snprintf(what, sizeof what, "Content-Length:%s", bad[i]);
        expect_one_then_close(req, (size_t)n, 400, "bad_request", what);
    }
    /* Plain digits, with the usual space or none, are served. */
    static const char *const good[] = {" 0", "0", "\t0"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char req[256];
        int n = snprintf(req, sizeof req,
                         "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length:%s\r\n"
                         "Connection: close\r\n\r\n",
                         good[i]);
        exchange(req, (size_t)n);
        cr_assert(strncmp(reply, "HTTP/1.1 200 ", 13) == 0, "Content-Length:%s: %.300s", good[i],
                  reply);
    }
}

/* ---- header count -------------------------------------------------------- */

/* A GET /health with `extra` headers besides Host, the last one `last`
 * (NULL: another X- header). */
static size_t many_headers(char *buf, size_t size, int extra, const char *last)
{
    size_t n = (size_t)snprintf(buf, size, "GET /health HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < extra; i++) {
        if (i == extra - 1 && last != NULL)
            n += (size_t)snprintf(buf + n, size - n, "%s\r\n", last);
        else
            n += (size_t)snprintf(buf + n, size - n, "X-H%d: v\r\n", i);
    }
    n += (size_t)snprintf(buf + n, size - n, "Connection: close\r\n\r\n");
    return n;
}

Test(edge_framing, more_headers_than_civetweb_keeps_is_431)
{
    char req[8192];
    /* 70 headers: civetweb kept 64 and served; a Transfer-Encoding past the
     * 64th went unseen. */
    size_t n = many_headers(req, sizeof req, 68, "Transfer-Encoding: chunked");
    expect_one_then_close(req, n, 431, "too_many_headers", "70 headers");
    n = many_headers(req, sizeof req, 62, NULL); /* exactly 64 with Host and Connection */
    expect_one_then_close(req, n, 431, "too_many_headers", "64 headers");
    n = many_headers(req, sizeof req, 61, NULL); /* 63 */
    exchange(req, n);
    cr_assert(strncmp(reply, "HTTP/1.1 200 ", 13) == 0, "63 headers: %.300s", reply);
}

/* ---- request targets ----------------------------------------------------- */

Test(edge_framing, absolute_form_and_asterisk_targets_get_a_json_error)
{
    char own[128], routed[128];
    snprintf(own, sizeof own, "GET http://127.0.0.1:%d/health HTTP/1.1\r\nHost: x\r\n\r\n",
             stack.http_port);
    /* The host civetweb takes as itself (its default authentication domain)
     * on its own port: it routed this to the handler as /health. */
    snprintf(routed, sizeof routed,
             "GET http://www.mydomain.com:%d/health HTTP/1.1\r\nHost: x\r\n\r\n",
             stack.http_port);
    const char *reqs[] = {
        "GET http://host/x HTTP/1.1\r\nHost: x\r\n\r\n",
        own,
        routed,
        "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        char what[96];
        snprintf(what, sizeof what, "%.*s", (int)strcspn(reqs[i], "\r"), reqs[i]);
        expect_one_then_close(reqs[i], strlen(reqs[i]), 400, "bad_request", what);
        cr_assert_not_null(strstr(reply, "\"message\":\"Request target must be a path"), "%s",
                           reply);
    }
    cr_assert_geq(th_wait_metric(stack.base_url,
                                 "td_http_requests_total{route=\"unmatched\",method=\"OPTIONS\","
                                 "status=\"400\"}",
                                 1, TH_WAIT_MS),
                  1);
}

/* ---- whitespace ---------------------------------------------------------- */

Test(edge_framing, a_header_value_holding_a_tab_is_served)
{
    const char *reqs[] = {
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Note: a\tb\r\nConnection: close\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: x\r\nAccept:\t*/*\r\nConnection:\tclose\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: x\r\nUser-Agent: probe\t\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        exchange(reqs[i], strlen(reqs[i]));
        cr_assert(strncmp(reply, "HTTP/1.1 200 ", 13) == 0, "request %zu: %.300s", i, reply);
    }
    /* A tab in a body is the body's business: it arrives unchanged. */
    const char body[] = "{\"email\":\"tab\tuser@example.com\",\"password\":\"x\"}";
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(body), body);
    exchange(req, (size_t)n);
    cr_assert(strncmp(reply, "HTTP/1.1 400 ", 13) == 0, "%.300s", reply);
    cr_assert_not_null(strstr(reply, "\"error\":\"invalid_json\""),
                       "the raw tab must reach the JSON parser: %.400s", reply);
}

Test(edge_framing, bodies_are_never_rewritten_even_behind_a_pipelined_request)
{
    /* A request, then the headers of the next one in the same write; the
     * next one's body, a JSON string holding a raw tab (invalid JSON), comes
     * later. The gateway must see that tab. */
    const char body[] = "{\"email\":\"a\tb@example.com\",\"password\":\"x\"}";
    char first[512];
    int n = snprintf(first, sizeof first,
                     "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                     "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     strlen(body));
    int fd = raw_connect(stack.http_port, NULL);
    cr_assert_geq(fd, 0);
    cr_assert(raw_send(fd, first, (size_t)n));
    raw_sleep_ms(200);
    cr_assert(raw_send_str(fd, body));
    bool closed = false;
    raw_read_all(fd, reply, sizeof reply, 3000, &closed);
    close(fd);
    cr_assert_eq(raw_count_responses(reply), 2, "%.800s", reply);
    const char *second = strstr(reply + 9, "HTTP/1.1 ");
    cr_assert(strncmp(second, "HTTP/1.1 400 ", 13) == 0, "%.400s", second);
    cr_assert_not_null(strstr(second, "\"error\":\"invalid_json\""), "%.400s", second);
}

Test(edge_framing, an_obs_fold_line_is_refused_rather_than_hiding_what_follows)
{
    /* civetweb took the folded line as the end of the headers and dropped
     * the Transfer-Encoding after it without a word. */
    const char req[] = "POST /auth/login HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n b\r\n"
                       "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                       "0\r\n\r\n";
    exchange(req, sizeof req - 1);
    cr_assert(strncmp(reply, "HTTP/1.1 400 ", 13) == 0, "%.300s", reply);
    cr_assert_eq(raw_count_responses(reply), 1, "%.600s", reply);
}

/* ---- ordinary connections keep working ------------------------------------ */

Test(edge_framing, keep_alive_still_serves_request_after_request)
{
    int fd = raw_connect(stack.http_port, NULL);
    cr_assert_geq(fd, 0);
    for (int i = 0; i < 3; i++) {
        cr_assert(raw_send_str(fd, next_request));
        char out[8192];
        cr_assert_eq(raw_read_response(fd, out, sizeof out, 3000), 200, "request %d: %.300s", i,
                     out);
    }
    close(fd);
}
