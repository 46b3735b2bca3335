/*
 * handlers.h — td-auth's RPC operations, one function each (handlers.c),
 * and the state they share. proto/README.md ("td-auth operations") is the
 * contract of every operation.
 */
#ifndef AUTH_HANDLERS_H
#define AUTH_HANDLERS_H

#include "config.h"
#include "events.h"
#include "outbox.h"
#include "store.h"
#include "td_rpc.h"

#include <semaphore.h>
#include <stdatomic.h>
#include <sodium.h>

struct auth_app {
    const struct auth_config *cfg;
    struct auth_store *store;
    struct td_rpc_client *diary;  /* account deletion reaches td-diary */
    struct auth_events *events;   /* revocation feed; NULL: not published */
    struct auth_outbox *outbox;   /* NULL: jobs wait for the next start */
    sem_t pwhash_slots;           /* bounds argon2id hashes in flight (memory) */
    atomic_int pwhash_waiting;    /* requests waiting for a slot (bounded too) */
    char dummy_hash[crypto_pwhash_STRBYTES]; /* verified for unknown emails */
};

/* Prepares the semaphore and the dummy hash (at the configured cost, so an
 * unknown email costs what a wrong password costs). 0 or TD_ENOMEM. */
int auth_app_init(struct auth_app *app, const struct auth_config *cfg);
void auth_app_destroy(struct auth_app *app);

extern const struct td_rpc_route auth_routes[];
extern const size_t auth_nroutes;

#endif
