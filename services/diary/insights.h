/*
 * insights.h — the pure rules behind GET /diaries/stats/timeline and
 * /diaries/stats/phrases (gateway/docs/openapi.json): calendar buckets (days, ISO weeks from
 * Monday, months) on local dates, and the phrases inside the analysis's
 * spans. No SQL and no clock here; handlers.c feeds the store's rows in.
 */
#ifndef DIARY_INSIGHTS_H
#define DIARY_INSIGHTS_H

#include "td_tz.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIARY_TIMELINE_MAX_BUCKETS 400
#define DIARY_TIMELINE_DEFAULT_SPAN 12 /* buckets before the one holding `to` */
#define DIARY_PHRASES_DEFAULT_LIMIT 10
#define DIARY_PHRASES_MAX_LIMIT 50

enum diary_bucket { DIARY_BUCKET_DAY, DIARY_BUCKET_WEEK, DIARY_BUCKET_MONTH };

/* "day", "week" or "month". 0 or TD_EINVAL. */
int diary_bucket_parse(const char *s, size_t len, enum diary_bucket *out);
const char *diary_bucket_name(enum diary_bucket b);

/* The first local date of the bucket holding `d`. */
struct td_date diary_bucket_start(enum diary_bucket b, struct td_date d);

/* The start of the bucket `n` buckets after the one starting at `start`
 * (n may be negative). */
struct td_date diary_bucket_add(enum diary_bucket b, struct td_date start, int64_t n);

/* How many buckets from the one starting at `first` to the one starting at
 * `last`, both included (0 when last is before first). */
int64_t diary_bucket_count(enum diary_bucket b, struct td_date first, struct td_date last);

/* Calls fn(arg, positive, text, len) for each span of a markup that passed
 * diary_markup_check, with the span's text unescaped into a buffer that
 * lives for the call. Returns 0, fn's first non-zero return, or TD_ENOMEM. */
int diary_spans_each(const char *markup, size_t len,
                     int (*fn)(void *arg, bool positive, const char *text, size_t len),
                     void *arg);

/* The phrase as compared: lower-cased (Unicode, root locale), white space
 * runs collapsed to one space, trimmed. A new string (caller frees) and its
 * length, or NULL when out of memory or the text is not valid UTF-8. */
char *diary_phrase_normalize_new(const char *s, size_t len, size_t *out_len);

#endif
