/*
 * test_lockout.c — failed re-authentications lock an account for a while,
 * per account, and a right password clears the count.
 */
#include "lockout.h"

#include <criterion/criterion.h>
#include <stdlib.h>

static struct auth_lockout *l;

static void setup(void)
{
    l = malloc(sizeof *l);
    auth_lockout_init(l);
}

static void teardown(void)
{
    auth_lockout_destroy(l);
    free(l);
}

TestSuite(lockout, .init = setup, .fini = teardown);

Test(lockout, five_failures_in_the_window_lock_for_a_while)
{
    for (int i = 0; i < AUTH_LOCKOUT_FAILURES - 1; i++) {
        auth_lockout_failed(l, 42, 1000 + i);
        cr_assert_not(auth_lockout_blocked(l, 42, 1000 + i), "locked after %d", i + 1);
    }
    auth_lockout_failed(l, 42, 1010);
    cr_assert(auth_lockout_blocked(l, 42, 1011));
    cr_assert_not(auth_lockout_blocked(l, 43, 1011), "another account is not affected");
    cr_assert(auth_lockout_blocked(l, 42, 1010 + AUTH_LOCKOUT_S - 1));
    cr_assert_not(auth_lockout_blocked(l, 42, 1010 + AUTH_LOCKOUT_S));
}

Test(lockout, failures_spread_beyond_the_window_do_not_add_up)
{
    for (int i = 0; i < AUTH_LOCKOUT_FAILURES * 3; i++)
        auth_lockout_failed(l, 7, (int64_t)i * AUTH_LOCKOUT_WINDOW_S / 2);
    cr_assert_not(auth_lockout_blocked(l, 7, (int64_t)AUTH_LOCKOUT_FAILURES * 3 *
                                                 AUTH_LOCKOUT_WINDOW_S / 2));
}

Test(lockout, a_right_password_clears_the_count)
{
    for (int i = 0; i < AUTH_LOCKOUT_FAILURES - 1; i++)
        auth_lockout_failed(l, 9, 100);
    auth_lockout_succeeded(l, 9);
    auth_lockout_failed(l, 9, 101);
    cr_assert_not(auth_lockout_blocked(l, 9, 102));
}
