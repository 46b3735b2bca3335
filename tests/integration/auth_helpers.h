/*
 * auth_helpers.h — shared by the test_auth*.c integration tests: JSON
 * requests with or without a bearer token, registering and logging in, and
 * signing tokens of our own with libjwt (the harness secret is known).
 */
#ifndef TD_TEST_AUTH_HELPERS_H
#define TD_TEST_AUTH_HELPERS_H

#include "harness.h"

#include <criterion/criterion.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GOOD_PASSWORD "Str0ng!Passw0rd"

/* One request to base_url; token may be NULL, body may be NULL. Returns
 * th_http_url's result (0: *r holds the answer), for callers that count a
 * failed request rather than fail the test (worker threads). */
static inline int try_req_url(const char *base, const char *method, const char *path,
                              const char *token, const char *body, struct th_response *r)
{
    char auth[8192];
    const char *headers[3] = {NULL, NULL, NULL};
    int n = 0;
    if (body != NULL)
        headers[n++] = "Content-Type: application/json";
    if (token != NULL) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers[n++] = auth;
    }
    return th_http_url(base, method, path, headers, body, r);
}

/* The same, failing the test when the request itself fails. */
static inline void req_url(const char *base, const char *method, const char *path,
                           const char *token, const char *body, struct th_response *r)
{
    cr_assert_eq(try_req_url(base, method, path, token, body, r), 0, "%s %s failed", method,
                 path);
}

static inline void req(struct th_stack *s, const char *method, const char *path,
                       const char *token, const char *body, struct th_response *r)
{
    req_url(s->base_url, method, path, token, body, r);
}

/* Asserts status + error code and frees the response. */
static inline void expect_error(struct th_response *r, long status, const char *code,
                                const char *what)
{
    cr_expect_eq(r->status, status, "%s: status %ld, want %ld: %s", what, r->status, status,
                 r->body);
    const char *got = json_string_value(json_object_get(r->json, "error"));
    cr_expect(got && strcmp(got, code) == 0, "%s: error %s, want %s", what, got ? got : "(none)",
              code);
    if (status == 401) {
        char www[128] = "";
        cr_expect(th_header(r, "WWW-Authenticate", www, sizeof www),
                  "%s: 401 without WWW-Authenticate", what);
        cr_expect(strncmp(www, "Bearer", 6) == 0, "%s: WWW-Authenticate %s", what, www);
    }
    th_response_free(r);
}

/* Asserts a 400 validation_error whose details name `field`. */
static inline void expect_invalid_field(struct th_response *r, const char *field,
                                        const char *what)
{
    json_t *details = json_object_get(r->json, "details");
    cr_expect(json_is_array(json_object_get(details, field)), "%s: details lack %s: %s", what,
              field, r->body);
    expect_error(r, 400, "validation_error", what);
}

static inline void register_user(struct th_stack *s, const char *email, const char *pw)
{
    char body[512];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, pw);
    struct th_response r;
    req(s, "POST", "/auth/register", NULL, body, &r);
    cr_assert_eq(r.status, 201, "register %s: %ld %s", email, r.status, r.body);
    th_response_free(&r);
}

/* For th_wait_until: GET /auth/me at `base` with `token` answers `status`. */
struct me_probe {
    const char *base, *token;
    long status;
};

static inline bool me_answers(void *arg)
{
    const struct me_probe *p = arg;
    struct th_response r;
    req_url(p->base, "GET", "/auth/me", p->token, NULL, &r);
    long got = r.status;
    th_response_free(&r);
    return got == p->status;
}

/* Polls until GET /auth/me at `base` answers `status`, for at most
 * timeout_ms; prints and returns the ms it took, or -1. A revocation
 * reaches another gateway beside the request that made it: the time is
 * printed, and a generous deadline is what tests assert, as a loaded CI
 * machine can stretch any latency. */
static inline long long wait_me_status(const char *base, const char *token, long status,
                                       int timeout_ms)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct me_probe p = {base, token, status};
    if (!th_wait_until(me_answers, &p, timeout_ms))
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long took = (long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    fprintf(stderr, "/auth/me at %s answered %ld after %lld ms\n", base, status, took);
    return took;
}

/* POST /diaries with `text` (plain, no quotes to escape): the new entry's id. */
static inline int64_t create_entry(struct th_stack *s, const char *token, const char *text)
{
    char body[512];
    snprintf(body, sizeof body, "{\"content\":\"%s\"}", text);
    struct th_response r;
    req(s, "POST", "/diaries", token, body, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    int64_t id = (int64_t)json_integer_value(json_object_get(r.json, "id"));
    th_response_free(&r);
    return id;
}

struct tokens {
    char access[2048];
    char refresh[2048];
};

static inline void tokens_from(struct th_response *r, struct tokens *t, const char *what)
{
    cr_assert_eq(r->status, 200, "%s: %ld %s", what, r->status, r->body);
    const char *a = json_string_value(json_object_get(r->json, "access_token"));
    const char *f = json_string_value(json_object_get(r->json, "refresh_token"));
    cr_assert(a && f, "%s: no tokens: %s", what, r->body);
    snprintf(t->access, sizeof t->access, "%s", a);
    snprintf(t->refresh, sizeof t->refresh, "%s", f);
    th_response_free(r);
}

static inline void login_url(const char *base, const char *email, const char *pw,
                             struct tokens *t)
{
    char body[512];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, pw);
    struct th_response r;
    req_url(base, "POST", "/auth/login", NULL, body, &r);
    tokens_from(&r, t, "login");
}

static inline void login(struct th_stack *s, const char *email, const char *pw, struct tokens *t)
{
    login_url(s->base_url, email, pw, t);
}

/* The payload of a token as JSON (caller decrefs). */
static inline json_t *token_claims(const char *token)
{
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    cr_assert(d1 && d2, "not a JWT");
    unsigned char bin[2048];
    size_t len = 0;
    cr_assert_eq(sodium_base642bin(bin, sizeof bin, d1 + 1, (size_t)(d2 - d1 - 1), NULL, &len,
                                   NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                 0);
    json_t *j = json_loadb((const char *)bin, len, 0, NULL);
    cr_assert_not_null(j);
    return j;
}

/* Claims of a token td-auth would issue for `uid` right now (caller edits
 * and decrefs). */
static inline json_t *good_claims(long long uid, const char *type)
{
    long long now = (long long)time(NULL);
    char sub[24], jti[32];
    snprintf(sub, sizeof sub, "%lld", uid);
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(jti, sizeof jti, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:I}", "sub", sub, "type", type, "iat",
                          (json_int_t)now, "nbf", (json_int_t)now, "exp",
                          (json_int_t)(now + 900), "jti", jti, "iat_us",
                          (json_int_t)(now * 1000000 + 1));
    if (strcmp(type, "access") == 0)
        json_object_set_new(c, "fresh", json_true());
    else
        json_object_set_new(c, "fam", json_string("AAAAAAAAAAAAAAAAAAAAAA"));
    return c;
}

/* Signs `claims` (decref'd here) with alg and key; returns a malloc'd token. */
static inline char *sign(json_t *claims, jwt_alg_t alg, const char *key)
{
    char *json = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    jwt_t *jwt = NULL;
    cr_assert_eq(jwt_new(&jwt), 0);
    cr_assert_eq(jwt_add_grants_json(jwt, json), 0);
    free(json);
    cr_assert_eq(jwt_set_alg(jwt, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0), 0);
    char *token = jwt_encode_str(jwt);
    jwt_free(jwt);
    cr_assert_not_null(token);
    return token;
}

#endif
