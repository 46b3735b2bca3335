/*
 * edge_http.h — helpers shared by the edge integration tests
 * (test_edge*.c, test_nginx.c, test_docs.c): HTTP from a chosen loopback
 * source address (127.0.0.2, 127.0.0.3, ... are distinct clients), many
 * requests at once from threads, and running a command to completion.
 * Header-only so each Criterion binary stays one file plus the harness.
 */
#ifndef EDGE_HTTP_H
#define EDGE_HTTP_H

#include "harness.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

struct edge_buf {
    char *data;
    size_t len;
};

static __attribute__((unused)) size_t edge_append(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct edge_buf *b = userdata;
    size_t n = size * nmemb;
    char *grown = realloc(b->data, b->len + n + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + b->len, ptr, n);
    b->len += n;
    grown[b->len] = '\0';
    b->data = grown;
    return n;
}

/* One exchange with `url` (full URL) from source address `src` (NULL: any).
 * `insecure` skips TLS verification (self-signed test certificates). */
static __attribute__((unused)) int edge_http(const char *url, const char *src, const char *method,
                     const char *const *headers, const char *body, bool insecure,
                     struct th_response *out)
{
    memset(out, 0, sizeof *out);
    CURL *curl = curl_easy_init();
    if (curl == NULL)
        return -1;
    struct edge_buf b = {0}, h = {0};
    struct curl_slist *list = NULL;
    for (int i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    if (body)
        list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (src)
        curl_easy_setopt(curl, CURLOPT_INTERFACE, src);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (insecure) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, edge_append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, edge_append);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        fprintf(stderr, "edge_http %s %s: %s\n", method, url, curl_easy_strerror(rc));
        free(b.data);
        free(h.data);
        return -1;
    }
    out->body = b.data ? b.data : strdup("");
    out->body_len = b.len;
    out->headers = h.data ? h.data : strdup("");
    out->json = json_loadb(out->body, out->body_len, 0, NULL);
    return 0;
}

/* Status of one exchange, -1 on transport failure. */
static __attribute__((unused)) long edge_status(const char *url, const char *src, const char *method,
                        const char *const *headers, const char *body)
{
    struct th_response r;
    if (edge_http(url, src, method, headers, body, true, &r) != 0)
        return -1;
    long st = r.status;
    th_response_free(&r);
    return st;
}

static const char *const edge_json_ct[] = {"Content-Type: application/json", NULL};

/* `n` concurrent POSTs of `body` to `url` from `src`; statuses into out[]. */
struct edge_shot {
    const char *url, *src, *body;
    pthread_barrier_t *start;
    long status;
};

static __attribute__((unused)) void *edge_fire(void *arg)
{
    struct edge_shot *s = arg;
    pthread_barrier_wait(s->start);
    s->status = edge_status(s->url, s->src, "POST", edge_json_ct, s->body);
    return NULL;
}

static __attribute__((unused)) void edge_concurrent(const char *url, const char *src, const char *body, int n,
                            long *out)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    pthread_t t[64];
    struct edge_shot shots[64];
    for (int i = 0; i < n && i < 64; i++) {
        shots[i] = (struct edge_shot){url, src, body, &start, 0};
        pthread_create(&t[i], NULL, edge_fire, &shots[i]);
    }
    for (int i = 0; i < n && i < 64; i++) {
        pthread_join(t[i], NULL);
        out[i] = shots[i].status;
    }
    pthread_barrier_destroy(&start);
}

/* The value of metric line `series` (exact text before the value) in /metrics,
 * or -1. */
static __attribute__((unused)) double edge_metric(const char *base_url, const char *series)
{
    struct th_response r;
    if (th_http_url(base_url, "GET", "/metrics", NULL, NULL, &r) != 0)
        return -1;
    double v = -1;
    size_t n = strlen(series);
    for (const char *line = r.body; line && *line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ') {
            v = atof(line + n + 1);
            break;
        }
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    th_response_free(&r);
    return v;
}

static __attribute__((unused)) void edge_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#endif
