/* test_markup.c — the analyzed_content builder: escaping table, span
 * validation, and the round-trip property (strip tags + unescape = input)
 * over thousands of random texts with random spans. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "services/sentiment/markup.h"

static struct senti_spans g_sp;
static void setup(void) { senti_spans_init(&g_sp); }
static void teardown(void) { senti_spans_free(&g_sp); }
TestSuite(markup, .init = setup, .fini = teardown);

static size_t g_hl; /* length of the last build() result */

static char *build(const char *t, size_t len, size_t *pos, size_t *neg)
{
    char *html = NULL;
    size_t hl = 0;
    int rc = senti_markup_build(t, len, &g_sp, &html, &hl, pos, neg);
    cr_assert_eq(rc, 0, "senti_markup_build returned %d", rc);
    cr_assert_eq(html[hl], '\0');
    if (memchr(t, '\0', len) == NULL)
        cr_assert_eq(strlen(html), hl);
    g_hl = hl;
    return html;
}

Test(markup, escapes_every_special_character)
{
    char *h = build("a&b<c>d\"e'f", 11, NULL, NULL);
    cr_assert_str_eq(h, "a&amp;b&lt;c&gt;d&quot;e&#39;f");
    free(h);
}

Test(markup, wraps_spans)
{
    const char *t = "I felt happy today!";
    senti_spans_push(&g_sp, 7, 12, SENTI_POSITIVE, 1);
    size_t p, n;
    char *h = build(t, strlen(t), &p, &n);
    cr_assert_str_eq(h, "I felt <span class=\"positive\">happy</span> today!");
    cr_assert_eq(p, 1);
    cr_assert_eq(n, 0);
    free(h);
}

Test(markup, script_in_text_is_escaped_inside_span)
{
    const char *t = "<script>alert('x')</script> sad";
    senti_spans_push(&g_sp, 0, 8, SENTI_NEGATIVE, 1);
    char *h = build(t, strlen(t), NULL, NULL);
    cr_assert_str_eq(h, "<span class=\"negative\">&lt;script&gt;</span>alert(&#39;x&#39;)"
                        "&lt;/script&gt; sad");
    free(h);
}

Test(markup, bad_spans_are_skipped)
{
    const char *t = "caf\xc3\xa9 good bad";  /* é = 2 bytes at 3..5 */
    size_t len = strlen(t);
    senti_spans_push(&g_sp, 4, 6, SENTI_POSITIVE, 1);    /* splits é */
    senti_spans_push(&g_sp, 6, 10, SENTI_POSITIVE, 1);   /* good: ok */
    senti_spans_push(&g_sp, 8, 14, SENTI_NEGATIVE, 1);   /* overlaps */
    senti_spans_push(&g_sp, 11, 11, SENTI_NEGATIVE, 1);  /* empty */
    senti_spans_push(&g_sp, 11, 99, SENTI_NEGATIVE, 1);  /* out of range */
    senti_spans_push(&g_sp, 11, 14, 7, 1);               /* bad polarity */
    senti_spans_push(&g_sp, 11, 14, SENTI_NEGATIVE, 1);  /* bad: ok */
    senti_spans_push(&g_sp, 0, 3, SENTI_NEGATIVE, 1);    /* unsorted */
    size_t p, n;
    char *h = build(t, len, &p, &n);
    cr_assert_str_eq(h, "caf\xc3\xa9 <span class=\"positive\">good</span> "
                        "<span class=\"negative\">bad</span>");
    cr_assert_eq(p, 1);
    cr_assert_eq(n, 1);
    free(h);
}

Test(markup, failure_leaves_outputs_untouched)
{
    char *h = (char *)0x1;
    size_t hl = 77;
    cr_assert_eq(senti_markup_build(NULL, 3, NULL, &h, &hl, NULL, NULL), TD_EINVAL);
    cr_assert_eq(h, (char *)0x1);
    cr_assert_eq(hl, 77);
    cr_assert_eq(senti_markup_build("x", 1, NULL, NULL, &hl, NULL, NULL), TD_EINVAL);
    char *big = malloc(SENTI_MAX_TEXT_BYTES + 1);
    memset(big, 'a', SENTI_MAX_TEXT_BYTES + 1);
    cr_assert_eq(senti_markup_build(big, SENTI_MAX_TEXT_BYTES + 1, NULL, &h, &hl,
                                    NULL, NULL), TD_ETOOBIG);
    free(big);
    cr_assert_eq(h, (char *)0x1);
}

Test(markup, escape_only_and_empty)
{
    char *h = NULL;
    size_t hl = 1;
    cr_assert_eq(senti_markup_escape("", 0, &h, &hl), 0);
    cr_assert_str_eq(h, "");
    cr_assert_eq(hl, 0);
    free(h);
    cr_assert_eq(senti_markup_escape("&amp;", 5, &h, &hl), 0);
    cr_assert_str_eq(h, "&amp;amp;");
    free(h);
}

/* Inverse of the builder: drop the two span tags, decode the 5 entities.
 * Returns a malloc'd buffer and its length; fails the test on anything
 * else that looks like markup. */
static char *unmarkup(const char *h, size_t hl, size_t *ol)
{
    static const char *const tags[] = {"<span class=\"positive\">",
                                       "<span class=\"negative\">", "</span>"};
    static const char *const ent[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    static const char dec[] = "&<>\"'";
    char *o = malloc(hl + 1);
    size_t n = 0, depth = 0;
    for (size_t i = 0; i < hl;) {
        int hit = 0;
        for (int k = 0; k < 3 && !hit; k++) {
            size_t l = strlen(tags[k]);
            if (hl - i >= l && memcmp(h + i, tags[k], l) == 0) {
                if (k < 2) {
                    cr_assert_eq(depth, 0, "nested span");
                    depth = 1;
                } else {
                    cr_assert_eq(depth, 1, "stray close tag");
                    depth = 0;
                }
                i += l;
                hit = 1;
            }
        }
        for (int k = 0; k < 5 && !hit; k++) {
            size_t l = strlen(ent[k]);
            if (hl - i >= l && memcmp(h + i, ent[k], l) == 0) {
                o[n++] = dec[k];
                i += l;
                hit = 1;
            }
        }
        if (!hit) {
            cr_assert(h[i] != '<' && h[i] != '>' && h[i] != '"' && h[i] != '\'' &&
                      h[i] != '&', "unescaped special byte at %zu", i);
            o[n++] = h[i++];
        }
    }
    cr_assert_eq(depth, 0);
    *ol = n;
    return o;
}

Test(markup, round_trip_property)
{
    static const char *const pieces[] = {
        "<script>", "&amp;", "\"", "'", "happy", " ", "\xc3\xa9", "\xf0\x9f\x98\x8a",
        "\xe2\x9d\xa4\xef\xb8\x8f", "&", "<", ">", "\x80", "\xff", "\xc3", "\n", "abc",
    };
    srand(4242);
    char text[600];
    for (int round = 0; round < 5000; round++) {
        size_t len = 0;
        while (len < 500 && rand() % 40) {
            if (rand() % 4 == 0) {
                text[len++] = (char)(rand() & 0xFF);
            } else {
                const char *p = pieces[rand() % (int)(sizeof pieces / sizeof pieces[0])];
                size_t l = strlen(p);
                memcpy(text + len, p, l);
                len += l;
            }
        }
        /* random spans, valid ones by construction plus some junk */
        senti_spans_clear(&g_sp);
        size_t at = 0;
        while (at < len && rand() % 5) {
            size_t s = at + (size_t)rand() % (len - at + 1);
            size_t e = s + (size_t)rand() % 12;
            if (e > len)
                e = len;
            senti_spans_push(&g_sp, s, e, rand() % 2 ? SENTI_POSITIVE : SENTI_NEGATIVE, 1);
            at = e;
            if (rand() % 7 == 0)
                senti_spans_push(&g_sp, (size_t)rand() % (len + 3), (size_t)rand() % (len + 3),
                                 rand() % 3 - 1, 1);
        }
        size_t p, n;
        char *h = build(text, len, &p, &n);
        size_t hl = g_hl, ol;
        char *back = unmarkup(h, hl, &ol);
        cr_assert_eq(ol, len, "round %d: length %zu vs %zu", round, ol, len);
        cr_assert(memcmp(back, text, len) == 0, "round %d: bytes differ", round);
        free(back);
        free(h);
    }
}

Test(markup, analyzer_spans_round_trip)
{
    const char *t = "I'm not happy & <b>sad</b> \"but\" it's great \xf0\x9f\x98\x8a";
    cr_assert_eq(senti_analyze(t, strlen(t), &g_sp), 0);
    size_t p, n, ol;
    char *h = build(t, strlen(t), &p, &n);
    size_t ap, an;
    senti_spans_count(&g_sp, &ap, &an);
    cr_assert_eq(p, ap);
    cr_assert_eq(n, an);
    char *back = unmarkup(h, strlen(h), &ol);
    cr_assert_eq(ol, strlen(t));
    cr_assert(memcmp(back, t, ol) == 0);
    free(back);
    free(h);
}
