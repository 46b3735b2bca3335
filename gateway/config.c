/*
 * config.c — the table of td-gateway's environment variables.
 */
#include "config.h"
#include "td_daemon.h"

#include <stddef.h>

#define DEV_JWT_SECRET "dev-only-secret-change-me-0123456789abcdef"

static const struct td_cfg_var vars[] = {
    TD_CFG_BASE_ROWS(struct gw_config),
    {"GATEWAY_LISTEN", TD_CFG_STRING, "127.0.0.1:8080", NULL, 1, 128,
     offsetof(struct gw_config, listen), 0},
    {"AUTH_RPC_URL", TD_CFG_STRING, "ipc://var/rpc/auth.sock", NULL, 1, 1024,
     offsetof(struct gw_config, auth_url), TD_CFG_RPC_URL},
    {"DIARY_RPC_URL", TD_CFG_STRING, "ipc://var/rpc/diary.sock", NULL, 1, 1024,
     offsetof(struct gw_config, diary_url), TD_CFG_RPC_URL},
    {"SENTIMENT_RPC_URL", TD_CFG_STRING, "ipc://var/rpc/sentiment.sock", NULL, 1, 1024,
     offsetof(struct gw_config, sentiment_url), TD_CFG_RPC_URL},
    {"SENTIMENT_RPC_GATEWAY_URL", TD_CFG_STRING, NULL, NULL, 1, 1024,
     offsetof(struct gw_config, sentiment_gateway_url), TD_CFG_RPC_URL},
    {"AUTH_EVENTS_URL", TD_CFG_STRING, "ipc://var/rpc/auth-events.sock", NULL, 1, 1024,
     offsetof(struct gw_config, auth_events_url), TD_CFG_RPC_URL},
    {"GATEWAY_THREADS", TD_CFG_INT, "128", "32", 2, 4096, offsetof(struct gw_config, threads), 0},
    {"GATEWAY_QUEUE", TD_CFG_INT, "256", NULL, 1, 65536, offsetof(struct gw_config, queue), 0},
    {"GATEWAY_KEEPALIVE_MS", TD_CFG_INT, "5000", NULL, 0, 600000,
     offsetof(struct gw_config, keepalive_ms), 0},
    {"GATEWAY_REQUEST_TIMEOUT_MS", TD_CFG_INT, "10000", NULL, 100, 600000,
     offsetof(struct gw_config, request_timeout_ms), 0},
    /* The edge under slow and hostile clients (gate.c, bulkhead.c). */
    {"GATEWAY_RESERVED_THREADS", TD_CFG_INT, "8", NULL, 1, 1024,
     offsetof(struct gw_config, reserved_threads), 0},
    {"GATEWAY_MAX_CLIENT_CONNECTIONS", TD_CFG_INT, "64", NULL, 0, 65536,
     offsetof(struct gw_config, max_client_connections), 0},
    {"GATEWAY_UPSTREAM_MAX_INFLIGHT", TD_CFG_INT, "96", "12", 1, 4096,
     offsetof(struct gw_config, upstream_max_inflight), 0},
    {"GATEWAY_PWHASH_CONCURRENCY", TD_CFG_INT, "2", NULL, 1, 256,
     offsetof(struct gw_config, pwhash_concurrency), 0},
    {"GATEWAY_PWHASH_QUEUE_MS", TD_CFG_INT, "3000", NULL, 0, 60000,
     offsetof(struct gw_config, pwhash_queue_ms), 0},
    /* at most 960 KiB: a body must fit, with its envelope, in the daemons'
     * 1 MiB request cap (TD_PROTO_MAX_REQUEST), or nng drops the connection
     * mid-frame, which can wedge nng 1.5.2's reaper (docs/operations.md) */
    {"GATEWAY_MAX_BODY", TD_CFG_INT, "262144", NULL, 1024, 983040,
     offsetof(struct gw_config, max_body), 0},
    {"GATEWAY_MAX_JSON_DEPTH", TD_CFG_INT, "32", NULL, 2, 512,
     offsetof(struct gw_config, max_json_depth), 0},
    {"JWT_SECRET_KEY", TD_CFG_STRING, DEV_JWT_SECRET, NULL, 32, 4096,
     offsetof(struct gw_config, jwt_secret), TD_CFG_SECRET | TD_CFG_FILE},
    {"JWT_LEEWAY", TD_CFG_INT, "30", NULL, 0, 300, offsetof(struct gw_config, jwt_leeway), 0},
    {"CORS_ORIGINS", TD_CFG_STRING, "http://localhost:5173", NULL, 0, 4096,
     offsetof(struct gw_config, cors_origins), TD_CFG_PROD_SET},
    {"RATELIMIT_ENABLED", TD_CFG_BOOL, "true", "false", 0, 0,
     offsetof(struct gw_config, ratelimit_enabled), 0},
    {"RATELIMIT_STORAGE", TD_CFG_STRING, "memory", NULL, 1, 1024,
     offsetof(struct gw_config, ratelimit_storage), 0},
    {"RATELIMIT_REGISTER", TD_CFG_STRING, "3/hour", NULL, 1, 64,
     offsetof(struct gw_config, ratelimit_register), 0},
    {"RATELIMIT_LOGIN", TD_CFG_STRING, "5/15minutes", NULL, 1, 64,
     offsetof(struct gw_config, ratelimit_login), 0},
    {"TRUSTED_PROXIES", TD_CFG_STRING, "", NULL, 0, 4096,
     offsetof(struct gw_config, trusted_proxies), 0},
    {"DOCS_DIR", TD_CFG_STRING, TD_DEFAULT_DOCS_DIR, NULL, 1, 4096,
     offsetof(struct gw_config, docs_dir), 0},
    {"STATIC_DIR", TD_CFG_STRING, TD_DEFAULT_STATIC_DIR, NULL, 1, 4096,
     offsetof(struct gw_config, static_dir), 0},
};

int gw_config_load(struct gw_config *cfg)
{
    return td_daemon_configure("td-gateway", TD_ROLE_GATEWAY, vars, sizeof vars / sizeof vars[0], cfg, &cfg->base);
}

void gw_config_free(struct gw_config *cfg)
{
    td_config_free(vars, sizeof vars / sizeof vars[0], cfg);
}

const struct td_cfg_var *gw_config_vars(size_t *n)
{
    *n = sizeof vars / sizeof vars[0];
    return vars;
}
