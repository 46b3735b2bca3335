/*
 * test_pg_auth_replicas.c — three td-auth replicas on one PostgreSQL behind
 * the gateway (issue 12): calls spread over all three; a logout or password
 * change made on any replica is refused at every gateway within a second
 * (each gateway subscribes to every replica's revocation feed); one replica
 * killed, the others keep answering; an account deletion reaches td-diary
 * once however many replicas run the outbox, and a job leased by a replica
 * that died is delivered by another when the lease ends.
 *
 * Replica a is the stack's own td-auth; b and c are extra processes
 * (<dir>/td-auth-b.log, -c.log). The stack's gateway lists all three RPC
 * addresses and all three feeds. Extra gateways pinned to one replica's RPC
 * address (feeds: all three) make a revocation happen on a known replica.
 */
#include "auth_helpers.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* Issue 12: a revocation is enforced by every gateway within this. */
#define REVOKE_DEADLINE_MS 1000

#define RPC(tag) "ipc://{dir}/auth" tag ".sock"
#define FEED(tag) "ipc://{dir}/events" tag ".sock"
#define ALL_RPC RPC("") "," RPC("-b") "," RPC("-c")
#define ALL_FEEDS FEED("") "," FEED("-b") "," FEED("-c")

static const char *const replica_logs[] = {"td-auth.log", "td-auth-b.log", "td-auth-c.log"};

static struct th_stack stack;
static pid_t replica[2]; /* b, c; 0 once stopped */

static void start_replica(int i)
{
    const char *b[] = {"AUTH_RPC_URL=" RPC("-b"), "AUTH_RPC_OPERATOR_URL=" RPC("-b-operator"),
                       "AUTH_EVENTS_URL=" FEED("-b"), NULL};
    const char *c[] = {"AUTH_RPC_URL=" RPC("-c"), "AUTH_RPC_OPERATOR_URL=" RPC("-c-operator"),
                       "AUTH_EVENTS_URL=" FEED("-c"), NULL};
    cr_assert_eq(th_daemon_start_extra(&stack, TH_AUTH, i == 0 ? "b" : "c", i == 0 ? b : c,
                                       &replica[i]),
                 0);
    cr_assert(th_wait_log(&stack, replica_logs[i + 1], "ready", TH_WAIT_MS),
              "replica %s did not start", i == 0 ? "b" : "c");
}

static void setup(void)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    struct th_options opts = {
        .postgres = true,
        .peers_die = true, /* a replica is killed under the gateway */
        .daemon_env[TH_GATEWAY] = {"AUTH_RPC_URL=" ALL_RPC, "AUTH_EVENTS_URL=" ALL_FEEDS},
    };
    cr_assert_eq(th_stack_start(&stack, &opts), 0, "stack did not start");
    start_replica(0);
    start_replica(1);
    /* The gateway's feed is connected to all three replicas. */
    cr_assert_geq(th_wait_log_count(&stack, "td-gateway.log", "revocations_feed_up", 3,
                                    TH_WAIT_MS),
                  3, "the gateway did not subscribe to every replica");
}

static void stop_pid(pid_t pid, const char *what)
{
    kill(pid, SIGTERM);
    int status = 0;
    cr_expect_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s exit status 0x%x", what,
              status);
}

static void teardown(void)
{
    for (int i = 0; i < 2; i++) {
        if (replica[i] > 0)
            stop_pid(replica[i], i == 0 ? "replica b" : "replica c");
        replica[i] = 0;
    }
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
}

TestSuite(replicas, .init = setup, .fini = teardown, .timeout = 180);

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts a gateway whose calls to td-auth go to `rpc_url` (one replica, or
 * all); it subscribes to every feed (the stack's gateway env). */
static void pinned_gateway(const char *rpc_url, pid_t *pid, char base[64])
{
    char env[128];
    snprintf(env, sizeof env, "AUTH_RPC_URL=%s", rpc_url);
    const char *e[] = {env, NULL};
    int port;
    cr_assert_eq(th_gateway_start_extra(&stack, e, pid, &port), 0);
    snprintf(base, 64, "http://127.0.0.1:%d", port);
}

static int64_t user_id(const char *base, const char *token)
{
    struct th_response r;
    req_url(base, "GET", "/auth/me", token, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *id = json_object_get(r.json, "id");
    cr_assert(json_is_integer(id), "%s", r.body);
    int64_t uid = (int64_t)json_integer_value(id);
    th_response_free(&r);
    return uid;
}

static void write_entry(const char *token)
{
    struct th_response r;
    req(&stack, "POST", "/diaries", token, "{\"content\":\"a quiet day\"}", &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    th_response_free(&r);
}

Test(replicas, a_revocation_on_any_replica_is_refused_at_every_gateway_within_a_second)
{
    char base_b[64], base_c[64];
    pid_t gw_b, gw_c;
    pinned_gateway(RPC("-b"), &gw_b, base_b);
    pinned_gateway(RPC("-c"), &gw_c, base_c);
    /* Three gateways, three feeds each. */
    cr_assert_geq(th_wait_log_count(&stack, "td-gateway.log", "revocations_feed_up", 9,
                                    TH_WAIT_MS),
                  9, "the pinned gateways did not subscribe to every replica");
    register_user(&stack, "rev@example.com", GOOD_PASSWORD);

    /* Logout through replica b: the other gateways hear it from b's feed. */
    struct tokens t;
    login_url(base_b, "rev@example.com", GOOD_PASSWORD, &t);
    cr_assert_geq(wait_me_status(stack.base_url, t.access, 200, TH_WAIT_MS), 0);
    cr_assert_geq(wait_me_status(base_c, t.access, 200, TH_WAIT_MS), 0);
    int before_b = th_log_count(&stack, "td-auth-b.log", "logged out");
    struct th_response r;
    req_url(base_b, "POST", "/auth/logout", t.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    cr_expect_gt(th_log_count(&stack, "td-auth-b.log", "logout"), before_b,
                 "replica b did not handle the logout");
    cr_expect_geq(wait_me_status(stack.base_url, t.access, 401, REVOKE_DEADLINE_MS), 0,
                  "the stack's gateway accepts a token replica b revoked");
    cr_expect_geq(wait_me_status(base_c, t.access, 401, REVOKE_DEADLINE_MS), 0,
                  "gateway c accepts a token replica b revoked");

    /* Password change through replica c: every earlier token is cut off at
     * the gateways that did not carry the change. */
    struct tokens u;
    login(&stack, "rev@example.com", GOOD_PASSWORD, &u);
    cr_assert_geq(wait_me_status(base_b, u.access, 200, TH_WAIT_MS), 0);
    req_url(base_c, "PUT", "/auth/password", u.access,
            "{\"current_password\":\"" GOOD_PASSWORD "\",\"new_password\":\"New1!password\"}", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    cr_expect_geq(wait_me_status(stack.base_url, u.access, 401, REVOKE_DEADLINE_MS), 0,
                  "the stack's gateway accepts a token cut off on replica c");
    cr_expect_geq(wait_me_status(base_b, u.access, 401, REVOKE_DEADLINE_MS), 0,
                  "gateway b accepts a token cut off on replica c");

    /* A gateway started now catches up from the shared database before it
     * trusts a token: both revocations are refused at once. */
    char base_n[64];
    pid_t gw_n;
    pinned_gateway(ALL_RPC, &gw_n, base_n);
    req_url(base_n, "GET", "/auth/me", t.access, NULL, &r);
    expect_error(&r, 401, "token_revoked", "new gateway, logout on b");
    req_url(base_n, "GET", "/auth/me", u.access, NULL, &r);
    expect_error(&r, 401, "token_revoked", "new gateway, password change on c");
    stop_pid(gw_n, "gateway n");
    stop_pid(gw_b, "gateway b");
    stop_pid(gw_c, "gateway c");
}

struct spread_probe {
    int n;
};

static bool every_replica_logged_in(void *arg)
{
    struct spread_probe *p = arg;
    struct tokens t;
    login(&stack, "spread@example.com", GOOD_PASSWORD, &t);
    p->n++;
    for (int i = 0; i < 3; i++) {
        if (th_log_count(&stack, replica_logs[i], "logged in") <= 0)
            return false;
    }
    return true;
}

Test(replicas, calls_spread_over_the_replicas_and_survive_one_killed)
{
    register_user(&stack, "spread@example.com", GOOD_PASSWORD);
    struct spread_probe p = {0};
    cr_assert(th_wait_until(every_replica_logged_in, &p, TH_WAIT_MS * 3),
              "not every replica served a login (%d logins)", p.n);
    fprintf(stderr, "replicas: %d logins until each replica served one\n", p.n);

    /* Refresh and logout, each wherever the gateway sends it. */
    struct tokens t;
    login(&stack, "spread@example.com", GOOD_PASSWORD, &t);
    for (int i = 0; i < 6; i++) {
        struct th_response r;
        req(&stack, "POST", "/auth/refresh", t.refresh, NULL, &r);
        tokens_from(&r, &t, "refresh");
    }
    struct th_response r;
    req(&stack, "POST", "/auth/logout", t.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    req(&stack, "GET", "/auth/me", t.access, NULL, &r);
    expect_error(&r, 401, "token_revoked", "after logout");

    /* Replica c dies without a word. */
    kill(replica[1], SIGKILL);
    int status = 0;
    cr_assert_eq(waitpid(replica[1], &status, 0), replica[1]);
    replica[1] = 0;
    /* Every later call is answered by a and b. */
    login(&stack, "spread@example.com", GOOD_PASSWORD, &t);
    for (int i = 0; i < 10; i++) {
        req(&stack, "POST", "/auth/refresh", t.refresh, NULL, &r);
        tokens_from(&r, &t, "refresh after replica c died");
        req(&stack, "GET", "/auth/me", t.access, NULL, &r);
        cr_expect_eq(r.status, 200, "%s", r.body);
        th_response_free(&r);
    }
    register_user(&stack, "after@example.com", GOOD_PASSWORD);
    login(&stack, "after@example.com", GOOD_PASSWORD, &t);
    req(&stack, "POST", "/auth/logout", t.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
}

/* Lines "diary.delete_user for user UID done" over the three replicas. */
static int delivered(int64_t uid)
{
    char needle[96];
    snprintf(needle, sizeof needle, "diary.delete_user for user %lld done", (long long)uid);
    int n = 0;
    for (int i = 0; i < 3; i++) {
        int c = th_log_count(&stack, replica_logs[i], needle);
        n += c > 0 ? c : 0;
    }
    return n;
}

enum { DELETERS = 6 };

struct deleter {
    char token[2048];
    int64_t uid;
    pthread_barrier_t *go;
    long status;
};

static void *delete_account(void *arg)
{
    struct deleter *d = arg;
    char auth[2200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", d->token);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    pthread_barrier_wait(d->go);
    struct th_response r;
    if (th_http(&stack, "DELETE", "/auth/me", headers, "{\"password\":\"" GOOD_PASSWORD "\"}",
                &r) == 0) {
        d->status = r.status;
        th_response_free(&r);
    }
    return NULL;
}

struct outbox_probe {
    struct deleter *d;
};

static bool outbox_empty(void *arg)
{
    (void)arg;
    char out[256];
    return th_pg_query(stack.pg.auth_url, "SELECT count(*) FROM outbox", out, sizeof out) == 0 &&
           strcmp(out, "0") == 0;
}

static bool all_delivered_and_outbox_empty(void *arg)
{
    struct outbox_probe *p = arg;
    for (int i = 0; i < DELETERS; i++) {
        if (th_diary_total_entries(&stack, p->d[i].uid) != 0 || delivered(p->d[i].uid) < 1)
            return false;
    }
    return outbox_empty(NULL);
}

Test(replicas, account_deletions_reach_td_diary_once_whichever_replicas_run_the_outbox)
{
    struct deleter d[DELETERS];
    pthread_barrier_t go;
    cr_assert_eq(pthread_barrier_init(&go, NULL, DELETERS), 0);
    for (int i = 0; i < DELETERS; i++) {
        char email[64];
        snprintf(email, sizeof email, "gone%d@example.com", i);
        register_user(&stack, email, GOOD_PASSWORD);
        struct tokens t;
        login(&stack, email, GOOD_PASSWORD, &t);
        d[i] = (struct deleter){.uid = user_id(stack.base_url, t.access), .go = &go};
        snprintf(d[i].token, sizeof d[i].token, "%s", t.access);
        write_entry(t.access);
        cr_assert_eq(th_diary_total_entries(&stack, d[i].uid), 1);
    }
    /* All at once: the replicas handling them wake their outboxes together
     * and each takes whatever is due, so they contend for the same jobs. */
    pthread_t th[DELETERS];
    for (int i = 0; i < DELETERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, delete_account, &d[i]), 0);
    for (int i = 0; i < DELETERS; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(d[i].status, 200, "deletion %d: %ld", i, d[i].status);
    }
    pthread_barrier_destroy(&go);

    /* Once the outbox is empty no replica holds a job any more: the counts
     * read then are final. */
    struct outbox_probe p = {d};
    cr_assert(th_wait_until(all_delivered_and_outbox_empty, &p, TH_WAIT_MS * 2),
              "the deletions did not all reach td-diary");
    int replicas_used = 0;
    for (int i = 0; i < 3; i++)
        replicas_used += th_log_count(&stack, replica_logs[i], "outbox_delivered") > 0;
    for (int i = 0; i < DELETERS; i++)
        cr_expect_eq(delivered(d[i].uid), 1, "user %lld: diary.delete_user delivered %d times",
                     (long long)d[i].uid, delivered(d[i].uid));
    fprintf(stderr, "replicas: %d deletions delivered by %d replica(s)\n", DELETERS,
            replicas_used);
}

struct uid_probe {
    int64_t uid;
};

static bool entries_gone(void *arg)
{
    const struct uid_probe *p = arg;
    return th_diary_total_entries(&stack, p->uid) == 0;
}

static bool delivered_once(void *arg)
{
    const struct uid_probe *p = arg;
    return delivered(p->uid) > 0;
}

Test(replicas, a_job_leased_by_a_dead_replica_is_delivered_by_another_when_the_lease_ends)
{
    /* The job of a replica that died mid-delivery: leased, due, untouched. */
    register_user(&stack, "orphan@example.com", GOOD_PASSWORD);
    struct tokens o;
    login(&stack, "orphan@example.com", GOOD_PASSWORD, &o);
    int64_t orphan = user_id(stack.base_url, o.access);
    write_entry(o.access);
    enum { LEASE_LEFT_S = 4 };
    long long inserted = now_ms();
    char sql[512], out[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO outbox(op, user_id, created_at, next_at, lease_owner, lease_until)"
             " VALUES ('diary.delete_user', %lld, extract(epoch from now())::bigint,"
             " extract(epoch from now())::bigint, 'dead-replica',"
             " extract(epoch from now())::bigint + %d)",
             (long long)orphan, LEASE_LEFT_S);
    cr_assert_eq(th_pg_query(stack.pg.auth_url, sql, out, sizeof out), 0, "%s", out);

    /* Another deletion wakes some replica's outbox: it delivers that one,
     * leaves the leased job alone, and comes back for it when the lease
     * ends. */
    register_user(&stack, "waker@example.com", GOOD_PASSWORD);
    struct tokens w;
    login(&stack, "waker@example.com", GOOD_PASSWORD, &w);
    int64_t waker = user_id(stack.base_url, w.access);
    struct th_response r;
    req(&stack, "DELETE", "/auth/me", w.access, "{\"password\":\"" GOOD_PASSWORD "\"}", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    struct uid_probe wp = {waker};
    cr_assert(th_wait_until(delivered_once, &wp, TH_WAIT_MS),
              "the waking deletion was not delivered");
    if (now_ms() - inserted < (LEASE_LEFT_S - 1) * 1000LL)
        cr_expect_eq(th_diary_total_entries(&stack, orphan), 1,
                     "the leased job was delivered before its lease ended");
    else
        fprintf(stderr, "replicas: machine too slow to check the lease was respected\n");

    struct uid_probe ep = {orphan};
    cr_assert(th_wait_until(entries_gone, &ep, LEASE_LEFT_S * 1000 + TH_WAIT_MS),
              "the orphaned job was never delivered");
    long long took = now_ms() - inserted;
    cr_expect_geq(took, (LEASE_LEFT_S - 1) * 1000LL, "delivered %lld ms after the lease began",
                  took);
    fprintf(stderr, "replicas: orphaned job delivered %lld ms after its lease was taken\n",
            took);
    cr_assert(th_wait_until(outbox_empty, NULL, TH_WAIT_MS), "the orphaned job stayed");
    cr_expect_eq(delivered(orphan), 1);
}
