/*
 * test_logic.c — td-diary's pure rules: content validation in code points,
 * HTML escaping, the markup check, pagination arithmetic, backoff.
 */
#include "services/diary/logic.h"
#include "td_utf8.h"
#include "td_error.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(const char *s, size_t len, const char **problem)
{
    const char *p = NULL;
    int rc = diary_content_check(s, len, &p);
    if (problem)
        *problem = p;
    return rc;
}

static int check_str(const char *s)
{
    return check(s, strlen(s), NULL);
}

/* A string of n copies of the UTF-8 sequence `unit`. */
static char *repeat(const char *unit, size_t n, size_t *len)
{
    size_t u = strlen(unit);
    char *s = malloc(u * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[u * n] = '\0';
    *len = u * n;
    return s;
}

TestSuite(content);

Test(content, accepts_ordinary_text)
{
    cr_assert_eq(check_str("I felt happy today!"), 0);
    cr_assert_eq(check_str("x"), 0);
    cr_assert_eq(check_str("  padded  "), 0);
    cr_assert_eq(check_str("Caf\xc3\xa9 \xf0\x9f\x98\x8a"), 0); /* Café 😊 */
}

Test(content, refuses_empty)
{
    const char *problem;
    cr_assert_eq(check("", 0, &problem), TD_EINVAL);
    cr_assert_not_null(strstr(problem, "between 1 and 10000"));
}

Test(content, refuses_ascii_whitespace_only)
{
    const char *problem;
    cr_assert_eq(check(" \t\r\n\v\f ", 7, &problem), TD_EINVAL);
    cr_assert_str_eq(problem, "Must not be only whitespace.");
}

Test(content, refuses_unicode_whitespace_only)
{
    /* NBSP, ideographic space, em space, line separator, ZWSP, BOM, NEL */
    const char *s = "\xc2\xa0\xe3\x80\x80\xe2\x80\x83\xe2\x80\xa8\xe2\x80\x8b\xef\xbb\xbf\xc2\x85";
    cr_assert_eq(check_str(s), TD_EINVAL);
    /* ... but one visible character among them is content. */
    cr_assert_eq(check_str("\xc2\xa0" "a" "\xe3\x80\x80"), 0);
}

Test(content, counts_code_points_not_bytes)
{
    size_t len;
    char *s = repeat("\xf0\x9f\x98\x8a", 10000, &len); /* 10,000 × 😊 = 40,000 bytes */
    cr_assert_eq(len, 40000);
    cr_assert_eq(check(s, len, NULL), 0, "10,000 four-byte characters are allowed");
    free(s);
    s = repeat("\xf0\x9f\x98\x8a", 10001, &len);
    const char *problem;
    cr_assert_eq(check(s, len, &problem), TD_EINVAL, "10,001 characters are too many");
    cr_assert_not_null(strstr(problem, "between 1 and 10000"));
    free(s);
}

Test(content, limit_is_exact_for_ascii_and_two_byte_text)
{
    size_t len;
    char *s = repeat("a", 10000, &len);
    cr_assert_eq(check(s, len, NULL), 0);
    free(s);
    s = repeat("a", 10001, &len);
    cr_assert_eq(check(s, len, NULL), TD_EINVAL);
    free(s);
    s = repeat("\xc3\xa9", 10000, &len);
    cr_assert_eq(check(s, len, NULL), 0);
    free(s);
}

Test(content, refuses_nul)
{
    const char *problem;
    cr_assert_eq(check("a\0b", 3, &problem), TD_EINVAL);
    cr_assert_str_eq(problem, "Must not contain NUL characters.");
}

Test(content, refuses_invalid_utf8)
{
    const char *bad[] = {
        "\xff",                 /* never valid */
        "abc\x80",              /* stray continuation */
        "\xc3",                 /* truncated */
        "\xc0\xaf",             /* overlong '/' */
        "\xe0\x80\xaf",         /* overlong, three bytes */
        "\xed\xa0\x80",         /* UTF-16 surrogate */
        "\xf4\x90\x80\x80",     /* above U+10FFFF */
        "\xf0\x9f\x98",         /* truncated emoji */
        "ok \xe2\x28\xa1 ok",   /* bad continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *problem;
        cr_assert_eq(check(bad[i], strlen(bad[i]), &problem), TD_EINVAL, "case %zu", i);
        cr_assert_str_eq(problem, "Must be valid UTF-8.");
    }
}

Test(content, utf8_count_counts_code_points)
{
    cr_assert_eq(td_utf8_count("", 0), 0);
    cr_assert_eq(td_utf8_count("abc", 3), 3);
    cr_assert_eq(td_utf8_count("\xc3\xa9\xf0\x9f\x98\x8a", 6), 2);
    cr_assert_eq(td_utf8_count("\xff", 1), -1);
}

TestSuite(escape);

static void assert_escape(const char *in, const char *want)
{
    size_t n;
    char *out = diary_html_escape_new(in, strlen(in), &n);
    cr_assert_not_null(out);
    cr_assert_str_eq(out, want);
    cr_assert_eq(n, strlen(want));
    free(out);
}

Test(escape, escapes_the_five_characters)
{
    assert_escape("& < > \" '", "&amp; &lt; &gt; &quot; &#39;");
    assert_escape("<script>alert('x')</script>",
                  "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    assert_escape("plain", "plain");
    assert_escape("", "");
    assert_escape("&amp;", "&amp;amp;");
    assert_escape("caf\xc3\xa9 \xf0\x9f\x98\x8a", "caf\xc3\xa9 \xf0\x9f\x98\x8a");
}

Test(escape, escaped_text_passes_the_markup_check_with_no_spans)
{
    const char *in = "a<b>&\"c'd";
    size_t n;
    char *out = diary_html_escape_new(in, strlen(in), &n);
    int64_t pos = -1, neg = -1;
    TD_ASSERT_OK(diary_markup_check(out, n, in, strlen(in), &pos, &neg));
    cr_assert_eq(pos, 0);
    cr_assert_eq(neg, 0);
    free(out);
}

TestSuite(markup);

static int markup(const char *m, const char *content, int64_t *pos, int64_t *neg)
{
    return diary_markup_check(m, strlen(m), content, strlen(content), pos, neg);
}

Test(markup, accepts_spans_and_counts_them)
{
    int64_t pos, neg;
    cr_assert_eq(markup("I felt <span class=\"positive\">happy</span> today!", "I felt happy today!",
                        &pos, &neg),
                 0);
    cr_assert_eq(pos, 1);
    cr_assert_eq(neg, 0);
    cr_assert_eq(markup("<span class=\"negative\">not happy</span> but "
                        "<span class=\"positive\">hopeful</span> &amp; "
                        "<span class=\"positive\">calm</span>",
                        "not happy but hopeful & calm", &pos, &neg),
                 0);
    cr_assert_eq(pos, 2);
    cr_assert_eq(neg, 1);
}

Test(markup, refuses_what_is_not_the_content)
{
    const char *content = "I am happy";
    cr_assert_eq(markup("I am sad", content, NULL, NULL), TD_EINVAL);
    cr_assert_eq(markup("I am happy!", content, NULL, NULL), TD_EINVAL);
    cr_assert_eq(markup("I am happ", content, NULL, NULL), TD_EINVAL);
    cr_assert_eq(markup("", content, NULL, NULL), TD_EINVAL);
}

Test(markup, refuses_unescaped_or_foreign_markup)
{
    cr_assert_eq(markup("<script>x</script>", "<script>x</script>", NULL, NULL), TD_EINVAL);
    cr_assert_eq(markup("<b>x</b>", "x", NULL, NULL), TD_EINVAL);
    cr_assert_eq(markup("a > b", "a > b", NULL, NULL), TD_EINVAL);
    cr_assert_eq(markup("it's", "it's", NULL, NULL), TD_EINVAL);
    cr_assert_eq(markup("say \"hi\"", "say \"hi\"", NULL, NULL), TD_EINVAL);
    cr_assert_eq(markup("a & b", "a & b", NULL, NULL), TD_EINVAL);
    cr_assert_eq(markup("&#60;", "<", NULL, NULL), TD_EINVAL, "only the five entities");
    cr_assert_eq(markup("&nbsp;", "\xc2\xa0", NULL, NULL), TD_EINVAL);
    cr_assert_eq(markup("<span class=\"positive\" onclick=\"x\">a</span>", "a", NULL, NULL),
                 TD_EINVAL);
    cr_assert_eq(markup("<span class='positive'>a</span>", "a", NULL, NULL), TD_EINVAL);
    cr_assert_eq(markup("<SPAN class=\"positive\">a</SPAN>", "a", NULL, NULL), TD_EINVAL);
    cr_assert_eq(markup("<span class=\"neutral\">a</span>", "a", NULL, NULL), TD_EINVAL);
}

Test(markup, refuses_nested_empty_and_unbalanced_spans)
{
    const char *p = "<span class=\"positive\">";
    const char *n = "<span class=\"negative\">";
    char buf[256];
    snprintf(buf, sizeof buf, "%sa%sb</span></span>", p, n);
    cr_assert_eq(markup(buf, "ab", NULL, NULL), TD_EINVAL, "nested");
    snprintf(buf, sizeof buf, "%s</span>ab", p);
    cr_assert_eq(markup(buf, "ab", NULL, NULL), TD_EINVAL, "empty");
    snprintf(buf, sizeof buf, "%sab", p);
    cr_assert_eq(markup(buf, "ab", NULL, NULL), TD_EINVAL, "unclosed");
    cr_assert_eq(markup("ab</span>", "ab", NULL, NULL), TD_EINVAL, "stray close");
}

TestSuite(paging);

Test(paging, per_page_is_capped_at_100)
{
    cr_assert_eq(diary_per_page_clamp(1), 1);
    cr_assert_eq(diary_per_page_clamp(100), 100);
    cr_assert_eq(diary_per_page_clamp(101), 100);
    cr_assert_eq(diary_per_page_clamp(INT64_MAX), 100);
}

Test(paging, offset_of_a_page)
{
    int64_t off = -1;
    cr_assert(diary_page_offset(1, 10, &off));
    cr_assert_eq(off, 0);
    cr_assert(diary_page_offset(3, 10, &off));
    cr_assert_eq(off, 20);
    cr_assert_not(diary_page_offset(0, 10, &off));
    cr_assert_not(diary_page_offset(INT64_MAX, 100, &off), "overflow is past the end");
    cr_assert(diary_page_offset(INT64_MAX, 1, &off));
    cr_assert_eq(off, INT64_MAX - 1);
}

Test(paging, page_count_is_a_ceiling_and_zero_without_entries)
{
    cr_assert_eq(diary_page_count(0, 10), 0);
    cr_assert_eq(diary_page_count(1, 10), 1);
    cr_assert_eq(diary_page_count(10, 10), 1);
    cr_assert_eq(diary_page_count(11, 10), 2);
    cr_assert_eq(diary_page_count(25, 10), 3);
    cr_assert_eq(diary_page_count(25, 100), 1);
}

Test(paging, overall_follows_the_totals)
{
    cr_assert_str_eq(diary_overall(3, 1), "positive");
    cr_assert_str_eq(diary_overall(1, 3), "negative");
    cr_assert_str_eq(diary_overall(2, 2), "neutral");
    cr_assert_str_eq(diary_overall(0, 0), "neutral");
}

Test(paging, backoff_doubles_up_to_its_cap)
{
    cr_assert_eq(diary_backoff_ms(0, 250, 4000), 250);
    cr_assert_eq(diary_backoff_ms(1, 250, 4000), 500);
    cr_assert_eq(diary_backoff_ms(4, 250, 4000), 4000);
    cr_assert_eq(diary_backoff_ms(60, 250, 4000), 4000);
}
