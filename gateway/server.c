/*
 * server.c — civetweb set-up and the per-request pipeline.
 *
 * civetweb runs with decode_url=no (raw paths: "%00" and "%2f" reach the
 * router undecoded and match nothing), its own CORS answers switched off (the
 * gateway's cors.c answers preflights), tcp_nodelay on (docs/library-notes.md, civetweb), and one
 * catch-all handler: routing is ours, on whole paths.
 *
 * In front of the pipeline stand the connection gate (gate.h: per-address
 * connection cap, workers kept for whole requests, one deadline per request)
 * and, around every RPC call, the bulkheads (bulkhead.h). Whenever an answer
 * says "Connection: close" the connection really closes (gw_close_after):
 * civetweb would otherwise read on and run what follows as a new request.
 */
#include "server.h"
#include "body.h"
#include "bulkhead.h"
#include "edge.h"
#include "gate.h"
#include "router.h"
#include "td_error.h"
#include "td_log.h"
#include "td_rpc.h"
#include "td_time.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A client's X-Request-ID is passed through when it is sane: 1-128
 * characters of [A-Za-z0-9._-]. Anything else is replaced, never echoed. */
static bool request_id_is_sane(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.') || n >= TD_PROTO_RID_MAX)
            return false;
    }
    return n > 0;
}

static void assign_request_id(struct gw_request *req)
{
    const char *given = gw_header(req, "X-Request-ID");
    if (given != NULL && request_id_is_sane(given)) {
        snprintf(req->request_id, sizeof req->request_id, "%s", given);
    } else {
        char id[33];
        td_rpc_new_id(id);
        snprintf(req->request_id, sizeof req->request_id, "%s", id);
    }
    td_log_set_request_id(req->request_id);
}

/* civetweb accepts a repeated Content-Length (first wins) and
 * Content-Length with chunked encoding (chunked wins); a proxy in front may
 * have picked the other one, so both are refused (request smuggling). */
static bool framing_is_ambiguous(const struct gw_request *req)
{
    int cl = gw_header_count(req, "Content-Length");
    int te = gw_header_count(req, "Transfer-Encoding");
    return cl > 1 || te > 1 || (cl > 0 && te > 0);
}

/* RFC 9110 8.6: Content-Length is 1*DIGIT. civetweb reads it with strtoll,
 * which also takes "+0", "0x10" (as 0), "0abc" and "0, 5", so a proxy in
 * front may have framed the message differently: anything but plain digits
 * is refused. civetweb drops the whitespace after the colon before it hands
 * the value over; it parses the header block in place, so the bytes between
 * the name's end (where the colon was) and the value are that whitespace,
 * and more than the usual one space (" 0" after the colon) is refused too. */
static bool content_length_is_plain(const struct gw_request *req)
{
    for (int i = 0; i < req->ri->num_headers; i++) {
        const struct mg_header *h = &req->ri->http_headers[i];
        if (strcasecmp(h->name, "Content-Length") != 0)
            continue;
        const char *v = h->value;
        if (v == NULL || *v == '\0')
            return false;
        for (const char *c = v; *c; c++) {
            if (!isdigit((unsigned char)*c))
                return false;
        }
        const char *name_end = h->name + strlen(h->name);
        int spaces = 0;
        if (v > name_end && v - name_end < 64) {
            for (const char *c = name_end; c < v; c++)
                spaces += *c == ' ' || *c == '\t';
        }
        if (spaces > 1)
            return false;
    }
    return true;
}

static bool content_type_is_json(const char *ct)
{
    if (ct == NULL)
        return false;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return false;
    const char *rest = ct + n;
    while (*rest == ' ')
        rest++;
    if (*rest == '\0')
        return true;
    if (*rest != ';')
        return false;
    rest++;
    while (*rest == ' ')
        rest++;
    return strncasecmp(rest, "charset=utf-8", 13) == 0 && rest[13] == '\0';
}

/* Reads the body into a malloc'd buffer, refusing more than max bytes: on the
 * declared length before reading anything, or while reading a chunked body. */
/* The body limit of the request's route: GATEWAY_MAX_BODY, or the import's
 * own (gateway/docs/openapi.json, POST /diaries/import). */
static long long route_max_body(const struct gw_request *req)
{
    if (req->route != NULL && (req->route->flags & GW_ROUTE_LARGE_BODY))
        return GW_IMPORT_MAX_BODY;
    return req->app->cfg->max_body;
}

static int read_body(struct gw_request *req, char **out, size_t *out_len)
{
    long long max = route_max_body(req);
    long long declared = req->ri->content_length;
    if (declared > max)
        return TD_ETOOBIG;
    size_t cap = declared >= 0 ? (size_t)declared : 4096;
    char *buf = malloc(cap + 1);
    if (buf == NULL)
        return TD_ENOMEM;
    size_t len = 0;
    for (;;) {
        if (declared >= 0 && len == (size_t)declared)
            break;
        if (len == cap) {
            if ((long long)cap >= max + 1) {
                free(buf);
                return TD_ETOOBIG;
            }
            size_t next = cap * 2 > (size_t)max + 1 ? (size_t)max + 1 : cap * 2;
            char *grown = realloc(buf, next + 1);
            if (grown == NULL) {
                free(buf);
                return TD_ENOMEM;
            }
            buf = grown;
            cap = next;
        }
        int n = mg_read(req->conn, buf + len, cap - len);
        if (n <= 0 || gw_gate_timed_out(req->conn))
            break;
        len += (size_t)n;
        if ((long long)len > max) {
            free(buf);
            return TD_ETOOBIG;
        }
    }
    if (gw_gate_timed_out(req->conn) || (declared >= 0 && len != (size_t)declared)) {
        free(buf);
        return TD_EBADREQ; /* the deadline passed, or the client went away mid-body */
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

/* Takes the JSON body a route wants. Returns true when it answered an error. */
static bool take_body(struct gw_request *req)
{
    unsigned flags = req->route->flags;
    bool wants_body = flags & (GW_ROUTE_JSON_BODY | GW_ROUTE_OPTIONAL_BODY);
    bool has_body = req->ri->content_length > 0 || gw_header(req, "Transfer-Encoding") != NULL;
    if (!has_body && (!wants_body || (flags & GW_ROUTE_OPTIONAL_BODY)))
        return false;
    if (has_body && !content_type_is_json(gw_header(req, "Content-Type"))) {
        gw_respond_error(req, TD_EMEDIA, NULL, NULL);
        return true;
    }
    char *buf = NULL;
    size_t len = 0;
    int rc = read_body(req, &buf, &len);
    if (rc != 0) {
        /* Whatever is left of the body is unread: the connection cannot
         * carry another request. */
        gw_close_after(req);
        if (gw_gate_timed_out(req->conn))
            gw_respond_status(req, 408, "request_timeout", "Request not received in time");
        else
            gw_respond_error(req, rc, rc == TD_EBADREQ ? "Incomplete request body" : NULL, NULL);
        return true;
    }
    if (len == 0 && (flags & GW_ROUTE_OPTIONAL_BODY)) {
        free(buf);
        return false;
    }
    json_t *json = NULL;
    const char *problem = NULL;
    rc = gw_parse_json_body(buf, len, req->app->cfg->max_json_depth, &json, &problem);
    free(buf);
    if (rc != 0) {
        gw_respond_error(req, TD_EJSON, problem, NULL);
        return true;
    }
    if (!wants_body && json_object_size(json) > 0) {
        /* A route that takes no body refuses fields like any other unknown
         * field, so a client's mistake never passes silently. */
        json_t *details = json_object();
        const char *key;
        json_t *value;
        json_object_foreach(json, key, value)
        {
            json_object_set_new(details, key, json_pack("[s]", "Unknown field."));
        }
        json_decref(json);
        gw_respond_error(req, TD_EINVAL, NULL, details);
        return true;
    }
    req->body = wants_body ? json : NULL;
    if (!wants_body)
        json_decref(json);
    return false;
}

static void route_request(struct gw_request *req)
{
    char allow[128];
    int64_t id = 0;
    const struct gw_route *route = NULL;
    enum gw_match m = gw_router_match(req->ri->request_method, req->path, &route, &id, allow,
                                      sizeof allow);
    if (m != GW_MATCH_OK && req->ri->content_length > req->app->cfg->max_body)
        gw_close_after(req); /* never drain a huge unread body */
    if (m == GW_MATCH_NO_PATH) {
        gw_respond_error(req, TD_ENOTFOUND, NULL, NULL);
        return;
    }
    if (m == GW_MATCH_NO_METHOD) {
        req->path_route = gw_router_path_route(req->path);
        gw_add_header(req, "Allow", "%s", allow);
        gw_respond_error(req, TD_EMETHOD, NULL, NULL);
        return;
    }
    req->route = route;
    req->path_route = route;
    req->path_id = id;
    if (gw_ratelimit_refuse(req))
        return;
    /* Judged on the declared length before a byte is read. It comes after
     * CORS and the rate limit so this answer, too, carries their headers
     * (and counts, like any other answer of a limited route). */
    if (req->ri->content_length > route_max_body(req)) {
        gw_close_after(req);
        gw_respond_error(req, TD_ETOOBIG, NULL, NULL);
        return;
    }
    if (gw_auth_refuse(req) || take_body(req))
        return;
    /* All of the request is in: its deadline stops while it is served (the
     * daemons' own timeouts and the bulkheads bound that). */
    gw_gate_arrived(req->conn);
    route->fn(req);
}

int gw_server_handle(struct mg_connection *conn, void *cbdata)
{
    struct gw_request req;
    memset(&req, 0, sizeof req);
    req.conn = conn;
    req.ri = mg_get_request_info(conn);
    req.app = cbdata;
    req.started_us = td_now_us();

    /* With decode_url=no, local_uri is the raw path without the query. */
    req.path = req.ri->local_uri_raw ? req.ri->local_uri_raw : req.ri->local_uri;
    assign_request_id(&req);
    gw_proxies_identify(&req);
    /* Taken while workers were scarce: this request only, then the worker
     * goes back to the pool. */
    if (gw_gate_admission(conn) == GW_GATE_SERVE_ONCE)
        gw_close_after(&req);

    if (req.ri->num_headers >= MG_MAX_HEADERS) {
        /* civetweb keeps MG_MAX_HEADERS headers and drops the rest without a
         * word, so a 64th may be hiding more (a Transfer-Encoding among
         * them): the framing of this request is unknown. */
        gw_close_after(&req);
        gw_respond_status(&req, 431, "too_many_headers", "Too many request headers (at most 63)");
    } else if (req.ri->request_uri == NULL || req.ri->request_uri[0] != '/') {
        /* An absolute-form target that civetweb resolved to this server:
         * the gateway is no proxy, and serves paths only. */
        gw_close_after(&req);
        gw_respond_error(&req, TD_EBADREQ, "Request target must be a path, not an absolute URL",
                         NULL);
    } else if (req.path == NULL || req.path[0] != '/') {
        gw_respond_error(&req, TD_ENOTFOUND, NULL, NULL);
    } else if (framing_is_ambiguous(&req)) {
        gw_close_after(&req);
        gw_respond_error(&req, TD_EBADREQ, "Ambiguous message framing", NULL);
    } else if (!content_length_is_plain(&req)) {
        gw_close_after(&req);
        gw_respond_error(&req, TD_EBADREQ, "Content-Length must be plain decimal digits", NULL);
    } else if (!gw_cors_handle(&req)) {
        route_request(&req);
    }
    if (req.status == 0) /* a handler that forgot to answer is a bug */
        gw_respond_error(&req, TD_EINTERNAL, NULL, NULL);

    gw_metrics_observe(&req, td_now_us() - req.started_us);
    json_decref(req.body);
    td_log_set_request_id(NULL);
    gw_gate_served(conn);
    return req.status;
}

/* civetweb closes a connection whose request target it cannot route to a
 * handler (asterisk-form "OPTIONS *", or an absolute-form URL naming another
 * host or port) without a word. Before it does, that request gets the API's
 * error like any other. */
static void answer_unrouted(struct mg_connection *conn, struct gw_app *app)
{
    struct gw_request req;
    memset(&req, 0, sizeof req);
    req.conn = conn;
    req.ri = mg_get_request_info(conn);
    req.app = app;
    req.started_us = td_now_us();
    req.path = req.ri->request_uri;
    assign_request_id(&req);
    gw_proxies_identify(&req);
    gw_close_after(&req);
    bool asterisk = strcmp(req.ri->request_uri, "*") == 0;
    gw_respond_error(&req, TD_EBADREQ,
                     asterisk ? "Request target must be a path ('*' is not served)"
                              : "Request target must be a path, not an absolute URL",
                     NULL);
    gw_metrics_observe(&req, td_now_us() - req.started_us);
    td_log_set_request_id(NULL);
}

static void connection_close(const struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    /* The connection is still open here (civetweb calls this before it
     * closes the socket); writing on it is what mg_write is for, and the
     * const is civetweb's promise not to change it, not the socket's. */
    if (ri != NULL && ri->user_data != NULL && gw_gate_unanswered(conn))
        answer_unrouted((struct mg_connection *)conn, ri->user_data);
    gw_gate_connection_close(conn);
}

/* civetweb's own error pages (malformed request line, oversized headers) get
 * the API's JSON shape too. */
static int http_error(struct mg_connection *conn, int status, const char *msg)
{
    (void)msg;
    bool timed_out = false;
    if (!gw_gate_error_may_answer(conn, &timed_out))
        return 0; /* the gate already answered (503) and shut the socket */
    if (timed_out) {
        /* The deadline cut the headers short: civetweb sees a malformed
         * message; the client is told what happened. */
        status = 408;
    }
    /* civetweb calls this mostly for requests it could not parse: 505 (an
     * HTTP version it does not speak) is the client's doing, not an
     * internal error; other 5xx are civetweb's own failures. */
    const char *code = status == 413 || status == 431      ? "payload_too_large"
                       : status == 408                    ? "request_timeout"
                       : status == 404                    ? "not_found"
                       : status == 405                    ? "method_not_allowed"
                       : status >= 500 && status != 505   ? "internal_error"
                                                          : "bad_request";
    const char *message = status == 413 || status == 431 ? "Request headers too large"
                          : status == 408               ? "Request not received in time"
                          : status == 411               ? "Content-Length required"
                          : status == 505               ? "HTTP version not supported"
                          : status >= 500               ? "Internal server error"
                                                        : "Malformed request";
    char body[160], rid[33];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"message\":\"%s\"}", code,
                     message);
    /* The request could not be parsed, so its X-Request-ID cannot be
     * trusted or even found: a fresh one keeps "every response has one". */
    td_rpc_new_id(rid);
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
              "X-Request-ID: %s\r\n"
              "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
              "Referrer-Policy: no-referrer\r\n"
              "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"
              "Cache-Control: no-store\r\nConnection: close\r\n\r\n%s",
              status, mg_get_response_code_text(conn, status), n, rid, body);
    TD_LOG(TD_LOG_INFO, "access", "- civetweb-rejected %d (%s)", status, rid);
    return 0;
}

/* Every request, from the first one civetweb accepts: a handler registered
 * with mg_set_request_handler after mg_start would leave a moment in which
 * the port is open but every path answers civetweb's own 404 (seen by
 * tests/integration/test_shutdown.c as a client raced a restart). */
static int begin_request(struct mg_connection *conn)
{
    return gw_server_handle(conn, mg_get_user_data(mg_get_context(conn)));
}

static int log_message(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    TD_LOG(TD_LOG_WARN, "civetweb", "%s", message);
    return 1;
}

int gw_server_start(struct gw_app *app)
{
    const struct gw_config *cfg = app->cfg;
    char threads[32], queue[32], keepalive[32], timeout[32], reqsize[32];
    snprintf(threads, sizeof threads, "%lld", cfg->threads);
    snprintf(queue, sizeof queue, "%lld", cfg->queue);
    snprintf(keepalive, sizeof keepalive, "%lld", cfg->keepalive_ms);
    snprintf(timeout, sizeof timeout, "%lld", cfg->request_timeout_ms);
    snprintf(reqsize, sizeof reqsize, "%d", GW_MAX_REQUEST_SIZE);
    const char *options[] = {
        "listening_ports", cfg->listen,
        "num_threads", threads,
        "listen_backlog", queue,
        "connection_queue", queue,
        "enable_keep_alive", cfg->keepalive_ms > 0 ? "yes" : "no",
        "keep_alive_timeout_ms", keepalive,
        "request_timeout_ms", timeout,
        "tcp_nodelay", "1",
        "decode_url", "no",
        "access_control_allow_origin", "",
        "access_control_allow_methods", "",
        "access_control_allow_headers", "",
        "max_request_size", reqsize,
        NULL,
    };
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.begin_request = begin_request;
    callbacks.http_error = http_error;
    callbacks.log_message = log_message;
    callbacks.init_connection = gw_gate_init_connection;
    callbacks.connection_close = connection_close;
    /* The gate must be in place before the first accept. */
    int rc = gw_bulkhead_new(cfg, &app->bulkhead);
    rc = rc ? rc : gw_gate_new(cfg, app->proxies, &app->gate);
    rc = rc ? rc : gw_gate_start(app->gate);
    if (rc != 0) {
        TD_LOG(TD_LOG_ERR, "gw_start_failed", "cannot set up the connection gate: %s",
               td_error_symbol(rc));
        gw_gate_free(&app->gate);
        gw_bulkhead_free(&app->bulkhead);
        return rc;
    }
    app->mg = mg_start(&callbacks, app, options);
    if (app->mg == NULL) {
        TD_LOG(TD_LOG_ERR, "gw_listen_failed", "cannot listen on %s", cfg->listen);
        gw_gate_free(&app->gate);
        gw_bulkhead_free(&app->bulkhead);
        return TD_EDOWN;
    }
    struct mg_server_port ports[4];
    int nports = mg_get_server_ports(app->mg, 4, ports);
    if (nports > 0)
        gw_gate_set_port(app->gate, ports[0].port);
    return 0;
}

void gw_server_stop(struct gw_app *app)
{
    if (app->mg != NULL) {
        mg_stop(app->mg);
        app->mg = NULL;
    }
    /* Only now: civetweb's workers, which use both, have all stopped. */
    gw_gate_free(&app->gate);
    gw_bulkhead_free(&app->bulkhead);
}
