/*
 * test_nginx.c — ops/nginx/thought-diary.conf in front of a real gateway:
 * Debian's nginx on free loopback ports with a certificate made at test
 * time, the gateway trusting it (TRUSTED_PROXIES=127.0.0.1). Over HTTPS the
 * API works (HTTP/2 too), HSTS is sent, rate limits key on the real client
 * address (clients connect from 127.0.0.2, 127.0.0.3, ...), and a client's
 * own X-Forwarded-For cannot pick another client's bucket.
 */
#include "edge_http.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

static struct th_stack stack;
static char dir[] = "/tmp/td-nginx-XXXXXX";
static pid_t nginx_pid;
static int https_port, http_port;
static char https_base[64];

static char *at_https(const char *path)
{
    static __thread char buf[4][256];
    static __thread int next;
    char *b = buf[next++ % 4];
    snprintf(b, 256, "%s%s", https_base, path);
    return b;
}

static void run(const char *cmd)
{
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "failed (%d): %s", rc, cmd);
}

static void print_nginx_log(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cat %s/error.log >&2", dir);
    int rc = system(cmd);
    (void)rc;
}

static bool nginx_answers(void *arg)
{
    (void)arg;
    return edge_status(at_https("/health"), NULL, "GET", NULL, NULL) == 200;
}

/* Reaped (or not our child any more): nothing left to wait for. */
static bool nginx_exited(void *arg)
{
    return waitpid(nginx_pid, arg, WNOHANG) != 0;
}

static void setup(void)
{
    if (system("command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx") != 0)
        cr_skip_test("nginx is not installed (ops/install-deps.sh installs it)");
    struct th_options o = {.env = {"RATELIMIT_ENABLED=true", "TRUSTED_PROXIES=127.0.0.1", NULL}};
    cr_assert_eq(th_stack_start(&stack, &o), 0, "stack did not start");
    strcpy(dir, "/tmp/td-nginx-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    https_port = th_free_port();
    http_port = th_free_port();
    snprintf(https_base, sizeof https_base, "https://127.0.0.1:%d", https_port);

    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout %s/tls.key -out %s/tls.crt "
             ">/dev/null 2>&1",
             dir, dir);
    run(cmd);
    /* The shipped site file with this test's ports, certificate and gateway. */
    snprintf(cmd, sizeof cmd,
             "sed -e 's|listen 443 ssl http2;|listen 127.0.0.1:%d ssl http2;|' "
             "-e 's|listen 80;|listen 127.0.0.1:%d;|' "
             "-e 's|/etc/ssl/certs/thought-diary.crt|%s/tls.crt|' "
             "-e 's|/etc/ssl/private/thought-diary.key|%s/tls.key|' "
             "-e 's|server 127.0.0.1:8080;|server 127.0.0.1:%d;|' "
             "%s/ops/nginx/thought-diary.conf > %s/site.conf",
             https_port, http_port, dir, dir, stack.http_port, TD_SOURCE_DIR, dir);
    run(cmd);
    char path[512];
    snprintf(path, sizeof path, "%s/nginx.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "%s"
            "daemon off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
            "events { worker_connections 256; }\n"
            "http {\n  access_log %s/access.log;\n  client_body_temp_path %s/body;\n"
            "  proxy_temp_path %s/proxy;\n  fastcgi_temp_path %s/fastcgi;\n"
            "  uwsgi_temp_path %s/uwsgi;\n  scgi_temp_path %s/scgi;\n"
            "  include %s/site.conf;\n}\n",
            geteuid() == 0 ? "user root;\n" : "", dir, dir, dir, dir, dir, dir, dir, dir, dir);
    fclose(f);

    nginx_pid = fork();
    cr_assert_geq(nginx_pid, 0);
    if (nginx_pid == 0) {
        char log[600];
        snprintf(log, sizeof log, "%s/stderr.log", dir);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execl("/usr/sbin/nginx", "nginx", "-p", dir, "-e", "stderr", "-c", path, (char *)NULL);
        _exit(127);
    }
    if (th_wait_until(nginx_answers, NULL, TH_WAIT_MS))
        return;
    print_nginx_log();
    snprintf(cmd, sizeof cmd, "cat %s/stderr.log >&2", dir);
    cr_expect_eq(system(cmd), 0);
    cr_assert_fail("nginx did not come up on %d", https_port);
}

static void teardown(void)
{
    if (nginx_pid > 0) {
        kill(nginx_pid, SIGQUIT); /* graceful: workers finish, master exits */
        int status = 0;
        if (!th_wait_until(nginx_exited, &status, 5000)) {
            kill(nginx_pid, SIGKILL);
            waitpid(nginx_pid, &status, 0);
        }
        nginx_pid = 0;
    }
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
    if (dir[0] && strstr(dir, "XXXXXX") == NULL && !getenv("TD_TEST_KEEP")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        cr_expect_eq(system(cmd), 0);
    }
}

TestSuite(nginx, .init = setup, .fini = teardown, .timeout = 90);

static const char bad_login[] = "{\"email\":\"nobody@example.com\",\"password\":\"Wrong-pass1\"}";

Test(nginx, api_works_over_https_with_hsts_and_security_headers)
{
    struct th_response r;
    cr_assert_eq(edge_http(at_https("/health"), NULL, "GET", NULL, NULL, true, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "healthy");
    char v[256];
    cr_assert(th_header(&r, "Strict-Transport-Security", v, sizeof v), "%s", r.headers);
    cr_assert_not_null(strstr(v, "max-age="));
    cr_assert(th_header(&r, "X-Content-Type-Options", v, sizeof v));
    cr_assert(th_header(&r, "Content-Security-Policy", v, sizeof v));
    cr_assert(th_header(&r, "X-Request-ID", v, sizeof v));
    cr_assert_not(th_header(&r, "Server", v, sizeof v) && strstr(v, "/"),
                  "nginx version leaked: %s", v);
    th_response_free(&r);

    /* The full stack through the proxy: a daemon's answer comes back. */
    cr_assert_eq(edge_http(at_https("/auth/login"), "127.0.0.2", "POST", edge_json_ct,
                           bad_login, true, &r),
                 0);
    cr_assert_eq(r.status, 401, "%s", r.body);
    cr_assert(th_header(&r, "Strict-Transport-Security", v, sizeof v), "errors carry HSTS too");
    th_response_free(&r);

    /* The gateway port itself, plain HTTP, never claims HSTS. */
    cr_assert_eq(th_http(&stack, "GET", "/health", NULL, NULL, &r), 0);
    cr_assert_not(th_header(&r, "Strict-Transport-Security", v, sizeof v));
    th_response_free(&r);
}

Test(nginx, http2_is_offered)
{
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    curl_easy_setopt(c, CURLOPT_URL, at_https("/version"));
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    long version = 0, status = 0;
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &version);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    cr_assert_eq(status, 200);
    cr_assert_eq(version, (long)CURL_HTTP_VERSION_2_0, "negotiated HTTP version %ld", version);
}

Test(nginx, plain_http_redirects_to_https)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", http_port);
    struct th_response r;
    cr_assert_eq(edge_http(url, NULL, "GET", NULL, NULL, false, &r), 0);
    cr_assert_eq(r.status, 301);
    char v[256];
    cr_assert(th_header(&r, "Location", v, sizeof v));
    cr_assert(strncmp(v, "https://", 8) == 0, "%s", v);
    th_response_free(&r);
}

Test(nginx, rate_limits_key_on_the_real_client_address)
{
    for (int i = 0; i < 5; i++)
        cr_assert_eq(edge_status(at_https("/auth/login"), "127.0.0.2", "POST", edge_json_ct,
                                 bad_login),
                     401, "attempt %d", i + 1);
    cr_assert_eq(edge_status(at_https("/auth/login"), "127.0.0.2", "POST", edge_json_ct,
                             bad_login),
                 429);
    /* Not one shared bucket for "the proxy": another client is untouched. */
    cr_assert_eq(edge_status(at_https("/auth/login"), "127.0.0.3", "POST", edge_json_ct,
                             bad_login),
                 401);
}

Test(nginx, spoofed_x_forwarded_for_cannot_pick_another_bucket)
{
    /* 127.0.0.4 exhausts its budget. */
    for (int i = 0; i < 5; i++)
        edge_status(at_https("/auth/login"), "127.0.0.4", "POST", edge_json_ct, bad_login);
    cr_assert_eq(edge_status(at_https("/auth/login"), "127.0.0.4", "POST", edge_json_ct,
                             bad_login),
                 429);
    /* It cannot escape by claiming to be someone else... */
    const char *escape[] = {"Content-Type: application/json", "X-Forwarded-For: 203.0.113.50",
                            "X-Real-IP: 203.0.113.51", "Forwarded: for=203.0.113.52", NULL};
    cr_assert_eq(edge_status(at_https("/auth/login"), "127.0.0.4", "POST", escape, bad_login),
                 429);
    /* ...and another client cannot spend 127.0.0.4's bucket, nor be locked
     * out by claiming to be it. */
    const char *frame[] = {"Content-Type: application/json", "X-Forwarded-For: 127.0.0.4", NULL};
    cr_assert_eq(edge_status(at_https("/auth/login"), "127.0.0.5", "POST", frame, bad_login),
                 401);
}

Test(nginx, body_over_the_limit_is_refused_by_the_proxy_in_json)
{
    size_t n = 1 << 20;
    char *body = malloc(n + 1);
    memset(body, ' ', n);
    body[n] = '\0';
    struct th_response r;
    cr_assert_eq(edge_http(at_https("/auth/login"), "127.0.0.6", "POST", edge_json_ct, body,
                           true, &r),
                 0);
    free(body);
    cr_assert_eq(r.status, 413);
    cr_assert_not_null(r.json, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "error")), "payload_too_large");
    th_response_free(&r);
}
