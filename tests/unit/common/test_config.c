/*
 * test_config.c — the table-driven configuration loader: defaults, testing
 * defaults, bounds, booleans, production's refusal of default secrets, and
 * the .env file (which never overrides the real environment).
 */
#include "td_config.h"
#include "td_error.h"
#include "td_log.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cfg {
    struct td_base_config base;
    char *name;
    long long count;
    bool flag;
    char *secret;
};

static const struct td_cfg_var vars[] = {
    TD_CFG_BASE_ROWS(struct cfg),
    {"TDT_NAME", TD_CFG_STRING, "dflt", NULL, 1, 8, offsetof(struct cfg, name), 0},
    {"TDT_COUNT", TD_CFG_INT, "5", "1", 1, 10, offsetof(struct cfg, count), 0},
    {"TDT_FLAG", TD_CFG_BOOL, "true", "false", 0, 0, offsetof(struct cfg, flag), 0},
    {"TDT_SECRET", TD_CFG_STRING, "development-secret-development-secret", NULL, 32, 256,
     offsetof(struct cfg, secret), TD_CFG_SECRET},
};
#define NVARS (sizeof vars / sizeof vars[0])

static void clean_env(void)
{
    const char *names[] = {"APP_ENV", "TDT_NAME", "TDT_COUNT", "TDT_FLAG", "TDT_SECRET",
                           "TD_ENV_FILE", "TDT_FROM_FILE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
}

TestSuite(config, .init = clean_env);

Test(config, development_defaults_apply)
{
    struct cfg c;
    char err[256];
    TD_ASSERT_OK(td_config_load(vars, NVARS, &c, err, sizeof err), "%s", err);
    cr_assert_str_eq(c.name, "dflt");
    cr_assert_eq(c.count, 5);
    cr_assert(c.flag);
    cr_assert_str_eq(c.base.log_level, "info");
    cr_assert_eq(c.base.rpc_workers, 8);
    td_config_free(vars, NVARS, &c);
    cr_assert_null(c.name);
}

Test(config, testing_has_its_own_defaults)
{
    setenv("APP_ENV", "testing", 1);
    struct cfg c;
    char err[256];
    TD_ASSERT_OK(td_config_load(vars, NVARS, &c, err, sizeof err), "%s", err);
    cr_assert_eq(c.count, 1);
    cr_assert_not(c.flag);
    td_config_free(vars, NVARS, &c);
}

Test(config, out_of_range_integer_names_the_variable)
{
    const char *bad[] = {"11", "0", "abc", "5x", "", "-", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("TDT_COUNT", bad[i], 1);
        struct cfg c;
        char err[256] = "";
        int rc = td_config_load(vars, NVARS, &c, err, sizeof err);
        if (bad[i][0] == '\0') { /* empty means unset: the default applies */
            cr_assert_eq(rc, 0);
            td_config_free(vars, NVARS, &c);
            continue;
        }
        cr_assert_eq(rc, TD_ECONFIG, "'%s' accepted", bad[i]);
        cr_assert_not_null(strstr(err, "TDT_COUNT"), "error does not name the variable: %s", err);
    }
}

Test(config, booleans_take_the_usual_spellings)
{
    const char *yes[] = {"true", "1", "YES", "on"}, *no[] = {"false", "0", "no", "OFF"};
    for (int i = 0; i < 4; i++) {
        struct cfg c;
        char err[256];
        setenv("TDT_FLAG", yes[i], 1);
        TD_ASSERT_OK(td_config_load(vars, NVARS, &c, err, sizeof err));
        cr_assert(c.flag);
        td_config_free(vars, NVARS, &c);
        setenv("TDT_FLAG", no[i], 1);
        TD_ASSERT_OK(td_config_load(vars, NVARS, &c, err, sizeof err));
        cr_assert_not(c.flag);
        td_config_free(vars, NVARS, &c);
    }
    setenv("TDT_FLAG", "maybe", 1);
    struct cfg c;
    char err[256];
    cr_assert_eq(td_config_load(vars, NVARS, &c, err, sizeof err), TD_ECONFIG);
}

Test(config, string_length_bounds_hold)
{
    setenv("TDT_NAME", "far-too-long", 1);
    struct cfg c;
    char err[256];
    cr_assert_eq(td_config_load(vars, NVARS, &c, err, sizeof err), TD_ECONFIG);
    cr_assert_not_null(strstr(err, "TDT_NAME"));
}

Test(config, production_refuses_default_and_short_secrets)
{
    setenv("APP_ENV", "production", 1);
    struct cfg c;
    char err[256];
    cr_assert_eq(td_config_load(vars, NVARS, &c, err, sizeof err), TD_ECONFIG);
    cr_assert_not_null(strstr(err, "TDT_SECRET"), "%s", err);

    setenv("TDT_SECRET", "short", 1);
    cr_assert_eq(td_config_load(vars, NVARS, &c, err, sizeof err), TD_ECONFIG);

    setenv("TDT_SECRET", "a-real-production-secret-of-enough-length!", 1);
    TD_ASSERT_OK(td_config_load(vars, NVARS, &c, err, sizeof err), "%s", err);
    td_config_free(vars, NVARS, &c);
}

Test(config, unknown_app_env_is_refused)
{
    setenv("APP_ENV", "staging", 1);
    struct cfg c;
    char err[256];
    cr_assert_eq(td_config_load(vars, NVARS, &c, err, sizeof err), TD_ECONFIG);
    cr_assert_not_null(strstr(err, "APP_ENV"));
}

Test(config, env_file_fills_gaps_but_never_overrides)
{
    char path[] = "/tmp/td-env-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char text[] = "# comment\n\nTDT_NAME=fromfile\nexport TDT_FROM_FILE=\"quoted value\"\n"
                        "TDT_COUNT=7\n";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    setenv("TD_ENV_FILE", path, 1);
    setenv("TDT_COUNT", "3", 1);
    char err[256];
    TD_ASSERT_OK(td_env_load_file(err, sizeof err), "%s", err);
    cr_assert_str_eq(getenv("TDT_NAME"), "fromfile");
    cr_assert_str_eq(getenv("TDT_FROM_FILE"), "quoted value");
    cr_assert_str_eq(getenv("TDT_COUNT"), "3", "the real environment wins");
    unlink(path);
}

Test(config, malformed_env_file_line_is_reported)
{
    char path[] = "/tmp/td-env-XXXXXX";
    int fd = mkstemp(path);
    const char text[] = "GOOD=1\nthis line has no equals sign\n";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    setenv("TD_ENV_FILE", path, 1);
    char err[256];
    cr_assert_eq(td_env_load_file(err, sizeof err), TD_ECONFIG);
    cr_assert_not_null(strstr(err, ":2:"), "line number missing: %s", err);
    unlink(path);
}

Test(config, missing_explicit_env_file_is_an_error)
{
    setenv("TD_ENV_FILE", "/nonexistent/td.env", 1);
    char err[256];
    cr_assert_eq(td_env_load_file(err, sizeof err), TD_ECONFIG);
}

Test(config, list_items_are_trimmed_and_empty_ones_skipped)
{
    const char *cursor = " a ,, b,c  ,  ", *item;
    size_t len;
    const char *want[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        cr_assert(td_list_next(&cursor, &item, &len), "item %d missing", i);
        cr_assert_eq(len, strlen(want[i]));
        cr_assert(strncmp(item, want[i], len) == 0);
    }
    cr_assert_not(td_list_next(&cursor, &item, &len));
    cursor = NULL;
    cr_assert_not(td_list_next(&cursor, &item, &len), "NULL is an empty list");
    cursor = " , ,";
    cr_assert_not(td_list_next(&cursor, &item, &len));
}

struct prodcfg {
    struct td_base_config base;
    char *secret;
    char *origins;
};

static const struct td_cfg_var prod_vars[] = {
    TD_CFG_BASE_ROWS(struct prodcfg),
    {"TDT_SECRET", TD_CFG_STRING, "development-secret-development-secret", NULL, 32, 256,
     offsetof(struct prodcfg, secret), TD_CFG_SECRET | TD_CFG_FILE},
    {"TDT_ORIGINS", TD_CFG_STRING, "http://localhost:5173", NULL, 0, 256,
     offsetof(struct prodcfg, origins), TD_CFG_PROD_SET},
};
#define NPROD (sizeof prod_vars / sizeof prod_vars[0])

static char *write_temp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/td-secret-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(config, secret_can_come_from_a_file)
{
    unsetenv("TDT_ORIGINS");
    unsetenv("TDT_SECRET_FILE");
    char *path = write_temp("a-secret-read-from-a-file-0123456789\n");
    setenv("TDT_SECRET_FILE", path, 1);
    struct prodcfg c;
    char err[256];
    TD_ASSERT_OK(td_config_load(prod_vars, NPROD, &c, err, sizeof err), "%s", err);
    cr_assert_str_eq(c.secret, "a-secret-read-from-a-file-0123456789", "newline dropped");
    td_config_free(prod_vars, NPROD, &c);

    setenv("TDT_SECRET", "also-set-directly-also-set-directly-xx", 1);
    cr_assert_eq(td_config_load(prod_vars, NPROD, &c, err, sizeof err), TD_ECONFIG);
    cr_assert_not_null(strstr(err, "not both"), "%s", err);
    unsetenv("TDT_SECRET");

    setenv("TDT_SECRET_FILE", "/nonexistent/secret", 1);
    cr_assert_eq(td_config_load(prod_vars, NPROD, &c, err, sizeof err), TD_ECONFIG);
    cr_assert_not_null(strstr(err, "TDT_SECRET_FILE"), "%s", err);
    unlink(path);
    unsetenv("TDT_SECRET_FILE");
}

Test(config, production_wants_explicit_settings_and_a_file_counts)
{
    unsetenv("TDT_SECRET_FILE");
    setenv("APP_ENV", "production", 1);
    setenv("TDT_SECRET", "a-real-production-secret-of-enough-length!", 1);
    unsetenv("TDT_ORIGINS");
    struct prodcfg c;
    char err[256];
    cr_assert_eq(td_config_load(prod_vars, NPROD, &c, err, sizeof err), TD_ECONFIG);
    cr_assert_not_null(strstr(err, "TDT_ORIGINS"), "%s", err);
    setenv("TDT_ORIGINS", "https://diary.example.com", 1);
    unsetenv("TDT_SECRET");
    char *path = write_temp("a-production-secret-from-a-file-0123456789");
    setenv("TDT_SECRET_FILE", path, 1);
    TD_ASSERT_OK(td_config_load(prod_vars, NPROD, &c, err, sizeof err), "%s", err);
    td_config_free(prod_vars, NPROD, &c);
    unlink(path);
    unsetenv("TDT_SECRET_FILE");
    unsetenv("TDT_ORIGINS");
}

Test(config, json_log_lines_survive_invalid_utf8)
{
    /* A message with a stray byte and a cut character still makes a line. */
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    int saved = dup(STDERR_FILENO);
    dup2(pipefd[1], STDERR_FILENO);
    td_log_init("td-test", TD_LOG_INFO, TD_LOG_JSON);
    td_log_write(TD_LOG_WARN, "probe", "raw \xff bytes and a cut \xe2\x82");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(pipefd[1]);
    char buf[2048];
    ssize_t n = read(pipefd[0], buf, sizeof buf - 1);
    close(pipefd[0]);
    cr_assert_gt(n, 0);
    buf[n] = '\0';
    cr_assert_not_null(strstr(buf, "\"msg\":\"raw ? bytes and a cut ??\""), "%s", buf);
    td_log_init("td-test", TD_LOG_INFO, TD_LOG_TEXT);
}
