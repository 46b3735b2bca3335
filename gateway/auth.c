/*
 * auth.c — bearer tokens at the gateway.
 */
#include "edge.h"
#include "router.h"
#include "td_error.h"

#include <stdlib.h>

struct gw_jwt {
    int unused;
};
struct gw_revocations {
    int unused;
};

int gw_auth_new(struct gw_app *app, struct gw_jwt **jwt, struct gw_revocations **rev)
{
    (void)app;
    *jwt = calloc(1, sizeof **jwt);
    *rev = calloc(1, sizeof **rev);
    return *jwt && *rev ? 0 : TD_ENOMEM;
}

void gw_auth_free(struct gw_jwt **jwt, struct gw_revocations **rev)
{
    free(*jwt);
    free(*rev);
    *jwt = NULL;
    *rev = NULL;
}

bool gw_auth_refuse(struct gw_request *req)
{
    if (req->route->auth == GW_AUTH_NONE)
        return false;
    gw_respond_error(req, TD_EMISSINGTOKEN, NULL, NULL);
    return true;
}
