/*
 * test_edge_redis.c — rate limits shared through Redis: a real redis-server
 * started by the test on a free loopback port, two gateways sharing one
 * limit, exact counts under concurrency, and the fallback to each gateway's
 * memory when Redis stops (limits still hold, no 500, one log line, counted
 * in /metrics), then shared limiting again once Redis is back, script cache
 * empty or not.
 */
#include "edge_http.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

static struct th_stack stack;
static int redis_port;
static pid_t redis_pid;
static char storage_env[128];

static bool redis_answers(void *arg)
{
    (void)arg;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "redis-cli -p %d PING 2>/dev/null | grep -q PONG", redis_port);
    return system(cmd) == 0;
}

static void redis_start(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    redis_pid = fork();
    cr_assert_geq(redis_pid, 0);
    if (redis_pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    cr_assert(th_wait_until(redis_answers, NULL, TH_WAIT_MS), "redis-server did not start on %d",
              redis_port);
}

static void redis_stop(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
        redis_pid = 0;
    }
}

static void setup(void)
{
    redis_port = th_free_port();
    redis_start();
    snprintf(storage_env, sizeof storage_env, "RATELIMIT_STORAGE=redis://127.0.0.1:%d/0",
             redis_port);
    struct th_options o = {.env = {"RATELIMIT_ENABLED=true", storage_env, NULL}};
    cr_assert_eq(th_stack_start(&stack, &o), 0, "stack did not start");
}

static void teardown(void)
{
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
    redis_stop();
}

TestSuite(edge_redis, .init = setup, .fini = teardown, .timeout = 120);

static const char bad_login[] = "{\"email\":\"nobody@example.com\",\"password\":\"Wrong-pass1\"}";

static char *at(const char *base, const char *path)
{
    static __thread char buf[4][256];
    static __thread int next;
    char *b = buf[next++ % 4];
    snprintf(b, 256, "%s%s", base, path);
    return b;
}

static void stop_extra(pid_t pid)
{
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "extra gateway exit 0x%x", status);
}

Test(edge_redis, twenty_concurrent_logins_let_exactly_five_through)
{
    long st[20];
    edge_concurrent(at(stack.base_url, "/auth/login"), "127.0.0.2", bad_login, 20, st);
    int passed = 0;
    for (int i = 0; i < 20; i++) {
        cr_assert_neq(st[i], -1);
        cr_assert_neq(st[i], 500);
        passed += st[i] != 429;
    }
    cr_assert_eq(passed, 5);
    /* Read once: the limiter counts these during each request, before its
     * response, and every response is in. */
    cr_assert_eq(th_metric(stack.base_url, "td_redis_errors_total"), 0);
    cr_assert_eq(th_metric(stack.base_url, "td_ratelimit_fallback_total"), 0);
    cr_assert_eq(th_metric(stack.base_url, "td_ratelimit_redis_up"), 1);
}

Test(edge_redis, two_gateways_sharing_redis_share_the_limit)
{
    pid_t pid;
    int port;
    cr_assert_eq(th_gateway_start_extra(&stack, NULL, &pid, &port), 0);
    char other[64];
    snprintf(other, sizeof other, "http://127.0.0.1:%d", port);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(edge_status(at(stack.base_url, "/auth/login"), "127.0.0.3", "POST",
                                 edge_json_ct, bad_login),
                     401);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(edge_status(at(other, "/auth/login"), "127.0.0.3", "POST", edge_json_ct,
                                 bad_login),
                     401);
    cr_assert_eq(edge_status(at(other, "/auth/login"), "127.0.0.3", "POST", edge_json_ct,
                             bad_login),
                 429);
    cr_assert_eq(edge_status(at(stack.base_url, "/auth/login"), "127.0.0.3", "POST",
                             edge_json_ct, bad_login),
                 429);
    /* And 20 at once spread over both gateways: still exactly 5. */
    long a[10], b[10];
    edge_concurrent(at(stack.base_url, "/auth/login"), "127.0.0.4", bad_login, 10, a);
    edge_concurrent(at(other, "/auth/login"), "127.0.0.4", bad_login, 10, b);
    int passed = 0;
    for (int i = 0; i < 10; i++)
        passed += (a[i] != 429) + (b[i] != 429);
    cr_assert_eq(passed, 5);
    stop_extra(pid);
}

/* One hit on a limited route from an address no test uses (its budget does
 * not matter: a refused hit asks the store too), then whether the gateway
 * reports Redis usable. A hit after the back-off is the one that probes Redis. */
static bool redis_back_in_use(void *arg)
{
    (void)arg;
    edge_status(at(stack.base_url, "/auth/register"), "127.0.0.20", "POST", edge_json_ct, "{}");
    return th_metric(stack.base_url, "td_ratelimit_redis_up") == 1;
}

Test(edge_redis, redis_outage_falls_back_per_gateway_and_shared_limits_resume)
{
    /* Two hits counted through Redis. */
    for (int i = 0; i < 2; i++)
        cr_assert_eq(edge_status(at(stack.base_url, "/auth/login"), "127.0.0.5", "POST",
                                 edge_json_ct, bad_login),
                     401);
    redis_stop();

    /* The gateway remembers its own two: three more, then 429; never 500,
     * never slow. */
    for (int i = 0; i < 3; i++) {
        struct th_response r;
        cr_assert_eq(edge_http(at(stack.base_url, "/auth/login"), "127.0.0.5", "POST",
                               edge_json_ct, bad_login, false, &r),
                     0);
        cr_assert_eq(r.status, 401, "fallback hit %d: %ld %s", i + 1, r.status, r.body);
        char v[32];
        cr_assert(th_header(&r, "X-RateLimit-Remaining", v, sizeof v));
        cr_assert_eq(atoi(v), 2 - i);
        th_response_free(&r);
    }
    for (int i = 0; i < 3; i++)
        cr_assert_eq(edge_status(at(stack.base_url, "/auth/login"), "127.0.0.5", "POST",
                                 edge_json_ct, bad_login),
                     429);
    long st[10];
    edge_concurrent(at(stack.base_url, "/auth/login"), "127.0.0.6", bad_login, 10, st);
    int passed = 0;
    for (int i = 0; i < 10; i++) {
        cr_assert_neq(st[i], 500);
        passed += st[i] != 429;
    }
    cr_assert_eq(passed, 5, "the fallback holds the limit: %d passed", passed);
    cr_assert_gt(th_wait_metric(stack.base_url, "td_ratelimit_fallback_total", 1, TH_WAIT_MS), 0);
    cr_assert_gt(th_wait_metric(stack.base_url, "td_redis_errors_total", 1, TH_WAIT_MS), 0);
    cr_assert_eq(th_wait_metric(stack.base_url, "td_redis_outages_total", 1, TH_WAIT_MS), 1);
    /* A gauge lowered by the first failing hit, before its response. */
    cr_assert_eq(th_metric(stack.base_url, "td_ratelimit_redis_up"), 0);
    cr_assert_eq(th_wait_log_count(&stack, "td-gateway.log", "ratelimit_redis_down", 1, TH_WAIT_MS),
                 1, "logged once per outage");

    /* Redis returns (empty: no scripts, no counts); after the back-off the
     * gateways share one limit again. Rather than sleep past the back-off,
     * probe until the gateway has found Redis again. */
    redis_start();
    cr_assert(th_wait_until(redis_back_in_use, NULL, TH_WAIT_MS),
              "the gateway never went back to Redis");
    pid_t pid;
    int port;
    cr_assert_eq(th_gateway_start_extra(&stack, NULL, &pid, &port), 0);
    char other[64];
    snprintf(other, sizeof other, "http://127.0.0.1:%d", port);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(edge_status(at(stack.base_url, "/auth/login"), "127.0.0.7", "POST",
                                 edge_json_ct, bad_login),
                     401, "hit %d", i + 1);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(edge_status(at(other, "/auth/login"), "127.0.0.7", "POST", edge_json_ct,
                                 bad_login),
                     401);
    cr_assert_eq(edge_status(at(other, "/auth/login"), "127.0.0.7", "POST", edge_json_ct,
                             bad_login),
                 429, "the second gateway sees the first one's hits: shared again");
    cr_assert_eq(th_metric(stack.base_url, "td_ratelimit_redis_up"), 1);
    cr_assert_eq(th_wait_log_count(&stack, "td-gateway.log", "ratelimit_redis_up", 1, TH_WAIT_MS),
                 1);
    stop_extra(pid);
}

Test(edge_redis, an_emptied_script_cache_is_reloaded)
{
    cr_assert_eq(edge_status(at(stack.base_url, "/auth/login"), "127.0.0.8", "POST", edge_json_ct,
                             bad_login),
                 401);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "redis-cli -p %d SCRIPT FLUSH >/dev/null", redis_port);
    cr_assert_eq(system(cmd), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(edge_status(at(stack.base_url, "/auth/login"), "127.0.0.8", "POST",
                                 edge_json_ct, bad_login),
                     401);
    cr_assert_eq(edge_status(at(stack.base_url, "/auth/login"), "127.0.0.8", "POST", edge_json_ct,
                             bad_login),
                 429);
    cr_assert_eq(th_metric(stack.base_url, "td_redis_errors_total"), 0, "NOSCRIPT is no error");
    cr_assert_eq(th_metric(stack.base_url, "td_ratelimit_fallback_total"), 0);
}
