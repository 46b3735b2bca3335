/*
 * test_env_example.c — .env.example says what td-diary's configuration
 * table (config.c) says: every variable, its default, its bounds
 * (tests/unit/env_example.h).
 */
#include "services/diary/config.h"

#include "../env_example.h"

Test(env_example, lists_every_variable_of_the_table_with_its_default_and_bounds)
{
    size_t n = 0;
    const struct td_cfg_var *vars = diary_config_vars(&n);
    cr_assert_gt(n, 5);
    env_example_check(vars, n, "td-diary");
}
