/*
 * td_sql_sqlite.c — the SQLite engine of td_sql.h, on td_db.h's connection
 * settings and migration runner.
 *
 * Statements are prepared once per connection and stay on it, found again
 * by their SQL text: parsing every query on every call was a large share of
 * td-auth's CPU. A query takes the connection's idle statement for its SQL,
 * preparing one only the first time; td_sql_done gives it back reset and
 * unbound, on every path (a statement left un-reset would hold a read
 * transaction open and block WAL checkpoints). Closing finalizes them.
 *
 * Which statements are handed out is tracked in the connection's held
 * slots, not read from sqlite3_stmt_busy(): a statement is not busy between
 * prepare and its first step, nor after SQLITE_DONE.
 */
#include "td_sql_impl.h"
#include "td_db.h"
#include "td_error.h"
#include "td_log.h"

#include <string.h>

int td_sql_lite_open(struct td_sql *db, bool migrate)
{
    int rc = td_db_open(db->opts->data_dir, db->opts->file, &db->lite);
    if (rc == 0 && migrate)
        rc = td_db_migrate(db->lite, db->opts->sqlite_migrations, db->opts->nmigrations);
    return rc;
}

void td_sql_lite_close(struct td_sql *db)
{
    if (db->lite == NULL)
        return;
    /* The kept statements: sqlite3_close() refuses a connection that still
     * has some, and the connection would leak. */
    sqlite3_stmt *st;
    while ((st = sqlite3_next_stmt(db->lite, NULL)) != NULL)
        sqlite3_finalize(st);
    td_db_close(&db->lite);
}

int td_sql_lite_exec(struct td_sql *db, const char *sql)
{
    return td_db_exec(db->lite, sql);
}

static bool is_held(const struct td_sql *db, const sqlite3_stmt *st)
{
    for (int i = 0; i < TD_SQL_MAX_HELD; i++)
        if (db->held[i].in_use && db->held[i].lite == st)
            return true;
    return false;
}

static int prepare(struct td_sql *db, const char *sql, sqlite3_stmt **out)
{
    sqlite3_stmt *st = NULL;
    while ((st = sqlite3_next_stmt(db->lite, st)) != NULL)
        if (!is_held(db, st) && strcmp(sqlite3_sql(st), sql) == 0)
            break;
    if (st == NULL &&
        sqlite3_prepare_v3(db->lite, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        TD_LOG(TD_LOG_ERR, "db_prepare_failed", "%s", sqlite3_errmsg(db->lite));
        return TD_ESTORAGE;
    }
    *out = st;
    return 0;
}

/* Binds a value list described by `types`: 'i' int64, 's' text (NULL binds
 * NULL). Returns 0 or TD_ESTORAGE. */
static int bind(sqlite3_stmt *st, const char *types, va_list ap)
{
    for (int i = 0; types[i]; i++) {
        int rc;
        if (types[i] == 'i') {
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        } else {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, i + 1);
        }
        if (rc != SQLITE_OK)
            return TD_ESTORAGE;
    }
    return 0;
}

static void reset(sqlite3_stmt *st)
{
    if (st == NULL)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int td_sql_lite_query(struct td_sql *db, struct td_sql_stmt *slot, const char *sql,
                      const char *types, va_list ap)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(db, sql, &st);
    rc = rc ? rc : bind(st, types, ap);
    if (rc != 0) {
        reset(st);
        return rc;
    }
    slot->lite = st;
    return 0;
}

int td_sql_lite_next(struct td_sql_stmt *slot)
{
    int step = sqlite3_step(slot->lite);
    if (step == SQLITE_ROW)
        return 1;
    if (step == SQLITE_DONE)
        return 0;
    int ext = sqlite3_extended_errcode(slot->db->lite);
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        return TD_EEXISTS; /* INSERT ... RETURNING fails at its first step */
    TD_LOG(TD_LOG_ERR, "db_step_failed", "%s", sqlite3_errmsg(slot->db->lite));
    return TD_ESTORAGE;
}

void td_sql_lite_done(struct td_sql_stmt *slot)
{
    reset(slot->lite);
    slot->lite = NULL;
}

int td_sql_lite_run(struct td_sql *db, int64_t *changes, const char *sql, const char *types,
                    va_list ap)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(db, sql, &st);
    rc = rc ? rc : bind(st, types, ap);
    if (rc == 0) {
        int step = sqlite3_step(st);
        int ext = sqlite3_extended_errcode(db->lite);
        if (step == SQLITE_DONE || step == SQLITE_ROW) {
            if (changes)
                *changes = sqlite3_changes64(db->lite);
        } else if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
            rc = TD_EEXISTS;
        } else {
            TD_LOG(TD_LOG_ERR, "db_step_failed", "%s", sqlite3_errmsg(db->lite));
            rc = TD_ESTORAGE;
        }
    }
    reset(st);
    return rc;
}
