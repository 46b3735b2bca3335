/*
 * test_bulkhead.c — one stopped daemon must not take the gateway with it
 * (issue 13). td-diary is stopped with SIGSTOP (its socket stays open, so
 * calls wait for their RPC timeout rather than fail at once) and forty
 * clients ask for their diaries: at most GATEWAY_UPSTREAM_MAX_INFLIGHT (12
 * under APP_ENV=testing) calls wait on it, every other one is answered 503
 * with Retry-After at once, and meanwhile /health, td-auth's routes and
 * /ready answer quickly. Before the bulkheads every worker waited out the
 * 5 s timeout and /health took 4.5 s.
 */
#include "edge_raw.h"
#include "tokens.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>

static struct th_stack stack;

#define CAP 12
#define CLIENTS 40

static void setup(void)
{
    cr_assert_eq(th_stack_start(&stack, NULL), 0, "stack did not start");
}

static void teardown(void)
{
    /* A stopped daemon cannot stop: wake it first, whatever the test did. */
    if (stack.procs[TH_DIARY].pid > 0)
        kill(stack.procs[TH_DIARY].pid, SIGCONT);
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
}

TestSuite(bulkhead, .init = setup, .fini = teardown, .timeout = 120);

struct caller {
    const char *request;
    pthread_barrier_t *start;
    int status;
    double ms;
    bool retry_after;
};

static void *call_main(void *arg)
{
    struct caller *c = arg;
    pthread_barrier_wait(c->start);
    double t0 = raw_now_ms();
    int fd = raw_connect(stack.http_port, "127.0.0.2");
    c->status = -1;
    if (fd >= 0) {
        char out[8192];
        if (raw_send_str(fd, c->request))
            c->status = raw_read_response(fd, out, sizeof out, 15000);
        char v[32];
        c->retry_after = raw_header(out, "Retry-After", v, sizeof v) && atoi(v) >= 1;
        close(fd);
    }
    c->ms = raw_now_ms() - t0;
    return NULL;
}

Test(bulkhead, a_stopped_daemon_holds_its_cap_of_workers_and_nothing_else)
{
    char *token = th_token_access(7, 600);
    cr_assert_not_null(token);
    char diaries[2400], me[2400];
    snprintf(diaries, sizeof diaries,
             "GET /diaries HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Connection: close\r\n\r\n",
             token);
    snprintf(me, sizeof me,
             "GET /auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Connection: close\r\n\r\n",
             token);
    free(token);

    cr_assert_eq(kill(stack.procs[TH_DIARY].pid, SIGSTOP), 0);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, CLIENTS + 1);
    pthread_t t[CLIENTS];
    struct caller callers[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        callers[i] = (struct caller){.request = diaries, .start = &start};
        cr_assert_eq(pthread_create(&t[i], NULL, call_main, &callers[i]), 0);
    }
    pthread_barrier_wait(&start);
    raw_sleep_ms(500); /* the flood is in: CAP calls wait on td-diary */

    /* /health, a td-auth route and /ready answer at once. */
    double ms[10];
    for (int i = 0; i < 10; i++) {
        int st = raw_probe(stack.http_port, "127.0.0.1", "/health", 2000, &ms[i]);
        cr_assert_eq(st, 200, "/health probe %d: %d after %.0f ms", i, st, ms[i]);
        raw_sleep_ms(50);
    }
    double median = raw_median(ms, 10);
    fprintf(stderr, "bulkhead: /health median %.1f ms, max %.1f ms with td-diary stopped\n",
            median, ms[9]);
    cr_assert_lt(median, 100.0);
    cr_assert_lt(ms[9], 1000.0);

    double t0 = raw_now_ms();
    int fd = raw_connect(stack.http_port, "127.0.0.1");
    cr_assert_geq(fd, 0);
    char out[8192];
    cr_assert(raw_send_str(fd, me));
    int st = raw_read_response(fd, out, sizeof out, 3000);
    close(fd);
    double me_ms = raw_now_ms() - t0;
    /* td-auth answers (the token's user does not exist: 404 from td-auth). */
    cr_assert_eq(st, 404, "/auth/me with td-diary stopped: %.300s", out);
    cr_assert_lt(me_ms, 1000.0, "/auth/me took %.0f ms", me_ms);

    double ready_ms;
    st = raw_probe(stack.http_port, "127.0.0.1", "/ready", 3000, &ready_ms);
    fprintf(stderr, "bulkhead: /ready %d in %.1f ms, /auth/me %.1f ms\n", st, ready_ms, me_ms);
    cr_assert_eq(st, 503, "/ready with td-diary stopped");
    cr_assert_lt(ready_ms, 500.0, "/ready took %.0f ms", ready_ms);
    struct th_response r;
    cr_assert_eq(th_http(&stack, "GET", "/ready", NULL, NULL, &r), 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "services"),
                                                       "diary")),
                     "down");
    th_response_free(&r);

    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    int shed = 0, waited = 0;
    for (int i = 0; i < CLIENTS; i++) {
        if (callers[i].status == 503 && callers[i].ms < 1000.0) {
            cr_assert(callers[i].retry_after, "a shed call without Retry-After");
            shed++;
        } else {
            cr_assert(callers[i].status == 504 || callers[i].status == 503,
                      "call %d: %d after %.0f ms", i, callers[i].status, callers[i].ms);
            waited++;
        }
    }
    fprintf(stderr, "bulkhead: %d calls shed at once, %d waited for td-diary\n", shed, waited);
    cr_assert_leq(waited, CAP, "%d calls waited on the stopped daemon (cap %d)", waited, CAP);
    cr_assert_geq(th_wait_metric(stack.base_url, "td_upstream_shed_total{service=\"diary\"}",
                                 CLIENTS - CAP, TH_WAIT_MS),
                  CLIENTS - CAP);

    /* Woken, td-diary is used again at once. */
    cr_assert_eq(kill(stack.procs[TH_DIARY].pid, SIGCONT), 0);
    cr_assert_eq(th_wait_ready(&stack, 200, TH_WAIT_MS), 0);
}
