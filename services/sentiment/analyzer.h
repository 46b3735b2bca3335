/* analyzer.h — the embedded, offline sentiment analyzer of td-sentiment.
 *
 * Owns: the span model shared by the whole sentiment core (struct senti_span,
 * struct senti_spans), the UTF-8 helpers that define what a "character
 * boundary" is for every module (analyzer, markup, LLM parser), and the
 * lexicon analyzer itself. It is pure: no sockets, no files, no globals
 * beyond a lexicon table built once (pthread_once) and read-only afterwards,
 * so it is safe to call from any number of threads.
 *
 * Errors are the project's codes (common/td_error.h), like everywhere else.
 */
#ifndef TD_SENTI_ANALYZER_H
#define TD_SENTI_ANALYZER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Every senti_* function returns 0 or a code of common/td_error.h:
 * TD_EINVAL (bad argument or malformed input, e.g. not JSON), TD_ENOMEM,
 * TD_ETOOBIG (input or output larger than the module's bound). */
#include "td_error.h"

/* Largest text the analyzer accepts: 10,000 code points of up to 4 bytes,
 * plus slack. Longer input is TD_ETOOBIG rather than silently truncated. */
#define SENTI_MAX_TEXT_BYTES ((size_t)64 * 1024)

enum senti_polarity {
    SENTI_NEGATIVE = -1,
    SENTI_POSITIVE = 1,
};

/* One marked phrase: the bytes [start, end) of the analysed text. */
struct senti_span {
    size_t start;
    size_t end;
    int polarity;   /* SENTI_POSITIVE or SENTI_NEGATIVE */
    float weight;   /* strength >= 0 after intensifiers, negation and "but";
                     * informational (spans from the LLM carry 1.0) */
    bool contrast;  /* the analyzer's: in a clause that a later "but",
                     * "although"... overrules; false from senti_spans_push */
};

/* A growable, sorted list of non-overlapping spans. Zero-initialise it
 * (or call senti_spans_init) before first use; release with senti_spans_free. */
struct senti_spans {
    struct senti_span *items;
    size_t count;
    size_t cap;
};

void senti_spans_init(struct senti_spans *s);
/* Frees the items array and resets *s to empty; safe on an empty list. */
void senti_spans_free(struct senti_spans *s);
/* Drops every span but keeps the allocation. */
void senti_spans_clear(struct senti_spans *s);
/* Appends one span (no ordering check; callers keep the list sorted).
 * Returns 0, or TD_ENOMEM / TD_ETOOBIG (more than SENTI_MAX_SPANS). */
int senti_spans_push(struct senti_spans *s, size_t start, size_t end,
                     int polarity, float weight);
/* Counts positive and negative spans (either pointer may be NULL). */
void senti_spans_count(const struct senti_spans *s, size_t *positive,
                       size_t *negative);

#define SENTI_MAX_SPANS ((size_t)1 << 16)

/* Analyses `len` bytes of `text` (need not be NUL-terminated; any bytes,
 * invalid UTF-8 included, are accepted). On success clears `out` and fills it
 * with sorted, non-overlapping spans whose boundaries are character
 * boundaries (td_utf8_is_boundary, common/td_utf8.h), and returns 0. On failure returns
 * TD_EINVAL (NULL text with len > 0, NULL out), TD_ETOOBIG (len >
 * SENTI_MAX_TEXT_BYTES) or TD_ENOMEM, and `out` holds no spans.
 * The only allocation is out->items; reuse `out` across calls to avoid it.
 *
 * The span set is chosen so that the API's count rule (positive if more
 * positive spans, ...; gateway/docs/openapi.json) agrees with the analyzer's weighted verdict: see
 * analyzer.c, "Reconciliation". */
int senti_analyze(const char *text, size_t len, struct senti_spans *out);

/* Version of the rules + lexicon; part of the daemon's cache key. */
#define SENTI_ANALYZER_VERSION "lexicon-4"

/* ---- UTF-8 ------------------------------------------------------------- */

/* Decodes the character at text[i] (i < len) with td_utf8_decode
 * (common/td_utf8.h). Returns its length in bytes (1..4) and stores the code
 * point in *cp. A byte that does not start a valid, shortest-form,
 * non-surrogate sequence is one opaque unit of length 1 with
 * *cp = SENTI_UTF8_INVALID. */
#define SENTI_UTF8_INVALID 0xFFFFFFFFu
size_t senti_utf8_decode(const char *text, size_t len, size_t i, uint32_t *cp);


/* ---- lexicon data (lexicon_data.c, generated) -------------------------- */

struct senti_lex_word {
    const char *word;   /* lower-case ASCII, single word */
    float valence;      /* VADER mean valence, -4..4 */
};
extern const struct senti_lex_word senti_lexicon_words[];
extern const size_t senti_lexicon_nwords;

#endif
