/*
 * metrics.c — request counters and latency histograms for /metrics, and the
 * access log line.
 *
 * Every series lives in a fixed array indexed by route (the route tables are
 * static, so they are numbered once at start-up), method and status, and is
 * bumped with one relaxed atomic add: the hot path takes no lock and
 * allocates nothing. Rendering reads the counters without stopping writers;
 * a scrape may see a request in the counter but not yet in the histogram,
 * which Prometheus tolerates.
 */
#include "edge.h"
#include "metrics.h"
#include "ratelimit.h"
#include "router.h"
#include "td_error.h"
#include "td_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 64 /* slot 0 is "unmatched": 404s, preflights, refusals before routing */

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "OTHER"};
#define NMETHODS (sizeof methods / sizeof methods[0])

static const int statuses[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 409,
                               411, 413, 415, 429, 431, 500, 503, 504, 0 /* other */};
#define NSTATUSES (sizeof statuses / sizeof statuses[0])

/* Seconds; chosen around the gateway's range: sub-millisecond health checks
 * up to the RPC timeout. */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

static const char *const services[] = {"auth", "diary", "sentiment", "other"};
#define NSERVICES (sizeof services / sizeof services[0])
static const char *const outcomes[] = {"ok", "error", "timeout", "unavailable", "failed"};
#define NOUTCOMES (sizeof outcomes / sizeof outcomes[0])

struct histogram {
    atomic_ullong bucket[NBUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
    atomic_ullong count;
    atomic_ullong sum_us;
};

struct gw_metrics {
    const struct gw_route *routes[MAX_ROUTES];
    size_t nroutes;
    atomic_ullong requests[MAX_ROUTES][NMETHODS][NSTATUSES];
    struct histogram latency[MAX_ROUTES];
    atomic_ullong rejections[MAX_ROUTES];
    atomic_ullong upstream[NSERVICES][NOUTCOMES];
    struct histogram upstream_latency[NSERVICES];
};

static void add_route(const struct gw_route *route, void *arg)
{
    struct gw_metrics *m = arg;
    if (m->nroutes < MAX_ROUTES)
        m->routes[m->nroutes++] = route;
}

int gw_metrics_new(struct gw_metrics **out)
{
    /* calloc gives zeroed atomics: a valid initial state for lock-free types. */
    struct gw_metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        return TD_ENOMEM;
    m->nroutes = 1;
    gw_router_each(add_route, m);
    *out = m;
    return 0;
}

void gw_metrics_free(struct gw_metrics **m)
{
    free(*m);
    *m = NULL;
}

static size_t route_index(const struct gw_metrics *m, const struct gw_route *route)
{
    for (size_t i = 1; route && i < m->nroutes; i++) {
        if (m->routes[i] == route)
            return i;
    }
    return 0;
}

static size_t method_index(const char *method)
{
    for (size_t i = 0; i + 1 < NMETHODS; i++) {
        if (strcmp(methods[i], method) == 0)
            return i;
    }
    return NMETHODS - 1;
}

static size_t status_index(int status)
{
    for (size_t i = 0; i + 1 < NSTATUSES; i++) {
        if (statuses[i] == status)
            return i;
    }
    return NSTATUSES - 1;
}

static void observe(struct histogram *h, int64_t us)
{
    if (us < 0)
        us = 0;
    size_t b = 0;
    while (b < NBUCKETS && (double)us / 1e6 > buckets[b])
        b++;
    atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)us, memory_order_relaxed);
}

void gw_metrics_observe(struct gw_request *req, int64_t duration_us)
{
    struct gw_metrics *m = req->app->metrics;
    if (m != NULL) {
        size_t r = route_index(m, req->route);
        atomic_fetch_add_explicit(
            &m->requests[r][method_index(req->ri->request_method)][status_index(req->status)], 1,
            memory_order_relaxed);
        observe(&m->latency[r], duration_us);
    }
    /* The access log line; time and request id are in every log line's prefix. */
    TD_LOG(TD_LOG_INFO, "access", "%s %s %s %d %zu %.3fms", req->client_ip,
           req->ri->request_method, req->route ? req->route->pattern : "-", req->status,
           req->bytes_sent, (double)duration_us / 1000.0);
}

void gw_metrics_ratelimit_rejected(struct gw_metrics *m, const struct gw_route *route)
{
    if (m != NULL)
        atomic_fetch_add_explicit(&m->rejections[route_index(m, route)], 1,
                                  memory_order_relaxed);
}

void gw_metrics_upstream(struct gw_metrics *m, const char *op, int rc, int status,
                         int64_t duration_us)
{
    if (m == NULL)
        return;
    size_t s = NSERVICES - 1;
    size_t dot = strcspn(op ? op : "", ".");
    for (size_t i = 0; op && i + 1 < NSERVICES; i++) {
        if (strlen(services[i]) == dot && strncmp(services[i], op, dot) == 0)
            s = i;
    }
    size_t o = rc == 0 ? (status >= 500 ? 1 : 0)
               : rc == TD_ETIMEDOUT              ? 2
               : rc == TD_EDOWN || rc == TD_ECLOSED ? 3
                                                 : 4;
    atomic_fetch_add_explicit(&m->upstream[s][o], 1, memory_order_relaxed);
    observe(&m->upstream_latency[s], duration_us);
}

/* ---- rendering ------------------------------------------------------- */

struct text {
    char *data;
    size_t len, cap;
    bool failed;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *grown = realloc(t->data, cap);
        if (grown == NULL) {
            t->failed = true;
            return;
        }
        t->data = grown;
        t->cap = cap;
    }
}

static const char *route_label(const struct gw_metrics *m, size_t r)
{
    return r == 0 ? "unmatched" : m->routes[r]->pattern;
}

static void put_histogram(struct text *t, const char *name, const char *label,
                          const char *value, struct histogram *h)
{
    unsigned long long cumulative = 0;
    for (size_t b = 0; b <= NBUCKETS; b++) {
        cumulative += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
        if (b < NBUCKETS)
            put(t, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", name, label, value, buckets[b],
                cumulative);
        else
            put(t, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", name, label, value, cumulative);
    }
    put(t, "%s_sum{%s=\"%s\"} %.6f\n", name, label, value,
        (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    put(t, "%s_count{%s=\"%s\"} %llu\n", name, label, value,
        atomic_load_explicit(&h->count, memory_order_relaxed));
}

int gw_metrics_render(const struct gw_app *app, char **out, size_t *len)
{
    struct gw_metrics *m = app->metrics;
    struct text t = {.cap = 16384};
    t.data = malloc(t.cap);
    if (t.data == NULL || m == NULL) {
        free(t.data);
        return TD_ENOMEM;
    }
    t.data[0] = '\0';

    put(&t, "# HELP td_http_requests_total HTTP requests by route template, method and status.\n"
            "# TYPE td_http_requests_total counter\n");
    for (size_t r = 0; r < m->nroutes; r++)
        for (size_t me = 0; me < NMETHODS; me++)
            for (size_t s = 0; s < NSTATUSES; s++) {
                unsigned long long v =
                    atomic_load_explicit(&m->requests[r][me][s], memory_order_relaxed);
                if (v == 0)
                    continue;
                char status[16];
                if (statuses[s])
                    snprintf(status, sizeof status, "%d", statuses[s]);
                else
                    snprintf(status, sizeof status, "other");
                put(&t, "td_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
                    route_label(m, r), methods[me], status, v);
            }

    put(&t, "# HELP td_http_request_duration_seconds Time from request to response sent.\n"
            "# TYPE td_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < m->nroutes; r++) {
        if (atomic_load_explicit(&m->latency[r].count, memory_order_relaxed) > 0)
            put_histogram(&t, "td_http_request_duration_seconds", "route", route_label(m, r),
                          &m->latency[r]);
    }

    put(&t, "# HELP td_upstream_requests_total RPC calls to the daemons by outcome.\n"
            "# TYPE td_upstream_requests_total counter\n");
    for (size_t s = 0; s < NSERVICES; s++)
        for (size_t o = 0; o < NOUTCOMES; o++) {
            unsigned long long v = atomic_load_explicit(&m->upstream[s][o], memory_order_relaxed);
            if (v > 0 || (s + 1 < NSERVICES && (o == 0 || o == 2 || o == 3)))
                put(&t, "td_upstream_requests_total{service=\"%s\",outcome=\"%s\"} %llu\n",
                    services[s], outcomes[o], v);
        }
    put(&t, "# HELP td_upstream_request_duration_seconds RPC call latency by daemon.\n"
            "# TYPE td_upstream_request_duration_seconds histogram\n");
    for (size_t s = 0; s < NSERVICES; s++) {
        if (atomic_load_explicit(&m->upstream_latency[s].count, memory_order_relaxed) > 0)
            put_histogram(&t, "td_upstream_request_duration_seconds", "service", services[s],
                          &m->upstream_latency[s]);
    }

    put(&t, "# HELP td_ratelimit_rejections_total Requests refused with 429, by route.\n"
            "# TYPE td_ratelimit_rejections_total counter\n");
    for (size_t r = 1; r < m->nroutes; r++) {
        if (m->routes[r]->flags & (GW_ROUTE_LIMIT_REGISTER | GW_ROUTE_LIMIT_LOGIN))
            put(&t, "td_ratelimit_rejections_total{route=\"%s\"} %llu\n", route_label(m, r),
                atomic_load_explicit(&m->rejections[r], memory_order_relaxed));
    }

    struct gw_ratelimit_stats rs;
    gw_ratelimit_stats(app->ratelimit, &rs);
    put(&t,
        "# HELP td_redis_errors_total Failed Redis connects and commands of the rate limiter.\n"
        "# TYPE td_redis_errors_total counter\n"
        "td_redis_errors_total %llu\n"
        "# HELP td_redis_outages_total Times Redis became unusable for the rate limiter.\n"
        "# TYPE td_redis_outages_total counter\n"
        "td_redis_outages_total %llu\n"
        "# HELP td_ratelimit_fallback_total Limited requests counted in memory because Redis "
        "was unusable.\n"
        "# TYPE td_ratelimit_fallback_total counter\n"
        "td_ratelimit_fallback_total %llu\n"
        "# HELP td_ratelimit_redis_up 1 when the last Redis attempt succeeded (0 without Redis).\n"
        "# TYPE td_ratelimit_redis_up gauge\n"
        "td_ratelimit_redis_up %d\n"
        "# HELP td_ratelimit_memory_keys Keys held by the in-memory rate-limit store.\n"
        "# TYPE td_ratelimit_memory_keys gauge\n"
        "td_ratelimit_memory_keys %zu\n",
        (unsigned long long)rs.redis_errors, (unsigned long long)rs.redis_outages,
        (unsigned long long)rs.fallbacks, rs.redis_up ? 1 : 0, rs.memory_keys);

    if (t.failed) {
        free(t.data);
        return TD_ENOMEM;
    }
    *out = t.data;
    *len = t.len;
    return 0;
}
