/*
 * test_store.c — td-auth's storage: users, refresh-family rotation and reuse
 * detection, logout, cut-offs, deletion with its outbox job, the revocation
 * feed's pages and pruning, statement reuse. A fresh database in a temporary
 * directory per test.
 */
#include "services/auth/store.h"
#include "../td_tempdir.h"
#include "td_error.h"
#include "../td_assert.h"

#include <sqlite3.h>

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static struct auth_store *store;
static struct td_sql *db;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/td-auth-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    TD_ASSERT_OK(auth_store_open(&(struct auth_store_opts){.data_dir = dir}, 2, &store));
    db = auth_store_conn(store, 0);
}

static void teardown(void)
{
    auth_store_close(&store);
    cr_assert_null(store);
    td_tempdir_remove(dir);
}

TestSuite(store, .init = setup, .fini = teardown);

static int64_t add_user(const char *email)
{
    struct auth_user u;
    TD_ASSERT_OK(auth_store_user_insert(db, email, "$argon2id$fake", 1000, &u));
    return u.id;
}

Test(store, users_are_unique_by_email_and_read_back)
{
    int64_t id = add_user("a@example.com");
    struct auth_user u;
    cr_expect_eq(auth_store_user_insert(auth_store_conn(store, 1), "a@example.com", "h", 2, &u),
                 TD_EEXISTS);
    TD_ASSERT_OK(auth_store_user_by_email(db, "a@example.com", &u));
    cr_expect_eq(u.id, id);
    cr_expect_str_eq(u.hash, "$argon2id$fake");
    cr_expect_eq(u.created_us, 1000);
    cr_expect_eq(u.cutoff_us, 0);
    cr_expect_eq(auth_store_user_by_id(db, id + 1, &u), TD_EUSERNOTFOUND);
    cr_expect_eq(auth_store_user_rehash(db, id, "$argon2id$new"), 0);
    TD_ASSERT_OK(auth_store_user_by_id(db, id, &u));
    cr_expect_str_eq(u.hash, "$argon2id$new");
    cr_expect_eq(u.updated_us, 1000, "a rehash is not the user's change");
}

Test(store, login_family_needs_the_user_and_the_hash_it_verified)
{
    int64_t uid = add_user("race@example.com");
    cr_expect_eq(auth_store_family_create(db, "x", uid + 100, "$argon2id$fake", "j", 1),
                 TD_ECREDENTIALS, "deleted user");
    cr_expect_eq(auth_store_family_create(db, "x", uid, "$argon2id$other", "j", 1),
                 TD_ECREDENTIALS, "password changed meanwhile");
    cr_expect_eq(auth_store_family_create(db, "x", uid, "$argon2id$fake", "j", 1), 0);
}

Test(store, rotation_and_reuse_detection)
{
    int64_t uid = add_user("r@example.com");
    bool killed;
    TD_ASSERT_OK(auth_store_family_create(db, "fam1", uid, "$argon2id$fake", "j1", 5000000000));
    cr_expect_eq(auth_store_family_rotate(db, uid, "fam1", "j1", 10, "j2", 5000000001, &killed),
                 0);
    cr_expect_not(killed);
    cr_expect_eq(auth_store_family_rotate(db, uid + 1, "fam1", "j2", 10, "j3", 1, &killed),
                 TD_EREVOKED, "another user's family");
    cr_expect_not(killed);
    cr_expect_eq(auth_store_family_rotate(db, uid, "fam1", "j1", 10, "j3", 1, &killed),
                 TD_EREVOKED, "reuse");
    cr_expect(killed);
    cr_expect_eq(auth_store_family_rotate(db, uid, "fam1", "j2", 10, "j3", 1, &killed),
                 TD_EREVOKED, "current token of a killed family");
    cr_expect_not(killed);
    cr_expect_eq(auth_store_family_rotate(db, uid, "nope", "j2", 10, "j3", 1, &killed),
                 TD_EREVOKED);
}

static int count_jti(void *arg, const char *jti, int64_t exp)
{
    (void)jti, (void)exp;
    (*(int *)arg)++;
    return 0;
}

static int count_cutoff(void *arg, int64_t uid, int64_t cutoff_us, int64_t until)
{
    (void)uid, (void)cutoff_us, (void)until;
    (*(int *)arg)++;
    return 0;
}

Test(store, logout_revokes_the_token_and_the_family)
{
    int64_t uid = add_user("l@example.com");
    bool killed, more;
    TD_ASSERT_OK(auth_store_family_create(db, "fam", uid, "$argon2id$fake", "r1", 5000000000));
    TD_ASSERT_OK(auth_store_logout(db, uid, "a1", 1000, "fam"));
    TD_ASSERT_OK(auth_store_logout(db, uid, "a1", 1000, NULL), "idempotent");
    cr_expect_eq(auth_store_family_rotate(db, uid, "fam", "r1", 10, "r2", 1, &killed),
                 TD_EREVOKED);
    int n = 0;
    TD_ASSERT_OK(auth_store_revoked_page(db, NULL, 10, 900, count_jti, &n, &more));
    cr_expect_eq(n, 1);
    cr_expect_not(more);
    n = 0;
    TD_ASSERT_OK(auth_store_revoked_page(db, NULL, 10, 2000, count_jti, &n, &more));
    cr_expect_eq(n, 0, "past exp + leeway: no longer sent");
    TD_ASSERT_OK(auth_store_prune(db, 2000));
}

Test(store, revocation_pages_follow_the_cursor)
{
    char jti[8];
    for (int i = 0; i < 25; i++) {
        snprintf(jti, sizeof jti, "j%02d", i);
        TD_ASSERT_OK(auth_store_logout(db, 1, jti, 1000, NULL));
    }
    int n = 0;
    bool more;
    TD_ASSERT_OK(auth_store_revoked_page(db, NULL, 10, 0, count_jti, &n, &more));
    cr_expect(more);
    n = 0;
    TD_ASSERT_OK(auth_store_revoked_page(db, "j19", 10, 0, count_jti, &n, &more));
    cr_expect_eq(n, 5);
    cr_expect_not(more);
}

Test(store, password_change_and_deletion_record_cutoffs)
{
    int64_t uid = add_user("c@example.com");
    bool killed;
    TD_ASSERT_OK(auth_store_family_create(db, "f", uid, "$argon2id$fake", "r1", 5000000000));
    TD_ASSERT_OK(auth_store_password_change(db, uid, "$new", 2000, 5000, 99999999999));
    struct auth_user u;
    TD_ASSERT_OK(auth_store_user_by_id(db, uid, &u));
    cr_expect_eq(u.cutoff_us, 5000);
    cr_expect_eq(u.updated_us, 2000);
    cr_expect_str_eq(u.hash, "$new");
    cr_expect_eq(auth_store_family_rotate(db, uid, "f", "r1", 6000, "r2", 1, &killed),
                 TD_EREVOKED, "families die with the password");
    cr_expect_eq(auth_store_family_create(db, "g", uid, "$argon2id$fake", "s1", 5000000000),
                 TD_ECREDENTIALS, "a login that checked the old password loses to the change");
    TD_ASSERT_OK(auth_store_family_create(db, "g", uid, "$new", "s1", 5000000000));
    cr_expect_eq(auth_store_family_rotate(db, uid, "g", "s1", 4999, "s2", 1, &killed),
                 TD_EREVOKED, "issued before the cut-off");
    cr_expect_eq(auth_store_family_rotate(db, uid, "g", "s1", 5000, "s2", 1, &killed), 0);

    TD_ASSERT_OK(auth_store_user_delete(db, uid, 7000, 99999999999, 10));
    cr_expect_eq(auth_store_user_delete(db, uid, 7000, 99999999999, 10), TD_EUSERNOTFOUND);
    cr_expect_eq(auth_store_user_by_id(db, uid, &u), TD_EUSERNOTFOUND);
    int n = 0;
    TD_ASSERT_OK(auth_store_cutoffs(db, 0, count_cutoff, &n));
    cr_expect_eq(n, 1, "the cut-off outlives the user");

    struct auth_outbox_job jobs[4];
    cr_expect_eq(auth_store_outbox_next(db), 10);
    cr_assert_eq(auth_store_outbox_take(db, "a", 10, 30, jobs, 4), 1);
    cr_expect_eq(jobs[0].user_id, uid);
    TD_ASSERT_OK(auth_store_outbox_retry(db, jobs[0].id, "a", 50));
    cr_expect_eq(auth_store_outbox_take(db, "a", 49, 30, jobs, 4), 0);
    cr_assert_eq(auth_store_outbox_take(db, "a", 50, 30, jobs, 4), 1);
    cr_expect_eq(jobs[0].attempts, 1);
    TD_ASSERT_OK(auth_store_outbox_done(db, jobs[0].id));
    cr_expect_eq(auth_store_outbox_next(db), 0);
}

Test(store, an_outbox_job_is_leased_to_one_taker_until_the_lease_ends)
{
    struct td_sql *other = auth_store_conn(store, 1);
    int64_t a = add_user("a@example.com"), b = add_user("b@example.com");
    TD_ASSERT_OK(auth_store_user_delete(db, a, 7000, 99999999999, 10));
    TD_ASSERT_OK(auth_store_user_delete(db, b, 7000, 99999999999, 11));

    struct auth_outbox_job jobs[4];
    cr_assert_eq(auth_store_outbox_take(db, "one", 20, 30, jobs, 1), 1, "one job asked for");
    cr_expect_eq(jobs[0].user_id, a, "oldest first");
    int64_t held = jobs[0].id;
    cr_assert_eq(auth_store_outbox_take(other, "two", 20, 30, jobs, 4), 1);
    cr_expect_eq(jobs[0].user_id, b, "the leased job is skipped");
    cr_expect_eq(auth_store_outbox_take(other, "two", 49, 30, jobs, 4), 0, "both leased");
    cr_expect_eq(auth_store_outbox_next(db), 50, "free again when the leases end");

    /* "one" stalls past its lease (or died): "two" takes the job over, and
     * the late retry of "one" does not push it back. */
    cr_assert_eq(auth_store_outbox_take(other, "two", 50, 30, jobs, 4), 2);
    TD_ASSERT_OK(auth_store_outbox_retry(db, held, "one", 1000));
    cr_expect_eq(auth_store_outbox_next(db), 80, "the job stays with its new holder");
    TD_ASSERT_OK(auth_store_outbox_retry(other, held, "two", 60));
    cr_expect_eq(auth_store_outbox_next(db), 60, "its holder's retry counts");
    cr_assert_eq(auth_store_outbox_take(db, "one", 60, 30, jobs, 4), 1);
    cr_expect_eq(jobs[0].id, held);
    cr_expect_eq(jobs[0].attempts, 1);
    TD_ASSERT_OK(auth_store_outbox_done(db, held));
}

/* How many of db's statements have `part` in their SQL; *busy (may be NULL)
 * gets how many of all of them are mid-run (holding a read transaction). */
static int statements(const char *part, int *busy)
{
    int n = 0, b = 0;
    sqlite3 *lite = td_sql_sqlite_handle(db);
    for (sqlite3_stmt *st = sqlite3_next_stmt(lite, NULL); st; st = sqlite3_next_stmt(lite, st)) {
        n += strstr(sqlite3_sql(st), part) != NULL;
        b += sqlite3_stmt_busy(st) != 0;
    }
    if (busy)
        *busy = b;
    return n;
}

static int fail_jti(void *arg, const char *jti, int64_t exp)
{
    (void)arg, (void)jti, (void)exp;
    return TD_EINVAL;
}

Test(store, statements_are_prepared_once_and_always_reset)
{
    int64_t uid = add_user("s@example.com");
    struct auth_user u;
    for (int i = 0; i < 100; i++)
        TD_ASSERT_OK(auth_store_user_by_id(db, uid, &u));
    for (int i = 0; i < 3; i++)
        cr_assert_eq(auth_store_user_insert(db, "s@example.com", "h", 2, &u), TD_EEXISTS);
    int busy;
    cr_expect_eq(statements("WHERE u.id = ?", &busy), 1, "one statement per SQL, reused");
    cr_expect_eq(statements("INSERT INTO users(", NULL), 1, "reused after failed steps too");
    cr_expect_eq(busy, 0, "a SELECT that stopped on its row was reset");

    /* A callback failing on the first row leaves the SELECT mid-run: the
     * error path must reset it too, or its read transaction stays open and
     * no checkpoint can finish. */
    TD_ASSERT_OK(auth_store_logout(db, uid, "a1", 1000, NULL));
    TD_ASSERT_OK(auth_store_logout(db, uid, "a2", 1000, NULL));
    bool more;
    cr_expect_eq(auth_store_revoked_page(db, NULL, 10, 0, fail_jti, NULL, &more), TD_EINVAL);
    statements("", &busy);
    cr_expect_eq(busy, 0);
    cr_expect(sqlite3_get_autocommit(td_sql_sqlite_handle(db)));
    sqlite3_stmt *ck = NULL;
    cr_assert_eq(sqlite3_prepare_v2(td_sql_sqlite_handle(auth_store_conn(store, 1)), "PRAGMA wal_checkpoint(TRUNCATE)", -1, &ck,
                                    NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(ck), SQLITE_ROW);
    cr_expect_eq(sqlite3_column_int(ck, 0), 0, "checkpoint blocked by a reader");
    sqlite3_finalize(ck);
}

Test(store, closing_finalizes_the_kept_statements)
{
    /* A connection that still has statements is not closed by sqlite3_close
     * and leaks; LeakSanitizer does not see it (SQLite's VFS still reaches
     * it), SQLite's own count of the memory it holds does. */
    char dir2[64];
    snprintf(dir2, sizeof dir2, "/tmp/td-auth-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dir2));
    sqlite3_int64 before = sqlite3_memory_used();
    struct auth_store *s2 = NULL;
    TD_ASSERT_OK(auth_store_open(&(struct auth_store_opts){.data_dir = dir2}, 2, &s2));
    struct auth_user u;
    cr_assert_eq(auth_store_user_by_id(auth_store_conn(s2, 0), 1, &u), TD_EUSERNOTFOUND);
    cr_assert_eq(auth_store_user_by_id(auth_store_conn(s2, 1), 1, &u), TD_EUSERNOTFOUND);
    auth_store_close(&s2);
    cr_expect_eq(sqlite3_memory_used(), before);
    td_tempdir_remove(dir2);
}
