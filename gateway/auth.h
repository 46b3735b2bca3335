/*
 * auth.h — what the auth routes (routes_auth.c) need from the gateway's token
 * checking beyond the edge hook of edge.h.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include "app.h"
#include "jwt_check.h"
#include "revocations.h"
#include "router.h"

/* Runs every check of gw_auth_refuse for a token of type `want` without
 * answering: 0 with *out (and req->bearer set), or the TD_E* to answer with
 * (TD_EMISSINGTOKEN, TD_EBADTOKEN, TD_EEXPIRED, TD_EREVOKED, TD_EDOWN). */
int gw_auth_check(struct gw_request *req, enum gw_auth want, struct gw_token *out);

#endif
