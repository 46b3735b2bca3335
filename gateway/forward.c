/*
 * forward.c — the JSON ⇄ msgpack bridge between a route and a daemon. Every
 * call passes the daemon's bulkhead (bulkhead.h) first: beyond its cap, or
 * a password check that would wait too long, is answered 503 with
 * Retry-After without calling.
 */
#include "forward.h"
#include "bulkhead.h"
#include "metrics.h"
#include "td_error.h"
#include "td_json_mp.h"
#include "td_log.h"
#include "td_time.h"

#include <stdlib.h>
#include <string.h>

static int send_transport_error(struct gw_request *req, int rc)
{
    if (rc == TD_EDOWN || rc == TD_ECLOSED)
        return gw_respond_error(req, TD_EDOWN, NULL, NULL);
    if (rc == TD_ETIMEDOUT)
        return gw_respond_error(req, TD_ETIMEDOUT, NULL, NULL);
    return gw_respond_error(req, TD_EINTERNAL, NULL, NULL);
}

/* Relays a daemon's error reply: its status and its {error, message, details}. */
static int send_daemon_error(struct gw_request *req, const struct td_rpc_result *res)
{
    json_t *body = NULL;
    if (res->status < 400 || td_mp_to_json(res->error, &body) != 0) {
        TD_LOG(TD_LOG_ERR, "gw_bad_error_reply", "daemon sent an unusable error reply");
        return gw_respond_error(req, TD_EINTERNAL, NULL, NULL);
    }
    const char *code = json_string_value(json_object_get(body, "error"));
    if (res->status == 401)
        gw_add_auth_challenge(req, code ? code : "");
    if (res->status == 503) /* a daemon shedding load (td-auth's hashing) or stopping */
        gw_add_header(req, "Retry-After", "1");
    int status = gw_respond_json(req, res->status, body);
    json_decref(body);
    return status;
}

static enum gw_upstream upstream_of(const struct gw_request *req,
                                    const struct td_rpc_client *client)
{
    const struct gw_app *app = req->app;
    return client == app->auth        ? GW_UP_AUTH
           : client == app->diary     ? GW_UP_DIARY
           : client == app->sentiment ? GW_UP_SENTIMENT
                                      : GW_UP_COUNT;
}

/* The operations td-auth answers only after an argon2id hash or check. */
static bool checks_password(enum td_op op)
{
    return op == TD_OP_AUTH_REGISTER || op == TD_OP_AUTH_LOGIN || op == TD_OP_AUTH_PASSWORD ||
           op == TD_OP_AUTH_DELETE;
}

/* Makes the call. 0 with *res, a transport error, or TD_EDOWN with
 * *retry_after_s > 0 when the bulkhead refused it (nothing was sent). */
static int do_call(struct gw_request *req, struct td_rpc_client *client, enum td_op op,
                   const json_t *args, struct td_rpc_result *res, int *retry_after_s)
{
    *retry_after_s = 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = args ? td_json_to_mp(args, &pk) : 0;
    struct gw_bulkhead_ticket ticket;
    int retry = 1;
    if (rc == 0) {
        rc = gw_bulkhead_enter(req->app->bulkhead, upstream_of(req, client), checks_password(op),
                               &ticket, &retry);
        if (rc != 0)
            *retry_after_s = retry;
    }
    if (rc == 0) {
        struct td_rpc_call call = {
            .op = op,
            .request_id = req->request_id,
            .user_id = req->user_id,
            .args = args ? sb.data : NULL,
            .args_len = args ? sb.size : 0,
        };
        int64_t t0 = td_now_us();
        rc = td_rpc_call(client, &call, res);
        gw_bulkhead_leave(req->app->bulkhead, &ticket, rc);
        gw_metrics_upstream(req->app->metrics, td_op_name(op), rc, rc == 0 ? res->status : 0,
                            td_now_us() - t0);
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Calls and answers transport and daemon errors itself. Returns 0 with a
 * success reply in *res (caller frees), or nonzero once answered. */
static int call_ok(struct gw_request *req, struct td_rpc_client *client, enum td_op op,
                   const json_t *args, struct td_rpc_result *res)
{
    int retry_after = 0;
    int rc = do_call(req, client, op, args, res, &retry_after);
    if (rc != 0 && retry_after > 0) {
        gw_add_header(req, "Retry-After", "%d", retry_after);
        gw_respond_error(req, TD_EDOWN,
                         checks_password(op) ? "Too many sign-ins at once; try again shortly"
                                             : "Service busy; try again shortly",
                         NULL);
        return rc;
    }
    if (rc != 0) {
        send_transport_error(req, rc);
        return rc;
    }
    if (res->status >= 400) {
        send_daemon_error(req, res);
        td_rpc_result_free(res);
        return TD_EINVAL;
    }
    return 0;
}

/* Converts a success reply's result to a jansson tree, or answers 500. */
static int result_json(struct gw_request *req, enum td_op op, struct td_rpc_result *res,
                       json_t **out)
{
    int rc = td_mp_to_json(res->result, out);
    td_rpc_result_free(res);
    if (rc != 0) {
        TD_LOG(TD_LOG_ERR, "gw_bad_result", "%s: result has no JSON form", td_op_name(op));
        gw_respond_error(req, TD_EINTERNAL, NULL, NULL);
        return TD_EINTERNAL;
    }
    return 0;
}

int gw_call(struct gw_request *req, struct td_rpc_client *client, enum td_op op,
            const json_t *args, json_t **result, int *status)
{
    struct td_rpc_result res;
    int rc = call_ok(req, client, op, args, &res);
    if (rc != 0)
        return rc;
    *status = res.status;
    return result_json(req, op, &res, result);
}

int gw_call_quiet(struct gw_request *req, struct td_rpc_client *client, enum td_op op,
                  const json_t *args, json_t **result)
{
    struct td_rpc_result res;
    int retry_after = 0; /* a refusal by the bulkhead is a failure like any other here */
    int rc = do_call(req, client, op, args, &res, &retry_after);
    if (rc != 0)
        return rc;
    rc = res.status >= 400 ? TD_EPROTO : td_mp_to_json(res.result, result);
    td_rpc_result_free(&res);
    return rc;
}

/* The result goes out as JSON text written straight from the msgpack
 * (td_mp_to_json_text); only what that writer leaves (TD_EPROTO) takes the
 * jansson tree and json_dumps, which answer exactly as before. */
int gw_forward(struct gw_request *req, struct td_rpc_client *client, enum td_op op,
               const json_t *args, int ok_status)
{
    struct td_rpc_result res;
    if (call_ok(req, client, op, args, &res) != 0)
        return req->status;
    int status = ok_status ? ok_status : res.status;
    char *text = NULL;
    size_t len = 0;
    if (td_mp_to_json_text(res.result, &text, &len) == 0) {
        td_rpc_result_free(&res);
        int sent = gw_respond_raw(req, status, "application/json", text, len);
        free(text);
        return sent;
    }
    json_t *result = NULL;
    if (result_json(req, op, &res, &result) != 0)
        return req->status;
    int sent = gw_respond_json(req, status, result);
    json_decref(result);
    return sent;
}

json_t *gw_args_with(struct gw_request *req, const char *key, json_t *value)
{
    if (req->body != NULL && json_object_get(req->body, key) != NULL) {
        json_decref(value);
        json_t *details = json_pack("{s:[s]}", key, "Unknown field.");
        gw_respond_error(req, TD_EINVAL, NULL, details);
        return NULL;
    }
    json_t *args = req->body ? json_copy(req->body) : json_object();
    if (args == NULL || json_object_set_new(args, key, value) != 0) {
        json_decref(args);
        gw_respond_error(req, TD_ENOMEM, NULL, NULL);
        return NULL;
    }
    return args;
}
