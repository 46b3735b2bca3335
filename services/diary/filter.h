/*
 * filter.h — the query parameters of GET /diaries, its export and the
 * stats routes, judged in td-diary (the gateway passes them as the strings
 * the client sent, URL-decoded): q, from, to, tone, tz (gateway/docs/openapi.json, "Finding
 * entries"). One owner per rule: every message a client reads about these
 * parameters comes from here.
 *
 * q becomes an FTS5 expression (entries_fts, store.c migrations 6 and 8;
 * store.c confines it to the content column): each
 * whitespace-separated term is cut into words the way the unicode61
 * tokenizer cuts the indexed text (letters, digits, marks and private-use
 * characters form words; anything else separates them, so punctuation is
 * ignored), and becomes one quoted prefix phrase ("don t"*); the phrases
 * are joined by AND. User text only ever appears inside double quotes, and
 * contains no quote there, so it is never read as MATCH syntax. Case is
 * folded by the tokenizer itself, on both sides.
 *
 * On PostgreSQL (store_pg.c) the same terms become a tsquery over the
 * folded words of each entry, both made here, so the two engines find the
 * same entries.
 */
#ifndef DIARY_FILTER_H
#define DIARY_FILTER_H

#include "store.h"
#include "td_tz.h"

#include <stddef.h>

#define DIARY_Q_MAX_CHARS 200

/* A string argument: s NULL when absent. Borrowed. */
struct diary_text {
    const char *s;
    size_t len;
};

struct diary_filter_in {
    struct diary_text q, from, to, tone, tz;
};

/* A reason to refuse one parameter (static strings). */
struct diary_problem {
    const char *field;
    const char *message;
};
#define DIARY_FILTER_MAX_PROBLEMS 6

/* Parses `in` into *out (clear it with diary_filter_clear) and opens the
 * zone (`tz`, default UTC) into *tz (free with td_tz_free). Returns 0, or
 * TD_EINVAL with problems[0..*nproblems) naming each bad parameter (nothing
 * to free then), TD_ENOMEM, TD_EINTERNAL. */
int diary_filter_parse(const struct diary_filter_in *in, struct diary_filter *out,
                       struct td_tz **tz, struct diary_problem *problems, size_t *nproblems);

/* Frees the match expression and resets *f to "no filter". */
void diary_filter_clear(struct diary_filter *f);

/* Builds the FTS5 expression of a search text (see above). Returns 0 and a
 * new string in *out (caller frees), or TD_EINVAL with *problem set (blank,
 * over DIARY_Q_MAX_CHARS code points after trimming, invalid UTF-8 or NUL,
 * no letter or digit), or TD_ENOMEM. */
int diary_fts_query_new(const char *q, size_t len, char **out, const char **problem);

/* The same search as a PostgreSQL tsquery (store_pg.c): the same terms and
 * words, each word simply case-folded and quoted ('don' <-> 't':* &
 * 'walk':*), for to_tsquery('simple', ...) over diary_search_words_new's
 * text. Words hold letters, digits and marks only, never a quote. Same
 * returns. */
int diary_ts_query_new(const char *q, size_t len, char **out, const char **problem);

/* The words of an entry's content as PostgreSQL indexes them: cut as
 * above, simply case-folded, separated by one space ("i ve been walking").
 * Returns 0 and a new string in *out, or TD_ENOMEM. */
int diary_search_words_new(const char *text, size_t len, char **out);

/* A date ("YYYY-MM-DD", the first instant of that local date in tz) or an
 * RFC 3339 timestamp. 0 and *us, or TD_EINVAL. */
int diary_time_parse(struct td_tz *tz, const char *s, size_t len, int64_t *us);

#endif
