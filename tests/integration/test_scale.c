/*
 * test_scale.c — td-sentiment scaled out with no per-replica configuration:
 * td-diary listens for analysers ("listen+ipc://…") and three td-sentiment
 * processes with identical settings dial in to it. Analysis spreads over the
 * three; one is killed with SIGKILL in the middle of a run of creates; every
 * create still answers 201 and every entry ends up analysed.
 */
#include "harness.h"
#include "tokens.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIAL_IN "SENTIMENT_DIAL_URLS=ipc://{dir}/sentiment-in.sock"

static struct th_stack stack;
static pid_t replicas[2];

static void setup(void)
{
    struct th_options opts = {
        .daemon_env = {
            [TH_DIARY] = {"SENTIMENT_RPC_URL=listen+ipc://{dir}/sentiment-in.sock"},
            /* debug: each analysis logs a line, counted per replica below */
            [TH_SENTIMENT] = {DIAL_IN, "LOG_LEVEL=debug"},
        },
    };
    cr_assert_eq(th_stack_start(&stack, &opts), 0, "stack did not start");
    const char *r2[] = {"SENTIMENT_RPC_URL=ipc://{dir}/sentiment-r2.sock", "LOG_LEVEL=debug", NULL};
    const char *r3[] = {"SENTIMENT_RPC_URL=ipc://{dir}/sentiment-r3.sock", "LOG_LEVEL=debug", NULL};
    cr_assert_eq(th_daemon_start_extra(&stack, TH_SENTIMENT, "r2", r2, &replicas[0]), 0);
    cr_assert_eq(th_daemon_start_extra(&stack, TH_SENTIMENT, "r3", r3, &replicas[1]), 0);
    /* Wait until every replica has dialled in to td-diary. */
    const char *logs[] = {"td-sentiment.log", "td-sentiment-r2.log", "td-sentiment-r3.log"};
    for (int i = 0; i < 3; i++)
        cr_assert(th_wait_log(&stack, logs[i], "rpc_dialled_in", TH_WAIT_MS),
                  "%s never dialled in to td-diary", logs[i]);
}

static void teardown(void)
{
    for (int i = 0; i < 2; i++) {
        if (replicas[i] <= 0)
            continue;
        kill(replicas[i], SIGTERM);
        int status = 0;
        waitpid(replicas[i], &status, 0);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "replica %d exited badly (0x%x)", i + 2, status);
    }
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
}

TestSuite(scale, .init = setup, .fini = teardown, .timeout = 120);

/* The analyses one replica made: its "analyzed" debug lines. */
static int analyses(const char *log)
{
    return th_log_count(&stack, log, "] analyzed: ");
}

static int64_t create(const char *auth, int i)
{
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    char body[128];
    snprintf(body, sizeof body, "{\"content\": \"Entry %d: I feel happy and grateful.\"}", i);
    struct th_response r;
    cr_assert_eq(th_http(&stack, "POST", "/diaries", headers, body, &r), 0);
    cr_assert_eq(r.status, 201, "create %d: %ld %s", i, r.status, r.body);
    int64_t id = json_integer_value(json_object_get(r.json, "id"));
    th_response_free(&r);
    return id;
}

static bool analysed(const char *auth, int64_t id)
{
    const char *headers[] = {auth, NULL};
    char path[64];
    snprintf(path, sizeof path, "/diaries/%lld", (long long)id);
    struct th_response r;
    if (th_http(&stack, "GET", path, headers, NULL, &r) != 0)
        return false;
    bool done = r.status == 200 && json_integer_value(json_object_get(r.json, "positive_count")) > 0;
    th_response_free(&r);
    return done;
}

struct entry_probe {
    const char *auth;
    int64_t id;
};

static bool entry_analysed(void *arg)
{
    const struct entry_probe *p = arg;
    return analysed(p->auth, p->id);
}

/* Waits until each of ids[0, n) carries its analysis: a create that timed
 * out on a busy replica is finished by td-diary's pending pass. */
static void wait_analysed(const char *auth, const int64_t *ids, int n)
{
    for (int i = 0; i < n; i++) {
        struct entry_probe p = {auth, ids[i]};
        cr_assert(th_wait_until(entry_analysed, &p, TH_WAIT_MS),
                  "entry %lld never got its analysis", (long long)ids[i]);
    }
}

struct burst {
    const char *auth;
    int from, count;
    int64_t *ids;
};

static void *burst_main(void *arg)
{
    struct burst *b = arg;
    for (int i = b->from; i < b->from + b->count; i++)
        b->ids[i] = create(b->auth, i);
    return NULL;
}

/* Creates [from, from + count) from six concurrent clients: nng hands a
 * request to whichever replica is ready, so concurrency is what spreads work. */
static void create_concurrently(const char *auth, int from, int count, int64_t *ids)
{
    enum { CLIENTS = 6 };
    pthread_t t[CLIENTS];
    struct burst b[CLIENTS];
    for (int c = 0; c < CLIENTS; c++) {
        b[c] = (struct burst){auth, from + c * (count / CLIENTS), count / CLIENTS, ids};
        cr_assert_eq(pthread_create(&t[c], NULL, burst_main, &b[c]), 0);
    }
    for (int c = 0; c < CLIENTS; c++)
        pthread_join(t[c], NULL);
}

Test(scale, three_replicas_share_analysis_and_survive_one_killed_mid_run)
{
    char *token = th_token_access(7, 600);
    char auth[2048];
    cr_assert_not_null(th_bearer_header(token, auth, sizeof auth));

    enum { FIRST = 30, SECOND = 30 };
    int64_t ids[FIRST + SECOND];
    create_concurrently(auth, 0, FIRST, ids);
    /* A replica logs an analysis before it replies, so once every entry
     * is analysed the logs hold all the work done so far. */
    wait_analysed(auth, ids, FIRST);
    int spread[3] = {analyses("td-sentiment.log"), analyses("td-sentiment-r2.log"),
                     analyses("td-sentiment-r3.log")};
    fprintf(stderr, "scale: analyses per replica before the kill: %d / %d / %d\n", spread[0],
            spread[1], spread[2]);
    cr_assert(spread[0] > 0 && spread[1] > 0 && spread[2] > 0,
              "analysis did not spread over the replicas: %d / %d / %d", spread[0], spread[1],
              spread[2]);

    /* One replica dies without warning; creates keep answering 201. */
    kill(replicas[0], SIGKILL);
    waitpid(replicas[0], NULL, 0);
    replicas[0] = 0;
    create_concurrently(auth, FIRST, SECOND, ids);

    /* Every entry ends up analysed, by the survivors or by td-diary's
     * pending pass for a call that was in flight at the kill. */
    wait_analysed(auth, ids, FIRST + SECOND);
    free(token);
}
