/*
 * td_sql_impl.h — what td_sql.c shares with its two engines
 * (td_sql_sqlite.c, td_sql_pg.c). Not for daemons: they see td_sql.h only.
 */
#ifndef TD_SQL_IMPL_H
#define TD_SQL_IMPL_H

#include "td_sql.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdarg.h>

struct td_sql_stmt {
    struct td_sql *db;
    bool in_use;
    sqlite3_stmt *lite; /* SQLite: the connection's cached statement */
    PGresult *res;      /* PostgreSQL: every row, fetched at once */
    int row, nrows;
};

struct td_sql_prepared {
    const char *sql; /* the caller's literal: compared by content */
    char name[16];   /* "td_s<n>" on this session */
};

struct td_sql {
    enum td_sql_engine engine;
    const struct td_sql_opts *opts; /* the pool's copy */
    struct td_sql_stmt held[TD_SQL_MAX_HELD];
    /* SQLite */
    sqlite3 *lite;
    /* PostgreSQL */
    PGconn *pg;
    struct td_sql_prepared *prep; /* statements prepared on this session */
    size_t nprep, capprep;
    long long retry_at_ms; /* no connection attempt before this (monotonic) */
    bool in_tx;
};

/* SQLite engine. */
int td_sql_lite_open(struct td_sql *db, bool migrate);
void td_sql_lite_close(struct td_sql *db);
int td_sql_lite_query(struct td_sql *db, struct td_sql_stmt *st, const char *sql,
                      const char *types, va_list ap);
int td_sql_lite_next(struct td_sql_stmt *st);
void td_sql_lite_done(struct td_sql_stmt *st);
int td_sql_lite_run(struct td_sql *db, int64_t *changes, const char *sql, const char *types,
                    va_list ap);
int td_sql_lite_exec(struct td_sql *db, const char *sql);

/* PostgreSQL engine. */
int td_sql_pg_open(struct td_sql *db, bool migrate);
void td_sql_pg_close(struct td_sql *db);
int td_sql_pg_query(struct td_sql *db, struct td_sql_stmt *st, const char *sql,
                    const char *types, va_list ap);
int td_sql_pg_exec(struct td_sql *db, const char *sql);
/* td_sql_pg_query with the values given as text (NULL: SQL NULL). */
int td_sql_pg_query_texts(struct td_sql *db, struct td_sql_stmt *st, const char *sql, int n,
                          const char *const *values);

#endif
