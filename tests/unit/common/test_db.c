/*
 * test_db.c — common/td_db.{c,h}: the connection settings and the migration
 * runner every daemon's store is built on, on real files in a fresh mkdtemp
 * directory per test (removed afterwards).
 *
 * What is tested is what td_db.h promises: migration i brings PRAGMA
 * user_version from i-1 to i in its own transaction; only the migrations a
 * database has not seen run; a failed migration is rolled back and nothing
 * after it runs; connections use WAL, synchronous=FULL, foreign keys, a
 * busy timeout and no temporary files; DATA_DIR is created when missing.
 */
#include "../td_assert.h"
#include "../td_sqlite_query.h"
#include "../td_tempdir.h"
#include "td_db.h"
#include "td_error.h"
#include "td_log.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static sqlite3 *db;

static void setup(void)
{
    /* The failure cases log errors on purpose; the assertions say the rest. */
    td_log_threshold = TD_LOG_ERR;
    snprintf(dir, sizeof dir, "/tmp/td-db-unit-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    TD_ASSERT_OK(td_db_open(dir, "test.db", &db));
}

static void teardown(void)
{
    td_db_close(&db);
    cr_assert_null(db);
    TD_ASSERT_OK(td_tempdir_remove(dir), "cannot remove %s", dir);
}

TestSuite(db, .init = setup, .fini = teardown, .timeout = 30);

static int64_t user_version(sqlite3 *conn)
{
    return query_int(conn, "PRAGMA user_version");
}

static bool table_exists(sqlite3 *conn, const char *name)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'", name);
    return query_int(conn, sql) == 1;
}

/* A second connection of its own, with SQLite's defaults: what is on disk,
 * not what the connection under test may still hold. */
static sqlite3 *open_plain(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/test.db", dir);
    sqlite3 *c = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return c;
}

/* Each migration appends its number to `applied`, after the first made it:
 * the rows say which ran, and in which order. */
static const char *const three[] = {
    "CREATE TABLE applied (n INTEGER NOT NULL); INSERT INTO applied VALUES (1);",
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO applied VALUES (2);",
    "ALTER TABLE notes ADD COLUMN tag TEXT; INSERT INTO applied VALUES (3);",
};

/* The applied column in insertion order as "1,2,3". */
static void applied_list(sqlite3 *conn, char *buf, size_t size)
{
    query_text(conn, "SELECT coalesce(group_concat(n, ','), '') FROM "
                     "(SELECT n FROM applied ORDER BY rowid)", buf, size);
}

/* ---- migrations ----------------------------------------------------------- */

Test(db, a_fresh_database_runs_every_migration_in_order_and_records_the_version)
{
    cr_assert_eq(user_version(db), 0);
    TD_ASSERT_OK(td_db_migrate(db, three, 3));
    cr_expect_eq(user_version(db), 3);
    char got[32];
    applied_list(db, got, sizeof got);
    cr_expect_str_eq(got, "1,2,3");
    cr_expect(table_exists(db, "notes"));
    /* migration 3's column is there: it ran after 2 created the table */
    TD_ASSERT_OK(td_db_exec(db, "INSERT INTO notes (body, tag) VALUES ('b', 't')"));

    /* committed to the file, not only visible to this connection */
    sqlite3 *other = open_plain();
    cr_expect_eq(user_version(other), 3);
    applied_list(other, got, sizeof got);
    cr_expect_str_eq(got, "1,2,3");
    cr_assert_eq(sqlite3_close(other), SQLITE_OK);
}

Test(db, running_the_migrations_again_does_nothing)
{
    TD_ASSERT_OK(td_db_migrate(db, three, 3));
    TD_ASSERT_OK(td_db_migrate(db, three, 3));
    cr_expect_eq(user_version(db), 3);
    char got[32];
    applied_list(db, got, sizeof got);
    cr_expect_str_eq(got, "1,2,3", "a migration ran twice: %s", got);

    /* and from a new connection, as a restarted daemon would */
    td_db_close(&db);
    TD_ASSERT_OK(td_db_open(dir, "test.db", &db));
    TD_ASSERT_OK(td_db_migrate(db, three, 3));
    applied_list(db, got, sizeof got);
    cr_expect_str_eq(got, "1,2,3", "a migration ran again after reopening: %s", got);
}

Test(db, only_the_migrations_the_database_has_not_seen_run)
{
    TD_ASSERT_OK(td_db_migrate(db, three, 1));
    cr_expect_eq(user_version(db), 1);
    TD_ASSERT_OK(td_db_migrate(db, three, 2));
    cr_expect_eq(user_version(db), 2);
    TD_ASSERT_OK(td_db_migrate(db, three, 3));
    cr_expect_eq(user_version(db), 3);
    char got[32];
    applied_list(db, got, sizeof got);
    cr_expect_str_eq(got, "1,2,3");
}

/* A migration list whose second entry fails in some way, then a third that
 * must never run. */
static const struct {
    const char *sql;
    const char *what;
} failing[] = {
    {"CREATE TABLE half (x); INSERT INTO applied VALUES (2); THIS IS NOT SQL;",
     "a syntax error after statements that succeeded"},
    {"CREATE TABLE half (x); INSERT INTO applied VALUES (2); INSERT INTO nowhere VALUES (1);",
     "a statement naming a missing table"},
    {"CREATE TABLE half (x UNIQUE); INSERT INTO applied VALUES (2); "
     "INSERT INTO half VALUES (1); INSERT INTO half VALUES (1);",
     "a constraint violation at run time (SQLite undoes the statement, not the transaction)"},
    {"CREATE TABLE half (x); INSERT INTO applied VALUES (2); "
     "CREATE TABLE u (x UNIQUE ON CONFLICT ROLLBACK); INSERT INTO u VALUES (1); "
     "INSERT INTO u VALUES (1);",
     "a conflict whose resolution is ROLLBACK (SQLite ends the transaction itself)"},
};

Test(db, a_failing_migration_is_rolled_back_entirely_and_nothing_after_it_runs)
{
    for (size_t i = 0; i < sizeof failing / sizeof failing[0]; i++) {
        const char *const list[] = {three[0], failing[i].sql, three[2]};
        /* a fresh file per case, so each starts at version 0 */
        char name[32];
        snprintf(name, sizeof name, "failing-%zu.db", i);
        sqlite3 *c = NULL;
        TD_ASSERT_OK(td_db_open(dir, name, &c), "%s", failing[i].what);

        cr_expect_eq(td_db_migrate(c, list, 3), TD_ESTORAGE, "%s: not refused", failing[i].what);
        cr_expect_eq(user_version(c), 1, "%s: version moved", failing[i].what);
        cr_expect_not(table_exists(c, "half"), "%s: its first statement stayed",
                      failing[i].what);
        char got[32];
        applied_list(c, got, sizeof got);
        cr_expect_str_eq(got, "1", "%s: applied %s", failing[i].what, got);
        cr_expect_not(table_exists(c, "notes"), "%s: migration 3 ran", failing[i].what);
        /* no transaction left open on the connection: the daemon's next
         * BEGIN would fail otherwise */
        cr_expect_neq(sqlite3_get_autocommit(c), 0, "%s: transaction left open",
                      failing[i].what);

        /* Running again fails again at the same place, still at version 1:
         * a broken migration is never skipped. */
        cr_expect_eq(td_db_migrate(c, list, 3), TD_ESTORAGE, "%s: second run", failing[i].what);
        cr_expect_eq(user_version(c), 1, "%s: second run moved the version", failing[i].what);
        td_db_close(&c);
    }
}

Test(db, a_failing_first_migration_leaves_a_fresh_database_at_version_zero)
{
    const char *const list[] = {"CREATE TABLE t (x); NOT SQL", three[0]};
    cr_expect_eq(td_db_migrate(db, list, 2), TD_ESTORAGE);
    cr_expect_eq(user_version(db), 0);
    cr_expect_not(table_exists(db, "t"));
    cr_expect_not(table_exists(db, "applied"));
}

/* ---- connection settings ------------------------------------------------ */

Test(db, connections_use_wal_synchronous_full_and_foreign_keys)
{
    char mode[16];
    query_text(db, "PRAGMA journal_mode", mode, sizeof mode);
    cr_expect_str_eq(mode, "wal");
    cr_expect_eq(query_int(db, "PRAGMA synchronous"), 2, "synchronous is not FULL (2)");
    cr_expect_eq(query_int(db, "PRAGMA foreign_keys"), 1);

    /* WAL is a property of the file: a plain connection sees it too. */
    sqlite3 *other = open_plain();
    query_text(other, "PRAGMA journal_mode", mode, sizeof mode);
    cr_expect_str_eq(mode, "wal");
    cr_assert_eq(sqlite3_close(other), SQLITE_OK);

    /* and foreign keys are enforced, not merely reported on */
    TD_ASSERT_OK(td_db_exec(db, "CREATE TABLE p (id INTEGER PRIMARY KEY);"
                                "CREATE TABLE c (p INTEGER REFERENCES p (id));"));
    cr_expect_eq(td_db_exec(db, "INSERT INTO c VALUES (42)"), TD_ESTORAGE);
    cr_expect_eq(query_int(db, "SELECT count(*) FROM c"), 0);
}

/* A savepoint whose statement journal outgrows SQLite's in-memory spill
 * size (64 KiB) writes it to a temporary file in the temp directory, with
 * copies of the pages it changed: diary text outside DATA_DIR. With
 * temp_store=MEMORY no file is ever made there, which inotify sees even
 * though SQLite unlinks its temporary files the moment it opens them. */
Test(db, savepoints_keep_their_journal_in_memory_not_in_a_temporary_file)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/td-db-sqltmp-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    sqlite3_temp_directory = sqlite3_mprintf("%s", tmp); /* where it would go */
    cr_assert_not_null(sqlite3_temp_directory);
    int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    cr_assert_geq(watch, 0);
    cr_assert_geq(inotify_add_watch(watch, tmp, IN_CREATE), 0);

    TD_ASSERT_OK(td_db_exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT);"
                                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                                "  WHERE i < 200)"
                                "INSERT INTO t (body) SELECT printf('%.2000c', 'x') FROM n;"));
    /* as in a group commit: the savepoint changes pages that the
     * transaction changed before it, whose earlier state it must keep */
    TD_ASSERT_OK(td_db_exec(db, "BEGIN; UPDATE t SET body = printf('%.2000c', 'y');"
                                "SAVEPOINT one; UPDATE t SET body = printf('%.2000c', 'z');"
                                "RELEASE one; COMMIT;"));
    cr_expect_eq(query_int(db, "SELECT count(*) FROM t WHERE body LIKE 'z%'"), 200);

    char events[4096];
    ssize_t got = read(watch, events, sizeof events);
    cr_expect(got < 0 && errno == EAGAIN, "SQLite made a temporary file in %s", tmp);
    cr_assert_eq(close(watch), 0);
    sqlite3_free(sqlite3_temp_directory);
    sqlite3_temp_directory = NULL;
    cr_assert_eq(rmdir(tmp), 0, "%s is not empty", tmp);
}

static void *release_after_a_moment(void *arg)
{
    usleep(200 * 1000);
    (void)td_db_exec(arg, "COMMIT"); /* checked by the waiter's success */
    return NULL;
}

Test(db, a_writer_waits_for_the_lock_instead_of_failing_busy)
{
    sqlite3 *other = NULL;
    TD_ASSERT_OK(td_db_open(dir, "test.db", &other));
    TD_ASSERT_OK(td_db_exec(db, "CREATE TABLE t (x)"));
    TD_ASSERT_OK(td_db_exec(other, "BEGIN IMMEDIATE"));
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, release_after_a_moment, other), 0);
    /* held for 200 ms of the 5 s budget (TD_DB_BUSY_TIMEOUT_US in td_db.c) */
    int rc = td_db_exec(db, "INSERT INTO t VALUES (1)");
    cr_assert_eq(pthread_join(th, NULL), 0);
    TD_ASSERT_OK(rc, "the write gave up while another connection held the lock");
    cr_expect_neq(sqlite3_get_autocommit(other), 0, "the holder did not commit");
    td_db_close(&other);
}

Test(db, open_creates_the_data_directory_and_its_parents)
{
    char nested[128];
    snprintf(nested, sizeof nested, "%s/a/b/c", dir);
    sqlite3 *c = NULL;
    TD_ASSERT_OK(td_db_open(nested, "x.db", &c));
    td_db_close(&c);
    struct stat st;
    cr_assert_eq(stat(nested, &st), 0);
    cr_expect(S_ISDIR(st.st_mode));
    char file[160];
    snprintf(file, sizeof file, "%s/x.db", nested);
    cr_expect_eq(stat(file, &st), 0);
}
