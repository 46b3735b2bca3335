/*
 * td_db.c — connection settings and the migration runner of td_db.h.
 */
#include "td_db.h"
#include "td_error.h"
#include "td_log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int td_mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return TD_ESTORAGE;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return TD_ESTORAGE;
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return TD_ESTORAGE;
    return 0;
}

int td_db_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        TD_LOG(TD_LOG_ERR, "db_exec_failed", "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return TD_ESTORAGE;
    }
    return 0;
}

/* How long a statement waits for a lock another connection holds (the WAL
 * write lock, mostly) before failing with SQLITE_BUSY. */
#define TD_DB_BUSY_TIMEOUT_US 5000000

/* SQLite's own busy timeout sleeps 1, 2, 5, 10 ... up to 100 ms between
 * attempts, so a writer that arrives while another commits waits tens of
 * milliseconds for a lock held for well under one: with the eight workers of
 * td-diary writing at once, POST /diaries had a p99 of 250-1200 ms, mostly
 * asleep (strace: clock_nanosleep averaging 8 ms). Retry fast instead:
 * 50 us, doubling, at most 1 ms apart, for the same 5 seconds in total. */
static int busy_wait(void *arg, int count)
{
    (void)arg;
    /* count-th retry: 50, 100, 200, 400, 800, then 1000 us; 1550 us slept
     * before the sixth. */
    long long step = count < 5 ? 50LL << count : 1000;
    long long slept = count < 5 ? (50LL << count) - 50 : 1550 + (count - 5) * 1000LL;
    if (slept >= TD_DB_BUSY_TIMEOUT_US)
        return 0;
    struct timespec ts = {0, (long)step * 1000};
    nanosleep(&ts, NULL);
    return 1;
}

int td_db_open(const char *data_dir, const char *name, sqlite3 **out)
{
    char path[PATH_MAX];
    if (td_mkdir_p(data_dir) != 0) {
        TD_LOG(TD_LOG_ERR, "db_dir_failed", "cannot create DATA_DIR %s: %s", data_dir,
               strerror(errno));
        return TD_ESTORAGE;
    }
    if (snprintf(path, sizeof path, "%s/%s", data_dir, name) >= (int)sizeof path)
        return TD_ESTORAGE;
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        TD_LOG(TD_LOG_ERR, "db_open_failed", "cannot open %s: %s", path,
               db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return TD_ESTORAGE;
    }
    sqlite3_busy_handler(db, busy_wait, NULL);
    /* temp_store=MEMORY: SQLite's temporary files (the statement journal
     * behind each savepoint of a group commit, services/diary/store.c; sort
     * spills) would otherwise go to /var/tmp, outside DATA_DIR, holding
     * copies of pages of diary text, and cost an open, unlink and dozens of
     * 4 KB writes per commit (docs/performance.md, "Writes"). */
    if (td_db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                       "PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=ON;") != 0) {
        sqlite3_close(db);
        return TD_ESTORAGE;
    }
    chmod(path, 0600); /* diary text is private: owner-only, whatever the umask */
    *out = db;
    return 0;
}

static int user_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return TD_ESTORAGE;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : TD_ESTORAGE;
    if (rc == 0)
        *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc;
}

int td_db_migrate(sqlite3 *db, const char *const *migrations, size_t count)
{
    int current;
    if (user_version(db, &current) != 0)
        return TD_ESTORAGE;
    if (current > (int)count) {
        TD_LOG(TD_LOG_ERR, "db_too_new", "schema version %d is newer than this binary (%zu)",
               current, count);
        return TD_ESTORAGE;
    }
    for (size_t i = (size_t)current; i < count; i++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version=%zu;", i + 1);
        /* IMMEDIATE takes the write lock up front, so two processes starting
         * at once cannot both run the same migration. */
        if (td_db_exec(db, "BEGIN IMMEDIATE") != 0)
            return TD_ESTORAGE;
        /* Read again under the lock: another process may have migrated
         * since the first read. A failed read leaves `now` unset, so it is
         * an error of its own, never compared. */
        int now;
        if (user_version(db, &now) != 0) {
            (void)td_db_exec(db, "ROLLBACK"); /* failing anyway; it logs */
            return TD_ESTORAGE;
        }
        if (now != (int)i) {
            /* Going on needs the transaction closed: a failed ROLLBACK
             * would make the next BEGIN fail with a less telling error. */
            if (td_db_exec(db, "ROLLBACK") != 0)
                return TD_ESTORAGE;
            if (now > (int)i)
                continue; /* someone else migrated meanwhile */
            return TD_ESTORAGE; /* the version went backwards under us */
        }
        if (td_db_exec(db, migrations[i]) != 0 || td_db_exec(db, bump) != 0 ||
            td_db_exec(db, "COMMIT") != 0) {
            td_db_exec(db, "ROLLBACK");
            TD_LOG(TD_LOG_ERR, "db_migration_failed", "migration %zu failed", i + 1);
            return TD_ESTORAGE;
        }
        TD_LOG(TD_LOG_INFO, "db_migrated", "schema at version %zu", i + 1);
    }
    return 0;
}

void td_db_close(sqlite3 **db)
{
    if (*db == NULL)
        return;
    sqlite3_close(*db);
    *db = NULL;
}

int td_db_open_pool(const char *data_dir, const char *name, size_t n, const char *extra_sql,
                    const char *const *migrations, size_t nmigrations, sqlite3 ***out)
{
    sqlite3 **conns = calloc(n, sizeof *conns);
    if (conns == NULL)
        return TD_ENOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = td_db_open(data_dir, name, &conns[i]);
        if (rc == 0 && extra_sql != NULL)
            rc = td_db_exec(conns[i], extra_sql);
    }
    if (rc == 0 && n > 0)
        rc = td_db_migrate(conns[0], migrations, nmigrations);
    if (rc != 0) {
        td_db_close_pool(&conns, n);
        return rc;
    }
    *out = conns;
    return 0;
}

void td_db_close_pool(sqlite3 ***conns, size_t n)
{
    if (*conns == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        td_db_close(&(*conns)[i]);
    free(*conns);
    *conns = NULL;
}
