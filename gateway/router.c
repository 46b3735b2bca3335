/*
 * router.c — matching raw paths against the route tables of routes_*.c.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

static const struct gw_route *const tables[] = {gw_routes_system, gw_routes_auth,
                                                 gw_routes_diary, gw_routes_static};

int64_t gw_parse_id(const char *s, size_t len)
{
    if (len == 0 || len > 19 || s[0] < '1' || s[0] > '9')
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v > INT64_MAX ? 0 : (int64_t)v;
}

/* Matches one pattern against the whole path; sets *id for an {id} segment. */
static bool pattern_matches(const struct gw_route *r, const char *path, int64_t *id)
{
    const char *p = r->pattern, *s = path;
    *id = 0;
    while (*p && *s) {
        if (strncmp(p, "{id}", 4) == 0) {
            size_t n = strcspn(s, "/");
            int64_t v = gw_parse_id(s, n);
            if (v == 0)
                return false;
            *id = v;
            p += 4;
            s += n;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    if (*p != '\0')
        return false;
    if (*s == '\0')
        return true;
    return (r->flags & GW_ROUTE_PREFIX) && (p[-1] == '/' || *s == '/');
}

enum gw_match gw_router_match(const char *method, const char *path,
                              const struct gw_route **route, int64_t *id, char *allow,
                              size_t allow_size)
{
    bool path_known = false;
    size_t used = 0;
    if (allow_size)
        allow[0] = '\0';
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        for (const struct gw_route *r = tables[t]; r->method; r++) {
            int64_t v;
            if (!pattern_matches(r, path, &v))
                continue;
            if (strcmp(r->method, want) == 0) {
                *route = r;
                *id = v;
                return GW_MATCH_OK;
            }
            path_known = true;
            if (strstr(allow, r->method) == NULL && used < allow_size) {
                int n = snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "",
                                 r->method);
                if (n > 0)
                    used += (size_t)n;
            }
        }
    }
    return path_known ? GW_MATCH_NO_METHOD : GW_MATCH_NO_PATH;
}

const struct gw_route *gw_router_path_route(const char *path)
{
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        for (const struct gw_route *r = tables[t]; r->method; r++) {
            int64_t v;
            if (pattern_matches(r, path, &v))
                return r;
        }
    }
    return NULL;
}

void gw_router_each(void (*fn)(const struct gw_route *route, void *arg), void *arg)
{
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        for (const struct gw_route *r = tables[t]; r->method; r++)
            fn(r, arg);
    }
}
