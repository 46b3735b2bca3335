/* bench_search.c — GET /diaries?q= in td-diary's store alone (issue 15:
 * "a search over 100,000 entries of one user answers in well under 50 ms").
 *
 * Seeds a real diary.db in a temp directory through the store API
 * (diary_store_seed, one transaction): BENCH_SEARCH_ENTRIES (default
 * 100,000) entries of user 1 and a quarter as many again spread over four
 * other users, an entry every ten minutes (about two and a half years),
 * with text drawn from a Zipf-like vocabulary (common English words first, then made-up words), so "the"
 * is in about nine entries of ten and a made-up word of rank 3000 in a few
 * dozen. Seeded entries are pending analysis; the positive and negative
 * counts are then set in one UPDATE on a connection of its own (the
 * triggers keep the stats and the search index in step, as for a late
 * analysis), so the tone filter has something to choose.
 *
 * Then every case below runs BENCH_SEARCH_RUNS times (default 40) through
 * diary_filter_parse + diary_store_find, exactly what diary.list does for
 * one request (the page and its total in one read transaction), and prints
 * the median and p95 in ms, and the median CPU time of the thread (the
 * wall time also counts waiting for a core when the machine is busy). The machine is shared: read the cases against
 * each other within a run. Figures only; not a test.
 *
 *   bench_search [entries]
 *
 * BENCH_SEARCH_KEEP=1 keeps the database and prints where it is;
 * BENCH_SEARCH_DB=<dir> measures the diary.db in <dir> instead of seeding
 * one (opening it runs the migrations it lacks: their time is printed).
 */
#define _XOPEN_SOURCE 700 /* nftw (td_tempdir.h) */
#include "services/diary/filter.h"
#include "services/diary/store.h"
#include "td_log.h"
#include "td_tempdir.h"
#include "td_time.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VOCAB 20000
#define START_US 1600000000000000LL /* 2020-09-13 */
#define STEP_US 600000000LL         /* one entry every ten minutes */

static const char *const common_words[] = {
    "i",     "the",   "and",   "to",    "a",     "was",   "my",     "it",    "of",   "in",
    "that",  "felt",  "me",    "but",   "with",  "for",   "today",  "so",    "about", "at",
    "work",  "this",  "had",   "not",   "is",    "be",    "on",     "we",    "after", "walk",
    "really", "just", "tired", "friend", "day",  "sleep", "walked", "walking", "happy", "worried",
};
static const char *const syllables[] = {"ka", "lo", "mi", "ren", "tas", "vo",  "pel",
                                        "dri", "sun", "mor", "gal", "ith", "ber", "qua",
                                        "nex", "ro", "ti", "sha", "wen", "dal"};

static char *vocab[VOCAB];
static double cum[VOCAB];
static uint64_t rng = 88172645463325252ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double unit_rand(void)
{
    return (double)(next_rand() >> 11) / 9007199254740992.0;
}

static void make_vocab(void)
{
    size_t n = sizeof common_words / sizeof common_words[0], v = 0;
    for (; v < n; v++)
        vocab[v] = strdup(common_words[v]);
    while (v < VOCAB) {
        char w[64] = "";
        int parts = 2 + (int)(next_rand() % 3);
        for (int i = 0; i < parts; i++)
            strcat(w, syllables[next_rand() % (sizeof syllables / sizeof syllables[0])]);
        bool dup = false;
        for (size_t i = n; i < v && !dup; i++)
            dup = strcmp(vocab[i], w) == 0;
        if (!dup)
            vocab[v++] = strdup(w);
    }
    double total = 0;
    for (size_t r = 0; r < VOCAB; r++) {
        total += 1.0 / (double)(r + 1);
        cum[r] = total;
    }
    for (size_t r = 0; r < VOCAB; r++)
        cum[r] /= total;
}

static const char *draw_word(void)
{
    double x = unit_rand();
    size_t lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cum[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return vocab[lo];
}

/* 20 to 80 words, like a short diary entry. */
static char *make_text(size_t *len)
{
    int words = 20 + (int)(next_rand() % 61);
    char *t = malloc((size_t)words * 16 + 1);
    size_t o = 0;
    for (int i = 0; i < words; i++) {
        const char *w = draw_word();
        size_t n = strlen(w);
        if (i > 0)
            t[o++] = ' ';
        memcpy(t + o, w, n);
        o += n;
    }
    t[o] = '\0';
    *len = o;
    return t;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of this thread: under a shared machine's load the wall time
 * also counts waiting for a core. */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct bench_case {
    const char *name;
    const char *q, *from, *to, *tone;
    int64_t page;
};

static int run_case(struct diary_store *store, const struct bench_case *c, int runs)
{
    double *ms = calloc((size_t)runs, sizeof *ms), *cpu = calloc((size_t)runs, sizeof *cpu);
    int64_t total = 0;
    size_t count = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms(), c0 = cpu_ms();
        struct diary_filter_in in = {0};
        if (c->q != NULL)
            in.q = (struct diary_text){c->q, strlen(c->q)};
        if (c->from != NULL)
            in.from = (struct diary_text){c->from, strlen(c->from)};
        if (c->to != NULL)
            in.to = (struct diary_text){c->to, strlen(c->to)};
        if (c->tone != NULL)
            in.tone = (struct diary_text){c->tone, strlen(c->tone)};
        struct diary_filter f;
        struct td_tz *tz = NULL;
        struct diary_problem problems[DIARY_FILTER_MAX_PROBLEMS];
        size_t np = 0;
        if (diary_filter_parse(&in, &f, &tz, problems, &np) != 0) {
            fprintf(stderr, "bench_search: %s: bad filter\n", c->name);
            free(ms);
            free(cpu);
            return -1;
        }
        struct diary_entry *items = NULL;
        int rc = diary_store_find(store, 0, 1, &f, 20, (c->page - 1) * 20, &items, &count,
                                  &total);
        diary_filter_clear(&f);
        td_tz_free(&tz);
        if (rc != 0) {
            fprintf(stderr, "bench_search: %s: find failed (%d)\n", c->name, rc);
            free(ms);
            free(cpu);
            return -1;
        }
        diary_entries_free(&items, count);
        ms[r] = now_ms() - t0;
        cpu[r] = cpu_ms() - c0;
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
    qsort(cpu, (size_t)runs, sizeof *cpu, cmp_double);
    size_t p95 = (size_t)((runs - 1) * 95 / 100);
    printf("search %-32s total=%-6lld page=%-4lld median %7.2f ms  p95 %7.2f ms  cpu median %6.2f ms\n",
           c->name, (long long)total, (long long)c->page, ms[runs / 2], ms[p95], cpu[runs / 2]);
    free(ms);
    free(cpu);
    return 0;
}

/* Seeds `entries` entries of user 1 and a quarter as many of users 2-5
 * into the open store in `dir`, then sets their tones. */
static int seed_diary(struct diary_store *store, const char *dir, long entries)
{
    /* User 1's entries first, then the others' (diary_store_seed wants a
     * user's entries adjacent); times interleave as if written together. */
    size_t others = (size_t)entries / 4, n = (size_t)entries + others;
    struct diary_seed_entry *seed = calloc(n, sizeof *seed);
    for (size_t i = 0; i < n; i++) {
        bool mine = i < (size_t)entries;
        size_t k = mine ? i : i - (size_t)entries;
        seed[i].user_id = mine ? 1 : 2 + (int64_t)(k % 4);
        seed[i].content = make_text(&seed[i].content_len);
        seed[i].analyzed = seed[i].content;
        seed[i].analyzed_len = seed[i].content_len;
        /* four of user 1, then one of another user, and so on */
        seed[i].created_at = START_US + (int64_t)(mine ? k + k / 4 : k * 5 + 4) * STEP_US;
    }
    /* The other users' entries, sorted by user for the seed call. */
    int64_t cleared = 0, inserted = 0;
    double t0 = now_ms();
    int rc = diary_store_seed(store, 0, seed, (size_t)entries, false, &cleared, &inserted);
    for (int64_t u = 2; rc == 0 && u <= 5; u++) {
        size_t m = 0;
        struct diary_seed_entry *part = calloc(others, sizeof *part);
        for (size_t i = (size_t)entries; i < n; i++)
            if (seed[i].user_id == u)
                part[m++] = seed[i];
        int64_t got = 0;
        rc = diary_store_seed(store, 0, part, m, false, &cleared, &got);
        inserted += got;
        free(part);
    }
    double seed_ms = now_ms() - t0;
    if (rc != 0) {
        fprintf(stderr, "bench_search: seeding failed\n");
        for (size_t i = 0; i < n; i++)
            free((char *)seed[i].content);
        free(seed);
        return -1;
    }

    /* Tones: what a late analysis would have written, in one transaction. */
    char path[128];
    snprintf(path, sizeof path, "%s/diary.db", dir);
    sqlite3 *db = NULL;
    t0 = now_ms();
    rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db,
                          "UPDATE entries SET pending_analysis = 0,"
                          " positive_count = (id * 7) % 4, negative_count = (id * 13) % 3",
                          NULL, NULL, NULL);
    double tone_ms = now_ms() - t0;
    sqlite3_close(db);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "bench_search: setting tones failed\n");
        return -1;
    }
    printf("search seed: %lld entries (%ld of user 1) in %.0f ms; tones of all in %.0f ms\n",
           (long long)inserted, entries, seed_ms, tone_ms);
    for (size_t i = 0; i < n; i++)
        free((char *)seed[i].content);
    free(seed);
    return 0;

}

int main(int argc, char **argv)
{
    td_log_threshold = TD_LOG_WARN;
    long entries = argc > 1 ? atol(argv[1]) : 100000;
    const char *env = getenv("BENCH_SEARCH_ENTRIES");
    if (argc <= 1 && env != NULL)
        entries = atol(env);
    env = getenv("BENCH_SEARCH_RUNS");
    int runs = env != NULL ? atoi(env) : 40;
    if (entries < 1000 || runs < 1) {
        fprintf(stderr, "usage: bench_search [entries >= 1000]\n");
        return 2;
    }
    make_vocab();
    char dir[] = "/tmp/td-bench-search-XXXXXX";
    const char *given = getenv("BENCH_SEARCH_DB");
    if (given == NULL && mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    struct diary_store *store = NULL;
    double t0 = now_ms();
    if (diary_store_open(&(struct diary_store_opts){.data_dir = given != NULL ? given : dir}, 1, &store) != 0) {
        fprintf(stderr, "bench_search: cannot open the store\n");
        if (given == NULL)
            td_tempdir_remove(dir);
        return 1;
    }
    if (given != NULL)
        printf("search: opened %s (migrations included) in %.0f ms\n", given, now_ms() - t0);

    if (given == NULL && seed_diary(store, dir, entries) != 0) {
        diary_store_close(&store);
        td_tempdir_remove(dir);
        return 1;
    }

    /* The made-up word of rank 3000 is rare (a few dozen entries). */
    const char *rare = vocab[3000];
    const struct bench_case cases[] = {
        {"rare word", rare, NULL, NULL, NULL, 1},
        {"no match", "qqqq", NULL, NULL, NULL, 1},
        {"common word (work)", "work", NULL, NULL, NULL, 1},
        {"very common word (the)", "the", NULL, NULL, NULL, 1},
        {"prefix of 1 (w)", "w", NULL, NULL, NULL, 1},
        {"prefix of 2 (wa)", "wa", NULL, NULL, NULL, 1},
        {"prefix of 4 (walk)", "walk", NULL, NULL, NULL, 1},
        {"two common words (the work)", "the work", NULL, NULL, NULL, 1},
        {"the + tone positive", "the", NULL, NULL, "positive", 1},
        {"the + from/to (a year)", "the", "2021-01-01", "2022-01-01", NULL, 1},
        {"the + from/to + tone", "the", "2021-01-01", "2022-01-01", "negative", 1},
        {"the, page 200", "the", NULL, NULL, NULL, 200},
        {"no q, tone positive (no search)", NULL, NULL, NULL, "positive", 1},
    };
    printf("search: %d runs per case, per_page 20, median and p95 of diary_filter_parse +"
           " diary_store_find\n", runs);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof cases / sizeof cases[0]; i++)
        rc = run_case(store, &cases[i], runs);
    diary_store_close(&store);
    if (given == NULL && getenv("BENCH_SEARCH_KEEP") != NULL)
        printf("search: database kept in %s\n", dir);
    else if (given == NULL)
        td_tempdir_remove(dir);
    for (size_t v = 0; v < VOCAB; v++)
        free(vocab[v]);
    return rc == 0 ? 0 : 1;
}
