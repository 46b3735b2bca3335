/*
 * routes_diary.h — what routes_diary.c exposes beyond its route table: the
 * strict parser of GET /diaries's query string (unit-tested on its own).
 */
#ifndef GW_ROUTES_DIARY_H
#define GW_ROUTES_DIARY_H

#include <jansson.h>
#include <stdint.h>

#define GW_DIARY_PER_PAGE_DEFAULT 10
#define GW_DIARY_PER_PAGE_MAX 100

/* Parses `page` and `per_page` from a raw (undecoded) query string, which
 * may be NULL. Each must be a positive integer in plain decimal without
 * leading zeros ([1-9][0-9]*): "", "0", "-1", "1.5", "1e3", "0x10", "abc",
 * "%31" and a repeated parameter are refused. `page` must fit int64;
 * `per_page` above GW_DIARY_PER_PAGE_MAX (however long) is that maximum.
 * Other parameters are ignored. Returns 0 with *page and *per_page (defaults
 * 1 and GW_DIARY_PER_PAGE_DEFAULT), or TD_EINVAL with *details a new JSON
 * object {"page": ["message"], ...} naming every bad parameter. */
int gw_diary_parse_paging(const char *query, int64_t *page, int64_t *per_page, json_t **details);

/* Collects the parameters named in `names` (n of them) from a raw query
 * string (NULL: none) into `args` as strings, URL-decoded (civetweb's
 * mg_url_decode, '+' as space). td-diary judges the values (one owner per
 * rule); here a repeated parameter, a value over 1024 bytes decoded or one
 * that is not UTF-8 is refused. Other parameters are ignored. Returns 0, or
 * TD_EINVAL with *details a new object naming each bad parameter, or
 * TD_ENOMEM. */
int gw_diary_query_strings(const char *query, const char *const *names, size_t n, json_t *args,
                           json_t **details);

#endif
