/*
 * router.h — the route table: method + path pattern -> handler.
 *
 * Paths are matched raw (civetweb runs with decode_url=no), whole (no prefix
 * matches), segment by segment. A `{id}` segment matches only a positive
 * decimal id without leading zeros that fits int64 ([1-9][0-9]{0,18}), so
 * "abc", "0", "-1", "1.5", "%00" tricks and 20-digit numbers are 404 before
 * any handler runs.
 */
#ifndef GW_ROUTER_H
#define GW_ROUTER_H

#include "app.h"

#include <stddef.h>
#include <stdint.h>

enum gw_auth { GW_AUTH_NONE = 0, GW_AUTH_ACCESS, GW_AUTH_REFRESH };

#define GW_ROUTE_JSON_BODY 0x01u     /* requires a JSON object body */
#define GW_ROUTE_OPTIONAL_BODY 0x02u /* takes a JSON object body when one is sent */
#define GW_ROUTE_NO_STORE 0x04u      /* Cache-Control: no-store (auth and diary) */
#define GW_ROUTE_HTML 0x08u          /* serves the docs/web app: the wider CSP */
#define GW_ROUTE_LIMIT_REGISTER 0x10u /* rate limited: RATELIMIT_REGISTER */
#define GW_ROUTE_LIMIT_LOGIN 0x20u   /* rate limited: RATELIMIT_LOGIN */
#define GW_ROUTE_PREFIX 0x40u        /* pattern matches itself and anything below it */
#define GW_ROUTE_APP 0x80u           /* the web app's files: its own strict CSP; not API */
#define GW_ROUTE_LARGE_BODY 0x100u   /* body limit GW_IMPORT_MAX_BODY, not GATEWAY_MAX_BODY */

/* POST /diaries/import's own body limit (gateway/docs/openapi.json): 16 MiB. */
#define GW_IMPORT_MAX_BODY (16LL << 20)

/* A handler sends exactly one response and returns its status. */
typedef int (*gw_handler_fn)(struct gw_request *req);

struct gw_route {
    const char *method;
    const char *pattern; /* "/diaries/{id}"; also the route's name in metrics */
    gw_handler_fn fn;
    enum gw_auth auth;
    unsigned flags;
};

/* Route tables of each area (routes_*.c), terminated by a {NULL} row. */
extern const struct gw_route gw_routes_system[];
extern const struct gw_route gw_routes_auth[];
extern const struct gw_route gw_routes_diary[];
extern const struct gw_route gw_routes_static[]; /* the web app, not in openapi.json */

enum gw_match { GW_MATCH_OK, GW_MATCH_NO_PATH, GW_MATCH_NO_METHOD };

/* Finds the route for method + raw path. On GW_MATCH_OK sets *route and *id
 * (0 when the pattern has no {id}); on GW_MATCH_NO_METHOD writes the allowed
 * methods ("GET, POST") into allow. HEAD matches GET routes. */
enum gw_match gw_router_match(const char *method, const char *path,
                              const struct gw_route **route, int64_t *id, char *allow,
                              size_t allow_size);

/* The first route whose pattern matches the raw path, whatever its method,
 * or NULL. For naming a known path that was not served (405, a CORS
 * preflight) in metrics and the access log: never to be served. */
const struct gw_route *gw_router_path_route(const char *path);

/* Calls fn for every route in every table (for the OpenAPI cross-check). */
void gw_router_each(void (*fn)(const struct gw_route *route, void *arg), void *arg);

/* Parses a path id strictly; 0 when `s[0..len)` is not one. */
int64_t gw_parse_id(const char *s, size_t len);

#endif
