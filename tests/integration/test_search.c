/*
 * test_search.c — search and filters on GET /diaries and the insights routes through
 * the real gateway, td-diary and td-sentiment: search semantics (prefixes,
 * case folding beyond ASCII, AND of terms, punctuation, other users never
 * found), every refusal of a filter, stats over a range, the timeline's
 * buckets across Berlin's spring DST change, and phrase ranking. Entries
 * with chosen created_at values come in through POST /diaries/import.
 */
#include "auth_helpers.h"
#include "suite.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

static struct tokens alice, bob;

static void after_start(void);
TH_STACK_SUITE_THEN(search, 120, after_start);

static void after_start(void)
{
    register_user(&stack, "alice@example.com", GOOD_PASSWORD);
    register_user(&stack, "bob@example.com", GOOD_PASSWORD);
    login(&stack, "alice@example.com", GOOD_PASSWORD, &alice);
    login(&stack, "bob@example.com", GOOD_PASSWORD, &bob);
}

static void create(const struct tokens *t, const char *content)
{
    json_t *j = json_pack("{s:s}", "content", content);
    char *body = json_dumps(j, JSON_COMPACT);
    struct th_response r;
    req(&stack, "POST", "/diaries", t->access, body, &r);
    cr_assert_eq(r.status, 201, "create: %ld %s", r.status, r.body);
    th_response_free(&r);
    free(body);
    json_decref(j);
}

/* Imports {content, created_at} pairs (NULL-terminated) for a user. */
static void import_pairs(const struct tokens *t, const char *const *pairs)
{
    json_t *entries = json_array();
    for (size_t i = 0; pairs[i] != NULL; i += 2)
        json_array_append_new(entries,
                              json_pack("{s:s, s:s}", "content", pairs[i], "created_at", pairs[i + 1]));
    json_t *doc = json_pack("{s:o}", "entries", entries);
    char *body = json_dumps(doc, JSON_COMPACT);
    struct th_response r;
    req(&stack, "POST", "/diaries/import", t->access, body, &r);
    cr_assert_eq(r.status, 200, "import: %ld %s", r.status, r.body);
    th_response_free(&r);
    free(body);
    json_decref(doc);
}

/* GET path as t; returns the contents of every item (newest first), joined by '|'. */
static void found(const struct tokens *t, const char *path, char *out, size_t size)
{
    struct th_response r;
    req(&stack, "GET", path, t->access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
    out[0] = '\0';
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r.json, "items"), i, e)
    {
        strncat(out, i ? "|" : "", size - strlen(out) - 1);
        strncat(out, json_string_value(json_object_get(e, "content")), size - strlen(out) - 1);
    }
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")),
                 (json_int_t)json_array_size(json_object_get(r.json, "items")), "%s", r.body);
    th_response_free(&r);
}

Test(search, prefixes_case_folding_and_and_of_terms)
{
    create(&alice, "We walked to the lake.");
    create(&alice, "Un été magnifique, vraiment!");
    create(&alice, "Walking home; it's raining.");
    create(&alice, "Nothing about that here.");
    create(&bob, "Bob walked too, in été.");
    char got[2048];
    found(&alice, "/diaries?q=walk", got, sizeof got);
    cr_expect_str_eq(got, "Walking home; it's raining.|We walked to the lake.");
    found(&alice, "/diaries?q=%C3%89T%C3%89", got, sizeof got); /* ÉTÉ */
    cr_expect_str_eq(got, "Un été magnifique, vraiment!");
    found(&alice, "/diaries?q=ete", got, sizeof got); /* diacritics are not removed */
    cr_expect_str_eq(got, "");
    found(&alice, "/diaries?q=walk+lake", got, sizeof got);
    cr_expect_str_eq(got, "We walked to the lake.");
    found(&alice, "/diaries?q=walk%20%20nothing", got, sizeof got);
    cr_expect_str_eq(got, "");
    found(&alice, "/diaries?q=lake%21%21+%22walk%22", got, sizeof got); /* lake!! "walk" */
    cr_expect_str_eq(got, "We walked to the lake.");
    found(&alice, "/diaries?q=it%27s", got, sizeof got); /* it's */
    cr_expect_str_eq(got, "Walking home; it's raining.");
    found(&alice, "/diaries?q=alked", got, sizeof got); /* inside a word: no */
    cr_expect_str_eq(got, "");
    found(&alice, "/diaries?q=NEAR%28walk%29+OR", got, sizeof got); /* syntax stays text */
    cr_expect_str_eq(got, "");
    found(&bob, "/diaries?q=lake", got, sizeof got); /* alice's entry, never bob's */
    cr_expect_str_eq(got, "");
    found(&bob, "/diaries?q=walk&per_page=1", got, sizeof got);
    cr_expect_str_eq(got, "Bob walked too, in été.");
}

static void expect_bad(const struct tokens *t, const char *path, const char *field)
{
    struct th_response r;
    req(&stack, "GET", path, t->access, NULL, &r);
    expect_invalid_field(&r, field, path);
}

Test(search, every_malformed_filter_is_a_400_naming_it)
{
    expect_bad(&alice, "/diaries?q=", "q");
    expect_bad(&alice, "/diaries?q=+++", "q");
    expect_bad(&alice, "/diaries?q=%21%21%21", "q");
    expect_bad(&alice, "/diaries?q=a&q=b", "q");
    expect_bad(&alice, "/diaries?q=%FF", "q");
    expect_bad(&alice, "/diaries?from=2026-02-30", "from");
    expect_bad(&alice, "/diaries?to=yesterday", "to");
    expect_bad(&alice, "/diaries?from=2026-03-02&to=2026-03-01", "from");
    expect_bad(&alice, "/diaries?tz=Mars/Olympus", "tz");
    expect_bad(&alice, "/diaries?tone=happy", "tone");
    expect_bad(&alice, "/diaries?tone=positive&tone=negative", "tone");
    expect_bad(&alice, "/diaries?page=0&tone=x", "page");
    expect_bad(&alice, "/diaries/stats?from=2026-13-01", "from");
    expect_bad(&alice, "/diaries/stats/timeline?bucket=year", "bucket");
    expect_bad(&alice, "/diaries/stats/timeline?bucket=day&from=2020-01-01&to=2026-01-01", "from");
    expect_bad(&alice, "/diaries/stats/phrases?limit=0", "limit");
    expect_bad(&alice, "/diaries/stats/phrases?limit=51", "limit");
    expect_bad(&alice, "/diaries/export?format=pdf", "format");
}

Test(search, dates_in_a_zone_tone_and_range_stats)
{
    static const char *const pairs[] = {
        "good happy day", "2026-03-28T22:30:00Z", /* 23:30 Berlin, the 28th */
        "sad sad evening", "2026-03-28T23:30:00Z", /* 00:30 Berlin, the 29th */
        "plain morning", "2026-03-29T22:30:00Z",   /* 00:30 CEST, the 30th */
        NULL};
    import_pairs(&alice, pairs);
    char got[1024];
    found(&alice, "/diaries?from=2026-03-29&to=2026-03-30&tz=Europe/Berlin", got, sizeof got);
    cr_expect_str_eq(got, "sad sad evening");
    found(&alice, "/diaries?from=2026-03-29&to=2026-03-30", got, sizeof got); /* UTC */
    cr_expect_str_eq(got, "plain morning");
    found(&alice, "/diaries?from=2026-03-28T23:00:00%2B01:00&to=2026-03-29T00:00:00Z", got,
          sizeof got);
    cr_expect_str_eq(got, "sad sad evening|good happy day");

    struct th_response r;
    req(&stack, "GET", "/diaries/stats?from=2026-03-29&tz=Europe/Berlin", alice.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_eq(json_integer_value(json_object_get(r.json, "total_entries")), 2, "%s", r.body);
    th_response_free(&r);
}

Test(search, timeline_days_follow_berlin_across_the_spring_change)
{
    static const char *const pairs[] = {
        "one", "2026-03-28T23:30:00Z", /* 29th, 00:30 CET */
        "two", "2026-03-29T21:30:00Z", /* 29th, 23:30 CEST */
        "three", "2026-03-29T22:30:00Z", /* 30th, 00:30 CEST (UTC+1 would say the 29th) */
        NULL};
    import_pairs(&alice, pairs);
    struct th_response r;
    req(&stack, "GET",
        "/diaries/stats/timeline?bucket=day&from=2026-03-28&to=2026-03-31&tz=Europe/Berlin",
        alice.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "from")), "2026-03-28");
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "to")), "2026-03-30");
    json_t *points = json_object_get(r.json, "points");
    cr_assert_eq(json_array_size(points), 3, "%s", r.body);
    static const char *const starts[] = {"2026-03-28", "2026-03-29", "2026-03-30"};
    static const int counts[] = {0, 2, 1};
    for (int i = 0; i < 3; i++) {
        json_t *p = json_array_get(points, (size_t)i);
        cr_expect_str_eq(json_string_value(json_object_get(p, "start")), starts[i]);
        cr_expect_eq(json_integer_value(json_object_get(p, "entries")), counts[i], "%s", r.body);
    }
    th_response_free(&r);

    /* ISO weeks from Monday; defaults: 12 weeks back from now, every one listed. */
    req(&stack, "GET", "/diaries/stats/timeline?tz=Europe/Berlin", alice.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "bucket")), "week");
    cr_expect_eq(json_array_size(json_object_get(r.json, "points")), 13, "%s", r.body);
    th_response_free(&r);
    req(&stack, "GET", "/diaries/stats/timeline?from=2026-03-25&to=2026-04-02&tz=Europe/Berlin",
        alice.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    points = json_object_get(r.json, "points");
    cr_assert_eq(json_array_size(points), 2, "%s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(points, 0), "start")),
                     "2026-03-23");
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(points, 0), "entries")), 2);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(points, 1), "entries")), 1);
    th_response_free(&r);
}

Test(search, phrases_most_frequent_first_then_alphabetical)
{
    static const char *const texts[] = {"happy", "Happy!", "HAPPY.", "grateful", "Grateful",
                                         "wonderful", "amazing", NULL};
    for (int i = 0; texts[i] != NULL; i++)
        create(&alice, texts[i]);
    create(&bob, "wonderful wonderful wonderful wonderful");
    struct th_response r;
    req(&stack, "GET", "/diaries/stats/phrases?limit=4", alice.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *pos = json_object_get(r.json, "positive");
    cr_assert_eq(json_array_size(pos), 4, "%s", r.body);
    static const char *const want[] = {"happy", "grateful", "amazing", "wonderful"};
    static const int counts[] = {3, 2, 1, 1};
    for (size_t i = 0; i < 4; i++) {
        json_t *p = json_array_get(pos, i);
        cr_expect_str_eq(json_string_value(json_object_get(p, "phrase")), want[i], "%s", r.body);
        cr_expect_eq(json_integer_value(json_object_get(p, "count")), counts[i], "%s", r.body);
    }
    cr_expect_eq(json_array_size(json_object_get(r.json, "negative")), 0, "%s", r.body);
    th_response_free(&r);
    req(&stack, "GET", "/diaries/stats/phrases?limit=1&from=2000-01-01", alice.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_eq(json_array_size(json_object_get(r.json, "positive")), 1, "%s", r.body);
    th_response_free(&r);
}
