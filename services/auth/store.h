/*
 * store.h — td-auth's storage: all of its SQL lives in store.c, written once
 * for both engines of common/td_sql.h.
 *
 * AUTH_DATABASE_URL unset (or "sqlite:"): one SQLite file, DATA_DIR/auth.db.
 * A postgresql:// URL (any libpq connection string): PostgreSQL, in the
 * schema and with the role ops/postgres/init.sql made for td-auth. Either
 * way the store holds a fixed pool: one connection per RPC worker plus one
 * for the background thread (outbox, pruning), never shared between
 * threads. Callers take a connection with auth_store_conn() and pass it to
 * every call; nothing outside store.c knows which engine runs.
 *
 * Tables: users; refresh_families (one row per login: which refresh token is
 * current, for rotation and reuse detection); revoked_tokens (access-token
 * ids revoked before their exp, for the gateways); user_cutoffs ("every
 * token of user U issued before T is revoked", kept after the user is
 * deleted); outbox (calls to td-diary that must happen, retried until
 * acknowledged, each leased to one replica while it tries); reauth_lockout (failed re-authentications per account,
 * lockout.h). Times: *_us microseconds, everything else Unix seconds.
 *
 * Errors: besides the codes each call names, any call may return TD_EDOWN
 * (PostgreSQL unreachable or restarting, a statement over its timeout: the
 * client gets 503 and may retry) or TD_ESTORAGE.
 */
#ifndef AUTH_STORE_H
#define AUTH_STORE_H

#include "logic.h"
#include "td_sql.h"

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct auth_store;

struct auth_store_opts {
    const char *data_dir;          /* SQLite: where auth.db lives */
    const char *database_url;      /* NULL/"sqlite:": SQLite; else PostgreSQL */
    long long statement_timeout_ms; /* PostgreSQL; 0: td_sql's default */
};

/* Opens `nconns` connections and runs pending migrations. Returns 0 and
 * *out, TD_EDOWN (PostgreSQL unreachable) or TD_ESTORAGE (logged; a schema
 * newer than this binary included). */
int auth_store_open(const struct auth_store_opts *o, size_t nconns, struct auth_store **out);

/* td-auth --copy-from-sqlite=FILE: copies every table of the SQLite file
 * `path` (migrated up to date first) into this store, which must be
 * PostgreSQL and hold no user yet, in one transaction; identity sequences
 * move past the copied ids. *rows gets the rows copied. 0, TD_EINVAL (not
 * PostgreSQL, no such file), TD_EEXISTS (PostgreSQL has users already), or
 * a storage error (nothing copied). */
int auth_store_copy_from_sqlite(struct auth_store *s, const char *path, int64_t *rows);

/* Closes every connection and frees; NULLs *s. */
void auth_store_close(struct auth_store **s);

/* Connection i (< nconns) of the store, owned by it; NULL when out of range. */
struct td_sql *auth_store_conn(struct auth_store *s, size_t i);

struct auth_user {
    int64_t id;
    char email[AUTH_EMAIL_MAX + 1];
    char hash[crypto_pwhash_STRBYTES]; /* NUL-padded: libsodium reads all of it */
    int64_t created_us, updated_us;
    int64_t cutoff_us; /* tokens issued before this are revoked; 0 when none */
};

/* Inserts a user. Returns 0 and fills *out, TD_EEXISTS when the email is
 * taken (also when a concurrent insert won), or TD_ESTORAGE. */
int auth_store_user_insert(struct td_sql *db, const char *email, const char *hash, int64_t now_us,
                           struct auth_user *out);

/* Looks a user up. 0 and *out, TD_EUSERNOTFOUND, or TD_ESTORAGE. */
int auth_store_user_by_email(struct td_sql *db, const char *email, struct auth_user *out);
int auth_store_user_by_id(struct td_sql *db, int64_t id, struct auth_user *out);

/* Replaces the stored hash after a cost upgrade (updated_at unchanged: not a
 * change the user made). 0, TD_EUSERNOTFOUND or TD_ESTORAGE. */
int auth_store_user_rehash(struct td_sql *db, int64_t id, const char *hash);

/* Starts a refresh family at login with its first token, in one transaction
 * with the check that the user still exists with `verified_hash`, the hash
 * the login checked the password against. A password change or an account
 * deletion that committed while the login was hashing wins: TD_ECREDENTIALS,
 * nothing written (the tokens must not be handed out). Otherwise 0 or
 * TD_ESTORAGE. */
int auth_store_family_create(struct td_sql *db, const char *family, int64_t user_id,
                             const char *verified_hash, const char *jti, int64_t exp);

/* Rotates a family in one transaction: when `jti` is its current token, the
 * user exists and the token is not older than the user's cut-off, the family
 * moves to new_jti/new_exp and 0 is returned. Otherwise TD_EREVOKED; when the
 * family was alive, `jti` a rotated-away token (reuse: theft), the whole
 * family is revoked and *killed set. TD_ESTORAGE on failure. */
int auth_store_family_rotate(struct td_sql *db, int64_t user_id, const char *family, const char *jti,
                             int64_t iat_us, const char *new_jti, int64_t new_exp,
                             bool *killed);

/* Logout: revokes access token `jti` (kept until exp) and, when `family` is
 * not NULL and belongs to the user, that refresh family. One transaction.
 * 0 or TD_ESTORAGE. */
int auth_store_logout(struct td_sql *db, int64_t user_id, const char *jti, int64_t exp,
                      const char *family);

/* Password change: stores the new hash and updated_at, records the cut-off
 * and revokes every refresh family of the user. 0, TD_EUSERNOTFOUND or
 * TD_ESTORAGE. */
int auth_store_password_change(struct td_sql *db, int64_t user_id, const char *hash, int64_t now_us,
                               int64_t cutoff_us, int64_t keep_until);

/* Account deletion in one transaction: the user and their families go, the
 * cut-off is recorded and a diary.delete_user job lands in the outbox.
 * 0, TD_EUSERNOTFOUND or TD_ESTORAGE. */
int auth_store_user_delete(struct td_sql *db, int64_t user_id, int64_t cutoff_us, int64_t keep_until,
                           int64_t now_s);

/* One user as the operator's listing shows it (never the hash). */
struct auth_user_row {
    int64_t id;
    char email[AUTH_EMAIL_MAX + 1];
    int64_t created_us, updated_us;
    bool demo; /* made by `tdctl seed` */
};

/* Users with id > after, in id order, at most `limit`: fn per user (a
 * non-zero return stops the walk and is returned). Sets *more when users
 * were left. 0 or TD_ESTORAGE. */
int auth_store_user_page(struct td_sql *db, int64_t after, int limit,
                         int (*fn)(void *arg, const struct auth_user_row *u), void *arg,
                         bool *more);

struct auth_seed_user {
    char email[AUTH_EMAIL_MAX + 1];    /* normalised */
    char hash[crypto_pwhash_STRBYTES]; /* used only when the user is created */
    int64_t id;                        /* out: the user's id */
    bool created;                      /* out: inserted by this call */
};

/* Demo data for `tdctl seed`, in one transaction: with `clear`, every seeded
 * user is first deleted as by an account deletion (cut-off `cutoff_us`, an
 * outbox job for td-diary; their ids land in cleared[]); then each of
 * users[] is created as a seeded user unless a seeded user with that email
 * exists (kept as is). An email that belongs to a real account fails the
 * whole call with TD_EEXISTS and nothing changes. 0, TD_EEXISTS, TD_EINVAL
 * (more than max_cleared demo users) or TD_ESTORAGE. */
int auth_store_seed(struct td_sql *db, struct auth_seed_user *users, size_t n, bool clear,
                    int64_t now_us, int64_t cutoff_us, int64_t keep_until, int64_t *cleared,
                    size_t max_cleared, size_t *ncleared);

/* Revoked access tokens with jti > after (NULL: from the start), in jti
 * order, at most `limit`, still worth knowing at `now_s`. Calls fn per row;
 * sets *more when rows were left. 0 or TD_ESTORAGE. */
int auth_store_revoked_page(struct td_sql *db, const char *after, int limit, int64_t now_s,
                            int (*fn)(void *arg, const char *jti, int64_t exp), void *arg,
                            bool *more);

/* Calls fn for every per-user cut-off still in force at now_s (fn returning
 * non-zero stops the walk and is returned). 0 or TD_ESTORAGE. */
int auth_store_cutoffs(struct td_sql *db, int64_t now_s,
                       int (*fn)(void *arg, int64_t uid, int64_t cutoff_us, int64_t until),
                       void *arg);

struct auth_outbox_job {
    int64_t id;
    int64_t user_id;
    int64_t attempts;
};

/* Takes up to `max` jobs due at now_s that no replica holds, and leases
 * them to `owner` until now_s + lease_s: meanwhile no other take returns
 * them, so of N replicas on one database one delivers a job at a time; a
 * replica that dies holding a lease loses it when it runs out. Returns the
 * count (>= 0) or an error. */
int auth_store_outbox_take(struct td_sql *db, const char *owner, int64_t now_s, int64_t lease_s,
                           struct auth_outbox_job *jobs, int max);

/* When the next job can be taken (Unix seconds: the later of its next_at
 * and its lease's end), or 0 when the outbox is empty. */
int64_t auth_store_outbox_next(struct td_sql *db);

/* Acknowledged: the job goes (whoever holds it: the call was made).
 * Failed: attempts+1, lease released, retried at next_at; only while
 * `owner` still holds the lease (0 either way). */
int auth_store_outbox_done(struct td_sql *db, int64_t id);
int auth_store_outbox_retry(struct td_sql *db, int64_t id, const char *owner, int64_t next_at);

/* Deletes what has expired at now_s: revocations, cut-offs, families,
 * lockout windows. */
int auth_store_prune(struct td_sql *db, int64_t now_s);

/* Re-authentication lockout (lockout.h), shared by every replica: whether
 * `uid` is locked out at now_s (*blocked), a wrong password (the
 * AUTH_LOCKOUT_FAILURES-th within a window locks), a right one (clears).
 * 0 or an error. */
int auth_store_lockout_blocked(struct td_sql *db, int64_t uid, int64_t now_s, bool *blocked);
int auth_store_lockout_failed(struct td_sql *db, int64_t uid, int64_t now_s);
int auth_store_lockout_succeeded(struct td_sql *db, int64_t uid);

#endif
