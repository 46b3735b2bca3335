/*
 * routes_static.c — the web app (frontend/, STATIC_DIR): GET / is its
 * index.html, GET /app/<path> its assets (app.css, js/ modules, icons).
 *
 * The app is not part of the API, so these routes carry GW_ROUTE_APP: they
 * get the app's own strict CSP (http.c) and the OpenAPI cross-check leaves
 * them out.
 *
 * Caching (issue 19): index.html is sent with "no-cache" (revalidated on
 * every load, so a new release shows at once), with every "/app/ URL in it
 * rewritten to /app/v-<version>/ (asset_version.h). Under the current
 * version an asset is immutable for a year: relative imports inherit the
 * prefix, so the whole module graph of one page load is one release. An
 * unversioned URL keeps the short max-age it always had; a past version's
 * URL (a page loaded before a deploy) gets today's file with "no-cache", so
 * it is never kept under a name it does not belong to. Text goes out
 * gzip-compressed when the browser accepts it (static_files.h).
 *
 * The path is raw (decode_url=no), so an escape like "%2e%2e%2f" stays
 * literal; gw_static_name_ok() allows only [A-Za-z0-9._-] segments that start
 * with a letter or digit ("..", ".env", '%', '\\', NUL and empty segments are
 * 404). The file must then be a regular file (no directory listings), opened
 * with O_NOFOLLOW, whose real path lies under the real STATIC_DIR.
 */
#include "asset_version.h"
#include "router.h"
#include "static_files.h"
#include "td_error.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define APP_PREFIX "/app/"
#define APP_MAX_DEPTH 4
#define CACHE_INDEX "no-cache"
#define CACHE_ASSET "public, max-age=300"
#define CACHE_VERSIONED "public, max-age=31536000, immutable"
#define VERSION_PREFIX "v-"
/* index.html's attributes name the app's files as "/app/...; each becomes
 * "/app/v-<version>/... */
#define INDEX_URL_MARK "\"" APP_PREFIX

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

/* `body` with every INDEX_URL_MARK followed by "v-<hex>/", malloc'd. */
static char *versioned_index_new(const char *body, size_t len, const char *hex, size_t *out_len)
{
    size_t mark = strlen(INDEX_URL_MARK), extra = strlen(VERSION_PREFIX) + strlen(hex) + 1, count = 0;
    for (const char *p = body; (p = strstr(p, INDEX_URL_MARK)) != NULL; p += mark)
        count++;
    char *out = malloc(len + count * extra + 1);
    if (out == NULL)
        return NULL;
    char *w = out;
    const char *p = body, *hit;
    while ((hit = strstr(p, INDEX_URL_MARK)) != NULL) {
        memcpy(w, p, (size_t)(hit - p) + mark);
        w += (hit - p) + mark;
        w += sprintf(w, "%s%s/", VERSION_PREFIX, hex);
        p = hit + mark;
    }
    size_t rest = len - (size_t)(p - body);
    memcpy(w, p, rest);
    w += rest;
    *w = '\0';
    *out_len = (size_t)(w - out);
    return out;
}

static int app_index(struct gw_request *req)
{
    const char *dir = req->app->cfg->static_dir;
    char path[4400];
    int n = snprintf(path, sizeof path, "%s/index.html", dir);
    if (n < 0 || (size_t)n >= sizeof path || !inside(dir, path))
        return gw_respond_error(req, TD_ENOTFOUND, NULL, NULL);
    struct gw_asset_version v;
    char *body = NULL;
    size_t len = 0;
    struct stat st;
    int rc = gw_static_read(path, &body, &len, &st);
    rc = rc ? rc : gw_asset_version_get(dir, &v);
    if (rc != 0) {
        free(body);
        return gw_respond_error(req, rc, NULL, NULL);
    }
    size_t out_len = 0;
    char *out = versioned_index_new(body, len, v.hex, &out_len);
    free(body);
    if (out == NULL)
        return gw_respond_error(req, TD_ENOMEM, NULL, NULL);
    /* The page changes whenever any asset does (its URLs name the version),
     * so its validators are the version's, not index.html's own. */
    struct gw_static_cache cache = {.control = CACHE_INDEX,
                                    .mtime = v.newest > st.st_mtim.tv_sec ? v.newest : st.st_mtim.tv_sec};
    snprintf(cache.tag, sizeof cache.tag, "%s-%zx", v.hex, out_len);
    rc = gw_send_body(req, out, out_len, gw_static_type("index.html"), &cache);
    free(out);
    return rc;
}

static int app_asset(struct gw_request *req)
{
    const char *name = req->path + strlen(APP_PREFIX);
    const char *cache = CACHE_ASSET;
    if (strncmp(name, VERSION_PREFIX, strlen(VERSION_PREFIX)) == 0) {
        const char *hex = name + strlen(VERSION_PREFIX);
        const char *slash = strchr(hex, '/');
        if (slash == NULL || !gw_asset_version_syntax_ok(hex, (size_t)(slash - hex)))
            return gw_respond_error(req, TD_ENOTFOUND, NULL, NULL);
        struct gw_asset_version v;
        bool current = gw_asset_version_get(req->app->cfg->static_dir, &v) == 0 &&
                       strncmp(v.hex, hex, GW_ASSET_VERSION_LEN) == 0;
        cache = current ? CACHE_VERSIONED : CACHE_INDEX;
        name = slash + 1;
    }
    if (strcmp(name, "index.html") == 0)
        return app_index(req);
    return send_app_file(req, name, cache);
}

const struct gw_route gw_routes_static[] = {
    {"GET", "/", app_index, GW_AUTH_NONE, GW_ROUTE_APP},
    {"GET", APP_PREFIX, app_asset, GW_AUTH_NONE, GW_ROUTE_APP | GW_ROUTE_PREFIX},
    {NULL, NULL, NULL, GW_AUTH_NONE, 0},
};
