/*
 * test_user_page.c — the operator's listing of accounts
 * (auth_store_user_page, behind auth.user_list and `tdctl user list`): id
 * order, pages that meet without gaps or repeats, `more` exactly when
 * accounts are left, demo accounts marked, a deleted account gone. A fresh
 * database in a temporary directory per test.
 */
#include "services/auth/store.h"
#include "../td_tempdir.h"
#include "td_error.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static struct auth_store *store;
static struct td_sql *db;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/td-auth-page-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    TD_ASSERT_OK(auth_store_open(&(struct auth_store_opts){.data_dir = dir}, 2, &store));
    db = auth_store_conn(store, 0);
}

static void teardown(void)
{
    auth_store_close(&store);
    td_tempdir_remove(dir);
}

TestSuite(user_page, .init = setup, .fini = teardown);

struct seen {
    struct auth_user_row rows[16];
    int n;
};

static int collect(void *arg, const struct auth_user_row *u)
{
    struct seen *s = arg;
    cr_assert_lt(s->n, 16);
    s->rows[s->n++] = *u;
    return 0;
}

static int64_t add_user(const char *email, int64_t at)
{
    struct auth_user u;
    TD_ASSERT_OK(auth_store_user_insert(db, email, "$argon2id$fake", at, &u));
    return u.id;
}

Test(user_page, pages_follow_id_order_without_gaps_and_say_when_more_is_left)
{
    int64_t ids[5];
    char email[64];
    for (int i = 0; i < 5; i++) {
        snprintf(email, sizeof email, "user%d@example.com", i);
        ids[i] = add_user(email, 1000 + i);
    }
    struct seen s = {.n = 0};
    bool more = false;
    TD_ASSERT_OK(auth_store_user_page(db, 0, 2, collect, &s, &more));
    cr_assert_eq(s.n, 2);
    cr_assert(more);
    TD_ASSERT_OK(auth_store_user_page(db, s.rows[1].id, 2, collect, &s, &more));
    cr_assert_eq(s.n, 4);
    cr_assert(more);
    TD_ASSERT_OK(auth_store_user_page(db, s.rows[3].id, 2, collect, &s, &more));
    cr_assert_eq(s.n, 5);
    cr_assert_not(more, "nothing is left after the last account");
    for (int i = 0; i < 5; i++) {
        snprintf(email, sizeof email, "user%d@example.com", i);
        cr_expect_eq(s.rows[i].id, ids[i]);
        cr_expect_str_eq(s.rows[i].email, email);
        cr_expect_eq(s.rows[i].created_us, 1000 + i);
        cr_expect_not(s.rows[i].demo);
    }
    /* Exactly a page's worth left: no phantom next page. */
    struct seen t = {.n = 0};
    TD_ASSERT_OK(auth_store_user_page(db, ids[2], 2, collect, &t, &more));
    cr_assert_eq(t.n, 2);
    cr_assert_not(more);
}

Test(user_page, demo_accounts_are_marked_and_deleted_accounts_are_gone)
{
    int64_t real = add_user("real@example.com", 1000);
    struct auth_seed_user demo = {.email = "demo@thoughtdiary.example", .hash = "$argon2id$fake"};
    int64_t cleared[4];
    size_t ncleared = 0;
    TD_ASSERT_OK(auth_store_seed(db, &demo, 1, false, 2000, 2001, 9999, cleared, 4, &ncleared));
    int64_t gone = add_user("gone@example.com", 3000);
    TD_ASSERT_OK(auth_store_user_delete(db, gone, 4000, 9999, 4));

    struct seen s = {.n = 0};
    bool more = true;
    TD_ASSERT_OK(auth_store_user_page(db, 0, 100, collect, &s, &more));
    cr_assert_not(more);
    cr_assert_eq(s.n, 2, "the deleted account is still listed");
    cr_expect_eq(s.rows[0].id, real);
    cr_expect_not(s.rows[0].demo);
    cr_expect_eq(s.rows[1].id, demo.id);
    cr_expect(s.rows[1].demo);
    cr_expect_str_eq(s.rows[1].email, "demo@thoughtdiary.example");
}

static int stop_early(void *arg, const struct auth_user_row *u)
{
    (void)u;
    int *calls = arg;
    return ++*calls == 1 ? TD_ENOMEM : 0;
}

Test(user_page, a_callback_error_stops_the_walk_and_is_returned)
{
    add_user("a@example.com", 1);
    add_user("b@example.com", 2);
    int calls = 0;
    bool more = false;
    cr_assert_eq(auth_store_user_page(db, 0, 10, stop_early, &calls, &more), TD_ENOMEM);
    cr_assert_eq(calls, 1);
}
