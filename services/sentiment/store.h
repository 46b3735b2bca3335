/*
 * store.h — td-sentiment's storage: all of its SQL lives in store.c.
 *
 * One SQLite file (DATA_DIR/sentiment.db) with one connection per RPC worker, so
 * readers never wait on each other (WAL) and a connection is never shared
 * between threads.
 */
#ifndef SENTI_STORE_H
#define SENTI_STORE_H

#include <sqlite3.h>
#include <stddef.h>

struct senti_store {
    sqlite3 **conns; /* one per worker */
    size_t nconns;
};

/* Opens the database, runs pending migrations, opens `nconns` connections.
 * Returns 0 and *out, or TD_ESTORAGE. */
int senti_store_open(const char *data_dir, size_t nconns, struct senti_store **out);

/* Closes every connection and frees; NULLs *s. */
void senti_store_close(struct senti_store **s);

#endif
