/*
 * fuzz_markup.c — the analyzer and the markup builder of td-sentiment
 * (services/sentiment/analyzer.h, markup.h), and td-diary's check of what
 * they produce (services/diary/logic.h, diary_markup_check).
 *
 * Odd first byte: the rest is a text, and its spans are the analyzer's.
 * Even first byte: the next byte is a number of spans m (mod 32), then m
 * spans of 4 bytes each (start u16 little-endian, length u8, flags u8: bit 0
 * polarity, bit 1 an invalid polarity), then the text: hostile spans
 * (unsorted, overlapping, out of range, cutting a character in half) that
 * the builder must validate, as it does for an LLM's.
 *
 * Oracles:
 *  - the analyzer's spans are sorted, non-empty, non-overlapping, inside the
 *    text, on character boundaries, of a known polarity, and all of them are
 *    marked;
 *  - the markup, read back by code independent of both builder and checker:
 *    the only tags are <span class="positive">, <span class="negative"> and
 *    </span>, never nested, never empty, on character boundaries; no other
 *    '<', no raw > " ', '&' only in the five entities; stripping the tags and
 *    unescaping gives the text back byte for byte; the counts reported are
 *    the numbers of tags;
 *  - td-diary's diary_markup_check accepts it with the same counts;
 *  - senti_markup_escape is diary_html_escape_new.
 */
#include "td_utf8.h"
#include "services/sentiment/analyzer.h"
#include "fuzz.h"
#include "services/diary/logic.h"
#include "services/sentiment/markup.h"
#include "markup_oracle.h"

#include <string.h>

static void check_spans(const char *text, size_t len, const struct senti_spans *s)
{
    size_t prev_end = 0;
    for (size_t k = 0; k < s->count; k++) {
        const struct senti_span *sp = &s->items[k];
        FUZZ_CHECK(sp->start < sp->end && sp->end <= len, "span %zu [%zu,%zu) of %zu bytes", k,
                   sp->start, sp->end, len);
        FUZZ_CHECK(sp->start >= prev_end, "span %zu unsorted or overlapping", k);
        FUZZ_CHECK(td_utf8_is_boundary(text, len, sp->start) &&
                       td_utf8_is_boundary(text, len, sp->end),
                   "span %zu cuts a character", k);
        FUZZ_CHECK(sp->polarity == SENTI_POSITIVE || sp->polarity == SENTI_NEGATIVE,
                   "span %zu polarity %d", k, sp->polarity);
        FUZZ_CHECK(sp->weight >= 0.0f, "span %zu weight %f", k, (double)sp->weight);
        prev_end = sp->end;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct senti_spans spans;
    senti_spans_init(&spans);
    const char *text;
    size_t len;
    bool analyzed = data[0] & 1;
    if (analyzed) {
        text = (const char *)data + 1;
        len = size - 1;
        int rc = senti_analyze(text, len, &spans);
        FUZZ_CHECK(rc == (len > SENTI_MAX_TEXT_BYTES ? TD_ETOOBIG : 0), "analyze: %d",
                   rc);
        check_spans(text, len, &spans);
    } else {
        if (size < 2)
            return 0;
        size_t m = data[1] % 32, off = 2;
        for (size_t k = 0; k < m && off + 4 <= size; k++, off += 4) {
            size_t start = data[off] | (size_t)data[off + 1] << 8;
            int pol = (data[off + 3] & 2) ? 0 : (data[off + 3] & 1) ? 1 : -1;
            FUZZ_CHECK(senti_spans_push(&spans, start, start + data[off + 2], pol, 1.0f) == 0,
                       "push");
        }
        text = (const char *)data + (off < size ? off : size);
        len = size - (size_t)(text - (const char *)data);
    }

    char *html = NULL;
    size_t hl = 0, pos = 0, neg = 0;
    int rc = senti_markup_build(text, len, &spans, &html, &hl, &pos, &neg);
    FUZZ_CHECK(rc == (len > SENTI_MAX_TEXT_BYTES ? TD_ETOOBIG : 0), "build: %d", rc);
    if (rc == 0) {
        FUZZ_CHECK(html[hl] == '\0', "not NUL-terminated");
        check_html(text, len, html, hl, pos, neg);
        if (analyzed)
            FUZZ_CHECK(pos + neg == spans.count, "%zu of the analyzer's %zu spans marked",
                       pos + neg, spans.count);
        {
            /* Any bytes, not only what diary_content_check lets in. */
            int64_t dp = -1, dn = -1;
            FUZZ_CHECK(diary_markup_check(html, hl, text, len, &dp, &dn) == 0,
                       "td-diary refuses the markup");
            FUZZ_CHECK(dp == (int64_t)pos && dn == (int64_t)neg, "td-diary counts differ");
        }
        free(html);

        char *esc = NULL, *desc;
        size_t el = 0, dl = 0;
        FUZZ_CHECK(senti_markup_escape(text, len, &esc, &el) == 0, "escape failed");
        desc = diary_html_escape_new(text, len, &dl);
        FUZZ_CHECK(desc && dl == el && memcmp(esc, desc, el) == 0, "the two escapes differ");
        check_html(text, len, esc, el, 0, 0);
        free(esc);
        free(desc);
    }
    senti_spans_free(&spans);
    return 0;
}
