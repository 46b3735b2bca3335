/*
 * test_diary.c — the /diaries routes of the HTTP contract
 * (gateway/docs/openapi.json) through the real gateway,
 * td-diary and td-sentiment: every route and status, two users kept apart,
 * pagination over 25 entries, stats after a mix of entries, hostile content,
 * td-sentiment killed during a burst of creates and analysed after it comes
 * back. Tokens are signed by the test (tokens.h) with the stack's secret.
 */
#include "harness.h"
#include "suite.h"
#include "td_mp.h"
#include "td_rpc.h"
#include "tokens.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Tests here kill or stop a daemon while others still send to it. */
TH_STACK_SUITE(diary, 120, .peers_die = true);

/* ---- helpers ------------------------------------------------------------ */

/* One HTTP exchange as user `uid` (0: no Authorization header). */
static void call(const char *method, const char *path, int64_t uid, const char *body,
                 struct th_response *r)
{
    char auth[1024];
    const char *headers[4] = {NULL};
    int n = 0;
    char *token = NULL;
    if (uid > 0) {
        token = th_token_access(uid, 900);
        cr_assert_not_null(token);
        headers[n++] = th_bearer_header(token, auth, sizeof auth);
    }
    if (body != NULL)
        headers[n++] = "Content-Type: application/json";
    cr_assert_eq(th_http(&stack, method, path, headers, body, r), 0, "%s %s failed", method, path);
    free(token);
}

static char *content_body(const char *content)
{
    json_t *j = json_pack("{s:s}", "content", content);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static void post_entry(int64_t uid, const char *content, struct th_response *r)
{
    char *body = content_body(content);
    call("POST", "/diaries", uid, body, r);
    free(body);
}

/* Creates an entry and returns its id (asserting 201). */
static int64_t create_ok(int64_t uid, const char *content)
{
    struct th_response r;
    post_entry(uid, content, &r);
    cr_assert_eq(r.status, 201, "create: %ld %s", r.status, r.body);
    int64_t id = json_integer_value(json_object_get(r.json, "id"));
    th_response_free(&r);
    return id;
}

static void assert_error(const struct th_response *r, long status, const char *code)
{
    cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status, status, r->body);
    cr_assert_not_null(r->json, "not JSON: %s", r->body);
    const char *got = json_string_value(json_object_get(r->json, "error"));
    cr_assert_not_null(got, "no error field: %s", r->body);
    cr_assert_str_eq(got, code, "body: %s", r->body);
    cr_assert(json_is_string(json_object_get(r->json, "message")));
}

static void assert_detail(const struct th_response *r, const char *field)
{
    json_t *list = json_object_get(json_object_get(r->json, "details"), field);
    cr_assert(json_is_array(list) && json_array_size(list) > 0, "no detail for %s: %s", field,
              r->body);
}

static bool is_timestamp(const char *s)
{
    if (s == NULL || strlen(s) != 27 || s[26] != 'Z' || s[19] != '.' || s[10] != 'T')
        return false;
    for (int i = 20; i < 26; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* An entry exactly as the contract shows it: eight fields of the right types. */
static void assert_entry_shape(json_t *e)
{
    cr_assert(json_is_object(e));
    cr_assert_eq(json_object_size(e), 8, "entry has %zu fields", json_object_size(e));
    cr_assert(json_is_integer(json_object_get(e, "id")));
    cr_assert(json_is_integer(json_object_get(e, "user_id")));
    cr_assert(json_is_string(json_object_get(e, "content")));
    cr_assert(json_is_string(json_object_get(e, "analyzed_content")));
    cr_assert(json_is_integer(json_object_get(e, "positive_count")));
    cr_assert(json_is_integer(json_object_get(e, "negative_count")));
    cr_assert(is_timestamp(json_string_value(json_object_get(e, "created_at"))));
    cr_assert(is_timestamp(json_string_value(json_object_get(e, "updated_at"))));
}

/* The HTML escape the contract requires (& < > " '). */
static char *escape(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : *p == '"' || *p == '\'' ? 6 : 1;
    char *out = malloc(n + 1), *o = out;
    for (const char *p = s; *p; p++) {
        const char *e = *p == '&'    ? "&amp;"
                        : *p == '<'  ? "&lt;"
                        : *p == '>'  ? "&gt;"
                        : *p == '"'  ? "&quot;"
                        : *p == '\'' ? "&#39;"
                                     : NULL;
        if (e) {
            strcpy(o, e);
            o += strlen(e);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* The contract's promise about analyzed_content: the only tags are the two span
 * classes and their closing tag, and removing them and unescaping gives the
 * content back exactly. */
static void assert_safe_markup_of(const char *markup, const char *content)
{
    static const char *const tags[] = {"<span class=\"positive\">", "<span class=\"negative\">",
                                       "</span>"};
    static const char *const ents[][2] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"},
                                          {"&quot;", "\""}, {"&#39;", "'"}};
    char *plain = malloc(strlen(markup) + 1), *o = plain;
    for (const char *p = markup; *p;) {
        bool matched = false;
        if (*p == '<') {
            for (size_t t = 0; t < 3 && !matched; t++) {
                if (strncmp(p, tags[t], strlen(tags[t])) == 0) {
                    p += strlen(tags[t]);
                    matched = true;
                }
            }
            cr_assert(matched, "a foreign tag in %s", markup);
            continue;
        }
        if (*p == '&') {
            for (size_t e = 0; e < 5 && !matched; e++) {
                if (strncmp(p, ents[e][0], strlen(ents[e][0])) == 0) {
                    *o++ = ents[e][1][0];
                    p += strlen(ents[e][0]);
                    matched = true;
                }
            }
            cr_assert(matched, "a foreign entity in %s", markup);
            continue;
        }
        cr_assert(*p != '>' && *p != '"' && *p != '\'', "unescaped %c in %s", *p, markup);
        *o++ = *p++;
    }
    *o = '\0';
    cr_assert_str_eq(plain, content, "stripping and unescaping does not give the content back");
    free(plain);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- authentication ------------------------------------------------------ */

Test(diary, every_route_needs_an_access_token)
{
    const char *routes[][2] = {{"GET", "/diaries"},        {"POST", "/diaries"},
                               {"GET", "/diaries/stats"},  {"GET", "/diaries/1"},
                               {"PUT", "/diaries/1"},      {"DELETE", "/diaries/1"}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        struct th_response r;
        call(routes[i][0], routes[i][1], 0, NULL, &r);
        assert_error(&r, 401, "missing_token");
        char cc[64];
        cr_assert(th_header(&r, "WWW-Authenticate", cc, sizeof cc), "%s %s", routes[i][0],
                  routes[i][1]);
        th_response_free(&r);
    }
    /* A refresh token is the wrong type for the diary routes. */
    char *refresh = th_token_new(1, "refresh", 900);
    char auth[1024];
    const char *headers[] = {th_bearer_header(refresh, auth, sizeof auth), NULL};
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/diaries", headers, NULL, &r), 0);
    assert_error(&r, 401, "invalid_token");
    th_response_free(&r);
    free(refresh);
}

/* ---- the entry's life ---------------------------------------------------- */

Test(diary, create_get_update_delete)
{
    struct th_response r;
    post_entry(1, "I felt happy today!", &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    assert_entry_shape(r.json);
    char cc[64];
    cr_assert(th_header(&r, "Cache-Control", cc, sizeof cc));
    cr_assert_str_eq(cc, "no-store");
    int64_t id = json_integer_value(json_object_get(r.json, "id"));
    cr_assert_gt(id, 0);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "user_id")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "content")), "I felt happy today!");
    char *created = strdup(json_string_value(json_object_get(r.json, "created_at")));
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "updated_at")), created);
    th_response_free(&r);

    char path[64];
    snprintf(path, sizeof path, "/diaries/%lld", (long long)id);
    call("GET", path, 1, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    assert_entry_shape(r.json);
    cr_assert(th_header(&r, "Cache-Control", cc, sizeof cc));
    cr_assert_str_eq(cc, "no-store");
    th_response_free(&r);

    sleep_ms(5);
    char *body = content_body("Changed my mind.");
    call("PUT", path, 1, body, &r);
    free(body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    assert_entry_shape(r.json);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "content")), "Changed my mind.");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "created_at")), created);
    cr_assert_gt(strcmp(json_string_value(json_object_get(r.json, "updated_at")), created), 0,
                 "updated_at moves");
    th_response_free(&r);

    call("DELETE", path, 1, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "message")),
                     "Diary entry deleted successfully");
    th_response_free(&r);

    call("GET", path, 1, NULL, &r);
    assert_error(&r, 404, "diary_not_found");
    th_response_free(&r);
    call("PUT", path, 1, "{\"content\":\"x\"}", &r);
    assert_error(&r, 404, "diary_not_found");
    th_response_free(&r);
    call("DELETE", path, 1, NULL, &r);
    assert_error(&r, 404, "diary_not_found");
    th_response_free(&r);
    free(created);
}

Test(diary, bad_path_ids_are_not_found)
{
    const char *paths[] = {"/diaries/0", "/diaries/abc", "/diaries/-1", "/diaries/1.5",
                           "/diaries/01", "/diaries/12345678901234567890", "/diaries/1%00",
                           "/diaries/1/", "/diaries/stats/1"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct th_response r;
        call("GET", paths[i], 1, NULL, &r);
        assert_error(&r, 404, "not_found");
        th_response_free(&r);
    }
    struct th_response r;
    call("GET", "/diaries/999999", 1, NULL, &r);
    assert_error(&r, 404, "diary_not_found");
    th_response_free(&r);
    call("POST", "/diaries/stats", 1, "{}", &r);
    assert_error(&r, 405, "method_not_allowed");
    th_response_free(&r);
    call("PATCH", "/diaries/1", 1, "{}", &r);
    assert_error(&r, 405, "method_not_allowed");
    char allow[64];
    cr_assert(th_header(&r, "Allow", allow, sizeof allow));
    cr_assert_not_null(strstr(allow, "PUT"));
    th_response_free(&r);
}

Test(diary, two_users_are_kept_apart)
{
    int64_t id = create_ok(1, "User one's secret thoughts");
    char path[64];
    snprintf(path, sizeof path, "/diaries/%lld", (long long)id);
    struct th_response r;
    call("GET", path, 2, NULL, &r);
    assert_error(&r, 403, "forbidden");
    th_response_free(&r);
    call("PUT", path, 2, "{\"content\":\"hijacked\"}", &r);
    assert_error(&r, 403, "forbidden");
    th_response_free(&r);
    call("DELETE", path, 2, NULL, &r);
    assert_error(&r, 403, "forbidden");
    th_response_free(&r);

    call("GET", "/diaries", 2, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 0);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "pages")), 0);
    cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 0);
    th_response_free(&r);
    call("GET", "/diaries/stats", 2, NULL, &r);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total_entries")), 0);
    th_response_free(&r);

    call("GET", path, 1, NULL, &r);
    cr_assert_eq(r.status, 200, "untouched by user 2");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "content")),
                     "User one's secret thoughts");
    th_response_free(&r);
}

/* ---- content rules ------------------------------------------------------- */

Test(diary, content_rules_are_400_validation_error)
{
    /* 10,001 characters; then 10,000 four-byte characters are fine. */
    char *long_ascii = malloc(10002);
    memset(long_ascii, 'a', 10001);
    long_ascii[10001] = '\0';
    const char *bad[] = {"", "   ", "\t\n ", "\xe3\x80\x80\xc2\xa0", long_ascii};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct th_response r;
        post_entry(1, bad[i], &r);
        assert_error(&r, 400, "validation_error");
        assert_detail(&r, "content");
        th_response_free(&r);
    }
    free(long_ascii);

    char *emoji = malloc(40001);
    for (int i = 0; i < 10000; i++)
        memcpy(emoji + i * 4, "\xf0\x9f\x98\x8a", 4);
    emoji[40000] = '\0';
    struct th_response r;
    post_entry(1, emoji, &r);
    cr_assert_eq(r.status, 201, "10,000 emoji are 10,000 characters: %.200s", r.body);
    cr_assert_eq(strlen(json_string_value(json_object_get(r.json, "content"))), 40000);
    th_response_free(&r);
    free(emoji);

    const char *bodies[][2] = {
        {"{}", "content"},
        {"{\"content\": 42}", "content"},
        {"{\"content\": null}", "content"},
        {"{\"content\": [\"x\"]}", "content"},
        {"{\"content\": \"ok\", \"mood\": \"happy\"}", "mood"},
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        call("POST", "/diaries", 1, bodies[i][0], &r);
        assert_error(&r, 400, "validation_error");
        assert_detail(&r, bodies[i][1]);
        th_response_free(&r);
    }
    /* NUL and invalid UTF-8 never get past the JSON parser. */
    call("POST", "/diaries", 1, "{\"content\": \"a\\u0000b\"}", &r);
    cr_assert_eq(r.status, 400, "%s", r.body);
    th_response_free(&r);
    call("POST", "/diaries", 1, "{\"content\": \"bad \xff\"}", &r);
    assert_error(&r, 400, "invalid_json");
    th_response_free(&r);
    call("POST", "/diaries", 1, "not json", &r);
    assert_error(&r, 400, "invalid_json");
    th_response_free(&r);

    char auth[1024];
    char *token = th_token_access(1, 900);
    const char *text_plain[] = {th_bearer_header(token, auth, sizeof auth),
                                "Content-Type: text/plain", NULL};
    cr_assert_eq(th_http(&stack, "POST", "/diaries", text_plain, "{\"content\":\"x\"}", &r), 0);
    assert_error(&r, 415, "unsupported_media_type");
    th_response_free(&r);
    free(token);

    /* The same rules on update; an id in the body is an unknown field. */
    int64_t id = create_ok(1, "fine");
    char path[64];
    snprintf(path, sizeof path, "/diaries/%lld", (long long)id);
    call("PUT", path, 1, "{\"content\": \"  \"}", &r);
    assert_error(&r, 400, "validation_error");
    assert_detail(&r, "content");
    th_response_free(&r);
    call("PUT", path, 1, "{\"content\": \"x\", \"id\": 5}", &r);
    assert_error(&r, 400, "validation_error");
    assert_detail(&r, "id");
    th_response_free(&r);
}

Test(diary, script_content_comes_back_escaped)
{
    const char *evil = "<script>alert('x')</script> & \"quotes\" <img src=x onerror=alert(1)>";
    struct th_response r;
    post_entry(1, evil, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "content")), evil);
    const char *a = json_string_value(json_object_get(r.json, "analyzed_content"));
    assert_safe_markup_of(a, evil);
    cr_assert_null(strstr(a, "<script"), "analyzed_content: %s", a);
    cr_assert_null(strstr(a, "<img"), "analyzed_content: %s", a);
    cr_assert_not_null(strstr(a, "&lt;script&gt;"), "%s", a);
    cr_assert_not_null(strstr(a, "&quot;quotes&quot;"), "%s", a);
    th_response_free(&r);
}

/* ---- pagination ---------------------------------------------------------- */

static void list(int64_t uid, const char *query, struct th_response *r)
{
    char path[256];
    snprintf(path, sizeof path, "/diaries%s%s", query[0] ? "?" : "", query);
    call("GET", path, uid, NULL, r);
}

Test(diary, pagination_over_25_entries)
{
    int64_t ids[25];
    for (int i = 0; i < 25; i++) {
        char text[32];
        snprintf(text, sizeof text, "entry number %d", i + 1);
        ids[i] = create_ok(3, text);
    }
    create_ok(4, "someone else");

    struct th_response r;
    list(3, "", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "page")), 1);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "per_page")), 10);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 25);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "pages")), 3);
    json_t *items = json_object_get(r.json, "items");
    cr_assert_eq(json_array_size(items), 10);
    for (size_t i = 0; i < 10; i++) {
        assert_entry_shape(json_array_get(items, i));
        cr_assert_eq(json_integer_value(json_object_get(json_array_get(items, i), "id")),
                     ids[24 - i], "newest first, position %zu", i);
    }
    cr_assert(th_header(&r, "Cache-Control", (char[32]){0}, 32));
    th_response_free(&r);

    list(3, "page=3", &r);
    items = json_object_get(r.json, "items");
    cr_assert_eq(json_array_size(items), 5);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(items, 4), "id")), ids[0]);
    th_response_free(&r);

    list(3, "page=2&per_page=7", &r);
    items = json_object_get(r.json, "items");
    cr_assert_eq(json_array_size(items), 7);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(items, 0), "id")), ids[17]);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "pages")), 4);
    th_response_free(&r);

    list(3, "page=4", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 0, "a page past the end");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "page")), 4);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 25);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "pages")), 3);
    th_response_free(&r);

    list(3, "page=9223372036854775807&per_page=100", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 0);
    th_response_free(&r);

    list(3, "per_page=1000", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "per_page")), 100,
                 "the per_page actually used");
    cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 25);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "pages")), 1);
    th_response_free(&r);

    const char *values[] = {"", "0", "-1", "1.5", "1e3", "0x10", "abc", "%31", "+1"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char q[64];
        snprintf(q, sizeof q, "page=%s", values[i]);
        list(3, q, &r);
        assert_error(&r, 400, "validation_error");
        assert_detail(&r, "page");
        th_response_free(&r);
        snprintf(q, sizeof q, "per_page=%s", values[i]);
        list(3, q, &r);
        assert_error(&r, 400, "validation_error");
        assert_detail(&r, "per_page");
        th_response_free(&r);
    }

    list(5, "", &r);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 0);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "pages")), 0, "no entries, no pages");
    th_response_free(&r);
}

/* ---- stats --------------------------------------------------------------- */

Test(diary, stats_after_a_mix_of_entries)
{
    struct th_response r;
    call("GET", "/diaries/stats", 6, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_object_size(r.json), 7);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total_entries")), 0);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "overall")), "neutral");
    th_response_free(&r);

    const char *texts[] = {"I am happy and grateful today.", "What a wonderful, lovely day!",
                           "I feel sad and terrible.", "The meeting is at noon.",
                           "Happy but also a bit sad.", "I love this, it is great."};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        create_ok(6, texts[i]);
    create_ok(7, "I am so happy, joyful and glad."); /* another user's */

    /* The expected figures follow from the entries as the API returns them. */
    long long pos_e = 0, neg_e = 0, neu_e = 0, pos_t = 0, neg_t = 0;
    call("GET", "/diaries?per_page=100", 6, NULL, &r);
    json_t *items = json_object_get(r.json, "items");
    cr_assert_eq(json_array_size(items), 6);
    for (size_t i = 0; i < json_array_size(items); i++) {
        long long p = json_integer_value(json_object_get(json_array_get(items, i), "positive_count"));
        long long n = json_integer_value(json_object_get(json_array_get(items, i), "negative_count"));
        pos_e += p > n, neg_e += p < n, neu_e += p == n, pos_t += p, neg_t += n;
    }
    th_response_free(&r);

    call("GET", "/diaries/stats", 6, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_object_size(r.json), 7);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total_entries")), 6);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "positive_entries")), pos_e);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "negative_entries")), neg_e);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "neutral_entries")), neu_e);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "positive_count_total")), pos_t);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "negative_count_total")), neg_t);
    const char *overall = pos_t > neg_t ? "positive" : pos_t < neg_t ? "negative" : "neutral";
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "overall")), overall);
    th_response_free(&r);
    /* With the embedded analyzer, this mix leans positive. */
    cr_assert_gt(pos_t, 0, "the analyzer found nothing positive");
    cr_assert_gt(neg_t, 0, "the analyzer found nothing negative");
    cr_assert_gt(pos_e, 0);
    cr_assert_gt(neg_e, 0);
}

/* ---- td-sentiment down --------------------------------------------------- */

#define BURST 12

/* Deadline for td-diary's pending pass: it backs off up to 4 s while
 * td-sentiment is down, and a restarted td-sentiment must come up first. */
#define PENDING_WAIT_MS 30000

/* GET /diaries/<id> as `uid`; the response is left in *r (200 asserted). */
static void get_entry(int64_t uid, int64_t id, struct th_response *r)
{
    char path[64];
    snprintf(path, sizeof path, "/diaries/%lld", (long long)id);
    call("GET", path, uid, NULL, r);
    cr_assert_eq(r->status, 200, "%s", r->body);
}

/* The burst's entries, and which of them carry their analysis yet. */
struct burst_probe {
    const int64_t *ids;
    char (*texts)[64];
    bool done[BURST];
    int left;
};

/* "happy" is positive for the embedded analyzer, so an analysed entry of the
 * burst has a positive span; its markup is checked once, when it lands. */
static bool burst_analysed(void *arg)
{
    struct burst_probe *p = arg;
    for (int i = 0; i < BURST; i++) {
        if (p->done[i])
            continue;
        struct th_response r;
        get_entry(8, p->ids[i], &r);
        const char *a = json_string_value(json_object_get(r.json, "analyzed_content"));
        if (json_integer_value(json_object_get(r.json, "positive_count")) > 0 &&
            strstr(a, "<span class=\"positive\">") != NULL) {
            cr_assert_null(strstr(a, "<script"));
            assert_safe_markup_of(a, p->texts[i]);
            p->done[i] = true;
            p->left--;
        }
        th_response_free(&r);
    }
    return p->left == 0;
}

Test(diary, sentiment_killed_during_a_burst_then_pending_entries_get_analysed)
{
    int64_t ids[BURST];
    char texts[BURST][64];
    for (int i = 0; i < BURST; i++) {
        if (i == 3) {
            int st = th_daemon_signal(&stack, TH_SENTIMENT, SIGKILL);
            cr_assert(WIFSIGNALED(st), "td-sentiment was not killed");
        }
        snprintf(texts[i], sizeof texts[i], "I am happy <%d> & 'calm'", i);
        struct th_response r;
        post_entry(8, texts[i], &r);
        cr_assert_eq(r.status, 201, "create %d: %ld %s", i, r.status, r.body);
        ids[i] = json_integer_value(json_object_get(r.json, "id"));
        if (i >= 3) {
            char *esc = escape(texts[i]);
            cr_assert_str_eq(json_string_value(json_object_get(r.json, "analyzed_content")), esc,
                             "create %d while td-sentiment is down", i);
            cr_assert_eq(json_integer_value(json_object_get(r.json, "positive_count")), 0);
            cr_assert_eq(json_integer_value(json_object_get(r.json, "negative_count")), 0);
            free(esc);
        }
        th_response_free(&r);
    }

    /* An update while it is down is saved unanalysed too. */
    char path[64];
    snprintf(path, sizeof path, "/diaries/%lld", (long long)ids[0]);
    char *body = content_body("I am happy again");
    struct th_response r;
    call("PUT", path, 8, body, &r);
    free(body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "analyzed_content")),
                     "I am happy again");
    th_response_free(&r);
    snprintf(texts[0], sizeof texts[0], "I am happy again");

    cr_assert_eq(th_daemon_start(&stack, TH_SENTIMENT), 0);

    /* Every pending entry gets analysed by td-diary's background pass. */
    struct burst_probe p = {.ids = ids, .texts = texts, .left = BURST};
    th_wait_until(burst_analysed, &p, PENDING_WAIT_MS);
    cr_assert_eq(p.left, 0, "%d entries never analysed after td-sentiment came back", p.left);
}

/* Entry *(int64_t *)arg of user 9 is analysed; then it must be the analysis
 * of the edited text, never of the old one. */
static bool edit_analysed(void *arg)
{
    struct th_response r;
    get_entry(9, *(const int64_t *)arg, &r);
    bool analysed = json_integer_value(json_object_get(r.json, "positive_count")) > 0;
    if (analysed) {
        cr_assert_str_eq(json_string_value(json_object_get(r.json, "content")), "I am happy");
        cr_assert_eq(json_integer_value(json_object_get(r.json, "negative_count")), 0,
                     "the analysis of the old text never lands: %s", r.body);
    }
    th_response_free(&r);
    return analysed;
}

Test(diary, an_edit_made_while_pending_is_what_gets_analysed)
{
    int st = th_daemon_signal(&stack, TH_SENTIMENT, SIGKILL);
    cr_assert(WIFSIGNALED(st));
    int64_t id = create_ok(9, "I am sad");
    char path[64];
    snprintf(path, sizeof path, "/diaries/%lld", (long long)id);
    char *body = content_body("I am happy");
    struct th_response r;
    call("PUT", path, 9, body, &r);
    free(body);
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
    cr_assert_eq(th_daemon_start(&stack, TH_SENTIMENT), 0);
    cr_assert(th_wait_until(edit_analysed, &id, PENDING_WAIT_MS), "the edit was never analysed");
}

/* ---- account deletion ---------------------------------------------------- */

/* Calls diary.delete_user on td-diary directly, as td-auth does. */
static int64_t delete_user(int64_t uid)
{
    struct td_rpc_client *c = NULL;
    /* connect_grace_ms: a fresh client's first connection may take more than
     * the default 100 ms on a loaded machine. */
    struct td_rpc_client_opts o = {.service = "diary", .urls = stack.diary_url, .timeout_ms = 5000,
                                   .connect_grace_ms = 5000};
    cr_assert_eq(td_rpc_client_open(&o, &c), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    td_mp_pack_kv_int(&pk, "user_id", uid);
    struct td_rpc_call call_ = {.op = TD_OP_DIARY_DELETE_USER, .request_id = "test",
                                .args = sb.data, .args_len = sb.size};
    struct td_rpc_result res;
    cr_assert_eq(td_rpc_call(c, &call_, &res), 0);
    cr_assert_eq(res.status, 200);
    int64_t deleted = -1;
    cr_assert_eq(td_mp_as_int64(td_mp_map_get(res.result, "deleted"), &deleted), 0);
    td_rpc_result_free(&res);
    msgpack_sbuffer_destroy(&sb);
    td_rpc_client_free(&c);
    return deleted;
}

Test(diary, delete_user_removes_every_entry_of_that_user_only)
{
    int64_t id = create_ok(10, "one");
    create_ok(10, "two");
    create_ok(10, "three");
    create_ok(11, "not touched");
    cr_assert_eq(delete_user(10), 3);
    cr_assert_eq(delete_user(10), 0, "idempotent");
    struct th_response r;
    list(10, "", &r);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 0);
    th_response_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/diaries/%lld", (long long)id);
    call("GET", path, 10, NULL, &r);
    assert_error(&r, 404, "diary_not_found");
    th_response_free(&r);
    list(11, "", &r);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 1);
    th_response_free(&r);
}

/* Registers and logs in `account` (a JSON body); the access token's
 * Authorization header goes into auth[]. Returns the user id. */
static int64_t sign_up(const char *account, char *auth, size_t size)
{
    struct th_response r;
    call("POST", "/auth/register", 0, account, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    int64_t uid = json_integer_value(json_object_get(r.json, "id"));
    th_response_free(&r);
    call("POST", "/auth/login", 0, account, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_bearer_header(json_string_value(json_object_get(r.json, "access_token")), auth, size);
    th_response_free(&r);
    return uid;
}

Test(diary, deleting_the_account_deletes_its_entries)
{
    const char *account = "{\"email\":\"cascade@example.com\",\"password\":\"Str0ng!Passw0rd\"}";
    char auth[2048];
    int64_t uid = sign_up(account, auth, sizeof auth);
    struct th_response r;

    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(th_http(&stack, "POST", "/diaries", headers, "{\"content\":\"mine\"}", &r), 0);
        cr_assert_eq(r.status, 201, "%s", r.body);
        ids[i] = json_integer_value(json_object_get(r.json, "id"));
        th_response_free(&r);
    }
    create_ok(uid + 1000, "someone else's");
    cr_assert_eq(th_diary_total_entries(&stack, uid), 3);

    cr_assert_eq(th_http(&stack, "DELETE", "/auth/me", headers,
                         "{\"password\":\"Str0ng!Passw0rd\"}", &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    /* Right after the 200, with no wait: td-diary erased the entries before
     * td-auth answered. Another user asking for one of them learns nothing
     * (404, not 403: it is gone, not someone else's). */
    cr_assert_eq(th_diary_total_entries(&stack, uid), 0, "the account's entries outlived its 200");
    for (int i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof path, "/diaries/%lld", (long long)ids[i]);
        call("GET", path, uid + 1000, NULL, &r);
        assert_error(&r, 404, "diary_not_found");
        th_response_free(&r);
    }
    cr_assert_eq(th_diary_total_entries(&stack, uid + 1000), 1);
    cr_assert_eq(th_http(&stack, "GET", "/diaries", headers, NULL, &r), 0);
    cr_assert_eq(r.status, 401, "the old token is revoked: %s", r.body);
    th_response_free(&r);
}

struct deletion {
    const char **headers;
    const char *body;
    long status; /* the last answer */
};

/* One DELETE /auth/me; true once it answers anything but 503. */
static bool deleted(void *arg)
{
    struct deletion *d = arg;
    struct th_response r;
    cr_assert_eq(th_http(&stack, "DELETE", "/auth/me", d->headers, d->body, &r), 0);
    d->status = r.status;
    th_response_free(&r);
    cr_assert(d->status == 200 || d->status == 503, "DELETE /auth/me answered %ld", d->status);
    return d->status == 200;
}

Test(diary, an_account_is_not_deleted_while_td_diary_cannot_erase_its_entries)
{
    const char *account = "{\"email\":\"later@example.com\",\"password\":\"Str0ng!Passw0rd\"}";
    char auth[2048];
    int64_t uid = sign_up(account, auth, sizeof auth);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    struct th_response r;
    cr_assert_eq(th_http(&stack, "POST", "/diaries", headers, "{\"content\":\"kept\"}", &r), 0);
    cr_assert_eq(r.status, 201, "%s", r.body);
    th_response_free(&r);

    int st = th_daemon_signal(&stack, TH_DIARY, SIGTERM);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "td-diary did not stop cleanly: 0x%x", st);
    const char *password = "{\"password\":\"Str0ng!Passw0rd\"}";
    cr_assert_eq(th_http(&stack, "DELETE", "/auth/me", headers, password, &r), 0);
    assert_error(&r, 503, "service_unavailable");
    th_response_free(&r);
    /* Nothing was deleted: the account still signs in. */
    call("POST", "/auth/login", 0, account, &r);
    cr_assert_eq(r.status, 200, "the account went without its entries: %s", r.body);
    th_response_free(&r);

    /* td-diary back: asked again, as the 503 says, the deletion goes
     * through once td-auth has reconnected. */
    cr_assert_eq(th_daemon_start(&stack, TH_DIARY), 0);
    cr_assert_eq(th_wait_ready(&stack, 200, 20000), 0);
    cr_assert_eq(th_diary_total_entries(&stack, uid), 1);
    struct deletion d = {headers, password, 0};
    cr_assert(th_wait_until(deleted, &d, TH_WAIT_MS), "DELETE /auth/me kept answering %ld",
              d.status);
    cr_assert_eq(th_diary_total_entries(&stack, uid), 0);
}
