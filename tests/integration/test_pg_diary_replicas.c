/*
 * test_pg_diary_replicas.c — two td-diary replicas on one PostgreSQL
 * (issue 12; services/diary/store_pg.c): a create retried on the other
 * replica with the same call id makes one entry; entries saved unanalysed
 * while td-sentiment was down are analysed exactly once although both
 * replicas' pending passes run (their work is leased); an account deleted
 * through one replica gets no entry through the other.
 *
 * Replica a is the stack's own td-diary; b is an extra process
 * (<dir>/td-diary-b.log). The gateway and td-auth list both addresses.
 */
#include "auth_helpers.h"
#include "td_mp.h"
#include "td_rpc.h"

#include <signal.h>
#include <sys/wait.h>

#define RPC_A "ipc://{dir}/diary.sock"
#define RPC_B "ipc://{dir}/diary-b.sock"
#define BOTH RPC_A "," RPC_B

static struct th_stack stack;
static pid_t replica_b;

static void setup(void)
{
    struct th_options opts = {
        .postgres = true,
        .peers_die = true, /* td-sentiment is killed under both replicas */
        .daemon_env[TH_GATEWAY] = {"DIARY_RPC_URL=" BOTH},
        .daemon_env[TH_AUTH] = {"DIARY_RPC_URL=" BOTH},
    };
    cr_assert_eq(th_stack_start(&stack, &opts), 0, "stack did not start");
    const char *b[] = {"DIARY_RPC_URL=" RPC_B, "DIARY_RPC_OPERATOR_URL=ipc://{dir}/diary-b-op.sock",
                       NULL};
    cr_assert_eq(th_daemon_start_extra(&stack, TH_DIARY, "b", b, &replica_b), 0);
    cr_assert(th_wait_log(&stack, "td-diary-b.log", "ready", TH_WAIT_MS), "replica b did not start");
}

static void teardown(void)
{
    if (replica_b > 0) {
        kill(replica_b, SIGTERM);
        int status = 0;
        cr_expect_eq(waitpid(replica_b, &status, 0), replica_b);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "replica b exit status 0x%x",
                  status);
        replica_b = 0;
    }
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
}

TestSuite(diary_replicas, .init = setup, .fini = teardown, .timeout = 180);

/* The RPC address of replica a or b in this stack. */
static void replica_url(char which, char *out, size_t len)
{
    snprintf(out, len, "ipc://%s/diary%s.sock", stack.dir, which == 'b' ? "-b" : "");
}

/* One call to one replica, as a gateway makes it; *id gets the entry's id
 * when the reply has one. Returns the reply's status. */
static int call_replica(char which, enum td_op op, int64_t uid, const char *call_id,
                        const char *content, int64_t *id)
{
    char url[300];
    replica_url(which, url, sizeof url);
    struct td_rpc_client *c = NULL;
    struct td_rpc_client_opts o = {.service = "diary", .urls = url, .timeout_ms = 5000,
                                   .connect_grace_ms = 5000, .connections = 1};
    cr_assert_eq(td_rpc_client_open(&o, &c), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (op == TD_OP_DIARY_CREATE) {
        cr_assert_eq(msgpack_pack_map(&pk, 1), 0);
        cr_assert_eq(td_mp_pack_kv_str(&pk, "content", content), 0);
    } else {
        cr_assert_eq(msgpack_pack_map(&pk, 1), 0);
        cr_assert_eq(td_mp_pack_kv_int(&pk, "user_id", uid), 0);
    }
    struct td_rpc_call call = {.op = op, .request_id = "replicas-test", .call_id = call_id,
                               .user_id = op == TD_OP_DIARY_CREATE ? uid : 0,
                               .args = sb.data, .args_len = sb.size};
    struct td_rpc_result res;
    cr_assert_eq(td_rpc_call(c, &call, &res), 0);
    int status = res.status;
    if (id != NULL && status < 300)
        cr_assert_eq(td_mp_as_int64(td_mp_map_get(res.result, "id"), id), 0);
    td_rpc_result_free(&res);
    msgpack_sbuffer_destroy(&sb);
    td_rpc_client_free(&c);
    return status;
}

Test(diary_replicas, a_create_retried_on_the_other_replica_makes_one_entry)
{
    int64_t first = 0, again = 0;
    cr_assert_eq(call_replica('a', TD_OP_DIARY_CREATE, 42, "retried-call-1", "first try", &first),
                 201);
    /* The same call (same id) sent again, to replica b: the entry of the
     * first attempt comes back and nothing new is written. */
    call_replica('b', TD_OP_DIARY_CREATE, 42, "retried-call-1", "first try", &again);
    cr_assert_eq(again, first, "the retry made entry %lld besides %lld", (long long)again,
                 (long long)first);
    cr_assert_eq(th_diary_total_entries(&stack, 42), 1);
    cr_assert_eq(th_log_count(&stack, "td-diary-b.log", "diary_create_deduped"), 1);
    /* Another call id is another entry. */
    int64_t other = 0;
    cr_assert_eq(call_replica('b', TD_OP_DIARY_CREATE, 42, "retried-call-2", "first try", &other),
                 201);
    cr_assert_neq(other, first);
    cr_assert_eq(th_diary_total_entries(&stack, 42), 2);
}

Test(diary_replicas, an_account_deleted_on_one_replica_gets_no_entry_on_the_other)
{
    int64_t id = 0;
    cr_assert_eq(call_replica('b', TD_OP_DIARY_CREATE, 77, NULL, "before", &id), 201);
    cr_assert_eq(call_replica('a', TD_OP_DIARY_DELETE_USER, 77, NULL, NULL, NULL), 200);
    /* A token issued before the deletion may still reach replica b. */
    cr_assert_eq(call_replica('b', TD_OP_DIARY_CREATE, 77, NULL, "after", NULL), 404);
    cr_assert_eq(th_diary_total_entries(&stack, 77), 0);
}

/* Every entry of the page analysed: each says "happy", so its analysis
 * has a positive span, and an entry saved unanalysed has none. */
static bool all_analysed(void *arg)
{
    const char *token = arg;
    struct th_response r;
    req(&stack, "GET", "/diaries?per_page=100", token, NULL, &r);
    bool done = r.status == 200;
    json_t *items = json_object_get(r.json, "items");
    for (size_t i = 0; done && i < json_array_size(items); i++)
        done = json_integer_value(json_object_get(json_array_get(items, i), "positive_count")) > 0;
    th_response_free(&r);
    return done;
}

Test(diary_replicas, entries_left_unanalysed_are_analysed_exactly_once_by_the_two_replicas)
{
    enum { N = 40 };
    register_user(&stack, "replicas@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&stack, "replicas@example.com", GOOD_PASSWORD, &t);
    const char *token = t.access;
    /* td-sentiment down: every create is saved unanalysed, on either
     * replica (the gateway spreads them). */
    cr_assert_geq(th_daemon_signal(&stack, TH_SENTIMENT, SIGKILL), 0);
    for (int i = 0; i < N; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"content\":\"a happy and calm day number %d\"}", i);
        struct th_response r;
        req(&stack, "POST", "/diaries", token, body, &r);
        cr_assert_eq(r.status, 201, "%s", r.body);
        cr_assert_eq(json_integer_value(json_object_get(r.json, "positive_count")), 0,
                     "saved unanalysed: %s", r.body);
        th_response_free(&r);
    }
    /* Back: both replicas' passes take pending entries at once. */
    cr_assert_eq(th_daemon_start(&stack, TH_SENTIMENT), 0);
    cr_assert(th_wait_until(all_analysed, (void *)token, 30000), "entries left unanalysed");
    int a = th_log_count(&stack, "td-diary.log", "analysis_applied");
    int b = th_log_count(&stack, "td-diary-b.log", "analysis_applied");
    int stale = th_log_count(&stack, "td-diary.log", "analysis_stale") +
                th_log_count(&stack, "td-diary-b.log", "analysis_stale");
    fprintf(stderr, "replicas: analysed by a %d, by b %d, stale %d\n", a, b, stale);
    cr_assert_eq(a + b, N, "every entry analysed once: a %d + b %d", a, b);
    cr_assert_eq(stale, 0, "no entry analysed twice (a second analysis finds it done)");
}
