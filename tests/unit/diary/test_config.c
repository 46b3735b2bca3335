/*
 * test_config.c — td-diary's own rule on top of its table (config.c): with
 * RPC_WORKERS unset it runs DIARY_SQLITE_WORKERS (32) workers on SQLite and
 * the shared default (8) on PostgreSQL; a value that is set wins on both.
 * Each Criterion test runs in a process of its own, so setenv stays there.
 */
#include "services/diary/config.h"
#include "td_log.h"

#include <criterion/criterion.h>
#include <stdlib.h>

static void setup(void)
{
    td_log_threshold = TD_LOG_ERR;
    cr_assert_eq(setenv("TD_ENV_FILE", "/dev/null", 1), 0); /* no .env from the cwd */
    cr_assert_eq(setenv("APP_ENV", "development", 1), 0);
    cr_assert_eq(unsetenv("RPC_WORKERS"), 0);
    cr_assert_eq(unsetenv("DIARY_DATABASE_URL"), 0);
}

TestSuite(config, .init = setup);

static long long workers(void)
{
    struct diary_config cfg;
    cr_assert_eq(diary_config_load(&cfg), 0, "the configuration was refused");
    long long n = cfg.base.rpc_workers;
    diary_config_free(&cfg);
    return n;
}

Test(config, sqlite_holds_32_writes_at_once_when_rpc_workers_is_unset)
{
    cr_expect_eq(workers(), 32);
    cr_assert_eq(setenv("DIARY_DATABASE_URL", "sqlite:", 1), 0);
    cr_expect_eq(workers(), 32);
    /* empty is unset, as for every variable (Compose passes "" through) */
    cr_assert_eq(setenv("RPC_WORKERS", "", 1), 0);
    cr_expect_eq(workers(), 32);
}

Test(config, postgresql_keeps_the_shared_default_of_8)
{
    cr_assert_eq(setenv("DIARY_DATABASE_URL", "postgresql://td@127.0.0.1:5432/td", 1), 0);
    cr_expect_eq(workers(), 8);
}

Test(config, a_value_that_is_set_wins_on_either_engine)
{
    cr_assert_eq(setenv("RPC_WORKERS", "5", 1), 0);
    cr_expect_eq(workers(), 5);
    cr_assert_eq(setenv("RPC_WORKERS", "8", 1), 0);
    cr_expect_eq(workers(), 8, "8 set by hand is 8, not the SQLite default");
    cr_assert_eq(setenv("DIARY_DATABASE_URL", "postgresql://td@127.0.0.1:5432/td", 1), 0);
    cr_assert_eq(setenv("RPC_WORKERS", "12", 1), 0);
    cr_expect_eq(workers(), 12);
}
