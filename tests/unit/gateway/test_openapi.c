/*
 * test_openapi.c — gateway/docs/openapi.json and the route tables agree:
 * every route the gateway serves (gw_router_each, at run time) is documented
 * with its method, and every documented operation is served. A prefix route
 * ("/docs/") is documented as its pattern plus one path parameter. The web
 * app's routes (GW_ROUTE_APP: "/" and "/app/") are not API and not counted.
 */
#include "router.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static json_t *doc;

static void setup(void)
{
    json_error_t err;
    doc = json_load_file(TD_SOURCE_DIR "/gateway/docs/openapi.json", JSON_REJECT_DUPLICATES, &err);
    cr_assert_not_null(doc, "openapi.json: line %d: %s", err.line, err.text);
}
static void teardown(void)
{
    json_decref(doc);
}
TestSuite(openapi, .init = setup, .fini = teardown);

static void lower(const char *in, char *out, size_t size)
{
    size_t i = 0;
    for (; in[i] && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

/* The document's path for a route: prefix routes take one {param}. */
static json_t *doc_path(const struct gw_route *r)
{
    json_t *paths = json_object_get(doc, "paths");
    if (!(r->flags & GW_ROUTE_PREFIX))
        return json_object_get(paths, r->pattern);
    const char *key;
    json_t *val;
    size_t n = strlen(r->pattern);
    json_object_foreach(paths, key, val) {
        if (strncmp(key, r->pattern, n) == 0 && key[n] == '{' && strchr(key + n, '/') == NULL)
            return val;
    }
    return NULL;
}

struct check {
    int missing;
    int routes;
};

static void route_is_documented(const struct gw_route *r, void *arg)
{
    struct check *c = arg;
    if (r->flags & GW_ROUTE_APP) /* the web app's files are not API */
        return;
    char method[16];
    lower(r->method, method, sizeof method);
    json_t *op = json_object_get(doc_path(r), method);
    c->routes++;
    if (op == NULL) {
        c->missing++;
        cr_log_error("route %s %s is not in openapi.json", r->method, r->pattern);
        return;
    }
    cr_expect(json_is_string(json_object_get(op, "operationId")), "%s %s: no operationId",
              r->method, r->pattern);
    cr_expect(json_is_object(json_object_get(op, "responses")), "%s %s: no responses",
              r->method, r->pattern);
}

Test(openapi, every_served_route_is_documented)
{
    struct check c = {0, 0};
    gw_router_each(route_is_documented, &c);
    cr_assert_gt(c.routes, 0);
    cr_assert_eq(c.missing, 0, "%d of %d routes undocumented", c.missing, c.routes);
}

struct find {
    const char *path;
    const char *method;
    bool found;
};

static void find_route(const struct gw_route *r, void *arg)
{
    struct find *f = arg;
    if (strcasecmp(r->method, f->method) != 0)
        return;
    if (strcmp(r->pattern, f->path) == 0)
        f->found = true;
    size_t n = strlen(r->pattern);
    if ((r->flags & GW_ROUTE_PREFIX) && strncmp(f->path, r->pattern, n) == 0 &&
        f->path[n] == '{')
        f->found = true;
}

Test(openapi, every_documented_operation_is_served)
{
    static const char *const methods[] = {"get", "put", "post", "delete", "patch", "head",
                                          "options", "trace"};
    const char *path;
    json_t *item;
    int missing = 0, ops = 0;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
            if (json_object_get(item, methods[i]) == NULL)
                continue;
            ops++;
            struct find f = {path, methods[i], false};
            gw_router_each(find_route, &f);
            if (!f.found) {
                missing++;
                cr_log_error("openapi.json documents %s %s, which the gateway does not serve",
                             methods[i], path);
            }
        }
    }
    cr_assert_gt(ops, 0);
    cr_assert_eq(missing, 0, "%d of %d documented operations are not routed", missing, ops);
}

Test(openapi, every_reference_resolves)
{
    /* A JSON walk over every "$ref": each must name an existing component. */
    json_t *stack[4096];
    size_t top = 0;
    stack[top++] = doc;
    int refs = 0;
    while (top > 0) {
        json_t *v = stack[--top];
        if (json_is_object(v)) {
            const char *k;
            json_t *child;
            json_object_foreach(v, k, child) {
                if (strcmp(k, "$ref") == 0 && json_is_string(child)) {
                    refs++;
                    char kind[64], name[128];
                    cr_assert_eq(sscanf(json_string_value(child), "#/components/%63[^/]/%127s",
                                        kind, name),
                                 2, "odd $ref %s", json_string_value(child));
                    json_t *target =
                        json_object_get(json_object_get(json_object_get(doc, "components"), kind),
                                        name);
                    cr_expect_not_null(target, "$ref %s resolves to nothing",
                                       json_string_value(child));
                } else if (top < 4096) {
                    stack[top++] = child;
                }
            }
        } else if (json_is_array(v)) {
            size_t i;
            json_t *child;
            json_array_foreach(v, i, child) {
                if (top < 4096)
                    stack[top++] = child;
            }
        }
    }
    cr_assert_gt(refs, 10);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
}
