/*
 * logic.h — td-diary's pure rules: no SQL, no sockets, no clock.
 *
 * Content validation (the contract counts characters as Unicode code points, and
 * msgpack strings are not checked as UTF-8, so this is where invalid bytes
 * stop), HTML escaping of the unanalysed fallback, the end-to-end check of
 * td-sentiment's markup before td-diary stores it, pagination arithmetic and
 * the retry backoff of pending analyses.
 */
#ifndef DIARY_LOGIC_H
#define DIARY_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIARY_CONTENT_MAX_CHARS 10000
#define DIARY_PER_PAGE_DEFAULT 10
#define DIARY_PER_PAGE_MAX 100

/* Checks entry content: valid UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF), no NUL, 1..DIARY_CONTENT_MAX_CHARS code points, and at least
 * one code point that is not white space (Unicode White_Space plus the
 * invisible format characters U+180E, U+200B-U+200D, U+2060, U+FEFF).
 * Returns 0, or TD_EINVAL with *problem set to a message for the client
 * (static storage). */
int diary_content_check(const char *s, size_t len, const char **problem);

/* The HTML escape of s[0..len): & < > " ' become &amp; &lt; &gt; &quot; &#39;.
 * Returns a new NUL-terminated string (caller frees) and its length in
 * *out_len, or NULL when out of memory. */
char *diary_html_escape_new(const char *s, size_t len, size_t *out_len);

/* Checks that `markup` is exactly what the contract allows for `content`: the
 * escaped text with only <span class="positive">, <span class="negative"> and
 * </span> as tags, spans not nested, not empty and closed, only the five
 * entities above, every tag between two characters of `content` (never
 * inside a multi-byte sequence: the markup stays valid UTF-8, which the
 * gateway needs to serve it as JSON), and stripping the tags then
 * unescaping gives `content` back byte for byte. On success returns 0 and
 * the span counts in *pos and *neg (either may be NULL); TD_EINVAL
 * otherwise. */
int diary_markup_check(const char *markup, size_t mlen, const char *content, size_t clen,
                       int64_t *pos, int64_t *neg);

/* The clamped page size: DIARY_PER_PAGE_MAX when `per_page` is above it. */
int64_t diary_per_page_clamp(int64_t per_page);

/* The row offset of `page` (1-based). Returns false when it does not fit
 * int64 (such a page is past the end of any table). */
bool diary_page_offset(int64_t page, int64_t per_page, int64_t *offset);

/* ceil(total / per_page); 0 when total is 0. */
int64_t diary_page_count(int64_t total, int64_t per_page);

/* "positive" when pos > neg, "negative" when pos < neg, else "neutral". */
const char *diary_overall(int64_t pos, int64_t neg);

/* Exponential backoff: base_ms * 2^attempts, capped at cap_ms. */
int64_t diary_backoff_ms(unsigned attempts, int64_t base_ms, int64_t cap_ms);

#endif
