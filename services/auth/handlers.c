/*
 * handlers.c — td-auth's operations. Each validates its arguments first
 * (unknown, missing and mistyped fields are a 400 validation_error naming
 * them), then calls the store, then publishes what it revoked.
 *
 * Never logged: passwords, tokens, emails (personal data); user ids are.
 */
#include "handlers.h"
#include "logic.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_rpc_args.h"
#include "td_time.h"
#include "tokens.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A password longer than this many bytes cannot be 128 characters. */
#define PASSWORD_MAX_BYTES (AUTH_PASSWORD_MAX * 4)
#define REVOCATIONS_PAGE_DEFAULT 5000
#define REVOCATIONS_PAGE_MAX 20000

/* ---- app ------------------------------------------------------------------ */

int auth_app_init(struct auth_app *app, const struct auth_config *cfg)
{
    if (sem_init(&app->pwhash_slots, 0, (unsigned)cfg->pwhash_concurrency) != 0)
        return TD_ENOMEM;
    atomic_init(&app->pwhash_waiting, 0);
    unsigned char pw[32];
    randombytes_buf(pw, sizeof pw);
    memset(app->dummy_hash, 0, sizeof app->dummy_hash);
    if (crypto_pwhash_str(app->dummy_hash, (const char *)pw, sizeof pw,
                          (unsigned long long)cfg->pwhash_ops, (size_t)cfg->pwhash_mem) != 0) {
        sem_destroy(&app->pwhash_slots);
        return TD_ENOMEM;
    }
    return 0;
}

void auth_app_destroy(struct auth_app *app)
{
    sem_destroy(&app->pwhash_slots);
}

/* The serving worker's own connection: never shared between threads. */
static struct td_sql *conn(struct auth_app *app, const struct td_rpc_request *req)
{
    return auth_store_conn(app->store, req->worker);
}

/* ---- argument checking --------------------------------------------------- */

/* Declarations for common/td_rpc_args.h. Passwords and e-mails are judged
 * by the rules of logic.h below, not by a byte bound. */
#define EMAIL_ARG TD_ARG_STR("email", TD_ARG_REQUIRED, 0, INT64_MAX)
#define PASSWORD_ARG(name) TD_ARG_STR(name, TD_ARG_REQUIRED, 0, INT64_MAX)
#define ID_ARG(name, flags) TD_ARG_STR(name, flags, 0, INT64_MAX)

/* A token id (declared ID_ARG and present) as the gateway passes it: 1-64
 * URL-safe base64 characters, copied into buf (65 bytes). */
static bool id_arg(struct td_rpc_reply *rep, const struct td_arg *a, char buf[65])
{
    bool ok = a->len > 0 && a->len <= 64;
    for (size_t i = 0; ok && i < a->len; i++) {
        char c = a->s[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_';
    }
    if (!ok) {
        td_rpc_reply_detail(rep, a->name, "Not a valid token id.");
        return false;
    }
    memcpy(buf, a->s, a->len);
    buf[a->len] = '\0';
    return true;
}

/* An e-mail (declared EMAIL_ARG and present), normalised into out. */
static bool email_arg(struct td_rpc_reply *rep, const struct td_arg *a,
                      char out[AUTH_EMAIL_MAX + 1])
{
    const char *problem = auth_email_normalize(a->s, a->len, out);
    if (problem != NULL)
        td_rpc_reply_detail(rep, a->name, problem);
    return problem == NULL;
}

static int invalid(struct td_rpc_reply *rep)
{
    return td_rpc_reply_error(rep, TD_EINVAL, NULL);
}

/* Adds a detail for each broken rule of the password policy. */
static bool check_new_password(const char *field, const char *pw, size_t len,
                               struct td_rpc_reply *rep)
{
    unsigned problems = len > PASSWORD_MAX_BYTES ? AUTH_PW_TOO_LONG : auth_password_check(pw, len);
    for (unsigned bit = 1; bit <= AUTH_PW_NO_SPECIAL; bit <<= 1) {
        if (problems & bit)
            td_rpc_reply_detail(rep, field, auth_password_problem_message(bit));
    }
    return problems == 0;
}

/* The password given to log in or re-authenticate: only its length is
 * judged (no stored password can be longer than the policy allows). */
static bool check_given_password(const char *field, const char *pw, size_t len,
                                 struct td_rpc_reply *rep)
{
    long chars = len > PASSWORD_MAX_BYTES ? -2 : auth_utf8_chars(pw, len);
    if (chars == -2 || chars > AUTH_PASSWORD_MAX) {
        td_rpc_reply_detail(rep, field, "Longer than maximum length 128.");
        return false;
    }
    return true;
}

/* ---- passwords ----------------------------------------------------------- */

/* Hashing is bounded twice. PWHASH_CONCURRENCY hashes run at once (each
 * holds PWHASH_MEMLIMIT bytes), and at most twice as many more requests wait
 * for a slot, for at most PWHASH_SLOT_WAIT_MS. Anything beyond is shed at once
 * with 503, having done nothing: a burst of logins larger than the CPU can
 * hash must neither queue in every RPC worker until callers time out (504)
 * nor starve the cheap operations (me, refresh, logout) behind it. */
#define PWHASH_SLOT_WAIT_MS 1500

static int slot_take(struct auth_app *app)
{
    if (sem_trywait(&app->pwhash_slots) == 0)
        return 0;
    if (atomic_fetch_add(&app->pwhash_waiting, 1) >= 2 * app->cfg->pwhash_concurrency) {
        atomic_fetch_sub(&app->pwhash_waiting, 1);
        TD_LOG(TD_LOG_WARN, "pwhash_busy", "every hashing slot busy and the queue full: shed");
        return TD_EDOWN;
    }
    struct timespec until = td_realtime_in(PWHASH_SLOT_WAIT_MS);
    int rc = TD_EDOWN;
    for (;;) {
        if (sem_timedwait(&app->pwhash_slots, &until) == 0) {
            rc = 0;
            break;
        }
        if (errno != EINTR)
            break;
    }
    atomic_fetch_sub(&app->pwhash_waiting, 1);
    if (rc != 0)
        TD_LOG(TD_LOG_WARN, "pwhash_busy", "no hashing slot within %d ms: shed",
               PWHASH_SLOT_WAIT_MS);
    return rc;
}

/* 0, TD_EDOWN (too busy: nothing done) or TD_ENOMEM. */
static int hash_password(struct auth_app *app, const char *pw, size_t len,
                         char out[crypto_pwhash_STRBYTES])
{
    memset(out, 0, crypto_pwhash_STRBYTES);
    int rc = slot_take(app);
    if (rc != 0)
        return rc;
    rc = crypto_pwhash_str(out, pw, len, (unsigned long long)app->cfg->pwhash_ops,
                           (size_t)app->cfg->pwhash_mem);
    sem_post(&app->pwhash_slots);
    return rc == 0 ? 0 : TD_ENOMEM;
}

/* `hash` is a zeroed crypto_pwhash_STRBYTES buffer (libsodium reads it all).
 * 0 when the password matches, TD_ECREDENTIALS when not, TD_EDOWN when too
 * busy to check. */
static int verify_password(struct auth_app *app, const char *hash, const char *pw, size_t len)
{
    int rc = slot_take(app);
    if (rc != 0)
        return rc;
    rc = crypto_pwhash_str_verify(hash, pw, len);
    sem_post(&app->pwhash_slots);
    return rc == 0 ? 0 : TD_ECREDENTIALS;
}

/* The 503 of a request shed because every hashing slot stayed busy. */
static int reply_busy(struct td_rpc_reply *rep)
{
    return td_rpc_reply_error(rep, TD_EDOWN, "Too many sign-ins at once; try again shortly");
}

/* ---- results ---------------------------------------------------------------- */

static int pack_user(msgpack_packer *pk, const struct auth_user *u)
{
    char created[TD_TIMESTAMP_LEN + 1], updated[TD_TIMESTAMP_LEN + 1];
    if (td_format_timestamp(u->created_us, created, sizeof created) != 0 ||
        td_format_timestamp(u->updated_us, updated, sizeof updated) != 0)
        return TD_EINTERNAL;
    int rc = msgpack_pack_map(pk, 4);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "id", u->id);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "email", u->email);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "created_at", created);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "updated_at", updated);
    return rc ? TD_ENOMEM : 0;
}

static int reply_message(struct td_rpc_reply *rep, const char *message)
{
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int rc = msgpack_pack_map(pk, 1);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "message", message);
    return rc ? TD_ENOMEM : 0;
}

/* {"message": ..., "cutoff": {"uid", "cutoff_us", "until"}}: the gateway that
 * forwarded the call applies the cut-off at once (the feed may lag its
 * reply) and strips it before answering the client. */
static int reply_message_cutoff(struct td_rpc_reply *rep, const char *message, int64_t uid,
                                int64_t cutoff_us, int64_t until)
{
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int rc = msgpack_pack_map(pk, 2);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "message", message);
    rc = rc ? rc : td_mp_pack_cstr(pk, "cutoff");
    rc = rc ? rc : msgpack_pack_map(pk, 3);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "uid", uid);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "cutoff_us", cutoff_us);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "until", until);
    return rc ? TD_ENOMEM : 0;
}

/* Issues an access + refresh pair in `family`. On success *refresh_jti and
 * *refresh_exp describe the new refresh token. */
static int issue_pair(struct auth_app *app, int64_t uid, int64_t cutoff_us, bool fresh,
                      const char *family, char **access, char **refresh,
                      char refresh_jti[AUTH_ID_LEN + 1], int64_t *refresh_exp)
{
    /* A token issued after a cut-off must never fall under it, even if the
     * clock stepped back in between. */
    int64_t iat_us = td_now_us();
    if (iat_us < cutoff_us)
        iat_us = cutoff_us;
    struct auth_claims a = {.user_id = uid, .type = AUTH_TOKEN_ACCESS, .iat_us = iat_us,
                            .ttl = app->cfg->access_ttl, .fresh = fresh};
    struct auth_claims r = {.user_id = uid, .type = AUTH_TOKEN_REFRESH, .iat_us = iat_us,
                            .ttl = app->cfg->refresh_ttl};
    snprintf(r.family, sizeof r.family, "%s", family);
    int rc = auth_token_issue(app->cfg->jwt_secret, &a, access);
    if (rc != 0)
        return rc;
    rc = auth_token_issue(app->cfg->jwt_secret, &r, refresh);
    if (rc != 0) {
        free(*access);
        *access = NULL;
        return rc;
    }
    memcpy(refresh_jti, r.jti, sizeof r.jti);
    *refresh_exp = auth_token_exp(&r);
    return 0;
}

static int reply_pair(struct auth_app *app, struct td_rpc_reply *rep, const char *access,
                      const char *refresh)
{
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int rc = msgpack_pack_map(pk, 4);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "access_token", access);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "refresh_token", refresh);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "token_type", "Bearer");
    rc = rc ? rc : td_mp_pack_kv_int(pk, "expires_in", app->cfg->access_ttl);
    return rc ? TD_ENOMEM : 0;
}

/* How long a per-user cut-off made now must be kept: until every token
 * issued before it has expired, plus the largest leeway. */
static int64_t cutoff_keep_until(const struct auth_config *cfg, int64_t cutoff_us)
{
    int64_t ttl = cfg->access_ttl > cfg->refresh_ttl ? cfg->access_ttl : cfg->refresh_ttl;
    return auth_revocation_keep_until(cutoff_us / 1000000 + 1 + ttl);
}

/* ---- operations ------------------------------------------------------------ */

static int op_register(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct auth_app *app = ctx;
    struct td_arg args[] = {EMAIL_ARG, PASSWORD_ARG("password")};
    char email[AUTH_EMAIL_MAX + 1];
    bool ok = TD_RPC_ARGS_TAKE(req, rep, args) == 0;
    ok = args[0].value != NULL && email_arg(rep, &args[0], email) && ok;
    ok = args[1].value != NULL && check_new_password("password", args[1].s, args[1].len, rep) &&
         ok;
    if (!ok)
        return invalid(rep);
    const char *pw = args[1].s;
    size_t pw_len = args[1].len;

    struct td_sql *db = conn(app, req);
    struct auth_user user;
    /* Checked first to spare the hashing work; the UNIQUE constraint below
     * still decides a race between two registrations. */
    int rc = auth_store_user_by_email(db, email, &user);
    if (rc == 0)
        return td_rpc_reply_error(rep, TD_EEXISTS, NULL);
    if (rc != TD_EUSERNOTFOUND)
        return rc;
    char hash[crypto_pwhash_STRBYTES];
    rc = hash_password(app, pw, pw_len, hash);
    if (rc == TD_EDOWN)
        return reply_busy(rep);
    if (rc == 0)
        rc = auth_store_user_insert(db, email, hash, td_now_us(), &user);
    sodium_memzero(hash, sizeof hash);
    if (rc == TD_EEXISTS)
        return td_rpc_reply_error(rep, TD_EEXISTS, NULL);
    if (rc != 0)
        return rc;
    TD_LOG(TD_LOG_INFO, "user_registered", "user %lld registered", (long long)user.id);
    return pack_user(td_rpc_reply_result(rep, 201), &user);
}

static int op_login(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct auth_app *app = ctx;
    struct td_arg args[] = {EMAIL_ARG, PASSWORD_ARG("password")};
    char email[AUTH_EMAIL_MAX + 1] = "";
    bool ok = TD_RPC_ARGS_TAKE(req, rep, args) == 0;
    bool email_ok = false;
    if (args[0].value != NULL) {
        const char *problem = auth_email_normalize(args[0].s, args[0].len, email);
        /* Too long is a client error; a bad shape simply matches nobody. */
        if (problem == auth_email_too_long) {
            td_rpc_reply_detail(rep, "email", problem);
            ok = false;
        }
        email_ok = problem == NULL;
    }
    ok = args[1].value != NULL && check_given_password("password", args[1].s, args[1].len, rep) &&
         ok;
    if (!ok)
        return invalid(rep);
    const char *pw = args[1].s;
    size_t pw_len = args[1].len;

    struct td_sql *db = conn(app, req);
    struct auth_user user;
    int rc = email_ok ? auth_store_user_by_email(db, email, &user) : TD_EUSERNOTFOUND;
    if (rc != 0 && rc != TD_EUSERNOTFOUND)
        return rc;
    bool found = rc == 0;
    /* An unknown email pays for one verification too, against a hash of the
     * same cost, so the reply time does not tell the two cases apart. */
    int verdict = verify_password(app, found ? user.hash : app->dummy_hash, pw, pw_len);
    if (verdict == TD_EDOWN)
        return reply_busy(rep);
    if (!found || verdict != 0) {
        TD_LOG(TD_LOG_INFO, "login_failed", "login refused");
        return td_rpc_reply_error(rep, TD_ECREDENTIALS, NULL);
    }
    if (crypto_pwhash_str_needs_rehash(user.hash, (unsigned long long)app->cfg->pwhash_ops,
                                       (size_t)app->cfg->pwhash_mem) != 0) {
        char hash[crypto_pwhash_STRBYTES];
        if (hash_password(app, pw, pw_len, hash) == 0 &&
            auth_store_user_rehash(db, user.id, hash) == 0) {
            memcpy(user.hash, hash, sizeof hash); /* what the family check compares */
            TD_LOG(TD_LOG_INFO, "password_rehashed", "user %lld: hash upgraded to current cost",
                   (long long)user.id);
        } else {
            TD_LOG(TD_LOG_WARN, "rehash_failed", "user %lld: hash not upgraded",
                   (long long)user.id);
        }
        sodium_memzero(hash, sizeof hash);
    }

    char family[AUTH_ID_LEN + 1], refresh_jti[AUTH_ID_LEN + 1];
    auth_random_id(family);
    char *access = NULL, *refresh = NULL;
    int64_t refresh_exp = 0;
    rc = issue_pair(app, user.id, user.cutoff_us, true, family, &access, &refresh, refresh_jti,
                    &refresh_exp);
    /* The login hashed for tens of milliseconds since it read the user: the
     * family is created only if the account and its password are still the
     * ones it checked, or a concurrent password change or deletion would be
     * outlived by these tokens (they would be issued after its cut-off). */
    if (rc == 0)
        rc = auth_store_family_create(db, family, user.id, user.hash, refresh_jti, refresh_exp);
    if (rc == TD_ECREDENTIALS) {
        TD_LOG(TD_LOG_INFO, "login_failed", "login raced a password change or deletion");
        rc = td_rpc_reply_error(rep, TD_ECREDENTIALS, NULL);
    } else if (rc == 0) {
        rc = reply_pair(app, rep, access, refresh);
    }
    free(access);
    free(refresh);
    if (rc == 0)
        TD_LOG(TD_LOG_INFO, "login", "user %lld logged in", (long long)user.id);
    sodium_memzero(&user, sizeof user); /* the hash does not outlive the call */
    return rc;
}

static int op_refresh(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct auth_app *app = ctx;
    struct td_arg args[] = {
        ID_ARG("jti", TD_ARG_REQUIRED),
        ID_ARG("fam", TD_ARG_REQUIRED),
        TD_ARG_INT("iat_us", TD_ARG_REQUIRED, INT64_MIN, INT64_MAX),
    };
    char jti[65], fam[65];
    bool ok = TD_RPC_ARGS_TAKE(req, rep, args) == 0;
    ok = args[0].value != NULL && id_arg(rep, &args[0], jti) && ok;
    ok = args[1].value != NULL && id_arg(rep, &args[1], fam) && ok;
    if (!ok)
        return invalid(rep);
    int64_t iat_us = args[2].i;
    if (req->user_id <= 0)
        return td_rpc_reply_error(rep, TD_EBADTOKEN, NULL);

    struct td_sql *db = conn(app, req);
    struct auth_user user;
    int rc = auth_store_user_by_id(db, req->user_id, &user);
    if (rc == TD_EUSERNOTFOUND)
        return td_rpc_reply_error(rep, TD_EREVOKED, NULL);
    if (rc != 0)
        return rc;
    char *access = NULL, *refresh = NULL, new_jti[AUTH_ID_LEN + 1];
    int64_t new_exp = 0;
    bool killed = false;
    rc = issue_pair(app, user.id, user.cutoff_us, false, fam, &access, &refresh, new_jti,
                    &new_exp);
    if (rc == 0)
        rc = auth_store_family_rotate(db, user.id, fam, jti, iat_us, new_jti, new_exp, &killed);
    if (rc == 0)
        rc = reply_pair(app, rep, access, refresh);
    free(access);
    free(refresh);
    if (killed)
        TD_LOG(TD_LOG_WARN, "refresh_reuse",
               "user %lld: a rotated refresh token was presented again; its login is revoked",
               (long long)user.id);
    if (rc == 0)
        TD_LOG(TD_LOG_INFO, "refresh", "user %lld: refresh token rotated", (long long)user.id);
    if (rc == TD_EREVOKED) {
        TD_LOG(TD_LOG_INFO, "refresh_refused", "user %lld: refresh token not current",
               (long long)user.id);
        return td_rpc_reply_error(rep, TD_EREVOKED, NULL);
    }
    return rc;
}

static int op_logout(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct auth_app *app = ctx;
    /* A token's exp is a Unix time; anything past year 9999 would also
     * overflow the revocation's keep-until (auth_revocation_keep_until). */
    struct td_arg args[] = {
        ID_ARG("jti", TD_ARG_REQUIRED),
        TD_ARG_INT("exp", TD_ARG_REQUIRED, 1, AUTH_EXP_MAX),
        ID_ARG("refresh_fam", 0),
    };
    char jti[65], fam[65];
    bool ok = TD_RPC_ARGS_TAKE(req, rep, args) == 0;
    ok = args[0].value != NULL && id_arg(rep, &args[0], jti) && ok;
    bool has_fam = args[2].value != NULL;
    ok = (!has_fam || id_arg(rep, &args[2], fam)) && ok;
    if (!ok)
        return invalid(rep);
    int64_t exp = args[1].i;
    if (req->user_id <= 0)
        return td_rpc_reply_error(rep, TD_EBADTOKEN, NULL);
    int rc = auth_store_logout(conn(app, req), req->user_id, jti, exp, has_fam ? fam : NULL);
    if (rc != 0)
        return rc;
    auth_events_publish_jti(app->events, jti, exp);
    TD_LOG(TD_LOG_INFO, "logout", "user %lld logged out", (long long)req->user_id);
    return reply_message(rep, "Successfully logged out");
}

static int op_me(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct auth_app *app = ctx;
    int rc = td_rpc_args_take(req, rep, NULL, 0);
    if (rc != 0)
        return rc;
    struct auth_user user;
    rc = req->user_id > 0 ? auth_store_user_by_id(conn(app, req), req->user_id, &user)
                          : TD_EUSERNOTFOUND;
    if (rc == TD_EUSERNOTFOUND)
        return td_rpc_reply_error(rep, TD_EUSERNOTFOUND, NULL);
    if (rc != 0)
        return rc;
    return pack_user(td_rpc_reply_result(rep, 200), &user);
}

/* Loads the caller and checks `password` against their hash: 0,
 * TD_EUSERNOTFOUND, TD_ECREDENTIALS (replied) or a storage error. */
static int reauthenticate(struct auth_app *app, const struct td_rpc_request *req,
                          const char *pw, size_t pw_len, struct td_rpc_reply *rep,
                          struct auth_user *user)
{
    int rc = req->user_id > 0 ? auth_store_user_by_id(conn(app, req), req->user_id, user)
                              : TD_EUSERNOTFOUND;
    if (rc == TD_EUSERNOTFOUND)
        return td_rpc_reply_error(rep, TD_EUSERNOTFOUND, NULL);
    if (rc != 0)
        return rc;
    int64_t now_s = td_now_us() / 1000000;
    struct td_sql *db = conn(app, req);
    bool blocked = false;
    rc = auth_store_lockout_blocked(db, user->id, now_s, &blocked);
    if (rc != 0)
        return rc;
    if (blocked)
        return td_rpc_reply_error(rep, TD_ECREDENTIALS,
                                  "Too many wrong passwords; try again in 15 minutes");
    rc = verify_password(app, user->hash, pw, pw_len);
    if (rc == TD_EDOWN)
        return reply_busy(rep);
    if (rc != 0) {
        /* The count must land, or the lockout would not bound guessing. */
        int frc = auth_store_lockout_failed(db, user->id, now_s);
        if (frc != 0)
            return frc;
        return td_rpc_reply_error(rep, TD_ECREDENTIALS, "Invalid password");
    }
    return auth_store_lockout_succeeded(db, user->id);
}

/* The account deletion both auth.delete and auth.user_delete make. First
 * td-diary erases the account's entries and tombstones its id, so nothing
 * is written for it again (diary.delete_user): when this answers 200, no
 * entry of the account is reachable by anyone, on any replica. If td-diary
 * does not confirm within half the RPC deadline (the caller's own deadline
 * must hold the password check too), nothing is deleted here: a replied
 * 503, and the caller may try again. Then, in one transaction: the user
 * and their refresh families go, a cut-off revokes every token issued so
 * far, and a diary.delete_user job lands in the outbox (the record of work
 * owed to td-diary, kept for every deletion; delivering it again is
 * harmless). Then the cut-off is published to the gateways and the outbox
 * woken. 0 with *cutoff_us and *until, a replied TD_EUSERNOTFOUND (deleted
 * meanwhile) or TD_EDOWN, or a storage error. */
static int delete_account(struct auth_app *app, const struct td_rpc_request *req,
                          const struct auth_user *user, struct td_rpc_reply *rep,
                          int64_t *cutoff_us, int64_t *until)
{
    int drc = auth_diary_delete_user(app->diary, user->id, req->request_id,
                                     (int)(app->cfg->base.rpc_timeout_ms / 2));
    if (drc != 0) {
        TD_LOG(TD_LOG_WARN, "user_delete_refused",
               "user %lld: td-diary did not confirm erasing the entries (%s); nothing deleted",
               (long long)user->id, td_error_symbol(drc));
        return td_rpc_reply_error(rep, TD_EDOWN,
                                  "The diary service is unavailable; nothing was deleted. Try "
                                  "again shortly.");
    }
    /* Every token issued so far has iat_us <= now: a cut-off one microsecond
     * later catches them all. */
    int64_t now_us = td_now_us();
    int64_t cutoff = (now_us > user->cutoff_us ? now_us : user->cutoff_us) + 1;
    int64_t keep = cutoff_keep_until(app->cfg, cutoff);
    int rc = auth_store_user_delete(conn(app, req), user->id, cutoff, keep, now_us / 1000000);
    if (rc == TD_EUSERNOTFOUND)
        return td_rpc_reply_error(rep, TD_EUSERNOTFOUND, NULL);
    if (rc != 0)
        return rc;
    auth_events_publish_user(app->events, user->id, cutoff, keep);
    auth_outbox_kick(app->outbox);
    *cutoff_us = cutoff;
    *until = keep;
    return 0;
}

static int op_delete(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct auth_app *app = ctx;
    struct td_arg args[] = {PASSWORD_ARG("password")};
    bool ok = TD_RPC_ARGS_TAKE(req, rep, args) == 0;
    ok = args[0].value != NULL && check_given_password("password", args[0].s, args[0].len, rep) &&
         ok;
    if (!ok)
        return invalid(rep);
    const char *pw = args[0].s;
    size_t pw_len = args[0].len;
    struct auth_user user;
    int rc = reauthenticate(app, req, pw, pw_len, rep, &user);
    if (rc != 0)
        return rc;
    int64_t cutoff = 0, until = 0;
    rc = delete_account(app, req, &user, rep, &cutoff, &until);
    if (rc != 0)
        return rc;
    TD_LOG(TD_LOG_NOTICE, "user_deleted", "user %lld deleted their account", (long long)user.id);
    return reply_message_cutoff(rep, "Account deleted", user.id, cutoff, until);
}

/* An operator's listing of the accounts (`tdctl user list`; no gateway
 * route reaches it). Paged by id so a large table never makes a reply
 * over the callers' cap. */
#define USER_PAGE_DEFAULT 100
#define USER_PAGE_MAX 1000

struct user_rows {
    struct auth_user_row *rows;
    size_t n, cap;
};

static int collect_user(void *arg, const struct auth_user_row *u)
{
    struct user_rows *b = arg;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct auth_user_row *grown = realloc(b->rows, cap * sizeof *grown);
        if (grown == NULL)
            return TD_ENOMEM;
        b->rows = grown;
        b->cap = cap;
    }
    b->rows[b->n++] = *u;
    return 0;
}

static int pack_user_row(msgpack_packer *pk, const struct auth_user_row *u)
{
    char created[TD_TIMESTAMP_LEN + 1], updated[TD_TIMESTAMP_LEN + 1];
    if (td_format_timestamp(u->created_us, created, sizeof created) != 0 ||
        td_format_timestamp(u->updated_us, updated, sizeof updated) != 0)
        return TD_EINTERNAL;
    int rc = msgpack_pack_map(pk, 5);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "id", u->id);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "email", u->email);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "created_at", created);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "updated_at", updated);
    rc = rc ? rc : td_mp_pack_cstr(pk, "demo");
    rc = rc ? rc : (u->demo ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    return rc ? TD_ENOMEM : 0;
}

static int op_user_list(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct auth_app *app = ctx;
    struct td_arg args[] = {
        TD_ARG_INT("after", 0, 0, INT64_MAX),
        TD_ARG_INT("limit", 0, 1, USER_PAGE_MAX),
    };
    int rc = TD_RPC_ARGS_TAKE(req, rep, args);
    if (rc != 0)
        return rc;
    int64_t after = args[0].i, limit = args[1].value ? args[1].i : USER_PAGE_DEFAULT;
    struct user_rows rows = {0};
    bool more = false;
    rc = auth_store_user_page(conn(app, req), after, (int)limit, collect_user, &rows, &more);
    if (rc == 0) {
        msgpack_packer *pk = td_rpc_reply_result(rep, 200);
        int prc = msgpack_pack_map(pk, 2);
        prc = prc ? prc : td_mp_pack_cstr(pk, "users");
        prc = prc ? prc : msgpack_pack_array(pk, rows.n);
        for (size_t i = 0; prc == 0 && i < rows.n; i++)
            prc = pack_user_row(pk, &rows.rows[i]);
        prc = prc ? prc : td_mp_pack_cstr(pk, "more");
        prc = prc ? prc : (more ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
        rc = prc == 0 ? 0 : TD_ENOMEM;
    }
    free(rows.rows);
    return rc;
}

/* An operator deletes an account by email (`tdctl user delete`; no gateway
 * route reaches it): exactly auth.delete's cascade, without the password
 * the operator does not have. */
static int op_user_delete(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct auth_app *app = ctx;
    struct td_arg args[] = {EMAIL_ARG};
    char norm[AUTH_EMAIL_MAX + 1];
    bool ok = TD_RPC_ARGS_TAKE(req, rep, args) == 0;
    ok = args[0].value != NULL && email_arg(rep, &args[0], norm) && ok;
    if (!ok)
        return invalid(rep);
    struct auth_user user;
    int rc = auth_store_user_by_email(conn(app, req), norm, &user);
    if (rc == TD_EUSERNOTFOUND)
        return td_rpc_reply_error(rep, TD_EUSERNOTFOUND, NULL);
    if (rc != 0)
        return rc;
    int64_t cutoff = 0, until = 0;
    rc = delete_account(app, req, &user, rep, &cutoff, &until);
    sodium_memzero(user.hash, sizeof user.hash);
    if (rc != 0)
        return rc;
    TD_LOG(TD_LOG_NOTICE, "user_deleted", "user %lld deleted by an operator",
           (long long)user.id);
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int prc = msgpack_pack_map(pk, 3);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "id", user.id);
    prc = prc ? prc : td_mp_pack_kv_str(pk, "email", user.email);
    prc = prc ? prc : td_mp_pack_kv_str(pk, "message", "Account deleted");
    return prc ? TD_ENOMEM : 0;
}

static int op_password(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct auth_app *app = ctx;
    struct td_arg args[] = {PASSWORD_ARG("current_password"), PASSWORD_ARG("new_password")};
    bool ok = TD_RPC_ARGS_TAKE(req, rep, args) == 0;
    const char *cur = args[0].s, *pw = args[1].s;
    size_t cur_len = args[0].len, pw_len = args[1].len;
    ok = args[0].value != NULL && check_given_password("current_password", cur, cur_len, rep) &&
         ok;
    ok = args[1].value != NULL && check_new_password("new_password", pw, pw_len, rep) && ok;
    if (!ok)
        return invalid(rep);
    struct auth_user user;
    int rc = reauthenticate(app, req, cur, cur_len, rep, &user);
    if (rc != 0)
        return rc;
    char hash[crypto_pwhash_STRBYTES];
    rc = hash_password(app, pw, pw_len, hash);
    if (rc == TD_EDOWN)
        return reply_busy(rep);
    int64_t now_us = td_now_us();
    int64_t cutoff = (now_us > user.cutoff_us ? now_us : user.cutoff_us) + 1;
    int64_t until = cutoff_keep_until(app->cfg, cutoff);
    if (rc == 0)
        rc = auth_store_password_change(conn(app, req), user.id, hash, now_us, cutoff, until);
    sodium_memzero(hash, sizeof hash);
    if (rc == TD_EUSERNOTFOUND)
        return td_rpc_reply_error(rep, TD_EUSERNOTFOUND, NULL);
    if (rc != 0)
        return rc;
    auth_events_publish_user(app->events, user.id, cutoff, until);
    TD_LOG(TD_LOG_NOTICE, "password_changed", "user %lld changed their password",
           (long long)user.id);
    return reply_message_cutoff(rep, "Password changed", user.id, cutoff, until);
}

/* ---- auth.revocations ------------------------------------------------------ */

struct jti_row {
    char jti[65];
    int64_t exp;
};

struct row_buf {
    void *rows;
    size_t n, cap, size;
};

static int row_push(struct row_buf *b, const void *row)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        void *grown = realloc(b->rows, cap * b->size);
        if (grown == NULL)
            return TD_ENOMEM;
        b->rows = grown;
        b->cap = cap;
    }
    memcpy((char *)b->rows + b->n * b->size, row, b->size);
    b->n++;
    return 0;
}

static int collect_jti(void *arg, const char *jti, int64_t exp)
{
    struct jti_row row = {.exp = exp};
    if (strlen(jti) >= sizeof row.jti)
        return 0; /* not one of ours; never stored by this code */
    memcpy(row.jti, jti, strlen(jti) + 1);
    return row_push(arg, &row);
}

static int collect_cutoff(void *arg, int64_t uid, int64_t cutoff_us, int64_t until)
{
    int64_t row[3] = {uid, cutoff_us, until};
    return row_push(arg, row);
}

static int op_revocations(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct auth_app *app = ctx;
    struct td_arg args[] = {ID_ARG("after", 0), TD_ARG_INT("limit", 0, 1, REVOCATIONS_PAGE_MAX)};
    char after[65];
    bool ok = TD_RPC_ARGS_TAKE(req, rep, args) == 0;
    bool has_after = args[0].value != NULL;
    ok = (!has_after || id_arg(rep, &args[0], after)) && ok;
    if (!ok)
        return invalid(rep);
    int64_t limit = args[1].value ? args[1].i : REVOCATIONS_PAGE_DEFAULT;

    struct td_sql *db = conn(app, req);
    int64_t now = td_now_us() / 1000000;
    struct row_buf jtis = {.size = sizeof(struct jti_row)};
    struct row_buf users = {.size = sizeof(int64_t[3])};
    bool more = false;
    int rc = auth_store_revoked_page(db, has_after ? after : NULL, (int)limit, now,
                                     collect_jti, &jtis, &more);
    /* Cut-offs are few (one per password change or deletion in a refresh
     * lifetime) and come whole with the first page. */
    if (rc == 0 && !has_after)
        rc = auth_store_cutoffs(db, now, collect_cutoff, &users);
    if (rc == 0) {
        msgpack_packer *pk = td_rpc_reply_result(rep, 200);
        int prc = msgpack_pack_map(pk, 3);
        prc = prc ? prc : td_mp_pack_cstr(pk, "jtis");
        prc = prc ? prc : msgpack_pack_array(pk, jtis.n);
        for (size_t i = 0; prc == 0 && i < jtis.n; i++) {
            const struct jti_row *r = (const struct jti_row *)jtis.rows + i;
            prc = msgpack_pack_array(pk, 2);
            prc = prc ? prc : td_mp_pack_cstr(pk, r->jti);
            prc = prc ? prc : msgpack_pack_int64(pk, r->exp);
        }
        prc = prc ? prc : td_mp_pack_cstr(pk, "users");
        prc = prc ? prc : msgpack_pack_array(pk, users.n);
        for (size_t i = 0; prc == 0 && i < users.n; i++) {
            const int64_t *r = (const int64_t *)users.rows + 3 * i;
            prc = msgpack_pack_array(pk, 3);
            for (int k = 0; prc == 0 && k < 3; k++)
                prc = msgpack_pack_int64(pk, r[k]);
        }
        prc = prc ? prc : td_mp_pack_cstr(pk, "more");
        prc = prc ? prc : (more ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
        rc = prc ? TD_ENOMEM : 0;
    }
    free(jtis.rows);
    free(users.rows);
    return rc;
}

/* Demo accounts for `tdctl seed` (never routed by the gateway). */
#define SEED_MAX_USERS 16

/* Reads the users of auth.seed into users[0..n) and hashes their
 * passwords (before the transaction: hashing is slow and needs no lock).
 * 0, TD_EINVAL (details in rep) or TD_EINTERNAL (hashing busy or out of
 * memory: the seed is retried). */
static int seed_users_read(struct auth_app *app, const msgpack_object *list,
                           struct td_rpc_reply *rep, struct auth_seed_user *users)
{
    for (size_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *u = &list->via.array.ptr[i];
        struct td_arg user[] = {EMAIL_ARG, PASSWORD_ARG("password")};
        if (u->type != MSGPACK_OBJECT_MAP ||
            td_rpc_args_take_map(u, rep, user, sizeof user / sizeof user[0]) != 0) {
            td_rpc_reply_detail(rep, "users", "Each user needs an email and a password.");
            return invalid(rep);
        }
        if (!email_arg(rep, &user[0], users[i].email) ||
            !check_new_password("password", user[1].s, user[1].len, rep))
            return invalid(rep);
        if (hash_password(app, user[1].s, user[1].len, users[i].hash) != 0)
            return TD_EINTERNAL;
    }
    return 0;
}

/* {"cleared": n, "users": [{"id", "email", "created"}, ...]} */
static int seed_reply(struct td_rpc_reply *rep, const struct auth_seed_user *users, size_t n,
                      size_t ncleared)
{
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int prc = msgpack_pack_map(pk, 2);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "cleared", (int64_t)ncleared);
    prc = prc ? prc : td_mp_pack_cstr(pk, "users");
    prc = prc ? prc : msgpack_pack_array(pk, n);
    for (size_t i = 0; prc == 0 && i < n; i++) {
        prc = msgpack_pack_map(pk, 3);
        prc = prc ? prc : td_mp_pack_kv_int(pk, "id", users[i].id);
        prc = prc ? prc : td_mp_pack_kv_str(pk, "email", users[i].email);
        prc = prc ? prc : td_mp_pack_cstr(pk, "created");
        prc = prc ? prc : (users[i].created ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    }
    return prc == 0 ? 0 : TD_ENOMEM;
}

static int op_seed(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct auth_app *app = ctx;
    struct td_arg args[] = {
        TD_ARG_ARRAY("users", TD_ARG_REQUIRED, 1, SEED_MAX_USERS),
        TD_ARG_BOOL("clear", 0),
    };
    int rc = TD_RPC_ARGS_TAKE(req, rep, args);
    if (rc != 0)
        return rc;
    size_t n = args[0].value->via.array.size;
    struct auth_seed_user *users = calloc(n, sizeof *users);
    if (users == NULL)
        return TD_ENOMEM;
    rc = seed_users_read(app, args[0].value, rep, users);
    int64_t cleared[SEED_MAX_USERS * 4];
    size_t ncleared = 0;
    int64_t now_us = td_now_us(), cutoff = now_us + 1;
    int64_t until = cutoff_keep_until(app->cfg, cutoff);
    if (rc == 0)
        rc = auth_store_seed(conn(app, req), users, n, args[1].b, now_us, cutoff, until, cleared,
                             sizeof cleared / sizeof cleared[0], &ncleared);
    if (rc == TD_EEXISTS)
        rc = td_rpc_reply_error(rep, TD_EEXISTS, "A real account already uses a demo email");
    if (rc == TD_EINVAL && rep->code == 0)
        rc = td_rpc_reply_error(rep, TD_EINVAL, "Too many demo accounts to clear");
    if (rc == 0) {
        for (size_t i = 0; i < ncleared; i++)
            auth_events_publish_user(app->events, cleared[i], cutoff, until);
        if (ncleared > 0)
            auth_outbox_kick(app->outbox);
        rc = seed_reply(rep, users, n, ncleared);
        TD_LOG(TD_LOG_NOTICE, "seeded", "demo accounts seeded (%zu cleared)", ncleared);
    }
    sodium_memzero(users, n * sizeof *users);
    free(users);
    return rc;
}

/* Inline (td_rpc.h): the two plain reads. Hashing, writes and the outbox
 * go to the workers. */
const struct td_rpc_route auth_routes[] = {
    {TD_OP_AUTH_SEED, op_seed, false},
    {TD_OP_AUTH_REGISTER, op_register, false},
    {TD_OP_AUTH_LOGIN, op_login, false},
    {TD_OP_AUTH_REFRESH, op_refresh, false},
    {TD_OP_AUTH_LOGOUT, op_logout, false},
    {TD_OP_AUTH_ME, op_me, true},
    {TD_OP_AUTH_DELETE, op_delete, false},
    {TD_OP_AUTH_PASSWORD, op_password, false},
    {TD_OP_AUTH_REVOCATIONS, op_revocations, true},
    {TD_OP_AUTH_USER_LIST, op_user_list, true},
    {TD_OP_AUTH_USER_DELETE, op_user_delete, false},
};
const size_t auth_nroutes = sizeof auth_routes / sizeof auth_routes[0];
