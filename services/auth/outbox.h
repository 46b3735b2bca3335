/*
 * outbox.h — td-auth's background thread: delivers the outbox (account
 * deletions td-diary must hear about, retried with backoff until td-diary
 * answers 200) and prunes expired token state once a minute.
 *
 * The outbox row is written in the same transaction as the user deletion, so
 * a deletion that was acknowledged always reaches td-diary eventually, even
 * if td-diary or td-auth was down at that moment. diary.delete_user is
 * idempotent, so delivering twice (a crash between the call and the row's
 * removal) is harmless.
 *
 * Several replicas on one PostgreSQL database each run this thread; a job
 * is leased to one of them while it delivers (store.h,
 * auth_store_outbox_take), so each is delivered once in effect. The lease
 * outlasts one delivery (auth_outbox_lease_s): a replica that dies holding
 * one leaves the job to the others when it ends.
 */
#ifndef AUTH_OUTBOX_H
#define AUTH_OUTBOX_H

#include "td_rpc.h"

#include "td_sql.h"

struct auth_outbox;

/* The shortest lease, in seconds. */
#define AUTH_OUTBOX_LEASE_MIN_S 30

/* How long a job stays leased: twice the delivery's RPC deadline, at least
 * AUTH_OUTBOX_LEASE_MIN_S. */
int64_t auth_outbox_lease_s(int64_t rpc_timeout_ms);

/* Starts the thread on its own connection `db` (not owned); deliveries wait
 * up to rpc_timeout_ms (the `diary` client's deadline). Returns 0 and *out,
 * or TD_ENOMEM. */
int auth_outbox_start(struct td_sql *db, struct td_rpc_client *diary, int64_t rpc_timeout_ms,
                      struct auth_outbox **out);

/* One diary.delete_user call for `user_id` (td-diary erases the entries
 * and keeps the account from writing again): 0 when td-diary answered 200,
 * TD_EDOWN/TD_ETIMEDOUT (or another error) when it did not. timeout_ms 0:
 * the client's deadline. The outbox's deliveries and the account deletion
 * itself (handlers.c, delete_account) both call it. */
int auth_diary_delete_user(struct td_rpc_client *diary, int64_t user_id, const char *request_id,
                           int timeout_ms);

/* Wakes the thread: a job was just queued. `ob` may be NULL. */
void auth_outbox_kick(struct auth_outbox *ob);

/* Stops and joins the thread, frees; NULLs *ob (no-op on NULL). */
void auth_outbox_stop(struct auth_outbox **ob);

/* The delay before retry number `attempts` (1-based): 1 s doubling up to 5 min. */
int64_t auth_outbox_backoff_s(int64_t attempts);

#endif
