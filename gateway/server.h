/*
 * server.h — the civetweb server and the request pipeline every request
 * takes: identify the client, check framing (header count, target,
 * Content-Length), CORS, route, rate limit, token, body (within the
 * request's deadline), handler, metrics.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include "app.h"

/* Builds the bulkheads and the connection gate (app->bulkhead, app->gate;
 * bulkhead.h, gate.h), then starts civetweb on cfg->listen with the
 * gateway's options. 0 or TD_E*; on failure nothing is left running. */
int gw_server_start(struct gw_app *app);

/* Stops accepting, waits for in-flight requests, frees civetweb, then the
 * gate and the bulkheads. Safe after a failed start. */
void gw_server_stop(struct gw_app *app);

/* The pipeline for one request; also what civetweb's handler calls. */
int gw_server_handle(struct mg_connection *conn, void *cbdata);

#endif
