/*
 * test_metrics.c — /metrics of a real gateway after real traffic, read as a
 * Prometheus server would: every line well-formed and every series unique
 * (tests/harness/prom_text.h), and Prometheus' own `promtool check metrics`
 * where it is installed (ops/install-deps.sh unpacks it into
 * tests/tools/promtool/). Each method of a route has its latency series, a
 * 405 on a known path counts under its route, the token cache's hits show,
 * the process and build families are there, and the access log names the
 * raw path of a 404.
 */
#include "auth_helpers.h"
#include "prom_text.h"
#include "suite.h"

#include <sys/wait.h>
#include <unistd.h>

TH_STACK_SUITE(metrics_text, 90);

static char *scrape(void)
{
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/metrics", NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    char *text = strdup(r.body);
    th_response_free(&r);
    cr_assert_not_null(text);
    return text;
}

/* Scrapes until `series` (name and labels, then a space) is in the text:
 * the gateway counts a request once its response has gone out. */
static char *scrape_until(const char *series)
{
    for (int tries = 0; tries < 200; tries++) {
        char *text = scrape();
        if (strstr(text, series) != NULL)
            return text;
        free(text);
        usleep(50000);
    }
    cr_assert_fail("%s never appeared in /metrics", series);
    return NULL;
}

static void status_of(const char *method, const char *path, const char *token, const char *body,
                      long want)
{
    struct th_response r;
    req(&stack, method, path, token, body, &r);
    cr_assert_eq(r.status, want, "%s %s: %ld %s", method, path, r.status, r.body);
    th_response_free(&r);
}

/* Lines of the gateway's log that contain `needle`. */
static int log_count(const char *needle)
{
    char path[400];
    snprintf(path, sizeof path, "%s/td-gateway.log", stack.dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0)
        n += strstr(line, needle) != NULL;
    free(line);
    fclose(f);
    return n;
}

/* promtool: the project's unpacked copy, else one on PATH; NULL when none. */
static const char *promtool(void)
{
    static const char local[] = TD_SOURCE_DIR "/tests/tools/promtool/usr/bin/promtool";
    if (access(local, X_OK) == 0)
        return local;
    if (system("command -v promtool >/dev/null 2>&1") == 0)
        return "promtool";
    return NULL;
}

Test(metrics_text, after_real_traffic_every_series_is_unique_and_well_formed)
{
    register_user(&stack, "metrics@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&stack, "metrics@example.com", GOOD_PASSWORD, &t);
    struct th_response r;
    req(&stack, "POST", "/diaries", t.access, "{\"content\": \"A good day.\"}", &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    long long id = json_integer_value(json_object_get(r.json, "id"));
    th_response_free(&r);
    char one[64];
    snprintf(one, sizeof one, "/diaries/%lld", id);
    status_of("GET", "/diaries", t.access, NULL, 200);
    status_of("GET", one, t.access, NULL, 200);
    status_of("PUT", one, t.access, "{\"content\": \"A better day.\"}", 200);
    status_of("GET", "/diaries/stats", t.access, NULL, 200);
    status_of("GET", "/auth/me", t.access, NULL, 200);
    status_of("DELETE", one, t.access, NULL, 200);
    /* A known path with a method it lacks, and an unknown path. */
    status_of("DELETE", "/diaries", t.access, NULL, 405);
    status_of("PATCH", "/health", NULL, NULL, 405);
    status_of("GET", "/no/such%20route", NULL, NULL, 404);
    const char *pre[] = {"Origin: http://localhost:5173", "Access-Control-Request-Method: POST",
                         NULL};
    cr_assert_eq(th_http(&stack, "OPTIONS", "/diaries", pre, NULL, &r), 0);
    cr_assert_eq(r.status, 204);
    th_response_free(&r);
    status_of("GET", "/version", NULL, NULL, 200);

    char *text =
        scrape_until("td_http_requests_total{route=\"/version\",method=\"GET\",status=\"200\"} ");
    char err[512];
    int samples = 0;
    int problems = th_prom_check(text, err, sizeof err, &samples);
    cr_assert_eq(problems, 0, "%d problem(s) in /metrics, first: %s\n%s", problems, err, text);
    cr_assert_gt(samples, 50);

    const char *want[] = {
        /* One latency series per method: POST and GET of /diaries, and the
         * three of /diaries/{id}, all kept. */
        "td_http_request_duration_seconds_count{route=\"/diaries\",method=\"POST\"} 1\n",
        "td_http_request_duration_seconds_count{route=\"/diaries\",method=\"GET\"} 1\n",
        "td_http_request_duration_seconds_count{route=\"/diaries/{id}\",method=\"GET\"} 1\n",
        "td_http_request_duration_seconds_count{route=\"/diaries/{id}\",method=\"PUT\"} 1\n",
        "td_http_request_duration_seconds_count{route=\"/diaries/{id}\",method=\"DELETE\"} 1\n",
        /* 405 and the preflight under their route; 404 unmatched. */
        "td_http_requests_total{route=\"/diaries\",method=\"DELETE\",status=\"405\"} 1\n",
        "td_http_requests_total{route=\"/health\",method=\"OTHER\",status=\"405\"} 1\n",
        "td_http_requests_total{route=\"/diaries\",method=\"OPTIONS\",status=\"204\"} 1\n",
        "td_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n",
        "td_build_info{version=\"" TD_VERSION "\"} 1\n",
        "\nprocess_resident_memory_bytes ",
        "\nprocess_cpu_seconds_total ",
        "\nprocess_open_fds ",
        "\nprocess_start_time_seconds ",
        "\ntd_token_cache_misses_total ",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect_not_null(strstr(text, want[i]), "missing %s", want[i]);
    /* Seven requests carried one access token: one verification, then hits. */
    const char *hits = strstr(text, "\ntd_token_cache_hits_total ");
    cr_assert_not_null(hits);
    cr_expect_geq(atof(hits + strlen("\ntd_token_cache_hits_total ")), 5.0, "%s", hits);

    const char *tool = promtool();
    if (tool == NULL) {
        cr_log_warn("promtool is not installed (ops/install-deps.sh unpacks it): "
                    "/metrics checked by prom_text.h alone");
    } else {
        char path[400], cmd[1024];
        snprintf(path, sizeof path, "%s/metrics.txt", stack.dir);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
        cr_assert_eq(fclose(f), 0);
        snprintf(cmd, sizeof cmd, "%s check metrics < %s 2>&1", tool, path);
        FILE *p = popen(cmd, "r");
        cr_assert_not_null(p);
        char out[4096] = "";
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = '\0';
        int status = pclose(p);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "promtool check metrics failed:\n%s", out);
    }
    free(text);

    /* The access line of the 404 shows the path asked for, as sent. */
    char line[256];
    snprintf(line, sizeof line, " GET /no/such%%20route 404 ");
    bool found = false;
    for (int tries = 0; tries < 200 && !found; tries++) {
        found = log_count(line) == 1;
        if (!found)
            usleep(50000);
    }
    cr_assert(found, "no access line with '%s'", line);
}
