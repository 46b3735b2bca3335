/*
 * handlers.h — td-diary's RPC operations, one function each (handlers.c),
 * and the state they share.
 */
#ifndef DIARY_HANDLERS_H
#define DIARY_HANDLERS_H

#include "config.h"
#include "store.h"
#include "td_rpc.h"

struct diary_pending_worker;

struct diary_app {
    const struct diary_config *cfg;
    struct diary_store *store;
    struct td_rpc_client *sentiment;      /* NULL: every entry is saved pending */
    int sentiment_timeout_ms;             /* 0: the client's default */
    struct diary_pending_worker *pending; /* kicked when an entry is saved pending; may be NULL */
};

extern const struct td_rpc_route diary_routes[];
extern const size_t diary_nroutes;

#endif
