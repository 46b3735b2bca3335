/*
 * test_openapi.c — gateway/docs/openapi.json and the route tables agree:
 * every route the gateway serves (gw_router_each, at run time) is documented
 * with its method, and every documented operation is served. A prefix route
 * ("/docs/") is documented as its pattern plus one path parameter. The web
 * app's routes (GW_ROUTE_APP: "/" and "/app/") are not API and not counted.
 * What the gateway answers on every known path besides its routes is
 * documented too: OPTIONS (the CORS preflight of cors.c) and 405 with Allow
 * for any other method. Every component is used.
 */
#include "gateway/router.h"

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
    /* OPTIONS on any path a route serves is the CORS preflight (cors.c). */
    if (strcasecmp(r->method, f->method) != 0 && strcmp(f->method, "options") != 0)
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

/* The object a {"$ref": "#/components/<kind>/<name>"} names, or `v` itself. */
static json_t *deref(json_t *v)
{
    const char *ref = json_string_value(json_object_get(v, "$ref"));
    char kind[64], name[128];
    if (ref == NULL || sscanf(ref, "#/components/%63[^/]/%127s", kind, name) != 2)
        return v;
    return json_object_get(json_object_get(json_object_get(doc, "components"), kind), name);
}

Test(openapi, every_path_documents_the_preflight_and_405_with_allow)
{
    static const char *const methods[] = {"get", "put", "post", "delete", "patch"};
    const char *path;
    json_t *item;
    int paths = 0;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        paths++;
        json_t *pre = json_object_get(item, "options");
        cr_expect_not_null(pre, "%s: no OPTIONS (CORS preflight) documented", path);
        json_t *ok = deref(json_object_get(json_object_get(pre, "responses"), "204"));
        cr_expect_not_null(ok, "%s: the preflight has no 204", path);
        json_t *hdrs = json_object_get(ok, "headers");
        cr_expect(json_object_get(hdrs, "Allow") && json_object_get(hdrs, "Access-Control-Allow-Origin") &&
                      json_object_get(hdrs, "Access-Control-Allow-Methods"),
                  "%s: the preflight's 204 lacks Allow or Access-Control-* headers", path);
        cr_expect(json_is_array(json_object_get(pre, "security")) &&
                      json_array_size(json_object_get(pre, "security")) == 0,
                  "%s: a preflight needs no authentication", path);
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
            json_t *op = json_object_get(item, methods[i]);
            if (op == NULL)
                continue;
            json_t *r405 = deref(json_object_get(json_object_get(op, "responses"), "405"));
            cr_expect_not_null(r405, "%s %s: no 405", methods[i], path);
            cr_expect_not_null(json_object_get(json_object_get(r405, "headers"), "Allow"),
                               "%s %s: the 405 has no Allow header", methods[i], path);
        }
    }
    cr_assert_gt(paths, 10);
}

/* Counts the "$ref"s naming `ref` anywhere in `v`. */
static int refs_to(json_t *v, const char *ref)
{
    int n = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *child;
        json_object_foreach(v, k, child) {
            if (strcmp(k, "$ref") == 0 && json_is_string(child))
                n += strcmp(json_string_value(child), ref) == 0;
            else
                n += refs_to(child, ref);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) n += refs_to(child, ref);
    }
    return n;
}

Test(openapi, every_component_is_used)
{
    const char *kind;
    json_t *group;
    int checked = 0;
    json_object_foreach(json_object_get(doc, "components"), kind, group) {
        if (strcmp(kind, "securitySchemes") == 0)
            continue; /* named by security requirements, not by $ref */
        const char *name;
        json_t *v;
        json_object_foreach(group, name, v) {
            char ref[256];
            snprintf(ref, sizeof ref, "#/components/%s/%s", kind, name);
            cr_expect_gt(refs_to(doc, ref), 0, "%s is never used", ref);
            checked++;
        }
    }
    cr_assert_gt(checked, 20);
}
