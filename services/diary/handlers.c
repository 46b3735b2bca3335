/*
 * handlers.c — td-diary's operations (proto/README.md, "td-diary
 * operations"). Each validates its arguments first (declared as data for
 * common/td_rpc_args.h, which refuses unknown fields and checks types and
 * ranges; content checked here as UTF-8 code points),
 * then calls the store on the connection of the worker serving it. Replies
 * go out after the store's COMMIT. Entry text never reaches a log line.
 */
#include "handlers.h"
#include "analysis.h"
#include "filter.h"
#include "insights.h"
#include "logic.h"
#include "pending.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_rpc_args.h"
#include "td_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arguments ---------------------------------------------------------- */

static int invalid(struct td_rpc_reply *rep, const char *field, const char *message)
{
    td_rpc_reply_detail(rep, field, message);
    return td_rpc_reply_error(rep, TD_EINVAL, NULL);
}

/* The content argument (declared CONTENT_ARG), checked by the rules of the
 * HTTP contract (gateway/docs/openapi.json): code points, not bytes, so the
 * table bounds nothing. */
#define CONTENT_ARG TD_ARG_STR("content", TD_ARG_REQUIRED, 0, INT64_MAX)
static int content_arg(struct td_rpc_reply *rep, const struct td_arg *a)
{
    const char *problem = NULL;
    if (diary_content_check(a->s, a->len, &problem) != 0)
        return invalid(rep, a->name, problem);
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
 * connection of this worker, and exactly the arguments declared in args. */
static int user_op_args(const struct diary_app *app, const struct td_rpc_request *req,
                        struct td_rpc_reply *rep, struct td_arg *args, size_t n)
{
    int rc = need_user(req, rep);
    rc = rc ? rc : need_conn(app, req);
    return rc ? rc : td_rpc_args_take(req, rep, args, n);
}

/* Strings the gateway passes as the client sent them (filters, bucket,
 * limit): at most this many bytes. */
#define TEXT_ARG_MAX 1024
#define TEXT_ARG(name) TD_ARG_STR(name, 0, 0, TEXT_ARG_MAX)
#define POSITIVE_ARG(name) TD_ARG_INT(name, TD_ARG_REQUIRED, 1, INT64_MAX)

static struct diary_text text_of(const struct td_arg *a)
{
    return (struct diary_text){a != NULL && a->value != NULL ? a->s : NULL,
                               a != NULL ? a->len : 0};
}

/* The filters of filter.h from their arguments (any may be NULL: not taken
 * by this operation). On 0, *f and *tz are the caller's to clear and free. */
static int filter_args(struct td_rpc_reply *rep, const struct td_arg *q, const struct td_arg *from,
                       const struct td_arg *to, const struct td_arg *tone,
                       const struct td_arg *tz_arg, struct diary_filter *f, struct td_tz **tz)
{
    struct diary_filter_in in = {text_of(q), text_of(from), text_of(to), text_of(tone),
                                 text_of(tz_arg)};
    struct diary_problem problems[DIARY_FILTER_MAX_PROBLEMS];
    size_t np = 0;
    int rc = diary_filter_parse(&in, f, tz, problems, &np);
    if (rc == TD_EINVAL) {
        for (size_t i = 0; i < np; i++)
            td_rpc_reply_detail(rep, problems[i].field, problems[i].message);
        return td_rpc_reply_error(rep, TD_EINVAL, NULL);
    }
    return rc;
}

/* ---- results ------------------------------------------------------------ */

static int pack_time(msgpack_packer *pk, const char *key, int64_t us)
{
    char ts[TD_TIMESTAMP_LEN + 1];
    if (td_format_timestamp(us, ts, sizeof ts) != 0)
        return TD_EINTERNAL;
    return td_mp_pack_kv_str(pk, key, ts);
}

/* Packs an entry exactly as the contract shows it. 0 or non-zero. */
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
    struct td_arg args[] = {
        TD_ARG_INT("page", 0, 1, INT64_MAX), TD_ARG_INT("per_page", 0, 1, INT64_MAX),
        TEXT_ARG("q"), TEXT_ARG("from"), TEXT_ARG("to"), TEXT_ARG("tone"), TEXT_ARG("tz"),
    };
    int rc = user_op_args(app, req, rep, args, sizeof args / sizeof args[0]);
    int64_t page = args[0].value ? args[0].i : 1;
    int64_t per_page = args[1].value ? args[1].i : DIARY_PER_PAGE_DEFAULT;
    struct diary_filter f = DIARY_FILTER_NONE;
    struct td_tz *tz = NULL;
    rc = rc ? rc : filter_args(rep, &args[2], &args[3], &args[4], &args[5], &args[6], &f, &tz);
    td_tz_free(&tz);
    if (rc != 0)
        return rc;
    per_page = diary_per_page_clamp(per_page);
    int64_t offset;
    if (!diary_page_offset(page, per_page, &offset))
        offset = INT64_MAX; /* past the end of any table */

    struct diary_entry *items = NULL;
    size_t count = 0;
    int64_t total = 0;
    rc = diary_store_find(app->store, req->worker, req->user_id, &f, per_page, offset, &items,
                          &count, &total);
    diary_filter_clear(&f);
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
    struct td_arg args[] = {CONTENT_ARG};
    int rc = user_op_args(app, req, rep, args, 1);
    rc = rc ? rc : content_arg(rep, &args[0]);
    if (rc != 0)
        return rc;
    const char *content = args[0].s;
    size_t len = args[0].len;

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
    struct td_arg args[] = {POSITIVE_ARG("id")};
    int rc = user_op_args(app, req, rep, args, 1);
    if (rc != 0)
        return rc;
    struct diary_entry e = {0};
    rc = diary_store_get(app->store, req->worker, req->user_id, args[0].i, &e);
    if (rc != 0)
        return rc;
    rc = reply_entry(rep, 200, &e);
    diary_entry_clear(&e);
    return rc;
}

static int op_update(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct td_arg args[] = {POSITIVE_ARG("id"), CONTENT_ARG};
    int rc = user_op_args(app, req, rep, args, 2);
    rc = rc ? rc : content_arg(rep, &args[1]);
    if (rc != 0)
        return rc;
    int64_t id = args[0].i;
    const char *content = args[1].s;
    size_t len = args[1].len;

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
    struct td_arg args[] = {POSITIVE_ARG("id")};
    int rc = user_op_args(app, req, rep, args, 1);
    rc = rc ? rc : diary_store_delete(app->store, req->worker, req->user_id, args[0].i);
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
    struct td_arg args[] = {TEXT_ARG("from"), TEXT_ARG("to"), TEXT_ARG("tz")};
    struct diary_filter f = DIARY_FILTER_NONE;
    struct td_tz *tz = NULL;
    int rc = user_op_args(app, req, rep, args, 3);
    rc = rc ? rc : filter_args(rep, NULL, &args[0], &args[1], NULL, &args[2], &f, &tz);
    td_tz_free(&tz);
    /* Without a range, the row the triggers keep (migration 5); with one,
     * an aggregate over the range of the (user_id, created_at) index. */
    if (rc == 0 && !diary_filter_active(&f))
        rc = diary_store_stats(app->store, req->worker, req->user_id, &s);
    else if (rc == 0)
        rc = diary_store_range_stats(app->store, req->worker, req->user_id, f.from_us, f.to_us,
                                     &s);
    diary_filter_clear(&f);
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
    struct td_arg args[] = {POSITIVE_ARG("user_id")};
    int64_t deleted = 0;
    int rc = need_conn(app, req);
    rc = rc ? rc : TD_RPC_ARGS_TAKE(req, rep, args);
    int64_t user_id = args[0].i;
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
    /* An empty list is a clear alone: tdctl clears the demo entries before
     * td-auth deletes the demo accounts, so it can count them (the account
     * deletion's own cascade would remove them unseen, in the background). */
    struct td_arg args[] = {
        TD_ARG_ARRAY("entries", TD_ARG_REQUIRED, 0, SEED_MAX_ENTRIES),
        TD_ARG_BOOL("clear", 0),
    };
    int rc = need_conn(app, req);
    rc = rc ? rc : TD_RPC_ARGS_TAKE(req, rep, args);
    if (rc != 0)
        return rc;
    const msgpack_object *list = args[0].value;
    bool clear = args[1].b;

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
        rc = diary_store_seed(app->store, req->worker, entries, n, clear,
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

/* ---- timeline ----------------------------------------------------------- */

struct timeline {
    int64_t n;            /* buckets */
    int64_t *starts;      /* n + 1 instants: bucket i is [starts[i], starts[i+1]) */
    struct diary_stats *points;
    int64_t at;           /* the bucket the last entry fell in (entries come oldest first) */
};

static int timeline_add(void *arg, int64_t created_at, int64_t pos, int64_t neg)
{
    struct timeline *t = arg;
    while (t->at + 1 < t->n && created_at >= t->starts[t->at + 1])
        t->at++;
    if (created_at < t->starts[t->at] || created_at >= t->starts[t->at + 1])
        return 0; /* outside every bucket: cannot happen for the range read */
    struct diary_stats *p = &t->points[t->at];
    p->total_entries++;
    p->positive_entries += pos > neg;
    p->negative_entries += pos < neg;
    p->neutral_entries += pos == neg;
    p->positive_count_total += pos;
    p->negative_count_total += neg;
    return 0;
}

/* The local date holding instant `us`. */
static int local_date(struct td_tz *tz, int64_t us, struct td_date *out)
{
    struct td_local l;
    int rc = td_tz_local(tz, us, &l);
    if (rc == 0)
        *out = l.date;
    return rc;
}

static int pack_date(msgpack_packer *pk, const char *key, struct td_date d)
{
    char buf[11];
    td_date_format(d, buf);
    return td_mp_pack_kv_str(pk, key, buf);
}

/* GET /diaries/stats/timeline: every bucket that meets [from, to), empty
 * ones included. The reply's from/to are the first and last buckets'
 * starts. Defaults: to = now, from = DIARY_TIMELINE_DEFAULT_SPAN buckets
 * before the bucket holding to (so that many buckets and the current one). */
static int op_timeline(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct td_arg args[] = {TEXT_ARG("bucket"), TEXT_ARG("from"), TEXT_ARG("to"), TEXT_ARG("tz")};
    struct diary_filter f = DIARY_FILTER_NONE;
    struct td_tz *tz = NULL;
    enum diary_bucket b = DIARY_BUCKET_WEEK;
    int rc = user_op_args(app, req, rep, args, 4);
    struct diary_text bucket = text_of(&args[0]);
    if (rc == 0 && bucket.s != NULL && diary_bucket_parse(bucket.s, bucket.len, &b) != 0)
        td_rpc_reply_detail(rep, "bucket", "Must be one of: day, week, month.");
    rc = rc ? rc : filter_args(rep, NULL, &args[1], &args[2], NULL, &args[3], &f, &tz);
    if (rc == 0 && rep->ndetails > 0)
        rc = td_rpc_reply_error(rep, TD_EINVAL, NULL);
    bool have_from = f.from_us != INT64_MIN, have_to = f.to_us != INT64_MAX;
    int64_t from_us = f.from_us, to_us = have_to ? f.to_us : td_now_us();
    diary_filter_clear(&f);
    if (rc != 0) {
        td_tz_free(&tz);
        return rc;
    }
    struct td_date first = {0}, last = {0};
    rc = local_date(tz, to_us > 0 ? to_us - 1 : 0, &last);
    if (rc == 0)
        last = diary_bucket_start(b, last);
    if (rc == 0 && !have_from) {
        first = diary_bucket_add(b, last, -DIARY_TIMELINE_DEFAULT_SPAN);
        rc = td_tz_day_start(tz, first, &from_us);
    } else if (rc == 0) {
        rc = local_date(tz, from_us, &first);
        first = diary_bucket_start(b, first);
    }
    if (rc == 0 && from_us > to_us) {
        td_tz_free(&tz);
        return invalid(rep, "from", "Must not be after to.");
    }
    int64_t n = rc == 0 && from_us < to_us ? diary_bucket_count(b, first, last) : 0;
    if (rc == 0 && n > DIARY_TIMELINE_MAX_BUCKETS) {
        td_tz_free(&tz);
        return invalid(rep, "from", "The range spans more than 400 buckets.");
    }
    struct timeline t = {.n = n};
    if (rc == 0) {
        t.starts = calloc((size_t)n + 1, sizeof *t.starts);
        t.points = calloc((size_t)n + 1, sizeof *t.points);
        if (t.starts == NULL || t.points == NULL)
            rc = TD_ENOMEM;
    }
    for (int64_t i = 0; rc == 0 && i <= n; i++)
        rc = td_tz_day_start(tz, diary_bucket_add(b, first, i), &t.starts[i]);
    td_tz_free(&tz);
    if (rc == 0 && n > 0)
        rc = diary_store_scan_tones(app->store, req->worker, req->user_id, from_us, to_us,
                                    timeline_add, &t);
    msgpack_packer *pk = rc == 0 ? td_rpc_reply_result(rep, 200) : NULL;
    int prc = rc;
    if (pk != NULL) {
        char tz_name[TD_TZ_NAME_MAX + 1] = "UTC";
        if (args[3].value != NULL)
            td_mp_copy_str(args[3].value, tz_name, sizeof tz_name);
        prc = msgpack_pack_map(pk, 5);
        prc = prc ? prc : td_mp_pack_kv_str(pk, "bucket", diary_bucket_name(b));
        prc = prc ? prc : td_mp_pack_kv_str(pk, "tz", tz_name);
        prc = prc ? prc : pack_date(pk, "from", first);
        prc = prc ? prc : pack_date(pk, "to", n > 0 ? last : first);
        prc = prc ? prc : td_mp_pack_cstr(pk, "points");
        prc = prc ? prc : msgpack_pack_array(pk, (size_t)n);
        for (int64_t i = 0; prc == 0 && i < n; i++) {
            const struct diary_stats *p = &t.points[i];
            prc = msgpack_pack_map(pk, 7);
            prc = prc ? prc : pack_date(pk, "start", diary_bucket_add(b, first, i));
            prc = prc ? prc : td_mp_pack_kv_int(pk, "entries", p->total_entries);
            prc = prc ? prc : td_mp_pack_kv_int(pk, "positive_entries", p->positive_entries);
            prc = prc ? prc : td_mp_pack_kv_int(pk, "negative_entries", p->negative_entries);
            prc = prc ? prc : td_mp_pack_kv_int(pk, "neutral_entries", p->neutral_entries);
            prc = prc ? prc : td_mp_pack_kv_int(pk, "positive_count", p->positive_count_total);
            prc = prc ? prc : td_mp_pack_kv_int(pk, "negative_count", p->negative_count_total);
        }
        prc = prc ? TD_ENOMEM : 0;
    }
    free(t.starts);
    free(t.points);
    return prc;
}

/* ---- phrases ------------------------------------------------------------ */

struct phrase {
    char *text;
    size_t len;
    bool positive;
    int64_t count;
};

struct phrases {
    struct phrase *v;
    size_t n, cap;
};

static int phrase_add(void *arg, bool positive, const char *text, size_t len)
{
    struct phrases *ps = arg;
    size_t nlen = 0;
    char *norm = diary_phrase_normalize_new(text, len, &nlen);
    if (norm == NULL)
        return TD_ENOMEM;
    if (nlen == 0) {
        free(norm);
        return 0;
    }
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        struct phrase *v = realloc(ps->v, cap * sizeof *v);
        if (v == NULL) {
            free(norm);
            return TD_ENOMEM;
        }
        ps->v = v;
        ps->cap = cap;
    }
    ps->v[ps->n++] = (struct phrase){norm, nlen, positive, 1};
    return 0;
}

static int scan_markup(void *arg, const char *markup, size_t len)
{
    return diary_spans_each(markup, len, phrase_add, arg);
}

static int phrase_text_cmp(const struct phrase *a, const struct phrase *b)
{
    if (a->positive != b->positive)
        return a->positive ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->text, b->text, n);
    return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

static int by_text(const void *x, const void *y)
{
    return phrase_text_cmp(x, y);
}

/* Most frequent first, then alphabetical (code point order of the UTF-8). */
static int by_rank(const void *x, const void *y)
{
    const struct phrase *a = x, *b = y;
    if (a->positive != b->positive)
        return a->positive ? -1 : 1;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return phrase_text_cmp(a, b);
}

static int pack_phrases(msgpack_packer *pk, const struct phrases *ps, bool positive,
                        int64_t limit)
{
    size_t from = 0, n = 0;
    while (from < ps->n && ps->v[from].positive != positive)
        from++;
    while (from + n < ps->n && ps->v[from + n].positive == positive && (int64_t)n < limit)
        n++;
    int rc = td_mp_pack_cstr(pk, positive ? "positive" : "negative");
    rc = rc ? rc : msgpack_pack_array(pk, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct phrase *p = &ps->v[from + i];
        rc = msgpack_pack_map(pk, 2);
        rc = rc ? rc : td_mp_pack_cstr(pk, "phrase");
        rc = rc ? rc : td_mp_pack_strn(pk, p->text, p->len);
        rc = rc ? rc : td_mp_pack_kv_int(pk, "count", p->count);
    }
    return rc;
}

/* A limit as the client wrote it: plain decimal 1..max. */
static bool small_decimal(const struct diary_text *t, int64_t max, int64_t *out)
{
    if (t->len == 0 || t->len > 3 || t->s[0] == '0')
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (t->s[i] < '0' || t->s[i] > '9')
            return false;
        v = v * 10 + (t->s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static int op_phrases(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct td_arg args[] = {TEXT_ARG("limit"), TEXT_ARG("from"), TEXT_ARG("to"), TEXT_ARG("tz")};
    struct diary_filter f = DIARY_FILTER_NONE;
    struct td_tz *tz = NULL;
    int64_t limit = DIARY_PHRASES_DEFAULT_LIMIT;
    int rc = user_op_args(app, req, rep, args, 4);
    struct diary_text lim = text_of(&args[0]);
    if (rc == 0 && lim.s != NULL && !small_decimal(&lim, DIARY_PHRASES_MAX_LIMIT, &limit))
        td_rpc_reply_detail(rep, "limit", "Must be an integer from 1 to 50.");
    rc = rc ? rc : filter_args(rep, NULL, &args[1], &args[2], NULL, &args[3], &f, &tz);
    td_tz_free(&tz);
    if (rc == 0 && rep->ndetails > 0)
        rc = td_rpc_reply_error(rep, TD_EINVAL, NULL);
    struct phrases ps = {0};
    if (rc == 0)
        rc = diary_store_scan_markup(app->store, req->worker, req->user_id, f.from_us, f.to_us,
                                     scan_markup, &ps);
    diary_filter_clear(&f);
    /* Count equal phrases (sorted together), then rank the distinct ones. */
    size_t distinct = 0;
    if (rc == 0 && ps.n > 0) {
        qsort(ps.v, ps.n, sizeof *ps.v, by_text);
        for (size_t i = 0; i < ps.n; i++) {
            if (distinct > 0 && phrase_text_cmp(&ps.v[distinct - 1], &ps.v[i]) == 0) {
                ps.v[distinct - 1].count++;
                free(ps.v[i].text);
            } else {
                ps.v[distinct++] = ps.v[i];
            }
        }
        qsort(ps.v, distinct, sizeof *ps.v, by_rank);
    }
    ps.n = distinct;
    int prc = rc;
    if (rc == 0) {
        msgpack_packer *pk = td_rpc_reply_result(rep, 200);
        prc = msgpack_pack_map(pk, 2);
        prc = prc ? prc : pack_phrases(pk, &ps, true, limit);
        prc = prc ? prc : pack_phrases(pk, &ps, false, limit);
        prc = prc ? TD_ENOMEM : 0;
    }
    for (size_t i = 0; i < ps.n; i++)
        free(ps.v[i].text);
    free(ps.v);
    return prc;
}

/* ---- export -------------------------------------------------------------- */

/* Entries per diary.export page: 50 maximal entries (10,000 code points of
 * content, each escaped in the markup) stay under 10 MiB, far below the
 * reply cap (TD_PROTO_MAX_REPLY), and are what the gateway holds at once. */
#define DIARY_EXPORT_PAGE 50

/* {"after": [created_at µs, id]}: the keyset of the last entry sent. */
static int after_arg(struct td_rpc_reply *rep, const struct td_arg *a, int64_t *created,
                     int64_t *id)
{
    *created = INT64_MIN;
    *id = 0;
    if (a->value == NULL)
        return 0;
    const msgpack_object *o = a->value;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2 ||
        td_mp_as_int64(&o->via.array.ptr[0], created) != 0 ||
        td_mp_as_int64(&o->via.array.ptr[1], id) != 0 || *id < 1)
        return invalid(rep, a->name, "Must be [created_at, id] of the last entry sent.");
    return 0;
}

static int op_export(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct td_arg args[] = {TEXT_ARG("q"),    TEXT_ARG("from"), TEXT_ARG("to"),
                            TEXT_ARG("tone"), TEXT_ARG("tz"),   TD_ARG_ANY("after", 0)};
    struct diary_filter f = DIARY_FILTER_NONE;
    struct td_tz *tz = NULL;
    int64_t after_created, after_id;
    int rc = user_op_args(app, req, rep, args, 6);
    rc = rc ? rc : after_arg(rep, &args[5], &after_created, &after_id);
    rc = rc ? rc : filter_args(rep, &args[0], &args[1], &args[2], &args[3], &args[4], &f, &tz);
    struct diary_entry *items = NULL;
    size_t count = 0;
    if (rc == 0)
        rc = diary_store_export_page(app->store, req->worker, req->user_id, &f, after_created,
                                     after_id, DIARY_EXPORT_PAGE, &items, &count);
    diary_filter_clear(&f);
    if (rc != 0) {
        td_tz_free(&tz);
        return rc;
    }
    /* Each entry with its local date and time in tz, for the markdown
     * headings: zones are td-diary's business (filter.h), not the gateway's. */
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int prc = msgpack_pack_map(pk, 3);
    prc = prc ? prc : td_mp_pack_cstr(pk, "items");
    prc = prc ? prc : msgpack_pack_array(pk, count);
    for (size_t i = 0; prc == 0 && i < count; i++)
        prc = pack_entry(pk, &items[i]);
    prc = prc ? prc : td_mp_pack_cstr(pk, "local");
    prc = prc ? prc : msgpack_pack_array(pk, count);
    for (size_t i = 0; prc == 0 && i < count; i++) {
        struct td_local l;
        char buf[40], date[11];
        if (td_tz_local(tz, items[i].created_at, &l) != 0) {
            prc = TD_EINTERNAL;
            break;
        }
        td_date_format(l.date, date);
        int off = l.offset_s < 0 ? -l.offset_s : l.offset_s;
        snprintf(buf, sizeof buf, "%s %02d:%02d (UTC%c%02d:%02d)", date, l.hour, l.minute,
                 l.offset_s < 0 ? '-' : '+', off / 3600, off / 60 % 60);
        prc = td_mp_pack_cstr(pk, buf);
    }
    prc = prc ? prc : td_mp_pack_cstr(pk, "next");
    if (prc == 0 && count == DIARY_EXPORT_PAGE) {
        prc = msgpack_pack_array(pk, 2);
        prc = prc ? prc : msgpack_pack_int64(pk, items[count - 1].created_at);
        prc = prc ? prc : msgpack_pack_int64(pk, items[count - 1].id);
    } else if (prc == 0) {
        prc = msgpack_pack_nil(pk);
    }
    td_tz_free(&tz);
    diary_entries_free(&items, count);
    return prc == 0 ? 0 : prc < 0 ? prc : TD_ENOMEM;
}

/* ---- import -------------------------------------------------------------- */

#define DIARY_IMPORT_MAX_ENTRIES 10000
#define DIARY_IMPORT_PIECE_MAX 1000        /* entries per diary.import_stage */
#define DIARY_IMPORT_STALE_US (3600LL * 1000000) /* staged rows older than this expire */
#define IMPORT_ID_LEN 32

/* The import id (declared IMPORT_ID_ARG): the gateway's 32 hex characters. */
#define IMPORT_ID_ARG TD_ARG_STR("import", TD_ARG_REQUIRED, IMPORT_ID_LEN, IMPORT_ID_LEN)
static int import_id_arg(struct td_rpc_reply *rep, const struct td_arg *a, char *buf)
{
    bool ok = true;
    for (size_t i = 0; ok && i < IMPORT_ID_LEN; i++) {
        char c = a->s[i];
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    }
    if (!ok)
        return invalid(rep, a->name, "Must be 32 lower-case hexadecimal characters.");
    memcpy(buf, a->s, IMPORT_ID_LEN);
    buf[IMPORT_ID_LEN] = '\0';
    return 0;
}

/* One {content, created_at} of a piece; problems go to details under
 * "entries[<index>].<field>". Returns whether the entry is good. */
static bool import_entry(struct td_rpc_reply *rep, const msgpack_object *o, int64_t index,
                         struct diary_import_item *it)
{
    char field[TD_RPC_FIELD_MAX];
    if (o->type != MSGPACK_OBJECT_MAP || !td_mp_map_keys_unique(o)) {
        snprintf(field, sizeof field, "entries[%lld]", (long long)index);
        td_rpc_reply_detail(rep, field, "Must be an object with content and created_at.");
        return false;
    }
    bool good = true;
    const msgpack_object *content = NULL, *created = NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (td_mp_str_eq(k, "content")) {
            content = &o->via.map.ptr[i].val;
        } else if (td_mp_str_eq(k, "created_at")) {
            created = &o->via.map.ptr[i].val;
        } else {
            char name[64] = "?";
            (void)td_mp_copy_str(k, name, sizeof name);
            snprintf(field, sizeof field, "entries[%lld].%s", (long long)index, name);
            td_rpc_reply_detail(rep, field, "Unknown field.");
            good = false;
        }
    }
    const char *problem = NULL;
    snprintf(field, sizeof field, "entries[%lld].content", (long long)index);
    if (content == NULL)
        problem = "Missing data for required field.";
    else if (content->type != MSGPACK_OBJECT_STR)
        problem = "Not a valid string.";
    else
        (void)diary_content_check(content->via.str.ptr, content->via.str.size, &problem);
    if (problem != NULL) {
        td_rpc_reply_detail(rep, field, problem);
        good = false;
    }
    snprintf(field, sizeof field, "entries[%lld].created_at", (long long)index);
    if (created == NULL) {
        td_rpc_reply_detail(rep, field, "Missing data for required field.");
        good = false;
    } else if (created->type != MSGPACK_OBJECT_STR ||
               td_rfc3339_parse(created->via.str.ptr, created->via.str.size,
                                &it->created_at) != 0) {
        td_rpc_reply_detail(rep, field, "Must be an RFC 3339 timestamp.");
        good = false;
    }
    if (good) {
        it->content = content->via.str.ptr;
        it->content_len = content->via.str.size;
    }
    return good;
}

static int op_import_stage(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct td_arg args[] = {
        IMPORT_ID_ARG,
        TD_ARG_INT("offset", TD_ARG_REQUIRED, 0, DIARY_IMPORT_MAX_ENTRIES - 1),
        TD_ARG_ARRAY("entries", TD_ARG_REQUIRED, 1, DIARY_IMPORT_PIECE_MAX),
    };
    char import_id[IMPORT_ID_LEN + 1];
    int rc = user_op_args(app, req, rep, args, 3);
    rc = rc ? rc : import_id_arg(rep, &args[0], import_id);
    int64_t offset = args[1].i;
    const msgpack_object *list = args[2].value;
    if (rc == 0 && offset + list->via.array.size > DIARY_IMPORT_MAX_ENTRIES)
        rc = invalid(rep, "entries", "Must end within the 10000 entries of an import.");
    if (rc != 0)
        return rc;
    size_t n = list->via.array.size;
    struct diary_import_item *items = calloc(n, sizeof *items);
    if (items == NULL)
        return TD_ENOMEM;
    bool good = true;
    for (size_t i = 0; i < n; i++)
        good = import_entry(rep, &list->via.array.ptr[i], offset + (int64_t)i, &items[i]) && good;
    for (size_t i = 0; good && rc == 0 && i < n; i++) {
        char *esc = diary_html_escape_new(items[i].content, items[i].content_len,
                                          &items[i].analyzed_len);
        if (esc == NULL)
            rc = TD_ENOMEM;
        items[i].analyzed = esc;
    }
    int64_t now = td_now_us();
    if (!good) {
        /* All or nothing: what earlier pieces staged goes now. */
        (void)diary_store_import_drop(app->store, req->worker, req->user_id, import_id);
        rc = td_rpc_reply_error(rep, TD_EINVAL, NULL);
    } else if (rc == 0) {
        rc = diary_store_import_stage(app->store, req->worker, req->user_id, import_id, offset,
                                      items, n, now, now - DIARY_IMPORT_STALE_US);
    }
    for (size_t i = 0; i < n; i++)
        free((char *)items[i].analyzed);
    free(items);
    if (rc != 0)
        return rc;
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int prc = msgpack_pack_map(pk, 1);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "staged", (int64_t)n);
    return prc == 0 ? 0 : TD_ENOMEM;
}

static int op_import_commit(void *ctx, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct diary_app *app = ctx;
    struct td_arg args[] = {IMPORT_ID_ARG,
                            TD_ARG_INT("count", TD_ARG_REQUIRED, 0, DIARY_IMPORT_MAX_ENTRIES)};
    char import_id[IMPORT_ID_LEN + 1];
    int64_t imported = 0, skipped = 0;
    int rc = user_op_args(app, req, rep, args, 2);
    rc = rc ? rc : import_id_arg(rep, &args[0], import_id);
    int64_t count = args[1].i;
    if (rc != 0)
        return rc;
    rc = diary_store_import_commit(app->store, req->worker, req->user_id, import_id, count,
                                   td_now_us(), &imported, &skipped);
    if (rc == TD_EINVAL)
        return invalid(rep, "import", "Not every piece of this import was staged.");
    if (rc != 0)
        return rc;
    TD_LOG(TD_LOG_NOTICE, "diary_imported", "user %lld: %lld entries imported, %lld skipped",
           (long long)req->user_id, (long long)imported, (long long)skipped);
    if (imported > 0)
        diary_pending_kick(app->pending); /* analysed in the background, as creates */
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int prc = msgpack_pack_map(pk, 2);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "imported", imported);
    prc = prc ? prc : td_mp_pack_kv_int(pk, "skipped", skipped);
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
    /* Reads that may walk a whole diary: on the workers, not nng's thread. */
    {TD_OP_DIARY_TIMELINE, op_timeline, false},
    {TD_OP_DIARY_PHRASES, op_phrases, false},
    {TD_OP_DIARY_EXPORT, op_export, false},
    {TD_OP_DIARY_IMPORT_STAGE, op_import_stage, false},
    {TD_OP_DIARY_IMPORT_COMMIT, op_import_commit, false},
};
const size_t diary_nroutes = sizeof diary_routes / sizeof diary_routes[0];
