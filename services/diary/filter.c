/*
 * filter.c — the search and range parameters of filter.h.
 */
#include "filter.h"
#include "td_error.h"
#include "td_utf8.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

/* White space between terms: Unicode White_Space plus the invisible format
 * characters logic.c also counts as blank. */
static bool is_space(uint32_t cp)
{
    return u_isUWhiteSpace((UChar32)cp) || cp == 0x180E || cp == 0x200B || cp == 0x200C ||
           cp == 0x200D || cp == 0x2060 || cp == 0xFEFF;
}

/* What unicode61 keeps inside a word: its default categories "L* N* Co",
 * and marks, so a decomposed accent stays with its letter (the tokenizer
 * cuts the quoted phrase again the same way it cut the text). */
static bool is_word_char(uint32_t cp)
{
    switch (u_charType((UChar32)cp)) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
    case U_PRIVATE_USE_CHAR:
    case U_NON_SPACING_MARK:
    case U_COMBINING_SPACING_MARK:
    case U_ENCLOSING_MARK:
        return true;
    default:
        return false;
    }
}

/* The two forms a search text becomes: SQLite's FTS5 expression
 * ("don t"* AND "walk"*: each term a quoted prefix phrase) and PostgreSQL's
 * tsquery ('don' <-> 't':* & 'walk':*, folded here: the database's own
 * lower() follows its locale, the contract says Unicode simple folding). */
enum q_syntax { Q_FTS5, Q_TSQUERY };

/* Appends `cp`, simply case-folded, as UTF-8 at buf + *o. */
static void put_folded(char *buf, size_t *o, uint32_t cp)
{
    UChar32 f = u_foldCase((UChar32)cp, U_FOLD_CASE_DEFAULT);
    size_t i = *o;
    U8_APPEND_UNSAFE(buf, i, f);
    *o = i;
}

/* Checks and trims q; *start and *end bound its visible part. 0 or TD_EINVAL
 * with *problem. */
static int q_check(const char *q, size_t len, size_t *start, size_t *end, const char **problem)
{
    int64_t chars = 0, first_visible = -1, last_visible = -1;
    *start = *end = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = td_utf8_decode(q + i, len - i, &cp);
        if (n == 0 || cp == 0) {
            *problem = "Must be valid UTF-8 without NUL characters.";
            return TD_EINVAL;
        }
        if (!is_space(cp)) {
            if (first_visible < 0) {
                first_visible = chars;
                *start = i;
            }
            last_visible = chars;
            *end = i + n;
        }
        chars++;
        i += n;
    }
    if (first_visible < 0) {
        *problem = "Must not be blank.";
        return TD_EINVAL;
    }
    if (last_visible - first_visible + 1 > DIARY_Q_MAX_CHARS) {
        *problem = "Length must be between 1 and 200 characters.";
        return TD_EINVAL;
    }
    return 0;
}

/* Writes the query of the checked text q[start, end) in `syntax`. */
static int q_build(const char *q, size_t start, size_t end, enum q_syntax syntax, char **out,
                   const char **problem)
{
    bool ts = syntax == Q_TSQUERY;
    /* Worst case, a one-byte term and its separator (2 bytes) become
     * 'x':* &  (9 bytes), and folding may lengthen a character by half. */
    size_t cap = (end - start) * 8 + 16;
    char *buf = malloc(cap);
    if (buf == NULL)
        return TD_ENOMEM;
    size_t o = 0;
    bool in_term = false, in_word = false, any = false;
    for (size_t i = start; i <= end;) {
        uint32_t cp = ' ';
        size_t n = 1;
        if (i < end)
            n = td_utf8_decode(q + i, end - i, &cp);
        bool space = i == end || is_space(cp);
        bool word = !space && is_word_char(cp);
        if (word) {
            const char *open = ts ? "'" : "\"";
            if (!in_term) {
                if (any) {
                    const char *and = ts ? " & " : " AND ";
                    memcpy(buf + o, and, strlen(and));
                    o += strlen(and);
                }
                buf[o++] = open[0];
                in_term = any = true;
            } else if (!in_word) {
                const char *next = ts ? "' <-> '" : " "; /* the next word of a phrase */
                memcpy(buf + o, next, strlen(next));
                o += strlen(next);
            }
            if (ts) {
                put_folded(buf, &o, cp);
            } else {
                memcpy(buf + o, q + i, n);
                o += n;
            }
            in_word = true;
        } else {
            in_word = false;
            if (space && in_term) {
                const char *close = ts ? "':*" : "\"*";
                memcpy(buf + o, close, strlen(close));
                o += strlen(close);
                in_term = false;
            }
        }
        i += n;
    }
    buf[o] = '\0';
    if (!any) {
        free(buf);
        *problem = "Must contain a letter or a digit.";
        return TD_EINVAL;
    }
    *out = buf;
    return 0;
}

int diary_fts_query_new(const char *q, size_t len, char **out, const char **problem)
{
    size_t start, end;
    int rc = q_check(q, len, &start, &end, problem);
    return rc ? rc : q_build(q, start, end, Q_FTS5, out, problem);
}

int diary_ts_query_new(const char *q, size_t len, char **out, const char **problem)
{
    size_t start, end;
    int rc = q_check(q, len, &start, &end, problem);
    return rc ? rc : q_build(q, start, end, Q_TSQUERY, out, problem);
}

int diary_search_words_new(const char *text, size_t len, char **out)
{
    /* folding lengthens a character by half at most */
    char *buf = malloc(len * 2 + 1);
    if (buf == NULL)
        return TD_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t n = td_utf8_decode(text + i, len - i, &cp);
        if (n == 0) { /* not UTF-8 (never stored): a separator */
            n = 1;
            cp = ' ';
        }
        if (is_word_char(cp))
            put_folded(buf, &o, cp);
        else if (o > 0 && buf[o - 1] != ' ')
            buf[o++] = ' ';
        i += n;
    }
    buf[o] = '\0';
    *out = buf;
    return 0;
}

int diary_time_parse(struct td_tz *tz, const char *s, size_t len, int64_t *us)
{
    if (len == 10) {
        struct td_date d;
        if (td_date_parse(s, len, &d) != 0)
            return TD_EINVAL;
        return td_tz_day_start(tz, d, us) == 0 ? 0 : TD_EINVAL;
    }
    return td_rfc3339_parse(s, len, us);
}

void diary_filter_clear(struct diary_filter *f)
{
    free(f->match);
    f->match = NULL;
    free(f->ts_query);
    f->ts_query = NULL;
    f->from_us = INT64_MIN;
    f->to_us = INT64_MAX;
    f->tone = DIARY_TONE_ANY;
}

static bool text_is(const struct diary_text *t, const char *lit)
{
    return t->len == strlen(lit) && memcmp(t->s, lit, t->len) == 0;
}

int diary_filter_parse(const struct diary_filter_in *in, struct diary_filter *out,
                       struct td_tz **tz_out, struct diary_problem *problems, size_t *nproblems)
{
    size_t np = 0;
#define PROBLEM(f, m) (problems[np].field = (f), problems[np].message = (m), np++)
    struct diary_filter f = DIARY_FILTER_NONE;
    struct td_tz *tz = NULL;
    int rc = 0;
    if (in->tz.s != NULL) {
        rc = td_tz_open(in->tz.s, in->tz.len, &tz);
        if (rc == TD_EINVAL)
            PROBLEM("tz", "Unknown time zone: use an IANA name such as Europe/Berlin.");
    }
    /* Dates are still checked against UTC when the zone is bad, so every
     * malformed parameter is named at once. */
    if (rc == 0 || rc == TD_EINVAL) {
        struct td_tz *use = NULL;
        int orc = tz != NULL ? 0 : td_tz_open("UTC", 3, &use);
        if (orc != 0) {
            td_tz_free(&tz);
            return orc;
        }
        struct td_tz *zone = tz != NULL ? tz : use;
        if (in->from.s != NULL && diary_time_parse(zone, in->from.s, in->from.len, &f.from_us))
            PROBLEM("from", "Must be a date (YYYY-MM-DD) or an RFC 3339 timestamp.");
        if (in->to.s != NULL && diary_time_parse(zone, in->to.s, in->to.len, &f.to_us))
            PROBLEM("to", "Must be a date (YYYY-MM-DD) or an RFC 3339 timestamp.");
        if (tz == NULL && rc == 0)
            tz = use; /* the default zone */
        else
            td_tz_free(&use);
    } else {
        return rc;
    }
    if (np == 0 && f.from_us > f.to_us)
        PROBLEM("from", "Must not be after to.");
    if (in->tone.s != NULL) {
        if (text_is(&in->tone, "positive"))
            f.tone = DIARY_TONE_POSITIVE;
        else if (text_is(&in->tone, "negative"))
            f.tone = DIARY_TONE_NEGATIVE;
        else if (text_is(&in->tone, "neutral"))
            f.tone = DIARY_TONE_NEUTRAL;
        else
            PROBLEM("tone", "Must be one of: positive, negative, neutral.");
    }
    if (in->q.s != NULL) {
        const char *why = NULL;
        int qrc = diary_fts_query_new(in->q.s, in->q.len, &f.match, &why);
        if (qrc == 0)
            qrc = diary_ts_query_new(in->q.s, in->q.len, &f.ts_query, &why);
        if (qrc == TD_EINVAL)
            PROBLEM("q", why);
        else if (qrc != 0)
            rc = qrc;
    }
#undef PROBLEM
    if (np > 0 || (rc != 0 && rc != TD_EINVAL)) {
        diary_filter_clear(&f);
        td_tz_free(&tz);
        *nproblems = np;
        return np > 0 ? TD_EINVAL : rc;
    }
    *out = f;
    *tz_out = tz;
    return 0;
}
