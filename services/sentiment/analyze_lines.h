/*
 * analyze_lines.h — `td-sentiment --analyze-lines`: the evaluation mode that
 * reads one text per line and prints "positive_count<TAB>negative_count".
 */
#ifndef SENTI_ANALYZE_LINES_H
#define SENTI_ANALYZE_LINES_H

#include "provider.h"

#include <stdio.h>

/* Reads `in` to its end, one text per line (any length; a trailing "\n",
 * "\r\n" or "\r" is not part of the text), analyses each with `p` as caller 0
 * and writes one "P\tN\n" line per input line to `out`. A line longer than
 * SENTI_MAX_TEXT_BYTES is analysed up to that size (cut at a character
 * boundary), so the output always has one line per input line.
 * Returns 0, TD_ENOMEM, or TD_EINTERNAL on a read or write error. */
int senti_analyze_lines(struct senti_provider *p, FILE *in, FILE *out);

#endif
