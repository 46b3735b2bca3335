/*
 * config.h — td-sentiment's settings (config.c holds the table).
 */
#ifndef SENTI_CONFIG_H
#define SENTI_CONFIG_H

#include "td_config.h"

struct senti_config {
    struct td_base_config base;
    char *rpc_url;       /* SENTIMENT_RPC_URL */
    char *provider;      /* SENTIMENT_PROVIDER: lexicon | github-models */
    char *github_token;  /* GITHUB_TOKEN (never logged) */
    char *model;         /* GITHUB_MODEL_NAME */
    char *api_url;       /* SENTIMENT_API_URL */
    long long llm_timeout_ms;  /* SENTIMENT_LLM_TIMEOUT_MS: total per attempt */
    long long llm_retries;     /* SENTIMENT_LLM_RETRIES on 429/5xx */
};

int senti_config_load(struct senti_config *cfg);
void senti_config_free(struct senti_config *cfg);

#endif
