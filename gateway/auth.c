/*
 * auth.c — bearer tokens at the gateway: the edge hook of edge.h that every
 * authenticated route goes through.
 *
 * Order: the Authorization header (strictly "Bearer <jwt>", once), the token
 * (jwt_check.c: signature first, then algorithm, claims, nbf/exp), the token type
 * the route wants, then revocation (revocations.c: no RPC per request). On
 * success req->user_id, token_jti, token_exp and bearer describe the caller;
 * daemons get the user id in the RPC envelope and never see the token.
 */
#include "auth.h"
#include "edge.h"
#include "router.h"
#include "td_error.h"
#include "td_log.h"
#include "td_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a request waits for the first revocation sync of a starting
 * gateway before giving up with 503: accepting tokens without the set would
 * let revoked ones through. */
#define FIRST_SYNC_WAIT_MS 2000

int gw_auth_new(struct gw_app *app, struct gw_jwt **jwt, struct gw_revocations **rev)
{
    const struct gw_config *cfg = app->cfg;
    int rc = gw_jwt_new(cfg->jwt_secret, cfg->jwt_leeway, jwt);
    if (rc == TD_ECONFIG)
        TD_LOG(TD_LOG_ERR, "jwt_secret_short", "JWT_SECRET_KEY must be at least %d bytes",
               GW_JWT_MIN_SECRET);
    if (rc != 0)
        return rc;
    rc = gw_revocations_new(cfg->auth_events_url, app->auth, cfg->jwt_leeway, rev);
    if (rc != 0)
        gw_jwt_free(jwt);
    return rc;
}

void gw_auth_free(struct gw_jwt **jwt, struct gw_revocations **rev)
{
    gw_revocations_free(rev);
    gw_jwt_free(jwt);
}

int gw_auth_check(struct gw_request *req, enum gw_auth want, struct gw_token *out)
{
    struct gw_app *app = req->app;
    if (gw_header_count(req, "Authorization") > 1)
        return TD_EBADTOKEN;
    const char *token = NULL;
    int rc = gw_jwt_bearer(gw_header(req, "Authorization"), &token);
    if (rc != 0)
        return rc;
    struct gw_token t;
    rc = gw_jwt_verify(app->jwt, token, td_now_us() / 1000000, &t);
    if (rc != 0)
        return rc;
    if (t.refresh != (want == GW_AUTH_REFRESH))
        return TD_EBADTOKEN;
    if (!gw_revocations_wait_synced(app->revocations, FIRST_SYNC_WAIT_MS))
        return TD_EDOWN;
    /* A rotated refresh token is not in the set on purpose: td-auth must see
     * it come back to revoke its whole family (reuse detection). */
    if (gw_revocations_revoked(app->revocations, t.jti, t.user_id, t.iat_us))
        return TD_EREVOKED;
    req->bearer = token;
    *out = t;
    return 0;
}

bool gw_auth_refuse(struct gw_request *req)
{
    if (req->route->auth == GW_AUTH_NONE)
        return false;
    struct gw_token t;
    int rc = gw_auth_check(req, req->route->auth, &t);
    if (rc != 0) {
        gw_respond_error(req, rc, NULL, NULL);
        return true;
    }
    req->user_id = t.user_id;
    snprintf(req->token_jti, sizeof req->token_jti, "%s", t.jti);
    req->token_exp = t.exp;
    return false;
}
