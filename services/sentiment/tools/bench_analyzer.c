/* bench_analyzer.c — times senti_analyze on a 1 KB and a 40 KB diary-like
 * text and prints microseconds per KB. Wired into `make bench`; not a test
 * (timings depend on the machine). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../analyzer.h"

static const char SAMPLE[] =
    "Today was not a bad day at all, but the morning was really stressful. "
    "I'm so happy the meeting went well \xf0\x9f\x98\x8a and I couldn't stop "
    "smiling. My sister was a bit grumpy; I felt lonely and sad later. ";

static double bench(size_t size, int iters)
{
    static char text[40 * 1024];
    for (size_t i = 0; i < size; i++)
        text[i] = SAMPLE[i % (sizeof SAMPLE - 1)];
    struct senti_spans sp;
    senti_spans_init(&sp);
    senti_analyze(text, size, &sp); /* builds the lexicon, sizes the array */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < iters; i++)
        senti_analyze(text, size, &sp);
    clock_gettime(CLOCK_MONOTONIC, &b);
    senti_spans_free(&sp);
    double us = ((double)(b.tv_sec - a.tv_sec) * 1e6 +
                 (double)(b.tv_nsec - a.tv_nsec) / 1e3) / iters;
    return us / ((double)size / 1024.0);
}

int main(void)
{
    printf("senti_analyze 1 KB:  %.1f us/KB\n", bench(1024, 20000));
    printf("senti_analyze 40 KB: %.1f us/KB\n", bench(40 * 1024, 500));
    return 0;
}
