/*
 * test_pg_copy.c — moving an install from SQLite to PostgreSQL
 * (docs/operations.md, "Moving from SQLite"): a stack used on SQLite, then
 * td-auth and td-diary stopped, `--copy-from-sqlite=FILE` run once each
 * against a fresh PostgreSQL, and the same stack started again on it serves
 * the same accounts (same passwords, same revocations), entries (found by
 * search, stats as before) and deletions; new ids follow the copied ones;
 * a second copy into the filled database is refused and changes nothing.
 */
#include "auth_helpers.h"
#include "pg.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static struct th_stack stack;

static void setup(void)
{
    cr_assert_eq(sodium_init() >= 0, 1);
    struct th_options opts = {.postgres = false};
    cr_assert_eq(th_stack_start(&stack, &opts), 0, "stack did not start");
}

static void teardown(void)
{
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
}

TestSuite(pg_copy, .init = setup, .fini = teardown, .timeout = 180);

/* Runs `binary --copy-from-sqlite=FILE` against `url`; its exit code. */
static int copy_from(const char *binary, const char *url_var, const char *url,
                     const char *file)
{
    char arg[600], env_url[800], tag[64];
    snprintf(arg, sizeof arg, "--copy-from-sqlite=%s", file);
    snprintf(env_url, sizeof env_url, "%s=%s", url_var, url);
    snprintf(tag, sizeof tag, "%s-copy", binary);
    const char *env[] = {env_url, NULL};
    return th_exit_code(th_spawn_once(binary, arg, stack.dir, tag, env));
}

static json_t *get_json(const char *path, const char *token, long want)
{
    struct th_response r;
    req(&stack, "GET", path, token, NULL, &r);
    cr_assert_eq(r.status, want, "GET %s: %s", path, r.body);
    json_t *j = json_incref(r.json);
    th_response_free(&r);
    return j;
}

Test(pg_copy, an_install_moved_from_sqlite_serves_the_same_data_on_postgresql)
{
    /* Used on SQLite: two accounts, entries, a logout, a deleted account. */
    register_user(&stack, "stays@example.com", GOOD_PASSWORD);
    register_user(&stack, "leaves@example.com", GOOD_PASSWORD);
    struct tokens t, gone, old;
    login(&stack, "stays@example.com", GOOD_PASSWORD, &t);
    login(&stack, "stays@example.com", GOOD_PASSWORD, &old);
    login(&stack, "leaves@example.com", GOOD_PASSWORD, &gone);
    create_entry(&stack, t.access, "A happy walk along the river");
    int64_t last = create_entry(&stack, t.access, "Worried about the exam, but hopeful");
    create_entry(&stack, gone.access, "soon deleted");
    json_t *me = get_json("/auth/me", gone.access, 200);
    json_int_t gone_id = json_integer_value(json_object_get(me, "id"));
    json_decref(me);
    struct th_response r;
    req(&stack, "POST", "/auth/logout", old.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    req(&stack, "DELETE", "/auth/me", gone.access, "{\"password\":\"" GOOD_PASSWORD "\"}", &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    json_t *stats_before = get_json("/diaries/stats", t.access, 200);

    /* The move: stop both, copy both, start both on PostgreSQL. */
    cr_assert(WIFEXITED(th_daemon_signal(&stack, TH_DIARY, SIGTERM)));
    cr_assert(WIFEXITED(th_daemon_signal(&stack, TH_AUTH, SIGTERM)));
    cr_assert_eq(th_pg_start(&stack.pg), 0);
    char auth_db[400], diary_db[400];
    snprintf(auth_db, sizeof auth_db, "%s/data-td-auth/auth.db", stack.dir);
    snprintf(diary_db, sizeof diary_db, "%s/data-td-diary/diary.db", stack.dir);
    cr_assert_eq(copy_from("td-auth", "AUTH_DATABASE_URL", stack.pg.auth_url, auth_db), 0);
    cr_assert_eq(copy_from("td-diary", "DIARY_DATABASE_URL", stack.pg.diary_url, diary_db), 0);
    /* Again: refused, nothing doubled. */
    cr_assert_eq(copy_from("td-auth", "AUTH_DATABASE_URL", stack.pg.auth_url, auth_db), 1);
    cr_assert_eq(copy_from("td-diary", "DIARY_DATABASE_URL", stack.pg.diary_url, diary_db), 1);
    /* A file that is not there is an error, not an empty copy. */
    cr_assert_eq(copy_from("td-diary", "DIARY_DATABASE_URL", stack.pg.diary_url, "/nonexistent.db"),
                 1);
    /* The SQLite files go away: whatever serves now reads PostgreSQL. */
    cr_assert_eq(unlink(auth_db), 0);
    cr_assert_eq(unlink(diary_db), 0);
    cr_assert_eq(th_daemon_start(&stack, TH_AUTH), 0);
    cr_assert_eq(th_daemon_start(&stack, TH_DIARY), 0);
    cr_assert_eq(th_wait_ready(&stack, 200, 20000), 0);
    cr_assert(th_log_count(&stack, "td-diary.log", "db_open: PostgreSQL") >= 1);

    /* The same token still works, the revoked one is still refused, the
     * same password logs in, the deleted account stays deleted. */
    json_decref(get_json("/auth/me", t.access, 200));
    json_decref(get_json("/auth/me", old.access, 401));
    struct tokens again;
    login(&stack, "stays@example.com", GOOD_PASSWORD, &again);
    req(&stack, "POST", "/auth/login", NULL,
        "{\"email\":\"leaves@example.com\",\"password\":\"" GOOD_PASSWORD "\"}", &r);
    cr_assert_eq(r.status, 401, "%s", r.body);
    th_response_free(&r);

    json_t *list = get_json("/diaries", again.access, 200);
    cr_assert_eq(json_integer_value(json_object_get(list, "total")), 2);
    json_decref(list);
    json_t *found = get_json("/diaries?q=RIVER", again.access, 200);
    cr_assert_eq(json_integer_value(json_object_get(found, "total")), 1, "search on the copy");
    json_decref(found);
    json_t *stats_after = get_json("/diaries/stats", again.access, 200);
    cr_assert(json_equal(stats_before, stats_after), "stats changed in the move");
    json_decref(stats_before);
    json_decref(stats_after);
    int64_t next = create_entry(&stack, again.access, "The first entry on PostgreSQL");
    cr_assert_gt(next, last + 1, "new ids follow the copied ones (the deleted user's too)");
    /* A new account never gets the deleted one's id: its tombstone and
     * cut-off would hit it. */
    register_user(&stack, "new@example.com", GOOD_PASSWORD);
    struct tokens fresh;
    login(&stack, "new@example.com", GOOD_PASSWORD, &fresh);
    me = get_json("/auth/me", fresh.access, 200);
    cr_assert_gt(json_integer_value(json_object_get(me, "id")), gone_id);
    json_decref(me);
    create_entry(&stack, fresh.access, "a new account writes on PostgreSQL");
}
