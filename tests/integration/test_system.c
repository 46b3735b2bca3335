/*
 * test_system.c — the system routes and the error shapes of the gateway
 * skeleton, against the real daemons.
 */
#include "harness.h"
#include "suite.h"
#include "tokens.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Tests here kill or stop a daemon while others still send to it. */
TH_STACK_SUITE(system, 60, .peers_die = true);

static void assert_error_shape(const struct th_response *r, long status, const char *code)
{
    cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status, status, r->body);
    cr_assert_not_null(r->json, "body is not JSON: %s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "error")), code);
    cr_assert(json_is_string(json_object_get(r->json, "message")));
    char ct[128];
    cr_assert(th_header(r, "Content-Type", ct, sizeof ct));
    cr_assert_str_eq(ct, "application/json");
}

Test(system, health_answers_healthy_with_a_timestamp)
{
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/health", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "healthy");
    const char *ts = json_string_value(json_object_get(r.json, "timestamp"));
    cr_assert_not_null(ts);
    cr_assert_eq(strlen(ts), 27, "timestamp %s is not fixed-width RFC 3339 with µs", ts);
    cr_assert_eq(ts[26], 'Z');
    cr_assert_eq(ts[19], '.');
    th_response_free(&r);
}

Test(system, version_reports_version_and_api)
{
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/version", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "version")), "0.1.0");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "api")), "v1");
    th_response_free(&r);
}

Test(system, ready_names_every_daemon_up)
{
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/ready", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ready");
    json_t *services = json_object_get(r.json, "services");
    const char *names[] = {"auth", "diary", "sentiment"};
    for (int i = 0; i < 3; i++)
        cr_assert_str_eq(json_string_value(json_object_get(services, names[i])), "up");
    th_response_free(&r);
}

Test(system, ready_follows_a_daemon_going_down_and_coming_back)
{
    int status = th_daemon_signal(&stack, TH_DIARY, SIGKILL);
    cr_assert(WIFSIGNALED(status));

    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/ready", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 503, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "degraded");
    json_t *services = json_object_get(r.json, "services");
    cr_assert_str_eq(json_string_value(json_object_get(services, "diary")), "down");
    cr_assert_str_eq(json_string_value(json_object_get(services, "auth")), "up");
    cr_assert_str_eq(json_string_value(json_object_get(services, "sentiment")), "up");
    th_response_free(&r);

    /* The same gateway picks the restarted daemon up by itself. */
    cr_assert_eq(th_daemon_start(&stack, TH_DIARY), 0);
    cr_assert_eq(th_wait_ready(&stack, 200, 10000), 0, "gateway never saw td-diary return");
}

Test(system, unknown_path_is_404_not_found)
{
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/no/such/route", NULL, NULL, &r), 0);
    assert_error_shape(&r, 404, "not_found");
    th_response_free(&r);
}

Test(system, prefix_of_a_route_is_not_that_route)
{
    const char *paths[] = {"/health/", "/healthz", "/health/x", "/ready%00", "/%2fhealth"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct th_response r;
        cr_assert_eq(th_http(&stack, "GET", paths[i], NULL, NULL, &r), 0);
        assert_error_shape(&r, 404, "not_found");
        th_response_free(&r);
    }
}

Test(system, wrong_method_is_405_with_allow)
{
    struct th_response r;
    cr_assert_eq(th_http(&stack, "DELETE", "/health", NULL, NULL, &r), 0);
    assert_error_shape(&r, 405, "method_not_allowed");
    char allow[64];
    cr_assert(th_header(&r, "Allow", allow, sizeof allow));
    cr_assert_str_eq(allow, "GET");
    th_response_free(&r);
}

Test(system, request_id_is_passed_through_when_sane_and_replaced_when_not)
{
    struct th_response r;
    const char *sane[] = {"X-Request-ID: trace-abc.123_X", NULL};
    cr_assert_eq(th_http(&stack, "GET", "/health", sane, NULL, &r), 0);
    char rid[160];
    cr_assert(th_header(&r, "X-Request-ID", rid, sizeof rid));
    cr_assert_str_eq(rid, "trace-abc.123_X");
    th_response_free(&r);

    const char *insane[] = {"X-Request-ID: <script>alert(1)</script>", NULL};
    cr_assert_eq(th_http(&stack, "GET", "/health", insane, NULL, &r), 0);
    cr_assert(th_header(&r, "X-Request-ID", rid, sizeof rid));
    cr_assert_eq(strlen(rid), 32, "a fresh id replaces an unsafe one, got %s", rid);
    cr_assert_null(strchr(rid, '<'));
    th_response_free(&r);

    cr_assert_eq(th_http(&stack, "GET", "/health", NULL, NULL, &r), 0);
    cr_assert(th_header(&r, "X-Request-ID", rid, sizeof rid));
    cr_assert_eq(strlen(rid), 32);
    th_response_free(&r);
}

Test(system, ambiguous_framing_is_refused_with_400)
{
    char out[4096];
    const char dup_cl[] = "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                          "Content-Length: 5\r\n\r\n{}";
    cr_assert_gt(th_raw(&stack, dup_cl, sizeof dup_cl - 1, out, sizeof out, 2000), 0);
    cr_assert(strncmp(out, "HTTP/1.1 400", 12) == 0, "got: %s", out);
    cr_assert_not_null(strstr(out, "\"error\":\"bad_request\""));

    const char cl_te[] = "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    cr_assert_gt(th_raw(&stack, cl_te, sizeof cl_te - 1, out, sizeof out, 2000), 0);
    cr_assert(strncmp(out, "HTTP/1.1 400", 12) == 0, "got: %s", out);
}

Test(system, malformed_request_line_gets_the_json_error_shape)
{
    char out[4096];
    const char bad[] = "GARBAGE\r\n\r\n";
    cr_assert_gt(th_raw(&stack, bad, sizeof bad - 1, out, sizeof out, 2000), 0);
    cr_assert(strncmp(out, "HTTP/1.1 4", 10) == 0, "got: %s", out);
    cr_assert_not_null(strstr(out, "\"error\":"), "got: %s", out);
}

/* With LOG_LEVEL=debug each daemon logs one line per RPC it serves: the
 * client's X-Request-ID must be on the line of every daemon the request
 * went through (gateway -> td-diary -> td-sentiment). */
static struct th_stack debug_stack;

/* The gateway writes its access line after the response has gone out, so
 * every line is waited for, not read once. */
static bool logged(const char *name, const char *needle)
{
    return th_wait_log(&debug_stack, name, needle, TH_WAIT_MS);
}

Test(request_id, follows_a_request_through_every_daemon, .timeout = 60)
{
    struct th_options opts = {.env = {"LOG_LEVEL=debug"}};
    cr_assert_eq(th_stack_start(&debug_stack, &opts), 0);
    const char *h[] = {"X-Request-ID: follow-me-123", "Content-Type: application/json", NULL};
    struct th_response r;
    cr_assert_eq(th_http(&debug_stack, "POST", "/auth/register", h,
                         "{\"email\": \"trace@example.com\", \"password\": \"Str0ng!Passw0rd\"}",
                         &r),
                 0);
    cr_assert_eq(r.status, 201, "%s", r.body);
    th_response_free(&r);
    cr_assert(logged("td-gateway.log", "[follow-me-123] access: "));
    cr_assert(logged("td-auth.log", "[follow-me-123] rpc: auth.register 201"));

    char *token = th_token_access(1, 600);
    char auth[2048];
    cr_assert_not_null(th_bearer_header(token, auth, sizeof auth));
    const char *h2[] = {"X-Request-ID: follow-me-456", "Content-Type: application/json", auth,
                        NULL};
    cr_assert_eq(th_http(&debug_stack, "POST", "/diaries", h2, "{\"content\": \"A calm day.\"}",
                         &r),
                 0);
    cr_assert_eq(r.status, 201, "%s", r.body);
    th_response_free(&r);
    free(token);
    cr_assert(logged("td-diary.log", "[follow-me-456] rpc: diary.create 201"));
    cr_assert(logged("td-sentiment.log", "[follow-me-456] rpc: sentiment.analyze 200"));
    cr_assert_eq(th_stack_stop(&debug_stack), 0);
}

Test(system, rpc_ipc_sockets_are_closed_to_others)
{
    /* The daemons trust the envelope's user id: only the service accounts
     * (owner and group) may connect to their sockets. */
    const char *names[] = {"auth.sock", "diary.sock", "sentiment.sock", "events.sock"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[400];
        snprintf(path, sizeof path, "%s/%s", stack.dir, names[i]);
        struct stat st;
        cr_assert_eq(stat(path, &st), 0, "%s missing", names[i]);
        cr_assert_eq(st.st_mode & 0777, 0660, "%s has mode %o", names[i], st.st_mode & 0777);
    }
}
