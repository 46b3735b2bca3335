/*
 * cors.c — cross-origin headers for the origins in CORS_ORIGINS (gateway/docs/openapi.json
 * "Cross-origin requests and headers").
 *
 * civetweb's own preflight answers are switched off in server.c, so every
 * OPTIONS reaches gw_cors_handle. The decisions, written down here because
 * the contract is silent on them:
 * - An allowed Origin (exact, case-sensitive match of scheme://host[:port])
 *   gets its own value echoed with credentials allowed; "*" is refused in the
 *   configuration because it cannot be combined with credentials.
 * - A disallowed or absent Origin gets no Access-Control-* header at all; the
 *   request is otherwise served normally (the browser enforces the rest).
 * - Vary: Origin is on every response, allowed or not, so a shared cache
 *   never hands one origin's answer to another.
 * - OPTIONS on a known path is answered here, never routed or forwarded:
 *   204 with Allow (the path's methods plus OPTIONS), and the preflight
 *   headers when the Origin is allowed. OPTIONS on an unknown path falls
 *   through to the router's 404.
 */
#include "edge.h"
#include "td_config.h"
#include "router.h"
#include "td_error.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ORIGINS 32
#define MAX_ORIGIN_LEN 256
#define PREFLIGHT_MAX_AGE 600 /* seconds; browsers cap it (Chromium: 7200) */

struct gw_cors {
    char origins[MAX_ORIGINS][MAX_ORIGIN_LEN];
    size_t n;
};

/* scheme://host[:port], nothing after: what a browser sends as Origin. */
static bool origin_is_valid(const char *s, size_t len)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 2 < len; i++) {
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            sep = s + i;
            break;
        }
    }
    if (sep == NULL || sep == s)
        return false;
    const char *host = sep + 3;
    size_t hlen = len - (size_t)(host - s);
    if (hlen == 0)
        return false;
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
            return false;
    }
    return true;
}

int gw_cors_new(const struct gw_config *cfg, struct gw_cors **out)
{
    struct gw_cors *c = calloc(1, sizeof *c);
    if (c == NULL)
        return TD_ENOMEM;
    const char *cursor = cfg->cors_origins, *item;
    size_t len;
    while (td_list_next(&cursor, &item, &len)) {
        const char *why = NULL;
        if (len == 1 && item[0] == '*')
            why = "'*' cannot be used with credentials; list the origins";
        else if (len >= MAX_ORIGIN_LEN || !origin_is_valid(item, len))
            why = "not an origin like https://app.example.com";
        else if (c->n == MAX_ORIGINS)
            why = "too many origins";
        if (why != NULL) {
            fprintf(stderr, "td-gateway: configuration error: CORS_ORIGINS: '%.*s': %s\n",
                    (int)(len > 300 ? 300 : len), item, why);
            free(c);
            return TD_ECONFIG;
        }
        memcpy(c->origins[c->n], item, len);
        c->origins[c->n][len] = '\0';
        c->n++;
    }
    *out = c;
    return 0;
}

void gw_cors_free(struct gw_cors **c)
{
    free(*c);
    *c = NULL;
}

static bool origin_allowed(const struct gw_cors *c, const struct gw_request *req,
                           const char **origin)
{
    /* Two Origin headers are not something a browser sends: trust neither. */
    if (c == NULL || gw_header_count(req, "Origin") != 1)
        return false;
    const char *o = gw_header(req, "Origin");
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->origins[i], o) == 0) {
            *origin = o;
            return true;
        }
    }
    return false;
}

bool gw_cors_handle(struct gw_request *req)
{
    const char *origin = NULL;
    bool allowed = origin_allowed(req->app->cors, req, &origin);
    gw_add_header(req, "Vary", "Origin");
    if (allowed) {
        gw_add_header(req, "Access-Control-Allow-Origin", "%s", origin);
        gw_add_header(req, "Access-Control-Allow-Credentials", "true");
        gw_add_header(req, "Access-Control-Expose-Headers",
                      "Content-Type, Authorization, X-Request-ID, X-RateLimit-Limit, "
                      "X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After");
    }
    if (strcmp(req->ri->request_method, "OPTIONS") != 0)
        return false;

    char allow[128];
    const struct gw_route *route = NULL;
    int64_t id = 0;
    if (gw_router_match("OPTIONS", req->path, &route, &id, allow, sizeof allow) ==
        GW_MATCH_NO_PATH)
        return false; /* the router answers 404 */
    req->path_route = gw_router_path_route(req->path); /* counted under its route */
    gw_add_header(req, "Allow", "%s, OPTIONS", allow);
    if (allowed) {
        gw_add_header(req, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
        gw_add_header(req, "Access-Control-Allow-Headers", "Content-Type, Authorization");
        gw_add_header(req, "Access-Control-Max-Age", "%d", PREFLIGHT_MAX_AGE);
    }
    gw_respond_raw(req, 204, NULL, NULL, 0);
    return true;
}
