/*
 * td_markup.h — the one owner of analyzed_content's form: the two span tags
 * and the five HTML escapes (the contract's Entry.analyzed_content,
 * gateway/docs/openapi.json). td-sentiment writes markup
 * (services/sentiment/markup.c), td-diary checks it against the content
 * (services/diary/logic.c) and reads its phrases back
 * (services/diary/insights.c); all three take the tags and the escapes from
 * here, so they cannot drift apart.
 */
#ifndef TD_MARKUP_H
#define TD_MARKUP_H

#include <stddef.h>

#define TD_MARKUP_OPEN_POSITIVE "<span class=\"positive\">"
#define TD_MARKUP_OPEN_NEGATIVE "<span class=\"negative\">"
#define TD_MARKUP_CLOSE "</span>"
/* Both opening tags have this length. */
#define TD_MARKUP_OPEN_LEN (sizeof TD_MARKUP_OPEN_POSITIVE - 1)
#define TD_MARKUP_CLOSE_LEN (sizeof TD_MARKUP_CLOSE - 1)

_Static_assert(sizeof TD_MARKUP_OPEN_POSITIVE == sizeof TD_MARKUP_OPEN_NEGATIVE,
               "readers step over either opening tag by one length");

/* The escape of one byte (& < > " '), or NULL when it stands for itself. */
const char *td_markup_escape_of(unsigned char c);

/* When s[0..len) starts with one of the five escapes, stores the byte it
 * stands for in *c and returns the escape's length; otherwise returns 0. */
size_t td_markup_unescape_at(const char *s, size_t len, char *c);

#endif
