/*
 * test_abuse.c — hostile and malformed HTTP against the running stack: bad
 * methods, traversal and NUL tricks in paths, huge headers, wrong content
 * types, truncated bodies, invalid UTF-8, wrong JSON types, 1 MB strings, and
 * a few hundred seeded-random requests. Every answer must be a well-formed
 * HTTP response whose error body has the contract's shape, and the stack must
 * be healthy afterwards.
 */
#include "harness.h"
#include "suite.h"
#include "tokens.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static char bearer[2100];

static void after_start(void)
{
    char *token = th_token_access(3, 600);
    cr_assert_not_null(th_bearer_header(token, bearer, sizeof bearer));
    free(token);
}

TH_STACK_SUITE_THEN(abuse, 180, after_start);

/* Sends raw bytes (optionally half-closing after them) and reads the answer
 * until the server closes. Returns the bytes read. */
static size_t exchange(const char *req, size_t len, bool half_close, char *out, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)stack.http_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may answer and close before reading it all */
        sent += (size_t)n;
    }
    if (half_close)
        shutdown(fd, SHUT_WR);
    size_t got = 0;
    while (got + 1 < size) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 15000) <= 0)
            break;
        ssize_t n = recv(fd, out + got, size - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
    return got;
}

/* Asserts `resp` is one well-formed HTTP/1.1 response; error statuses carry
 * {"error": str, "message": str}. Returns the status. */
static int check_response(const char *what, const char *resp, size_t len)
{
    cr_assert_gt(len, 0, "%s: no response at all", what);
    int status = 0;
    cr_assert_eq(sscanf(resp, "HTTP/1.1 %d ", &status), 1, "%s: not HTTP: %.200s", what, resp);
    const char *end = strstr(resp, "\r\n\r\n");
    cr_assert_not_null(end, "%s: headers never end: %.300s", what, resp);
    const char *body = end + 4;
    long clen = -1;
    bool json = false, rid = false;
    for (const char *line = strstr(resp, "\r\n") + 2; line < end;) {
        const char *eol = strstr(line, "\r\n");
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            clen = strtol(line + 15, NULL, 10);
        if (strncasecmp(line, "Content-Type: application/json", 30) == 0)
            json = true;
        if (strncasecmp(line, "X-Request-ID: ", 14) == 0)
            rid = true;
        line = eol + 2;
    }
    cr_assert(rid, "%s: no X-Request-ID: %.2000s", what, resp);
    if (status == 204 || status == 304)
        clen = clen < 0 ? 0 : clen; /* no body, Content-Length optional */
    cr_assert_geq(clen, 0, "%s: no Content-Length: %.2000s", what, resp);
    cr_assert_eq((long)(len - (size_t)(body - resp)), clen, "%s: body length differs", what);
    if (status >= 400) {
        cr_assert(json, "%s: %d without a JSON body: %.300s", what, status, resp);
        json_t *j = json_loadb(body, (size_t)clen, 0, NULL);
        cr_assert_not_null(j, "%s: body is not JSON: %s", what, body);
        cr_assert(json_is_string(json_object_get(j, "error")) &&
                      json_is_string(json_object_get(j, "message")),
                  "%s: not the error shape: %s", what, body);
        json_decref(j);
    }
    return status;
}

static int send_request(const char *what, const char *method, const char *path,
                        const char *headers, const char *body, size_t body_len)
{
    size_t cap = 4096 + strlen(headers) + body_len;
    char *req = malloc(cap);
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s", method,
                     path, headers);
    if (body != NULL)
        n += snprintf(req + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    if (body != NULL) {
        memcpy(req + n, body, body_len);
        n += (int)body_len;
    }
    static char resp[1 << 16];
    size_t got = exchange(req, (size_t)n, false, resp, sizeof resp);
    free(req);
    return check_response(what, resp, got);
}

static void expect_healthy(void)
{
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/ready", NULL, NULL, &r), 0, "stack stopped answering");
    cr_assert_eq(r.status, 200, "stack not ready afterwards: %s", r.body);
    th_response_free(&r);
}

Test(abuse, targeted_malformed_requests_get_contract_errors)
{
    char json_hdr[2300];
    snprintf(json_hdr, sizeof json_hdr, "%s\r\nContent-Type: application/json\r\n", bearer);
    char auth_hdr[2200];
    snprintf(auth_hdr, sizeof auth_hdr, "%s\r\n", bearer);

    /* civetweb refuses a method it does not know while parsing (400); a
     * known method the route lacks is ours to refuse (405). */
    int brew = send_request("unknown method", "BREW", "/diaries", auth_hdr, NULL, 0);
    cr_expect(brew == 400 || brew == 405, "BREW: %d", brew);
    cr_expect_eq(send_request("PATCH", "PATCH", "/diaries/1", auth_hdr, NULL, 0), 405);
    const char *paths[] = {"/diaries/../auth/me", "/diaries/%2e%2e/auth/me", "/diaries/1%00",
                           "/diaries/%2f1",        "//diaries",               "/diaries/1/",
                           "/diaries/01",          "/diaries/99999999999999999999",
                           "/diaries/1.5",         "/diaries/-1",             "/..%2f..%2fetc/passwd"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        cr_expect_eq(send_request(paths[i], "GET", paths[i], auth_hdr, NULL, 0), 404, "%s",
                     paths[i]);

    char *huge = malloc(40000);
    memset(huge, 'a', 39990);
    memcpy(huge, "X-Big: ", 7);
    strcpy(huge + 39990, "\r\n");
    int st = send_request("huge header", "GET", "/health", huge, NULL, 0);
    cr_expect(st == 413 || st == 431 || st == 400, "huge header: %d", st);
    free(huge);

    char wrong_ct[2300];
    snprintf(wrong_ct, sizeof wrong_ct, "%s\r\nContent-Type: text/plain\r\n", bearer);
    cr_expect_eq(send_request("text/plain", "POST", "/diaries", wrong_ct, "{\"content\":\"x\"}", 15),
                 415);
    cr_expect_eq(send_request("invalid utf-8", "POST", "/diaries", json_hdr,
                              "{\"content\":\"\xff\xfe bad\"}", 19),
                 400);
    cr_expect_eq(send_request("number for a string", "POST", "/diaries", json_hdr,
                              "{\"content\": 12345}", 18),
                 400);
    cr_expect_eq(send_request("array body", "POST", "/diaries", json_hdr, "[1,2,3]", 7), 400);
    cr_expect_eq(send_request("trailing bytes", "POST", "/diaries", json_hdr, "{} {}", 5), 400);

    size_t big = 1 << 20;
    char *mb = malloc(big + 32);
    int n = snprintf(mb, big + 32, "{\"content\":\"");
    memset(mb + n, 'x', big);
    strcpy(mb + n + big, "\"}");
    cr_expect_eq(send_request("1 MB string", "POST", "/diaries", json_hdr, mb, strlen(mb)), 413);
    free(mb);

    /* A body cut short: the client half-closes after 10 of 100 bytes. */
    char req[3000];
    int len = snprintf(req, sizeof req,
                       "POST /diaries HTTP/1.1\r\nHost: x\r\n%s\r\n"
                       "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"content\"",
                       bearer);
    static char resp[1 << 16];
    size_t got = exchange(req, (size_t)len, true, resp, sizeof resp);
    if (got > 0) /* answering is optional when the client is gone; a bad answer is not */
        cr_expect_eq(check_response("truncated body", resp, got), 400);
    expect_healthy();
}

Test(abuse, seeded_random_requests_always_get_well_formed_answers)
{
    static const char *methods[] = {"GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH",
                                    "X"};
    static const char *paths[] = {"/health", "/ready", "/diaries", "/diaries/1", "/diaries/stats",
                                  "/auth/login", "/auth/register", "/auth/me", "/auth/refresh",
                                  "/auth/logout", "/auth/password", "/nope", "/diaries/%00",
                                  "/diaries?page=abc", "/diaries?per_page=-1&page=0x10",
                                  "/diaries?page=1e3"};
    static const char *bodies[] = {"", "{}", "{\"content\":\"hi\"}", "{\"email\":1}", "null",
                                   "{\"content\":\"\\u0000\"}", "{\"a\":{\"a\":{\"a\":[]}}}",
                                   "{\"content\":\"x\",\"content\":\"y\"}", "{", "\"str\"",
                                   "{\"email\":\"a@b.cd\",\"password\":\"Aa1!aaaa\"}"};
    static const char *types[] = {"application/json", "application/json; charset=utf-8",
                                  "text/html", "application/jsonx", ""};
    srand(20261126);
    char auth_hdr[2200];
    snprintf(auth_hdr, sizeof auth_hdr, "%s\r\n", bearer);
    for (int i = 0; i < 300; i++) {
        const char *m = methods[rand() % 8];
        const char *p = paths[rand() % 16];
        const char *b = bodies[rand() % 11];
        const char *t = types[rand() % 5];
        char headers[2600];
        int n = snprintf(headers, sizeof headers, "%s", rand() % 2 ? auth_hdr : "");
        if (*t)
            n += snprintf(headers + n, sizeof headers - (size_t)n, "Content-Type: %s\r\n", t);
        if (rand() % 4 == 0)
            snprintf(headers + n, sizeof headers - (size_t)n, "Origin: http://evil.example\r\n");
        char what[128];
        snprintf(what, sizeof what, "#%d %s %s", i, m, p);
        bool with_body = *b && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0;
        if (strcmp(m, "HEAD") == 0)
            continue; /* a HEAD answer has no body to judge */
        send_request(what, m, p, headers, with_body ? b : NULL, with_body ? strlen(b) : 0);
    }
    /* Raw garbage: the server answers 400 in the contract's shape, or closes. */
    srand(7);
    for (int i = 0; i < 50; i++) {
        char junk[512];
        size_t len = 16 + (size_t)rand() % 400;
        for (size_t k = 0; k < len; k++)
            junk[k] = (char)(rand() % 256);
        memcpy(junk + len - 4, "\r\n\r\n", 4);
        static char resp[1 << 16];
        size_t got = exchange(junk, len, true, resp, sizeof resp);
        if (got > 0)
            check_response("garbage", resp, got);
    }
    expect_healthy();
}
