/*
 * monolith.c — the benchmark peer of `make bench` (issue 17, "A peer in the
 * same run"): one process that answers the read routes the benchmark
 * measures straight from the SQLite files td-auth and td-diary wrote, so a
 * run shows what the daemon split costs, route by route, on the same
 * machine, data and token. It is a yardstick, not a product: nothing
 * deploys it and no test treats it as a second implementation of the API.
 *
 * What it does, the same way the stack does it:
 * - HTTP: the same civetweb build, the same options (gateway/server.c: keep-
 *   alive, tcp_nodelay, decode_url=no, 128 worker threads), the same
 *   response headers (gateway/http.c: a fresh X-Request-ID, the security
 *   headers, Cache-Control: no-store on the authenticated routes, and the
 *   Vary: Origin that gateway/cors.c adds once CORS_ORIGINS is set, though
 *   no CORS work is done here) written as the gateway writes them, head
 *   then body: the same bytes on the wire, the request id aside.
 * - Tokens: the gateway's own checker (gateway/jwt_check.c, linked from
 *   td_gw: libjwt HS256, the strict header and claim checks, nbf/exp with
 *   JWT_LEEWAY, and its verified-token cache), with JWT_SECRET_KEY.
 * - SQL: the statements td-diary and td-auth run for these routes, copied
 *   verbatim below from services/diary/store.c (ST_GET, ST_COUNT, ST_PAGE,
 *   ST_STATS, the list's read transaction) and services/auth/store.c
 *   (USER_COLUMNS ... WHERE u.id = ?), on DATA_DIR/diary.db and
 *   DATA_DIR/auth.db, prepared once per connection.
 * - JSON: the same shapes (the contract, gateway/docs/openapi.json) and the
 *   same encoder: a result is packed as td-diary and td-auth pack it
 *   (services/diary/handlers.c, services/auth/handlers.c) and written by
 *   td_mp_to_json_text (common/td_json_mp.c), the gateway's writer for
 *   every forwarded result, jansson taking what it leaves, as
 *   gateway/forward.c does; /health and errors through jansson, as the
 *   gateway answers them. A first version built every answer with jansson:
 *   GET /diaries then cost the monolith as much CPU as the whole stack
 *   (half of it inside jansson), which measured jansson, not the split.
 *   Timestamps by td_format_timestamp, page arithmetic and "overall" by
 *   td-diary's own logic.c.
 *
 * What it deliberately does not do (each is a cost the stack pays and this
 * peer does not, listed so nobody reads the gap as the RPC hop alone):
 * - no RPC and no daemons: that is the point (a result is still packed,
 *   as the input of the gateway's writer, but never sent, framed or
 *   validated);
 * - no revocation feed: a revoked token (logout, password change) is
 *   accepted here until it expires (the gateway's check is an in-memory set
 *   lookup, no I/O);
 * - no rate limit, CORS, connection gate, bulkheads, metrics or access log;
 * - no writes: the databases are opened read-only (SQLITE_OPEN_READONLY),
 *   so it never migrates a schema and never takes the write lock; the
 *   files must already be in WAL mode (a reader then never blocks td-diary);
 * - no filters on GET /diaries (q, from, to, tone, tz answer 400), page
 *   and per_page only, and a bad value is answered with a plain message
 *   rather than the gateway's per-field details; no other route (404).
 *
 * Threads: each civetweb worker opens its own two connections on its first
 * request (init_thread/exit_thread keep them in the worker's thread
 * pointer), so no connection is ever shared and no lock of ours is taken
 * around SQLite (its own shared-memory lock, per database, is still shared
 * by every worker of the process). Environment: DATA_DIR (required), JWT_SECRET_KEY (required, at
 * least 32 bytes), JWT_LEEWAY (0-300, default 30), MONOLITH_LISTEN
 * (default 127.0.0.1:8090), MONOLITH_THREADS (2-4096, default 128). Ready
 * when GET /health answers; SIGTERM or SIGINT stops it.
 */
#include "gateway/jwt_check.h"
#include "services/diary/logic.h"
#include "td_error.h"
#include "td_json_mp.h"
#include "td_mp.h"
#include "td_rpc.h"
#include "td_time.h"

#include <civetweb.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <msgpack.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- SQL: verbatim from services/diary/store.c and services/auth/store.c -- */

#define ENTRY_COLS                                                                             \
    "id, user_id, content, analyzed_content, positive_count, negative_count, created_at, "    \
    "updated_at, version, pending_analysis"

enum mono_st {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_GET,
    ST_COUNT,
    ST_PAGE,
    ST_STATS,
    ST_DIARY_N, /* the statements above are on diary.db, the one below on auth.db */
    ST_USER = ST_DIARY_N,
    ST_N
};

static const char *const sql[ST_N] = {
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_GET] = "SELECT " ENTRY_COLS " FROM entries WHERE id = ?1",
    [ST_COUNT] = "SELECT COALESCE((SELECT total_entries FROM user_stats WHERE user_id = ?1), 0)",
    [ST_PAGE] = "SELECT " ENTRY_COLS " FROM entries WHERE user_id = ?1"
                " ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
    [ST_STATS] = "SELECT total_entries, positive_entries, negative_entries, neutral_entries,"
                 " positive_count_total, negative_count_total FROM user_stats WHERE user_id = ?1",
    [ST_USER] = "SELECT u.id, u.email, u.password_hash, u.created_at, u.updated_at,"
                " COALESCE(c.cutoff_us, 0) FROM users u LEFT JOIN user_cutoffs c"
                " ON c.user_id = u.id WHERE u.id = ?",
};

/* ---- the process and its workers ------------------------------------------ */

struct mono {
    char *data_dir;
    struct gw_jwt *jwt;
};

/* One civetweb worker's connections, opened on its first request. */
struct mono_thread {
    bool tried;  /* opening was attempted (once: a failure answers 503 after) */
    bool usable; /* both connections open and every statement prepared */
    sqlite3 *diary, *auth;
    sqlite3_stmt *st[ST_N];
};

static struct mono g_mono;

/* SQLITE_BUSY retries, over all connections: printed at the end. */
static _Atomic long long g_busy_retries;

/* common/td_db.c's busy handler (static there): 50 us doubling to 1 ms
 * apart for 5 s in all, where SQLite's own sleeps 1, 2, 5 ... 100 ms. */
static int busy_wait(void *arg, int count)
{
    (void)arg;
    long long step = count < 5 ? 50LL << count : 1000;
    long long slept = count < 5 ? (50LL << count) - 50 : 1550 + (count - 5) * 1000LL;
    if (slept >= 5000000)
        return 0;
    g_busy_retries++;
    struct timespec ts = {0, (long)step * 1000};
    nanosleep(&ts, NULL);
    return 1;
}

static int open_db(const char *name, sqlite3 **out)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", g_mono.data_dir, name) >= (int)sizeof path)
        return TD_ESTORAGE;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "monolith: cannot open %s: %s\n", path,
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return TD_ESTORAGE;
    }
    /* The daemons' busy handler (common/td_db.c). And the journal must be
     * WAL, or this reader and td-diary's writers would block each other. */
    sqlite3_stmt *st = NULL;
    bool wal = sqlite3_busy_handler(db, busy_wait, NULL) == SQLITE_OK &&
               sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
               sqlite3_step(st) == SQLITE_ROW &&
               strcasecmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        fprintf(stderr, "monolith: %s is not in WAL mode (or unreadable): %s\n", path,
                sqlite3_errmsg(db));
        sqlite3_close(db);
        return TD_ESTORAGE;
    }
    *out = db;
    return 0;
}

static void thread_close(struct mono_thread *t)
{
    for (int i = 0; i < ST_N; i++) {
        sqlite3_finalize(t->st[i]);
        t->st[i] = NULL;
    }
    sqlite3_close(t->diary);
    sqlite3_close(t->auth);
    t->diary = t->auth = NULL;
    t->usable = false;
}

static int thread_open(struct mono_thread *t)
{
    t->tried = true;
    int rc = open_db("diary.db", &t->diary);
    rc = rc ? rc : open_db("auth.db", &t->auth);
    for (int i = 0; rc == 0 && i < ST_N; i++) {
        sqlite3 *db = i < ST_DIARY_N ? t->diary : t->auth;
        if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &t->st[i], NULL) !=
            SQLITE_OK) {
            fprintf(stderr, "monolith: cannot prepare statement %d: %s\n", i, sqlite3_errmsg(db));
            rc = TD_ESTORAGE;
        }
    }
    if (rc != 0)
        thread_close(t);
    t->usable = rc == 0;
    return rc;
}

/* civetweb thread_type 1 is a worker; the master and timer threads get none. */
static void *init_thread(const struct mg_context *ctx, int thread_type)
{
    (void)ctx;
    return thread_type == 1 ? calloc(1, sizeof(struct mono_thread)) : NULL;
}

static void exit_thread(const struct mg_context *ctx, int thread_type, void *p)
{
    (void)ctx;
    (void)thread_type;
    if (p != NULL) {
        thread_close(p);
        free(p);
    }
}

/* Resets a statement for its next use (services/diary/store.c, done()). */
static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* ---- responses: gateway/http.c's head, then the body ------------------------ */

#define CSP_JSON "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

struct mono_req {
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    bool no_store;      /* Cache-Control: no-store (every route but /health) */
    const char *extra;  /* more header lines, or "" */
    char request_id[33];
};

static int respond_raw(struct mono_req *r, int status, const char *body, size_t len)
{
    char head[2048];
    const char *reason = mg_get_response_code_text(NULL, status);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Content-Type: application/json\r\n"
                     "X-Request-ID: %s\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "X-Frame-Options: DENY\r\n"
                     "Referrer-Policy: no-referrer\r\n"
                     "Content-Security-Policy: " CSP_JSON "\r\n"
                     "%s"
                     "Vary: Origin\r\n"
                     "%s\r\n",
                     status, reason ? reason : "", len, r->request_id,
                     r->no_store ? "Cache-Control: no-store\r\n" : "", r->extra);
    if (n < 0 || (size_t)n >= sizeof head)
        return 500; /* cannot happen: every part above is bounded */
    if (mg_write(r->conn, head, (size_t)n) != n)
        return status; /* the client went away; nothing more to say */
    if (len > 0 && strcmp(r->ri->request_method, "HEAD") != 0)
        (void)mg_write(r->conn, body, len); /* a short write: the client left */
    return status;
}

static const char NOMEM_BODY[] = "{\"error\":\"internal_error\",\"message\":\"Internal server error\"}";

/* Sends `body` (consumed; NULL means building it failed: a 500). */
static int respond_json_take(struct mono_req *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL)
        return respond_raw(r, 500, NOMEM_BODY, sizeof NOMEM_BODY - 1);
    int sent = respond_raw(r, status, text, strlen(text));
    free(text);
    return sent;
}

static int respond_error(struct mono_req *r, int code, const char *message)
{
    int status = td_error_http_status(code);
    /* RFC 6750 section 3, as gateway/http.c's gw_add_auth_challenge */
    if (status == 401)
        r->extra = code == TD_EMISSINGTOKEN ? "WWW-Authenticate: Bearer\r\n"
                                            : "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n";
    return respond_json_take(r, status,
                             json_pack("{s:s, s:s}", "error", td_error_name(code), "message",
                                       message ? message : td_error_message(code)));
}

/* A result packed in `sb` (destroyed here), sent as gateway/forward.c's
 * gw_forward sends a daemon's: td_mp_to_json_text, or the jansson tree and
 * json_dumps for what that writer leaves. `packed` is the packer's result
 * (0 when every pack call succeeded). */
static int respond_packed(struct mono_req *r, int status, int packed, msgpack_sbuffer *sb)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = packed != 0 ? TD_ENOMEM
             : msgpack_unpack_next(&u, sb->data, sb->size, &off) == MSGPACK_UNPACK_SUCCESS
                 ? 0
                 : TD_EINTERNAL;
    char *text = NULL;
    size_t len = 0;
    int sent;
    if (rc == 0 && (rc = td_mp_to_json_text(&u.data, &text, &len)) == 0) {
        sent = respond_raw(r, status, text, len);
        free(text);
    } else if (rc == TD_EPROTO) {
        json_t *tree = NULL;
        rc = td_mp_to_json(&u.data, &tree);
        sent = rc == 0 ? respond_json_take(r, status, tree) : respond_error(r, rc, NULL);
    } else {
        sent = respond_error(r, rc, NULL);
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(sb);
    return sent;
}

/* ---- the routes ------------------------------------------------------------ */

/* The caller's user id from the bearer token, as gateway/auth.c checks it
 * (minus revocation: see the top of this file). 0 or a TD_E* code. */
static int authenticate(const struct mono_req *r, int64_t *user_id)
{
    const char *value = NULL;
    int count = 0;
    for (int i = 0; i < r->ri->num_headers; i++) {
        if (strcasecmp(r->ri->http_headers[i].name, "Authorization") == 0) {
            value = r->ri->http_headers[i].value;
            count++;
        }
    }
    if (count > 1)
        return TD_EBADTOKEN;
    const char *token = NULL;
    int rc = gw_jwt_bearer(value, &token);
    struct gw_token t;
    rc = rc ? rc : gw_jwt_verify(g_mono.jwt, token, td_now_us() / 1000000, &t);
    if (rc == 0 && t.refresh)
        rc = TD_EBADTOKEN;
    if (rc == 0)
        *user_id = t.user_id;
    return rc;
}

static json_t *timestamp_json(int64_t us)
{
    char ts[TD_TIMESTAMP_LEN + 1];
    return td_format_timestamp(us, ts, sizeof ts) == 0 ? json_string(ts) : NULL;
}

static int pack_time(msgpack_packer *pk, const char *key, int64_t us)
{
    char ts[TD_TIMESTAMP_LEN + 1];
    if (td_format_timestamp(us, ts, sizeof ts) != 0)
        return -1;
    return td_mp_pack_kv_str(pk, key, ts);
}

/* The ENTRY_COLS row `st` stands on, packed as services/diary/handlers.c's
 * pack_entry packs an entry. 0 or non-zero. */
static int pack_entry(msgpack_packer *pk, sqlite3_stmt *st)
{
    const char *content = (const char *)sqlite3_column_text(st, 2);
    size_t content_len = (size_t)sqlite3_column_bytes(st, 2);
    const char *analyzed = (const char *)sqlite3_column_text(st, 3);
    size_t analyzed_len = (size_t)sqlite3_column_bytes(st, 3);
    if (content == NULL || analyzed == NULL)
        return -1;
    int rc = msgpack_pack_map(pk, 8);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "id", sqlite3_column_int64(st, 0));
    rc = rc ? rc : td_mp_pack_kv_int(pk, "user_id", sqlite3_column_int64(st, 1));
    rc = rc ? rc : td_mp_pack_cstr(pk, "content");
    rc = rc ? rc : td_mp_pack_strn(pk, content, content_len);
    rc = rc ? rc : td_mp_pack_cstr(pk, "analyzed_content");
    rc = rc ? rc : td_mp_pack_strn(pk, analyzed, analyzed_len);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "positive_count", sqlite3_column_int64(st, 4));
    rc = rc ? rc : td_mp_pack_kv_int(pk, "negative_count", sqlite3_column_int64(st, 5));
    rc = rc ? rc : pack_time(pk, "created_at", sqlite3_column_int64(st, 6));
    rc = rc ? rc : pack_time(pk, "updated_at", sqlite3_column_int64(st, 7));
    return rc;
}

static int storage_error(struct mono_req *r, sqlite3 *db, const char *what)
{
    fprintf(stderr, "monolith: %s: %s\n", what, sqlite3_errmsg(db));
    return respond_error(r, TD_ESTORAGE, NULL);
}

static int health(struct mono_req *r)
{
    return respond_json_take(r, 200, json_pack("{s:s, s:o}", "status", "healthy", "timestamp",
                                               timestamp_json(td_now_us())));
}

/* GET /auth/me: td-auth's op_me (services/auth/handlers.c). */
static int me(struct mono_req *r, struct mono_thread *t, int64_t user_id)
{
    sqlite3_stmt *st = t->st[ST_USER];
    if (sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK)
        return storage_error(r, t->auth, "bind user");
    int step = sqlite3_step(st);
    int sent;
    if (step == SQLITE_ROW && sqlite3_column_text(st, 1) != NULL) {
        /* services/auth/handlers.c, pack_user */
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        int rc = msgpack_pack_map(&pk, 4);
        rc = rc ? rc : td_mp_pack_kv_int(&pk, "id", sqlite3_column_int64(st, 0));
        rc = rc ? rc : td_mp_pack_kv_str(&pk, "email", (const char *)sqlite3_column_text(st, 1));
        rc = rc ? rc : pack_time(&pk, "created_at", sqlite3_column_int64(st, 3));
        rc = rc ? rc : pack_time(&pk, "updated_at", sqlite3_column_int64(st, 4));
        sent = respond_packed(r, 200, rc, &sb);
    } else if (step == SQLITE_DONE)
        sent = respond_error(r, TD_EUSERNOTFOUND, NULL);
    else
        sent = storage_error(r, t->auth, "user by id");
    done(st);
    return sent;
}

/* GET /diaries/{id}: td-diary's op_get (the row, then its owner). */
static int get_one(struct mono_req *r, struct mono_thread *t, int64_t user_id, int64_t id)
{
    sqlite3_stmt *st = t->st[ST_GET];
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK)
        return storage_error(r, t->diary, "bind entry");
    int step = sqlite3_step(st);
    int sent;
    if (step == SQLITE_ROW && sqlite3_column_int64(st, 1) == user_id) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        sent = respond_packed(r, 200, pack_entry(&pk, st), &sb);
    } else if (step == SQLITE_ROW)
        sent = respond_error(r, TD_EFORBIDDEN, NULL);
    else if (step == SQLITE_DONE)
        sent = respond_error(r, TD_EDIARYNOTFOUND, NULL);
    else
        sent = storage_error(r, t->diary, "get entry");
    done(st);
    return sent;
}

/* GET /diaries/stats without a range: the user_stats row (migration 5 of
 * services/diary/store.c), zeros for a user without entries. */
static int stats(struct mono_req *r, struct mono_thread *t, int64_t user_id)
{
    if (r->ri->query_string != NULL && r->ri->query_string[0] != '\0')
        return respond_error(r, TD_EINVAL, "The benchmark monolith serves stats without a range");
    sqlite3_stmt *st = t->st[ST_STATS];
    if (sqlite3_bind_int64(st, 1, user_id) != SQLITE_OK)
        return storage_error(r, t->diary, "bind stats");
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        int sent = storage_error(r, t->diary, "stats");
        done(st);
        return sent;
    }
    int64_t v[6] = {0};
    for (int i = 0; step == SQLITE_ROW && i < 6; i++)
        v[i] = sqlite3_column_int64(st, i);
    done(st);
    /* services/diary/handlers.c, op_stats */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 7);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "total_entries", v[0]);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "positive_entries", v[1]);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "negative_entries", v[2]);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "neutral_entries", v[3]);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "positive_count_total", v[4]);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "negative_count_total", v[5]);
    rc = rc ? rc : td_mp_pack_kv_str(&pk, "overall", diary_overall(v[4], v[5]));
    return respond_packed(r, 200, rc, &sb);
}

/* page and per_page of a query string (gateway/routes_diary.c's rules:
 * positive decimal integers, per_page above the maximum is the maximum);
 * the filters are not served here. 0, or a message for the client. */
static const char *paging(const char *query, int64_t *page, int64_t *per_page)
{
    const char *p = query ? query : "";
    while (*p) {
        size_t plen = strcspn(p, "&"), nlen = strcspn(p, "=&");
        const char *v = nlen < plen ? p + nlen + 1 : p + plen;
        size_t vlen = nlen < plen ? plen - nlen - 1 : 0;
        bool is_page = nlen == 4 && strncmp(p, "page", 4) == 0;
        bool is_per_page = nlen == 8 && strncmp(p, "per_page", 8) == 0;
        if (!is_page && !is_per_page && nlen > 0)
            return "The benchmark monolith serves page and per_page only";
        if (is_page || is_per_page) {
            int64_t n = 0;
            if (vlen == 0 || v[0] < '1' || v[0] > '9')
                return "Must be a positive integer.";
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return "Must be a positive integer.";
                if (n > (INT64_MAX - (v[i] - '0')) / 10) {
                    if (is_page)
                        return "Is too large.";
                    n = DIARY_PER_PAGE_MAX;
                    break;
                }
                n = n * 10 + (v[i] - '0');
            }
            *(is_page ? page : per_page) = n;
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    return NULL;
}

/* GET /diaries: services/diary/store.c's list_all (the total from the
 * stats row and the page in one read transaction), then op_list's shape. */
static int list(struct mono_req *r, struct mono_thread *t, int64_t user_id)
{
    int64_t page = 1, per_page = DIARY_PER_PAGE_DEFAULT, offset = 0;
    const char *problem = paging(r->ri->query_string, &page, &per_page);
    if (problem != NULL)
        return respond_error(r, TD_EINVAL, problem);
    per_page = diary_per_page_clamp(per_page);
    if (!diary_page_offset(page, per_page, &offset))
        offset = INT64_MAX;

    /* The rows are packed as they are read; the array's length goes in
     * front once they are counted (td-diary reads them into an array first,
     * then packs). */
    msgpack_sbuffer items;
    msgpack_sbuffer_init(&items);
    msgpack_packer ipk;
    msgpack_packer_init(&ipk, &items, msgpack_sbuffer_write);
    sqlite3_stmt *begin = t->st[ST_BEGIN], *count = t->st[ST_COUNT], *rows = t->st[ST_PAGE];
    int step = sqlite3_step(begin);
    done(begin);
    if (step != SQLITE_DONE) {
        msgpack_sbuffer_destroy(&items);
        return storage_error(r, t->diary, "begin");
    }
    int64_t total = 0;
    uint32_t n = 0;
    bool ok = sqlite3_bind_int64(count, 1, user_id) == SQLITE_OK &&
              sqlite3_step(count) == SQLITE_ROW;
    if (ok)
        total = sqlite3_column_int64(count, 0);
    done(count);
    int packed = 0;
    if (ok && offset < total) {
        ok = sqlite3_bind_int64(rows, 1, user_id) == SQLITE_OK &&
             sqlite3_bind_int64(rows, 2, per_page) == SQLITE_OK &&
             sqlite3_bind_int64(rows, 3, offset) == SQLITE_OK;
        while (ok && packed == 0 && (step = sqlite3_step(rows)) == SQLITE_ROW) {
            packed = pack_entry(&ipk, rows);
            n++;
        }
        ok = ok && (packed != 0 || step == SQLITE_DONE);
        done(rows);
    }
    sqlite3_stmt *end = t->st[ok ? ST_COMMIT : ST_ROLLBACK];
    step = sqlite3_step(end);
    done(end);
    if (!ok || step != SQLITE_DONE || packed != 0) {
        msgpack_sbuffer_destroy(&items);
        return packed != 0 ? respond_error(r, TD_ENOMEM, NULL)
                           : storage_error(r, t->diary, "list");
    }
    /* services/diary/handlers.c, op_list */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 5);
    rc = rc ? rc : td_mp_pack_cstr(&pk, "items");
    rc = rc ? rc : msgpack_pack_array(&pk, n);
    rc = rc ? rc : msgpack_sbuffer_write(&sb, items.data, items.size);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "page", page);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "per_page", per_page);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "total", total);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, "pages", diary_page_count(total, per_page));
    msgpack_sbuffer_destroy(&items);
    return respond_packed(r, 200, rc, &sb);
}

/* The id of /diaries/{id}: [1-9][0-9]* fitting int64, else 0 (no route). */
static int64_t path_id(const char *s)
{
    if (s[0] < '1' || s[0] > '9')
        return 0;
    int64_t n = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || n > (INT64_MAX - (*s - '0')) / 10)
            return 0;
        n = n * 10 + (*s - '0');
    }
    return n;
}

enum route { R_NONE, R_HEALTH, R_ME, R_LIST, R_STATS, R_GET };

static int handle(struct mg_connection *conn)
{
    struct mono_req r = {.conn = conn, .ri = mg_get_request_info(conn), .extra = ""};
    td_rpc_new_id(r.request_id);
    const char *path = r.ri->local_uri ? r.ri->local_uri : "";
    enum route route = R_NONE;
    int64_t id = 0;
    if (strcmp(path, "/health") == 0)
        route = R_HEALTH;
    else if (strcmp(path, "/auth/me") == 0)
        route = R_ME;
    else if (strcmp(path, "/diaries") == 0)
        route = R_LIST;
    else if (strcmp(path, "/diaries/stats") == 0)
        route = R_STATS;
    else if (strncmp(path, "/diaries/", 9) == 0 && (id = path_id(path + 9)) != 0)
        route = R_GET;
    r.no_store = route != R_HEALTH;
    if (route == R_NONE)
        return respond_error(&r, TD_ENOTFOUND, NULL);
    if (strcmp(r.ri->request_method, "GET") != 0 && strcmp(r.ri->request_method, "HEAD") != 0)
        return respond_error(&r, TD_EMETHOD, NULL);
    if (route == R_HEALTH)
        return health(&r);

    int64_t user_id = 0;
    int rc = authenticate(&r, &user_id);
    if (rc != 0)
        return respond_error(&r, rc, NULL);
    struct mono_thread *t = mg_get_thread_pointer(conn);
    if (t != NULL && !t->tried)
        (void)thread_open(t); /* logged; t->usable says how it went */
    if (t == NULL || !t->usable)
        return respond_error(&r, TD_EDOWN, NULL);
    switch (route) {
    case R_ME:
        return me(&r, t, user_id);
    case R_LIST:
        return list(&r, t, user_id);
    case R_STATS:
        return stats(&r, t, user_id);
    default:
        return get_one(&r, t, user_id, id);
    }
}

static int begin_request(struct mg_connection *conn)
{
    return handle(conn);
}

static int log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    fprintf(stderr, "monolith: civetweb: %s\n", message);
    return 1;
}

/* ---- configuration and main ---------------------------------------------------- */

/* An integer variable in [min, max], or `def` when unset. 0 or -1 (said). */
static int env_int(const char *name, long long def, long long min, long long max, long long *out)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0') {
        *out = def;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "monolith: %s must be an integer in [%lld, %lld]\n", name, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int main(void)
{
    const char *secret = getenv("JWT_SECRET_KEY");
    const char *listen = getenv("MONOLITH_LISTEN");
    long long leeway = 0, threads = 0;
    g_mono.data_dir = getenv("DATA_DIR");
    if (listen == NULL || *listen == '\0')
        listen = "127.0.0.1:8090";
    if (g_mono.data_dir == NULL || *g_mono.data_dir == '\0') {
        fprintf(stderr, "monolith: DATA_DIR is required (where td-auth and td-diary wrote)\n");
        return 2;
    }
    if (env_int("JWT_LEEWAY", 30, 0, 300, &leeway) != 0 ||
        env_int("MONOLITH_THREADS", 128, 2, 4096, &threads) != 0)
        return 2;
    if (sodium_init() < 0) {
        fprintf(stderr, "monolith: sodium_init failed\n");
        return 1;
    }
    int rc = gw_jwt_new(secret, leeway, &g_mono.jwt);
    if (rc != 0) {
        fprintf(stderr, "monolith: JWT_SECRET_KEY %s\n",
                rc == TD_ECONFIG ? "must be set, at least 32 bytes" : "cannot be used");
        return 2;
    }

    /* Signals are taken by sigwait below: blocked before civetweb starts
     * its threads, which inherit the mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0) {
        gw_jwt_free(&g_mono.jwt);
        return 1;
    }

    char nthreads[32];
    snprintf(nthreads, sizeof nthreads, "%lld", threads);
    /* gateway/server.c's options, with its defaults */
    const char *options[] = {
        "listening_ports", listen,
        "num_threads", nthreads,
        "listen_backlog", "256",
        "connection_queue", "256",
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", "5000",
        "request_timeout_ms", "10000",
        "tcp_nodelay", "1",
        "decode_url", "no",
        "access_control_allow_origin", "",
        "access_control_allow_methods", "",
        "access_control_allow_headers", "",
        "max_request_size", "16384",
        NULL,
    };
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.begin_request = begin_request;
    callbacks.log_message = log_message;
    callbacks.init_thread = init_thread;
    callbacks.exit_thread = exit_thread;
    mg_init_library(0);
    struct mg_context *mg = mg_start(&callbacks, NULL, options);
    if (mg == NULL) {
        fprintf(stderr, "monolith: cannot listen on %s\n", listen);
        mg_exit_library();
        gw_jwt_free(&g_mono.jwt);
        return 1;
    }
    fprintf(stderr, "monolith: listening on %s, %lld threads, data in %s\n", listen, threads,
            g_mono.data_dir);
    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    mg_stop(mg); /* joins the workers: exit_thread closes their connections */
    mg_exit_library();
    gw_jwt_free(&g_mono.jwt);
    fprintf(stderr, "monolith: stopped (signal %d); SQLITE_BUSY retries: %lld\n", sig,
            (long long)g_busy_retries);
    return 0;
}
