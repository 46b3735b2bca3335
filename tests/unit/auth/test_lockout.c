/*
 * test_lockout.c — failed re-authentications lock an account for a while,
 * per account, and a right password clears the count. The counts live in
 * the store (auth_store_lockout_*); a fresh SQLite database per test.
 */
#include "services/auth/lockout.h"
#include "services/auth/store.h"
#include "../td_tempdir.h"
#include "td_error.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static struct auth_store *store;
static struct td_sql *db;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/td-auth-lockout-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    TD_ASSERT_OK(auth_store_open(&(struct auth_store_opts){.data_dir = dir}, 1, &store));
    db = auth_store_conn(store, 0);
}

static void teardown(void)
{
    auth_store_close(&store);
    td_tempdir_remove(dir);
}

TestSuite(lockout, .init = setup, .fini = teardown);

static bool blocked(int64_t uid, int64_t now)
{
    bool b = true;
    TD_ASSERT_OK(auth_store_lockout_blocked(db, uid, now, &b));
    return b;
}

static void failed(int64_t uid, int64_t now)
{
    TD_ASSERT_OK(auth_store_lockout_failed(db, uid, now));
}

Test(lockout, five_failures_in_the_window_lock_for_a_while)
{
    for (int i = 0; i < AUTH_LOCKOUT_FAILURES - 1; i++) {
        failed(42, 1000 + i);
        cr_assert_not(blocked(42, 1000 + i), "locked after %d", i + 1);
    }
    failed(42, 1010);
    cr_assert(blocked(42, 1011));
    cr_assert_not(blocked(43, 1011), "another account is not affected");
    cr_assert(blocked(42, 1010 + AUTH_LOCKOUT_S - 1));
    cr_assert_not(blocked(42, 1010 + AUTH_LOCKOUT_S));
}

Test(lockout, failures_spread_beyond_the_window_do_not_add_up)
{
    for (int i = 0; i < AUTH_LOCKOUT_FAILURES * 3; i++)
        failed(7, (int64_t)i * AUTH_LOCKOUT_WINDOW_S / 2);
    cr_assert_not(blocked(7, (int64_t)AUTH_LOCKOUT_FAILURES * 3 * AUTH_LOCKOUT_WINDOW_S / 2));
}

Test(lockout, a_right_password_clears_the_count)
{
    for (int i = 0; i < AUTH_LOCKOUT_FAILURES - 1; i++)
        failed(9, 100);
    TD_ASSERT_OK(auth_store_lockout_succeeded(db, 9));
    failed(9, 101);
    cr_assert_not(blocked(9, 102));
}

Test(lockout, an_expired_lock_starts_a_new_window)
{
    for (int i = 0; i < AUTH_LOCKOUT_FAILURES; i++)
        failed(5, 100);
    cr_assert(blocked(5, 101));
    int64_t later = 100 + AUTH_LOCKOUT_S + AUTH_LOCKOUT_WINDOW_S;
    failed(5, later);
    cr_assert_not(blocked(5, later), "one failure in a new window does not lock");
    TD_ASSERT_OK(auth_store_prune(db, later + AUTH_LOCKOUT_WINDOW_S + 1));
    cr_assert_not(blocked(5, later + 1));
}
