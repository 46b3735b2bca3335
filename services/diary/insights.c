/*
 * insights.c — buckets and phrases of insights.h.
 */
#include "insights.h"
#include "td_error.h"
#include "td_markup.h"
#include "td_utf8.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/ucasemap.h>

int diary_bucket_parse(const char *s, size_t len, enum diary_bucket *out)
{
    static const char *const names[] = {"day", "week", "month"};
    for (int i = 0; i < 3; i++) {
        if (len == strlen(names[i]) && memcmp(s, names[i], len) == 0) {
            *out = (enum diary_bucket)i;
            return 0;
        }
    }
    return TD_EINVAL;
}

const char *diary_bucket_name(enum diary_bucket b)
{
    return b == DIARY_BUCKET_DAY ? "day" : b == DIARY_BUCKET_WEEK ? "week" : "month";
}

struct td_date diary_bucket_start(enum diary_bucket b, struct td_date d)
{
    if (b == DIARY_BUCKET_DAY)
        return d;
    if (b == DIARY_BUCKET_WEEK)
        return td_date_from_days(td_date_to_days(d) - (td_date_iso_weekday(d) - 1));
    return td_date_add_months(d, 0);
}

struct td_date diary_bucket_add(enum diary_bucket b, struct td_date start, int64_t n)
{
    if (b == DIARY_BUCKET_MONTH)
        return td_date_add_months(start, (int)n);
    return td_date_from_days(td_date_to_days(start) + n * (b == DIARY_BUCKET_WEEK ? 7 : 1));
}

int64_t diary_bucket_count(enum diary_bucket b, struct td_date first, struct td_date last)
{
    int64_t n;
    if (b == DIARY_BUCKET_MONTH)
        n = ((int64_t)last.year * 12 + last.month) - ((int64_t)first.year * 12 + first.month);
    else
        n = (td_date_to_days(last) - td_date_to_days(first)) / (b == DIARY_BUCKET_WEEK ? 7 : 1);
    return n < 0 ? 0 : n + 1;
}

int diary_spans_each(const char *markup, size_t len,
                     int (*fn)(void *arg, bool positive, const char *text, size_t len),
                     void *arg)
{
    static const char open_pos[] = TD_MARKUP_OPEN_POSITIVE;
    static const char open_neg[] = TD_MARKUP_OPEN_NEGATIVE;
    static const char close[] = TD_MARKUP_CLOSE;
    size_t olen = TD_MARKUP_OPEN_LEN;
    for (size_t i = 0; i < len;) {
        if (markup[i] != '<' || len - i < olen ||
            (memcmp(markup + i, open_pos, olen) != 0 && memcmp(markup + i, open_neg, olen) != 0)) {
            i++;
            continue;
        }
        bool positive = memcmp(markup + i, open_pos, olen) == 0;
        size_t from = i + olen;
        const char *stop = memmem(markup + from, len - from, close, sizeof close - 1);
        if (stop == NULL)
            return 0; /* cannot happen for checked markup */
        size_t n = (size_t)(stop - (markup + from));
        char *text = malloc(n + 1);
        if (text == NULL)
            return TD_ENOMEM;
        size_t o = 0;
        for (size_t k = from; k < from + n;) {
            /* Bounded by the span: the markup need not end in a NUL. */
            size_t e = td_markup_unescape_at(markup + k, from + n - k, &text[o]);
            k += e > 0 ? e : 1;
            if (e == 0)
                text[o] = markup[k - 1];
            o++;
        }
        text[o] = '\0';
        int rc = fn(arg, positive, text, o);
        free(text);
        if (rc != 0)
            return rc;
        i = from + n + sizeof close - 1;
    }
    return 0;
}

char *diary_phrase_normalize_new(const char *s, size_t len, size_t *out_len)
{
    /* Collapse first (white space never changes under lower-casing). */
    char *collapsed = malloc(len + 1);
    if (collapsed == NULL)
        return NULL;
    size_t o = 0;
    bool pending_space = false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = td_utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            free(collapsed);
            return NULL;
        }
        if (u_isUWhiteSpace((UChar32)cp)) {
            pending_space = o > 0;
        } else {
            if (pending_space)
                collapsed[o++] = ' ';
            pending_space = false;
            memcpy(collapsed + o, s + i, n);
            o += n;
        }
        i += n;
    }
    UErrorCode st = U_ZERO_ERROR;
    UCaseMap *cm = ucasemap_open("", U_FOLD_CASE_DEFAULT, &st);
    if (U_FAILURE(st)) {
        free(collapsed);
        return NULL;
    }
    /* Lower-casing can grow a string (U+0130 takes 3 bytes for 2): ask for
     * the size first. */
    int32_t need = ucasemap_utf8ToLower(cm, NULL, 0, collapsed, (int32_t)o, &st);
    char *out = NULL;
    if (st == U_BUFFER_OVERFLOW_ERROR || U_SUCCESS(st)) {
        st = U_ZERO_ERROR;
        out = malloc((size_t)need + 1);
        if (out != NULL)
            ucasemap_utf8ToLower(cm, out, need + 1, collapsed, (int32_t)o, &st);
    }
    ucasemap_close(cm);
    free(collapsed);
    if (out == NULL || U_FAILURE(st)) {
        free(out);
        return NULL;
    }
    out[need] = '\0';
    *out_len = (size_t)need;
    return out;
}
