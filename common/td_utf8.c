/*
 * td_utf8.c — the decoder of td_utf8.h: the only UTF-8 decoder of the
 * project (the sentiment analyzer, the JSON writer and the markup checker
 * all call it).
 */
#include "td_utf8.h"

size_t td_utf8_decode(const char *str, size_t len, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0; /* continuation byte, 0xC0/0xC1 (always overlong) or 0xF5+ */
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

int64_t td_utf8_count(const char *s, size_t len)
{
    int64_t count = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = td_utf8_decode(s + i, len - i, &cp);
        if (n == 0)
            return -1;
        i += n;
        count++;
    }
    return count;
}

bool td_utf8_is_boundary(const char *s, size_t len, size_t off)
{
    if (off > len)
        return false;
    /* A lead byte is never swallowed by an earlier sequence, so the question
     * is local: `off` is inside a character exactly when a valid sequence
     * starting 1..3 bytes before it reaches past it. */
    for (size_t k = 1; k <= 3 && k <= off; k++) {
        uint32_t cp;
        if (td_utf8_decode(s + off - k, len - (off - k), &cp) > k)
            return false;
    }
    return true;
}
