/*
 * td_sql_pg.c — the PostgreSQL engine of td_sql.h, on libpq.
 *
 * Each connection is one libpq session in blocking mode, used by one thread.
 * Queries are prepared once per session (PQprepare, named td_s<n>, found
 * again by their SQL text) and run with PQexecPrepared, parameters as text,
 * results as text; every PGresult is cleared on every path.
 *
 * Failing fast and healing (td_sql.h): before a call that is not inside a
 * transaction, ready() makes sure the session is usable. A session the server
 * closed while it sat idle (a restart: the server sends a FATAL 57P01 and
 * closes) has bytes or EOF waiting on its socket; an idle session has
 * nothing to read, so a readable socket is consumed and, when the session
 * turns out dead, replaced before the query runs, and the first request
 * after a restart is served rather than failed (docs/library-notes.md,
 * "PostgreSQL"). A session that cannot be (re)opened fails the call with
 * TD_EDOWN; the next attempt waits TD_SQL_RETRY_MS, so a dead server costs a
 * request one refused connect at most, never a queue of them.
 */
#include "td_sql_impl.h"
#include "td_error.h"
#include "td_log.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PARAMS 16

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* First line of libpq's message, for a log line. */
static int line_len(const char *msg)
{
    return msg ? (int)strcspn(msg, "\n") : 0;
}

static void forget_session(struct td_sql *db)
{
    if (db->pg != NULL)
        PQfinish(db->pg);
    db->pg = NULL;
    for (size_t i = 0; i < db->nprep; i++)
        db->prep[i].name[0] = '\0';
    db->nprep = 0;
    db->in_tx = false;
}

/* Maps a failed result (NULL: no result at all) to a code, logging what is
 * not an expected outcome. */
static int result_error(struct td_sql *db, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state != NULL && strcmp(state, "23505") == 0)
        return TD_EEXISTS; /* unique violation: an answer, not a failure */
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (primary == NULL)
        primary = PQerrorMessage(db->pg);
    bool down = PQstatus(db->pg) != CONNECTION_OK;
    /* 08 connection exception, 53 insufficient resources (too many
     * connections), 57 operator intervention (57014: statement_timeout,
     * 57P01-03: shutting down, starting up), 40 rollbacks (serialization,
     * deadlock), 55P03 lock_timeout: all "try again later". */
    if (state != NULL && (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
                          strncmp(state, "57", 2) == 0 || strncmp(state, "40", 2) == 0 ||
                          strcmp(state, "55P03") == 0))
        down = true;
    TD_LOG(down ? TD_LOG_WARN : TD_LOG_ERR, down ? "db_unavailable" : "db_failed",
           "PostgreSQL %s: %.*s", state ? state : "(no SQLSTATE)", line_len(primary), primary);
    if (PQstatus(db->pg) != CONNECTION_OK)
        forget_session(db);
    return down ? TD_EDOWN : TD_ESTORAGE;
}

/* Runs parameterless SQL (transaction control, DDL). 0 or an error. */
static int exec_simple(struct td_sql *db, const char *sql)
{
    PGresult *res = PQexec(db->pg, sql);
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : result_error(db, res);
    PQclear(res);
    return rc;
}

/* Runs SQL with text parameters, unprepared (session set-up, migrations).
 * On 0 with `out`, *out is the result (caller clears). */
static int exec_params(struct td_sql *db, const char *sql, int n, const char *const *values,
                       PGresult **out)
{
    PGresult *res = PQexecParams(db->pg, sql, n, NULL, values, NULL, NULL, 0);
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : result_error(db, res);
    if (rc == 0 && out != NULL)
        *out = res;
    else
        PQclear(res);
    return rc;
}

/* The numbered migrations, each in its own transaction under the daemon's
 * advisory lock: whoever holds it reads the version again, so replicas
 * starting together wait for the first and find nothing left to do. The
 * version table lives in the session's schema (the role's search_path). */
static int migrate(struct td_sql *db)
{
    const struct td_sql_opts *o = db->opts;
    /* Each daemon migrates under a lock of its own, keyed by PostgreSQL's
     * own 64-bit hash of the name (hashtextextended, PostgreSQL 11+). */
    char key[96];
    snprintf(key, sizeof key, "td-migrate:%s", o->service ? o->service : "td");
    const char *kv[] = {key};
    for (;;) {
        int rc = exec_simple(db, "BEGIN");
        rc = rc ? rc
                : exec_params(db, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", 1, kv,
                              NULL);
        rc = rc ? rc
                : exec_simple(db, "CREATE TABLE IF NOT EXISTS td_schema_version ("
                                  " version integer PRIMARY KEY,"
                                  " applied_at timestamptz NOT NULL DEFAULT now())");
        PGresult *res = NULL;
        rc = rc ? rc
                : exec_params(db, "SELECT COALESCE(max(version), 0) FROM td_schema_version", 0,
                              NULL, &res);
        long long current = 0;
        if (rc == 0) {
            current = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
            PQclear(res);
            if (current < 0)
                rc = TD_ESTORAGE;
        }
        if (rc == 0 && current > (long long)o->nmigrations) {
            TD_LOG(TD_LOG_ERR, "db_too_new", "schema version %lld is newer than this binary (%zu)",
                   current, o->nmigrations);
            rc = TD_ESTORAGE;
        }
        if (rc == 0 && current == (long long)o->nmigrations)
            return exec_simple(db, "COMMIT") == 0 ? 0 : TD_ESTORAGE;
        char next[24];
        snprintf(next, sizeof next, "%lld", current + 1);
        const char *nv[] = {next};
        rc = rc ? rc : exec_simple(db, o->pg_migrations[current]);
        rc = rc ? rc
                : exec_params(db, "INSERT INTO td_schema_version(version) VALUES ($1::integer)",
                              1, nv, NULL);
        rc = rc ? rc : exec_simple(db, "COMMIT");
        if (rc != 0) {
            if (db->pg != NULL)
                (void)exec_simple(db, "ROLLBACK");
            if (current < (long long)o->nmigrations && current >= 0)
                TD_LOG(TD_LOG_ERR, "db_migration_failed", "migration %lld failed", current + 1);
            return rc == TD_EDOWN ? TD_EDOWN : TD_ESTORAGE;
        }
        TD_LOG(TD_LOG_INFO, "db_migrated", "schema at version %lld", current + 1);
    }
}

/* The server's notices (a migration's "already exists, skipping") would go
 * to stderr raw, beside the structured log: they go into it, at debug. */
static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    TD_LOG(TD_LOG_DEBUG, "db_notice", "PostgreSQL: %.*s", line_len(message), message);
}

/* Opens a session and sets its timeouts. 0 or TD_EDOWN/TD_ESTORAGE. */
static int connect_session(struct td_sql *db)
{
    const struct td_sql_opts *o = db->opts;
    /* Defaults first: a later keyword wins, and the connection string
     * (dbname, expanded) comes last, so what the operator wrote prevails. */
    const char *keys[] = {"connect_timeout", "keepalives_idle", "keepalives_interval",
                          "keepalives_count", "application_name", "dbname", NULL};
    const char *vals[] = {"3", "10", "5", "3", o->service ? o->service : "td", o->url, NULL};
    db->pg = PQconnectdbParams(keys, vals, 1);
    if (db->pg == NULL || PQstatus(db->pg) != CONNECTION_OK) {
        const char *msg = db->pg ? PQerrorMessage(db->pg) : "out of memory";
        TD_LOG(TD_LOG_WARN, "db_connect_failed", "PostgreSQL: %.*s", line_len(msg), msg);
        forget_session(db);
        db->retry_at_ms = mono_ms() + TD_SQL_RETRY_MS;
        return TD_EDOWN;
    }
    PQsetNoticeProcessor(db->pg, notice_to_log, NULL);
    char st[24], idle[24];
    snprintf(st, sizeof st, "%lld", o->statement_timeout_ms);
    snprintf(idle, sizeof idle, "%lld", o->statement_timeout_ms * 2);
    const char *v[] = {st, idle};
    /* A lock wait counts against the same budget as the query; a session
     * left in a transaction (a stuck worker) is ended by the server.
     *
     * Generic plans always: every statement here is keyed by a user or a
     * unique key that leads an index, so its best plan does not depend on
     * the values. Left on `auto`, PostgreSQL re-plans a statement on every
     * execution whenever the generic plan's estimate is the higher, as an
     * unknown LIMIT and OFFSET make it for GET /diaries' page: 0.09 ms of
     * planning for 0.03 ms of execution, every time, for the same index
     * scan (docs/performance.md, "Planning on every execution"). */
    int rc = exec_params(db,
                         "SELECT set_config('statement_timeout', $1, false),"
                         " set_config('lock_timeout', $1, false),"
                         " set_config('idle_in_transaction_session_timeout', $2, false),"
                         " set_config('plan_cache_mode', 'force_generic_plan', false)",
                         2, v, NULL);
    if (rc != 0) {
        forget_session(db);
        db->retry_at_ms = mono_ms() + TD_SQL_RETRY_MS;
    }
    return rc;
}

/* Makes the session usable before a call outside a transaction (see the
 * top of the file). 0 or TD_EDOWN. */
static int ready(struct td_sql *db)
{
    if (db->in_tx)
        return db->pg != NULL && PQstatus(db->pg) == CONNECTION_OK ? 0 : TD_EDOWN;
    if (db->pg != NULL && PQstatus(db->pg) == CONNECTION_OK) {
        /* An idle session is sent nothing unasked (no LISTEN here): bytes
         * or EOF waiting mean the server ended it (57P01 on a restart, or
         * idle_in_transaction_session_timeout after a stuck worker). */
        struct pollfd p = {.fd = PQsocket(db->pg), .events = POLLIN};
        if (p.fd >= 0 && poll(&p, 1, 0) == 0 && PQtransactionStatus(db->pg) == PQTRANS_IDLE)
            return 0;
        TD_LOG(TD_LOG_NOTICE, "db_reconnecting",
               "PostgreSQL ended an idle session; opening a new one");
        forget_session(db);
        db->retry_at_ms = 0; /* the server just spoke: try at once */
    }
    forget_session(db);
    if (mono_ms() < db->retry_at_ms)
        return TD_EDOWN;
    if (connect_session(db) != 0)
        return TD_EDOWN;
    TD_LOG(TD_LOG_NOTICE, "db_connected", "PostgreSQL session open");
    return 0;
}

int td_sql_pg_open(struct td_sql *db, bool do_migrate)
{
    int rc = connect_session(db);
    if (rc == 0 && do_migrate)
        rc = migrate(db);
    return rc;
}

void td_sql_pg_close(struct td_sql *db)
{
    forget_session(db);
    free(db->prep);
    db->prep = NULL;
    db->capprep = 0;
}

int td_sql_pg_exec(struct td_sql *db, const char *sql)
{
    int rc = ready(db);
    return rc ? rc : exec_simple(db, sql);
}

/* Rewrites the `?` placeholders of `sql` as $1, $2, ... (outside quotes).
 * A query written for PostgreSQL alone may number its parameters itself
 * ($1, $2, each usable several times; td_sql.h): then it is copied as it is
 * and its count is the highest number. Mixing the two is refused. Returns
 * the count, or -1 when `out` is too small or the placeholders are mixed. */
static int number_params(const char *sql, char *out, size_t size)
{
    size_t o = 0;
    int n = 0, highest = 0;
    char quote = 0;
    for (const char *p = sql; *p; p++) {
        char buf[8];
        const char *piece = buf;
        size_t len = 1;
        buf[0] = *p;
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '?') {
            len = (size_t)snprintf(buf, sizeof buf, "$%d", ++n);
        } else if (*p == '$' && p[1] >= '1' && p[1] <= '9') {
            int k = (int)strtol(p + 1, NULL, 10);
            highest = k > highest ? k : highest;
        }
        if (o + len + 1 > size)
            return -1;
        memcpy(out + o, piece, len);
        o += len;
    }
    out[o] = '\0';
    if (n > 0 && highest > 0)
        return -1;
    return n > 0 ? n : highest;
}

/* The name of `sql` prepared on this session, preparing it the first time. */
static int prepared(struct td_sql *db, const char *sql, int nparams, const char **name)
{
    for (size_t i = 0; i < db->nprep; i++) {
        if (strcmp(db->prep[i].sql, sql) == 0) {
            *name = db->prep[i].name;
            return 0;
        }
    }
    if (db->nprep == db->capprep) {
        size_t cap = db->capprep ? db->capprep * 2 : 32;
        struct td_sql_prepared *grown = realloc(db->prep, cap * sizeof *grown);
        if (grown == NULL)
            return TD_ENOMEM;
        db->prep = grown;
        db->capprep = cap;
    }
    char text[8192];
    int n = number_params(sql, text, sizeof text);
    if (n < 0 || n != nparams) {
        TD_LOG(TD_LOG_ERR, "db_prepare_failed", "%d placeholders for %d values", n, nparams);
        return TD_ESTORAGE;
    }
    struct td_sql_prepared *p = &db->prep[db->nprep];
    snprintf(p->name, sizeof p->name, "td_s%zu", db->nprep);
    PGresult *res = PQprepare(db->pg, p->name, text, nparams, NULL);
    int rc = res && PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : result_error(db, res);
    PQclear(res);
    if (rc != 0)
        return rc;
    p->sql = sql;
    db->nprep++;
    *name = p->name;
    return 0;
}

int td_sql_pg_query_texts(struct td_sql *db, struct td_sql_stmt *st, const char *sql, int n,
                          const char *const *values)
{
    if (n > MAX_PARAMS)
        return TD_ESTORAGE;
    int rc = ready(db);
    const char *name = NULL;
    rc = rc ? rc : prepared(db, sql, n, &name);
    if (rc != 0)
        return rc;
    PGresult *res = PQexecPrepared(db->pg, name, n, values, NULL, NULL, 0);
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        rc = result_error(db, res);
        PQclear(res);
        return rc;
    }
    st->res = res;
    st->row = -1;
    st->nrows = PQntuples(res);
    return 0;
}

int td_sql_pg_query(struct td_sql *db, struct td_sql_stmt *st, const char *sql,
                    const char *types, va_list ap)
{
    int n = (int)strlen(types);
    if (n > MAX_PARAMS)
        return TD_ESTORAGE;
    char nums[MAX_PARAMS][24];
    const char *values[MAX_PARAMS];
    for (int i = 0; i < n; i++) {
        if (types[i] == 'i') {
            snprintf(nums[i], sizeof nums[i], "%lld", (long long)va_arg(ap, int64_t));
            values[i] = nums[i];
        } else {
            values[i] = va_arg(ap, const char *);
        }
    }
    return td_sql_pg_query_texts(db, st, sql, n, values);
}
