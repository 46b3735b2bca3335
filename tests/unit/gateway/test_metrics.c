/*
 * test_metrics.c — counters, histograms and the Prometheus text of /metrics.
 */
#include "edge.h"
#include "metrics.h"
#include "ratelimit.h"
#include "router.h"
#include "td_error.h"

#include <criterion/criterion.h>
#include <string.h>

static struct gw_app app;
static struct gw_config cfg;

static void setup(void)
{
    memset(&app, 0, sizeof app);
    cr_assert_eq(gw_metrics_new(&app.metrics), 0);
    cfg.ratelimit_enabled = true;
    cfg.ratelimit_storage = "memory";
    cfg.ratelimit_register = "3/hour";
    cfg.ratelimit_login = "5/15minutes";
    cr_assert_eq(gw_ratelimit_new(&cfg, &app.ratelimit), 0);
    app.cfg = &cfg;
}
static void teardown(void)
{
    gw_metrics_free(&app.metrics);
    gw_ratelimit_free(&app.ratelimit);
}
TestSuite(metrics, .init = setup, .fini = teardown);

static void finish(const char *method, const struct gw_route *route, int status, int64_t us)
{
    struct mg_request_info ri;
    memset(&ri, 0, sizeof ri);
    ri.request_method = method;
    struct gw_request req;
    memset(&req, 0, sizeof req);
    req.ri = &ri;
    req.app = &app;
    req.route = route;
    req.status = status;
    snprintf(req.client_ip, sizeof req.client_ip, "127.0.0.1");
    gw_metrics_observe(&req, us);
}

static char *render(void)
{
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(gw_metrics_render(&app, &text, &len), 0);
    cr_assert_eq(strlen(text), len);
    return text;
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
    cr_assert_not_null(strstr(t, "td_http_request_duration_seconds_bucket{route=\"/health\",le=\"0.0005\"} 1\n"));
    cr_assert_not_null(strstr(t, "td_http_request_duration_seconds_bucket{route=\"/health\",le=\"2.5\"} 2\n"));
    cr_assert_not_null(strstr(t, "td_http_request_duration_seconds_bucket{route=\"/health\",le=\"+Inf\"} 2\n"));
    cr_assert_not_null(strstr(t, "td_http_request_duration_seconds_count{route=\"/health\"} 2\n"));
    cr_assert_not_null(strstr(t, "td_http_request_duration_seconds_sum{route=\"/health\"} 2.000300\n"));
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
    free(t);
}
