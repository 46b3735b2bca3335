/*
 * config.h — td-gateway's settings, one table (config.c) of environment
 * variables with their defaults and bounds. .env.example lists them, each with its default.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include "td_config.h"

#include <stdbool.h>

struct gw_config {
    struct td_base_config base;
    char *listen;         /* GATEWAY_LISTEN "127.0.0.1:8080" */
    char *auth_url;       /* AUTH_RPC_URL */
    char *diary_url;      /* DIARY_RPC_URL */
    char *sentiment_url;  /* SENTIMENT_RPC_URL (pinged by /ready) */
    char *sentiment_gateway_url; /* SENTIMENT_RPC_GATEWAY_URL: td-sentiment's listener
                                  * for gateways (tls+tcp); NULL: SENTIMENT_RPC_URL */
    char *auth_events_url; /* AUTH_EVENTS_URL: td-auth's revocation feed */
    long long threads;    /* GATEWAY_THREADS: civetweb workers = concurrent connections */
    long long queue;      /* GATEWAY_QUEUE: accepted connections waiting for a worker */
    long long keepalive_ms;  /* GATEWAY_KEEPALIVE_MS */
    long long request_timeout_ms; /* GATEWAY_REQUEST_TIMEOUT_MS: headers and body, in all */
    long long reserved_threads;   /* GATEWAY_RESERVED_THREADS: kept for whole requests */
    long long max_client_connections; /* GATEWAY_MAX_CLIENT_CONNECTIONS per address, 0: any */
    long long upstream_max_inflight;  /* GATEWAY_UPSTREAM_MAX_INFLIGHT calls per daemon */
    long long pwhash_concurrency; /* GATEWAY_PWHASH_CONCURRENCY password checks at once */
    long long pwhash_queue_ms;    /* GATEWAY_PWHASH_QUEUE_MS: longest expected wait */
    long long max_body;   /* GATEWAY_MAX_BODY bytes */
    long long max_json_depth; /* GATEWAY_MAX_JSON_DEPTH */
    char *jwt_secret;     /* JWT_SECRET_KEY */
    long long jwt_leeway; /* JWT_LEEWAY seconds for exp/nbf */
    char *cors_origins;   /* CORS_ORIGINS, comma-separated */
    bool ratelimit_enabled; /* RATELIMIT_ENABLED */
    char *ratelimit_storage; /* RATELIMIT_STORAGE memory | redis://host:port/db */
    char *ratelimit_register; /* RATELIMIT_REGISTER "3/hour" */
    char *ratelimit_login;    /* RATELIMIT_LOGIN "5/15minutes" */
    char *trusted_proxies;    /* TRUSTED_PROXIES, comma-separated addresses */
    char *docs_dir;           /* DOCS_DIR: Swagger UI assets + openapi.json */
    char *static_dir;         /* STATIC_DIR: the web app */
};

/* Loads and validates; prints the one-line error itself. 0 or TD_ECONFIG. */
int gw_config_load(struct gw_config *cfg);
void gw_config_free(struct gw_config *cfg);

/* The table itself (*n rows): for the test that keeps .env.example equal to
 * it (tests/unit/env_example.h). */
const struct td_cfg_var *gw_config_vars(size_t *n);

#endif
