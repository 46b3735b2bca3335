/*
 * handlers.h — td-sentiment's RPC operations, one function each (handlers.c),
 * and the state they share.
 */
#ifndef SENTI_HANDLERS_H
#define SENTI_HANDLERS_H

#include "config.h"
#include "store.h"
#include "td_rpc.h"

struct senti_app {
    const struct senti_config *cfg;
    struct senti_store *store;
};

extern const struct td_rpc_route senti_routes[];
extern const size_t senti_nroutes;

#endif
