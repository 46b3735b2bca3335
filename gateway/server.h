/*
 * server.h — the civetweb server and the request pipeline every request
 * takes: identify the client, check framing, CORS, route, rate limit, token,
 * body, handler, metrics.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include "app.h"

/* Starts civetweb on cfg->listen with the gateway's options. 0 or TD_E*. */
int gw_server_start(struct gw_app *app);

/* Stops accepting, waits for in-flight requests, frees civetweb. */
void gw_server_stop(struct gw_app *app);

/* The pipeline for one request; also what civetweb's handler calls. */
int gw_server_handle(struct mg_connection *conn, void *cbdata);

#endif
