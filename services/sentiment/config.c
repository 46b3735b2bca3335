/*
 * config.c — the table of td-sentiment's environment variables and the checks
 * that involve more than one of them.
 *
 * Timing defaults are chosen around td-diary's SENTIMENT_TIMEOUT_MS (2000 ms
 * by default): the whole LLM exchange, retries and backoff included, is
 * bounded by SENTIMENT_LLM_DEADLINE_MS (1500 ms), after which the embedded
 * analyzer answers in well under a millisecond, so td-diary normally gets a
 * reply in time even when the LLM is down. Raising the deadline above
 * td-diary's timeout is allowed: td-diary then saves the entry unanalysed, and
 * its background pass later finds this daemon's answer in the cache.
 */
#include "config.h"
#include "td_daemon.h"
#include "td_error.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct td_cfg_var vars[] = {
    TD_CFG_BASE_ROWS(struct senti_config),
    {"SENTIMENT_RPC_URL", TD_CFG_STRING, "ipc://var/rpc/sentiment.sock", NULL, 1, 1024,
     offsetof(struct senti_config, rpc_url), TD_CFG_RPC_URL},
    {"SENTIMENT_RPC_GATEWAY_URL", TD_CFG_STRING, NULL, NULL, 1, 1024,
     offsetof(struct senti_config, gateway_url), TD_CFG_RPC_URL},
    {"SENTIMENT_RPC_OPERATOR_URL", TD_CFG_STRING, NULL, NULL, 1, 1024,
     offsetof(struct senti_config, operator_url), TD_CFG_RPC_URL},
    {"SENTIMENT_DIAL_URLS", TD_CFG_STRING, NULL, NULL, 1, 4096,
     offsetof(struct senti_config, dial_urls), TD_CFG_RPC_URL},
    {"SENTIMENT_PROVIDER", TD_CFG_STRING, "lexicon", NULL, 1, 32,
     offsetof(struct senti_config, provider), 0},
    {"GITHUB_TOKEN", TD_CFG_STRING, NULL, NULL, 1, 4096,
     offsetof(struct senti_config, github_token), TD_CFG_FILE},
    {"GITHUB_MODEL_NAME", TD_CFG_STRING, "gpt-4o", NULL, 1, 128,
     offsetof(struct senti_config, model), 0},
    {"SENTIMENT_API_URL", TD_CFG_STRING, "https://models.github.ai/inference/chat/completions",
     NULL, 8, 2048, offsetof(struct senti_config, api_url), 0},
    {"SENTIMENT_LLM_TIMEOUT_MS", TD_CFG_INT, "1500", NULL, 50, 120000,
     offsetof(struct senti_config, llm_timeout_ms), 0},
    {"SENTIMENT_LLM_RETRIES", TD_CFG_INT, "2", NULL, 0, 10,
     offsetof(struct senti_config, llm_retries), 0},
    {"SENTIMENT_LLM_DEADLINE_MS", TD_CFG_INT, "1500", NULL, 50, 300000,
     offsetof(struct senti_config, llm_deadline_ms), 0},
    {"SENTIMENT_LLM_BREAKER_FAILURES", TD_CFG_INT, "5", NULL, 0, 1000,
     offsetof(struct senti_config, llm_breaker_failures), 0},
    {"SENTIMENT_LLM_BREAKER_COOLDOWN_MS", TD_CFG_INT, "10000", NULL, 0, 3600000,
     offsetof(struct senti_config, llm_breaker_cooldown_ms), 0},
    {"SENTIMENT_CACHE_MAX_ROWS", TD_CFG_INT, "100000", NULL, 0, 100000000,
     offsetof(struct senti_config, cache_max_rows), 0},
};

#define NVARS (sizeof vars / sizeof vars[0])

int senti_config_check(const struct senti_config *cfg, char *err, size_t errlen)
{
    if (strcmp(cfg->provider, "lexicon") != 0 && strcmp(cfg->provider, "github-models") != 0) {
        snprintf(err, errlen, "SENTIMENT_PROVIDER: must be lexicon or github-models");
        return TD_ECONFIG;
    }
    if (strcmp(cfg->provider, "github-models") != 0)
        return 0;
    if (cfg->github_token == NULL) {
        snprintf(err, errlen, "GITHUB_TOKEN: must be set when SENTIMENT_PROVIDER=github-models");
        return TD_ECONFIG;
    }
    /* A token with a line break would let the header we build carry a second
     * header; refuse it rather than send it. */
    if (strpbrk(cfg->github_token, "\r\n") != NULL) {
        snprintf(err, errlen, "GITHUB_TOKEN: must be a single line");
        return TD_ECONFIG;
    }
    bool https = strncasecmp(cfg->api_url, "https://", 8) == 0;
    bool http = strncasecmp(cfg->api_url, "http://", 7) == 0;
    if (!https && !http) {
        snprintf(err, errlen, "SENTIMENT_API_URL: must be an http:// or https:// URL");
        return TD_ECONFIG;
    }
    /* The bearer token travels with every request: in production it goes
     * over TLS only. */
    if (!https && cfg->base.app_env == TD_ENV_PRODUCTION) {
        snprintf(err, errlen, "SENTIMENT_API_URL: must be https:// in production");
        return TD_ECONFIG;
    }
    return 0;
}

int senti_config_load(struct senti_config *cfg)
{
    int rc = td_daemon_configure("td-sentiment", TD_ROLE_SENTIMENT, vars, NVARS, cfg, &cfg->base);
    if (rc != 0)
        return rc;
    char err[256];
    if (senti_config_check(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "td-sentiment: configuration error: %s\n", err);
        senti_config_free(cfg);
        return TD_ECONFIG;
    }
    return 0;
}

void senti_config_free(struct senti_config *cfg)
{
    td_config_free(vars, NVARS, cfg);
}

const struct td_cfg_var *senti_config_vars(size_t *n)
{
    *n = sizeof vars / sizeof vars[0];
    return vars;
}
