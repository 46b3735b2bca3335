/*
 * test_sentiment.c — td-sentiment as a running daemon: sentiment.analyze over
 * RPC with the LLM provider pointed at a fake OpenAI-compatible server in
 * this process (normal answers, a hang, garbage, injection attempts, the
 * cache), argument validation, the token kept out of the log, and the
 * --analyze-lines mode and start-up checks of the binary itself.
 */
#include "harness.h"
#include "td_mp.h"
#include "td_rpc.h"

#include "../fake_llm/fake_llm.h"

#include <criterion/criterion.h>
#include <sys/wait.h>
#include <time.h>

#define TOKEN "test-token-5ecr3t-9f8e7d"

static struct th_stack stack;
static struct fake_llm fake;
static struct td_rpc_client *client;
static char url_env[160];

static void setup(void)
{
    cr_assert_eq(fake_llm_start(&fake), 0);
    snprintf(url_env, sizeof url_env,
             "SENTIMENT_API_URL=http://127.0.0.1:%d/inference/chat/completions", fake.port);
    struct th_options o = {.env = {"SENTIMENT_PROVIDER=github-models", url_env,
                                   "GITHUB_TOKEN=" TOKEN, "SENTIMENT_LLM_TIMEOUT_MS=500",
                                   "SENTIMENT_LLM_DEADLINE_MS=900",
                                   "SENTIMENT_LLM_BREAKER_FAILURES=0", "LOG_LEVEL=debug", NULL}};
    cr_assert_eq(th_stack_start(&stack, &o), 0, "stack did not start");
    struct td_rpc_client_opts co = {.service = "sentiment", .urls = stack.sentiment_url,
                                    .timeout_ms = 5000,
                                    .connect_grace_ms = 5000};
    cr_assert_eq(td_rpc_client_open(&co, &client), 0);
}

static void teardown(void)
{
    td_rpc_client_free(&client);
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
    fake_llm_stop(&fake);
}

TestSuite(sentiment, .init = setup, .fini = teardown, .timeout = 60);

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Calls sentiment.analyze with packed args (NULL: none). */
static void call_raw(const char *args, size_t len, struct td_rpc_result *res)
{
    struct td_rpc_call c = {.op = TD_OP_SENTIMENT_ANALYZE, .request_id = "it-sentiment",
                            .args = args, .args_len = len};
    int rc = td_rpc_call(client, &c, res);
    cr_assert_eq(rc, 0, "td_rpc_call: %d", rc);
}

static void call_text(const char *text, size_t len, struct td_rpc_result *res)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    td_mp_pack_cstr(&pk, "text");
    td_mp_pack_strn(&pk, text, len);
    call_raw(sb.data, sb.size, res);
    msgpack_sbuffer_destroy(&sb);
}

struct analysis {
    char html[4096];
    char analyzer[64];
    int64_t pos, neg;
};

/* Calls with `text`, expects 200 and exactly the four result keys. */
static void analyze(const char *text, struct analysis *a)
{
    struct td_rpc_result res;
    call_text(text, strlen(text), &res);
    cr_assert_eq(res.status, 200, "status %d", res.status);
    cr_assert_eq(res.result->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(res.result->via.map.size, 4, "result has %u keys", res.result->via.map.size);
    cr_assert_eq(td_mp_copy_str(td_mp_map_get(res.result, "analyzed_content"), a->html,
                                sizeof a->html), 0);
    cr_assert_eq(td_mp_copy_str(td_mp_map_get(res.result, "analyzer"), a->analyzer,
                                sizeof a->analyzer), 0);
    cr_assert_eq(td_mp_as_int64(td_mp_map_get(res.result, "positive_count"), &a->pos), 0);
    cr_assert_eq(td_mp_as_int64(td_mp_map_get(res.result, "negative_count"), &a->neg), 0);
    td_rpc_result_free(&res);
}

Test(sentiment, llm_answer_is_marked_then_served_from_the_cache)
{
    fake_llm_set(&fake, FAKE_LLM_OK,
                 "```json\n{\"phrases\":[{\"text\":\"proud\",\"sentiment\":\"positive\"},"
                 "{\"text\":\"exhausted\",\"sentiment\":\"negative\"}]}\n```");
    struct analysis a, b;
    analyze("Exhausted, but proud of what I did.", &a);
    cr_assert_str_eq(a.analyzer, "github-models:gpt-4o");
    cr_assert_str_eq(a.html, "<span class=\"negative\">Exhausted</span>, but "
                             "<span class=\"positive\">proud</span> of what I did.");
    cr_assert_eq(a.pos, 1);
    cr_assert_eq(a.neg, 1);
    cr_assert_eq(fake_llm_requests(&fake), 1);
    pthread_mutex_lock(&fake.mu);
    cr_assert_str_eq(fake.last_auth, "Bearer " TOKEN);
    cr_assert_str_eq(fake.last_path, "/inference/chat/completions");
    pthread_mutex_unlock(&fake.mu);

    analyze("Exhausted, but proud of what I did.", &b);
    cr_assert_eq(fake_llm_requests(&fake), 1, "the repeated text reached the LLM again");
    cr_assert_str_eq(b.html, a.html);
    cr_assert_str_eq(b.analyzer, a.analyzer);
}

Test(sentiment, a_hanging_llm_falls_back_within_the_diary_timeout)
{
    fake_llm_set(&fake, FAKE_LLM_HANG, NULL);
    long long t0 = now_ms();
    struct analysis a;
    analyze("I am so happy today, but also a bit worried.", &a);
    long long took = now_ms() - t0;
    cr_assert(took < 2000, "answered after %lld ms, past td-diary's 2000 ms", took);
    cr_assert_str_eq(a.analyzer, "lexicon-5");
    cr_assert_gt(a.pos + a.neg, 0);
}

Test(sentiment, garbage_and_injection_attempts_stay_inert)
{
    fake_llm_set(&fake, FAKE_LLM_GARBAGE, NULL);
    struct analysis a;
    analyze("<script>alert('x')</script> what a great day", &a);
    cr_assert_str_eq(a.analyzer, "lexicon-5");
    cr_assert_null(strstr(a.html, "<script"), "%s", a.html);

    fake_llm_set(&fake, FAKE_LLM_OK,
                 "{\"phrases\":[{\"text\":\"<script>alert(\\\"x\\\")</script>\","
                 "\"sentiment\":\"negative\"},"
                 "{\"text\":\"great</span><img src=x>\",\"sentiment\":\"positive\"},"
                 "{\"text\":\"wonderful\",\"sentiment\":\"positive\"}]}");
    analyze("<script>alert(\"x\")</script> what a GREAT day", &a);
    cr_assert_str_eq(a.analyzer, "github-models:gpt-4o");
    cr_assert_null(strstr(a.html, "<script"), "%s", a.html);
    cr_assert_null(strstr(a.html, "<img"), "%s", a.html);
    cr_assert_null(strstr(a.html, "wonderful"), "%s", a.html);
    cr_assert_eq(a.pos, 0, "%s", a.html);
    cr_assert_str_eq(a.html, "<span class=\"negative\">&lt;script&gt;alert(&quot;x&quot;)"
                             "&lt;/script&gt;</span> what a GREAT day");
}

Test(sentiment, server_errors_are_retried)
{
    fake_llm_set(&fake, FAKE_LLM_OK, "{\"phrases\":[{\"text\":\"calm\",\"sentiment\":\"positive\"}]}");
    fake_llm_fail_first(&fake, 1, 503, -1);
    struct analysis a;
    analyze("A calm evening.", &a);
    cr_assert_str_eq(a.analyzer, "github-models:gpt-4o");
    cr_assert_eq(a.pos, 1);
    cr_assert_eq(fake_llm_requests(&fake), 2);
}

static void expect_validation(const char *args, size_t len, const char *field)
{
    struct td_rpc_result res;
    call_raw(args, len, &res);
    cr_assert_eq(res.status, 400, "status %d for field %s", res.status, field);
    const msgpack_object *e = td_rpc_result_error_field(&res, "error");
    cr_assert(td_mp_str_eq(e, "validation_error"));
    const msgpack_object *details = td_mp_map_get(res.error, "details");
    cr_assert_not_null(td_mp_map_get(details, field), "no details for %s", field);
    td_rpc_result_free(&res);
}

Test(sentiment, arguments_are_validated)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    expect_validation(NULL, 0, "text");

    msgpack_pack_map(&pk, 0);
    expect_validation(sb.data, sb.size, "text");

    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 2);
    td_mp_pack_kv_str(&pk, "text", "fine");
    td_mp_pack_kv_str(&pk, "txet", "typo");
    expect_validation(sb.data, sb.size, "txet");

    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1);
    td_mp_pack_kv_int(&pk, "text", 42);
    expect_validation(sb.data, sb.size, "text");

    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1);
    td_mp_pack_cstr(&pk, "text");
    td_mp_pack_strn(&pk, "bad \xff\xfe utf-8", sizeof "bad \xff\xfe utf-8" - 1);
    expect_validation(sb.data, sb.size, "text");

    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1);
    td_mp_pack_cstr(&pk, "text");
    td_mp_pack_strn(&pk, "nul\0inside", sizeof "nul\0inside" - 1);
    expect_validation(sb.data, sb.size, "text");

    msgpack_sbuffer_clear(&sb);
    size_t big = 64 * 1024 + 1;
    char *t = malloc(big);
    memset(t, 'a', big);
    msgpack_pack_map(&pk, 1);
    td_mp_pack_cstr(&pk, "text");
    td_mp_pack_strn(&pk, t, big);
    free(t);
    expect_validation(sb.data, sb.size, "text");
    msgpack_sbuffer_destroy(&sb);

    /* Empty and whitespace-only texts are fine and have no spans. */
    struct analysis a;
    fake_llm_set(&fake, FAKE_LLM_OK, "{\"phrases\":[]}");
    analyze("", &a);
    cr_assert_str_eq(a.html, "");
    cr_assert_eq(a.pos + a.neg, 0);
    analyze(" \n\t ", &a);
    cr_assert_eq(a.pos + a.neg, 0);
}

Test(sentiment, a_maximal_entry_is_analysed)
{
    /* 10,000 four-byte characters: the largest content the contract allows. */
    fake_llm_set(&fake, FAKE_LLM_OK, "{\"phrases\":[{\"text\":\"joy\",\"sentiment\":\"positive\"}]}");
    size_t n = 10000 * 4;
    char *t = malloc(n + 16);
    for (size_t i = 0; i < n; i += 4)
        memcpy(t + i, "\xf0\x9f\x98\x8a", 4);
    memcpy(t + n, " joy", 5);
    struct td_rpc_result res;
    call_text(t, strlen(t), &res);
    cr_assert_eq(res.status, 200);
    int64_t pos = -1;
    cr_assert_eq(td_mp_as_int64(td_mp_map_get(res.result, "positive_count"), &pos), 0);
    cr_assert_eq(pos, 1);
    td_rpc_result_free(&res);
    free(t);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap)
            buf = realloc(buf, (cap *= 2) + 1);
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

Test(sentiment, the_token_and_the_text_never_reach_the_log)
{
    const char *secret_text = "zebra-unicorn diary line, sad and happy";
    fake_llm_set(&fake, FAKE_LLM_STATUS, NULL);
    fake_llm_fail_first(&fake, 0, 401, -1);
    struct analysis a;
    analyze(secret_text, &a);
    cr_assert_str_eq(a.analyzer, "lexicon-5");
    fake_llm_set(&fake, FAKE_LLM_GARBAGE, NULL);
    analyze("another zebra-unicorn", &a);
    fake_llm_set(&fake, FAKE_LLM_HANG, NULL);
    analyze("a third zebra-unicorn", &a);

    /* The negative checks below mean something only once the daemon has
     * logged all it will about the three calls: their fallback lines, and
     * the per-request line each call's handler writes after them. */
    cr_assert_geq(th_wait_log_count(&stack, "td-sentiment.log", "llm_fallback", 3, TH_WAIT_MS), 3);
    cr_assert_geq(th_wait_log_count(&stack, "td-sentiment.log",
                                    "[it-sentiment] rpc: sentiment.analyze 200", 3, TH_WAIT_MS),
                  3);
    char path[400];
    snprintf(path, sizeof path, "%s/td-sentiment.log", stack.dir);
    char *log = read_file(path);
    cr_assert(strstr(log, "llm_fallback") != NULL, "no llm_fallback line in:\n%s", log);
    cr_assert(strstr(log, "HTTP 401") != NULL, "the reason is not logged:\n%s", log);
    cr_assert_null(strstr(log, TOKEN), "the token is in the log:\n%s", log);
    cr_assert_null(strstr(log, "5ecr3t"), "part of the token is in the log");
    cr_assert_null(strstr(log, "zebra-unicorn"), "entry text is in the log");
    free(log);
}

/* ---- the binary on its own ------------------------------------------------ */

/* Runs td-sentiment with `env` and `args`, `input` on stdin; returns the
 * exit status and what it wrote to stdout (and stderr, when asked). */
static int run_binary(const char *env, const char *args, const char *input, size_t input_len,
                      char **out, bool with_stderr)
{
    char in_path[] = "/tmp/td-senti-in-XXXXXX";
    int fd = mkstemp(in_path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, input, input_len), (ssize_t)input_len);
    close(fd);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "env -i PATH=/usr/bin:/bin TD_ENV_FILE=/dev/null %s %s %s < %s %s",
             env, TD_BIN_DIR "/td-sentiment", args, in_path, with_stderr ? "2>&1" : "");
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap + 1);
    while ((n = fread(buf + len, 1, cap - len, p)) > 0) {
        len += n;
        if (len == cap)
            buf = realloc(buf, (cap *= 2) + 1);
    }
    buf[len] = '\0';
    int st = pclose(p);
    unlink(in_path);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(binary, analyze_lines_prints_counts_per_line)
{
    /* CRLF and LF endings, an empty line, no final newline, and a line far
     * longer than any stdio buffer. */
    size_t longn = 200000;
    char *in = malloc(longn + 256);
    int o = sprintf(in, "I am so happy today\r\nThis is terrible, I feel awful.\n\nplain\n");
    for (size_t i = 0; i < longn; i += 6)
        memcpy(in + o + i, "happy ", 6);
    o += (int)longn;
    o += sprintf(in + o, "\nnot good at all");
    char *out = NULL;
    int rc = run_binary("", "--analyze-lines", in, (size_t)o, &out, false);
    free(in);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
    char *lines[8] = {0};
    int nl = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l && nl < 8;
         l = strtok_r(NULL, "\n", &save))
        lines[nl++] = l;
    cr_assert_eq(nl, 6, "%d lines of output", nl);
    cr_assert_str_eq(lines[0], "1\t0");
    cr_assert_str_eq(lines[1], "0\t2");
    cr_assert_str_eq(lines[2], "0\t0");
    cr_assert_str_eq(lines[3], "0\t0");
    unsigned p, n;
    cr_assert_eq(sscanf(lines[4], "%u\t%u", &p, &n), 2);
    cr_assert_gt(p, 1000);
    cr_assert_str_eq(lines[5], "0\t1");
    free(out);
}

Test(binary, analyze_lines_falls_back_when_the_llm_is_unreachable)
{
    char *out = NULL;
    const char *in = "I am so happy today\n";
    int rc = run_binary("SENTIMENT_PROVIDER=github-models GITHUB_TOKEN=x "
                        "SENTIMENT_API_URL=http://127.0.0.1:9/nowhere",
                        "--analyze-lines", in, strlen(in), &out, false);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out, "1\t0\n");
    free(out);
}

Test(binary, github_models_without_a_token_refuses_to_start)
{
    char *out = NULL;
    int rc = run_binary("SENTIMENT_PROVIDER=github-models", "", "", 0, &out, true);
    cr_assert_eq(rc, 2, "exit %d", rc);
    cr_assert(strstr(out, "GITHUB_TOKEN") != NULL, "%s", out);
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "more than one line: %s", out);
    free(out);
    rc = run_binary("SENTIMENT_PROVIDER=openai", "", "", 0, &out, true);
    cr_assert_eq(rc, 2);
    cr_assert(strstr(out, "SENTIMENT_PROVIDER") != NULL, "%s", out);
    free(out);
}

/* ---- through td-diary ------------------------------------------------------ */

/* diary.create over RPC as user 7 (the gateway's token checks are another
 * issue's work; this exercises td-diary -> td-sentiment -> the fake LLM). */
static void create_entry(struct td_rpc_client *diary, const char *content, struct analysis *a)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    td_mp_pack_kv_str(&pk, "content", content);
    struct td_rpc_call c = {.op = TD_OP_DIARY_CREATE, .request_id = "it-diary", .user_id = 7,
                            .args = sb.data, .args_len = sb.size};
    struct td_rpc_result res;
    cr_assert_eq(td_rpc_call(diary, &c, &res), 0);
    msgpack_sbuffer_destroy(&sb);
    cr_assert_eq(res.status, 201, "diary.create answered %d", res.status);
    cr_assert_eq(td_mp_copy_str(td_mp_map_get(res.result, "analyzed_content"), a->html,
                                sizeof a->html), 0);
    cr_assert_eq(td_mp_as_int64(td_mp_map_get(res.result, "positive_count"), &a->pos), 0);
    cr_assert_eq(td_mp_as_int64(td_mp_map_get(res.result, "negative_count"), &a->neg), 0);
    td_rpc_result_free(&res);
}

Test(sentiment, diary_entries_get_the_llms_markup_and_survive_its_failures)
{
    struct td_rpc_client *diary = NULL;
    struct td_rpc_client_opts co = {.service = "diary", .urls = stack.diary_url,
                                    .timeout_ms = 5000,
                                    .connect_grace_ms = 5000};
    cr_assert_eq(td_rpc_client_open(&co, &diary), 0);
    fake_llm_set(&fake, FAKE_LLM_OK,
                 "{\"phrases\":[{\"text\":\"grateful\",\"sentiment\":\"positive\"},"
                 "{\"text\":\"<script>\",\"sentiment\":\"negative\"}]}");
    struct analysis a;
    create_entry(diary, "So grateful today <script>alert(1)</script>", &a);
    /* "<script>" is in the text, so the model may mark it: as escaped text. */
    cr_assert_str_eq(a.html, "So <span class=\"positive\">grateful</span> today "
                             "<span class=\"negative\">&lt;script&gt;</span>alert(1)"
                             "&lt;/script&gt;");
    cr_assert_eq(a.pos, 1);
    cr_assert_eq(a.neg, 1);

    /* A hanging model: the entry is still created, analysed by the lexicon,
     * within td-diary's timeout. */
    fake_llm_set(&fake, FAKE_LLM_HANG, NULL);
    long long t0 = now_ms();
    create_entry(diary, "I feel hopeful and happy", &a);
    cr_assert(now_ms() - t0 < 2500);
    cr_assert_geq(a.pos, 1, "%s", a.html);
    td_rpc_client_free(&diary);
}
