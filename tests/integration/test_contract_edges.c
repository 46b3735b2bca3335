/*
 * test_contract_edges.c — corners of the HTTP contract an independent audit found:
 * a 413 judged on Content-Length still carries the CORS and rate-limit
 * headers; a route that takes no body refuses one (415 / unknown fields);
 * "\u0000" inside a string is a validation error, not invalid JSON; a
 * missing_token 401 carries the bare Bearer challenge.
 */
#include "harness.h"
#include "suite.h"
#include "tokens.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static char bearer[2100];

static void after_start(void)
{
    char *token = th_token_access(9, 600);
    cr_assert_not_null(th_bearer_header(token, bearer, sizeof bearer));
    free(token);
}

TH_STACK_SUITE_THEN(contract, 60, after_start,
                    .env = {"RATELIMIT_ENABLED=true", "RATELIMIT_REGISTER=100/hour",
                            "CORS_ORIGINS=http://localhost:5173"});

static const char *error_of(const struct th_response *r)
{
    const char *e = json_string_value(json_object_get(r->json, "error"));
    return e ? e : "(none)";
}

Test(contract, early_413_keeps_cors_and_rate_limit_headers)
{
    size_t big = 300000;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    body[big] = '\0';
    const char *h[] = {"Origin: http://localhost:5173", "Content-Type: application/json", NULL};
    struct th_response r;
    cr_assert_eq(th_http(&stack, "POST", "/auth/register", h, body, &r), 0);
    free(body);
    cr_assert_eq(r.status, 413, "%s", r.body);
    cr_assert_str_eq(error_of(&r), "payload_too_large");
    char v[256];
    cr_assert(th_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    cr_assert_str_eq(v, "http://localhost:5173");
    cr_assert(th_header(&r, "Vary", v, sizeof v));
    cr_assert(th_header(&r, "X-RateLimit-Limit", v, sizeof v));
    cr_assert(th_header(&r, "X-RateLimit-Remaining", v, sizeof v));
    cr_assert(th_header(&r, "X-RateLimit-Reset", v, sizeof v));
    th_response_free(&r);
}

Test(contract, a_route_without_a_body_refuses_one)
{
    const char *text[] = {bearer, "Content-Type: text/plain", NULL};
    struct th_response r;
    cr_assert_eq(th_http(&stack, "DELETE", "/diaries/5", text, "garbage", &r), 0);
    cr_assert_eq(r.status, 415, "%s", r.body);
    th_response_free(&r);

    const char *json[] = {bearer, "Content-Type: application/json", NULL};
    cr_assert_eq(th_http(&stack, "DELETE", "/diaries/5", json, "{\"x\": 1}", &r), 0);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert_str_eq(error_of(&r), "validation_error");
    cr_assert_not_null(json_object_get(json_object_get(r.json, "details"), "x"), "%s", r.body);
    th_response_free(&r);

    /* An empty object is no field at all: the request goes through. */
    cr_assert_eq(th_http(&stack, "DELETE", "/diaries/5", json, "{}", &r), 0);
    cr_assert_eq(r.status, 404, "%s", r.body);
    cr_assert_str_eq(error_of(&r), "diary_not_found");
    th_response_free(&r);
}

Test(contract, nul_inside_a_string_is_a_validation_error)
{
    const char *json[] = {bearer, "Content-Type: application/json", NULL};
    struct th_response r;
    cr_assert_eq(th_http(&stack, "POST", "/diaries", json, "{\"content\": \"a\\u0000b\"}", &r), 0);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert_str_eq(error_of(&r), "validation_error");
    cr_assert_not_null(json_object_get(json_object_get(r.json, "details"), "content"), "%s",
                       r.body);
    th_response_free(&r);

    const char *plain[] = {"Content-Type: application/json", NULL};
    cr_assert_eq(th_http(&stack, "POST", "/auth/register", plain,
                         "{\"email\": \"a\\u0000@example.com\", \"password\": \"Str0ng!Passw0rd\"}",
                         &r),
                 0);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert_str_eq(error_of(&r), "validation_error");
    th_response_free(&r);
}

Test(contract, another_scheme_is_missing_token_with_the_bare_challenge)
{
    const char *h[] = {"Authorization: Basic abc", NULL};
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/auth/me", h, NULL, &r), 0);
    cr_assert_eq(r.status, 401);
    cr_assert_str_eq(error_of(&r), "missing_token");
    char v[128];
    cr_assert(th_header(&r, "WWW-Authenticate", v, sizeof v));
    cr_assert_str_eq(v, "Bearer");
    th_response_free(&r);
}
