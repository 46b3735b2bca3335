/*
 * handlers.h — td-auth's RPC operations, one function each (handlers.c),
 * and the state they share.
 */
#ifndef AUTH_HANDLERS_H
#define AUTH_HANDLERS_H

#include "config.h"
#include "store.h"
#include "td_rpc.h"

struct auth_app {
    const struct auth_config *cfg;
    struct auth_store *store;
    struct td_rpc_client *diary; /* account deletion reaches td-diary */
};

extern const struct td_rpc_route auth_routes[];
extern const size_t auth_nroutes;

#endif
