/*
 * routes_system.c — the unauthenticated system routes of gateway/docs/openapi.json: liveness,
 * readiness (one ping per daemon, or what the bulkheads already know),
 * version, the OpenAPI document, the Swagger UI page with its assets, and the
 * Prometheus metrics.
 *
 * The docs are files under DOCS_DIR (by default where `cmake --install`
 * puts them, <prefix>/share/thought-diary/docs; a source tree's is
 * gateway/docs): openapi.json, index.html and swagger-init.js are the
 * project's own; Swagger UI's files come from the swagger-ui-dist npm
 * package, copied to DOCS_DIR/swagger-ui by the install, or found in
 * DOCS_DIR/node_modules/swagger-ui-dist of a source tree where
 * ops/install-deps.sh ran npm ci. Nothing is fetched from a CDN at run time.
 * Files are read per request (they are in the page cache after the first), so
 * an edited openapi.json is served at once.
 */
#include "bulkhead.h"
#include "metrics.h"
#include "router.h"
#include "static_files.h"
#include "td_error.h"
#include "td_log.h"
#include "td_time.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int health(struct gw_request *req)
{
    char ts[TD_TIMESTAMP_LEN + 1];
    td_format_timestamp(td_now_us(), ts, sizeof ts);
    json_t *body = json_pack("{s:s, s:s}", "status", "healthy", "timestamp", ts);
    int rc = body ? gw_respond_json(req, 200, body) : gw_respond_error(req, TD_ENOMEM, NULL, NULL);
    json_decref(body);
    return rc;
}

#define READY_PING_TIMEOUT_MS 1000

/* A daemon the bulkheads already know is not answering (its cap of calls
 * all waiting, or a call that just timed out with none answered since) is
 * down without a ping: a ping would only wait out its timeout, and /ready
 * must answer fast when it matters most. Pings stay outside the caps, so
 * /ready is never refused because routes are busy. */
static bool ping(struct gw_request *req, struct td_rpc_client *client, enum gw_upstream up)
{
    if (gw_bulkhead_unresponsive(req->app->bulkhead, up, READY_PING_TIMEOUT_MS))
        return false;
    struct td_rpc_call call = {.op = TD_OP_PING, .request_id = req->request_id,
                               .timeout_ms = READY_PING_TIMEOUT_MS};
    struct td_rpc_result res;
    int rc = td_rpc_call(client, &call, &res);
    gw_bulkhead_note(req->app->bulkhead, up, rc);
    if (rc != 0)
        return false;
    bool answered = res.status == 200;
    td_rpc_result_free(&res);
    return answered;
}

static int ready(struct gw_request *req)
{
    struct gw_app *app = req->app;
    const char *names[] = {"auth", "diary", "sentiment"};
    struct td_rpc_client *clients[] = {app->auth, app->diary, app->sentiment};
    const enum gw_upstream ups[] = {GW_UP_AUTH, GW_UP_DIARY, GW_UP_SENTIMENT};
    json_t *services = json_object();
    bool all_up = services != NULL;
    for (size_t i = 0; services && i < 3; i++) {
        bool up = ping(req, clients[i], ups[i]);
        all_up = all_up && up;
        json_object_set_new(services, names[i], json_string(up ? "up" : "down"));
    }
    json_t *body = json_pack("{s:s, s:o}", "status", all_up ? "ready" : "degraded", "services",
                             services);
    int rc = body ? gw_respond_json(req, all_up ? 200 : 503, body)
                  : gw_respond_error(req, TD_ENOMEM, NULL, NULL);
    json_decref(body);
    return rc;
}

static int version(struct gw_request *req)
{
    json_t *body = json_pack("{s:s, s:s}", "version", TD_VERSION, "api", "v1");
    int rc = body ? gw_respond_json(req, 200, body) : gw_respond_error(req, TD_ENOMEM, NULL, NULL);
    json_decref(body);
    return rc;
}

/* The docs are sent without caching headers, as they always were: an edited
 * openapi.json shows at once. */
static int send_file(struct gw_request *req, const char *path, const char *content_type)
{
    return gw_send_file(req, path, content_type, NULL);
}

static int openapi(struct gw_request *req)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/openapi.json", req->app->cfg->docs_dir);
    return send_file(req, path, "application/json");
}

static int docs_page(struct gw_request *req)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/index.html", req->app->cfg->docs_dir);
    return send_file(req, path, "text/html; charset=utf-8");
}

/* The extensions /docs/ serves; their types come from static_files.c. */
static const char *const doc_exts[] = {".html", ".js", ".css", ".png", ".json", ".map"};

/* GET /docs/<name>: one file name, no directories, a known extension. The
 * path is raw (decode_url=no), so "%2e%2e%2f" stays literal and fails the
 * character check; a name cannot start with '.'. */
static int docs_asset(struct gw_request *req)
{
    const char *name = req->path + strlen("/docs/");
    size_t n = strlen(name);
    if (n == 0 || (n == 10 && strcmp(name, "index.html") == 0))
        return docs_page(req);
    bool ok = n < 128 && isalnum((unsigned char)name[0]);
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        ok = isalnum(c) || c == '.' || c == '-' || c == '_';
    }
    const char *type = NULL;
    for (size_t i = 0; ok && i < sizeof doc_exts / sizeof doc_exts[0]; i++) {
        size_t el = strlen(doc_exts[i]);
        if (n > el && strcmp(name + n - el, doc_exts[i]) == 0)
            type = gw_static_type(name);
    }
    if (!ok || type == NULL)
        return gw_respond_error(req, TD_ENOTFOUND, NULL, NULL);
    const char *dir = req->app->cfg->docs_dir;
    char path[4400];
    if (strcmp(name, "openapi.json") == 0 || strcmp(name, "swagger-init.js") == 0)
        snprintf(path, sizeof path, "%s/%s", dir, name);
    else if (strcmp(type, "application/json") == 0 && strcmp(name + n - 4, ".map") != 0)
        return gw_respond_error(req, TD_ENOTFOUND, NULL, NULL); /* e.g. the package's own */
    else {
        /* Installed layout first; a source tree's npm package otherwise. */
        snprintf(path, sizeof path, "%s/swagger-ui/%s", dir, name);
        if (access(path, R_OK) != 0)
            snprintf(path, sizeof path, "%s/node_modules/swagger-ui-dist/%s", dir, name);
    }
    if (access(path, R_OK) != 0)
        return gw_respond_error(req, TD_ENOTFOUND, NULL, NULL);
    return send_file(req, path, type);
}

static int metrics(struct gw_request *req)
{
    char *text = NULL;
    size_t len = 0;
    if (gw_metrics_render(req->app, &text, &len) != 0)
        return gw_respond_error(req, TD_ENOMEM, NULL, NULL);
    int rc = gw_respond_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    return rc;
}

const struct gw_route gw_routes_system[] = {
    {"GET", "/health", health, GW_AUTH_NONE, 0},
    {"GET", "/ready", ready, GW_AUTH_NONE, 0},
    {"GET", "/version", version, GW_AUTH_NONE, 0},
    {"GET", "/openapi.json", openapi, GW_AUTH_NONE, 0},
    {"GET", "/docs", docs_page, GW_AUTH_NONE, GW_ROUTE_HTML},
    {"GET", "/docs/", docs_asset, GW_AUTH_NONE, GW_ROUTE_HTML | GW_ROUTE_PREFIX},
    {"GET", "/metrics", metrics, GW_AUTH_NONE, 0},
    {NULL, NULL, NULL, GW_AUTH_NONE, 0},
};
