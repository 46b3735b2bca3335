/*
 * test_utf8.c — common/td_utf8.{c,h}: the strict decoder every daemon uses
 * to judge text (td-auth's password rules, td-diary's content rules,
 * td-sentiment's input, the RPC server's field names in error details).
 *
 * "Strict" is td_utf8.h's list: no overlong forms, no surrogates, nothing
 * above U+10FFFF, no stray continuation bytes, no truncated sequences. The
 * tables below name one case per class; two sweeps then compare the
 * decoder with the Unicode Standard's own statement of the rule (Table 3-7,
 * "Well-Formed UTF-8 Byte Sequences"): every scalar value round-trips, and
 * every byte string of up to three bytes is accepted exactly when the
 * table says so.
 *
 * Every case is decoded from a heap copy of exactly its length, so a read
 * past `len` is an AddressSanitizer error in the sanitizer build rather than
 * a silent look at the next case.
 */
#include "td_utf8.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A heap copy of s[0..len) with nothing after it (len 0: one byte, unread). */
static char *exact_copy(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    cr_assert_not_null(p);
    memcpy(p, s, len);
    return p;
}

static size_t decode_exact(const char *s, size_t len, uint32_t *cp)
{
    char *p = exact_copy(s, len);
    size_t n = td_utf8_decode(p, len, cp);
    free(p);
    return n;
}

static int64_t count_exact(const char *s, size_t len)
{
    char *p = exact_copy(s, len);
    int64_t n = td_utf8_count(p, len);
    free(p);
    return n;
}

/* ---- one sequence ------------------------------------------------------- */

struct valid_case {
    const char *bytes;
    size_t len;
    uint32_t cp;
    const char *what;
};

Test(utf8, decodes_valid_sequences_of_one_to_four_bytes)
{
    static const struct valid_case cases[] = {
        /* td_utf8.h decodes s[0..len), not a C string: U+0000 is a code
         * point like any other. Refusing control characters is the
         * callers' rule (auth_utf8_chars in services/auth/logic.c). */
        {"\x00", 1, 0x0, "NUL"},
        {"A", 1, 0x41, "ASCII letter"},
        {"\x7f", 1, 0x7F, "largest one-byte"},
        {"\xc2\x80", 2, 0x80, "smallest two-byte"},
        {"\xc3\xa9", 2, 0xE9, "e acute"},
        {"\xdf\xbf", 2, 0x7FF, "largest two-byte"},
        {"\xe0\xa0\x80", 3, 0x800, "smallest three-byte"},
        {"\xe2\x82\xac", 3, 0x20AC, "euro sign"},
        {"\xed\x9f\xbf", 3, 0xD7FF, "just below the surrogates"},
        {"\xee\x80\x80", 3, 0xE000, "just above the surrogates"},
        {"\xef\xbb\xbf", 3, 0xFEFF, "byte order mark"},
        {"\xef\xbf\xbf", 3, 0xFFFF, "largest three-byte (a noncharacter, still a scalar value)"},
        {"\xf0\x90\x80\x80", 4, 0x10000, "smallest four-byte"},
        {"\xf0\x9f\x98\x8a", 4, 0x1F60A, "emoji"},
        {"\xf3\xbf\xbf\xbf", 4, 0xFFFFF, "plane 15"},
        {"\xf4\x8f\xbf\xbf", 4, 0x10FFFF, "largest code point"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct valid_case *c = &cases[i];
        uint32_t cp = 0xFFFFFFFFu;
        cr_expect_eq(decode_exact(c->bytes, c->len, &cp), c->len, "%s: length", c->what);
        cr_expect_eq(cp, c->cp, "%s: U+%04X, want U+%04X", c->what, (unsigned)cp,
                     (unsigned)c->cp);
    }
}

Test(utf8, decodes_only_the_first_sequence_of_a_longer_buffer)
{
    /* What follows the first sequence is not its business, valid or not. */
    static const struct {
        const char *bytes;
        size_t len, first_len;
        uint32_t cp;
        const char *what;
    } cases[] = {
        {"AB", 2, 1, 0x41, "ASCII then ASCII"},
        {"A\xff", 2, 1, 0x41, "ASCII then an invalid byte"},
        {"\xc3\xa9\x80", 3, 2, 0xE9, "two-byte then a stray continuation"},
        {"\xe2\x82\xac\xe2", 4, 3, 0x20AC, "three-byte then a truncated one"},
        {"\xf0\x9f\x98\x8a\xf0\x9f\x98\x8a", 8, 4, 0x1F60A, "four-byte twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t cp = 0;
        cr_expect_eq(decode_exact(cases[i].bytes, cases[i].len, &cp), cases[i].first_len, "%s",
                     cases[i].what);
        cr_expect_eq(cp, cases[i].cp, "%s", cases[i].what);
    }
}

struct invalid_case {
    const char *bytes;
    size_t len;
    const char *what;
};

Test(utf8, refuses_every_class_of_invalid_input)
{
    static const struct invalid_case cases[] = {
        /* overlong: a shorter form exists */
        {"\xc0\x80", 2, "overlong U+0000 (C0: every two-byte form is overlong)"},
        {"\xc0\xaf", 2, "overlong '/'"},
        {"\xc1\xbf", 2, "overlong U+007F (C1)"},
        {"\xe0\x80\x80", 3, "overlong U+0000 in three bytes"},
        {"\xe0\x80\xaf", 3, "overlong '/' in three bytes"},
        {"\xe0\x9f\xbf", 3, "overlong U+07FF (E0 9F: top of E0 80..9F)"},
        {"\xf0\x80\x80\x80", 4, "overlong U+0000 in four bytes"},
        {"\xf0\x80\x80\xaf", 4, "overlong '/' in four bytes"},
        {"\xf0\x8f\xbf\xbf", 4, "overlong U+FFFF (F0 8F)"},
        /* UTF-16 surrogates are not scalar values */
        {"\xed\xa0\x80", 3, "U+D800, first high surrogate"},
        {"\xed\xad\xbf", 3, "U+DB7F"},
        {"\xed\xae\x80", 3, "U+DB80, first private-use high surrogate"},
        {"\xed\xb0\x80", 3, "U+DC00, first low surrogate"},
        {"\xed\xbf\xbf", 3, "U+DFFF, last low surrogate"},
        {"\xed\xa0\xbd\xed\xb8\x8a", 6, "a surrogate pair (CESU-8 of U+1F60A)"},
        /* above U+10FFFF */
        {"\xf4\x90\x80\x80", 4, "U+110000 (F4 90)"},
        {"\xf4\xbf\xbf\xbf", 4, "U+13FFFF (F4 BF)"},
        {"\xf5\x80\x80\x80", 4, "F5 lead"},
        {"\xf7\xbf\xbf\xbf", 4, "F7 lead (U+1FFFFF)"},
        {"\xf8\x88\x80\x80\x80", 5, "five-byte form (F8)"},
        {"\xfb\xbf\xbf\xbf\xbf", 5, "five-byte form (FB)"},
        {"\xfc\x84\x80\x80\x80\x80", 6, "six-byte form (FC)"},
        {"\xfd\xbf\xbf\xbf\xbf\xbf", 6, "six-byte form (FD)"},
        {"\xfe", 1, "FE"},
        {"\xff", 1, "FF"},
        {"\xfe\xfe\xff\xff", 4, "UTF-16 BOMs as bytes"},
        /* truncated at the end of the buffer */
        {"\xc2", 1, "two-byte lead alone"},
        {"\xdf", 1, "last two-byte lead alone"},
        {"\xe0", 1, "three-byte lead alone"},
        {"\xe2\x82", 2, "three-byte missing one"},
        {"\xf0", 1, "four-byte lead alone"},
        {"\xf0\x9f", 2, "four-byte missing two"},
        {"\xf0\x9f\x98", 3, "four-byte missing one"},
        {"\xf4\x8f\xbf", 3, "U+10FFFF missing one"},
        /* stray continuation bytes */
        {"\x80", 1, "80 alone"},
        {"\xbf", 1, "BF alone"},
        {"\x80\x80", 2, "two continuations"},
        {"\xbf\xc3\xa9", 3, "continuation before a valid sequence"},
        /* a sequence cut short by a byte that is no continuation */
        {"\xc2\x00", 2, "two-byte then NUL"},
        {"\xc2\x41", 2, "two-byte then ASCII"},
        {"\xc2\xc3\xa9", 3, "two-byte lead then another lead"},
        {"\xc3\xc0", 2, "two-byte then C0"},
        {"\xe2\x28\xa1", 3, "three-byte, second byte ASCII"},
        {"\xe2\x82\x28", 3, "three-byte, third byte ASCII"},
        {"\xe2\x82\xc0", 3, "three-byte, third byte C0"},
        {"\xf0\x28\x8c\xbc", 4, "four-byte, second byte ASCII"},
        {"\xf0\x90\x28\xbc", 4, "four-byte, third byte ASCII"},
        {"\xf0\x90\x8c\x28", 4, "four-byte, fourth byte ASCII"},
        {"\xf0\x90\x8c\xff", 4, "four-byte, fourth byte FF"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct invalid_case *c = &cases[i];
        uint32_t cp = 0xC0FFEE;
        cr_expect_eq(decode_exact(c->bytes, c->len, &cp), 0, "decode accepted %s", c->what);
        cr_expect_eq(count_exact(c->bytes, c->len), -1, "count accepted %s", c->what);
    }
}

Test(utf8, a_valid_sequence_cut_by_len_is_truncated_whatever_follows_in_memory)
{
    /* The bytes are all there, but len says they are not ours to read. */
    static const struct valid_case cases[] = {
        {"\xc3\xa9", 2, 0xE9, "two-byte"},
        {"\xe2\x82\xac", 3, 0x20AC, "three-byte"},
        {"\xf0\x9f\x98\x8a", 4, 0x1F60A, "four-byte"},
        {"\xf4\x8f\xbf\xbf", 4, 0x10FFFF, "U+10FFFF"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t len = 1; len < cases[i].len; len++) {
            uint32_t cp;
            cr_expect_eq(td_utf8_decode(cases[i].bytes, len, &cp), 0, "%s cut to %zu",
                         cases[i].what, len);
            cr_expect_eq(decode_exact(cases[i].bytes, len, &cp), 0, "%s cut to %zu (heap)",
                         cases[i].what, len);
        }
    }
}

/* ---- counting --------------------------------------------------------- */

struct count_case {
    const char *bytes;
    size_t len;
    int64_t want;
    const char *what;
};

Test(utf8, counts_code_points_not_bytes_and_refuses_any_invalid_sequence)
{
    static const struct count_case cases[] = {
        {"", 0, 0, "empty"},
        {"abc", 3, 3, "ASCII"},
        {"a\0b", 3, 3, "an embedded NUL counts as one code point"},
        {"\0\0\0\0", 4, 4, "only NULs"},
        {"h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x8a", 10, 4, "one of each length"},
        {"\xef\xbb\xbf" "x", 4, 2, "a leading BOM is a code point, not skipped"},
        {"\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf", 8, 2, "U+10FFFF twice"},
        {"\xff" "abc", 4, -1, "invalid first byte"},
        {"ab\xc0\xaf" "cd", 6, -1, "overlong in the middle"},
        {"ab\xed\xa0\x80", 5, -1, "surrogate at the end"},
        {"abc\xe2\x82", 5, -1, "truncated at the end of the buffer"},
        {"abc\xf0\x9f\x98", 6, -1, "four-byte truncated at the end"},
        {"\xc3\xa9\xa9", 3, -1, "stray continuation after a valid sequence"},
        {"\xe2\x82\xac\xf4\x90\x80\x80", 7, -1, "above U+10FFFF after a valid sequence"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct count_case *c = &cases[i];
        cr_expect_eq(count_exact(c->bytes, c->len), c->want, "%s: got %lld, want %lld",
                     c->what, (long long)count_exact(c->bytes, c->len), (long long)c->want);
    }
}

/* ---- against the Unicode Standard ---------------------------------------- */

/* Encodes a scalar value the textbook way; returns its length. */
static size_t encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

Test(utf8, every_scalar_value_round_trips)
{
    size_t failures = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        unsigned char buf[4];
        size_t n = encode(cp, buf);
        uint32_t got = 0xFFFFFFFFu;
        size_t m = td_utf8_decode((const char *)buf, n, &got);
        if (m != n || got != cp) {
            cr_expect_fail("U+%04X: length %zu (want %zu), got U+%04X", (unsigned)cp, m, n,
                           (unsigned)got);
            if (++failures == 10)
                cr_assert_fail("stopping after 10 failures");
        }
    }
}

/* Table 3-7 of the Unicode Standard: the well-formed sequences, as byte
 * ranges per position. Anything not matched by a row is ill-formed. */
static const struct {
    unsigned char lo[4], hi[4];
    size_t n;
} table_3_7[] = {
    {{0x00}, {0x7F}, 1},
    {{0xC2, 0x80}, {0xDF, 0xBF}, 2},
    {{0xE0, 0xA0, 0x80}, {0xE0, 0xBF, 0xBF}, 3},
    {{0xE1, 0x80, 0x80}, {0xEC, 0xBF, 0xBF}, 3},
    {{0xED, 0x80, 0x80}, {0xED, 0x9F, 0xBF}, 3},
    {{0xEE, 0x80, 0x80}, {0xEF, 0xBF, 0xBF}, 3},
    {{0xF0, 0x90, 0x80, 0x80}, {0xF0, 0xBF, 0xBF, 0xBF}, 4},
    {{0xF1, 0x80, 0x80, 0x80}, {0xF3, 0xBF, 0xBF, 0xBF}, 4},
    {{0xF4, 0x80, 0x80, 0x80}, {0xF4, 0x8F, 0xBF, 0xBF}, 4},
};

/* The length of the well-formed sequence at the start of b[0..len), or 0. */
static size_t table_length(const unsigned char *b, size_t len)
{
    for (size_t r = 0; r < sizeof table_3_7 / sizeof table_3_7[0]; r++) {
        size_t n = table_3_7[r].n;
        bool match = n <= len;
        for (size_t k = 0; match && k < n; k++)
            match = b[k] >= table_3_7[r].lo[k] && b[k] <= table_3_7[r].hi[k];
        if (match)
            return n;
    }
    return 0;
}

static void expect_like_table(const unsigned char *b, size_t len, size_t *failures)
{
    uint32_t cp;
    size_t got = td_utf8_decode((const char *)b, len, &cp);
    size_t want = table_length(b, len);
    if (got != want) {
        cr_expect_fail("%zu bytes %02X %02X %02X %02X: length %zu, Table 3-7 says %zu", len,
                       b[0], len > 1 ? b[1] : 0, len > 2 ? b[2] : 0, len > 3 ? b[3] : 0, got,
                       want);
        if (++*failures == 10)
            cr_assert_fail("stopping after 10 failures");
    }
}

Test(utf8, accepts_exactly_what_table_3_7_allows, .timeout = 120)
{
    size_t failures = 0;
    unsigned char b[4] = {0};
    /* every string of one, two and three bytes */
    for (unsigned x = 0; x < 256; x++) {
        b[0] = (unsigned char)x;
        expect_like_table(b, 1, &failures);
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (unsigned char)y;
            expect_like_table(b, 2, &failures);
            for (unsigned z = 0; z < 256; z++) {
                b[2] = (unsigned char)z;
                expect_like_table(b, 3, &failures);
            }
        }
    }
    /* four bytes: every lead and second byte (where the F0/F4 limits are),
     * the last two from the edges of the continuation range and outside */
    static const unsigned char edges[] = {0x00, 0x7F, 0x80, 0x81, 0xBE, 0xBF, 0xC0, 0xFF};
    for (unsigned x = 0xC0; x < 256; x++) {
        for (unsigned y = 0; y < 256; y++) {
            for (size_t k = 0; k < sizeof edges; k++) {
                for (size_t m = 0; m < sizeof edges; m++) {
                    b[0] = (unsigned char)x, b[1] = (unsigned char)y;
                    b[2] = edges[k], b[3] = edges[m];
                    expect_like_table(b, 4, &failures);
                }
            }
        }
    }
}
