/*
 * logic.c — td-diary's pure rules (see logic.h). Everything here is a
 * function of its arguments, so the unit tests cover it without a database.
 */
#include "logic.h"
#include "td_utf8.h"
#include "td_error.h"
#include "td_markup.h"

#include <stdlib.h>
#include <string.h>

/* Unicode White_Space, plus invisible format characters that would make an
 * entry look empty all the same. */
static bool is_blank(uint32_t cp)
{
    if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0)
        return true;
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200D) || cp == 0x2028 || cp == 0x2029 ||
        cp == 0x202F || cp == 0x205F || cp == 0x3000)
        return true;
    return cp == 0x180E || cp == 0x2060 || cp == 0xFEFF;
}

int diary_content_check(const char *s, size_t len, const char **problem)
{
    int64_t count = 0;
    bool visible = false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = td_utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            *problem = "Must be valid UTF-8.";
            return TD_EINVAL;
        }
        if (cp == 0) {
            *problem = "Must not contain NUL characters.";
            return TD_EINVAL;
        }
        visible = visible || !is_blank(cp);
        i += n;
        count++;
    }
    if (count < 1 || count > DIARY_CONTENT_MAX_CHARS) {
        *problem = "Length must be between 1 and 10000 characters.";
        return TD_EINVAL;
    }
    if (!visible) {
        *problem = "Must not be only whitespace.";
        return TD_EINVAL;
    }
    return 0;
}

char *diary_html_escape_new(const char *s, size_t len, size_t *out_len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        const char *e = td_markup_escape_of((unsigned char)s[i]);
        n += e ? strlen(e) : 1;
    }
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        const char *e = td_markup_escape_of((unsigned char)s[i]);
        if (e != NULL) {
            size_t el = strlen(e);
            memcpy(out + o, e, el);
            o += el;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static bool starts_with(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len >= n && memcmp(s, lit, n) == 0;
}

int diary_markup_check(const char *markup, size_t mlen, const char *content, size_t clen,
                       int64_t *pos, int64_t *neg)
{
    static const char open_pos[] = TD_MARKUP_OPEN_POSITIVE;
    static const char open_neg[] = TD_MARKUP_OPEN_NEGATIVE;
    static const char close[] = TD_MARKUP_CLOSE;

    int64_t npos = 0, nneg = 0;
    bool in_span = false;
    size_t span_start = 0; /* content offset where the open span began */
    size_t i = 0, j = 0;
    while (i < mlen) {
        const char *m = markup + i;
        size_t left = mlen - i;
        if (*m == '<') {
            if (starts_with(m, left, open_pos) || starts_with(m, left, open_neg)) {
                if (in_span || !td_utf8_is_boundary(content, clen, j))
                    return TD_EINVAL; /* nested, or cutting a character in two */
                bool positive = starts_with(m, left, open_pos);
                npos += positive;
                nneg += !positive;
                in_span = true;
                span_start = j;
                i += TD_MARKUP_OPEN_LEN;
            } else if (starts_with(m, left, close)) {
                if (!in_span || j == span_start || !td_utf8_is_boundary(content, clen, j))
                    return TD_EINVAL; /* stray, empty, or cutting a character */
                in_span = false;
                i += TD_MARKUP_CLOSE_LEN;
            } else {
                return TD_EINVAL; /* any other tag, or a raw '<' */
            }
            continue;
        }
        char c;
        if (*m == '&') {
            size_t n = td_markup_unescape_at(m, left, &c);
            if (n == 0)
                return TD_EINVAL; /* a raw '&' */
            i += n;
        } else if (*m == '>' || *m == '"' || *m == '\'') {
            return TD_EINVAL; /* must have been escaped */
        } else {
            c = *m;
            i++;
        }
        if (j >= clen || content[j] != c)
            return TD_EINVAL;
        j++;
    }
    if (in_span || j != clen)
        return TD_EINVAL;
    if (pos)
        *pos = npos;
    if (neg)
        *neg = nneg;
    return 0;
}

int64_t diary_per_page_clamp(int64_t per_page)
{
    return per_page > DIARY_PER_PAGE_MAX ? DIARY_PER_PAGE_MAX : per_page;
}

bool diary_page_offset(int64_t page, int64_t per_page, int64_t *offset)
{
    if (page < 1 || per_page < 1)
        return false;
    if (page - 1 > INT64_MAX / per_page)
        return false;
    *offset = (page - 1) * per_page;
    return true;
}

int64_t diary_page_count(int64_t total, int64_t per_page)
{
    if (total <= 0 || per_page <= 0)
        return 0;
    return total / per_page + (total % per_page != 0);
}

const char *diary_overall(int64_t pos, int64_t neg)
{
    return pos > neg ? "positive" : pos < neg ? "negative" : "neutral";
}

int64_t diary_backoff_ms(unsigned attempts, int64_t base_ms, int64_t cap_ms)
{
    int64_t v = base_ms;
    for (unsigned i = 0; i < attempts && v < cap_ms; i++)
        v *= 2;
    return v > cap_ms ? cap_ms : v;
}
