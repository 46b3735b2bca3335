/*
 * handlers.h — td-sentiment's RPC operations, one function each (handlers.c),
 * and the state they share.
 */
#ifndef SENTI_HANDLERS_H
#define SENTI_HANDLERS_H

#include "config.h"
#include "provider.h"
#include "store.h"
#include "td_rpc.h"

struct senti_app {
    const struct senti_config *cfg;
    struct senti_store *store;
    struct senti_provider *provider; /* one LLM client per RPC worker */
};

/* sentiment.analyze: args {"text": str} -> {"analyzed_content": str,
 * "positive_count": int, "negative_count": int, "analyzer": str}.
 * Validation errors are 400 validation_error with details per field. */
int senti_handle_analyze(void *app, const struct td_rpc_request *req, struct td_rpc_reply *rep);

extern const struct td_rpc_route senti_routes[];
extern const size_t senti_nroutes;

#endif
