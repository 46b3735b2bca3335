/*
 * config.h — td-sentiment's settings (config.c holds the table and the
 * cross-field checks).
 */
#ifndef SENTI_CONFIG_H
#define SENTI_CONFIG_H

#include "td_config.h"

struct senti_config {
    struct td_base_config base;
    char *rpc_url;             /* SENTIMENT_RPC_URL: where td-diary calls */
    char *gateway_url;         /* SENTIMENT_RPC_GATEWAY_URL: the gateway's readiness
                                * ping (tls+tcp); NULL: it uses SENTIMENT_RPC_URL */
    char *operator_url;        /* SENTIMENT_RPC_OPERATOR_URL: tdctl's ping, or NULL */
    char *dial_urls;           /* SENTIMENT_DIAL_URLS: callers' sockets to dial in to
                                * (replicas scale out without per-replica config) */
    char *provider;            /* SENTIMENT_PROVIDER: lexicon | github-models */
    char *github_token;        /* GITHUB_TOKEN (never logged) */
    char *model;               /* GITHUB_MODEL_NAME */
    char *api_url;             /* SENTIMENT_API_URL */
    long long llm_timeout_ms;  /* SENTIMENT_LLM_TIMEOUT_MS: connect + transfer, per attempt */
    long long llm_retries;     /* SENTIMENT_LLM_RETRIES on 429/5xx/transport errors */
    long long llm_deadline_ms; /* SENTIMENT_LLM_DEADLINE_MS: every attempt and backoff together */
    long long llm_breaker_failures; /* SENTIMENT_LLM_BREAKER_FAILURES: 0 disables the breaker */
    long long llm_breaker_cooldown_ms; /* SENTIMENT_LLM_BREAKER_COOLDOWN_MS */
    long long cache_max_rows;  /* SENTIMENT_CACHE_MAX_ROWS: 0 disables the cache */
};

/* Reads and validates the environment; on a bad value prints one line naming
 * the variable and returns TD_ECONFIG with nothing to free. */
int senti_config_load(struct senti_config *cfg);

/* Checks the rules that span several variables (provider name, a token for
 * github-models, the API URL's scheme). Returns 0 or TD_ECONFIG with the
 * reason in err. Separate from loading so tests can call it. */
int senti_config_check(const struct senti_config *cfg, char *err, size_t errlen);

void senti_config_free(struct senti_config *cfg);

/* The table itself (*n rows): for the test that keeps .env.example equal to
 * it (tests/unit/env_example.h). */
const struct td_cfg_var *senti_config_vars(size_t *n);

#endif
