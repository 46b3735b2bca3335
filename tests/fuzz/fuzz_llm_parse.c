/*
 * fuzz_llm_parse.c — the parser of an LLM's chat-completions response
 * (services/sentiment/llm_parse.h, senti_llm_parse_response): the model is
 * untrusted, and so is everything between it and td-sentiment.
 *
 * Input: "<entry text>\0<response body>"; without a NUL byte the whole
 * input is the body and the text is a fixed entry.
 *
 * Oracles: the result is 0 / TD_EINVAL / TD_ETOOBIG, with no spans on
 * failure; the spans returned lie within the text, are sorted, non-empty,
 * non-overlapping, on UTF-8 character boundaries, of a known polarity, at
 * most SENTI_LLM_MAX_PHRASES of them, none longer than a phrase may be;
 * and the markup builder marks every one of them.
 */
#include "td_utf8.h"
#include "services/sentiment/analyzer.h"
#include "fuzz.h"
#include "services/sentiment/llm_parse.h"
#include "services/sentiment/markup.h"

#include <string.h>

static const char DEFAULT_TEXT[] =
    "Today was not great. I felt anxious before the meeting, but my friend was "
    "so kind and I'm really happy we talked. Caf\xc3\xa9 au lait \xf0\x9f\x98\x8a, "
    "never felt better <b>bold</b> & \"quoted\".";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nul = memchr(in, '\0', size);
    const char *text = DEFAULT_TEXT, *body = in;
    size_t len = sizeof DEFAULT_TEXT - 1, blen = size;
    if (nul != NULL) {
        text = in;
        len = (size_t)(nul - in);
        body = nul + 1;
        blen = size - len - 1;
    }
    struct senti_spans spans;
    senti_spans_init(&spans);
    senti_spans_push(&spans, 0, 1, SENTI_POSITIVE, 1.0f); /* must be replaced */
    int rc = senti_llm_parse_response(body, blen, text, len, &spans);
    FUZZ_CHECK(rc == 0 || rc == TD_EINVAL || rc == TD_ETOOBIG, "rc %d", rc);
    if (rc != 0) {
        FUZZ_CHECK(spans.count == 0, "%zu spans left after failure %d", spans.count, rc);
        senti_spans_free(&spans);
        return 0;
    }
    FUZZ_CHECK(spans.count <= SENTI_LLM_MAX_PHRASES, "%zu spans", spans.count);
    size_t prev_end = 0;
    for (size_t k = 0; k < spans.count; k++) {
        const struct senti_span *sp = &spans.items[k];
        FUZZ_CHECK(sp->start < sp->end && sp->end <= len, "span %zu [%zu,%zu) of %zu bytes", k,
                   sp->start, sp->end, len);
        FUZZ_CHECK(sp->start >= prev_end, "span %zu unsorted or overlapping", k);
        FUZZ_CHECK(td_utf8_is_boundary(text, len, sp->start) &&
                       td_utf8_is_boundary(text, len, sp->end),
                   "span %zu cuts a character", k);
        FUZZ_CHECK(sp->polarity == SENTI_POSITIVE || sp->polarity == SENTI_NEGATIVE,
                   "span %zu polarity %d", k, sp->polarity);
        FUZZ_CHECK(sp->end - sp->start <= SENTI_LLM_MAX_PHRASE_BYTES, "span %zu too long", k);
        prev_end = sp->end;
    }
    char *html = NULL;
    size_t hl, pos = 0, neg = 0;
    FUZZ_CHECK(senti_markup_build(text, len, &spans, &html, &hl, &pos, &neg) == 0, "build");
    FUZZ_CHECK(pos + neg == spans.count, "%zu of %zu spans marked", pos + neg, spans.count);
    free(html);
    senti_spans_free(&spans);
    return 0;
}
