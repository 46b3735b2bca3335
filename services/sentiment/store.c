/*
 * store.c — td-sentiment's schema and queries: the analysis cache.
 *
 * A row is (key, spans, counts, created_at). Spans are packed as 9 bytes
 * each: start and end as little-endian uint32 (texts are at most
 * SENTI_MAX_TEXT_BYTES) and the polarity as one signed byte. Rows are read
 * back defensively: a blob of the wrong size or with impossible spans is a
 * miss, and markup.c validates the spans once more against the text.
 */
#include "store.h"
#include "td_db.h"
#include "td_error.h"
#include "td_log.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SPAN_BYTES 9

/* Numbered migrations: append, never edit one that has shipped. */
static const char *const migrations[] = {
    /* 1: the analysis cache, keyed by BLAKE2b-256(analyzer id, NUL, text).
     * created_at (µs) orders the prune; its index keeps the prune cheap. */
    "CREATE TABLE analysis_cache ("
    "  key BLOB PRIMARY KEY,"
    "  spans BLOB NOT NULL,"
    "  positive_count INTEGER NOT NULL,"
    "  negative_count INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX analysis_cache_created ON analysis_cache(created_at);",
};

int senti_store_open(const char *data_dir, size_t nconns, long long max_rows,
                     struct senti_store **out)
{
    struct senti_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return TD_ENOMEM;
    s->max_rows = max_rows;
    atomic_init(&s->inserts, 0);
    /* A cache row lost to a power cut is recomputed on the next request, so
     * the cache skips the fsync per commit that td_db_open's synchronous=FULL
     * would cost; WAL keeps the file consistent. */
    int rc = td_db_open_pool(data_dir, "sentiment.db", nconns, "PRAGMA synchronous=NORMAL;",
                             migrations, sizeof migrations / sizeof migrations[0], &s->conns);
    if (rc != 0) {
        free(s);
        return rc;
    }
    s->nconns = nconns;
    *out = s;
    return 0;
}

void senti_store_close(struct senti_store **ps)
{
    struct senti_store *s = *ps;
    if (s == NULL)
        return;
    td_db_close_pool(&s->conns, s->nconns);
    free(s);
    *ps = NULL;
}

void senti_cache_key(const char *analyzer_id, const char *text, size_t len,
                     unsigned char key[SENTI_CACHE_KEY_BYTES])
{
    /* The NUL after the id keeps ("ab", "c…") and ("a", "bc…") apart. */
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, SENTI_CACHE_KEY_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)analyzer_id, strlen(analyzer_id) + 1);
    crypto_generichash_update(&st, (const unsigned char *)text, len);
    crypto_generichash_final(&st, key, SENTI_CACHE_KEY_BYTES);
}

static sqlite3 *conn_of(struct senti_store *s, size_t conn)
{
    return conn < s->nconns ? s->conns[conn] : NULL;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* Unpacks a spans blob into out; TD_ENOTFOUND when it is malformed. */
static int decode_spans(const unsigned char *blob, size_t n, struct senti_spans *out)
{
    senti_spans_clear(out);
    if (n % SPAN_BYTES != 0 || n / SPAN_BYTES > SENTI_MAX_SPANS)
        return TD_ENOTFOUND;
    for (size_t off = 0; off < n; off += SPAN_BYTES) {
        uint32_t start = get_u32(blob + off), end = get_u32(blob + off + 4);
        int pol = (signed char)blob[off + 8];
        if (start >= end || end > SENTI_MAX_TEXT_BYTES ||
            (pol != SENTI_POSITIVE && pol != SENTI_NEGATIVE)) {
            senti_spans_clear(out);
            return TD_ENOTFOUND;
        }
        if (senti_spans_push(out, start, end, pol, 1.0f) != 0) {
            senti_spans_clear(out);
            return TD_ENOMEM;
        }
    }
    return 0;
}

int senti_cache_get(struct senti_store *s, size_t conn,
                    const unsigned char key[SENTI_CACHE_KEY_BYTES], struct senti_spans *out)
{
    if (s->max_rows == 0)
        return TD_ENOTFOUND;
    sqlite3 *db = conn_of(s, conn);
    if (db == NULL)
        return TD_ESTORAGE;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT spans FROM analysis_cache WHERE key = ?1", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_bind_blob(st, 1, key, SENTI_CACHE_KEY_BYTES, SQLITE_STATIC) != SQLITE_OK) {
        TD_LOG(TD_LOG_ERR, "cache_read_failed", "%s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return TD_ESTORAGE;
    }
    int rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const unsigned char *blob = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        /* An empty blob is a valid "no spans"; NULL with n > 0 is OOM. */
        if (blob == NULL && n > 0)
            rc = TD_ENOMEM;
        else
            rc = decode_spans(blob, (size_t)n, out);
    } else if (step == SQLITE_DONE) {
        rc = TD_ENOTFOUND;
    } else {
        TD_LOG(TD_LOG_ERR, "cache_read_failed", "%s", sqlite3_errmsg(db));
        rc = TD_ESTORAGE;
    }
    sqlite3_finalize(st);
    return rc;
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int senti_cache_put(struct senti_store *s, size_t conn,
                    const unsigned char key[SENTI_CACHE_KEY_BYTES],
                    const struct senti_spans *spans, size_t positive, size_t negative)
{
    if (s->max_rows == 0)
        return 0;
    sqlite3 *db = conn_of(s, conn);
    if (db == NULL)
        return TD_ESTORAGE;
    size_t n = spans->count * SPAN_BYTES;
    /* One spare byte so an empty list still gets a non-NULL buffer. */
    unsigned char *blob = malloc(n + 1);
    if (blob == NULL)
        return TD_ENOMEM;
    for (size_t i = 0; i < spans->count; i++) {
        const struct senti_span *sp = &spans->items[i];
        put_u32(blob + i * SPAN_BYTES, (uint32_t)sp->start);
        put_u32(blob + i * SPAN_BYTES + 4, (uint32_t)sp->end);
        blob[i * SPAN_BYTES + 8] = (unsigned char)(signed char)sp->polarity;
    }
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO analysis_cache (key, spans, positive_count,"
                           " negative_count, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_blob(st, 1, key, SENTI_CACHE_KEY_BYTES, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob(st, 2, blob, (int)n, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, (sqlite3_int64)positive) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, (sqlite3_int64)negative) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, now_us()) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        TD_LOG(TD_LOG_ERR, "cache_write_failed", "%s", sqlite3_errmsg(db));
        rc = TD_ESTORAGE;
    }
    sqlite3_finalize(st);
    free(blob);
    if (rc != 0)
        return rc;
    /* Pruning on every put would count the table each time; every few
     * hundred puts keeps the table within max_rows + SENTI_CACHE_PRUNE_EVERY. */
    unsigned long k = atomic_fetch_add(&s->inserts, 1) + 1;
    if (k % SENTI_CACHE_PRUNE_EVERY == 0)
        return senti_cache_prune(s, conn);
    return 0;
}

int senti_cache_prune(struct senti_store *s, size_t conn)
{
    sqlite3 *db = conn_of(s, conn);
    if (db == NULL)
        return TD_ESTORAGE;
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db,
                           "DELETE FROM analysis_cache WHERE key IN (SELECT key FROM"
                           " analysis_cache ORDER BY created_at, key LIMIT max(0,"
                           " (SELECT count(*) FROM analysis_cache) - ?1))",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, s->max_rows) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        TD_LOG(TD_LOG_ERR, "cache_prune_failed", "%s", sqlite3_errmsg(db));
        rc = TD_ESTORAGE;
    } else if (sqlite3_changes(db) > 0) {
        TD_LOG(TD_LOG_DEBUG, "cache_pruned", "%d old rows removed", sqlite3_changes(db));
    }
    sqlite3_finalize(st);
    return rc;
}

int senti_cache_count(struct senti_store *s, size_t conn, long long *out)
{
    sqlite3 *db = conn_of(s, conn);
    if (db == NULL)
        return TD_ESTORAGE;
    sqlite3_stmt *st = NULL;
    int rc = TD_ESTORAGE;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM analysis_cache", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}
