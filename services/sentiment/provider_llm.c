/*
 * provider_llm.c — one chat-completions exchange over libcurl (see
 * provider_llm.h for the contract).
 *
 * Time is bounded twice: each attempt by opts.timeout_ms (connect included),
 * and the whole exchange by opts.deadline_ms, which every attempt and every
 * backoff pause is cut to. td-diary waits for this daemon only so long
 * (SENTIMENT_TIMEOUT_MS), and a worker stuck on a dead endpoint serves nobody
 * else, so a retry that could not finish in time is not started at all.
 *
 * Retries: after a 429, a 5xx, a timeout or a transport error, up to
 * opts.retries more attempts, pausing base·2^(n-1) with "equal jitter" (half
 * fixed, half random) so a burst of workers does not retry in lock-step. A
 * Retry-After that fits in the remaining time lengthens the pause; one that
 * does not ends the exchange at once. Other statuses (401, 404, …) and an
 * answer that does not parse are not retried: asking again would not help.
 *
 * Secrets: the token is only ever copied into the Authorization header list
 * (wiped before it is freed). Verbose output stays off and reasons are built
 * from static curl messages and numbers, never from the URL's credentials,
 * the headers, the text or the model's answer.
 */
#include "provider_llm.h"
#include "llm_parse.h"
#include "td_error.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_BACKOFF_MS 100
/* Not worth starting an attempt with less time than this left. */
#define MIN_ATTEMPT_MS 20

struct senti_llm {
    CURL *h;
    struct curl_slist *headers;
    long timeout_ms, deadline_ms, backoff_base_ms;
    int retries;
    char *model;
    /* The current attempt's response body (capped at SENTI_LLM_MAX_RESPONSE). */
    char *buf;
    size_t len, cap;
    bool too_big;
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct senti_llm *l = arg;
    size_t n = size * nmemb;
    if (n > SENTI_LLM_MAX_RESPONSE - l->len) {
        l->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 16384;
        while (cap < l->len + n + 1)
            cap *= 2;
        char *p = realloc(l->buf, cap);
        if (p == NULL)
            return 0;
        l->buf = p;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, data, n);
    l->len += n;
    l->buf[l->len] = '\0';
    return n;
}

/* Zeroes every header string before freeing the list: one holds the token. */
static void headers_free(struct curl_slist **list)
{
    for (struct curl_slist *h = *list; h != NULL; h = h->next)
        sodium_memzero(h->data, strlen(h->data));
    curl_slist_free_all(*list);
    *list = NULL;
}

static int add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *n = curl_slist_append(*list, line);
    if (n == NULL)
        return TD_ENOMEM;
    *list = n;
    return 0;
}

static int build_headers(const char *token, struct curl_slist **out)
{
    struct curl_slist *list = NULL;
    size_t alen = strlen("Authorization: Bearer ") + strlen(token) + 1;
    char *auth = malloc(alen);
    if (auth == NULL)
        return TD_ENOMEM;
    snprintf(auth, alen, "Authorization: Bearer %s", token);
    /* An empty Expect: keeps curl from waiting for "100 Continue" before
     * sending bodies over 1 KiB, which would cost a round trip or a second. */
    int rc = add_header(&list, "Content-Type: application/json");
    if (rc == 0)
        rc = add_header(&list, "Accept: application/json");
    if (rc == 0)
        rc = add_header(&list, "Expect:");
    if (rc == 0)
        rc = add_header(&list, auth);
    sodium_memzero(auth, alen);
    free(auth);
    if (rc != 0) {
        headers_free(&list);
        return rc;
    }
    *out = list;
    return 0;
}

void senti_llm_free(struct senti_llm **pl)
{
    struct senti_llm *l = *pl;
    if (l == NULL)
        return;
    if (l->h != NULL)
        curl_easy_cleanup(l->h);
    headers_free(&l->headers);
    free(l->model);
    free(l->buf);
    free(l);
    *pl = NULL;
}

int senti_llm_new(const struct senti_llm_opts *o, struct senti_llm **out)
{
    if (o == NULL || o->api_url == NULL || o->token == NULL || o->model == NULL ||
        o->model[0] == '\0' || o->timeout_ms <= 0 || o->deadline_ms <= 0 || o->retries < 0)
        return TD_EINVAL;
    struct senti_llm *l = calloc(1, sizeof *l);
    if (l == NULL)
        return TD_ENOMEM;
    l->timeout_ms = o->timeout_ms;
    l->deadline_ms = o->deadline_ms;
    l->retries = o->retries;
    l->backoff_base_ms = o->backoff_base_ms > 0 ? o->backoff_base_ms : DEFAULT_BACKOFF_MS;
    l->model = strdup(o->model);
    l->h = curl_easy_init();
    int rc = (l->model == NULL || l->h == NULL) ? TD_ENOMEM : 0;
    if (rc == 0)
        rc = build_headers(o->token, &l->headers);
    if (rc == 0) {
        CURL *h = l->h;
        /* NOSIGNAL: timeouts must not use SIGALRM in a threaded daemon.
         * No redirects: the bearer token goes to the configured URL only. */
        if (curl_easy_setopt(h, CURLOPT_URL, o->api_url) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_VERBOSE, 0L) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, l->headers) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_USERAGENT, "td-sentiment/" TD_VERSION) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                             (curl_off_t)SENTI_LLM_MAX_RESPONSE) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_WRITEDATA, l) != CURLE_OK)
            rc = TD_EINVAL;
    }
    if (rc != 0) {
        senti_llm_free(&l);
        return rc;
    }
    *out = l;
    return 0;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void sleep_ms(long long ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* What one attempt came to. */
enum attempt_outcome { ATTEMPT_OK, ATTEMPT_RETRY, ATTEMPT_FAIL };

/* Runs one POST of body within `budget_ms`. On ATTEMPT_RETRY, *retry_after_s
 * is the server's Retry-After in seconds (-1 when absent). */
static enum attempt_outcome attempt(struct senti_llm *l, const char *body, size_t body_len,
                                    long budget_ms, const char *text, size_t len,
                                    struct senti_spans *out, int *err, long long *retry_after_s,
                                    char *why, size_t whylen)
{
    long t = l->timeout_ms < budget_ms ? l->timeout_ms : budget_ms;
    l->len = 0;
    l->too_big = false;
    *retry_after_s = -1;
    if (curl_easy_setopt(l->h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
        curl_easy_setopt(l->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) != CURLE_OK ||
        curl_easy_setopt(l->h, CURLOPT_TIMEOUT_MS, t) != CURLE_OK ||
        curl_easy_setopt(l->h, CURLOPT_CONNECTTIMEOUT_MS, t) != CURLE_OK) {
        snprintf(why, whylen, "cannot configure the request");
        *err = TD_EINTERNAL;
        return ATTEMPT_FAIL;
    }
    CURLcode cc = curl_easy_perform(l->h);
    if (cc != CURLE_OK) {
        if (l->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
            snprintf(why, whylen, "answer larger than %zu bytes", SENTI_LLM_MAX_RESPONSE);
            *err = TD_EPROTO;
            return ATTEMPT_FAIL;
        }
        if (cc == CURLE_WRITE_ERROR) {
            snprintf(why, whylen, "out of memory reading the answer");
            *err = TD_ENOMEM;
            return ATTEMPT_FAIL;
        }
        bool timeout = cc == CURLE_OPERATION_TIMEDOUT;
        if (timeout)
            snprintf(why, whylen, "timed out after %ld ms", t);
        else
            snprintf(why, whylen, "transport error (curl %d: %s)", (int)cc,
                     curl_easy_strerror(cc));
        *err = timeout ? TD_ETIMEDOUT : TD_EDOWN;
        return ATTEMPT_RETRY;
    }
    long status = 0;
    if (curl_easy_getinfo(l->h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    if (status == 429 || (status >= 500 && status <= 599)) {
        curl_off_t ra = -1;
        if (curl_easy_getinfo(l->h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
            *retry_after_s = (long long)ra;
        snprintf(why, whylen, "HTTP %ld", status);
        *err = TD_EDOWN;
        return ATTEMPT_RETRY;
    }
    if (status < 200 || status > 299) {
        snprintf(why, whylen, "HTTP %ld (not retried)", status);
        *err = TD_EDOWN;
        return ATTEMPT_FAIL;
    }
    int prc = senti_llm_parse_response(l->buf ? l->buf : "", l->len, text, len, out);
    if (prc != 0) {
        snprintf(why, whylen, "unusable answer of %zu bytes (%s)", l->len,
                 prc == TD_ETOOBIG ? "too large" : prc == TD_ENOMEM ? "out of memory"
                                                                        : "not the JSON asked for");
        *err = prc == TD_ENOMEM ? TD_ENOMEM : TD_EPROTO;
        return ATTEMPT_FAIL;
    }
    return ATTEMPT_OK;
}

int senti_llm_spans(struct senti_llm *l, const char *text, size_t len, struct senti_spans *out,
                    char *why, size_t whylen)
{
    senti_spans_clear(out);
    char *body = NULL;
    size_t body_len = 0;
    int rc = senti_llm_request_new(l->model, text, len, &body, &body_len);
    if (rc != 0) {
        snprintf(why, whylen, "text cannot be sent (%s)",
                 rc == TD_ETOOBIG ? "too long" : rc == TD_ENOMEM ? "out of memory"
                                                                      : "not valid UTF-8");
        return rc == TD_ENOMEM ? TD_ENOMEM : TD_EINVAL;
    }
    long long start = mono_ms();
    int err = TD_ETIMEDOUT;
    int attempts = 0;
    snprintf(why, whylen, "no time left for an attempt");
    for (int n = 0; n <= l->retries; n++) {
        long long left = l->deadline_ms - (mono_ms() - start);
        if (left < MIN_ATTEMPT_MS)
            break;
        long long ra = -1;
        attempts++;
        enum attempt_outcome oc =
            attempt(l, body, body_len, (long)left, text, len, out, &err, &ra, why, whylen);
        if (oc == ATTEMPT_OK) {
            free(body);
            return 0;
        }
        if (oc == ATTEMPT_FAIL || n == l->retries)
            break;
        long long pause = l->backoff_base_ms << (n < 16 ? n : 16);
        pause = pause / 2 + (long long)randombytes_uniform((uint32_t)(pause / 2 + 1));
        left = l->deadline_ms - (mono_ms() - start);
        if (ra > 0) {
            if (ra * 1000 + MIN_ATTEMPT_MS > left) {
                size_t used = strlen(why);
                snprintf(why + used, whylen - used, ", Retry-After %llds beyond the deadline", ra);
                break;
            }
            if (ra * 1000 > pause)
                pause = ra * 1000;
        }
        if (pause + MIN_ATTEMPT_MS > left) {
            size_t used = strlen(why);
            snprintf(why + used, whylen - used, ", no time left to retry");
            break;
        }
        sleep_ms(pause);
    }
    senti_spans_clear(out);
    free(body);
    size_t used = strlen(why);
    snprintf(why + used, whylen - used, " [%d attempt%s in %lld ms]", attempts,
             attempts == 1 ? "" : "s", mono_ms() - start);
    return err;
}
