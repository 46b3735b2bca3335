/*
 * store.h — td-auth's storage: all of its SQL lives in store.c.
 *
 * One SQLite file (DATA_DIR/auth.db) with one connection per RPC worker, so
 * readers never wait on each other (WAL) and a connection is never shared
 * between threads.
 */
#ifndef AUTH_STORE_H
#define AUTH_STORE_H

#include <sqlite3.h>
#include <stddef.h>

struct auth_store {
    sqlite3 **conns; /* one per worker */
    size_t nconns;
};

/* Opens the database, runs pending migrations, opens `nconns` connections.
 * Returns 0 and *out, or TD_ESTORAGE. */
int auth_store_open(const char *data_dir, size_t nconns, struct auth_store **out);

/* Closes every connection and frees; NULLs *s. */
void auth_store_close(struct auth_store **s);

#endif
