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

/* One exchange with `url` (full URL) from source address `src` (NULL: any).
 * `insecure` skips TLS verification (self-signed test certificates). */
static __attribute__((unused)) int edge_http(const char *url, const char *src, const char *method,
                                             const char *const *headers, const char *body,
                                             bool insecure, struct th_response *out)
{
    struct th_request rq = {.url = url, .method = method, .headers = headers, .body = body,
                            .src = src, .insecure = insecure};
    return th_http_ex(&rq, out);
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

/* The value of metric line `series` in /metrics, or -1: th_metric, read
 * once. A test asserting a count waits for it (th_wait_metric): the gateway
 * counts a request after its response has gone out. */
static __attribute__((unused)) double edge_metric(const char *base_url, const char *series)
{
    return th_metric(base_url, series);
}

static __attribute__((unused)) void edge_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#endif
