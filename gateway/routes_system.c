/*
 * routes_system.c — the unauthenticated system routes of API.md: liveness,
 * readiness (one ping per daemon), version.
 */
#include "router.h"
#include "td_error.h"
#include "td_time.h"

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

static bool ping(struct gw_request *req, struct td_rpc_client *client)
{
    struct td_rpc_call call = {.op = TD_OP_PING, .request_id = req->request_id,
                               .timeout_ms = READY_PING_TIMEOUT_MS};
    struct td_rpc_result res;
    if (td_rpc_call(client, &call, &res) != 0)
        return false;
    bool up = res.status == 200;
    td_rpc_result_free(&res);
    return up;
}

static int ready(struct gw_request *req)
{
    struct gw_app *app = req->app;
    const char *names[] = {"auth", "diary", "sentiment"};
    struct td_rpc_client *clients[] = {app->auth, app->diary, app->sentiment};
    json_t *services = json_object();
    bool all_up = services != NULL;
    for (size_t i = 0; services && i < 3; i++) {
        bool up = ping(req, clients[i]);
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

const struct gw_route gw_routes_system[] = {
    {"GET", "/health", health, GW_AUTH_NONE, 0},
    {"GET", "/ready", ready, GW_AUTH_NONE, 0},
    {"GET", "/version", version, GW_AUTH_NONE, 0},
    {NULL, NULL, NULL, GW_AUTH_NONE, 0},
};
