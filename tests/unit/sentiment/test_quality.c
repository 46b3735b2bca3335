/* test_quality.c — accuracy of the embedded analyzer on the project's
 * hand-made diary lines (tests/data/sentiment/diary_handmade.tsv, a copy of
 * the project's shared tuning set), classified
 * by the API's count rule (gateway/docs/openapi.json, analyzed entries). The file is found through $TD_SENTIMENT_TSV, else
 * in the repository (TD_SOURCE_DIR/tests/data/...). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/sentiment/analyzer.h"

#ifndef TD_SOURCE_DIR
#define TD_SOURCE_DIR "."
#endif

#define MIN_POSNEG_ACCURACY 0.85

Test(quality, handmade_diary_accuracy)
{
    const char *path = getenv("TD_SENTIMENT_TSV");
    if (path == NULL || path[0] == '\0')
        path = TD_SOURCE_DIR "/tests/data/sentiment/diary_handmade.tsv";
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s (set TD_SENTIMENT_TSV)", path);

    struct senti_spans sp;
    senti_spans_init(&sp);
    char line[8192];
    int all = 0, all_ok = 0, pn = 0, pn_ok = 0;
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            line[--l] = '\0';
        char *tab = strchr(line, '\t');
        if (tab == NULL)
            continue;
        *tab = '\0';
        const char *text = tab + 1;
        cr_assert_eq(senti_analyze(text, strlen(text), &sp), 0);
        size_t p, n;
        senti_spans_count(&sp, &p, &n);
        const char *got = p > n ? "pos" : p < n ? "neg" : "neu";
        int ok = strcmp(got, line) == 0;
        all++;
        all_ok += ok;
        if (strcmp(line, "neu") != 0) {
            pn++;
            pn_ok += ok;
        }
        if (!ok)
            cr_log_info("miss: %s -> %s: %s", line, got, text);
    }
    fclose(f);
    senti_spans_free(&sp);

    cr_assert(pn > 0, "no pos/neg lines in %s", path);
    double acc_pn = (double)pn_ok / pn, acc_all = (double)all_ok / all;
    fprintf(stderr, "sentiment accuracy: pos/neg %.3f (%d/%d), all %.3f (%d/%d)\n",
            acc_pn, pn_ok, pn, acc_all, all_ok, all);
    cr_assert(acc_pn >= MIN_POSNEG_ACCURACY, "pos/neg accuracy %.3f < %.2f",
              acc_pn, MIN_POSNEG_ACCURACY);
}
