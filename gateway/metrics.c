/*
 * metrics.c — request counters and latency histograms for /metrics, the
 * access log line, and the rendering of every family of /metrics.
 *
 * Every series lives in a fixed array indexed by route slot, method and
 * status, and is bumped with one relaxed atomic add: the hot path takes no
 * lock and allocates nothing. A route slot is one route *pattern* ("/diaries"
 * serves GET and POST from one slot); the route tables are static, so slots
 * are numbered once at start-up. Rendering reads the counters without
 * stopping writers; a scrape may see a request in the counter but not yet in
 * the histogram, which Prometheus tolerates.
 *
 * Every series has a label set of its own (Prometheus keeps the first of two
 * samples with the same name and labels and drops the other), so the
 * latency histograms carry the method as well as the route. A request that
 * named a known path with a method it does not serve (405, CORS preflight)
 * counts under that path's route; only paths no route matches land in
 * route="unmatched".
 *
 * The other modules own their counters and metrics.c only reads them: the
 * rate limiter's decisions (gw_ratelimit_stats), the token cache's hits and
 * misses (gw_jwt_cache_stats), the connection gate's refusals and deadlines
 * (gw_gate_stats), the bulkheads' (gw_bulkhead_stats), the process figures
 * (procstat.c).
 */
#include "bulkhead.h"
#include "edge.h"
#include "gate.h"
#include "jwt_check.h"
#include "metrics.h"
#include "procstat.h"
#include "ratelimit.h"
#include "router.h"
#include "td_error.h"
#include "td_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 64 /* route table rows that get a slot; others count as unmatched */
#define MAX_SLOTS 64  /* slot 0 is "unmatched": 404s, refusals before routing */

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "OTHER"};
#define NMETHODS (sizeof methods / sizeof methods[0])

static const int statuses[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 408, 409,
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

/* The longest raw path an access-log line shows (after escaping). */
#define LOG_PATH_MAX 256

struct histogram {
    atomic_ullong bucket[NBUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
    atomic_ullong count;
    atomic_ullong sum_us;
};

struct gw_metrics {
    const struct gw_route *routes[MAX_ROUTES]; /* every row of the route tables... */
    unsigned char route_slot[MAX_ROUTES];      /* ...and the slot of its pattern */
    size_t nroutes;
    const char *slot_pattern[MAX_SLOTS];
    unsigned slot_flags[MAX_SLOTS]; /* the GW_ROUTE_* flags of the slot's routes, or'ed */
    size_t nslots;
    atomic_ullong requests[MAX_SLOTS][NMETHODS][NSTATUSES];
    struct histogram latency[MAX_SLOTS][NMETHODS];
    atomic_ullong upstream[NSERVICES][NOUTCOMES];
    struct histogram upstream_latency[NSERVICES];
    bool has_start_time;
    double start_time; /* process_start_time_seconds, read once */
};

static void add_route(const struct gw_route *route, void *arg)
{
    struct gw_metrics *m = arg;
    if (m->nroutes == MAX_ROUTES)
        return;
    size_t s = 1;
    while (s < m->nslots && strcmp(m->slot_pattern[s], route->pattern) != 0)
        s++;
    if (s == m->nslots) {
        if (m->nslots == MAX_SLOTS)
            return;
        m->slot_pattern[m->nslots++] = route->pattern;
    }
    m->slot_flags[s] |= route->flags;
    m->route_slot[m->nroutes] = (unsigned char)s;
    m->routes[m->nroutes++] = route;
}

int gw_metrics_new(struct gw_metrics **out)
{
    /* calloc gives zeroed atomics: a valid initial state for lock-free types. */
    struct gw_metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        return TD_ENOMEM;
    m->nslots = 1;
    m->slot_pattern[0] = "unmatched";
    gw_router_each(add_route, m);
    /* Without procfs the series is left out rather than made up. */
    m->has_start_time = gw_procstat_start_time(&m->start_time) == 0;
    *out = m;
    return 0;
}

void gw_metrics_free(struct gw_metrics **m)
{
    free(*m);
    *m = NULL;
}

static size_t slot_index(const struct gw_metrics *m, const struct gw_route *route)
{
    for (size_t i = 0; route && i < m->nroutes; i++) {
        if (m->routes[i] == route)
            return m->route_slot[i];
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

/* The raw path as an access log shows it: printable ASCII kept, every
 * other byte (controls, spaces, quotes, backslashes, non-ASCII) written as
 * %XX, so a line can neither be split nor forged, and cut at LOG_PATH_MAX
 * with "..." so a huge path cannot flood the log. '%' stays as sent: the
 * path is raw, so "%2e%2e" shows as the client wrote it. */
static void log_path(const char *path, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        bool plain = *p > 0x20 && *p < 0x7f && *p != '"' && *p != '\\';
        size_t need = plain ? 1 : 3;
        if (o + need + 4 > size) { /* room for "..." and the NUL */
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

void gw_metrics_observe(struct gw_request *req, int64_t duration_us)
{
    struct gw_metrics *m = req->app->metrics;
    const struct gw_route *named = req->route ? req->route : req->path_route;
    if (m != NULL) {
        size_t r = slot_index(m, named);
        size_t me = method_index(req->ri->request_method);
        atomic_fetch_add_explicit(&m->requests[r][me][status_index(req->status)], 1,
                                  memory_order_relaxed);
        observe(&m->latency[r][me], duration_us);
    }
    /* The access log line; time and request id are in every log line's
     * prefix. A routed request shows its route's pattern (no ids in logs);
     * any other shows the path it asked for. */
    char raw[LOG_PATH_MAX + 4];
    if (named == NULL)
        log_path(req->path ? req->path : "-", raw, sizeof raw);
    TD_LOG(TD_LOG_INFO, "access", "%s %s %s %d %zu %.3fms", req->client_ip, req->ri->request_method,
           named ? named->pattern : raw, req->status, req->bytes_sent,
           (double)duration_us / 1000.0);
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
    size_t o = rc == 0                              ? (status >= 500 ? 1 : 0)
               : rc == TD_ETIMEDOUT                 ? 2
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

/* The HELP and TYPE lines that open a family. */
static void family(struct text *t, const char *name, const char *type, const char *help)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's samples; `labels` is the label set without braces
 * ("route=\"/health\",method=\"GET\""), never empty. */
static void put_histogram(struct text *t, const char *name, const char *labels, struct histogram *h)
{
    unsigned long long cumulative = 0;
    for (size_t b = 0; b <= NBUCKETS; b++) {
        cumulative += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
        if (b < NBUCKETS)
            put(t, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, buckets[b], cumulative);
        else
            put(t, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels, cumulative);
    }
    put(t, "%s_sum{%s} %.6f\n", name, labels,
        (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    put(t, "%s_count{%s} %llu\n", name, labels,
        atomic_load_explicit(&h->count, memory_order_relaxed));
}

static void render_http_requests(struct text *t, const struct gw_app *app)
{
    struct gw_metrics *m = app->metrics;
    family(t, "td_http_requests_total", "counter",
           "HTTP requests by route template, method and status.");
    for (size_t r = 0; r < m->nslots; r++)
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
                put(t, "td_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
                    m->slot_pattern[r], methods[me], status, v);
            }
}

static void render_http_latency(struct text *t, const struct gw_app *app)
{
    struct gw_metrics *m = app->metrics;
    family(t, "td_http_request_duration_seconds", "histogram",
           "Time from request to response sent, by route template and method.");
    for (size_t r = 0; r < m->nslots; r++)
        for (size_t me = 0; me < NMETHODS; me++) {
            struct histogram *h = &m->latency[r][me];
            if (atomic_load_explicit(&h->count, memory_order_relaxed) == 0)
                continue;
            char labels[256];
            snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\"", m->slot_pattern[r],
                     methods[me]);
            put_histogram(t, "td_http_request_duration_seconds", labels, h);
        }
}

static void render_upstream(struct text *t, const struct gw_app *app)
{
    struct gw_metrics *m = app->metrics;
    family(t, "td_upstream_requests_total", "counter", "RPC calls to the daemons by outcome.");
    for (size_t s = 0; s < NSERVICES; s++)
        for (size_t o = 0; o < NOUTCOMES; o++) {
            unsigned long long v = atomic_load_explicit(&m->upstream[s][o], memory_order_relaxed);
            /* The outcomes worth alerting on are always present, so a rate()
             * over them starts from 0 rather than from the first failure. */
            if (v > 0 || (s + 1 < NSERVICES && (o == 0 || o == 2 || o == 3)))
                put(t, "td_upstream_requests_total{service=\"%s\",outcome=\"%s\"} %llu\n",
                    services[s], outcomes[o], v);
        }
}

static void render_upstream_latency(struct text *t, const struct gw_app *app)
{
    struct gw_metrics *m = app->metrics;
    family(t, "td_upstream_request_duration_seconds", "histogram", "RPC call latency by daemon.");
    for (size_t s = 0; s < NSERVICES; s++) {
        if (atomic_load_explicit(&m->upstream_latency[s].count, memory_order_relaxed) == 0)
            continue;
        char labels[64];
        snprintf(labels, sizeof labels, "service=\"%s\"", services[s]);
        put_histogram(t, "td_upstream_request_duration_seconds", labels, &m->upstream_latency[s]);
    }
}

static void render_ratelimit(struct text *t, const struct gw_app *app)
{
    struct gw_metrics *m = app->metrics;
    struct gw_ratelimit_stats rs;
    gw_ratelimit_stats(app->ratelimit, &rs);
    family(t, "td_ratelimit_rejections_total", "counter", "Requests refused with 429, by route.");
    for (size_t r = 1; r < m->nslots; r++) {
        unsigned flags = m->slot_flags[r];
        if (flags & GW_ROUTE_LIMIT_REGISTER)
            put(t, "td_ratelimit_rejections_total{route=\"%s\"} %llu\n", m->slot_pattern[r],
                (unsigned long long)rs.rejected_register);
        else if (flags & GW_ROUTE_LIMIT_LOGIN)
            put(t, "td_ratelimit_rejections_total{route=\"%s\"} %llu\n", m->slot_pattern[r],
                (unsigned long long)rs.rejected_login);
    }
    family(t, "td_ratelimit_fallback_total", "counter",
           "Limited requests counted in memory because Redis was unusable.");
    put(t, "td_ratelimit_fallback_total %llu\n", (unsigned long long)rs.fallbacks);
    family(t, "td_ratelimit_memory_keys", "gauge", "Keys held by the in-memory rate-limit store.");
    put(t, "td_ratelimit_memory_keys %zu\n", rs.memory_keys);
}

static void render_redis(struct text *t, const struct gw_app *app)
{
    struct gw_ratelimit_stats rs;
    gw_ratelimit_stats(app->ratelimit, &rs);
    family(t, "td_redis_errors_total", "counter",
           "Failed Redis connects and commands of the rate limiter.");
    put(t, "td_redis_errors_total %llu\n", (unsigned long long)rs.redis_errors);
    family(t, "td_redis_outages_total", "counter",
           "Times Redis became unusable for the rate limiter.");
    put(t, "td_redis_outages_total %llu\n", (unsigned long long)rs.redis_outages);
    family(t, "td_ratelimit_redis_up", "gauge",
           "1 when the last Redis attempt succeeded (0 without Redis).");
    put(t, "td_ratelimit_redis_up %d\n", rs.redis_up ? 1 : 0);
}

static void render_token_cache(struct text *t, const struct gw_app *app)
{
    uint64_t hits = 0, misses = 0;
    if (app->jwt != NULL)
        gw_jwt_cache_stats(app->jwt, &hits, &misses);
    family(t, "td_token_cache_hits_total", "counter",
           "Bearer tokens found in the verified-token cache (signature not checked again).");
    put(t, "td_token_cache_hits_total %llu\n", (unsigned long long)hits);
    family(t, "td_token_cache_misses_total", "counter",
           "Bearer tokens not in the verified-token cache (fully verified).");
    put(t, "td_token_cache_misses_total %llu\n", (unsigned long long)misses);
}

static void render_gate(struct text *t, const struct gw_app *app)
{
    struct gw_gate_stats gs;
    gw_gate_stats(app->gate, &gs);
    family(t, "td_http_connections_refused_total", "counter",
           "Connections answered 503 by the gateway before any request was served.");
    put(t, "td_http_connections_refused_total{reason=\"client_limit\"} %llu\n",
        (unsigned long long)gs.refused_client);
    put(t, "td_http_connections_refused_total{reason=\"busy\"} %llu\n",
        (unsigned long long)gs.refused_busy);
    family(t, "td_http_request_timeouts_total", "counter",
           "Requests not received in full within GATEWAY_REQUEST_TIMEOUT_MS (408).");
    put(t, "td_http_request_timeouts_total %llu\n", (unsigned long long)gs.timeouts);
    family(t, "td_http_connections", "gauge",
           "Connections on a worker thread (active) and waiting for one (queued).");
    put(t, "td_http_connections{state=\"active\"} %u\n", gs.active);
    put(t, "td_http_connections{state=\"queued\"} %u\n", gs.queued);
}

static void render_bulkheads(struct text *t, const struct gw_app *app)
{
    struct gw_bulkhead_stats bs;
    gw_bulkhead_stats(app->bulkhead, &bs);
    family(t, "td_upstream_in_flight", "gauge", "RPC calls in flight per daemon.");
    for (size_t i = 0; i < GW_UP_COUNT; i++)
        put(t, "td_upstream_in_flight{service=\"%s\"} %u\n", services[i], bs.in_flight[i]);
    family(t, "td_upstream_shed_total", "counter",
           "Calls refused with 503 because GATEWAY_UPSTREAM_MAX_INFLIGHT were in flight.");
    for (size_t i = 0; i < GW_UP_COUNT; i++)
        put(t, "td_upstream_shed_total{service=\"%s\"} %llu\n", services[i],
            (unsigned long long)bs.shed[i]);
    family(t, "td_pwhash_queue_waiting", "gauge",
           "Password checks (register, login, password change, deletion) waiting their turn.");
    put(t, "td_pwhash_queue_waiting %u\n", bs.pwhash_waiting);
    family(t, "td_pwhash_queue_shed_total", "counter",
           "Password checks refused with 503 because their wait would exceed "
           "GATEWAY_PWHASH_QUEUE_MS.");
    put(t, "td_pwhash_queue_shed_total %llu\n", (unsigned long long)bs.pwhash_shed);
    family(t, "td_pwhash_check_seconds", "gauge",
           "The measured duration of one password check (moving average).");
    put(t, "td_pwhash_check_seconds %.6f\n", bs.pwhash_seconds);
}

static void render_process(struct text *t, const struct gw_app *app)
{
    struct gw_procstat ps;
    if (gw_procstat_read(&ps) == 0) {
        family(t, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.");
        put(t, "process_cpu_seconds_total %.2f\n", ps.cpu_seconds);
        family(t, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        put(t, "process_resident_memory_bytes %llu\n", (unsigned long long)ps.rss_bytes);
        family(t, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
        put(t, "process_virtual_memory_bytes %llu\n", (unsigned long long)ps.vsize_bytes);
        family(t, "process_open_fds", "gauge", "Number of open file descriptors.");
        put(t, "process_open_fds %lld\n", (long long)ps.open_fds);
        if (ps.max_fds >= 0) {
            family(t, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
            put(t, "process_max_fds %lld\n", (long long)ps.max_fds);
        }
    }
    if (app->metrics->has_start_time) {
        family(t, "process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.");
        put(t, "process_start_time_seconds %.2f\n", app->metrics->start_time);
    }
}

static void render_build_info(struct text *t, const struct gw_app *app)
{
    (void)app;
    family(t, "td_build_info", "gauge", "The running build: its version as a label; always 1.");
    put(t, "td_build_info{version=\"%s\"} 1\n", TD_VERSION);
}

/* Every family of /metrics, in the order they are rendered. */
static void (*const renderers[])(struct text *, const struct gw_app *) = {
    render_http_requests, render_http_latency, render_upstream,    render_upstream_latency,
    render_gate,          render_bulkheads,    render_ratelimit,   render_redis,
    render_token_cache,   render_process,      render_build_info,
};

int gw_metrics_render(const struct gw_app *app, char **out, size_t *len)
{
    struct text t = {.cap = 16384};
    t.data = malloc(t.cap);
    if (t.data == NULL || app->metrics == NULL) {
        free(t.data);
        return TD_ENOMEM;
    }
    t.data[0] = '\0';
    for (size_t i = 0; i < sizeof renderers / sizeof renderers[0]; i++)
        renderers[i](&t, app);
    if (t.failed) {
        free(t.data);
        return TD_ENOMEM;
    }
    *out = t.data;
    *len = t.len;
    return 0;
}
