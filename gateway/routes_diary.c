/*
 * routes_diary.c — the /diaries routes of the HTTP contract
 * (gateway/docs/openapi.json), forwarded to td-diary.
 *
 * Every route needs an access token and answers with Cache-Control:
 * no-store. The gateway checks what only it can see (the query string, the
 * path id, the JSON body's shape); td-diary checks the arguments themselves
 * (content rules, unknown fields) and ownership.
 */
#include "routes_diary.h"
#include "forward.h"
#include "router.h"
#include "td_error.h"
#include "td_json_mp.h"
#include "td_log.h"
#include "td_rpc.h"
#include "td_time.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads one parameter value. Returns 0, or a message for the client. */
static const char *parse_value(const char *v, size_t len, int64_t cap, bool saturate,
                               int64_t *out)
{
    if (len == 0)
        return "Must be a positive integer.";
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return "Must be a positive integer.";
    }
    if (v[0] == '0')
        return "Must be a positive integer.";
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (n > ((uint64_t)cap - (uint64_t)(v[i] - '0')) / 10) {
            if (!saturate)
                return "Is too large.";
            n = (uint64_t)cap;
            break;
        }
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    *out = (int64_t)n > cap ? cap : (int64_t)n;
    return NULL;
}

static void add_detail(json_t **details, const char *field, const char *message)
{
    if (*details == NULL)
        *details = json_object();
    if (*details != NULL && json_object_get(*details, field) == NULL)
        json_object_set_new(*details, field, json_pack("[s]", message));
}

int gw_diary_parse_paging(const char *query, int64_t *page, int64_t *per_page, json_t **details)
{
    int64_t pg = 1, pp = GW_DIARY_PER_PAGE_DEFAULT;
    bool seen_page = false, seen_per_page = false;
    json_t *bad = NULL;
    const char *p = query ? query : "";
    while (*p) {
        size_t plen = strcspn(p, "&");
        size_t nlen = strcspn(p, "=&");
        const char *value = nlen < plen ? p + nlen + 1 : p + plen;
        size_t vlen = nlen < plen ? plen - nlen - 1 : 0;
        bool is_page = nlen == 4 && strncmp(p, "page", 4) == 0;
        bool is_per_page = nlen == 8 && strncmp(p, "per_page", 8) == 0;
        if (is_page || is_per_page) {
            bool *seen = is_page ? &seen_page : &seen_per_page;
            const char *field = is_page ? "page" : "per_page";
            const char *problem =
                *seen ? "Specified more than once."
                      : parse_value(value, vlen, is_page ? INT64_MAX : GW_DIARY_PER_PAGE_MAX,
                                    !is_page, is_page ? &pg : &pp);
            if (problem != NULL)
                add_detail(&bad, field, problem);
            *seen = true;
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    if (bad != NULL) {
        *details = bad;
        return TD_EINVAL;
    }
    *page = pg;
    *per_page = pp;
    return 0;
}

static int respond_nomem(struct gw_request *req);

#define QUERY_VALUE_MAX 1024

int gw_diary_query_strings(const char *query, const char *const *names, size_t n, json_t *args,
                           json_t **details)
{
    json_t *bad = NULL;
    const char *p = query ? query : "";
    char name[64], value[QUERY_VALUE_MAX + 1];
    while (*p) {
        size_t plen = strcspn(p, "&");
        size_t nlen = strcspn(p, "=&");
        const char *v = nlen < plen ? p + nlen + 1 : p + plen;
        size_t vlen = nlen < plen ? plen - nlen - 1 : 0;
        int got = nlen < sizeof name ? mg_url_decode(p, (int)nlen, name, (int)sizeof name, 1) : -1;
        size_t k = n;
        if (got >= 0 && (size_t)got == strlen(name)) {
            for (k = 0; k < n && strcmp(names[k], name) != 0; k++)
                ;
        }
        if (k < n) {
            int vl = vlen <= 3 * QUERY_VALUE_MAX
                         ? mg_url_decode(v, (int)vlen, value, (int)sizeof value, 1)
                         : -1;
            json_t *str = vl >= 0 ? json_stringn(value, (size_t)vl) : NULL;
            if (json_object_get(args, names[k]) != NULL)
                add_detail(&bad, names[k], "Specified more than once.");
            else if (vl < 0)
                add_detail(&bad, names[k], "Is too long.");
            else if (str == NULL)
                add_detail(&bad, names[k], "Must be valid UTF-8.");
            else if (json_object_set(args, names[k], str) != 0) {
                json_decref(str);
                json_decref(bad);
                return TD_ENOMEM;
            }
            json_decref(str);
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    if (bad != NULL) {
        *details = bad;
        return TD_EINVAL;
    }
    return 0;
}

/* Merges the details of two parsers into *into (consuming `more`). */
static void merge_details(json_t **into, json_t *more)
{
    if (more == NULL)
        return;
    if (*into == NULL) {
        *into = more;
        return;
    }
    json_object_update_missing(*into, more);
    json_decref(more);
}

/* The filter parameters of a route into a new args object, or an answered
 * 400 (NULL returned; *answered set). */
static json_t *query_args(struct gw_request *req, const char *const *names, size_t n,
                          json_t *extra_details)
{
    json_t *args = json_object(), *details = NULL;
    if (args == NULL) {
        json_decref(extra_details);
        respond_nomem(req);
        return NULL;
    }
    int rc = gw_diary_query_strings(req->ri->query_string, names, n, args, &details);
    merge_details(&details, extra_details);
    if (rc == TD_ENOMEM || details != NULL) {
        json_decref(args);
        if (rc == TD_ENOMEM && details == NULL)
            respond_nomem(req);
        else
            gw_respond_error(req, TD_EINVAL, NULL, details);
        return NULL;
    }
    return args;
}

static const char *const filter_names[] = {"q", "from", "to", "tone", "tz"};
static const char *const range_names[] = {"from", "to", "tz"};

static int respond_nomem(struct gw_request *req)
{
    return gw_respond_error(req, TD_ENOMEM, NULL, NULL);
}

/* Forwards `args` (consumed; NULL when building them failed) to op. */
static int forward_take(struct gw_request *req, enum td_op op, json_t *args)
{
    if (args == NULL)
        return respond_nomem(req);
    int status = gw_forward(req, req->app->diary, op, args, 0);
    json_decref(args);
    return status;
}

static int list(struct gw_request *req)
{
    int64_t page = 1, per_page = GW_DIARY_PER_PAGE_DEFAULT;
    json_t *details = NULL;
    (void)gw_diary_parse_paging(req->ri->query_string, &page, &per_page, &details);
    json_t *args = query_args(req, filter_names, 5, details);
    if (args == NULL)
        return req->status;
    if (json_object_set_new(args, "page", json_integer((json_int_t)page)) != 0 ||
        json_object_set_new(args, "per_page", json_integer((json_int_t)per_page)) != 0) {
        json_decref(args);
        return respond_nomem(req);
    }
    return forward_take(req, TD_OP_DIARY_LIST, args);
}

static int timeline(struct gw_request *req)
{
    static const char *const names[] = {"bucket", "from", "to", "tz"};
    json_t *args = query_args(req, names, 4, NULL);
    return args ? forward_take(req, TD_OP_DIARY_TIMELINE, args) : req->status;
}

static int phrases(struct gw_request *req)
{
    static const char *const names[] = {"limit", "from", "to", "tz"};
    json_t *args = query_args(req, names, 4, NULL);
    return args ? forward_take(req, TD_OP_DIARY_PHRASES, args) : req->status;
}

/* ---- export ---------------------------------------------------------------
 *
 * GET /diaries/export streams: the user's email (auth.me) and the first page
 * of entries (diary.export) are fetched before the first byte, so anything
 * wrong until then is an ordinary JSON error; then the headers go out with
 * chunked encoding and each page is written as it arrives, oldest first,
 * each next page asked for after the last entry sent (a keyset, so entries
 * written meanwhile neither repeat nor shift the pages). One page at a time
 * is all the gateway holds. If td-diary fails after the headers went out,
 * the stream is abandoned without its terminating chunk and the connection
 * closed (gw_stream_abort): a client sees a truncated download, never a
 * complete-looking one. */

struct export_out {
    struct gw_request *req;
    bool markdown;
    int64_t count;
};

static int out_str(struct export_out *o, const char *s, size_t len)
{
    return gw_stream_write(o->req, s, len);
}

static int out_cstr(struct export_out *o, const char *s)
{
    return out_str(o, s, strlen(s));
}

/* Writes one page's entries; 0 or -1. */
static int export_page(struct export_out *o, json_t *page)
{
    json_t *items = json_object_get(page, "items"), *local = json_object_get(page, "local");
    size_t i;
    json_t *e;
    json_array_foreach(items, i, e)
    {
        int rc = 0;
        if (!o->markdown) {
            char *text = json_dumps(e, JSON_COMPACT);
            if (text == NULL)
                return -1;
            rc = out_cstr(o, o->count > 0 ? "," : "");
            rc = rc ? rc : out_cstr(o, text);
            free(text);
        } else {
            const char *when = json_string_value(json_array_get(local, i));
            const char *content = json_string_value(json_object_get(e, "content"));
            char counts[96];
            snprintf(counts, sizeof counts, "\n\nPositive: %lld · Negative: %lld\n\n",
                     (long long)json_integer_value(json_object_get(e, "positive_count")),
                     (long long)json_integer_value(json_object_get(e, "negative_count")));
            rc = out_cstr(o, "## ");
            rc = rc ? rc : out_cstr(o, when ? when : "");
            rc = rc ? rc : out_cstr(o, "\n\n");
            rc = rc ? rc : out_cstr(o, content ? content : "");
            rc = rc ? rc : out_cstr(o, counts);
        }
        if (rc != 0)
            return -1;
        o->count++;
    }
    return 0;
}

static int export_(struct gw_request *req)
{
    static const char *const names[] = {"q", "from", "to", "tone", "tz", "format"};
    json_t *args = query_args(req, names, 6, NULL);
    if (args == NULL)
        return req->status;
    /* The format is the gateway's to judge: it writes the document. */
    const char *format = json_string_value(json_object_get(args, "format"));
    bool markdown = format != NULL && strcmp(format, "markdown") == 0;
    if (format != NULL && !markdown && strcmp(format, "json") != 0) {
        json_decref(args);
        return gw_respond_error(req, TD_EINVAL, NULL,
                                json_pack("{s:[s]}", "format", "Must be json or markdown."));
    }
    json_object_del(args, "format");

    json_t *me = NULL, *page = NULL;
    int status = 0;
    if (gw_call(req, req->app->auth, TD_OP_AUTH_ME, NULL, &me, &status) != 0 ||
        gw_call(req, req->app->diary, TD_OP_DIARY_EXPORT, args, &page, &status) != 0) {
        json_decref(me);
        json_decref(args);
        return req->status;
    }
    char exported_at[TD_TIMESTAMP_LEN + 1] = "";
    (void)td_format_timestamp(td_now_us(), exported_at, sizeof exported_at);
    gw_add_header(req, "Content-Disposition", "attachment; filename=\"thought-diary-%.10s.%s\"",
                  exported_at, markdown ? "md" : "json");
    gw_stream_start(req, 200, markdown ? "text/markdown; charset=utf-8" : "application/json");

    struct export_out o = {req, markdown, 0};
    const char *email = json_string_value(json_object_get(me, "email"));
    int rc = 0;
    if (markdown) {
        rc = out_cstr(&o, "# Thought Diary — ");
        rc = rc ? rc : out_cstr(&o, email ? email : "");
        rc = rc ? rc : out_cstr(&o, "\n\n");
    } else {
        json_t *head = json_pack("{s:s, s:i, s:s, s:{s:O, s:s}}", "format", "thought-diary",
                                 "version", 1, "exported_at", exported_at, "user", "id",
                                 json_object_get(me, "id"), "email", email ? email : "");
        char *text = head ? json_dumps(head, JSON_COMPACT) : NULL;
        json_decref(head);
        /* The header object without its closing brace, then the entries. */
        rc = text == NULL ? -1 : out_str(&o, text, strlen(text) - 1);
        rc = rc ? rc : out_cstr(&o, ",\"entries\":[");
        free(text);
    }
    for (;;) {
        rc = rc ? rc : export_page(&o, page);
        json_t *next = json_object_get(page, "next");
        if (rc != 0 || !json_is_array(next))
            break;
        if (json_object_set(args, "after", next) != 0) {
            rc = -1;
            break;
        }
        json_decref(page);
        page = NULL;
        rc = gw_call_quiet(req, req->app->diary, TD_OP_DIARY_EXPORT, args, &page);
        if (rc != 0)
            TD_LOG(TD_LOG_ERR, "gw_export_cut", "td-diary failed after %lld entries: %s",
                   (long long)o.count, td_error_symbol(rc));
    }
    if (rc == 0 && !markdown)
        rc = out_cstr(&o, "]}");
    rc = rc ? rc : gw_stream_end(req);
    if (rc != 0)
        gw_stream_abort(req);
    json_decref(page);
    json_decref(me);
    json_decref(args);
    return req->status;
}

/* ---- import ---------------------------------------------------------------
 *
 * POST /diaries/import (body up to GW_IMPORT_MAX_BODY). The gateway owns the
 * file's shape, because it must cut the file into pieces under the RPC
 * request cap: the top-level keys of an export, `entries` a list of at most
 * GW_IMPORT_MAX_ENTRIES objects whose keys are an exported entry's. Of each
 * entry only content and created_at travel; td-diary judges them
 * (diary.import_stage, named entries[i].field) and stages the pieces under
 * one import id, and diary.import_commit moves them into the diary in one
 * transaction, so one bad entry anywhere imports nothing. */

#define GW_IMPORT_MAX_ENTRIES 10000
#define GW_IMPORT_PIECE_ENTRIES 1000
/* Bytes of packed entries per piece: far under TD_PROTO_MAX_REQUEST (1 MiB)
 * with the envelope; a valid entry packs to at most ~40 KB. */
#define GW_IMPORT_PIECE_BYTES (512u << 10)
/* An entry packing to more cannot be valid (10,000 code points of content
 * are at most 40,000 bytes): refused here, before it could break the cap. */
#define GW_IMPORT_ENTRY_BYTES (64u << 10)

static bool is_one_of(const char *key, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

/* The file's shape; adds to *details. */
static void import_shape(json_t *body, json_t **details)
{
    static const char *const top[] = {"format", "version", "exported_at", "user", "entries"};
    static const char *const entry_keys[] = {"id", "user_id", "content", "analyzed_content",
                                             "positive_count", "negative_count", "created_at",
                                             "updated_at"};
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (!is_one_of(key, top, 5))
            add_detail(details, key, "Unknown field.");
    }
    json_t *format = json_object_get(body, "format"), *version = json_object_get(body, "version");
    if (format != NULL && !(json_is_string(format) &&
                            strcmp(json_string_value(format), "thought-diary") == 0))
        add_detail(details, "format", "Must be \"thought-diary\".");
    if (version != NULL && !(json_is_integer(version) && json_integer_value(version) == 1))
        add_detail(details, "version", "Must be 1.");
    json_t *entries = json_object_get(body, "entries");
    if (entries == NULL) {
        add_detail(details, "entries", "Missing data for required field.");
        return;
    }
    if (!json_is_array(entries) || json_array_size(entries) > GW_IMPORT_MAX_ENTRIES) {
        add_detail(details, "entries", "Must be a list of at most 10000 entries.");
        return;
    }
    size_t i;
    json_array_foreach(entries, i, v)
    {
        char field[96];
        if (!json_is_object(v)) {
            snprintf(field, sizeof field, "entries[%zu]", i);
            add_detail(details, field, "Must be an object.");
            continue;
        }
        json_t *fv;
        json_object_foreach(v, key, fv)
        {
            if (!is_one_of(key, entry_keys, 8)) {
                snprintf(field, sizeof field, "entries[%zu].%.64s", i, key);
                add_detail(details, field, "Unknown field.");
            }
        }
        if (*details != NULL && json_object_size(*details) >= 16)
            return; /* enough to tell the client */
    }
}

/* Stages one piece; answers and returns non-zero on failure. */
static int import_piece(struct gw_request *req, const char *import_id, size_t offset,
                        json_t *piece)
{
    json_t *args = json_pack("{s:s, s:I, s:O}", "import", import_id, "offset",
                             (json_int_t)offset, "entries", piece);
    if (args == NULL)
        return respond_nomem(req);
    json_t *result = NULL;
    int status = 0;
    int rc = gw_call(req, req->app->diary, TD_OP_DIARY_IMPORT_STAGE, args, &result, &status);
    json_decref(result);
    json_decref(args);
    return rc;
}

static int import_(struct gw_request *req)
{
    json_t *details = NULL;
    import_shape(req->body, &details);
    if (details != NULL)
        return gw_respond_error(req, TD_EINVAL, NULL, details);
    json_t *entries = json_object_get(req->body, "entries");
    char import_id[33];
    td_rpc_new_id(import_id);
    json_t *piece = json_array();
    size_t piece_start = 0, piece_bytes = 0, i;
    json_t *e;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = piece ? 0 : TD_ENOMEM;
    json_array_foreach(entries, i, e)
    {
        if (rc != 0)
            break;
        json_t *slim = json_object();
        json_t *content = json_object_get(e, "content"), *created = json_object_get(e, "created_at");
        if (slim == NULL || (content && json_object_set(slim, "content", content) != 0) ||
            (created && json_object_set(slim, "created_at", created) != 0)) {
            json_decref(slim);
            rc = TD_ENOMEM;
            break;
        }
        msgpack_packer pk;
        msgpack_sbuffer_clear(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        rc = td_json_to_mp(slim, &pk);
        if (rc == 0 && sb.size > GW_IMPORT_ENTRY_BYTES) {
            json_decref(slim);
            char field[48];
            snprintf(field, sizeof field, "entries[%zu].content", i);
            msgpack_sbuffer_destroy(&sb);
            json_decref(piece);
            return gw_respond_error(
                req, TD_EINVAL, NULL,
                json_pack("{s:[s]}", field, "Length must be between 1 and 10000 characters."));
        }
        if (rc == 0 && json_array_size(piece) > 0 &&
            (piece_bytes + sb.size > GW_IMPORT_PIECE_BYTES ||
             json_array_size(piece) == GW_IMPORT_PIECE_ENTRIES)) {
            if (import_piece(req, import_id, piece_start, piece) != 0) {
                json_decref(slim);
                msgpack_sbuffer_destroy(&sb);
                json_decref(piece);
                return req->status;
            }
            json_array_clear(piece);
            piece_start = i;
            piece_bytes = 0;
        }
        piece_bytes += sb.size;
        if (rc == 0 && json_array_append_new(piece, slim) != 0)
            rc = TD_ENOMEM;
        else if (rc != 0)
            json_decref(slim);
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc == 0 && json_array_size(piece) > 0 &&
        import_piece(req, import_id, piece_start, piece) != 0) {
        json_decref(piece);
        return req->status;
    }
    json_decref(piece);
    if (rc != 0)
        return gw_respond_error(req, rc == TD_ENOMEM ? TD_ENOMEM : TD_EINVAL, NULL, NULL);
    return forward_take(req, TD_OP_DIARY_IMPORT_COMMIT,
                        json_pack("{s:s, s:I}", "import", import_id, "count",
                                  (json_int_t)json_array_size(entries)));
}

static int create(struct gw_request *req)
{
    return gw_forward(req, req->app->diary, TD_OP_DIARY_CREATE, req->body, 0);
}

static int stats(struct gw_request *req)
{
    json_t *args = query_args(req, range_names, 3, NULL);
    return args ? forward_take(req, TD_OP_DIARY_STATS, args) : req->status;
}

static int get_one(struct gw_request *req)
{
    return forward_take(req, TD_OP_DIARY_GET, json_pack("{s:I}", "id", (json_int_t)req->path_id));
}

static int update(struct gw_request *req)
{
    json_t *args = gw_args_with(req, "id", json_integer((json_int_t)req->path_id));
    if (args == NULL)
        return req->status; /* gw_args_with answered */
    return forward_take(req, TD_OP_DIARY_UPDATE, args);
}

static int delete_one(struct gw_request *req)
{
    return forward_take(req, TD_OP_DIARY_DELETE,
                        json_pack("{s:I}", "id", (json_int_t)req->path_id));
}

/* The literal /diaries/stats comes before /diaries/{id} (which could not
 * match it anyway: {id} takes digits only). */
const struct gw_route gw_routes_diary[] = {
    {"GET", "/diaries", list, GW_AUTH_ACCESS, GW_ROUTE_NO_STORE},
    {"POST", "/diaries", create, GW_AUTH_ACCESS, GW_ROUTE_JSON_BODY | GW_ROUTE_NO_STORE},
    {"GET", "/diaries/stats", stats, GW_AUTH_ACCESS, GW_ROUTE_NO_STORE},
    {"GET", "/diaries/stats/timeline", timeline, GW_AUTH_ACCESS, GW_ROUTE_NO_STORE},
    {"GET", "/diaries/stats/phrases", phrases, GW_AUTH_ACCESS, GW_ROUTE_NO_STORE},
    {"GET", "/diaries/export", export_, GW_AUTH_ACCESS, GW_ROUTE_NO_STORE},
    {"POST", "/diaries/import", import_, GW_AUTH_ACCESS,
     GW_ROUTE_JSON_BODY | GW_ROUTE_NO_STORE | GW_ROUTE_LARGE_BODY},
    {"GET", "/diaries/{id}", get_one, GW_AUTH_ACCESS, GW_ROUTE_NO_STORE},
    {"PUT", "/diaries/{id}", update, GW_AUTH_ACCESS, GW_ROUTE_JSON_BODY | GW_ROUTE_NO_STORE},
    {"DELETE", "/diaries/{id}", delete_one, GW_AUTH_ACCESS, GW_ROUTE_NO_STORE},
    {NULL, NULL, NULL, GW_AUTH_NONE, 0},
};
