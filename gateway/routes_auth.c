/*
 * routes_auth.c — the auth routes (under /auth) of API.md, forwarded to td-auth.
 */
#include "router.h"

const struct gw_route gw_routes_auth[] = {
    {NULL, NULL, NULL, GW_AUTH_NONE, 0},
};
