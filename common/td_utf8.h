/*
 * td_utf8.h — strict UTF-8 decoding, shared by every daemon that judges text
 * (content rules, password rules, field names in error details).
 *
 * Strict means: no overlong forms, no surrogates, nothing above U+10FFFF, no
 * stray continuation bytes, no truncated sequences. msgpack does not check
 * strings, so every daemon checks what it stores or echoes.
 */
#ifndef TD_UTF8_H
#define TD_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the sequence at s[0..len) (len >= 1). Returns its length (1-4) and
 * the code point in *cp, or 0 when the bytes are not valid UTF-8. */
size_t td_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* td_utf8_decode with ASCII read inline: for loops over every character of
 * a text (the analyzer), where a call per character into td_utf8.c costs
 * about 5,000 instructions per KB. */
static inline size_t td_utf8_next(const char *s, size_t len, uint32_t *cp)
{
    if ((unsigned char)s[0] < 0x80) {
        *cp = (unsigned char)s[0];
        return 1;
    }
    return td_utf8_decode(s, len, cp);
}

/* The number of code points in s[0..len), or -1 when it is not valid UTF-8. */
int64_t td_utf8_count(const char *s, size_t len);

/* True when offset `off` (0..len) of s[0..len) does not fall inside a valid
 * multi-byte sequence: a place where a markup tag may go. Bytes that are not
 * valid UTF-8 count as one unit each. */
bool td_utf8_is_boundary(const char *s, size_t len, size_t off);

#endif
