/*
 * config.h — td-diary's settings (config.c holds the table).
 */
#ifndef DIARY_CONFIG_H
#define DIARY_CONFIG_H

#include "td_config.h"

struct diary_config {
    struct td_base_config base;
    char *rpc_url;                  /* DIARY_RPC_URL: where the gateway calls */
    char *auth_url;                 /* DIARY_RPC_AUTH_URL: where td-auth calls (tls+tcp);
                                     * NULL: td-auth uses DIARY_RPC_URL */
    char *operator_url;             /* DIARY_RPC_OPERATOR_URL: where tdctl calls */
    char *sentiment_url;            /* SENTIMENT_RPC_URL */
    long long sentiment_timeout_ms; /* SENTIMENT_TIMEOUT_MS: how long a write waits for analysis */
    char *database_url;             /* DIARY_DATABASE_URL: NULL/"sqlite:" SQLite under DATA_DIR,
                                     * else PostgreSQL (services/diary/store.h) */
    long long statement_timeout_ms; /* DIARY_DATABASE_STATEMENT_TIMEOUT_MS (PostgreSQL) */
};

/* Loads and validates; prints the one-line error itself. 0 or TD_ECONFIG. */
int diary_config_load(struct diary_config *cfg);
void diary_config_free(struct diary_config *cfg);

/* The table itself (*n rows): for the test that keeps .env.example equal to
 * it (tests/unit/env_example.h). */
const struct td_cfg_var *diary_config_vars(size_t *n);

#endif
