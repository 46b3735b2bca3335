/*
 * routes_auth.c — the auth routes (under /auth) of gateway/docs/openapi.json, forwarded to
 * td-auth. The bodies are validated by td-auth (unknown, missing and
 * mistyped fields); the gateway only adds what it learnt from the token, and
 * applies the revocations it caused to its own set at once, so the next
 * request through this gateway sees them even before td-auth's feed does.
 */
#include "auth.h"
#include "forward.h"
#include "router.h"
#include "td_error.h"
#include "td_time.h"

#include <string.h>

static int do_register(struct gw_request *req)
{
    return gw_forward(req, req->app->auth, TD_OP_AUTH_REGISTER, req->body, 201);
}

static int do_login(struct gw_request *req)
{
    return gw_forward(req, req->app->auth, TD_OP_AUTH_LOGIN, req->body, 200);
}

static int do_refresh(struct gw_request *req)
{
    /* gw_auth_refuse checked the token; read the claims td-auth needs again
     * (an HMAC; this route is rare). */
    struct gw_token t;
    int rc = gw_auth_check(req, GW_AUTH_REFRESH, &t);
    if (rc != 0)
        return gw_respond_error(req, rc, NULL, NULL);
    json_t *args = json_pack("{s:s, s:s, s:I}", "jti", t.jti, "fam", t.family, "iat_us",
                             (json_int_t)t.iat_us);
    if (args == NULL)
        return gw_respond_error(req, TD_ENOMEM, NULL, NULL);
    int status = gw_forward(req, req->app->auth, TD_OP_AUTH_REFRESH, args, 200);
    json_decref(args);
    return status;
}

/* The optional logout body: {"refresh_token": str}. A refresh token that
 * does not verify, has expired or belongs to someone else is ignored: there
 * is nothing of the caller's to revoke in it. */
static int do_logout(struct gw_request *req)
{
    const char *refresh = NULL;
    if (req->body != NULL) {
        json_t *details = json_object();
        const char *key;
        json_t *v;
        json_object_foreach(req->body, key, v) {
            if (strcmp(key, "refresh_token") != 0)
                json_object_set_new(details, key, json_pack("[s]", "Unknown field."));
            else if (!json_is_string(v))
                json_object_set_new(details, key, json_pack("[s]", "Not a valid string."));
            else
                refresh = json_string_value(v);
        }
        if (details == NULL || json_object_size(details) > 0)
            return gw_respond_error(req, details ? TD_EINVAL : TD_ENOMEM, NULL, details);
        json_decref(details);
    }
    json_t *args = json_pack("{s:s, s:I}", "jti", req->token_jti, "exp",
                             (json_int_t)req->token_exp);
    struct gw_token rt;
    if (args != NULL && refresh != NULL &&
        gw_jwt_verify(req->app->jwt, refresh, td_now_us() / 1000000, &rt) == 0 && rt.refresh &&
        rt.user_id == req->user_id)
        json_object_set_new(args, "refresh_fam", json_string(rt.family));
    if (args == NULL)
        return gw_respond_error(req, TD_ENOMEM, NULL, NULL);
    json_t *result = NULL;
    int status = 0;
    int rc = gw_call(req, req->app->auth, TD_OP_AUTH_LOGOUT, args, &result, &status);
    json_decref(args);
    if (rc != 0)
        return req->status;
    gw_revocations_add_jti(req->app->revocations, req->token_jti, req->token_exp);
    int sent = gw_respond_json(req, status, result);
    json_decref(result);
    return sent;
}

static int do_me(struct gw_request *req)
{
    return gw_forward(req, req->app->auth, TD_OP_AUTH_ME, NULL, 200);
}

/* Password change and deletion reply with the cut-off they made; it is
 * applied here and never shown to the client. */
static int forward_with_cutoff(struct gw_request *req, enum td_op op)
{
    json_t *result = NULL;
    int status = 0;
    if (gw_call(req, req->app->auth, op, req->body, &result, &status) != 0)
        return req->status;
    json_t *c = json_object_get(result, "cutoff");
    json_t *uid = json_object_get(c, "uid"), *cut = json_object_get(c, "cutoff_us"),
           *until = json_object_get(c, "until");
    if (json_is_integer(uid) && json_is_integer(cut) && json_is_integer(until))
        gw_revocations_add_user(req->app->revocations, json_integer_value(uid),
                                json_integer_value(cut), json_integer_value(until));
    json_object_del(result, "cutoff");
    int sent = gw_respond_json(req, status, result);
    json_decref(result);
    return sent;
}

static int do_delete_me(struct gw_request *req)
{
    return forward_with_cutoff(req, TD_OP_AUTH_DELETE);
}

static int do_password(struct gw_request *req)
{
    return forward_with_cutoff(req, TD_OP_AUTH_PASSWORD);
}

#define NS GW_ROUTE_NO_STORE
#define JB GW_ROUTE_JSON_BODY

const struct gw_route gw_routes_auth[] = {
    {"POST", "/auth/register", do_register, GW_AUTH_NONE, JB | NS | GW_ROUTE_LIMIT_REGISTER},
    {"POST", "/auth/login", do_login, GW_AUTH_NONE, JB | NS | GW_ROUTE_LIMIT_LOGIN},
    {"POST", "/auth/refresh", do_refresh, GW_AUTH_REFRESH, NS},
    {"POST", "/auth/logout", do_logout, GW_AUTH_ACCESS, GW_ROUTE_OPTIONAL_BODY | NS},
    {"GET", "/auth/me", do_me, GW_AUTH_ACCESS, NS},
    {"DELETE", "/auth/me", do_delete_me, GW_AUTH_ACCESS, JB | NS},
    {"PUT", "/auth/password", do_password, GW_AUTH_ACCESS, JB | NS},
    {NULL, NULL, NULL, GW_AUTH_NONE, 0},
};
