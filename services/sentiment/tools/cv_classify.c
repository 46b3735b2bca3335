/* cv_classify.c — the line classifier of tools/cv_learned.py: reads lines
 * on stdin and prints, per line, the class of the embedded analyzer's spans
 * by the contract's count rule: p (more positive spans), n (more negative)
 * or 0 (as many). Built by cv_learned.py against one cross-validation
 * fold's learned_data.c; not part of the build. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include "analyzer.h"
int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    struct senti_spans sp;
    senti_spans_init(&sp);
    int rc = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)n, p, q;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if ((rc = senti_analyze(line, len, &sp)) != 0)
            break;
        senti_spans_count(&sp, &p, &q);
        if (printf("%c\n", p > q ? 'p' : q > p ? 'n' : '0') < 0) {
            rc = 1;
            break;
        }
    }
    free(line);
    senti_spans_free(&sp);
    return rc != 0 || fflush(stdout) != 0;
}
