/*
 * handlers.c — td-sentiment's operations. Each validates its arguments first,
 * then calls the store.
 */
#include "handlers.h"

const struct td_rpc_route senti_routes[] = {
    {TD_OP_PING, NULL},
};
const size_t senti_nroutes = 0;
