/*
 * config.h — td-auth's settings (config.c holds the table).
 */
#ifndef AUTH_CONFIG_H
#define AUTH_CONFIG_H

#include "td_config.h"

struct auth_config {
    struct td_base_config base;
    char *rpc_url;          /* AUTH_RPC_URL: where the gateway calls */
    char *operator_url;     /* AUTH_RPC_OPERATOR_URL: where tdctl calls */
    char *events_url;       /* AUTH_EVENTS_URL: where revocations are published */
    char *diary_url;        /* DIARY_RPC_URL: account deletion reaches td-diary */
    char *diary_auth_url;   /* DIARY_RPC_AUTH_URL: td-diary's listener for td-auth
                             * (tls+tcp); NULL: DIARY_RPC_URL */
    char *jwt_secret;       /* JWT_SECRET_KEY */
    long long access_ttl;   /* JWT_ACCESS_TTL seconds */
    long long refresh_ttl;  /* JWT_REFRESH_TTL seconds */
    long long pwhash_ops;   /* PWHASH_OPSLIMIT */
    long long pwhash_mem;   /* PWHASH_MEMLIMIT bytes */
    long long pwhash_concurrency; /* PWHASH_CONCURRENCY: hashes in flight at once */
    char *database_url;     /* AUTH_DATABASE_URL: NULL/"sqlite:" SQLite under DATA_DIR,
                             * else a PostgreSQL connection string (td_sql.h) */
    long long statement_timeout_ms; /* AUTH_DATABASE_STATEMENT_TIMEOUT_MS (PostgreSQL) */
};

int auth_config_load(struct auth_config *cfg);
void auth_config_free(struct auth_config *cfg);

/* The table itself (*n rows): for the test that keeps .env.example equal to
 * it (tests/unit/env_example.h). */
const struct td_cfg_var *auth_config_vars(size_t *n);

#endif
