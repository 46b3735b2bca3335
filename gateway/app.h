/*
 * app.h — the gateway's shared state and the per-request context.
 *
 * struct gw_app is built once by main.c and read by every civetweb worker.
 * Each edge module (CORS, rate limits, JWT, revocations, metrics) keeps its
 * own state behind an opaque pointer here and is the only code that touches
 * it. struct gw_request lives on a worker's stack for one HTTP request.
 */
#ifndef GW_APP_H
#define GW_APP_H

#include "config.h"
#include "proto/td_proto.h"
#include "td_rpc.h"

#include <civetweb.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_cors;
struct gw_ratelimit;
struct gw_jwt;
struct gw_revocations;
struct gw_metrics;
struct gw_proxies;
struct gw_route;
struct gw_gate;
struct gw_bulkhead;

struct gw_app {
    const struct gw_config *cfg;
    struct td_rpc_client *auth;
    struct td_rpc_client *diary;
    struct td_rpc_client *sentiment;
    struct gw_cors *cors;
    struct gw_ratelimit *ratelimit;
    struct gw_jwt *jwt;
    struct gw_revocations *revocations;
    struct gw_metrics *metrics;
    struct gw_proxies *proxies;
    struct gw_gate *gate;         /* the connection gate (gate.h), made by gw_server_start */
    struct gw_bulkhead *bulkhead; /* RPC caps (bulkhead.h), made by gw_server_start */
    struct mg_context *mg;
};

#define GW_MAX_EXTRA_HEADERS 2048

struct gw_request {
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    struct gw_app *app;
    const struct gw_route *route; /* NULL until routed */
    /* A route whose path matched, also when its method did not (405, CORS
     * preflight): names the request in metrics and the access log only,
     * never served. NULL when no route's path matched (404). */
    const struct gw_route *path_route;
    const char *path;             /* raw (undecoded) path, no query */
    char request_id[TD_PROTO_RID_MAX + 1];
    char client_ip[48];
    bool over_tls;                /* X-Forwarded-Proto: https from a trusted proxy */
    int64_t path_id;              /* the {id} of the path, 0 when none */
    int64_t user_id;              /* authenticated user, 0 when none */
    char token_jti[64];           /* the jti of the presented token, "" when none */
    int64_t token_exp;            /* its exp */
    const char *bearer;           /* the raw bearer token (points into headers) */
    json_t *body;                 /* parsed JSON body, NULL when none */
    char extra_headers[GW_MAX_EXTRA_HEADERS]; /* "Name: value\r\n" lines to send */
    size_t extra_len;
    int64_t started_us;
    int status;                   /* status sent, 0 until a response went out */
    size_t bytes_sent;
    bool closing;                 /* the connection ends after this response */
    bool aborted;                 /* a stream was abandoned: close the connection */
};

/* Adds one response header line; silently dropped when the buffer is full
 * (the buffer is sized for every header the gateway ever adds). */
void gw_add_header(struct gw_request *req, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ends the connection after this response, for real: queues "Connection:
 * close" once and switches civetweb's keep-alive off for it (civetweb takes a
 * Connection header a handler writes as mere text and would read the next
 * request from the same connection). */
void gw_close_after(struct gw_request *req);

/* Queues the WWW-Authenticate header of a 401 with API error `error`
 * ("invalid_token", "missing_token", ...). */
void gw_add_auth_challenge(struct gw_request *req, const char *error);

/* The value of request header `name` (case-insensitive), or NULL. */
const char *gw_header(const struct gw_request *req, const char *name);

/* How many times request header `name` appears. */
int gw_header_count(const struct gw_request *req, const char *name);

/* Sends `body` (not consumed) with `status` and every common header.
 * Returns the status sent. */
int gw_respond_json(struct gw_request *req, int status, const json_t *body);

/* Sends the API error shape for `code` (a TD_E*), with `message` (NULL: the
 * default) and optional `details` (consumed). Returns the status sent. */
int gw_respond_error(struct gw_request *req, int code, const char *message, json_t *details);

/* Sends the API error shape with a status and error string of the gateway's
 * own that no daemon shares (408 request_timeout, 431
 * request_header_fields_too_large). Returns the status sent. */
int gw_respond_status(struct gw_request *req, int status, const char *error, const char *message);
/* A streamed response (GET /diaries/export): the status line and every
 * common header with Transfer-Encoding: chunked instead of a length, then
 * chunks, then the terminating chunk. Bounded memory whatever the body's
 * size. gw_stream_start returns the status sent; gw_stream_write 0 or -1
 * (the client went away). A stream that cannot finish is abandoned with
 * gw_stream_abort: no terminating chunk, and the connection is closed, so
 * the client sees a truncated body, never one that looks complete. */
int gw_stream_start(struct gw_request *req, int status, const char *content_type);
int gw_stream_write(struct gw_request *req, const char *data, size_t len);
int gw_stream_end(struct gw_request *req);
void gw_stream_abort(struct gw_request *req);


/* Sends a non-JSON response (204, static files). `body` may be NULL. */
int gw_respond_raw(struct gw_request *req, int status, const char *content_type,
                   const char *body, size_t len);

#endif
