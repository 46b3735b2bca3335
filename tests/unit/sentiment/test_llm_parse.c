/* test_llm_parse.c — the LLM request builder and response parser: valid
 * answers, phrases absent from the text, overlaps, fences, garbage, size
 * limits and markup injection attempts. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/sentiment/llm_parse.h"
#include "services/sentiment/markup.h"
#include "../td_assert.h"

static struct senti_spans g_sp;
static void setup(void) { senti_spans_init(&g_sp); }
static void teardown(void) { senti_spans_free(&g_sp); }
TestSuite(llm_parse, .init = setup, .fini = teardown);

/* Wraps `content` as choices[0].message.content of a response body. */
static char *response(const char *content)
{
    json_t *r = json_pack("{s:[{s:{s:s, s:s}}]}", "choices", "message",
                          "role", "assistant", "content", content);
    cr_assert_not_null(r);
    char *s = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return s;
}

static int parse(const char *content, const char *text)
{
    char *body = response(content);
    int rc = senti_llm_parse_response(body, strlen(body), text, strlen(text), &g_sp);
    free(body);
    return rc;
}

static void expect_span(size_t i, size_t start, size_t end, int pol)
{
    cr_assert(i < g_sp.count, "only %zu spans", g_sp.count);
    cr_assert_eq(g_sp.items[i].start, start, "span %zu start %zu", i, g_sp.items[i].start);
    cr_assert_eq(g_sp.items[i].end, end, "span %zu end %zu", i, g_sp.items[i].end);
    cr_assert_eq(g_sp.items[i].polarity, pol);
}

Test(llm_parse, valid_answer_is_located_and_sorted)
{
    const char *text = "I felt Happy today, but the meeting was not good.";
    int rc = parse("{\"phrases\":[{\"text\":\"not good\",\"sentiment\":\"negative\"},"
                   "{\"text\":\"happy\",\"sentiment\":\"POSITIVE\"}]}", text);
    cr_assert_eq(rc, 0);
    cr_assert_eq(g_sp.count, 2);
    expect_span(0, 7, 12, SENTI_POSITIVE);
    expect_span(1, 40, 48, SENTI_NEGATIVE);
}

Test(llm_parse, phrases_not_in_text_are_dropped)
{
    const char *text = "I am unhappy.";
    cr_assert_eq(parse("{\"phrases\":[{\"text\":\"happy\",\"sentiment\":\"positive\"},"
                       "{\"text\":\"joyful\",\"sentiment\":\"positive\"},"
                       "{\"text\":\"unhappy\",\"sentiment\":\"neutral\"},"
                       "{\"text\":\"\",\"sentiment\":\"negative\"},"
                       "{\"text\":42,\"sentiment\":\"negative\"},"
                       "\"stray\","
                       "{\"text\":\"unhappy\",\"sentiment\":\"negative\"}]}", text), 0);
    cr_assert_eq(g_sp.count, 1);
    expect_span(0, 5, 12, SENTI_NEGATIVE);
}

Test(llm_parse, overlapping_phrases_use_next_occurrence_or_drop)
{
    const char *text = "good good, not good";
    cr_assert_eq(parse("{\"phrases\":[{\"text\":\"not good\",\"sentiment\":\"negative\"},"
                       "{\"text\":\"good\",\"sentiment\":\"positive\"},"
                       "{\"text\":\"good\",\"sentiment\":\"positive\"},"
                       "{\"text\":\"good\",\"sentiment\":\"positive\"},"
                       "{\"text\":\"good good\",\"sentiment\":\"positive\"}]}", text), 0);
    cr_assert_eq(g_sp.count, 3);
    expect_span(0, 0, 4, SENTI_POSITIVE);
    expect_span(1, 5, 9, SENTI_POSITIVE);
    expect_span(2, 11, 19, SENTI_NEGATIVE);
}

Test(llm_parse, markdown_fences_are_accepted)
{
    const char *text = "What a lovely day";
    cr_assert_eq(parse("```json\n{\"phrases\":[{\"text\":\"lovely\",\"sentiment\":\"positive\"}]}\n```",
                       text), 0);
    expect_span(0, 7, 13, SENTI_POSITIVE);
    cr_assert_eq(parse("  ```\n{\"phrases\":[]}\n```  ", text), 0);
    cr_assert_eq(g_sp.count, 0);
    cr_assert_eq(parse("[{\"text\":\"lovely day\",\"sentiment\":\"positive\"}]", text), 0);
    expect_span(0, 7, 17, SENTI_POSITIVE);
}

Test(llm_parse, garbage_is_an_error)
{
    const char *text = "fine";
    cr_assert_eq(parse("Sure! The positive word is fine.", text), TD_EINVAL);
    cr_assert_eq(g_sp.count, 0);
    cr_assert_eq(parse("{\"phrases\":{}}", text), TD_EINVAL);
    cr_assert_eq(parse("{\"phrases\":[],\"phrases\":[]}", text), TD_EINVAL);
    static const char *const bodies[] = {
        "", "null", "{}", "{\"choices\":[]}", "{\"choices\":[{}]}",
        "{\"choices\":[{\"message\":{\"content\":null}}]}",
        "{\"choices\":[{\"message\":{\"content\":\"{}\"}}],\"choices\":1}",
        "{\"choices\":[{\"message\":{\"content\":\"{\\\"phrases\\\":[]}\"}}]} trailing",
        "\xff\xfe{",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        cr_assert_eq(senti_llm_parse_response(bodies[i], strlen(bodies[i]), text, 4, &g_sp),
                     TD_EINVAL, "body %zu", i);
    cr_assert_eq(senti_llm_parse_response(NULL, 0, text, 4, &g_sp), TD_EINVAL);
}

Test(llm_parse, huge_output_is_refused)
{
    size_t n = SENTI_LLM_MAX_RESPONSE + 10;
    char *big = malloc(n);
    memset(big, ' ', n);
    cr_assert_eq(senti_llm_parse_response(big, n, "x", 1, &g_sp), TD_ETOOBIG);
    free(big);

    /* content over its own limit inside a body under the body limit */
    size_t cl = SENTI_LLM_MAX_CONTENT + 10;
    char *content = malloc(cl + 1);
    memset(content, 'a', cl);
    content[cl] = '\0';
    cr_assert_eq(parse(content, "x"), TD_ETOOBIG);
    free(content);
}

Test(llm_parse, many_phrases_are_capped)
{
    /* 1000 items for a text with 1000 "ok" words: only the first 200 count */
    size_t words = 1000;
    char *text = malloc(words * 3 + 1);
    for (size_t i = 0; i < words; i++)
        memcpy(text + 3 * i, "ok ", 3);
    text[words * 3] = '\0';
    json_t *arr = json_array();
    for (size_t i = 0; i < words; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s}", "text", "ok", "sentiment", "positive"));
    json_t *obj = json_pack("{s:o}", "phrases", arr);
    char *content = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    cr_assert_eq(parse(content, text), 0);
    cr_assert_eq(g_sp.count, SENTI_LLM_MAX_PHRASES);
    free(content);
    free(text);
}

Test(llm_parse, pathological_phrase_is_bounded)
{
    size_t n = 40000;
    char *text = malloc(n + 1);
    memset(text, 'a', n);
    text[n] = '\0';
    char ph[SENTI_LLM_MAX_PHRASE_BYTES + 1];
    memset(ph, 'a', SENTI_LLM_MAX_PHRASE_BYTES - 1);
    ph[SENTI_LLM_MAX_PHRASE_BYTES - 1] = 'b';
    ph[SENTI_LLM_MAX_PHRASE_BYTES] = '\0';
    json_t *arr = json_array();
    for (int i = 0; i < SENTI_LLM_MAX_PHRASES; i++)
        json_array_append_new(arr, json_pack("{s:s,s:s}", "text", ph, "sentiment", "negative"));
    json_t *obj = json_pack("{s:o}", "phrases", arr);
    char *content = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    cr_assert_eq(parse(content, text), 0);
    cr_assert_eq(g_sp.count, 0);
    free(content);
    free(text);
}

Test(llm_parse, script_injection_never_reaches_html)
{
    const char *text = "I love <script>alert(1)</script> and I'm sad";
    cr_assert_eq(parse("{\"phrases\":[{\"text\":\"<script>alert(1)</script>\",\"sentiment\":\"negative\"},"
                       "{\"text\":\"<span class=\\\"positive\\\">love</span>\",\"sentiment\":\"positive\"},"
                       "{\"text\":\"love\",\"sentiment\":\"positive\"},"
                       "{\"text\":\"sad\\\"><img src=x onerror=alert(1)>\",\"sentiment\":\"negative\"}]}",
                       text), 0);
    cr_assert_eq(g_sp.count, 2);
    char *h = NULL;
    size_t hl;
    TD_ASSERT_OK(senti_markup_build(text, strlen(text), &g_sp, &h, &hl, NULL, NULL));
    cr_assert_str_eq(h, "I <span class=\"positive\">love</span> <span class=\"negative\">"
                        "&lt;script&gt;alert(1)&lt;/script&gt;</span> and I&#39;m sad");
    cr_assert_null(strstr(h, "<script"));
    cr_assert_null(strstr(h, "<img"));
    free(h);
}

Test(llm_parse, request_body_shape)
{
    const char *text = "I'm \"fine\" \xf0\x9f\x98\x8a";
    char *body = NULL;
    size_t bl = 0;
    TD_ASSERT_OK(senti_llm_request_new("gpt-4o", text, strlen(text), &body, &bl));
    cr_assert_eq(strlen(body), bl);
    json_error_t err;
    json_t *r = json_loads(body, JSON_REJECT_DUPLICATES, &err);
    cr_assert_not_null(r, "%s", err.text);
    cr_assert_str_eq(json_string_value(json_object_get(r, "model")), "gpt-4o");
    cr_assert_eq(json_integer_value(json_object_get(r, "temperature")), 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "response_format"), "type")),
                     "json_object");
    json_t *msgs = json_object_get(r, "messages");
    cr_assert_eq(json_array_size(msgs), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "system");
    const char *sys = json_string_value(json_object_get(json_array_get(msgs, 0), "content"));
    cr_assert_not_null(strstr(sys, "phrases"));
    cr_assert_not_null(strstr(sys, "no HTML"));
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(msgs, 1), "content")), text);
    json_decref(r);
    free(body);
}

Test(llm_parse, request_rejects_bad_input)
{
    char *body = (char *)0x1;
    size_t bl = 9;
    cr_assert_eq(senti_llm_request_new("m", "a\xff", 2, &body, &bl), TD_EINVAL);
    cr_assert_eq(senti_llm_request_new("m", "a\0b", 3, &body, &bl), TD_EINVAL);
    cr_assert_eq(senti_llm_request_new("", "a", 1, &body, &bl), TD_EINVAL);
    cr_assert_eq(senti_llm_request_new(NULL, "a", 1, &body, &bl), TD_EINVAL);
    cr_assert_eq(body, (char *)0x1);
    cr_assert_eq(bl, 9);
}

Test(llm_parse, random_bytes_never_crash)
{
    srand(777);
    char buf[300];
    const char *text = "happy sad good bad";
    for (int i = 0; i < 3000; i++) {
        size_t n = (size_t)(rand() % (int)sizeof buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = rand() % 3 ? "{}[]\":,choices message content phrases text"[rand() % 44]
                                : (char)(rand() & 0xFF);
        int rc = senti_llm_parse_response(buf, n, text, strlen(text), &g_sp);
        cr_assert(rc == 0 || rc == TD_EINVAL || rc == TD_ETOOBIG);
    }
}
