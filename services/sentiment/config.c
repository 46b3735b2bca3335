/*
 * config.c — the table of td-sentiment's environment variables.
 */
#include "config.h"
#include "td_daemon.h"

#include <stddef.h>

static const struct td_cfg_var vars[] = {
    TD_CFG_BASE_ROWS(struct senti_config),
    {"SENTIMENT_RPC_URL", TD_CFG_STRING, "tcp://127.0.0.1:5553", NULL, 1, 1024,
     offsetof(struct senti_config, rpc_url), 0},
    {"SENTIMENT_PROVIDER", TD_CFG_STRING, "lexicon", NULL, 1, 32,
     offsetof(struct senti_config, provider), 0},
    {"GITHUB_TOKEN", TD_CFG_STRING, NULL, NULL, 1, 4096,
     offsetof(struct senti_config, github_token), 0},
    {"GITHUB_MODEL_NAME", TD_CFG_STRING, "gpt-4o", NULL, 1, 128,
     offsetof(struct senti_config, model), 0},
    {"SENTIMENT_API_URL", TD_CFG_STRING, "https://models.github.ai/inference/chat/completions",
     NULL, 8, 2048, offsetof(struct senti_config, api_url), 0},
    {"SENTIMENT_LLM_TIMEOUT_MS", TD_CFG_INT, "1500", NULL, 50, 120000,
     offsetof(struct senti_config, llm_timeout_ms), 0},
    {"SENTIMENT_LLM_RETRIES", TD_CFG_INT, "2", NULL, 0, 10,
     offsetof(struct senti_config, llm_retries), 0},
};

int senti_config_load(struct senti_config *cfg)
{
    return td_daemon_configure("td-sentiment", vars, sizeof vars / sizeof vars[0], cfg,
                               &cfg->base);
}

void senti_config_free(struct senti_config *cfg)
{
    td_config_free(vars, sizeof vars / sizeof vars[0], cfg);
}
