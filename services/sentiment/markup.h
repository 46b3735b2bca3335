/* markup.h — builds the safe HTML of an entry's analyzed_content.
 *
 * Owns: the only place where analyzed_content is produced. Spans may come
 * from the embedded analyzer or from an LLM, so they are validated here
 * again; the text is escaped byte for byte. Stripping the two span tags and
 * unescaping the five entities gives back the input bytes exactly.
 */
#ifndef TD_SENTI_MARKUP_H
#define TD_SENTI_MARKUP_H

#include <stddef.h>

#include "analyzer.h"

/* Largest HTML the builder will produce (every byte escaped as "&quot;"
 * plus every span's tags stays well below this for SENTI_MAX_TEXT_BYTES). */
#define SENTI_MARKUP_MAX_BYTES ((size_t)8 * 1024 * 1024)

/* Builds the HTML for `len` bytes of `text` with `spans` (may be NULL or
 * empty) marked as <span class="positive">…</span> /
 * <span class="negative">…</span>. Every & < > " ' of the text is escaped
 * (&amp; &lt; &gt; &quot; &#39;); other bytes, invalid UTF-8 included, are
 * copied as they are. Spans are taken in order; a span that is empty, out
 * of range, before or overlapping the previous accepted span, splitting a
 * UTF-8 character (td_utf8_is_boundary), or of unknown polarity is
 * skipped. On success `pos`/`neg` (each may be NULL) receive the numbers of
 * positive and negative spans actually marked: these are the entry's
 * positive_count / negative_count.
 *
 * On success returns 0 and stores a NUL-terminated, malloc'd string in
 * *out_html (caller frees) and its length without the NUL in *out_len.
 * On failure returns TD_EINVAL (NULL text with len > 0, NULL out
 * pointers), TD_ETOOBIG (len > SENTI_MAX_TEXT_BYTES) or TD_ENOMEM and
 * leaves the out-parameters untouched. */
int senti_markup_build(const char *text, size_t len,
                       const struct senti_spans *spans,
                       char **out_html, size_t *out_len,
                       size_t *pos, size_t *neg);

/* Escapes `len` bytes of `text` only (no spans): the analyzed_content of an
 * entry that could not be analysed yet. Same ownership and errors. */
int senti_markup_escape(const char *text, size_t len, char **out_html,
                        size_t *out_len);

#endif
