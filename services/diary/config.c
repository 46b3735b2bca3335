/*
 * config.c — the table of td-diary's environment variables.
 */
#include "config.h"
#include "td_daemon.h"
#include "td_sql.h"

#include <stddef.h>
#include <stdlib.h>

/* RPC_WORKERS when it is not set, on SQLite. A worker holds a create from
 * its call to td-sentiment until its group commits (store.c), so the
 * workers bound the writes in one group: 32 made 1.5x the creates per
 * second of 8 at two thirds of the CPU per create, for ~30 MB more at peak
 * (docs/performance.md, "How many writes td-diary holds at once"). On
 * PostgreSQL every worker also holds a connection, and the shared default
 * (8, td_config.h) keeps a few replicas within max_connections. */
#define DIARY_SQLITE_WORKERS 32

static const struct td_cfg_var vars[] = {
    TD_CFG_BASE_ROWS(struct diary_config),
    {"DIARY_RPC_URL", TD_CFG_STRING, "ipc://var/rpc/diary.sock", NULL, 1, 1024,
     offsetof(struct diary_config, rpc_url), TD_CFG_RPC_URL},
    {"DIARY_RPC_AUTH_URL", TD_CFG_STRING, NULL, NULL, 1, 1024,
     offsetof(struct diary_config, auth_url), TD_CFG_RPC_URL},
    {"DIARY_RPC_OPERATOR_URL", TD_CFG_STRING, "ipc://var/rpc/diary-operator.sock", NULL, 1, 1024,
     offsetof(struct diary_config, operator_url), TD_CFG_RPC_URL},
    {"SENTIMENT_RPC_URL", TD_CFG_STRING, "ipc://var/rpc/sentiment.sock", NULL, 1, 1024,
     offsetof(struct diary_config, sentiment_url), TD_CFG_RPC_URL},
    {"SENTIMENT_TIMEOUT_MS", TD_CFG_INT, "2000", NULL, 10, 60000,
     offsetof(struct diary_config, sentiment_timeout_ms), 0},
    /* A libpq URL may carry the role's password: it may come from a file. */
    {"DIARY_DATABASE_URL", TD_CFG_STRING, NULL, NULL, 1, 4096,
     offsetof(struct diary_config, database_url), TD_CFG_FILE},
    {"DIARY_DATABASE_STATEMENT_TIMEOUT_MS", TD_CFG_INT, "2000", NULL, 100, 600000,
     offsetof(struct diary_config, statement_timeout_ms), 0},
};

int diary_config_load(struct diary_config *cfg)
{
    int rc = td_daemon_configure("td-diary", TD_ROLE_DIARY, vars, sizeof vars / sizeof vars[0],
                                 cfg, &cfg->base);
    if (rc != 0)
        return rc;
    rc = td_sql_check_settings("td-diary", "DIARY_DATABASE_URL", cfg->database_url,
                               "DIARY_DATABASE_STATEMENT_TIMEOUT_MS", cfg->statement_timeout_ms,
                               cfg->base.rpc_timeout_ms);
    if (rc != 0) {
        diary_config_free(cfg);
        return rc;
    }
    enum td_sql_engine engine; /* the URL was checked just above */
    char err[256];
    const char *workers = getenv("RPC_WORKERS"); /* empty is unset (td_config.c) */
    if ((workers == NULL || workers[0] == '\0') &&
        td_sql_url_engine(cfg->database_url, &engine, err, sizeof err) == 0 &&
        engine == TD_SQL_SQLITE)
        cfg->base.rpc_workers = DIARY_SQLITE_WORKERS;
    return 0;
}

void diary_config_free(struct diary_config *cfg)
{
    td_config_free(vars, sizeof vars / sizeof vars[0], cfg);
}

const struct td_cfg_var *diary_config_vars(size_t *n)
{
    *n = sizeof vars / sizeof vars[0];
    return vars;
}
