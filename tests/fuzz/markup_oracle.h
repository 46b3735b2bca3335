/*
 * markup_oracle.h — reads analyzed_content back with code of its own, for
 * fuzz_markup.c and fuzz_diary_markup.c. check_html aborts unless `html`
 * is exactly the contract's safe HTML (gateway/docs/openapi.json) for `text`: the only tags are
 * <span class="positive">, <span class="negative"> and </span>, never
 * nested, never empty, on character boundaries (td_utf8_is_boundary); no
 * other '<' and no raw > " '; '&' only in the five entities; stripping the
 * tags and unescaping gives `text` back byte for byte; and `pos`/`neg` are
 * the numbers of opening tags of each class.
 */
#ifndef TD_FUZZ_MARKUP_ORACLE_H
#define TD_FUZZ_MARKUP_ORACLE_H

#include "td_utf8.h"
#include "services/sentiment/analyzer.h"
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>

static const char OPEN_POS[] = "<span class=\"positive\">";
static const char OPEN_NEG[] = "<span class=\"negative\">";
static const char CLOSE[] = "</span>";

static inline bool at(const char *h, size_t hl, size_t i, const char *lit)
{
    size_t n = strlen(lit);
    return hl - i >= n && memcmp(h + i, lit, n) == 0;
}

static inline void check_html(const char *text, size_t len, const char *html, size_t hl,
                              size_t pos, size_t neg)
{
    static const struct {
        const char *e;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
    size_t i = 0, j = 0, open_at = 0, npos = 0, nneg = 0;
    bool open = false;
    while (i < hl) {
        if (html[i] == '<') {
            if (at(html, hl, i, OPEN_POS) || at(html, hl, i, OPEN_NEG)) {
                FUZZ_CHECK(!open, "nested span at %zu", i);
                FUZZ_CHECK(td_utf8_is_boundary(text, len, j), "span starts mid-character");
                if (at(html, hl, i, OPEN_POS))
                    npos++;
                else
                    nneg++;
                open = true;
                open_at = j;
                i += strlen(OPEN_POS);
            } else {
                FUZZ_CHECK(at(html, hl, i, CLOSE), "a '<' that is not an allowed tag at %zu", i);
                FUZZ_CHECK(open && j > open_at, "stray or empty span");
                FUZZ_CHECK(td_utf8_is_boundary(text, len, j), "span ends mid-character");
                open = false;
                i += strlen(CLOSE);
            }
            continue;
        }
        char c = html[i];
        FUZZ_CHECK(c != '>' && c != '"' && c != '\'', "unescaped %c at %zu", c, i);
        if (c == '&') {
            size_t k = 0;
            while (k < 5 && !at(html, hl, i, ents[k].e))
                k++;
            FUZZ_CHECK(k < 5, "'&' outside an entity at %zu", i);
            c = ents[k].c;
            i += strlen(ents[k].e);
        } else {
            i++;
        }
        FUZZ_CHECK(j < len && text[j] == c, "unescaped text differs at byte %zu", j);
        j++;
    }
    FUZZ_CHECK(!open, "unclosed span");
    FUZZ_CHECK(j == len, "unescaped text is %zu bytes, not %zu", j, len);
    FUZZ_CHECK(npos == pos && nneg == neg, "counts %zu/%zu, tags %zu/%zu", pos, neg, npos, nneg);
}

#endif
