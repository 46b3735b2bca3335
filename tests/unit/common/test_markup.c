/*
 * test_markup.c — the escapes of analyzed_content (common/td_markup.h),
 * which td-sentiment writes and td-diary reads back: each escape round-trips,
 * nothing else is escaped, and reading stops at the buffer's end.
 */
#include "td_markup.h"

#include <criterion/criterion.h>
#include <string.h>

Test(markup, the_five_bytes_escape_and_read_back)
{
    const struct {
        unsigned char c;
        const char *escape;
    } cases[] = {{'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}, {'"', "&quot;"}, {'\'', "&#39;"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_str_eq(td_markup_escape_of(cases[i].c), cases[i].escape);
        char c = 0;
        size_t n = td_markup_unescape_at(cases[i].escape, strlen(cases[i].escape), &c);
        cr_assert_eq(n, strlen(cases[i].escape), "%s", cases[i].escape);
        cr_assert_eq((unsigned char)c, cases[i].c, "%s", cases[i].escape);
    }
}

Test(markup, every_other_byte_stands_for_itself)
{
    for (unsigned c = 0; c < 256; c++) {
        if (strchr("&<>\"'", (int)c) != NULL && c != 0)
            continue;
        cr_assert_null(td_markup_escape_of((unsigned char)c), "byte %u", c);
    }
}

Test(markup, reading_needs_a_whole_known_escape_within_the_buffer)
{
    const struct {
        const char *s;
        size_t len;
    } cases[] = {
        {"&amp;", 4},         /* cut by the buffer's end */
        {"&am", 3},           /* truncated */
        {"&apos;", 6},        /* a real entity, but not one the markup uses */
        {"&#x27;", 6},        /* numeric, other form */
        {"&AMP;", 5},         /* case matters */
        {"amp;", 4},          /* no ampersand */
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char c = 'x';
        cr_assert_eq(td_markup_unescape_at(cases[i].s, cases[i].len, &c), 0, "case %zu", i);
        cr_assert_eq(c, 'x', "case %zu wrote its output", i);
    }
}

Test(markup, both_opening_tags_have_one_length)
{
    cr_assert_eq(strlen(TD_MARKUP_OPEN_POSITIVE), TD_MARKUP_OPEN_LEN);
    cr_assert_eq(strlen(TD_MARKUP_OPEN_NEGATIVE), TD_MARKUP_OPEN_LEN);
    cr_assert_eq(strlen(TD_MARKUP_CLOSE), TD_MARKUP_CLOSE_LEN);
}
