/*
 * analyze_lines.c — the --analyze-lines evaluation mode (see analyze_lines.h).
 * It uses the configured provider exactly as the RPC operation does, LLM
 * fallback included, but no cache and no RPC server.
 */
#include "analyze_lines.h"
#include "td_utf8.h"
#include "td_error.h"

#include <stdlib.h>
#include <sys/types.h>

int senti_analyze_lines(struct senti_provider *p, FILE *in, FILE *out)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len > SENTI_MAX_TEXT_BYTES) {
            len = SENTI_MAX_TEXT_BYTES;
            while (len > 0 && !td_utf8_is_boundary(line, (size_t)n, len))
                len--;
        }
        struct senti_result r;
        rc = senti_provider_analyze(p, 0, line, len, &r);
        if (rc != 0)
            break;
        int w = fprintf(out, "%zu\t%zu\n", r.positive, r.negative);
        senti_result_free(&r);
        if (w < 0) {
            rc = TD_EINTERNAL;
            break;
        }
    }
    free(line);
    if (rc == 0 && ferror(in))
        rc = TD_EINTERNAL;
    if (fflush(out) != 0 && rc == 0)
        rc = TD_EINTERNAL;
    return rc;
}
