/*
 * td_sql.h — one SQL interface, two engines: SQLite (td_db.h: a file under
 * DATA_DIR) and PostgreSQL (libpq). A daemon's store writes its queries once,
 * with `?` parameters, against this interface; which engine runs is decided
 * by one setting (td_sql_url_engine) and nothing above the store knows.
 *
 * A pool is a fixed number of connections (one per RPC worker plus one per
 * background thread): a connection is never shared between threads, so no
 * worker ever waits for another, and the number of server connections a
 * daemon holds is bounded by its configuration.
 *
 * Migrations are numbered, the same numbers for both engines (two arrays of
 * equal length). Opening a pool brings the schema up to date: on SQLite as
 * td_db_migrate does; on PostgreSQL each migration runs in its own
 * transaction under pg_advisory_xact_lock, so N replicas starting at once on
 * an empty database migrate it exactly once. Either engine refuses a schema
 * newer than the binary knows ("db_too_new", TD_ESTORAGE).
 *
 * PostgreSQL connections fail fast and heal: a lost server makes calls fail
 * with TD_EDOWN (503) at once; the connection is re-established by the next
 * call that finds it broken (at most one attempt per TD_SQL_RETRY_MS), and a
 * connection the server closed while idle (a restart) is noticed before it is
 * used (td_sql_pg.c). Every session runs with statement_timeout, lock_timeout
 * and idle_in_transaction_session_timeout set to the pool's statement
 * timeout, so one slow query cannot hold a worker past the RPC deadline.
 *
 * Errors: TD_EEXISTS (unique violation), TD_EDOWN (server unreachable,
 * restarting, overloaded, statement timed out: retry later), TD_ESTORAGE
 * (anything else). Parameter values and connection strings are never logged.
 */
#ifndef TD_SQL_H
#define TD_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum td_sql_engine { TD_SQL_SQLITE = 0, TD_SQL_PG };

struct td_sql;      /* one connection, used by one thread at a time */
struct td_sql_pool; /* a daemon's connections */
struct td_sql_stmt; /* a query being read, from td_sql_query */

/* A failed PostgreSQL connection is retried at most this often. */
#define TD_SQL_RETRY_MS 250

struct td_sql_opts {
    const char *service;  /* "td-auth": PostgreSQL application_name, the lock key */
    const char *data_dir; /* SQLite: the directory of the file */
    const char *file;     /* SQLite: its name ("auth.db") */
    const char *url;      /* NULL, "" or "sqlite:": SQLite; else a libpq conninfo */
    /* Migrations, index i brings version i to i+1; both arrays have n. */
    const char *const *sqlite_migrations;
    const char *const *pg_migrations;
    size_t nmigrations;
    long long statement_timeout_ms; /* PostgreSQL; 0: 5000 */
};

/* Which engine `url` selects: TD_SQL_SQLITE for NULL, "" and "sqlite:",
 * TD_SQL_PG for anything libpq parses (a postgresql:// or postgres:// URI,
 * or key=value pairs). Returns 0 and *out, or TD_EINVAL with a reason in err
 * (never the URL itself, which may hold a password). */
int td_sql_url_engine(const char *url, enum td_sql_engine *out, char *err, size_t errlen);

/* A daemon's database settings, checked at start (services/auth/config.c,
 * services/diary/config.c): `url` (the value of `url_var`) names an engine,
 * and the statement timeout (`timeout_var`) ends well inside the RPC
 * deadline, or the caller would time out (504) while the worker is still
 * held. Prints "<daemon>: configuration error: ..." and returns TD_ECONFIG,
 * or 0. */
int td_sql_check_settings(const char *daemon, const char *url_var, const char *url,
                          const char *timeout_var, long long timeout_ms,
                          long long rpc_timeout_ms);

/* Opens `n` connections and runs the pending migrations (on the first).
 * Returns 0 and *out, TD_EDOWN (PostgreSQL unreachable), TD_ENOMEM or
 * TD_ESTORAGE (logged: a failed or too-new migration included). On failure
 * nothing stays open. */
int td_sql_pool_open(const struct td_sql_opts *o, size_t n, struct td_sql_pool **out);

/* Closes every connection, frees, NULLs *p (no-op on NULL). */
void td_sql_pool_close(struct td_sql_pool **p);

/* Connection i (< n), or NULL. Owned by the pool. */
struct td_sql *td_sql_pool_conn(struct td_sql_pool *p, size_t i);

enum td_sql_engine td_sql_engine_of(const struct td_sql *db);

/* Runs one statement that returns no rows. `types` describes the values
 * that follow: 'i' int64_t, 's' const char * (NULL binds NULL); one per `?`.
 * SQL that only PostgreSQL runs may number its parameters instead ($1, $2,
 * a number used as often as needed; one value per number).
 * *changes (may be NULL) gets the rows changed. 0, TD_EEXISTS, TD_EDOWN or
 * TD_ESTORAGE. */
int td_sql_run(struct td_sql *db, int64_t *changes, const char *sql, const char *types, ...);

/* Starts a query (parameters as td_sql_run). On 0, *out is ours to read
 * with td_sql_next and must be given back with td_sql_done on every path.
 * At most TD_SQL_MAX_HELD queries per connection at once. */
#define TD_SQL_MAX_HELD 4
int td_sql_query(struct td_sql *db, struct td_sql_stmt **out, const char *sql,
                 const char *types, ...);

/* The next row: 1 (columns readable), 0 when done, or an error code. */
int td_sql_next(struct td_sql_stmt *st);

/* Columns of the current row, from 0. td_sql_int of NULL is 0;
 * td_sql_text of NULL is NULL (valid until the next td_sql_next/done). */
bool td_sql_null(struct td_sql_stmt *st, int col);
int64_t td_sql_int(struct td_sql_stmt *st, int col);
const char *td_sql_text(struct td_sql_stmt *st, int col);

/* Gives a query back (no-op on NULL). */
void td_sql_done(struct td_sql_stmt *st);

/* A write transaction: td_sql_begin, statements, then td_sql_finish(db, rc)
 * commits when rc is 0 and rolls back otherwise. SQLite takes the write lock
 * up front (BEGIN IMMEDIATE), so its transactions run one at a time;
 * PostgreSQL runs READ COMMITTED, so a store that decides on a row it read
 * and another process may write must make the write itself conditional (an
 * UPDATE whose WHERE repeats the condition: PostgreSQL re-checks it against
 * the row a concurrent writer committed). finish returns rc, or
 * TD_EDOWN/TD_ESTORAGE when the commit failed. */
int td_sql_begin(struct td_sql *db);
int td_sql_finish(struct td_sql *db, int rc);

/* Moving a SQLite database into PostgreSQL (a daemon's --copy-from-sqlite):
 * every row `select_sql` returns on `from` is inserted into `to`, which must
 * be a PostgreSQL connection, by `insert_sql` with one `?` per selected
 * column, in order, every value passed as text (SQLite gives integers as
 * their decimal text; NULL stays NULL), inside the caller's transaction.
 * At most 16 columns. *copied (may be NULL) gets the rows. 0, TD_EINVAL
 * (`to` is not PostgreSQL), or the first error. */
int td_sql_copy_rows(struct td_sql *from, struct td_sql *to, const char *select_sql,
                     const char *insert_sql, int ncols, int64_t *copied);

/* Opens the existing SQLite file `path` as a one-connection pool with
 * `o`'s migrations (brought up to date, as the daemon would at start), for
 * td_sql_copy_rows. TD_EINVAL (logged) when the file does not exist. */
int td_sql_pool_open_sqlite_file(const struct td_sql_opts *o, const char *path,
                                 struct td_sql_pool **out);

/* The SQLite handle of a SQLite connection (tests look at its statements),
 * NULL for PostgreSQL. */
struct sqlite3 *td_sql_sqlite_handle(struct td_sql *db);

#endif
