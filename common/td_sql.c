/*
 * td_sql.c — the engine-neutral part of td_sql.h: choosing the engine,
 * the pool, and handing each call to its engine (td_sql_sqlite.c,
 * td_sql_pg.c).
 */
#include "td_sql_impl.h"
#include "td_error.h"
#include "td_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct td_sql_pool {
    struct td_sql_opts opts;
    struct td_sql *conns;
    size_t n;
};

int td_sql_url_engine(const char *url, enum td_sql_engine *out, char *err, size_t errlen)
{
    if (url == NULL || url[0] == '\0' || strcmp(url, "sqlite:") == 0) {
        *out = TD_SQL_SQLITE;
        return 0;
    }
    /* Any other scheme is a mistake, not a libpq key=value string. */
    const char *scheme_end = strstr(url, "://");
    if (scheme_end != NULL && strncmp(url, "postgresql://", 13) != 0 &&
        strncmp(url, "postgres://", 11) != 0) {
        snprintf(err, errlen, "must be unset, sqlite: or a postgresql:// URL");
        return TD_EINVAL;
    }
    /* libpq's own parser: the error names the option, not its value. */
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    if (opts == NULL) {
        size_t len = msg ? strcspn(msg, "\n") : 0;
        snprintf(err, errlen, "not a PostgreSQL connection string: %.*s", (int)len,
                 msg ? msg : "out of memory");
        PQfreemem(msg);
        return TD_EINVAL;
    }
    PQconninfoFree(opts);
    *out = TD_SQL_PG;
    return 0;
}

int td_sql_check_settings(const char *daemon, const char *url_var, const char *url,
                          const char *timeout_var, long long timeout_ms,
                          long long rpc_timeout_ms)
{
    char err[256];
    enum td_sql_engine engine;
    if (td_sql_url_engine(url, &engine, err, sizeof err) != 0) {
        fprintf(stderr, "%s: configuration error: %s: %s\n", daemon, url_var, err);
        return TD_ECONFIG;
    }
    if (timeout_ms >= rpc_timeout_ms) {
        fprintf(stderr, "%s: configuration error: %s: must be less than RPC_TIMEOUT_MS (%lld)\n",
                daemon, timeout_var, rpc_timeout_ms);
        return TD_ECONFIG;
    }
    return 0;
}

static void close_conn(struct td_sql *db)
{
    for (int i = 0; i < TD_SQL_MAX_HELD; i++)
        td_sql_done(db->held[i].in_use ? &db->held[i] : NULL);
    if (db->engine == TD_SQL_SQLITE)
        td_sql_lite_close(db);
    else
        td_sql_pg_close(db);
}

int td_sql_pool_open(const struct td_sql_opts *o, size_t n, struct td_sql_pool **out)
{
    enum td_sql_engine engine;
    char err[256];
    if (td_sql_url_engine(o->url, &engine, err, sizeof err) != 0) {
        TD_LOG(TD_LOG_ERR, "db_url_invalid", "%s", err);
        return TD_ESTORAGE;
    }
    struct td_sql_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return TD_ENOMEM;
    p->opts = *o;
    if (p->opts.statement_timeout_ms <= 0)
        p->opts.statement_timeout_ms = 5000;
    p->conns = calloc(n ? n : 1, sizeof *p->conns);
    if (p->conns == NULL) {
        free(p);
        return TD_ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct td_sql *db = &p->conns[i];
        db->engine = engine;
        db->opts = &p->opts;
        for (int k = 0; k < TD_SQL_MAX_HELD; k++)
            db->held[k].db = db;
        /* The first connection migrates before the others exist. */
        rc = engine == TD_SQL_SQLITE ? td_sql_lite_open(db, i == 0) : td_sql_pg_open(db, i == 0);
        p->n = i + 1;
    }
    if (rc != 0) {
        td_sql_pool_close(&p);
        return rc;
    }
    TD_LOG(TD_LOG_INFO, "db_open", "%s storage, %zu connections",
           engine == TD_SQL_PG ? "PostgreSQL" : "SQLite", n);
    *out = p;
    return 0;
}

void td_sql_pool_close(struct td_sql_pool **pp)
{
    struct td_sql_pool *p = *pp;
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        close_conn(&p->conns[i]);
    free(p->conns);
    free(p);
    *pp = NULL;
}

struct td_sql *td_sql_pool_conn(struct td_sql_pool *p, size_t i)
{
    return p != NULL && i < p->n ? &p->conns[i] : NULL;
}

enum td_sql_engine td_sql_engine_of(const struct td_sql *db)
{
    return db->engine;
}

struct sqlite3 *td_sql_sqlite_handle(struct td_sql *db)
{
    return db->engine == TD_SQL_SQLITE ? db->lite : NULL;
}

static struct td_sql_stmt *free_slot(struct td_sql *db)
{
    for (int i = 0; i < TD_SQL_MAX_HELD; i++)
        if (!db->held[i].in_use)
            return &db->held[i];
    TD_LOG(TD_LOG_ERR, "db_prepare_failed", "more than %d statements in use",
           TD_SQL_MAX_HELD);
    return NULL;
}

static int query_v(struct td_sql *db, struct td_sql_stmt **out, const char *sql,
                   const char *types, va_list ap)
{
    struct td_sql_stmt *st = free_slot(db);
    if (st == NULL)
        return TD_ESTORAGE;
    int rc = db->engine == TD_SQL_SQLITE ? td_sql_lite_query(db, st, sql, types, ap)
                                         : td_sql_pg_query(db, st, sql, types, ap);
    if (rc != 0)
        return rc;
    st->in_use = true;
    *out = st;
    return 0;
}

int td_sql_query(struct td_sql *db, struct td_sql_stmt **out, const char *sql,
                 const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = query_v(db, out, sql, types, ap);
    va_end(ap);
    return rc;
}

int td_sql_run(struct td_sql *db, int64_t *changes, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc;
    if (db->engine == TD_SQL_SQLITE) {
        rc = td_sql_lite_run(db, changes, sql, types, ap);
    } else {
        struct td_sql_stmt *st = NULL;
        rc = query_v(db, &st, sql, types, ap);
        if (rc == 0 && changes != NULL) {
            const char *n = PQcmdTuples(st->res);
            *changes = n[0] ? strtoll(n, NULL, 10) : 0;
        }
        td_sql_done(st);
    }
    va_end(ap);
    return rc;
}

int td_sql_next(struct td_sql_stmt *st)
{
    if (st->db->engine == TD_SQL_SQLITE)
        return td_sql_lite_next(st);
    if (st->row + 1 >= st->nrows) {
        st->row = st->nrows;
        return 0;
    }
    st->row++;
    return 1;
}

bool td_sql_null(struct td_sql_stmt *st, int col)
{
    if (st->db->engine == TD_SQL_SQLITE)
        return sqlite3_column_type(st->lite, col) == SQLITE_NULL;
    if (st->row < 0 || st->row >= st->nrows || col >= PQnfields(st->res))
        return true;
    return PQgetisnull(st->res, st->row, col) != 0;
}

int64_t td_sql_int(struct td_sql_stmt *st, int col)
{
    if (st->db->engine == TD_SQL_SQLITE)
        return sqlite3_column_int64(st->lite, col);
    if (td_sql_null(st, col))
        return 0;
    /* Text format: integers arrive as decimal strings. */
    return strtoll(PQgetvalue(st->res, st->row, col), NULL, 10);
}

const char *td_sql_text(struct td_sql_stmt *st, int col)
{
    if (st->db->engine == TD_SQL_SQLITE)
        return (const char *)sqlite3_column_text(st->lite, col);
    if (td_sql_null(st, col))
        return NULL;
    return PQgetvalue(st->res, st->row, col);
}

void td_sql_done(struct td_sql_stmt *st)
{
    if (st == NULL)
        return;
    if (st->db->engine == TD_SQL_SQLITE) {
        td_sql_lite_done(st);
    } else {
        PQclear(st->res);
        st->res = NULL;
    }
    st->row = -1;
    st->nrows = 0;
    st->in_use = false;
}

int td_sql_begin(struct td_sql *db)
{
    if (db->engine == TD_SQL_SQLITE)
        return td_sql_lite_exec(db, "BEGIN IMMEDIATE");
    int rc = td_sql_pg_exec(db, "BEGIN");
    db->in_tx = rc == 0;
    return rc;
}

int td_sql_finish(struct td_sql *db, int rc)
{
    if (db->engine == TD_SQL_SQLITE) {
        if (rc == 0 && td_sql_lite_exec(db, "COMMIT") == 0)
            return 0;
        td_sql_lite_exec(db, "ROLLBACK");
        return rc ? rc : TD_ESTORAGE;
    }
    int crc = rc == 0 ? td_sql_pg_exec(db, "COMMIT") : 0;
    if (rc != 0 || crc != 0)
        (void)td_sql_pg_exec(db, "ROLLBACK"); /* after a failed COMMIT: a no-op or gone */
    db->in_tx = false;
    return rc ? rc : crc;
}

int td_sql_copy_rows(struct td_sql *from, struct td_sql *to, const char *select_sql,
                     const char *insert_sql, int ncols, int64_t *copied)
{
    if (to->engine != TD_SQL_PG || ncols <= 0 || ncols > 16)
        return TD_EINVAL;
    struct td_sql_stmt *rows = NULL;
    int rc = td_sql_query(from, &rows, select_sql, "");
    int64_t n = 0;
    int step = 0;
    while (rc == 0 && (step = td_sql_next(rows)) == 1) {
        const char *values[16];
        for (int i = 0; i < ncols; i++)
            values[i] = td_sql_text(rows, i); /* NULL for NULL */
        struct td_sql_stmt *ins = free_slot(to);
        rc = ins == NULL ? TD_ESTORAGE : td_sql_pg_query_texts(to, ins, insert_sql, ncols, values);
        if (rc == 0) {
            ins->in_use = true;
            td_sql_done(ins);
            n++;
        }
    }
    if (rc == 0 && step < 0)
        rc = step;
    td_sql_done(rows);
    if (rc == 0 && copied != NULL)
        *copied = n;
    return rc;
}

int td_sql_pool_open_sqlite_file(const struct td_sql_opts *o, const char *path,
                                 struct td_sql_pool **out)
{
    /* td_db would create a missing file: a typo must not copy nothing. */
    if (access(path, R_OK | W_OK) != 0) {
        TD_LOG(TD_LOG_ERR, "db_copy_source", "%s: cannot open: %s", path, strerror(errno));
        return TD_EINVAL;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t dlen = slash == NULL ? 1 : (size_t)(slash - path);
    if (slash == path)
        dlen = 1;
    if (dlen >= sizeof dir)
        return TD_EINVAL;
    memcpy(dir, slash == NULL ? "." : path, dlen);
    dir[dlen] = '\0';
    struct td_sql_opts lite = *o;
    lite.url = NULL;
    lite.data_dir = dir;
    lite.file = slash == NULL ? path : slash + 1;
    return td_sql_pool_open(&lite, 1, out);
}
