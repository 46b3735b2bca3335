/*
 * routes_diary.c — the /diaries routes of API.md, forwarded to td-diary.
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
    int64_t page, per_page;
    json_t *details = NULL;
    if (gw_diary_parse_paging(req->ri->query_string, &page, &per_page, &details) != 0)
        return gw_respond_error(req, TD_EINVAL, NULL, details);
    return forward_take(req, TD_OP_DIARY_LIST,
                        json_pack("{s:I, s:I}", "page", (json_int_t)page, "per_page",
                                  (json_int_t)per_page));
}

static int create(struct gw_request *req)
{
    return gw_forward(req, req->app->diary, TD_OP_DIARY_CREATE, req->body, 0);
}

static int stats(struct gw_request *req)
{
    return gw_forward(req, req->app->diary, TD_OP_DIARY_STATS, NULL, 0);
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
    {"GET", "/diaries/{id}", get_one, GW_AUTH_ACCESS, GW_ROUTE_NO_STORE},
    {"PUT", "/diaries/{id}", update, GW_AUTH_ACCESS, GW_ROUTE_JSON_BODY | GW_ROUTE_NO_STORE},
    {"DELETE", "/diaries/{id}", delete_one, GW_AUTH_ACCESS, GW_ROUTE_NO_STORE},
    {NULL, NULL, NULL, GW_AUTH_NONE, 0},
};
