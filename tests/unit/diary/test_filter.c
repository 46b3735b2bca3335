/*
 * test_filter.c — services/diary/filter.c: the FTS5 expression built from
 * `q`, dates and timestamps in a zone, and diary_filter_parse naming every
 * bad parameter with the contract's message (/work API "Finding entries":
 * gateway/docs/openapi.json). Table-driven: one row per input.
 */
#include "../td_assert.h"
#include "services/diary/filter.h"
#include "td_error.h"

#include <criterion/criterion.h>
#include <string.h>

TestSuite(filter);

static const struct {
    const char *q;
    const char *want;
} good_queries[] = {
    {"walk", "\"walk\"*"},
    {"  walk  ", "\"walk\"*"},
    {"walk sleep", "\"walk\"* AND \"sleep\"*"},
    {"don't", "\"don t\"*"},
    {"well-being today", "\"well being\"* AND \"today\"*"},
    {"(walk)", "\"walk\"*"},
    {"\"quoted\" AND OR NEAR", "\"quoted\"* AND \"AND\"* AND \"OR\"* AND \"NEAR\"*"},
    {"ÉTÉ", "\"ÉTÉ\"*"},
    {"e\xcc\x81t\xc3\xa9", "\"e\xcc\x81t\xc3\xa9\"*"}, /* a combining accent stays in the word */
    {"walk\xe2\x80\x8bsleep", "\"walk\"* AND \"sleep\"*"}, /* zero-width space separates */
    {"日記", "\"日記\"*"},
    {"42", "\"42\"*"},
    {"a\tb\nc", "\"a\"* AND \"b\"* AND \"c\"*"},
    {"walk !!! sleep", "\"walk\"* AND \"sleep\"*"},
};

Test(filter, q_becomes_quoted_prefix_phrases_joined_by_and)
{
    for (size_t i = 0; i < sizeof good_queries / sizeof good_queries[0]; i++) {
        char *out = NULL;
        const char *why = NULL;
        const char *q = good_queries[i].q;
        TD_ASSERT_OK(diary_fts_query_new(q, strlen(q), &out, &why), "q [%zu] %s", i, q);
        cr_assert_str_eq(out, good_queries[i].want, "q [%zu] %s", i, q);
        free(out);
    }
}

/* The same searches as PostgreSQL tsqueries (store_pg.c): the same terms
 * and words, folded, each word quoted. */
static const struct {
    const char *q, *want;
} ts_queries[] = {
    {"walk", "'walk':*"},
    {"  Walk   SLEEP ", "'walk':* & 'sleep':*"},
    {"don't", "'don' <-> 't':*"},
    {"ÉTÉ", "'été':*"},
    {"ΣΊΣΥΦΟΣ", "'σίσυφοσ':*"}, /* simple folding: final sigma folds to σ */
    {"it's 3.14", "'it' <-> 's':* & '3' <-> '14':*"},
    {"walk !!! sleep", "'walk':* & 'sleep':*"},
};

Test(filter, q_becomes_a_tsquery_of_folded_words_for_postgresql)
{
    for (size_t i = 0; i < sizeof ts_queries / sizeof ts_queries[0]; i++) {
        char *out = NULL;
        const char *why = NULL;
        const char *q = ts_queries[i].q;
        TD_ASSERT_OK(diary_ts_query_new(q, strlen(q), &out, &why), "q [%zu] %s", i, q);
        cr_assert_str_eq(out, ts_queries[i].want, "q [%zu] %s", i, q);
        free(out);
    }
    char *out = NULL;
    const char *why = NULL;
    cr_assert_eq(diary_ts_query_new("!!!", 3, &out, &why), TD_EINVAL);
    cr_assert_str_eq(why, "Must contain a letter or a digit.");
}

Test(filter, an_entry_s_words_are_cut_and_folded_as_queries_are)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"I walked. Then I SLEPT!", "i walked then i slept"},
        {"Don't stop", "don t stop"},
        {"  ÉTÉ -- straße  ", "été straße"},
        {"", ""},
        {"?!", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL;
        TD_ASSERT_OK(diary_search_words_new(cases[i].text, strlen(cases[i].text), &out));
        /* a trailing separator is harmless to to_tsvector; compare without */
        size_t n = strlen(out);
        if (n > 0 && out[n - 1] == ' ')
            out[n - 1] = '\0';
        cr_assert_str_eq(out, cases[i].want, "text [%zu] %s", i, cases[i].text);
        free(out);
    }
}

static const struct {
    const char *q;
    size_t len; /* 0: strlen */
    const char *why;
} bad_queries[] = {
    {"", 0, "Must not be blank."},
    {"   \t\n", 0, "Must not be blank."},
    {"\xe2\x80\x8b\xef\xbb\xbf", 0, "Must not be blank."}, /* invisible format characters */
    {"!!! ???", 0, "Must contain a letter or a digit."},
    {"\xff", 0, "Must be valid UTF-8 without NUL characters."},
    {"\xc3", 0, "Must be valid UTF-8 without NUL characters."},
    {"a\0b", 3, "Must be valid UTF-8 without NUL characters."},
};

Test(filter, bad_q_is_refused_with_its_reason)
{
    for (size_t i = 0; i < sizeof bad_queries / sizeof bad_queries[0]; i++) {
        size_t len = bad_queries[i].len ? bad_queries[i].len : strlen(bad_queries[i].q);
        char *out = NULL;
        const char *why = NULL;
        cr_assert_eq(diary_fts_query_new(bad_queries[i].q, len, &out, &why), TD_EINVAL,
                     "q [%zu]", i);
        cr_assert_null(out, "q [%zu]: nothing to free on error", i);
        cr_assert_str_eq(why, bad_queries[i].why, "q [%zu]", i);
    }
}

Test(filter, q_length_counts_characters_after_trimming)
{
    char q[2 * 201 + 8];
    /* 200 two-byte characters between blanks: accepted; 201: refused */
    size_t o = 0;
    q[o++] = ' ';
    for (int i = 0; i < 200; i++) {
        memcpy(q + o, "\xc3\xa9", 2);
        o += 2;
    }
    q[o++] = ' ';
    char *out = NULL;
    const char *why = NULL;
    TD_ASSERT_OK(diary_fts_query_new(q, o, &out, &why));
    free(out);
    memcpy(q + o - 1, "\xc3\xa9", 2);
    o += 1;
    out = NULL;
    cr_assert_eq(diary_fts_query_new(q, o, &out, &why), TD_EINVAL);
    cr_assert_str_eq(why, "Length must be between 1 and 200 characters.");
}

static const struct {
    const char *zone;
    const char *s;
    int64_t want; /* µs; -1: refused */
} times[] = {
    {"UTC", "2026-03-29", INT64_C(1774742400000000)},
    {"Europe/Berlin", "2026-03-29", INT64_C(1774738800000000)}, /* 00:00 CET = 23:00Z */
    {"Europe/Berlin", "2026-03-30", INT64_C(1774821600000000)}, /* after the change: 22:00Z */
    {"America/New_York", "2026-11-01", INT64_C(1793505600000000)}, /* 00:00 EDT = 04:00Z */
    {"UTC", "2026-03-29T10:00:00Z", INT64_C(1774778400000000)},
    {"Europe/Berlin", "2026-03-29T10:00:00+02:00", INT64_C(1774771200000000)},
    {"UTC", "2026-02-30", -1},
    {"UTC", "2026-3-29", -1},
    {"UTC", "29-03-2026", -1},
    {"UTC", "2026-03-29T25:00:00Z", -1},
    {"UTC", "2026-03-29T10:00:00", -1}, /* a timestamp needs its offset */
    {"UTC", "yesterday", -1},
    {"UTC", "", -1},
};

Test(filter, dates_are_local_midnights_and_timestamps_need_an_offset)
{
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        struct td_tz *tz = NULL;
        TD_ASSERT_OK(td_tz_open(times[i].zone, strlen(times[i].zone), &tz));
        int64_t us = 0;
        int rc = diary_time_parse(tz, times[i].s, strlen(times[i].s), &us);
        td_tz_free(&tz);
        if (times[i].want < 0) {
            cr_assert_eq(rc, TD_EINVAL, "[%zu] %s", i, times[i].s);
        } else {
            TD_ASSERT_OK(rc, "[%zu] %s", i, times[i].s);
            cr_assert_eq(us, times[i].want, "[%zu] %s in %s: %lld", i, times[i].s,
                         times[i].zone, (long long)us);
        }
    }
}

#define T(str) ((struct diary_text){(str), sizeof(str) - 1})
#define NONE ((struct diary_text){NULL, 0})

static const struct {
    const char *name;
    struct diary_filter_in in;
    const char *fields[4]; /* the parameters named, in order */
} bad_filters[] = {
    {"blank q", {T("  "), NONE, NONE, NONE, NONE}, {"q"}},
    {"bad from", {NONE, T("2026-13-01"), NONE, NONE, NONE}, {"from"}},
    {"bad to", {NONE, NONE, T("soon"), NONE, NONE}, {"to"}},
    {"from after to", {NONE, T("2026-05-02"), T("2026-05-01"), NONE, NONE}, {"from"}},
    {"bad tone", {NONE, NONE, NONE, T("Positive"), NONE}, {"tone"}},
    {"empty tone", {NONE, NONE, NONE, T(""), NONE}, {"tone"}},
    {"unknown zone", {NONE, NONE, NONE, NONE, T("Mars/Olympus")}, {"tz"}},
    {"zone is not a path", {NONE, NONE, NONE, NONE, T("../etc/passwd")}, {"tz"}},
    {"every one at once",
     {T("!!"), T("x"), T("y"), T("sad"), T("Nowhere/Land")},
     {"tz", "from", "to", "tone"}},
    {"bad dates still named with a bad zone",
     {NONE, T("2026-02-30"), NONE, NONE, T("Nowhere/Land")},
     {"tz", "from"}},
};

Test(filter, each_bad_parameter_is_a_validation_error_naming_it)
{
    for (size_t i = 0; i < sizeof bad_filters / sizeof bad_filters[0]; i++) {
        struct diary_filter f = {.from_us = 0, .to_us = 0, .tone = DIARY_TONE_ANY};
        struct td_tz *tz = NULL;
        struct diary_problem problems[DIARY_FILTER_MAX_PROBLEMS];
        size_t np = 0;
        int rc = diary_filter_parse(&bad_filters[i].in, &f, &tz, problems, &np);
        cr_assert_eq(rc, TD_EINVAL, "%s", bad_filters[i].name);
        cr_assert_null(tz, "%s: nothing to free", bad_filters[i].name);
        cr_assert_null(f.match, "%s: the filter is untouched", bad_filters[i].name);
        size_t want = 0;
        while (want < 4 && bad_filters[i].fields[want] != NULL)
            want++;
        /* "every one at once": q's own problem comes last, after tone */
        if (strcmp(bad_filters[i].name, "every one at once") == 0)
            want++;
        cr_assert_eq(np, want, "%s: %zu problems", bad_filters[i].name, np);
        for (size_t k = 0; k < np && k < 4 && bad_filters[i].fields[k] != NULL; k++) {
            cr_assert_str_eq(problems[k].field, bad_filters[i].fields[k], "%s [%zu]",
                             bad_filters[i].name, k);
            cr_assert_not_null(problems[k].message);
        }
    }
}

Test(filter, good_parameters_become_a_filter_and_a_zone)
{
    struct diary_filter_in in = {T(" walk "), T("2026-03-29"), T("2026-03-30T00:00:00+02:00"),
                                 T("negative"), T("Europe/Berlin")};
    struct diary_filter f;
    struct td_tz *tz = NULL;
    struct diary_problem problems[DIARY_FILTER_MAX_PROBLEMS];
    size_t np = 0;
    TD_ASSERT_OK(diary_filter_parse(&in, &f, &tz, problems, &np));
    cr_assert_not_null(tz);
    cr_assert_str_eq(f.match, "\"walk\"*");
    cr_assert_eq(f.from_us, INT64_C(1774738800000000));
    cr_assert_eq(f.to_us, INT64_C(1774821600000000));
    cr_assert_eq(f.tone, DIARY_TONE_NEGATIVE);
    cr_assert(diary_filter_active(&f));
    diary_filter_clear(&f);
    td_tz_free(&tz);
    cr_assert_null(f.match);
    cr_assert_not(diary_filter_active(&f), "cleared means no filter");

    /* nothing given: no filter, and the zone is UTC */
    struct diary_filter_in none = {NONE, NONE, NONE, NONE, NONE};
    TD_ASSERT_OK(diary_filter_parse(&none, &f, &tz, problems, &np));
    cr_assert_not(diary_filter_active(&f));
    cr_assert_not_null(tz);
    int64_t us = 0;
    TD_ASSERT_OK(diary_time_parse(tz, "2026-03-29", 10, &us));
    cr_assert_eq(us, INT64_C(1774742400000000));
    td_tz_free(&tz);

    /* from equal to to is an empty range, not an error */
    struct diary_filter_in same = {NONE, T("2026-05-01"), T("2026-05-01"), NONE, NONE};
    TD_ASSERT_OK(diary_filter_parse(&same, &f, &tz, problems, &np));
    cr_assert_eq(f.from_us, f.to_us);
    diary_filter_clear(&f);
    td_tz_free(&tz);
}
