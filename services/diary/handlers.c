/*
 * handlers.c — td-diary's operations (proto/README.md, "td-diary
 * operations"). Each validates its arguments first (unknown fields refused
 * and named, types and ranges checked, content checked as UTF-8 code points),
 * then calls the store on the connection of the worker serving it. Replies
 * go out after the store's COMMIT. Entry text never reaches a log line.
 */
#include "handlers.h"
#include "analysis.h"
#include "logic.h"
#include "pending.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arguments ---------------------------------------------------------- */

struct arg {
    const char *name;
    const msgpack_object *value; /* filled by take_args; NULL when absent */
};

/* Matches the request's args against `args` (n of them). Unknown or repeated
 * keys are a validation error naming them. Returns 0 or TD_EINVAL. */
static int take_args(const struct td_rpc_request *req, struct td_rpc_reply *rep, struct arg *args,
                     size_t n)
{
    bool bad = false;
    if (req->args == NULL)
        return 0;
    const msgpack_object_map *m = &req->args->via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        size_t j = 0;
        while (j < n && !td_mp_str_eq(k, args[j].name))
            j++;
        if (j == n) {
            td_rpc_reply_detail_key(rep, k, "Unknown field.");
            bad = true;
        } else if (args[j].value != NULL) {
            td_rpc_reply_detail(rep, args[j].name, "Specified more than once.");
            bad = true;
        } else {
            args[j].value = &m->ptr[i].val;
        }
    }
    return bad ? td_rpc_reply_error(rep, TD_EINVAL, NULL) : 0;
}

static int invalid(struct td_rpc_reply *rep, const char *field, const char *message)
{
    td_rpc_reply_detail(rep, field, message);
    return td_rpc_reply_error(rep, TD_EINVAL, NULL);
}

/* A required positive integer argument. */
static int positive_arg(struct td_rpc_reply *rep, const struct arg *a, int64_t *out)
{
    if (a->value == NULL)
        return invalid(rep, a->name, "Missing data for required field.");
    int64_t v;
    if (td_mp_as_int64(a->value, &v) != 0 || v < 1)
        return invalid(rep, a->name, "Must be a positive integer.");
    *out = v;
    return 0;
}

/* The required content argument, checked by the rules of API.md. */
static int content_arg(struct td_rpc_reply *rep, const struct arg *a, const char **s, size_t *len)
{
    if (a->value == NULL)
        return invalid(rep, a->name, "Missing data for required field.");
    if (a->value->type != MSGPACK_OBJECT_STR)
        return invalid(rep, a->name, "Not a valid string.");
    const char *problem = NULL;
    if (diary_content_check(a->value->via.str.ptr, a->value->via.str.size, &problem) != 0)
        return invalid(rep, a->name, problem);
    *s = a->value->via.str.ptr;
    *len = a->value->via.str.size;
    return 0;
}

/* User operations need the user the gateway authenticated. */
static int need_user(const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    if (req->user_id > 0)
        return 0;
    return td_rpc_reply_error(rep, TD_EBADTOKEN, "Authentication required");
}

static int need_conn(const struct diary_app *app, const struct td_rpc_request *req)
{
    /* The store has one connection per worker; the last one is the
     * background worker's and never serves a request. */
    return req->worker < diary_store_bg_conn(app->store) ? 0 : TD_EINTERNAL;
}

/* The preamble of every operation a user makes: an authenticated caller, a
 * connection of this worker, and exactly the arguments named in args. */
static int user_op_args(const struct diary_app *app, const struct td_rpc_request *req,
                        struct td_rpc_reply *rep, struct arg *args, size_t n)
{
    int rc = need_user(req, rep);
    rc = rc ? rc : need_conn(app, req);
    return rc ? rc : take_args(req, rep, args, n);
}

/* ---- results ------------------------------------------------------------ */

static int pack_time(msgpack_packer *pk, const char *key, int64_t us)
{
    char ts[TD_TIMESTAMP_LEN + 1];
    if (td_format_timestamp(us, ts, sizeof ts) != 0)
        return TD_EINTERNAL;
    return td_mp_pack_kv_str(pk, key, ts);
}

/* Packs an entry exactly as API.md shows it. 0 or non-zero. */
static int pack_entry(msgpack_packer *pk, const struct diary_entry *e)
{
    int rc = msgpack_pack_map(pk, 8);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "id", e->id);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "user_id", e->user_id);
    rc = rc ? rc : td_mp_pack_cstr(pk, "content");
    rc = rc ? rc : td_mp_pack_strn(pk, e->content, e->content_len);
    rc = rc ? rc : td_mp_pack_cstr(pk, "analyzed_content");
    rc = rc ? rc : td_mp_pack_strn(pk, e->analyzed, e->analyzed_len);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "positive_count", e->positive_count);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "negative_count", e->negative_count);
    rc = rc ? rc : pack_time(pk, "created_at", e->created_at);
    rc = rc ? rc : pack_time(pk, "updated_at", e->updated_at);
    return rc;
}

static int reply_entry(struct td_rpc_reply *rep, int status, const struct diary_entry *e)
{
    return pack_entry(td_rpc_reply_result(rep, status), e) == 0 ? 0 : TD_ENOMEM;
}

/* ---- operations --------------------------------------------------------- */

static int op_list(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct arg args[] = {{"page", NULL}, {"per_page", NULL}};
    int rc = user_op_args(app, req, rep, args, 2);
    int64_t page = 1, per_page = DIARY_PER_PAGE_DEFAULT;
    if (rc == 0 && args[0].value != NULL)
        rc = positive_arg(rep, &args[0], &page);
    if (rc == 0 && args[1].value != NULL)
        rc = positive_arg(rep, &args[1], &per_page);
    if (rc != 0)
        return rc;
    per_page = diary_per_page_clamp(per_page);
    int64_t offset;
    if (!diary_page_offset(page, per_page, &offset))
        offset = INT64_MAX; /* past the end of any table */

    struct diary_entry *items = NULL;
    size_t count = 0;
    int64_t total = 0;
    rc = diary_store_list(app->store, req->worker, req->user_id, per_page, offset, &items, &count,
                          &total);
    if (rc != 0)
        return rc;
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int prc = msgpack_pack_map(pk, 5);
    prc = prc ? prc : td_mp_pack_cstr(pk, "items");
    prc = prc ? prc : msgpack_pack_array(pk, count);
    for (size_t i = 0; prc == 0 && i < count; i++)
        prc = pack_entry(pk, &items[i]);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "page", page);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "per_page", per_page);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "total", total);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "pages", diary_page_count(total, per_page));
    diary_entries_free(&items, count);
    return prc == 0 ? 0 : TD_ENOMEM;
}

static int op_create(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct arg args[] = {{"content", NULL}};
    const char *content = NULL;
    size_t len = 0;
    int rc = user_op_args(app, req, rep, args, 1);
    rc = rc ? rc : content_arg(rep, &args[0], &content, &len);
    if (rc != 0)
        return rc;

    struct diary_analysis a = {0};
    rc = diary_analysis_get(app->sentiment, app->sentiment_timeout_ms, content, len, &a);
    if (rc != 0)
        return rc;
    struct diary_write w = {.content = content, .content_len = len, .analyzed = a.analyzed,
                            .analyzed_len = a.analyzed_len, .positive_count = a.positive_count,
                            .negative_count = a.negative_count, .pending = a.pending,
                            .now_us = td_now_us()};
    struct diary_entry e = {0};
    bool deduped = false;
    rc = diary_store_create(app->store, req->worker, req->user_id, req->call_id, &w, &e, &deduped);
    diary_analysis_clear(&a);
    if (rc != 0)
        return rc;
    if (deduped)
        TD_LOG(TD_LOG_NOTICE, "diary_create_deduped", "call %s repeated: entry %lld returned",
               req->call_id, (long long)e.id);
    else
        TD_LOG(TD_LOG_INFO, "diary_created", "entry %lld of user %lld%s", (long long)e.id,
               (long long)e.user_id, e.pending ? " (analysis pending)" : "");
    if (e.pending)
        diary_pending_kick(app->pending);
    rc = reply_entry(rep, 201, &e);
    diary_entry_clear(&e);
    return rc;
}

static int op_get(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct arg args[] = {{"id", NULL}};
    int64_t id = 0;
    int rc = user_op_args(app, req, rep, args, 1);
    rc = rc ? rc : positive_arg(rep, &args[0], &id);
    if (rc != 0)
        return rc;
    struct diary_entry e = {0};
    rc = diary_store_get(app->store, req->worker, req->user_id, id, &e);
    if (rc != 0)
        return rc;
    rc = reply_entry(rep, 200, &e);
    diary_entry_clear(&e);
    return rc;
}

static int op_update(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct arg args[] = {{"id", NULL}, {"content", NULL}};
    int64_t id = 0;
    const char *content = NULL;
    size_t len = 0;
    int rc = user_op_args(app, req, rep, args, 2);
    rc = rc ? rc : positive_arg(rep, &args[0], &id);
    rc = rc ? rc : content_arg(rep, &args[1], &content, &len);
    if (rc != 0)
        return rc;

    /* 404/403 before spending an analysis on someone else's entry; the
     * update re-checks inside its transaction. */
    struct diary_entry e = {0};
    rc = diary_store_get(app->store, req->worker, req->user_id, id, &e);
    diary_entry_clear(&e);
    if (rc != 0)
        return rc;

    struct diary_analysis a = {0};
    rc = diary_analysis_get(app->sentiment, app->sentiment_timeout_ms, content, len, &a);
    if (rc != 0)
        return rc;
    struct diary_write w = {.content = content, .content_len = len, .analyzed = a.analyzed,
                            .analyzed_len = a.analyzed_len, .positive_count = a.positive_count,
                            .negative_count = a.negative_count, .pending = a.pending,
                            .now_us = td_now_us()};
    rc = diary_store_update(app->store, req->worker, req->user_id, id, &w, &e);
    diary_analysis_clear(&a);
    if (rc != 0)
        return rc;
    if (e.pending)
        diary_pending_kick(app->pending);
    rc = reply_entry(rep, 200, &e);
    diary_entry_clear(&e);
    return rc;
}

static int op_delete(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct arg args[] = {{"id", NULL}};
    int64_t id = 0;
    int rc = user_op_args(app, req, rep, args, 1);
    rc = rc ? rc : positive_arg(rep, &args[0], &id);
    rc = rc ? rc : diary_store_delete(app->store, req->worker, req->user_id, id);
    if (rc != 0)
        return rc;
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int prc = msgpack_pack_map(pk, 1);
    prc = prc ? prc : td_mp_pack_kv_str(pk, "message", "Diary entry deleted successfully");
    return prc == 0 ? 0 : TD_ENOMEM;
}

static int op_stats(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct diary_stats s = {0};
    int rc = user_op_args(app, req, rep, NULL, 0);
    rc = rc ? rc : diary_store_stats(app->store, req->worker, req->user_id, &s);
    if (rc != 0)
        return rc;
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int prc = msgpack_pack_map(pk, 7);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "total_entries", s.total_entries);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "positive_entries", s.positive_entries);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "negative_entries", s.negative_entries);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "neutral_entries", s.neutral_entries);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "positive_count_total", s.positive_count_total);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "negative_count_total", s.negative_count_total);
    prc = prc ? prc
              : td_mp_pack_kv_str(pk, "overall",
                                  diary_overall(s.positive_count_total, s.negative_count_total));
    return prc == 0 ? 0 : TD_ENOMEM;
}

/* Called by td-auth when an account is deleted: no user in the envelope,
 * the user to purge in the args. Idempotent: a second call deletes 0. */
static int op_delete_user(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct arg args[] = {{"user_id", NULL}};
    int64_t user_id = 0, deleted = 0;
    int rc = need_conn(app, req);
    rc = rc ? rc : take_args(req, rep, args, 1);
    rc = rc ? rc : positive_arg(rep, &args[0], &user_id);
    rc = rc ? rc : diary_store_delete_user(app->store, req->worker, user_id, &deleted);
    if (rc != 0)
        return rc;
    TD_LOG(TD_LOG_NOTICE, "diary_user_deleted", "user %lld: %lld entries deleted",
           (long long)user_id, (long long)deleted);
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int prc = msgpack_pack_map(pk, 1);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "deleted", deleted);
    return prc == 0 ? 0 : TD_ENOMEM;
}

/* Demo entries for `tdctl seed` (never routed by the gateway). */
#define SEED_MAX_ENTRIES 1000

/* Reads one {user_id, content, created_at} of diary.seed. */
static int seed_entry_arg(struct td_rpc_reply *rep, const msgpack_object *o,
                          struct diary_seed_entry *e)
{
    static const char *const keys[] = {"user_id", "content", "created_at"};
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != 3)
        return invalid(rep, "entries", "Each entry is {user_id, content, created_at}.");
    const msgpack_object *v[3];
    for (int k = 0; k < 3; k++) {
        v[k] = td_mp_map_get(o, keys[k]);
        if (v[k] == NULL)
            return invalid(rep, "entries", "Each entry is {user_id, content, created_at}.");
    }
    const char *problem = NULL;
    if (td_mp_as_int64(v[0], &e->user_id) != 0 || e->user_id < 1)
        return invalid(rep, "user_id", "Must be a positive integer.");
    if (v[1]->type != MSGPACK_OBJECT_STR ||
        diary_content_check(v[1]->via.str.ptr, v[1]->via.str.size, &problem) != 0)
        return invalid(rep, "content", problem ? problem : "Not a valid string.");
    if (td_mp_as_int64(v[2], &e->created_at) != 0 || e->created_at < 0)
        return invalid(rep, "created_at", "Must be microseconds since the epoch.");
    e->content = v[1]->via.str.ptr;
    e->content_len = v[1]->via.str.size;
    return 0;
}

static int op_seed(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct arg args[] = {{"entries", NULL}, {"clear", NULL}};
    int rc = need_conn(app, req);
    rc = rc ? rc : take_args(req, rep, args, 2);
    if (rc != 0)
        return rc;
    const msgpack_object *list = args[0].value, *clear = args[1].value;
    /* An empty list is a clear alone: tdctl clears the demo entries before
     * td-auth deletes the demo accounts, so it can count them (the account
     * deletion's own cascade would remove them unseen, in the background). */
    if (list == NULL || list->type != MSGPACK_OBJECT_ARRAY ||
        list->via.array.size > SEED_MAX_ENTRIES)
        return invalid(rep, "entries", "Must be a list of 0 to 1000 entries.");
    if (clear != NULL && clear->type != MSGPACK_OBJECT_BOOLEAN)
        return invalid(rep, "clear", "Not a valid boolean.");

    size_t n = list->via.array.size;
    /* calloc(0) may return NULL, which must not read as out of memory. */
    struct diary_seed_entry *entries = calloc(n ? n : 1, sizeof *entries);
    if (entries == NULL)
        return TD_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = seed_entry_arg(rep, &list->via.array.ptr[i], &entries[i]);
        /* A user's entries must be adjacent: the store checks "already
         * seeded" once per run of one user. */
        for (size_t j = 0; rc == 0 && i > 0 && j + 1 < i; j++) {
            if (entries[j].user_id == entries[i].user_id &&
                entries[i - 1].user_id != entries[i].user_id)
                rc = invalid(rep, "entries", "A user's entries must be adjacent.");
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *esc = diary_html_escape_new(entries[i].content, entries[i].content_len,
                                          &entries[i].analyzed_len);
        if (esc == NULL)
            rc = TD_ENOMEM;
        entries[i].analyzed = esc;
    }
    int64_t cleared = 0, inserted = 0;
    if (rc == 0)
        rc = diary_store_seed(app->store, req->worker, entries, n, clear && clear->via.boolean,
                              &cleared, &inserted);
    for (size_t i = 0; i < n; i++)
        free((char *)entries[i].analyzed);
    free(entries);
    if (rc != 0)
        return rc;
    if (inserted > 0 && app->pending != NULL)
        diary_pending_kick(app->pending); /* the demo entries get analysed in the background */
    TD_LOG(TD_LOG_NOTICE, "diary_seeded", "%lld demo entries cleared, %lld inserted",
           (long long)cleared, (long long)inserted);
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int prc = msgpack_pack_map(pk, 2);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "cleared", cleared);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "inserted", inserted);
    return prc == 0 ? 0 : TD_ENOMEM;
}

/* Inline (td_rpc.h): the reads. Writes wait for group commit and create
 * and update call td-sentiment, so they go to the workers. */
const struct td_rpc_route diary_routes[] = {
    {TD_OP_DIARY_LIST, op_list, true},
    {TD_OP_DIARY_GET, op_get, true},
    {TD_OP_DIARY_STATS, op_stats, true},
    {TD_OP_DIARY_CREATE, op_create, false},
    {TD_OP_DIARY_UPDATE, op_update, false},
    {TD_OP_DIARY_DELETE, op_delete, false},
    {TD_OP_DIARY_DELETE_USER, op_delete_user, false},
    {TD_OP_DIARY_SEED, op_seed, false},
};
const size_t diary_nroutes = sizeof diary_routes / sizeof diary_routes[0];
