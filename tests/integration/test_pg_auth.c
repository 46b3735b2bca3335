/*
 * test_pg_auth.c — td-auth on PostgreSQL, what only PostgreSQL has: several
 * processes migrating one empty database at once (exactly one migrates), a
 * schema newer than the binary (refused), the roles of ops/postgres/init.sql
 * (td-auth's cannot read td-diary's schema, nor the reverse), the server
 * going away under a running td-auth (503 at once, served again after the
 * restart without restarting td-auth), a query stuck behind a lock (503 at
 * the statement timeout), and two td-auth replicas racing one refresh token
 * (exactly one wins). A real PostgreSQL 15 per test
 * (tests/harness/pg.h). The td-auth suites themselves also run on
 * PostgreSQL: the *_pg CTest entries.
 */
#include "auth_helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(pg_auth, .timeout = 120);

/* Starts `td-auth --migrate-only` against `url`, output to <dir>/<tag>.log. */
static pid_t migrate_only(const char *dir, const char *url, const char *tag)
{
    char env_url[700];
    snprintf(env_url, sizeof env_url, "AUTH_DATABASE_URL=%s", url);
    const char *env[] = {env_url, NULL};
    return th_spawn_once("td-auth", "--migrate-only", dir, tag, env);
}

static int exit_code(pid_t pid)
{
    int code = th_exit_code(pid);
    cr_assert_neq(pid, -1);
    return code;
}

static int count_in(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

Test(pg_auth, several_daemons_starting_together_migrate_an_empty_database_once)
{
    struct th_pg pg;
    cr_assert_eq(th_pg_start(&pg), 0);
    enum { N = 4 };
    pid_t pids[N];
    char tag[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(tag[i], sizeof tag[i], "m%d", i);
        pids[i] = migrate_only(pg.dir, pg.auth_url, tag[i]);
        cr_assert_gt(pids[i], 0);
    }
    int migrated_v1 = 0, open_lines = 0;
    for (int i = 0; i < N; i++) {
        cr_expect_eq(exit_code(pids[i]), 0, "td-auth --migrate-only #%d failed", i);
        char log[400];
        snprintf(log, sizeof log, "%s/%s.log", pg.dir, tag[i]);
        migrated_v1 += count_in(log, "db_migrated: schema at version 1");
        open_lines += count_in(log, "db_open: PostgreSQL");
    }
    cr_expect_eq(migrated_v1, 1, "migration 1 ran %d times", migrated_v1);
    cr_expect_eq(open_lines, N, "every process opened PostgreSQL storage");
    char out[512];
    cr_assert_eq(th_pg_query(pg.auth_url,
                             "SELECT count(*) || '/' || max(version) FROM td_schema_version", out,
                             sizeof out),
                 0, "%s", out);
    cr_expect_str_eq(out, "5/5", "one row per migration");
    /* Nothing went to SQLite: the tables are in td-auth's schema. */
    cr_assert_eq(th_pg_query(pg.auth_url,
                             "SELECT string_agg(table_schema || '.' || table_name, ',' ORDER BY"
                             " table_name) FROM information_schema.tables WHERE table_name IN"
                             " ('users', 'reauth_lockout')",
                             out, sizeof out),
                 0, "%s", out);
    cr_expect_str_eq(out, "auth.reauth_lockout,auth.users");
    th_pg_destroy(&pg);
}

Test(pg_auth, a_schema_newer_than_the_binary_is_refused_with_one_line)
{
    struct th_pg pg;
    cr_assert_eq(th_pg_start(&pg), 0);
    cr_assert_eq(exit_code(migrate_only(pg.dir, pg.auth_url, "first")), 0);
    char out[512];
    cr_assert_eq(th_pg_query(pg.auth_url, "INSERT INTO td_schema_version(version) VALUES (99)",
                             out, sizeof out),
                 0, "%s", out);
    cr_expect_eq(exit_code(migrate_only(pg.dir, pg.auth_url, "second")), 1,
                 "td-auth started against a newer schema");
    char log[400];
    snprintf(log, sizeof log, "%s/second.log", pg.dir);
    cr_expect_eq(count_in(log, "db_too_new: schema version 99 is newer than this binary (5)"), 1);
    cr_expect_eq(count_in(log, "td-auth: failed to start: TD_ESTORAGE"), 1);
    th_pg_destroy(&pg);
}

Test(pg_auth, each_role_reads_its_own_schema_and_not_the_other)
{
    struct th_pg pg;
    cr_assert_eq(th_pg_start(&pg), 0);
    cr_assert_eq(exit_code(migrate_only(pg.dir, pg.auth_url, "m")), 0);
    char out[512];
    cr_assert_eq(th_pg_query(pg.diary_url,
                             "CREATE TABLE entries(id int); INSERT INTO entries VALUES (1);"
                             " SELECT current_schema()",
                             out, sizeof out),
                 0, "%s", out);
    cr_expect_str_eq(out, "diary", "td_diary's tables land in its schema");

    cr_expect_eq(th_pg_query(pg.auth_url, "SELECT count(*) FROM diary.entries", out, sizeof out),
                 -1, "td_auth read the diary schema: %s", out);
    cr_expect(th_pg_error_is(out, "42501"), "want insufficient_privilege: %s", out);
    cr_expect_eq(th_pg_query(pg.diary_url, "SELECT count(*) FROM auth.users", out, sizeof out),
                 -1, "td_diary read the auth schema: %s", out);
    cr_expect(th_pg_error_is(out, "42501"), "want insufficient_privilege: %s", out);
    /* Nor somewhere shared to leave things for the other. */
    cr_expect_eq(th_pg_query(pg.auth_url, "CREATE TABLE public.drop_box(x int)", out, sizeof out),
                 -1, "td_auth created a table in public");
    cr_expect(th_pg_error_is(out, "42501"), "%s", out);
    /* And no way around it through the wrong password. */
    char wrong[600];
    snprintf(wrong, sizeof wrong, "postgresql://td_auth:wrong@127.0.0.1:%d/thought_diary",
             pg.port);
    cr_expect_eq(th_pg_query(wrong, "SELECT 1", out, sizeof out), -1);
    th_pg_destroy(&pg);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct status_probe {
    struct th_stack *s;
    const char *token;
    long status;
};

static bool me_ok(void *arg)
{
    struct status_probe *p = arg;
    struct th_response r;
    req(p->s, "GET", "/auth/me", p->token, NULL, &r);
    p->status = r.status;
    th_response_free(&r);
    return p->status == 200;
}

Test(pg_auth, postgres_down_answers_503_fast_and_td_auth_heals_after_the_restart)
{
    struct th_stack s;
    struct th_options opts = {.postgres = true};
    cr_assert_eq(th_stack_start(&s, &opts), 0);
    register_user(&s, "down@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&s, "down@example.com", GOOD_PASSWORD, &t);
    /* The gateway's token checks wait (up to 2 s) for a revocation pull
     * after its feed connects (gateway/revocations.c); let that pull happen
     * while PostgreSQL is still up, or the first request below would wait
     * it out (a CI soak run: request 0 took 2002 ms). */
    cr_assert(th_wait_log(&s, "td-gateway.log", "revocations_caught_up", TH_WAIT_MS),
              "the gateway never pulled the revocations after its feed connected");

    cr_assert_eq(th_pg_stop_server(&s.pg), 0);
    /* Every worker's session is gone: each request fails at once, well
     * inside the RPC deadline (RPC_TIMEOUT_MS, 5 s), with the 503 of a
     * service that will be back. */
    for (int i = 0; i < 12; i++) {
        long long t0 = now_ms();
        struct th_response r;
        req(&s, "GET", "/auth/me", t.access, NULL, &r);
        long long took = now_ms() - t0;
        cr_expect_eq(r.status, 503, "request %d: %ld %s", i, r.status, r.body);
        cr_expect_lt(took, 1500, "request %d took %lld ms", i, took);
        const char *err = json_string_value(json_object_get(r.json, "error"));
        cr_expect(err && strcmp(err, "service_unavailable") == 0, "%s", r.body);
        th_response_free(&r);
    }
    struct th_response r;
    req(&s, "POST", "/auth/login", NULL,
        "{\"email\":\"down@example.com\",\"password\":\"" GOOD_PASSWORD "\"}", &r);
    cr_expect_eq(r.status, 503, "login while down: %ld %s", r.status, r.body);
    th_response_free(&r);
    cr_expect(th_log_has(&s, "td-auth.log", "db_connect_failed"));

    cr_assert_eq(th_pg_start_server(&s.pg), 0);
    struct status_probe p = {&s, t.access, 0};
    cr_assert(th_wait_until(me_ok, &p, TH_WAIT_MS), "td-auth still answers %ld", p.status);
    /* Sessions the restart ended are replaced before use: from now on no
     * request fails, whichever worker takes it. */
    for (int i = 0; i < 24; i++) {
        cr_expect(me_ok(&p), "request %d after the restart: %ld", i, p.status);
    }
    login(&s, "down@example.com", GOOD_PASSWORD, &t);
    cr_expect_eq(s.procs[TH_AUTH].starts, 1, "td-auth was not restarted");
    cr_expect_eq(th_stack_stop(&s), 0);
}

struct locker {
    const char *url;
    int hold_ms;
    int rc;
    char out[256];
};

/* Holds an exclusive lock on td-auth's users table for hold_ms, in one
 * transaction of td-auth's own role. */
static void *hold_users_lock(void *arg)
{
    struct locker *l = arg;
    char sql[256];
    snprintf(sql, sizeof sql,
             "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%d.%03d); COMMIT;",
             l->hold_ms / 1000, l->hold_ms % 1000);
    l->rc = th_pg_query(l->url, sql, l->out, sizeof l->out);
    return NULL;
}

static bool users_locked(void *arg)
{
    const struct locker *l = arg;
    char out[64];
    return th_pg_query(l->url,
                       "SELECT count(*) FROM pg_locks WHERE relation = 'users'::regclass"
                       " AND mode = 'AccessExclusiveLock' AND granted",
                       out, sizeof out) == 0 &&
           strcmp(out, "1") == 0;
}

Test(pg_auth, a_query_stuck_behind_a_lock_fails_at_the_timeout_with_503)
{
    /* AUTH_DATABASE_STATEMENT_TIMEOUT_MS bounds every statement and every
     * lock wait, so one query waiting on a lock (a long migration, an operator's session left
     * open) holds a worker for that long, not for ever: the request gets a
     * 503 well inside the RPC deadline (5 s), and the worker serves the next
     * request once the lock is gone. */
    struct th_stack s;
    struct th_options opts = {.postgres = true,
                              .env = {"AUTH_DATABASE_STATEMENT_TIMEOUT_MS=500", NULL}};
    cr_assert_eq(th_stack_start(&s, &opts), 0);
    register_user(&s, "locked@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&s, "locked@example.com", GOOD_PASSWORD, &t);
    /* As in the test above: the gateway's revocation pull, before the lock. */
    cr_assert(th_wait_log(&s, "td-gateway.log", "revocations_caught_up", TH_WAIT_MS),
              "the gateway never pulled the revocations after its feed connected");

    struct locker l = {.url = s.pg.auth_url, .hold_ms = 6000};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, hold_users_lock, &l), 0);
    cr_assert(th_wait_until(users_locked, &l, TH_WAIT_MS), "the lock was never taken");
    long long t0 = now_ms();
    struct th_response r;
    req(&s, "GET", "/auth/me", t.access, NULL, &r);
    long long took = now_ms() - t0;
    cr_expect_eq(r.status, 503, "%ld %s", r.status, r.body);
    /* 500 ms and the round trips (a loaded machine adds some); with no
     * timeout it would wait out the lock's 6 s. */
    cr_expect_lt(took, 2500, "a query behind the lock held its request %lld ms", took);
    fprintf(stderr, "pg_auth: a request behind a lock answered %ld after %lld ms\n", r.status, took);
    th_response_free(&r);
    /* statement_timeout (57014) or lock_timeout (55P03): both are set to
     * the same bound (common/td_sql_pg.c). */
    cr_expect(th_log_has(&s, "td-auth.log", "PostgreSQL 57014") ||
                  th_log_has(&s, "td-auth.log", "PostgreSQL 55P03"),
              "no timeout in td-auth's log");
    pthread_join(th, NULL);
    cr_assert_eq(l.rc, 0, "%s", l.out);

    struct status_probe p = {&s, t.access, 0};
    cr_assert(th_wait_until(me_ok, &p, TH_WAIT_MS), "td-auth still answers %ld", p.status);
    cr_expect_eq(s.procs[TH_AUTH].starts, 1, "td-auth was restarted");
    cr_expect_eq(th_stack_stop(&s), 0);
}

struct racer {
    struct th_stack *s;
    const char *refresh;
    pthread_barrier_t *go;
    long status;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    char auth[2200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", r->refresh);
    const char *headers[] = {auth, NULL};
    pthread_barrier_wait(r->go);
    struct th_response resp;
    if (th_http(r->s, "POST", "/auth/refresh", headers, NULL, &resp) == 0) {
        r->status = resp.status;
        th_response_free(&resp);
    }
    return NULL;
}

struct login_probe {
    struct th_stack *s;
    int n;
};

static bool b_served(void *arg)
{
    struct login_probe *p = arg;
    struct tokens t;
    login(p->s, "race@example.com", GOOD_PASSWORD, &t);
    p->n++;
    return th_log_count(p->s, "td-auth-b.log", "logged in") > 0 &&
           th_log_count(p->s, "td-auth.log", "logged in") > 0;
}

Test(pg_auth, two_replicas_racing_one_refresh_token_have_exactly_one_winner)
{
    /* Two td-auth processes on one database; the gateway spreads calls
     * over both (its AUTH_RPC_URL lists both). */
    struct th_stack s;
    struct th_options opts = {
        .postgres = true,
        .daemon_env[TH_GATEWAY] = {"AUTH_RPC_URL=ipc://{dir}/auth.sock,ipc://{dir}/auth-b.sock"},
    };
    cr_assert_eq(th_stack_start(&s, &opts), 0);
    const char *env_b[] = {"AUTH_RPC_URL=ipc://{dir}/auth-b.sock",
                           "AUTH_RPC_OPERATOR_URL=ipc://{dir}/auth-b-operator.sock",
                           "AUTH_EVENTS_URL=ipc://{dir}/auth-b-events.sock", NULL};
    pid_t b = 0;
    cr_assert_eq(th_daemon_start_extra(&s, TH_AUTH, "b", env_b, &b), 0);
    cr_assert(th_wait_log(&s, "td-auth-b.log", "ready", TH_WAIT_MS), "replica b did not start");
    register_user(&s, "race@example.com", GOOD_PASSWORD);
    /* The gateway dials replica b in the background: race only once b
     * serves (a login it logs). */
    struct login_probe lp = {&s, 0};
    cr_assert(th_wait_until(b_served, &lp, TH_WAIT_MS), "replica b served no login");

    enum { RACERS = 12, ROUNDS = 3 };
    for (int round = 0; round < ROUNDS; round++) {
        struct tokens t;
        login(&s, "race@example.com", GOOD_PASSWORD, &t);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, RACERS);
        pthread_t th[RACERS];
        struct racer rs[RACERS];
        for (int i = 0; i < RACERS; i++) {
            rs[i] = (struct racer){&s, t.refresh, &go, 0};
            cr_assert_eq(pthread_create(&th[i], NULL, race, &rs[i]), 0);
        }
        int won = 0, refused = 0;
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            won += rs[i].status == 200;
            refused += rs[i].status == 401;
        }
        pthread_barrier_destroy(&go);
        cr_expect_eq(won, 1, "round %d: %d refreshes won", round, won);
        cr_expect_eq(refused, RACERS - 1, "round %d: %d refused", round, refused);
    }
    /* Both replicas took part in the races. */
    cr_expect_gt(th_log_count(&s, "td-auth-b.log", "refresh: user") +
                     th_log_count(&s, "td-auth-b.log", "refresh_refused"),
                 0, "replica b served none of the races");
    cr_expect_gt(th_log_count(&s, "td-auth.log", "refresh: user") +
                     th_log_count(&s, "td-auth.log", "refresh_refused"),
                 0, "replica a served none of the races");
    kill(b, SIGTERM);
    cr_expect_eq(exit_code(b), 0, "replica b did not stop cleanly");
    cr_expect_eq(th_stack_stop(&s), 0);
}
