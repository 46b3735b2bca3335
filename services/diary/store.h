/*
 * store.h — td-diary's storage: all of its SQL lives in store.c.
 *
 * One SQLite file (DATA_DIR/diary.db) with one connection per RPC worker, so
 * readers never wait on each other (WAL) and a connection is never shared
 * between threads.
 */
#ifndef DIARY_STORE_H
#define DIARY_STORE_H

#include <sqlite3.h>
#include <stddef.h>

struct diary_store {
    sqlite3 **conns; /* one per worker */
    size_t nconns;
};

/* Opens the database, runs pending migrations, opens `nconns` connections.
 * Returns 0 and *out, or TD_ESTORAGE. */
int diary_store_open(const char *data_dir, size_t nconns, struct diary_store **out);

/* Closes every connection and frees; NULLs *s. */
void diary_store_close(struct diary_store **s);

#endif
