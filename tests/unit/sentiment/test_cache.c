/* test_cache.c — the analysis cache: keys, hits that skip the LLM, the
 * embedded analyzer's answers (fallbacks included) never cached, the bound
 * on rows, malformed rows, and that no diary text is stored. Each test gets
 * a fresh DATA_DIR. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <sodium.h>

#include "../../fake_llm/fake_llm.h"
#include "../td_tempdir.h"
#include "services/sentiment/provider.h"
#include "services/sentiment/store.h"
#include "td_error.h"
#include "../td_assert.h"

static struct fake_llm g_fake;
static struct senti_store *g_store;
static struct senti_provider *g_p;
static char g_dir[64];
static char g_url[128];

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    cr_assert_eq(fake_llm_start(&g_fake), 0);
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d/chat", g_fake.port);
    snprintf(g_dir, sizeof g_dir, "/tmp/td-senti-cache-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void)
{
    senti_provider_free(&g_p);
    senti_store_close(&g_store);
    fake_llm_stop(&g_fake);
    curl_global_cleanup();
    td_tempdir_remove(g_dir);
}

TestSuite(cache, .init = setup, .fini = teardown, .timeout = 30);

static void open_store(long long max_rows)
{
    int rc = senti_store_open(g_dir, 2, max_rows, &g_store);
    cr_assert_eq(rc, 0, "senti_store_open: %s", td_error_symbol(rc));
}

static void make(const char *provider, const char *model)
{
    struct senti_provider_opts o = {
        .provider = provider,
        .llm = {.api_url = g_url, .token = "tok", .model = model, .timeout_ms = 1000,
                .deadline_ms = 2000, .retries = 0},
        .nclients = 2,
        .store = g_store,
    };
    TD_ASSERT_OK(senti_provider_new(&o, &g_p));
}

static void analyze(const char *text, struct senti_result *r)
{
    int rc = senti_provider_analyze(g_p, 0, text, strlen(text), r);
    cr_assert_eq(rc, 0, "senti_provider_analyze: %s", td_error_symbol(rc));
}

static long long rows(void)
{
    long long n = -1;
    TD_ASSERT_OK(senti_cache_count(g_store, 0, &n));
    return n;
}

Test(cache, key_depends_on_analyzer_and_text)
{
    unsigned char a[SENTI_CACHE_KEY_BYTES], b[SENTI_CACHE_KEY_BYTES], c[SENTI_CACHE_KEY_BYTES],
        d[SENTI_CACHE_KEY_BYTES];
    senti_cache_key("lexicon-1", "happy", 5, a);
    senti_cache_key("lexicon-1", "happy", 5, b);
    senti_cache_key("lexicon-2", "happy", 5, c);
    senti_cache_key("lexicon-1", "happy!", 6, d);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_neq(memcmp(a, c, sizeof a), 0);
    cr_assert_neq(memcmp(a, d, sizeof a), 0);
    /* The separator keeps the id and the text apart. */
    senti_cache_key("ab", "c", 1, c);
    senti_cache_key("a", "bc", 2, d);
    cr_assert_neq(memcmp(c, d, sizeof c), 0);
}

Test(cache, second_llm_call_for_the_same_text_is_a_hit)
{
    open_store(1000);
    make("github-models", "gpt-4o");
    fake_llm_set(&g_fake, FAKE_LLM_OK,
                 "{\"phrases\":[{\"text\":\"lovely\",\"sentiment\":\"positive\"}]}");
    struct senti_result a, b;
    analyze("A lovely walk.", &a);
    analyze("A lovely walk.", &b);
    cr_assert_eq(fake_llm_requests(&g_fake), 1, "the second call reached the LLM");
    cr_assert_not(a.cached);
    cr_assert(b.cached);
    cr_assert_str_eq(a.html, b.html);
    cr_assert_str_eq(b.analyzer, "github-models:gpt-4o");
    cr_assert_eq(b.positive, 1);
    senti_result_free(&a);
    senti_result_free(&b);

    /* Another worker's connection sees the same cache. */
    TD_ASSERT_OK(senti_provider_analyze(g_p, 1, "A lovely walk.", 14, &a));
    cr_assert(a.cached);
    senti_result_free(&a);
    cr_assert_eq(fake_llm_requests(&g_fake), 1);

    /* A different text is a miss. */
    analyze("A lovely walk!", &a);
    cr_assert_not(a.cached);
    senti_result_free(&a);
    cr_assert_eq(fake_llm_requests(&g_fake), 2);
}

Test(cache, another_model_does_not_reuse_the_answer)
{
    open_store(1000);
    make("github-models", "model-a");
    fake_llm_set(&g_fake, FAKE_LLM_OK, "{\"phrases\":[]}");
    struct senti_result r;
    analyze("same text", &r);
    senti_result_free(&r);
    senti_provider_free(&g_p);
    make("github-models", "model-b");
    analyze("same text", &r);
    cr_assert_not(r.cached);
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 2);
}

Test(cache, fallback_answers_are_not_cached)
{
    open_store(1000);
    make("github-models", "gpt-4o");
    fake_llm_set(&g_fake, FAKE_LLM_GARBAGE, NULL);
    struct senti_result r;
    analyze("I feel great", &r);
    cr_assert(r.fallback);
    cr_assert_not(r.cached);
    cr_assert_str_eq(r.analyzer, SENTI_ANALYZER_VERSION);
    cr_assert_eq(r.positive, 1);
    senti_result_free(&r);
    cr_assert_eq(rows(), 0, "the fallback's answer was stored");

    /* The LLM is back: the same text goes to it, and its answer is kept. */
    fake_llm_set(&g_fake, FAKE_LLM_OK,
                 "{\"phrases\":[{\"text\":\"great\",\"sentiment\":\"positive\"}]}");
    analyze("I feel great", &r);
    cr_assert_not(r.fallback);
    cr_assert_not(r.cached);
    cr_assert_str_eq(r.analyzer, "github-models:gpt-4o");
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 2);
    cr_assert_eq(rows(), 1);
}

/* The embedded analyzer is cheaper than a cache row (provider.h): it answers
 * every time, the same way, and writes nothing. */
Test(cache, the_embedded_analyzer_is_never_cached)
{
    open_store(1000);
    make("lexicon", NULL);
    const char *text = "Not bad at all, but I'm so tired & sad 😢 <b>";
    struct senti_result a, b;
    analyze(text, &a);
    analyze(text, &b);
    cr_assert_not(a.cached);
    cr_assert_not(b.cached);
    cr_assert_str_eq(a.html, b.html);
    cr_assert_eq(a.positive, b.positive);
    cr_assert_eq(a.negative, b.negative);
    cr_assert_gt(a.negative, 0);
    senti_result_free(&a);
    senti_result_free(&b);
    cr_assert_eq(rows(), 0);
}

Test(cache, rows_are_bounded)
{
    open_store(10);
    make("github-models", "gpt-4o");
    fake_llm_set(&g_fake, FAKE_LLM_OK,
                 "{\"phrases\":[{\"text\":\"happy\",\"sentiment\":\"positive\"}]}");
    char text[64];
    for (int i = 0; i < SENTI_CACHE_PRUNE_EVERY + 5; i++) {
        struct senti_result r;
        snprintf(text, sizeof text, "happy text number %d", i);
        analyze(text, &r);
        senti_result_free(&r);
    }
    /* Pruned on the 256th put, then 5 more. */
    cr_assert_eq(rows(), 15);
    TD_ASSERT_OK(senti_cache_prune(g_store, 1));
    cr_assert_eq(rows(), 10);
    /* The newest rows are the ones kept. */
    struct senti_result r;
    snprintf(text, sizeof text, "happy text number %d", SENTI_CACHE_PRUNE_EVERY + 4);
    analyze(text, &r);
    cr_assert(r.cached);
    senti_result_free(&r);
    analyze("happy text number 0", &r);
    cr_assert_not(r.cached);
    senti_result_free(&r);
}

Test(cache, zero_rows_disables_the_cache)
{
    open_store(0);
    make("github-models", "gpt-4o");
    fake_llm_set(&g_fake, FAKE_LLM_OK, "{\"phrases\":[]}");
    struct senti_result r;
    analyze("happy", &r);
    senti_result_free(&r);
    analyze("happy", &r);
    cr_assert_not(r.cached);
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 2);
    cr_assert_eq(rows(), 0);
}

Test(cache, malformed_rows_are_misses)
{
    open_store(100);
    unsigned char key[SENTI_CACHE_KEY_BYTES];
    senti_cache_key(SENTI_ANALYZER_VERSION, "happy", 5, key);
    static const char *const bad[] = {
        "X'0102'",                         /* not a multiple of 9 bytes */
        "X'050000000100000001'",           /* start after end */
        "X'000000000500000007'",           /* unknown polarity */
        "X'00000000FFFFFFFF01'",           /* end out of range */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "INSERT OR REPLACE INTO analysis_cache VALUES (?1, %s, 0, 0, 0)", bad[i]);
        sqlite3_stmt *st;
        cr_assert_eq(sqlite3_prepare_v2(g_store->conns[0], sql, -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_blob(st, 1, key, sizeof key, SQLITE_STATIC);
        cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
        struct senti_spans sp;
        senti_spans_init(&sp);
        cr_assert_eq(senti_cache_get(g_store, 0, key, &sp), TD_ENOTFOUND, "row %zu", i);
        cr_assert_eq(sp.count, 0);
        senti_spans_free(&sp);
    }
    /* Through the provider: an LLM answer whose row is then broken is asked
     * for again; a well-formed span past the end of this text is dropped by
     * the markup builder. */
    make("github-models", "gpt-4o");
    fake_llm_set(&g_fake, FAKE_LLM_OK,
                 "{\"phrases\":[{\"text\":\"happy\",\"sentiment\":\"positive\"}]}");
    struct senti_result r;
    analyze("happy", &r);
    senti_result_free(&r);
    cr_assert_eq(sqlite3_exec(g_store->conns[0], "UPDATE analysis_cache SET spans = X'0102'",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    analyze("happy", &r);
    cr_assert_not(r.cached);
    cr_assert_str_eq(r.html, "<span class=\"positive\">happy</span>");
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 2);
    cr_assert_eq(sqlite3_exec(g_store->conns[0],
                              "UPDATE analysis_cache SET spans = X'000000002000000001'", NULL,
                              NULL, NULL),
                 SQLITE_OK);
    analyze("happy", &r);
    cr_assert(r.cached);
    cr_assert_str_eq(r.html, "happy");
    cr_assert_eq(r.positive, 0);
    senti_result_free(&r);
}

Test(cache, the_file_holds_no_diary_text)
{
    open_store(100);
    make("github-models", "gpt-4o");
    fake_llm_set(&g_fake, FAKE_LLM_OK,
                 "{\"phrases\":[{\"text\":\"secret diary sentence\",\"sentiment\":\"negative\"}]}");
    struct senti_result r;
    analyze("my secret diary sentence, happy and sad", &r);
    cr_assert_eq(r.negative, 1);
    senti_result_free(&r);
    cr_assert_eq(rows(), 1);
    senti_provider_free(&g_p);
    senti_store_close(&g_store);
    char path[128], cmd[512];
    snprintf(path, sizeof path, "%s/sentiment.db", g_dir);
    snprintf(cmd, sizeof cmd, "cat %s %s-wal 2>/dev/null | grep -c 'secret diary' > /dev/null",
             path, path);
    cr_assert_neq(system(cmd), 0, "the text was found in the database files");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(cache, reopening_keeps_the_rows)
{
    open_store(100);
    make("github-models", "gpt-4o");
    fake_llm_set(&g_fake, FAKE_LLM_OK, "{\"phrases\":[]}");
    struct senti_result r;
    analyze("happy days", &r);
    senti_result_free(&r);
    senti_provider_free(&g_p);
    senti_store_close(&g_store);
    open_store(100);
    make("github-models", "gpt-4o");
    analyze("happy days", &r);
    cr_assert(r.cached);
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 1);
}
