/*
 * td_db.h — SQLite the way every daemon uses it.
 *
 * One file per daemon under DATA_DIR, WAL journal, synchronous=FULL (a reply
 * goes out only after COMMIT, so an acknowledged write survives kill -9 and
 * power loss), a busy timeout, foreign keys on. Schema changes are numbered
 * migrations: migration i (1-based) brings PRAGMA user_version from i-1 to i,
 * each inside its own transaction.
 */
#ifndef TD_DB_H
#define TD_DB_H

#include <sqlite3.h>
#include <stddef.h>

/* Creates `dir` (and parents) with mode 0700 when missing. 0 or TD_ESTORAGE. */
int td_mkdir_p(const char *dir);

/* Opens (creating) DATA_DIR/<name>, applies the connection settings.
 * Returns 0 and *out, or TD_ESTORAGE (logged). */
int td_db_open(const char *data_dir, const char *name, sqlite3 **out);

/* Runs the migrations `db` has not seen yet. Returns 0 or TD_ESTORAGE; a
 * failed migration is rolled back and nothing after it runs. */
int td_db_migrate(sqlite3 *db, const char *const *migrations, size_t count);

/* A daemon's connections: opens `n` connections to DATA_DIR/<name> (one per
 * worker, so none is ever shared between threads), runs `extra_sql` (NULL or
 * e.g. a PRAGMA) on each, and the migrations on the first. On 0, *out is a
 * new array (close with td_db_close_pool); on failure nothing stays open.
 * Returns 0, TD_ENOMEM or TD_ESTORAGE. */
int td_db_open_pool(const char *data_dir, const char *name, size_t n, const char *extra_sql,
                    const char *const *migrations, size_t nmigrations, sqlite3 ***out);

/* Closes the `n` connections of a pool, frees the array and NULLs *conns. */
void td_db_close_pool(sqlite3 ***conns, size_t n);

/* Closes and NULLs *db (no-op on NULL). */
void td_db_close(sqlite3 **db);

/* Runs SQL with no result rows (BEGIN, COMMIT, ...). 0 or TD_ESTORAGE. */
int td_db_exec(sqlite3 *db, const char *sql);

#endif
