/*
 * store.h — td-sentiment's storage: all of its SQL lives in store.c.
 *
 * One SQLite file (DATA_DIR/sentiment.db) with one connection per RPC worker, so
 * readers never wait on each other (WAL) and a connection is never shared
 * between threads.
 *
 * The only table is a bounded cache of analyses. It holds no diary text: the
 * key is a BLAKE2b hash of (analyzer id, text) and the value is the list of
 * spans (byte offsets and polarities). The caller always has the text, so the
 * markup is rebuilt from it and the cached spans; a deleted account's entries
 * leave nothing readable behind here.
 */
#ifndef SENTI_STORE_H
#define SENTI_STORE_H

#include "analyzer.h"

#include <sqlite3.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SENTI_CACHE_KEY_BYTES 32 /* BLAKE2b-256 */

struct senti_store {
    sqlite3 **conns; /* one per worker */
    size_t nconns;
    long long max_rows;     /* 0: cache disabled */
    atomic_ulong inserts;   /* drives the periodic prune */
};

/* Opens the database, runs pending migrations, opens `nconns` connections.
 * `max_rows` bounds the cache (0 disables it: lookups miss, puts do nothing).
 * Returns 0 and *out, or TD_ESTORAGE / TD_ENOMEM. */
int senti_store_open(const char *data_dir, size_t nconns, long long max_rows,
                     struct senti_store **out);

/* Closes every connection and frees; NULLs *s. */
void senti_store_close(struct senti_store **s);

/* The cache key of `len` bytes of `text` analysed by `analyzer_id` (e.g.
 * "lexicon-5"; must not contain NUL). Cannot fail. */
void senti_cache_key(const char *analyzer_id, const char *text, size_t len,
                     unsigned char key[SENTI_CACHE_KEY_BYTES]);

/* Looks `key` up on connection `conn` (the worker index). Returns 0 with the
 * cached spans in `out` (replacing its contents), TD_ENOTFOUND on a miss (a
 * malformed row counts as a miss), TD_ESTORAGE or TD_ENOMEM. */
int senti_cache_get(struct senti_store *s, size_t conn,
                    const unsigned char key[SENTI_CACHE_KEY_BYTES], struct senti_spans *out);

/* Stores `spans` under `key` (replacing an older row), with the counts for
 * whoever inspects the file, then every SENTI_CACHE_PRUNE_EVERY puts deletes
 * the oldest rows beyond max_rows. Returns 0, TD_ESTORAGE or TD_ENOMEM. */
#define SENTI_CACHE_PRUNE_EVERY 256
int senti_cache_put(struct senti_store *s, size_t conn,
                    const unsigned char key[SENTI_CACHE_KEY_BYTES],
                    const struct senti_spans *spans, size_t positive, size_t negative);

/* Deletes the oldest rows beyond max_rows now. Returns 0 or TD_ESTORAGE. */
int senti_cache_prune(struct senti_store *s, size_t conn);

/* Number of rows in the cache (for tests and operators). 0 or TD_ESTORAGE. */
int senti_cache_count(struct senti_store *s, size_t conn, long long *out);

#endif
