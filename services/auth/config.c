/*
 * config.c — the table of td-auth's environment variables.
 *
 * Password hashing defaults to argon2id at libsodium's INTERACTIVE limits
 * (2 passes, 64 MiB: about 80 ms here), above OWASP's floor of t=2, 19 MiB.
 * Two hashes run at once by default (one per core of a small host; 128 MiB),
 * and twice as many may wait; logins beyond that are shed with 503.
 * Under APP_ENV=testing the cost drops to the minimum so test suites stay
 * fast; production keeps whatever is configured, never below the minimum.
 */
#include "config.h"
#include "td_daemon.h"
#include "td_error.h"
#include "td_sql.h"

#include <stdio.h>

#include <stddef.h>

#define DEV_JWT_SECRET "dev-only-secret-change-me-0123456789abcdef"

static const struct td_cfg_var vars[] = {
    TD_CFG_BASE_ROWS(struct auth_config),
    {"AUTH_RPC_URL", TD_CFG_STRING, "ipc://var/rpc/auth.sock", NULL, 1, 1024,
     offsetof(struct auth_config, rpc_url), TD_CFG_RPC_URL},
    {"AUTH_RPC_OPERATOR_URL", TD_CFG_STRING, "ipc://var/rpc/auth-operator.sock", NULL, 1, 1024,
     offsetof(struct auth_config, operator_url), TD_CFG_RPC_URL},
    {"AUTH_EVENTS_URL", TD_CFG_STRING, "ipc://var/rpc/auth-events.sock", NULL, 1, 1024,
     offsetof(struct auth_config, events_url), TD_CFG_RPC_URL},
    {"DIARY_RPC_URL", TD_CFG_STRING, "ipc://var/rpc/diary.sock", NULL, 1, 1024,
     offsetof(struct auth_config, diary_url), TD_CFG_RPC_URL},
    {"DIARY_RPC_AUTH_URL", TD_CFG_STRING, NULL, NULL, 1, 1024,
     offsetof(struct auth_config, diary_auth_url), TD_CFG_RPC_URL},
    {"JWT_SECRET_KEY", TD_CFG_STRING, DEV_JWT_SECRET, NULL, 32, 4096,
     offsetof(struct auth_config, jwt_secret), TD_CFG_SECRET | TD_CFG_FILE},
    {"JWT_ACCESS_TTL", TD_CFG_INT, "900", NULL, 1, 86400,
     offsetof(struct auth_config, access_ttl), 0},
    {"JWT_REFRESH_TTL", TD_CFG_INT, "604800", NULL, 1, 31536000,
     offsetof(struct auth_config, refresh_ttl), 0},
    {"PWHASH_OPSLIMIT", TD_CFG_INT, "2", "1", 1, 32, offsetof(struct auth_config, pwhash_ops), 0},
    {"PWHASH_MEMLIMIT", TD_CFG_INT, "67108864", "8192", 8192, 4294967296LL,
     offsetof(struct auth_config, pwhash_mem), 0},
    {"PWHASH_CONCURRENCY", TD_CFG_INT, "2", NULL, 1, 256,
     offsetof(struct auth_config, pwhash_concurrency), 0},
    /* A libpq URL may carry the role's password: it may come from a file. */
    {"AUTH_DATABASE_URL", TD_CFG_STRING, NULL, NULL, 1, 4096,
     offsetof(struct auth_config, database_url), TD_CFG_FILE},
    {"AUTH_DATABASE_STATEMENT_TIMEOUT_MS", TD_CFG_INT, "2000", NULL, 100, 600000,
     offsetof(struct auth_config, statement_timeout_ms), 0},
};

int auth_config_load(struct auth_config *cfg)
{
    int rc = td_daemon_configure("td-auth", TD_ROLE_AUTH, vars, sizeof vars / sizeof vars[0],
                                 cfg, &cfg->base);
    if (rc != 0)
        return rc;
    rc = td_sql_check_settings("td-auth", "AUTH_DATABASE_URL", cfg->database_url,
                               "AUTH_DATABASE_STATEMENT_TIMEOUT_MS", cfg->statement_timeout_ms,
                               cfg->base.rpc_timeout_ms);
    if (rc != 0)
        auth_config_free(cfg);
    return rc;
}

void auth_config_free(struct auth_config *cfg)
{
    td_config_free(vars, sizeof vars / sizeof vars[0], cfg);
}

const struct td_cfg_var *auth_config_vars(size_t *n)
{
    *n = sizeof vars / sizeof vars[0];
    return vars;
}
