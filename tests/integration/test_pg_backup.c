/*
 * test_pg_backup.c — the PostgreSQL backup procedure of docs/operations.md
 * ("Backups" under "td-auth and td-diary on PostgreSQL"), end to end: a
 * pg_dump of the two schemas taken while the stack serves, both schemas
 * lost, pg_restore of the dump, and the daemons serve the same accounts and
 * entries again (the same password logs in, the entries read back, new ids
 * follow the restored ones).
 */
#include "auth_helpers.h"
#include "pg.h"
#include "suite.h"

#include <signal.h>
#include <sys/wait.h>

TH_STACK_SUITE(pg_backup, 180, .postgres = true);

static const char *pg_bin(void)
{
    const char *d = getenv("TD_PG_BINDIR");
    return d != NULL && d[0] != '\0' ? d : "/usr/lib/postgresql/15/bin";
}

/* Runs a shell command line; its exit status. */
static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(pg_backup, a_dump_taken_while_serving_restores_accounts_and_entries)
{
    register_user(&stack, "kept@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&stack, "kept@example.com", GOOD_PASSWORD, &t);
    int64_t first = create_entry(&stack, t.access, "before the backup, a calm morning");
    create_entry(&stack, t.access, "before the backup, a long walk");

    /* The dump, as the operator takes it: both schemas, custom format,
     * while the daemons run; as the superuser, in the application's
     * database (a later dbname overrides the earlier one). */
    char super[600];
    snprintf(super, sizeof super, "%s dbname=thought_diary", stack.pg.super_url);
    char dump[400], cmd[2048];
    snprintf(dump, sizeof dump, "%s/thought-diary.dump", stack.dir);
    snprintf(cmd, sizeof cmd, "'%s/pg_dump' --format=custom --schema=auth --schema=diary"
             " --file='%s' '%s'", pg_bin(), dump, super);
    cr_assert_eq(run(cmd), 0, "%s", cmd);

    /* Written after the dump: lost with the disaster, as it should be. */
    create_entry(&stack, t.access, "after the backup");

    /* The disaster: both daemons stopped, both schemas gone. */
    cr_assert(WIFEXITED(th_daemon_signal(&stack, TH_DIARY, SIGTERM)));
    cr_assert(WIFEXITED(th_daemon_signal(&stack, TH_AUTH, SIGTERM)));
    char out[512];
    cr_assert_eq(th_pg_query(super,
                             "DROP SCHEMA diary CASCADE; DROP SCHEMA auth CASCADE; SELECT 1", out,
                             sizeof out),
                 0, "%s", out);

    snprintf(cmd, sizeof cmd, "'%s/pg_restore' --exit-on-error --dbname='%s' '%s'", pg_bin(),
             super, dump);
    cr_assert_eq(run(cmd), 0, "%s", cmd);
    cr_assert_eq(th_daemon_start(&stack, TH_AUTH), 0);
    cr_assert_eq(th_daemon_start(&stack, TH_DIARY), 0);
    cr_assert_eq(th_wait_ready(&stack, 200, 20000), 0);

    /* The roles own their schemas again, and neither sees the other's. */
    cr_assert_eq(th_pg_query(stack.pg.auth_url, "SELECT count(*) FROM diary.entries", out,
                             sizeof out),
                 -1, "td_auth reads the restored diary schema: %s", out);

    struct tokens again;
    login(&stack, "kept@example.com", GOOD_PASSWORD, &again);
    struct th_response r;
    req(&stack, "GET", "/diaries", again.access, NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 2, "%s", r.body);
    th_response_free(&r);
    int64_t next = create_entry(&stack, again.access, "after the restore");
    cr_assert_gt(next, first + 1, "ids continue after the restored ones");
    struct th_response s;
    req(&stack, "GET", "/diaries/stats", again.access, NULL, &s);
    cr_assert_eq(s.status, 200, "%s", s.body);
    cr_assert_eq(json_integer_value(json_object_get(s.json, "total_entries")), 3, "%s", s.body);
    th_response_free(&s);
}
