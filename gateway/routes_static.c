/*
 * routes_static.c — the web app (frontend/, STATIC_DIR): GET / is its
 * index.html, GET /app/<path> its assets (app.css, js/ modules, icons).
 *
 * The app is not part of the API, so these routes carry GW_ROUTE_APP: they
 * get the app's own strict CSP (http.c) and the OpenAPI cross-check leaves
 * them out. index.html is sent with "no-cache" (revalidated on every load, so
 * a new release shows at once); assets with a short max-age plus ETag and
 * Last-Modified, so a reload costs a 304 at most.
 *
 * The path is raw (decode_url=no), so an escape like "%2e%2e%2f" stays
 * literal; gw_static_name_ok() allows only [A-Za-z0-9._-] segments that start
 * with a letter or digit ("..", ".env", '%', '\\', NUL and empty segments are
 * 404). The file must then be a regular file (no directory listings), opened
 * with O_NOFOLLOW, whose real path lies under the real STATIC_DIR.
 */
#include "router.h"
#include "static_files.h"
#include "td_error.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APP_PREFIX "/app/"
#define APP_MAX_DEPTH 4
#define CACHE_INDEX "no-cache"
#define CACHE_ASSET "public, max-age=300"

/* True when `path` resolves to a file strictly below `dir`. */
static bool inside(const char *dir, const char *path)
{
    char real_dir[PATH_MAX], real_path[PATH_MAX];
    if (realpath(dir, real_dir) == NULL || realpath(path, real_path) == NULL)
        return false;
    size_t n = strlen(real_dir);
    return strncmp(real_path, real_dir, n) == 0 && real_path[n] == '/';
}

static int send_app_file(struct gw_request *req, const char *name, const char *cache)
{
    const char *type = gw_static_type(name);
    if (type == NULL || !gw_static_name_ok(name, APP_MAX_DEPTH))
        return gw_respond_error(req, TD_ENOTFOUND, NULL, NULL);
    const char *dir = req->app->cfg->static_dir;
    char path[4400];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path || !inside(dir, path))
        return gw_respond_error(req, TD_ENOTFOUND, NULL, NULL);
    return gw_send_file(req, path, type, cache);
}

static int app_index(struct gw_request *req)
{
    return send_app_file(req, "index.html", CACHE_INDEX);
}

static int app_asset(struct gw_request *req)
{
    const char *name = req->path + strlen(APP_PREFIX);
    if (strcmp(name, "index.html") == 0)
        return app_index(req);
    return send_app_file(req, name, CACHE_ASSET);
}

const struct gw_route gw_routes_static[] = {
    {"GET", "/", app_index, GW_AUTH_NONE, GW_ROUTE_APP},
    {"GET", APP_PREFIX, app_asset, GW_AUTH_NONE, GW_ROUTE_APP | GW_ROUTE_PREFIX},
    {NULL, NULL, NULL, GW_AUTH_NONE, 0},
};
