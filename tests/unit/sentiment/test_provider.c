/* test_provider.c — the provider against a fake OpenAI-compatible server on
 * loopback: normal answers, hangs, 5xx and 429 with retries, garbage,
 * over-size bodies, refused connections, the circuit breaker, and answers
 * that try to inject markup. Whatever the model says, analyzed_content is
 * safe and strips back to the text. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <time.h>

#include "../../fake_llm/fake_llm.h"
#include "services/sentiment/provider.h"
#include "td_error.h"
#include "../td_assert.h"

#define TOKEN "test-token-Pr0v1der"

static struct fake_llm g_fake;
static struct senti_provider *g_p;
static char g_url[128];

static void setup(void)
{
    cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    cr_assert_eq(fake_llm_start(&g_fake), 0);
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d/v1/chat/completions", g_fake.port);
}

static void teardown(void)
{
    senti_provider_free(&g_p);
    fake_llm_stop(&g_fake);
    curl_global_cleanup();
}

TestSuite(provider, .init = setup, .fini = teardown, .timeout = 30);

static struct senti_provider_opts llm_opts(long timeout_ms, long deadline_ms, int retries)
{
    struct senti_provider_opts o = {
        .provider = "github-models",
        .llm = {.api_url = g_url, .token = TOKEN, .model = "gpt-test", .timeout_ms = timeout_ms,
                .deadline_ms = deadline_ms, .retries = retries, .backoff_base_ms = 20},
        .nclients = 2,
    };
    return o;
}

static void make(long timeout_ms, long deadline_ms, int retries)
{
    struct senti_provider_opts o = llm_opts(timeout_ms, deadline_ms, retries);
    TD_ASSERT_OK(senti_provider_new(&o, &g_p));
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Removes the two span tags and unescapes the five entities; fails the test
 * on any other markup. */
static char *strip(const char *html)
{
    char *out = malloc(strlen(html) + 1);
    size_t o = 0;
    for (const char *p = html; *p;) {
        static const char *const tags[] = {"<span class=\"positive\">", "<span class=\"negative\">",
                                           "</span>"};
        static const char *const ents[][2] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"},
                                              {"&quot;", "\""}, {"&#39;", "'"}};
        bool done = false;
        for (size_t i = 0; i < 3 && !done; i++) {
            if (strncmp(p, tags[i], strlen(tags[i])) == 0) {
                p += strlen(tags[i]);
                done = true;
            }
        }
        for (size_t i = 0; i < 5 && !done; i++) {
            if (strncmp(p, ents[i][0], strlen(ents[i][0])) == 0) {
                out[o++] = ents[i][1][0];
                p += strlen(ents[i][0]);
                done = true;
            }
        }
        if (done)
            continue;
        cr_assert(*p != '<' && *p != '>' && *p != '"' && *p != '\'',
                  "unexpected markup at: %s", p);
        cr_assert(*p != '&', "bare & at: %s", p);
        out[o++] = *p++;
    }
    out[o] = '\0';
    return out;
}

static void analyze(const char *text, struct senti_result *r)
{
    int rc = senti_provider_analyze(g_p, 0, text, strlen(text), r);
    cr_assert_eq(rc, 0, "senti_provider_analyze: %s", td_error_symbol(rc));
    char *back = strip(r->html);
    cr_assert_str_eq(back, text, "analyzed_content does not strip back to the text");
    free(back);
}

Test(provider, normal_answer_marks_the_models_phrases)
{
    make(1000, 2000, 2);
    fake_llm_set(&g_fake, FAKE_LLM_OK,
                 "{\"phrases\":[{\"text\":\"happy\",\"sentiment\":\"positive\"},"
                 "{\"text\":\"awful\",\"sentiment\":\"negative\"}]}");
    struct senti_result r;
    analyze("I was happy but the food was awful & cold.", &r);
    cr_assert_str_eq(r.analyzer, "github-models:gpt-test");
    cr_assert_not(r.fallback);
    cr_assert_eq(r.positive, 1);
    cr_assert_eq(r.negative, 1);
    cr_assert_str_eq(r.html, "I was <span class=\"positive\">happy</span> but the food was "
                             "<span class=\"negative\">awful</span> &amp; cold.");
    senti_result_free(&r);

    cr_assert_eq(fake_llm_requests(&g_fake), 1);
    cr_assert_str_eq(g_fake.last_auth, "Bearer " TOKEN);
    cr_assert_str_eq(g_fake.last_path, "/v1/chat/completions");
    json_t *req = json_loads(g_fake.last_body, 0, NULL);
    cr_assert_not_null(req, "request body is not JSON");
    cr_assert_str_eq(json_string_value(json_object_get(req, "model")), "gpt-test");
    cr_assert(strstr(g_fake.last_body, "the food was awful") != NULL);
    json_decref(req);
}

Test(provider, keep_alive_reuses_one_connection)
{
    make(1000, 2000, 0);
    fake_llm_set(&g_fake, FAKE_LLM_OK, "{\"phrases\":[]}");
    for (int i = 0; i < 5; i++) {
        struct senti_result r;
        analyze(i % 2 ? "one text" : "another text", &r);
        cr_assert_not(r.fallback);
        senti_result_free(&r);
    }
    cr_assert_eq(fake_llm_requests(&g_fake), 5);
    cr_assert_eq(g_fake.nconns, 1, "%d connections for 5 calls", g_fake.nconns);
}

Test(provider, hang_times_out_and_falls_back_within_the_deadline)
{
    make(300, 700, 5);
    fake_llm_set(&g_fake, FAKE_LLM_HANG, NULL);
    long long t0 = now_ms();
    struct senti_result r;
    analyze("What a wonderful day, I love it.", &r);
    long long took = now_ms() - t0;
    cr_assert(took < 1000, "took %lld ms with a 700 ms deadline", took);
    cr_assert(took >= 280, "gave up after %lld ms, before the attempt's timeout", took);
    cr_assert_str_eq(r.analyzer, SENTI_ANALYZER_VERSION);
    cr_assert(r.fallback);
    cr_assert_gt(r.positive, 0);
    senti_result_free(&r);
    /* 300 ms attempts within 700 ms: two at most, never all six. */
    cr_assert_leq(fake_llm_requests(&g_fake), 3);
}

Test(provider, server_errors_are_retried_then_succeed)
{
    make(1000, 3000, 2);
    fake_llm_set(&g_fake, FAKE_LLM_OK, "{\"phrases\":[{\"text\":\"sad\",\"sentiment\":\"negative\"}]}");
    fake_llm_fail_first(&g_fake, 2, 500, -1);
    struct senti_result r;
    analyze("I feel sad.", &r);
    cr_assert_not(r.fallback);
    cr_assert_str_eq(r.analyzer, "github-models:gpt-test");
    cr_assert_eq(r.negative, 1);
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 3);
}

Test(provider, retries_are_bounded_then_fall_back)
{
    make(1000, 3000, 2);
    fake_llm_set(&g_fake, FAKE_LLM_OK, "{\"phrases\":[]}");
    fake_llm_fail_first(&g_fake, 100, 429, -1);
    struct senti_result r;
    analyze("I feel sad.", &r);
    cr_assert(r.fallback);
    cr_assert_str_eq(r.analyzer, SENTI_ANALYZER_VERSION);
    cr_assert_eq(r.negative, 1);
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 3, "1 attempt + 2 retries");
}

Test(provider, small_retry_after_is_honoured)
{
    make(1000, 3000, 1);
    fake_llm_set(&g_fake, FAKE_LLM_OK, "{\"phrases\":[]}");
    fake_llm_fail_first(&g_fake, 1, 429, 1);
    long long t0 = now_ms();
    struct senti_result r;
    analyze("plain words", &r);
    long long took = now_ms() - t0;
    cr_assert_not(r.fallback);
    cr_assert(took >= 950, "retried after %lld ms despite Retry-After: 1", took);
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 2);
}

Test(provider, retry_after_beyond_the_deadline_gives_up_at_once)
{
    make(1000, 1500, 3);
    fake_llm_set(&g_fake, FAKE_LLM_OK, "{\"phrases\":[]}");
    fake_llm_fail_first(&g_fake, 10, 503, 30);
    long long t0 = now_ms();
    struct senti_result r;
    analyze("plain words", &r);
    cr_assert(now_ms() - t0 < 500);
    cr_assert(r.fallback);
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 1);
}

Test(provider, client_errors_are_not_retried)
{
    make(1000, 3000, 3);
    fake_llm_set(&g_fake, FAKE_LLM_STATUS, NULL);
    fake_llm_fail_first(&g_fake, 0, 401, -1);
    struct senti_result r;
    analyze("I am happy", &r);
    cr_assert(r.fallback);
    cr_assert_eq(r.positive, 1);
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 1);
}

Test(provider, garbage_answer_falls_back_without_retrying)
{
    make(1000, 3000, 3);
    fake_llm_set(&g_fake, FAKE_LLM_GARBAGE, NULL);
    struct senti_result r;
    analyze("I am happy", &r);
    cr_assert(r.fallback);
    cr_assert_str_eq(r.analyzer, SENTI_ANALYZER_VERSION);
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 1);
}

Test(provider, content_that_is_not_the_json_asked_for_falls_back)
{
    make(1000, 3000, 0);
    fake_llm_set(&g_fake, FAKE_LLM_OK, "Sure! Here is <b>happy</b> marked up for you.");
    struct senti_result r;
    analyze("I am happy", &r);
    cr_assert(r.fallback);
    cr_assert_eq(r.positive, 1);
    cr_assert_str_eq(r.html, "I am <span class=\"positive\">happy</span>");
    senti_result_free(&r);
}

Test(provider, oversize_answer_is_cut_off_and_falls_back)
{
    make(2000, 3000, 2);
    fake_llm_set(&g_fake, FAKE_LLM_HUGE, NULL);
    struct senti_result r;
    analyze("I am happy", &r);
    cr_assert(r.fallback);
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 1);
}

Test(provider, refused_connection_falls_back_quickly)
{
    int port = g_fake.port;
    fake_llm_stop(&g_fake);
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d/v1/chat/completions", port);
    make(500, 1000, 2);
    long long t0 = now_ms();
    struct senti_result r;
    analyze("I am happy", &r);
    cr_assert(now_ms() - t0 < 1100);
    cr_assert(r.fallback);
    senti_result_free(&r);
    /* teardown stops the server again: give it a fresh one. */
    cr_assert_eq(fake_llm_start(&g_fake), 0);
}

Test(provider, injected_markup_and_foreign_phrases_stay_inert)
{
    make(1000, 3000, 0);
    fake_llm_set(&g_fake, FAKE_LLM_OK,
                 "{\"phrases\":["
                 "{\"text\":\"<script>alert(1)</script>\",\"sentiment\":\"negative\"},"
                 "{\"text\":\"happy</span><script>x()</script>\",\"sentiment\":\"positive\"},"
                 "{\"text\":\"<b>happy</b>\",\"sentiment\":\"positive\"},"
                 "{\"text\":\"ecstatic\",\"sentiment\":\"positive\"},"
                 "{\"text\":\"happy\",\"sentiment\":\"<img src=x onerror=alert(1)>\"},"
                 "{\"text\":\"happy\",\"sentiment\":\"positive\"}],"
                 "\"html\":\"<script>evil()</script>\"}");
    const char *text = "<script>alert(1)</script> I am \"happy\" & it's <b>fine</b>";
    struct senti_result r;
    analyze(text, &r);
    cr_assert_not(r.fallback);
    cr_assert_null(strstr(r.html, "<script"), "%s", r.html);
    cr_assert_null(strstr(r.html, "<b>"), "%s", r.html);
    cr_assert_null(strstr(r.html, "<img"), "%s", r.html);
    cr_assert_null(strstr(r.html, "ecstatic"));
    cr_assert(strstr(r.html, "&lt;script&gt;") != NULL, "%s", r.html);
    /* The script phrase really is in the text, so it may be marked: but
     * only as escaped text inside a span. */
    cr_assert_eq(r.positive, 1, "%s", r.html);
    cr_assert_leq(r.negative, 1);
    senti_result_free(&r);
}

Test(provider, breaker_skips_the_llm_after_repeated_failures)
{
    struct senti_provider_opts o = llm_opts(500, 1000, 0);
    o.breaker_failures = 2;
    o.breaker_cooldown_ms = 60000;
    TD_ASSERT_OK(senti_provider_new(&o, &g_p));
    fake_llm_set(&g_fake, FAKE_LLM_STATUS, NULL);
    fake_llm_fail_first(&g_fake, 0, 502, -1);
    for (int i = 0; i < 5; i++) {
        struct senti_result r;
        analyze("good", &r);
        cr_assert(r.fallback);
        senti_result_free(&r);
    }
    cr_assert_eq(fake_llm_requests(&g_fake), 2, "the breaker let %d calls through",
                 fake_llm_requests(&g_fake));
}

Test(provider, each_worker_has_its_own_client)
{
    make(1000, 2000, 0);
    fake_llm_set(&g_fake, FAKE_LLM_OK, "{\"phrases\":[{\"text\":\"great\",\"sentiment\":\"positive\"}]}");
    struct senti_result a, b;
    TD_ASSERT_OK(senti_provider_analyze(g_p, 0, "great", 5, &a));
    TD_ASSERT_OK(senti_provider_analyze(g_p, 1, "great", 5, &b));
    cr_assert_str_eq(a.html, b.html);
    cr_assert_eq(senti_provider_analyze(g_p, 2, "great", 5, &b), TD_EINVAL);
    senti_result_free(&a);
    senti_result_free(&b);
}

Test(provider, lexicon_provider_never_calls_out)
{
    struct senti_provider_opts o = {.provider = "lexicon", .nclients = 1};
    TD_ASSERT_OK(senti_provider_new(&o, &g_p));
    cr_assert_str_eq(senti_provider_name(g_p), SENTI_ANALYZER_VERSION);
    struct senti_result r;
    analyze("I am not happy <3", &r);
    cr_assert_str_eq(r.analyzer, SENTI_ANALYZER_VERSION);
    cr_assert_not(r.fallback);
    cr_assert_eq(r.negative, 1);
    senti_result_free(&r);
    analyze("", &r);
    cr_assert_eq(r.positive + r.negative, 0);
    cr_assert_str_eq(r.html, "");
    senti_result_free(&r);
    analyze("   \n\t ", &r);
    cr_assert_eq(r.positive + r.negative, 0);
    senti_result_free(&r);
    cr_assert_eq(fake_llm_requests(&g_fake), 0);
}

Test(provider, bad_options_are_refused)
{
    struct senti_provider_opts o = {.provider = "openai", .nclients = 1};
    cr_assert_eq(senti_provider_new(&o, &g_p), TD_EINVAL);
    o = llm_opts(1000, 1000, 0);
    o.llm.token = NULL;
    cr_assert_eq(senti_provider_new(&o, &g_p), TD_EINVAL);
    cr_assert_null(g_p);
}

Test(provider, text_over_the_limit_is_refused)
{
    struct senti_provider_opts o = {.provider = "lexicon", .nclients = 1};
    TD_ASSERT_OK(senti_provider_new(&o, &g_p));
    size_t n = SENTI_MAX_TEXT_BYTES + 1;
    char *t = malloc(n);
    memset(t, 'a', n);
    struct senti_result r;
    cr_assert_eq(senti_provider_analyze(g_p, 0, t, n, &r), TD_ETOOBIG);
    free(t);
}
