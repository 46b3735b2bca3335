/*
 * test_diary_paging.c — the strict parser of GET /diaries's query string
 * (gateway/routes_diary.c): plain positive decimal only, per_page capped at
 * 100, every bad parameter named in the details.
 */
#include "gateway/routes_diary.h"
#include "td_error.h"

#include <criterion/criterion.h>
#include <string.h>

static int parse(const char *q, int64_t *page, int64_t *per_page, json_t **details)
{
    *details = NULL;
    *page = *per_page = -7;
    return gw_diary_parse_paging(q, page, per_page, details);
}

static void assert_ok(const char *q, int64_t want_page, int64_t want_per_page)
{
    int64_t page, per_page;
    json_t *details;
    cr_assert_eq(parse(q, &page, &per_page, &details), 0, "query \"%s\"", q ? q : "(null)");
    cr_assert_null(details);
    cr_assert_eq(page, want_page, "query \"%s\": page %lld", q, (long long)page);
    cr_assert_eq(per_page, want_per_page, "query \"%s\": per_page %lld", q, (long long)per_page);
}

static void assert_bad(const char *q, const char *field)
{
    int64_t page, per_page;
    json_t *details;
    cr_assert_eq(parse(q, &page, &per_page, &details), TD_EINVAL, "query \"%s\"", q);
    cr_assert_not_null(details);
    json_t *list = json_object_get(details, field);
    cr_assert(json_is_array(list), "query \"%s\" should name %s", q, field);
    cr_assert(json_is_string(json_array_get(list, 0)));
    cr_assert_eq(page, -7, "no out-param written on failure");
    json_decref(details);
}

Test(diary_paging, defaults_without_a_query)
{
    assert_ok(NULL, 1, 10);
    assert_ok("", 1, 10);
    assert_ok("&", 1, 10);
}

Test(diary_paging, reads_both_in_any_order_and_ignores_others)
{
    assert_ok("page=2&per_page=5", 2, 5);
    assert_ok("per_page=5&page=3", 3, 5);
    assert_ok("page=4", 4, 10);
    assert_ok("sort=new&page=2&_=123", 2, 10);
    assert_ok("pages=0&per_pagex=abc", 1, 10);
}

Test(diary_paging, per_page_above_100_is_100)
{
    assert_ok("per_page=100", 1, 100);
    assert_ok("per_page=101", 1, 100);
    assert_ok("per_page=1000", 1, 100);
    assert_ok("per_page=99999999999999999999999999", 1, 100);
}

Test(diary_paging, page_up_to_int64_max)
{
    assert_ok("page=9223372036854775807", INT64_MAX, 10);
    assert_bad("page=9223372036854775808", "page");
    assert_bad("page=99999999999999999999", "page");
}

Test(diary_paging, refuses_what_is_not_plain_positive_decimal)
{
    const char *values[] = {"", "0", "-1", "1.5", "1e3", "0x10", "abc", "+1", " 1", "1 ",
                            "%31", "01", "00", "1,2", "１"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char q[64];
        snprintf(q, sizeof q, "page=%s", values[i]);
        assert_bad(q, "page");
        snprintf(q, sizeof q, "per_page=%s", values[i]);
        assert_bad(q, "per_page");
    }
    assert_bad("page", "page");
    assert_bad("per_page", "per_page");
}

Test(diary_paging, a_repeated_parameter_is_refused)
{
    assert_bad("page=1&page=2", "page");
    assert_bad("per_page=1&per_page=1", "per_page");
}

Test(diary_paging, names_every_bad_parameter)
{
    int64_t page, per_page;
    json_t *details;
    cr_assert_eq(parse("page=0&per_page=x", &page, &per_page, &details), TD_EINVAL);
    cr_assert_not_null(json_object_get(details, "page"));
    cr_assert_not_null(json_object_get(details, "per_page"));
    json_decref(details);
}
