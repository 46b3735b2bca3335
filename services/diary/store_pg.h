/*
 * store_pg.h — td-diary's PostgreSQL engine (store_pg.c). store.c hands
 * every call of store.h to these when the store was opened on a
 * PostgreSQL URL (DIARY_DATABASE_URL); each has the contract of the store.h
 * function of the same name, on connection `db` of the pool.
 */
#ifndef DIARY_STORE_PG_H
#define DIARY_STORE_PG_H

#include "store.h"
#include "td_sql.h"

int diary_pg_open(const struct diary_store_opts *o, size_t nconns, struct td_sql_pool **out);

int diary_pg_create(struct td_sql *db, int64_t user_id, const char *call_id,
                    const struct diary_write *w, struct diary_entry *out, bool *deduped);
int diary_pg_get(struct td_sql *db, int64_t user_id, int64_t id, struct diary_entry *out);
int diary_pg_update(struct td_sql *db, int64_t user_id, int64_t id, const struct diary_write *w,
                    struct diary_entry *out);
int diary_pg_delete(struct td_sql *db, int64_t user_id, int64_t id);
int diary_pg_delete_user(struct td_sql *db, int64_t user_id, int64_t *deleted);
int diary_pg_seed(struct td_sql *db, const struct diary_seed_entry *entries, size_t n, bool clear,
                  int64_t *cleared, int64_t *inserted);
int diary_pg_stats(struct td_sql *db, int64_t user_id, struct diary_stats *out);

int diary_pg_find(struct td_sql *db, int64_t user_id, const struct diary_filter *f, int64_t limit,
                  int64_t offset, struct diary_entry **items, size_t *count, int64_t *total);
int diary_pg_export_page(struct td_sql *db, int64_t user_id, const struct diary_filter *f,
                         int64_t after_created, int64_t after_id, int64_t limit,
                         struct diary_entry **items, size_t *count);
int diary_pg_range_stats(struct td_sql *db, int64_t user_id, int64_t from_us, int64_t to_us,
                         struct diary_stats *out);
int diary_pg_scan_tones(struct td_sql *db, int64_t user_id, int64_t from_us, int64_t to_us,
                        int (*fn)(void *arg, int64_t created_at, int64_t pos, int64_t neg),
                        void *arg);
int diary_pg_scan_markup(struct td_sql *db, int64_t user_id, int64_t from_us, int64_t to_us,
                         int (*fn)(void *arg, const char *markup, size_t len), void *arg);

int diary_pg_import_stage(struct td_sql *db, int64_t user_id, const char *import_id,
                          int64_t offset, const struct diary_import_item *items, size_t n,
                          int64_t now_us, int64_t expire_before_us);
int diary_pg_import_drop(struct td_sql *db, int64_t user_id, const char *import_id);
int diary_pg_import_commit(struct td_sql *db, int64_t user_id, const char *import_id,
                           int64_t count, int64_t now_us, int64_t *imported, int64_t *skipped);

int diary_pg_pending(struct td_sql *db, int64_t now_us, size_t limit, int64_t lease_us,
                     struct diary_pending_item **items, size_t *count);
int diary_pg_release(struct td_sql *db, const struct diary_pending_item *items, size_t n);
int diary_pg_apply_analysis(struct td_sql *db, int64_t id, int64_t version, const char *analyzed,
                            size_t analyzed_len, int64_t pos, int64_t neg, bool *applied);
int diary_pg_defer(struct td_sql *db, int64_t id, int64_t version, int64_t next_at_us);
int diary_pg_pending_count(struct td_sql *db, int64_t *count);
int diary_pg_copy_from_sqlite(struct td_sql_pool *pool, const char *path, int64_t *rows);

#endif
