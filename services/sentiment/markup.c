/* markup.c — analyzed_content builder (see markup.h for the contract).
 *
 * Two passes over the same decisions: the first validates the spans and
 * computes the exact output size, the second writes into one buffer of that
 * size. Doing the validation in one helper used by both passes means the
 * size can never disagree with what is written.
 */
#include "markup.h"
#include "td_utf8.h"
#include "td_markup.h"

#include <stdlib.h>
#include <string.h>

static const char OPEN_POS[] = TD_MARKUP_OPEN_POSITIVE;
static const char OPEN_NEG[] = TD_MARKUP_OPEN_NEGATIVE;
static const char CLOSE[] = TD_MARKUP_CLOSE;

/* Bytes needed to escape one byte. */
static size_t esc_len(unsigned char c)
{
    const char *r = td_markup_escape_of(c);
    return r != NULL ? strlen(r) : 1;
}

static char *esc_write(char *o, unsigned char c)
{
    const char *r = td_markup_escape_of(c);
    if (r == NULL) {
        *o++ = (char)c;
        return o;
    }
    size_t n = strlen(r);
    memcpy(o, r, n);
    return o + n;
}

/* Is span `sp` usable, given that the previous accepted span ended at
 * `prev_end`? */
static int span_ok(const char *text, size_t len, const struct senti_span *sp,
                   size_t prev_end)
{
    if (sp->polarity != SENTI_POSITIVE && sp->polarity != SENTI_NEGATIVE)
        return 0;
    if (sp->start >= sp->end || sp->end > len || sp->start < prev_end)
        return 0;
    return td_utf8_is_boundary(text, len, sp->start) &&
           td_utf8_is_boundary(text, len, sp->end);
}

static int build(const char *text, size_t len, const struct senti_spans *spans,
                 char **out_html, size_t *out_len, size_t *pos, size_t *neg)
{
    if ((text == NULL && len > 0) || out_html == NULL || out_len == NULL)
        return TD_EINVAL;
    if (len > SENTI_MAX_TEXT_BYTES)
        return TD_ETOOBIG;
    if (text == NULL)
        text = "";

    size_t nspans = spans ? spans->count : 0;
    if (nspans > 0 && spans->items == NULL)
        return TD_EINVAL;

    /* Pass 1: size. Each term is bounded (len <= 64 KiB, tags per span are
     * constant, spans <= len), so the sum cannot overflow size_t. */
    size_t total = 0, npos = 0, nneg = 0, prev_end = 0;
    for (size_t i = 0; i < len; i++)
        total += esc_len((unsigned char)text[i]);
    for (size_t k = 0; k < nspans; k++) {
        const struct senti_span *sp = &spans->items[k];
        if (!span_ok(text, len, sp, prev_end))
            continue;
        total += (sp->polarity > 0 ? sizeof OPEN_POS : sizeof OPEN_NEG) - 1 +
                 sizeof CLOSE - 1;
        prev_end = sp->end;
        if (sp->polarity > 0)
            npos++;
        else
            nneg++;
    }
    if (total > SENTI_MARKUP_MAX_BYTES)
        return TD_ETOOBIG;

    char *html = malloc(total + 1);
    if (html == NULL)
        return TD_ENOMEM;

    /* Pass 2: write, repeating pass 1's span decisions. */
    char *o = html;
    size_t at = 0;
    prev_end = 0;
    for (size_t k = 0; k < nspans; k++) {
        const struct senti_span *sp = &spans->items[k];
        if (!span_ok(text, len, sp, prev_end))
            continue;
        for (; at < sp->start; at++)
            o = esc_write(o, (unsigned char)text[at]);
        const char *open = sp->polarity > 0 ? OPEN_POS : OPEN_NEG;
        size_t ol = (sp->polarity > 0 ? sizeof OPEN_POS : sizeof OPEN_NEG) - 1;
        memcpy(o, open, ol);
        o += ol;
        for (; at < sp->end; at++)
            o = esc_write(o, (unsigned char)text[at]);
        memcpy(o, CLOSE, sizeof CLOSE - 1);
        o += sizeof CLOSE - 1;
        prev_end = sp->end;
    }
    for (; at < len; at++)
        o = esc_write(o, (unsigned char)text[at]);
    *o = '\0';

    if ((size_t)(o - html) != total) { /* cannot happen; never emit garbage */
        free(html);
        return TD_EINVAL;
    }
    *out_html = html;
    *out_len = total;
    if (pos)
        *pos = npos;
    if (neg)
        *neg = nneg;
    return 0;
}

int senti_markup_build(const char *text, size_t len,
                       const struct senti_spans *spans,
                       char **out_html, size_t *out_len,
                       size_t *pos, size_t *neg)
{
    return build(text, len, spans, out_html, out_len, pos, neg);
}

int senti_markup_escape(const char *text, size_t len, char **out_html,
                        size_t *out_len)
{
    return build(text, len, NULL, out_html, out_len, NULL, NULL);
}
