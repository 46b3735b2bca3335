/*
 * test_metrics.c — counters, histograms and the Prometheus text of /metrics:
 * every series unique (a real Prometheus drops repeats), every line in the
 * text format (tests/harness/prom_text.h reads it strictly), the families
 * other modules own (rate limiter, token cache) read from them, the process
 * and build families present.
 */
#include "gateway/edge.h"
#include "gateway/jwt_check.h"
#include "gateway/metrics.h"
#include "gateway/ratelimit.h"
#include "gateway/router.h"
#include "td_error.h"
#include "td_log.h"

#include "../../harness/prom_text.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <jwt.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

static struct gw_app app;
static struct gw_config cfg;

static void setup(void)
{
    /* Thousands of access lines would bury a failure's message. */
    td_log_init("td-gateway", TD_LOG_WARN, TD_LOG_TEXT);
    memset(&app, 0, sizeof app);
    TD_ASSERT_OK(gw_metrics_new(&app.metrics));
    cfg.ratelimit_enabled = true;
    cfg.ratelimit_storage = "memory";
    cfg.ratelimit_register = "3/hour";
    cfg.ratelimit_login = "5/15minutes";
    TD_ASSERT_OK(gw_ratelimit_new(&cfg, &app.ratelimit));
    app.cfg = &cfg;
}
static void teardown(void)
{
    gw_metrics_free(&app.metrics);
    gw_ratelimit_free(&app.ratelimit);
    gw_jwt_free(&app.jwt);
}
TestSuite(metrics, .init = setup, .fini = teardown);

/* A finished request: `route` served it, or (route NULL) `path_route` named
 * its path without serving it (405, preflight), or neither (404). */
static void finish_as(const char *method, const struct gw_route *route,
                      const struct gw_route *path_route, int status, int64_t us)
{
    struct mg_request_info ri;
    memset(&ri, 0, sizeof ri);
    ri.request_method = method;
    struct gw_request req;
    memset(&req, 0, sizeof req);
    req.ri = &ri;
    req.app = &app;
    req.route = route;
    req.path_route = path_route ? path_route : route;
    req.path = "/some/raw/path";
    req.status = status;
    snprintf(req.client_ip, sizeof req.client_ip, "127.0.0.1");
    gw_metrics_observe(&req, us);
}

static void finish(const char *method, const struct gw_route *route, int status, int64_t us)
{
    finish_as(method, route, NULL, status, us);
}

static char *render(void)
{
    char *text = NULL;
    size_t len = 0;
    TD_ASSERT_OK(gw_metrics_render(&app, &text, &len));
    cr_assert_eq(strlen(text), len);
    return text;
}

/* The text passes the strict reader: no malformed line, no repeated series. */
static void assert_well_formed(const char *t)
{
    char err[512];
    int samples = 0;
    int problems = th_prom_check(t, err, sizeof err, &samples);
    cr_assert_eq(problems, 0, "%d problem(s), first: %s", problems, err);
    cr_assert_gt(samples, 10);
}

static const struct gw_route *find_route(const char *method, const char *pattern)
{
    const struct gw_route *tables[] = {gw_routes_system, gw_routes_auth, gw_routes_diary,
                                       gw_routes_static};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const struct gw_route *r = tables[t]; r->method; r++)
            if (strcmp(r->method, method) == 0 && strcmp(r->pattern, pattern) == 0)
                return r;
    cr_assert_fail("no route %s %s", method, pattern);
    return NULL;
}

Test(metrics, requests_are_counted_by_route_method_and_status)
{
    const struct gw_route *health = &gw_routes_system[0];
    finish("GET", health, 200, 300);
    finish("GET", health, 200, 2000000);
    finish("GET", NULL, 404, 100);
    char *t = render();
    cr_assert_not_null(strstr(t, "td_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 2\n"), "%s", t);
    cr_assert_not_null(strstr(t, "td_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n"));
    cr_assert_not_null(strstr(t, "# TYPE td_http_request_duration_seconds histogram\n"));
    cr_assert_not_null(strstr(t, "td_http_request_duration_seconds_bucket{route=\"/health\",method=\"GET\",le=\"0.0005\"} 1\n"), "%s", t);
    cr_assert_not_null(strstr(t, "td_http_request_duration_seconds_bucket{route=\"/health\",method=\"GET\",le=\"2.5\"} 2\n"));
    cr_assert_not_null(strstr(t, "td_http_request_duration_seconds_bucket{route=\"/health\",method=\"GET\",le=\"+Inf\"} 2\n"));
    cr_assert_not_null(strstr(t, "td_http_request_duration_seconds_count{route=\"/health\",method=\"GET\"} 2\n"));
    cr_assert_not_null(strstr(t, "td_http_request_duration_seconds_sum{route=\"/health\",method=\"GET\"} 2.000300\n"));
    assert_well_formed(t);
    free(t);
}

Test(metrics, every_method_of_a_route_has_its_own_latency_series)
{
    /* One path, three methods: three histograms, not one that Prometheus
     * would keep and two it would drop. */
    finish("GET", find_route("GET", "/diaries/{id}"), 200, 1000);
    finish("PUT", find_route("PUT", "/diaries/{id}"), 200, 2000);
    finish("DELETE", find_route("DELETE", "/diaries/{id}"), 200, 3000);
    finish("POST", find_route("POST", "/diaries"), 201, 4000);
    finish("GET", find_route("GET", "/diaries"), 200, 5000);
    char *t = render();
    const char *want[] = {
        "td_http_request_duration_seconds_count{route=\"/diaries/{id}\",method=\"GET\"} 1\n",
        "td_http_request_duration_seconds_count{route=\"/diaries/{id}\",method=\"PUT\"} 1\n",
        "td_http_request_duration_seconds_count{route=\"/diaries/{id}\",method=\"DELETE\"} 1\n",
        "td_http_request_duration_seconds_count{route=\"/diaries\",method=\"POST\"} 1\n",
        "td_http_request_duration_seconds_count{route=\"/diaries\",method=\"GET\"} 1\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_not_null(strstr(t, want[i]), "missing %s in\n%s", want[i], t);
    assert_well_formed(t);
    free(t);
}

static void every_route(const struct gw_route *r, void *arg)
{
    (void)arg;
    static const char *const ms[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    static const int st[] = {200, 201, 204, 400, 401, 404, 405, 429, 500, 503, 504, 599};
    for (size_t m = 0; m < sizeof ms / sizeof ms[0]; m++)
        for (size_t s = 0; s < sizeof st / sizeof st[0]; s++)
            finish_as(ms[m], strcmp(ms[m], r->method) == 0 ? r : NULL, r, st[s],
                      (int64_t)(s * 997));
}

Test(metrics, the_whole_text_has_no_repeated_series_and_no_malformed_line)
{
    /* Every route with every method and status the gateway can answer,
     * served or not, plus 404s and upstream calls of every outcome. */
    gw_router_each(every_route, NULL);
    finish("GET", NULL, 404, 10);
    finish("BREW", NULL, 404, 10);
    const char *ops[] = {"auth.login", "diary.list", "sentiment.analyze", "other.op", NULL};
    const int rcs[] = {0, 0, TD_ETIMEDOUT, TD_EDOWN, TD_EPROTO};
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
        for (size_t r = 0; r < sizeof rcs / sizeof rcs[0]; r++)
            gw_metrics_upstream(app.metrics, ops[o], rcs[r], r == 1 ? 500 : 200, 1000);
    char *t = render();
    assert_well_formed(t);
    free(t);
}

Test(metrics, a_known_path_with_another_method_counts_under_its_route)
{
    const struct gw_route *list = find_route("GET", "/diaries");
    finish_as("PATCH", NULL, list, 405, 50);
    finish_as("OPTIONS", NULL, list, 204, 50);
    char *t = render();
    cr_assert_not_null(strstr(t, "td_http_requests_total{route=\"/diaries\",method=\"OTHER\",status=\"405\"} 1\n"), "%s", t);
    cr_assert_not_null(strstr(t, "td_http_requests_total{route=\"/diaries\",method=\"OPTIONS\",status=\"204\"} 1\n"));
    cr_assert_null(strstr(t, "route=\"unmatched\""), "%s", t);
    free(t);
}

Test(metrics, upstream_calls_by_daemon_and_outcome)
{
    gw_metrics_upstream(app.metrics, "diary.create", 0, 201, 1500);
    gw_metrics_upstream(app.metrics, "diary.list", 0, 500, 1500);
    gw_metrics_upstream(app.metrics, "auth.login", TD_ETIMEDOUT, 0, 5000000);
    gw_metrics_upstream(app.metrics, "auth.me", TD_EDOWN, 0, 10);
    char *t = render();
    cr_assert_not_null(strstr(t, "td_upstream_requests_total{service=\"diary\",outcome=\"ok\"} 1\n"), "%s", t);
    cr_assert_not_null(strstr(t, "td_upstream_requests_total{service=\"diary\",outcome=\"error\"} 1\n"));
    cr_assert_not_null(strstr(t, "td_upstream_requests_total{service=\"auth\",outcome=\"timeout\"} 1\n"));
    cr_assert_not_null(strstr(t, "td_upstream_requests_total{service=\"auth\",outcome=\"unavailable\"} 1\n"));
    cr_assert_not_null(strstr(t, "td_upstream_request_duration_seconds_count{service=\"auth\"} 2\n"));
    free(t);
}

Test(metrics, ratelimit_and_redis_series_are_always_present)
{
    char *t = render();
    cr_assert_not_null(strstr(t, "td_redis_errors_total 0\n"), "%s", t);
    cr_assert_not_null(strstr(t, "td_ratelimit_fallback_total 0\n"));
    cr_assert_not_null(strstr(t, "td_ratelimit_redis_up 0\n"));
    cr_assert_not_null(strstr(t, "# TYPE td_ratelimit_rejections_total counter\n"));
    cr_assert_not_null(strstr(t, "td_ratelimit_rejections_total{route=\"/auth/login\"} 0\n"));
    cr_assert_not_null(strstr(t, "td_ratelimit_rejections_total{route=\"/auth/register\"} 0\n"));
    free(t);
}

/* The limiter counts its own refusals; /metrics shows them under the route. */
Test(metrics, ratelimit_rejections_come_from_the_limiter)
{
    const struct gw_route *login = find_route("POST", "/auth/login");
    struct mg_request_info ri;
    memset(&ri, 0, sizeof ri);
    ri.request_method = "POST";
    for (int i = 0; i < 7; i++) {
        struct gw_request req;
        memset(&req, 0, sizeof req);
        req.ri = &ri;
        req.app = &app;
        req.route = login;
        snprintf(req.client_ip, sizeof req.client_ip, "192.0.2.7");
        /* Refused requests try to answer; without a connection the answer
         * goes nowhere, which is all this test needs. */
        (void)gw_ratelimit_refuse(&req);
    }
    struct gw_ratelimit_stats rs;
    gw_ratelimit_stats(app.ratelimit, &rs);
    cr_assert_eq(rs.rejected_login, 2);
    cr_assert_eq(rs.rejected_register, 0);
    char *t = render();
    cr_assert_not_null(strstr(t, "td_ratelimit_rejections_total{route=\"/auth/login\"} 2\n"), "%s", t);
    free(t);
}

#define SECRET "unit-test-secret-0123456789abcdefghijkl"

static char *sign_access(void)
{
    long long now = (long long)time(NULL);
    json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:b}", "sub", "42", "type",
                          "access", "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp",
                          (json_int_t)(now + 900), "jti", "abcdefghijklmnopqrstuv", "iat_us",
                          (json_int_t)now * 1000000, "fresh", 1);
    char *json = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    jwt_t *j = NULL;
    cr_assert_eq(jwt_new(&j), 0);
    cr_assert_eq(jwt_add_grants_json(j, json), 0);
    free(json);
    cr_assert_eq(jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET)),
                 0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    cr_assert_not_null(t);
    return t;
}

Test(metrics, token_cache_hits_and_misses_come_from_the_cache)
{
    char *t0 = render();
    cr_assert_not_null(strstr(t0, "td_token_cache_hits_total 0\n"), "%s", t0);
    cr_assert_not_null(strstr(t0, "td_token_cache_misses_total 0\n"));
    free(t0);

    cr_assert_geq(sodium_init(), 0);
    TD_ASSERT_OK(gw_jwt_new(SECRET, 30, &app.jwt));
    char *token = sign_access();
    struct gw_token tok;
    long long now = (long long)time(NULL);
    for (int i = 0; i < 3; i++)
        TD_ASSERT_OK(gw_jwt_verify(app.jwt, token, now, &tok));
    free(token);
    char *t = render();
    cr_assert_not_null(strstr(t, "td_token_cache_misses_total 1\n"), "%s", t);
    cr_assert_not_null(strstr(t, "td_token_cache_hits_total 2\n"));
    free(t);
}

Test(metrics, process_and_build_families_are_present)
{
    char *t = render();
    const char *want[] = {"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ",
                          "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ",
                          "# TYPE process_open_fds gauge\nprocess_open_fds ",
                          "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ",
                          "td_build_info{version=\"" TD_VERSION "\"} 1\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_not_null(strstr(t, want[i]), "missing %s in\n%s", want[i], t);
    /* Plausible values: some memory, a descriptor or more, a start time in
     * the past but after 2020. */
    double rss = atof(strstr(t, "\nprocess_resident_memory_bytes ") + 31);
    double fds = atof(strstr(t, "\nprocess_open_fds ") + 18);
    double start = atof(strstr(t, "\nprocess_start_time_seconds ") + 28);
    cr_assert_gt(rss, 1e5);
    cr_assert_geq(fds, 3);
    cr_assert(start > 1577836800.0 && start <= (double)time(NULL) + 1, "start %f", start);
    assert_well_formed(t);
    free(t);
}

/* The reader itself: it must fail what Prometheus drops or refuses. */
Test(metrics, the_reader_fails_repeats_and_malformed_lines)
{
    char err[256];
    cr_assert_eq(th_prom_check("# TYPE a_total counter\na_total{x=\"1\",y=\"2\"} 1\n", err,
                               sizeof err, NULL), 0, "%s", err);
    cr_assert_gt(th_prom_check("# TYPE a_total counter\na_total{x=\"1\",y=\"2\"} 1\n"
                               "a_total{y=\"2\",x=\"1\"} 2\n",
                               err, sizeof err, NULL),
                 0);
    cr_assert_not_null(strstr(err, "repeated"), "%s", err);
    /* The old shape of the latency family: one label, two methods. */
    cr_assert_gt(th_prom_check("# TYPE h histogram\n"
                               "h_bucket{route=\"/d\",le=\"+Inf\"} 1\nh_sum{route=\"/d\"} 1\n"
                               "h_count{route=\"/d\"} 1\n"
                               "h_bucket{route=\"/d\",le=\"+Inf\"} 2\nh_sum{route=\"/d\"} 2\n"
                               "h_count{route=\"/d\"} 2\n",
                               err, sizeof err, NULL),
                 0);
    const char *bad[] = {
        "a{x=\"1} 1\n",             /* unterminated value */
        "a{x=\"1\"} one\n",         /* not a number */
        "a{x=\"1\",x=\"2\"} 1\n",   /* label twice */
        "a{1x=\"1\"} 1\n",          /* bad label name */
        "1a 1\n",                   /* bad metric name */
        "a 1",                      /* no final newline */
        "a{x=\"\\q\"} 1\n",         /* unknown escape */
        "# TYPE a wibble\na 1\n",   /* unknown type */
        "a 1\n# TYPE a counter\n",  /* TYPE after samples */
        "a 1\nb 1\na{x=\"1\"} 1\n", /* a family split */
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n", /* no +Inf */
        "a 1 2 3\n",                                             /* trailing text */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_gt(th_prom_check(bad[i], err, sizeof err, NULL), 0, "accepted: %s", bad[i]);
}
