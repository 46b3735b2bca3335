/*
 * test_auth_cluster.c — revocation across gateways and restarts: two
 * gateways against one td-auth; td-auth restarted under a
 * running gateway; a gateway started after the revocation. (One suite per
 * file: Criterion 2.4's runner leaks a little with two suites under --jobs.)
 */
#include "auth_helpers.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static struct th_stack stack;

static void setup(void)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    /* Tests here kill or stop a daemon while others still send to it. */
    struct th_options opts = {.peers_die = true};
    cr_assert_eq(th_stack_start(&stack, &opts), 0, "stack did not start");
}

static void teardown(void)
{
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
}

static void stop_extra(pid_t pid)
{
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "extra gateway exit status %d",
              status);
}

TestSuite(cluster, .init = setup, .fini = teardown, .timeout = 120);

Test(cluster, logout_through_one_gateway_is_refused_at_another_within_a_second)
{
    pid_t pid;
    int port;
    cr_assert_eq(th_gateway_start_extra(&stack, NULL, &pid, &port), 0);
    char base2[64];
    snprintf(base2, sizeof base2, "http://127.0.0.1:%d", port);

    register_user(&stack, "two@example.com", GOOD_PASSWORD);
    struct tokens t, u;
    login(&stack, "two@example.com", GOOD_PASSWORD, &t);
    login(&stack, "two@example.com", GOOD_PASSWORD, &u);
    cr_assert_geq(wait_me_status(base2, t.access, 200, TH_WAIT_MS), 0,
                  "gateway 2 refuses a good token");

    struct th_response r;
    req(&stack, "POST", "/auth/logout", t.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    cr_expect_geq(wait_me_status(base2, t.access, 401, TH_WAIT_MS), 0,
                  "gateway 2 still accepts a revoked token after %d ms", TH_WAIT_MS);

    /* A password change through gateway 2 reaches gateway 1 too. */
    req_url(base2, "PUT", "/auth/password", u.access,
            "{\"current_password\":\"" GOOD_PASSWORD "\",\"new_password\":\"New1!password\"}", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    cr_expect_geq(wait_me_status(stack.base_url, u.access, 401, TH_WAIT_MS), 0,
                  "gateway 1 still accepts a cut-off token after %d ms", TH_WAIT_MS);
    stop_extra(pid);
}

Test(cluster, revocations_survive_a_td_auth_restart)
{
    register_user(&stack, "restart@example.com", GOOD_PASSWORD);
    struct tokens gone, kept;
    login(&stack, "restart@example.com", GOOD_PASSWORD, &gone);
    login(&stack, "restart@example.com", GOOD_PASSWORD, &kept);
    struct th_response r;
    req(&stack, "POST", "/auth/logout", gone.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);

    int status = th_daemon_signal(&stack, TH_AUTH, SIGTERM);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "td-auth exit status %d", status);
    cr_assert_eq(th_daemon_start(&stack, TH_AUTH), 0);
    cr_assert_eq(th_wait_ready(&stack, 200, 10000), 0);

    /* The running gateway still refuses it, and so does a gateway started
     * now, which only knows what td-auth kept in its database. */
    req(&stack, "GET", "/auth/me", gone.access, NULL, &r);
    expect_error(&r, 401, "token_revoked", "running gateway after td-auth restart");
    pid_t pid;
    int port;
    cr_assert_eq(th_gateway_start_extra(&stack, NULL, &pid, &port), 0);
    char base2[64];
    snprintf(base2, sizeof base2, "http://127.0.0.1:%d", port);
    /* Its first revocation sync runs beside start-up (a request arriving
     * before it waits 2 s, then gets 503): wait for its line, one per gateway
     * process in the shared td-gateway.log. */
    cr_assert_geq(th_wait_log_count(&stack, "td-gateway.log", "revocations_synced", 2, TH_WAIT_MS),
                  2, "the new gateway never loaded the revocation set");
    req_url(base2, "GET", "/auth/me", gone.access, NULL, &r);
    expect_error(&r, 401, "token_revoked", "new gateway after td-auth restart");
    req_url(base2, "GET", "/auth/me", kept.access, NULL, &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(json_string_value(json_object_get(r.json, "email")), "restart@example.com");
    th_response_free(&r);

    /* Users and hashes are intact: the same password still logs in, and the
     * refresh family of the kept login still rotates. */
    struct tokens again;
    login(&stack, "restart@example.com", GOOD_PASSWORD, &again);
    req(&stack, "POST", "/auth/refresh", kept.refresh, NULL, &r);
    cr_expect_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    stop_extra(pid);
}

Test(cluster, revocation_made_while_a_gateway_was_cut_off_reaches_it)
{
    /* Gateway 2 loses td-auth's feed (td-auth killed); a revocation made
     * after td-auth returns must reach gateway 2 through the re-sync or the
     * feed, whichever comes first. */
    pid_t pid;
    int port;
    cr_assert_eq(th_gateway_start_extra(&stack, NULL, &pid, &port), 0);
    char base2[64];
    snprintf(base2, sizeof base2, "http://127.0.0.1:%d", port);
    register_user(&stack, "cut@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&stack, "cut@example.com", GOOD_PASSWORD, &t);

    int status = th_daemon_signal(&stack, TH_AUTH, SIGKILL);
    cr_assert(WIFSIGNALED(status));
    cr_assert_eq(th_daemon_start(&stack, TH_AUTH), 0);
    cr_assert_eq(th_wait_ready(&stack, 200, 10000), 0);
    struct th_response r;
    req(&stack, "POST", "/auth/logout", t.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    cr_expect_geq(wait_me_status(base2, t.access, 401, TH_WAIT_MS), 0,
                  "gateway 2 still accepts a revoked token after %d ms", TH_WAIT_MS);
    stop_extra(pid);
}
