/*
 * store.c — td-auth's schema and queries (store.h). Prepared statements
 * only, each prepared once per connection and reused (see prepare());
 * every multi-statement change runs in one BEGIN IMMEDIATE transaction so a
 * reply only ever acknowledges what was committed together.
 */
#include "store.h"
#include "td_db.h"
#include "td_error.h"
#include "td_log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Numbered migrations: append, never edit one that has shipped. */
static const char *const migrations[] = {
    /* 1: users; emails are stored trimmed and lower-cased, so UNIQUE is
     * case-insensitive in effect. */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  email TEXT NOT NULL UNIQUE,"
    "  password_hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ");",
    /* 2: token state. AUTOINCREMENT above matters: a deleted user's id is
     * never reused, so a cut-off kept after deletion never hits a new user. */
    "CREATE TABLE refresh_families ("
    "  family TEXT PRIMARY KEY,"
    "  user_id INTEGER NOT NULL,"
    "  current_jti TEXT NOT NULL,"
    "  current_exp INTEGER NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX refresh_families_user ON refresh_families(user_id);"
    "CREATE INDEX refresh_families_exp ON refresh_families(current_exp);"
    "CREATE TABLE revoked_tokens ("
    "  jti TEXT PRIMARY KEY,"
    "  exp INTEGER NOT NULL,"
    "  keep_until INTEGER NOT NULL"
    ");"
    "CREATE INDEX revoked_tokens_keep ON revoked_tokens(keep_until);"
    "CREATE TABLE user_cutoffs ("
    "  user_id INTEGER PRIMARY KEY,"
    "  cutoff_us INTEGER NOT NULL,"
    "  keep_until INTEGER NOT NULL"
    ");"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  op TEXT NOT NULL,"
    "  user_id INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_at INTEGER NOT NULL"
    ");",
    /* 3: demo accounts made by `tdctl seed`, so --clear removes those and
     * nothing else. */
    "ALTER TABLE users ADD COLUMN seeded INTEGER NOT NULL DEFAULT 0 CHECK (seeded IN (0, 1));",
};

int auth_store_open(const char *data_dir, size_t nconns, struct auth_store **out)
{
    struct auth_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return TD_ENOMEM;
    int rc = td_db_open_pool(data_dir, "auth.db", nconns, NULL, migrations,
                             sizeof migrations / sizeof migrations[0], &s->conns);
    if (rc != 0) {
        free(s);
        return rc;
    }
    s->nconns = nconns;
    *out = s;
    return 0;
}

void auth_store_close(struct auth_store **ps)
{
    struct auth_store *s = *ps;
    if (s == NULL)
        return;
    /* The statements prepare() kept: sqlite3_close() refuses a connection
     * that still has some, and the connection would leak. */
    for (size_t i = 0; i < s->nconns; i++) {
        sqlite3_stmt *st;
        while ((st = sqlite3_next_stmt(s->conns[i], NULL)) != NULL)
            sqlite3_finalize(st);
    }
    td_db_close_pool(&s->conns, s->nconns);
    free(s);
    *ps = NULL;
}

/* ---- statement helpers --------------------------------------------------- */

/* Statements are prepared once per connection and stay on it, found again
 * by their SQL text: parsing every query on every call was a large share of
 * td-auth's CPU. prepare() hands out the connection's idle statement for
 * `sql`, preparing one only the first time; release() gives it back reset and
 * unbound, on every path (a statement left un-reset would hold a read
 * transaction open and block WAL checkpoints). auth_store_close() finalizes
 * them.
 *
 * Which statements are handed out is tracked here, not read from
 * sqlite3_stmt_busy(): a statement is not busy between prepare() and its
 * first step, nor after SQLITE_DONE. A connection serves one thread at a time
 * and every statement is released by the call that took it, so the calling
 * thread's own list is the whole truth. */
#define MAX_HELD 4 /* statements one thread holds at once; today it is one at most */

static _Thread_local sqlite3_stmt *held[MAX_HELD];
static _Thread_local int nheld;

static bool is_held(const sqlite3_stmt *st)
{
    for (int i = 0; i < nheld; i++)
        if (held[i] == st)
            return true;
    return false;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out)
{
    if (nheld == MAX_HELD) {
        TD_LOG(TD_LOG_ERR, "db_prepare_failed", "more than %d statements in use", MAX_HELD);
        return TD_ESTORAGE;
    }
    sqlite3_stmt *st = NULL;
    while ((st = sqlite3_next_stmt(db, st)) != NULL)
        if (!is_held(st) && strcmp(sqlite3_sql(st), sql) == 0)
            break;
    if (st == NULL &&
        sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        TD_LOG(TD_LOG_ERR, "db_prepare_failed", "%s", sqlite3_errmsg(db));
        return TD_ESTORAGE;
    }
    held[nheld++] = st;
    *out = st;
    return 0;
}

/* Returns a statement from prepare() (no-op on NULL) for its next use. */
static void release(sqlite3_stmt *st)
{
    if (st == NULL)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (int i = 0; i < nheld; i++) {
        if (held[i] == st) {
            held[i] = held[--nheld];
            break;
        }
    }
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

/* Runs one statement that returns no rows. *changes (may be NULL) gets the
 * rows changed. Returns 0, TD_EEXISTS on a UNIQUE violation, or TD_ESTORAGE. */
static int run(sqlite3 *db, int *changes, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(db, sql, &st);
    if (rc == 0) {
        va_list ap;
        va_start(ap, types);
        rc = bind(st, types, ap);
        va_end(ap);
    }
    if (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE) {
            if (changes)
                *changes = sqlite3_changes(db);
        } else if (sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_UNIQUE ||
                   sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_PRIMARYKEY) {
            rc = TD_EEXISTS;
        } else {
            TD_LOG(TD_LOG_ERR, "db_step_failed", "%s", sqlite3_errmsg(db));
            rc = TD_ESTORAGE;
        }
    }
    release(st);
    return rc;
}

static int begin(sqlite3 *db)
{
    return td_db_exec(db, "BEGIN IMMEDIATE");
}

/* Commits when rc is 0, else rolls back; returns the outcome. */
static int finish(sqlite3 *db, int rc)
{
    if (rc == 0 && td_db_exec(db, "COMMIT") == 0)
        return 0;
    td_db_exec(db, "ROLLBACK");
    return rc ? rc : TD_ESTORAGE;
}

/* ---- users ---------------------------------------------------------------- */

#define USER_COLUMNS                                                                         \
    "SELECT u.id, u.email, u.password_hash, u.created_at, u.updated_at,"                     \
    " COALESCE(c.cutoff_us, 0) FROM users u LEFT JOIN user_cutoffs c ON c.user_id = u.id "

static int user_select(sqlite3 *db, const char *sql, const char *types,
                       struct auth_user *out, ...)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(db, sql, &st);
    if (rc == 0) {
        va_list ap;
        va_start(ap, out);
        rc = bind(st, types, ap);
        va_end(ap);
    }
    if (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            const char *email = (const char *)sqlite3_column_text(st, 1);
            const char *hash = (const char *)sqlite3_column_text(st, 2);
            if (email == NULL || hash == NULL || strlen(email) > AUTH_EMAIL_MAX ||
                strlen(hash) >= crypto_pwhash_STRBYTES) {
                rc = TD_ESTORAGE;
            } else {
                memset(out, 0, sizeof *out);
                out->id = sqlite3_column_int64(st, 0);
                memcpy(out->email, email, strlen(email) + 1);
                memcpy(out->hash, hash, strlen(hash) + 1);
                out->created_us = sqlite3_column_int64(st, 3);
                out->updated_us = sqlite3_column_int64(st, 4);
                out->cutoff_us = sqlite3_column_int64(st, 5);
            }
        } else {
            rc = step == SQLITE_DONE ? TD_EUSERNOTFOUND : TD_ESTORAGE;
        }
    }
    release(st);
    return rc;
}

int auth_store_user_insert(sqlite3 *db, const char *email, const char *hash, int64_t now_us,
                           struct auth_user *out)
{
    int rc = run(db, NULL,
                 "INSERT INTO users(email, password_hash, created_at, updated_at)"
                 " VALUES (?, ?, ?, ?)",
                 "ssii", email, hash, now_us, now_us);
    if (rc != 0)
        return rc;
    return auth_store_user_by_id(db, sqlite3_last_insert_rowid(db), out);
}

int auth_store_user_by_email(sqlite3 *db, const char *email, struct auth_user *out)
{
    return user_select(db, USER_COLUMNS "WHERE u.email = ?", "s", out, email);
}

int auth_store_user_by_id(sqlite3 *db, int64_t id, struct auth_user *out)
{
    return user_select(db, USER_COLUMNS "WHERE u.id = ?", "i", out, id);
}

int auth_store_user_rehash(sqlite3 *db, int64_t id, const char *hash)
{
    int changes = 0;
    int rc = run(db, &changes, "UPDATE users SET password_hash = ? WHERE id = ?", "si", hash, id);
    return rc ? rc : changes ? 0 : TD_EUSERNOTFOUND;
}

/* ---- refresh families ------------------------------------------------------ */

int auth_store_family_create(sqlite3 *db, const char *family, int64_t user_id,
                             const char *verified_hash, const char *jti, int64_t exp)
{
    int rc = begin(db);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = prepare(db, "SELECT password_hash FROM users WHERE id = ?", &st);
    if (rc == 0 && sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK)
        rc = TD_ESTORAGE;
    if (rc == 0) {
        int step = sqlite3_step(st);
        const char *stored = step == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = TD_ESTORAGE;
        else if (stored == NULL || strcmp(stored, verified_hash) != 0)
            rc = TD_ECREDENTIALS; /* deleted, or the password changed meanwhile */
    }
    release(st);
    rc = rc ? rc
            : run(db, NULL,
                  "INSERT INTO refresh_families(family, user_id, current_jti, current_exp)"
                  " VALUES (?, ?, ?, ?)",
                  "sisi", family, user_id, jti, exp);
    return finish(db, rc);
}

int auth_store_family_rotate(sqlite3 *db, int64_t user_id, const char *family, const char *jti,
                             int64_t iat_us, const char *new_jti, int64_t new_exp, bool *killed)
{
    *killed = false;
    int rc = begin(db);
    if (rc != 0)
        return rc;
    sqlite3_stmt *st = NULL;
    rc = prepare(db,
                 "SELECT f.current_jti, f.revoked, COALESCE(c.cutoff_us, 0),"
                 " EXISTS(SELECT 1 FROM users u WHERE u.id = f.user_id)"
                 " FROM refresh_families f LEFT JOIN user_cutoffs c ON c.user_id = f.user_id"
                 " WHERE f.family = ? AND f.user_id = ?",
                 &st);
    bool current = false, alive = false;
    if (rc == 0 && (sqlite3_bind_text(st, 1, family, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
                    sqlite3_bind_int64(st, 2, user_id) != SQLITE_OK))
        rc = TD_ESTORAGE;
    if (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            const char *cur = (const char *)sqlite3_column_text(st, 0);
            alive = sqlite3_column_int(st, 1) == 0 && sqlite3_column_int(st, 3) != 0 &&
                    iat_us >= sqlite3_column_int64(st, 2);
            current = cur != NULL && strcmp(cur, jti) == 0;
        } else if (step != SQLITE_DONE) {
            rc = TD_ESTORAGE;
        }
    }
    release(st);
    if (rc == 0 && alive && current) {
        rc = run(db, NULL,
                 "UPDATE refresh_families SET current_jti = ?, current_exp = ? WHERE family = ?",
                 "sis", new_jti, new_exp, family);
        return finish(db, rc);
    }
    if (rc == 0 && alive) {
        /* A token that was rotated away came back: whoever holds the family
         * now may be a thief, so nobody keeps it. */
        rc = run(db, NULL, "UPDATE refresh_families SET revoked = 1 WHERE family = ?", "s",
                 family);
        *killed = rc == 0;
    }
    rc = finish(db, rc);
    return rc ? rc : TD_EREVOKED;
}

int auth_store_logout(sqlite3 *db, int64_t user_id, const char *jti, int64_t exp,
                      const char *family)
{
    int rc = begin(db);
    if (rc != 0)
        return rc;
    rc = run(db, NULL,
             "INSERT INTO revoked_tokens(jti, exp, keep_until) VALUES (?, ?, ?)"
             " ON CONFLICT(jti) DO NOTHING",
             "sii", jti, exp, auth_revocation_keep_until(exp));
    if (rc == 0 && family != NULL)
        rc = run(db, NULL,
                 "UPDATE refresh_families SET revoked = 1 WHERE family = ? AND user_id = ?",
                 "si", family, user_id);
    return finish(db, rc);
}

static int set_cutoff(sqlite3 *db, int64_t user_id, int64_t cutoff_us, int64_t keep_until)
{
    return run(db, NULL,
               "INSERT INTO user_cutoffs(user_id, cutoff_us, keep_until) VALUES (?, ?, ?)"
               " ON CONFLICT(user_id) DO UPDATE SET cutoff_us = max(cutoff_us, excluded.cutoff_us),"
               " keep_until = max(keep_until, excluded.keep_until)",
               "iii", user_id, cutoff_us, keep_until);
}

int auth_store_password_change(sqlite3 *db, int64_t user_id, const char *hash, int64_t now_us,
                               int64_t cutoff_us, int64_t keep_until)
{
    int rc = begin(db);
    if (rc != 0)
        return rc;
    int changes = 0;
    rc = run(db, &changes, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
             "sii", hash, now_us, user_id);
    if (rc == 0 && changes == 0)
        rc = TD_EUSERNOTFOUND;
    rc = rc ? rc : set_cutoff(db, user_id, cutoff_us, keep_until);
    rc = rc ? rc
            : run(db, NULL, "UPDATE refresh_families SET revoked = 1 WHERE user_id = ?", "i",
                  user_id);
    return finish(db, rc);
}

int auth_store_user_delete(sqlite3 *db, int64_t user_id, int64_t cutoff_us, int64_t keep_until,
                           int64_t now_s)
{
    int rc = begin(db);
    if (rc != 0)
        return rc;
    int changes = 0;
    rc = run(db, &changes, "DELETE FROM users WHERE id = ?", "i", user_id);
    if (rc == 0 && changes == 0)
        rc = TD_EUSERNOTFOUND;
    rc = rc ? rc : run(db, NULL, "DELETE FROM refresh_families WHERE user_id = ?", "i", user_id);
    rc = rc ? rc : set_cutoff(db, user_id, cutoff_us, keep_until);
    rc = rc ? rc
            : run(db, NULL,
                  "INSERT INTO outbox(op, user_id, created_at, next_at)"
                  " VALUES ('diary.delete_user', ?, ?, ?)",
                  "iii", user_id, now_s, now_s);
    return finish(db, rc);
}

/* ---- operator listing ------------------------------------------------------ */

int auth_store_user_page(sqlite3 *db, int64_t after, int limit,
                         int (*fn)(void *arg, const struct auth_user_row *u), void *arg,
                         bool *more)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(db,
                     "SELECT id, email, created_at, updated_at, seeded FROM users"
                     " WHERE id > ? ORDER BY id LIMIT ?",
                     &st);
    if (rc == 0 && (sqlite3_bind_int64(st, 1, after) != SQLITE_OK ||
                    sqlite3_bind_int(st, 2, limit + 1) != SQLITE_OK))
        rc = TD_ESTORAGE;
    int n = 0, step = SQLITE_DONE;
    *more = false;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            *more = true;
            break;
        }
        const char *email = (const char *)sqlite3_column_text(st, 1);
        if (email == NULL || strlen(email) > AUTH_EMAIL_MAX) {
            rc = TD_ESTORAGE;
            break;
        }
        struct auth_user_row row = {.id = sqlite3_column_int64(st, 0),
                                    .created_us = sqlite3_column_int64(st, 2),
                                    .updated_us = sqlite3_column_int64(st, 3),
                                    .demo = sqlite3_column_int(st, 4) == 1};
        memcpy(row.email, email, strlen(email) + 1);
        rc = fn(arg, &row);
        n++;
    }
    if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = TD_ESTORAGE;
    release(st);
    return rc;
}

/* ---- seed data ---------------------------------------------------------------- */

/* Deletes every seeded user the way an account deletion does (families,
 * cut-off, outbox job for td-diary), inside the caller's transaction. */
static int seed_clear(sqlite3 *db, int64_t cutoff_us, int64_t keep_until, int64_t now_s,
                      int64_t *cleared, size_t max_cleared, size_t *ncleared)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(db, "SELECT id FROM users WHERE seeded = 1 ORDER BY id", &st);
    int step = SQLITE_DONE;
    *ncleared = 0;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*ncleared == max_cleared) {
            rc = TD_EINVAL; /* more demo users than the caller can be told about */
            break;
        }
        cleared[(*ncleared)++] = sqlite3_column_int64(st, 0);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = TD_ESTORAGE;
    release(st);
    for (size_t i = 0; rc == 0 && i < *ncleared; i++) {
        int64_t uid = cleared[i];
        rc = run(db, NULL, "DELETE FROM users WHERE id = ?", "i", uid);
        rc = rc ? rc : run(db, NULL, "DELETE FROM refresh_families WHERE user_id = ?", "i", uid);
        rc = rc ? rc : set_cutoff(db, uid, cutoff_us, keep_until);
        rc = rc ? rc
                : run(db, NULL,
                      "INSERT INTO outbox(op, user_id, created_at, next_at)"
                      " VALUES ('diary.delete_user', ?, ?, ?)",
                      "iii", uid, now_s, now_s);
    }
    return rc;
}

int auth_store_seed(sqlite3 *db, struct auth_seed_user *users, size_t n, bool clear,
                    int64_t now_us, int64_t cutoff_us, int64_t keep_until, int64_t *cleared,
                    size_t max_cleared, size_t *ncleared)
{
    int rc = begin(db);
    if (rc != 0)
        return rc;
    *ncleared = 0;
    if (clear)
        rc = seed_clear(db, cutoff_us, keep_until, now_us / 1000000, cleared, max_cleared,
                        ncleared);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *st = NULL;
        rc = prepare(db, "SELECT id, seeded FROM users WHERE email = ?", &st);
        if (rc == 0 && sqlite3_bind_text(st, 1, users[i].email, -1, SQLITE_STATIC) != SQLITE_OK)
            rc = TD_ESTORAGE;
        int step = rc == 0 ? sqlite3_step(st) : SQLITE_ERROR;
        if (rc == 0 && step == SQLITE_ROW) {
            /* A demo account that exists stays as it is (idempotence); a real
             * account with that email is never touched. */
            users[i].id = sqlite3_column_int64(st, 0);
            users[i].created = false;
            if (sqlite3_column_int(st, 1) != 1)
                rc = TD_EEXISTS;
        } else if (rc == 0 && step != SQLITE_DONE) {
            rc = TD_ESTORAGE;
        }
        release(st);
        if (rc == 0 && step == SQLITE_DONE) {
            rc = run(db, NULL,
                     "INSERT INTO users(email, password_hash, created_at, updated_at, seeded)"
                     " VALUES (?, ?, ?, ?, 1)",
                     "ssii", users[i].email, users[i].hash, now_us, now_us);
            users[i].id = sqlite3_last_insert_rowid(db);
            users[i].created = true;
        }
    }
    return finish(db, rc);
}

/* ---- revocation feed ------------------------------------------------------- */

int auth_store_revoked_page(sqlite3 *db, const char *after, int limit, int64_t now_s,
                            int (*fn)(void *arg, const char *jti, int64_t exp), void *arg,
                            bool *more)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(db,
                     "SELECT jti, exp FROM revoked_tokens WHERE jti > ? AND keep_until >= ?"
                     " ORDER BY jti LIMIT ?",
                     &st);
    if (rc == 0 && (sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_TRANSIENT) != 0 ||
                    sqlite3_bind_int64(st, 2, now_s) != 0 ||
                    sqlite3_bind_int(st, 3, limit + 1) != 0))
        rc = TD_ESTORAGE;
    int n = 0, step = SQLITE_DONE;
    *more = false;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            *more = true;
            break;
        }
        const char *jti = (const char *)sqlite3_column_text(st, 0);
        rc = jti ? fn(arg, jti, sqlite3_column_int64(st, 1)) : TD_ESTORAGE;
        n++;
    }
    if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = TD_ESTORAGE;
    release(st);
    return rc;
}

int auth_store_cutoffs(sqlite3 *db, int64_t now_s,
                       int (*fn)(void *arg, int64_t uid, int64_t cutoff_us, int64_t until),
                       void *arg)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(db,
                     "SELECT user_id, cutoff_us, keep_until FROM user_cutoffs"
                     " WHERE keep_until >= ? ORDER BY user_id",
                     &st);
    if (rc == 0 && sqlite3_bind_int64(st, 1, now_s) != SQLITE_OK)
        rc = TD_ESTORAGE;
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(arg, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                sqlite3_column_int64(st, 2));
    if (rc == 0 && step != SQLITE_DONE)
        rc = TD_ESTORAGE;
    release(st);
    return rc;
}

/* ---- outbox ------------------------------------------------------------------ */

int auth_store_outbox_due(sqlite3 *db, int64_t now_s, struct auth_outbox_job *jobs, int max)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(db,
                     "SELECT id, user_id, attempts FROM outbox WHERE next_at <= ?"
                     " ORDER BY next_at, id LIMIT ?",
                     &st);
    if (rc == 0 && (sqlite3_bind_int64(st, 1, now_s) != SQLITE_OK ||
                    sqlite3_bind_int(st, 2, max) != SQLITE_OK))
        rc = TD_ESTORAGE;
    int n = 0, step = SQLITE_DONE;
    while (rc == 0 && n < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        jobs[n].id = sqlite3_column_int64(st, 0);
        jobs[n].user_id = sqlite3_column_int64(st, 1);
        jobs[n].attempts = sqlite3_column_int64(st, 2);
        n++;
    }
    if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = TD_ESTORAGE;
    release(st);
    return rc ? rc : n;
}

int64_t auth_store_outbox_next(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int64_t next = 0;
    if (prepare(db, "SELECT min(next_at) FROM outbox", &st) == 0 &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        next = sqlite3_column_int64(st, 0);
    release(st);
    return next;
}

int auth_store_outbox_done(sqlite3 *db, int64_t id)
{
    return run(db, NULL, "DELETE FROM outbox WHERE id = ?", "i", id);
}

int auth_store_outbox_retry(sqlite3 *db, int64_t id, int64_t next_at)
{
    return run(db, NULL, "UPDATE outbox SET attempts = attempts + 1, next_at = ? WHERE id = ?",
               "ii", next_at, id);
}

int auth_store_prune(sqlite3 *db, int64_t now_s)
{
    int rc = run(db, NULL, "DELETE FROM revoked_tokens WHERE keep_until < ?", "i", now_s);
    rc = rc ? rc : run(db, NULL, "DELETE FROM user_cutoffs WHERE keep_until < ?", "i", now_s);
    /* A family whose current token has expired can never rotate again. */
    rc = rc ? rc
            : run(db, NULL, "DELETE FROM refresh_families WHERE current_exp < ?", "i",
                  now_s - AUTH_MAX_LEEWAY_S - 1);
    return rc;
}
