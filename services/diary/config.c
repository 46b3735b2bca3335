/*
 * config.c — the table of td-diary's environment variables.
 */
#include "config.h"
#include "td_daemon.h"

#include <stddef.h>

static const struct td_cfg_var vars[] = {
    TD_CFG_BASE_ROWS(struct diary_config),
    {"DIARY_RPC_URL", TD_CFG_STRING, "tcp://127.0.0.1:5552", NULL, 1, 1024,
     offsetof(struct diary_config, rpc_url), 0},
    {"SENTIMENT_RPC_URL", TD_CFG_STRING, "tcp://127.0.0.1:5553", NULL, 1, 1024,
     offsetof(struct diary_config, sentiment_url), 0},
    {"SENTIMENT_TIMEOUT_MS", TD_CFG_INT, "2000", NULL, 10, 60000,
     offsetof(struct diary_config, sentiment_timeout_ms), 0},
};

int diary_config_load(struct diary_config *cfg)
{
    return td_daemon_configure("td-diary", vars, sizeof vars / sizeof vars[0], cfg, &cfg->base);
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
