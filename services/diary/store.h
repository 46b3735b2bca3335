/*
 * store.h — td-diary's storage: all of its SQL lives in store.c (SQLite)
 * and store_pg.c (PostgreSQL). Which engine runs is decided by one setting
 * (DIARY_DATABASE_URL, diary_store_opts below); store.c hands every call to
 * store_pg.c when it is PostgreSQL, and nothing above this interface knows.
 * The rest of this comment describes the SQLite engine; store_pg.c's own
 * comment says what differs (no group commit, leases, locks for replicas).
 *
 * One SQLite file (DATA_DIR/diary.db) with one connection per RPC worker
 * (indexed by the request's worker) plus one for the pending-analysis worker
 * (diary_store_bg_conn() below), so readers never wait on each other (WAL) and a
 * connection is never shared between threads. Every statement is prepared
 * once per connection at open.
 *
 * Functions taking `conn` use that connection only; the caller guarantees no
 * other thread uses the same index at the same time. A function that writes
 * returns only after COMMIT.
 *
 * Creates, updates and deletes are committed in groups: a write that arrives
 * while another group is committing waits for it, then the first waiter
 * commits everything that queued meanwhile in one transaction (one fsync
 * under synchronous=FULL), each write in its own savepoint so one that fails
 * changes nothing and fails alone. A reply still acknowledges only what was
 * committed; if a group's COMMIT fails, every write in it fails.
 */
#ifndef DIARY_STORE_H
#define DIARY_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct diary_conn;
struct diary_commits;

struct td_sql_pool;

struct diary_store {
    struct diary_conn *conns; /* nconns: one per RPC worker, then the background one */
    size_t nconns;
    struct diary_commits *commits; /* group commit of create/update/delete (store.c) */
    struct td_sql_pool *pg;        /* PostgreSQL: every call goes to store_pg.c */
};

struct diary_store_opts {
    const char *data_dir;     /* SQLite: DATA_DIR, the file is diary.db */
    const char *database_url; /* DIARY_DATABASE_URL: NULL, "" or "sqlite:": SQLite; else a
                                 PostgreSQL URL or conninfo (common/td_sql.h) */
    long long statement_timeout_ms; /* PostgreSQL (DIARY_DATABASE_STATEMENT_TIMEOUT_MS) */
};

/* An entry as stored. Strings are owned (malloc'd, NUL-terminated). */
struct diary_entry {
    int64_t id;
    int64_t user_id;
    char *content;
    size_t content_len;
    char *analyzed;
    size_t analyzed_len;
    int64_t positive_count;
    int64_t negative_count;
    int64_t created_at; /* µs since the epoch */
    int64_t updated_at;
    int64_t version; /* bumped by every edit of the content */
    bool pending;    /* analysis still to be done */
};

/* Frees the strings of `e` and zeroes it. */
void diary_entry_clear(struct diary_entry *e);

/* What gets written with a content: the analysis (or its fallback). The
 * strings are borrowed. */
struct diary_write {
    const char *content;
    size_t content_len;
    const char *analyzed;
    size_t analyzed_len;
    int64_t positive_count;
    int64_t negative_count;
    bool pending;
    int64_t now_us;
};

struct diary_stats {
    int64_t total_entries;
    int64_t positive_entries;
    int64_t negative_entries;
    int64_t neutral_entries;
    int64_t positive_count_total;
    int64_t negative_count_total;
};

/* An entry waiting for analysis. */
struct diary_pending_item {
    int64_t id;
    int64_t version;
    unsigned attempts;
    char *content;
    size_t content_len;
};

/* Opens the database, runs pending migrations, opens `nworkers` + 1
 * connections (the last is diary_store_bg_conn()) and prepares their
 * statements. Returns 0 and *out, or TD_ESTORAGE / TD_ENOMEM / TD_EDOWN
 * (PostgreSQL unreachable). */
int diary_store_open(const struct diary_store_opts *o, size_t nworkers, struct diary_store **out);

/* The SQLite migrations (store.c); *n (may be NULL) gets their count.
 * store_pg.c keeps the same numbers. */
const char *const *diary_sqlite_migrations(size_t *n);

/* td-diary --copy-from-sqlite=FILE: copies the entries (their search
 * words made again) and the deleted accounts of the SQLite file `path`
 * (migrated up to date first) into this store, which must be PostgreSQL and
 * hold no entry yet, in one transaction; the stats rows follow by trigger,
 * the id sequence moves past the copied ids. Staged imports are not copied
 * (they expire within the hour anyway). *rows gets the rows copied. 0,
 * TD_EINVAL (SQLite store, no such file), TD_EEXISTS (entries already
 * there), or a storage error (nothing copied). */
int diary_store_copy_from_sqlite(struct diary_store *s, const char *path, int64_t *rows);

/* Finalizes, closes every connection and frees; NULLs *s. */
void diary_store_close(struct diary_store **s);

/* The index of the background worker's connection. */
unsigned diary_store_bg_conn(const struct diary_store *s);

/* Creates an entry of `user_id`. When `call_id` is not empty and this user
 * already created an entry with it, nothing is written and that entry is
 * returned (*deduped true): a retried call never creates a second entry.
 * Returns 0 and *out (clear it), TD_EUSERNOTFOUND for a deleted account, or
 * TD_ESTORAGE / TD_ENOMEM. */
int diary_store_create(struct diary_store *s, unsigned conn, int64_t user_id, const char *call_id,
                       const struct diary_write *w, struct diary_entry *out, bool *deduped);

/* Reads entry `id` for `user_id`. Returns 0 and *out, TD_EDIARYNOTFOUND,
 * TD_EFORBIDDEN (another user's entry), TD_ESTORAGE or TD_ENOMEM. */
int diary_store_get(struct diary_store *s, unsigned conn, int64_t user_id, int64_t id,
                    struct diary_entry *out);

/* Replaces the content and analysis of entry `id`; bumps its version and
 * moves updated_at forward (never backwards). Same returns as get. */
int diary_store_update(struct diary_store *s, unsigned conn, int64_t user_id, int64_t id,
                       const struct diary_write *w, struct diary_entry *out);

/* Deletes entry `id`. 0, TD_EDIARYNOTFOUND, TD_EFORBIDDEN, TD_ESTORAGE. */
int diary_store_delete(struct diary_store *s, unsigned conn, int64_t user_id, int64_t id);

/* How many writes went through group commit, and in how many transactions
 * (for tests and figures). */
void diary_store_commit_counts(struct diary_store *s, int64_t *writes, int64_t *transactions);

/* Deletes every entry of `user_id` and records the account as deleted, so
 * no entry is created for it afterwards; *deleted is how many went.
 * Idempotent. 0 or TD_ESTORAGE. */
int diary_store_delete_user(struct diary_store *s, unsigned conn, int64_t user_id,
                            int64_t *deleted);

/* A demo entry for `tdctl seed` (strings borrowed). */
struct diary_seed_entry {
    int64_t user_id;
    const char *content;
    size_t content_len;
    const char *analyzed; /* the escaped content: analysed later by the pending pass */
    size_t analyzed_len;
    int64_t created_at; /* µs */
};

/* Demo data in one transaction: with `clear`, every seeded entry goes first
 * (*cleared says how many); then the entries are inserted as seeded and
 * pending analysis, except for users who already have seeded entries (so a
 * second seed adds nothing). Entries of one user must be adjacent.
 * *inserted says how many went in. 0 or TD_ESTORAGE (nothing changed). */
int diary_store_seed(struct diary_store *s, unsigned conn, const struct diary_seed_entry *entries,
                     size_t n, bool clear, int64_t *cleared, int64_t *inserted);

/* Frees an array of entries diary_store_find and the others below return. */
void diary_entries_free(struct diary_entry **items, size_t count);

/* The seven figures of GET /diaries/stats but `overall`, read from the row
 * per user that triggers keep with every change of entries (migration 5). */
int diary_store_stats(struct diary_store *s, unsigned conn, int64_t user_id,
                      struct diary_stats *out);

/* ---- filters, export, insights, import (issue 15) ------------------------ */

enum diary_tone {
    DIARY_TONE_ANY = 0,
    DIARY_TONE_POSITIVE = 1, /* positive_count > negative_count */
    DIARY_TONE_NEGATIVE = 2,
    DIARY_TONE_NEUTRAL = 3,
};

/* What GET /diaries (and export, stats, timeline, phrases) narrows to;
 * filter.h builds it from the request. created_at in [from_us, to_us). */
struct diary_filter {
    char *match;     /* FTS5 expression over the content (owned), NULL: no search */
    int64_t from_us; /* INT64_MIN: no lower bound */
    int64_t to_us;   /* INT64_MAX: no upper bound */
    enum diary_tone tone;
    char *ts_query;  /* the same search as a PostgreSQL tsquery (owned), with match */
};

/* A filter that narrows nothing. */
#define DIARY_FILTER_NONE                                                                      \
    {.match = NULL, .from_us = INT64_MIN, .to_us = INT64_MAX, .tone = DIARY_TONE_ANY,         \
     .ts_query = NULL}

/* True when `f` narrows anything. */
bool diary_filter_active(const struct diary_filter *f);

/* One page of a user's entries that match `f` (NULL or an inactive filter:
 * all of them), newest first (created_at, then id, descending), read in one
 * transaction with *total, the number that match. On 0, *items is a new
 * array of *count entries (free with diary_entries_free). TD_ESTORAGE,
 * TD_ENOMEM. */
int diary_store_find(struct diary_store *s, unsigned conn, int64_t user_id,
                     const struct diary_filter *f, int64_t limit, int64_t offset,
                     struct diary_entry **items, size_t *count, int64_t *total);

/* Up to `limit` matching entries oldest first (created_at, then id)
 * strictly after the entry (after_created, after_id): export's keyset
 * pages. Pass INT64_MIN, 0 for the first page. Returns as find. */
int diary_store_export_page(struct diary_store *s, unsigned conn, int64_t user_id,
                            const struct diary_filter *f, int64_t after_created,
                            int64_t after_id, int64_t limit, struct diary_entry **items,
                            size_t *count);

/* The stats figures over the entries created in [from_us, to_us). */
int diary_store_range_stats(struct diary_store *s, unsigned conn, int64_t user_id,
                            int64_t from_us, int64_t to_us, struct diary_stats *out);

/* Calls fn(arg, created_at, pos, neg) for every entry created in [from_us,
 * to_us), oldest first; a non-zero return of fn stops and is returned. */
int diary_store_scan_tones(struct diary_store *s, unsigned conn, int64_t user_id,
                           int64_t from_us, int64_t to_us,
                           int (*fn)(void *arg, int64_t created_at, int64_t pos, int64_t neg),
                           void *arg);

/* Calls fn(arg, markup, len) with the analyzed_content of every entry
 * created in [from_us, to_us) that has at least one span (borrowed for the
 * call); a non-zero return of fn stops and is returned. */
int diary_store_scan_markup(struct diary_store *s, unsigned conn, int64_t user_id,
                            int64_t from_us, int64_t to_us,
                            int (*fn)(void *arg, const char *markup, size_t len), void *arg);

/* One entry of an import piece (strings borrowed). */
struct diary_import_item {
    const char *content;
    size_t content_len;
    const char *analyzed; /* the escaped content */
    size_t analyzed_len;
    int64_t created_at;
};

/* Stages items [offset, offset + n) of import `import_id` of `user_id` in
 * one transaction (a repeated piece replaces itself), after dropping staged
 * rows older than `expire_before_us`. 0 or TD_ESTORAGE. */
int diary_store_import_stage(struct diary_store *s, unsigned conn, int64_t user_id,
                             const char *import_id, int64_t offset,
                             const struct diary_import_item *items, size_t n, int64_t now_us,
                             int64_t expire_before_us);

/* Drops what import `import_id` staged. 0 or TD_ESTORAGE. */
int diary_store_import_drop(struct diary_store *s, unsigned conn, int64_t user_id,
                            const char *import_id);

/* Moves the `count` staged items of the import into entries in one
 * transaction, in their order, pending analysis, updated_at = now_us; an
 * item whose created_at and content equal an entry's already there is
 * skipped. The staged rows go. Returns 0 with *imported and *skipped,
 * TD_EINVAL when the staged items are not exactly 0..count-1 (nothing
 * changes), TD_EUSERNOTFOUND for a deleted account, TD_ESTORAGE. */
int diary_store_import_commit(struct diary_store *s, unsigned conn, int64_t user_id,
                              const char *import_id, int64_t count, int64_t now_us,
                              int64_t *imported, int64_t *skipped);

/* Up to `limit` pending entries whose next attempt is due at `now_us`, oldest
 * first. On 0, *items is a new array of *count (free with
 * diary_pending_free). On PostgreSQL the entries are leased: no replica
 * takes them again before now_us + lease_us, unless an analysis, a
 * deferral or diary_store_release ends the lease first (SQLite: one
 * process, one pending worker, nothing to lease). */
int diary_store_pending(struct diary_store *s, unsigned conn, int64_t now_us, size_t limit,
                        int64_t lease_us, struct diary_pending_item **items, size_t *count);

/* Ends the leases of entries taken but not tried (the pass stopped early):
 * they are due again at once. 0 or a storage error. */
int diary_store_release(struct diary_store *s, unsigned conn,
                        const struct diary_pending_item *items, size_t n);
void diary_pending_free(struct diary_pending_item **items, size_t count);

/* Stores an analysis for entry `id` if it is still pending at `version`
 * (an edit since then makes it stale: nothing is written). updated_at does
 * not move: this is not the user's edit. *applied tells which. */
int diary_store_apply_analysis(struct diary_store *s, unsigned conn, int64_t id, int64_t version,
                               const char *analyzed, size_t analyzed_len, int64_t pos,
                               int64_t neg, bool *applied);

/* Records a failed analysis attempt of entry `id` at `version`: one more
 * attempt, next one not before `next_at_us`. */
int diary_store_defer(struct diary_store *s, unsigned conn, int64_t id, int64_t version,
                      int64_t next_at_us);

/* Number of pending entries (for logs and tests). */
int diary_store_pending_count(struct diary_store *s, unsigned conn, int64_t *count);

#endif
