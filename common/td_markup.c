/* td_markup.c — the five HTML escapes of analyzed_content (td_markup.h). */
#include "td_markup.h"

#include <string.h>

static const struct {
    const char *entity;
    size_t len;
    char c;
} escapes[] = {{"&amp;", 5, '&'}, {"&lt;", 4, '<'}, {"&gt;", 4, '>'}, {"&quot;", 6, '"'},
               {"&#39;", 5, '\''}};

const char *td_markup_escape_of(unsigned char c)
{
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        if ((unsigned char)escapes[i].c == c)
            return escapes[i].entity;
    }
    return NULL;
}

size_t td_markup_unescape_at(const char *s, size_t len, char *c)
{
    if (len == 0 || s[0] != '&')
        return 0;
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        if (len >= escapes[i].len && memcmp(s, escapes[i].entity, escapes[i].len) == 0) {
            *c = escapes[i].c;
            return escapes[i].len;
        }
    }
    return 0;
}
