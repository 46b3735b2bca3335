/*
 * http.c — writing responses: the status line, the headers every response
 * carries (request id, security headers, CORS and rate-limit headers queued
 * by the edge modules) and the body, in one buffered write.
 */
#include "app.h"
#include "router.h"
#include "td_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* JSON answers never need to load anything: the strictest policy. The docs
 * page needs its own scripts and styles (and Swagger UI's inline styles). */
#define CSP_JSON "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
#define CSP_DOCS                                                                               \
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "                \
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; "       \
    "base-uri 'none'; form-action 'none'"
/* The web app (GW_ROUTE_APP): its own files only, no inline script or style. */
#define CSP_APP                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "              \
    "frame-ancestors 'none'"

void gw_add_header(struct gw_request *req, const char *name, const char *fmt, ...)
{
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof value)
        return;
    size_t room = sizeof req->extra_headers - req->extra_len;
    int w = snprintf(req->extra_headers + req->extra_len, room, "%s: %s\r\n", name, value);
    if (w > 0 && (size_t)w < room)
        req->extra_len += (size_t)w;
    else
        req->extra_headers[req->extra_len] = '\0';
}

const char *gw_header(const struct gw_request *req, const char *name)
{
    for (int i = 0; i < req->ri->num_headers; i++) {
        if (strcasecmp(req->ri->http_headers[i].name, name) == 0)
            return req->ri->http_headers[i].value;
    }
    return NULL;
}

int gw_header_count(const struct gw_request *req, const char *name)
{
    int n = 0;
    for (int i = 0; i < req->ri->num_headers; i++)
        n += strcasecmp(req->ri->http_headers[i].name, name) == 0;
    return n;
}

static const char *reason(int status)
{
    const char *r = mg_get_response_code_text(NULL, status);
    return r ? r : "";
}

static const char *csp(const struct gw_request *req)
{
    unsigned flags = req->route != NULL ? req->route->flags : 0;
    return (flags & GW_ROUTE_APP) ? CSP_APP : (flags & GW_ROUTE_HTML) ? CSP_DOCS : CSP_JSON;
}

/* The status line and headers of every response; `length` is the framing
 * header line ("Content-Length: n\r\n", "Transfer-Encoding: chunked\r\n"
 * or ""). Returns the bytes written into head, or -1 when they do not fit. */
static int build_head(struct gw_request *req, int status, const char *content_type,
                      const char *length, char *head, size_t size)
{
    bool no_store = req->route == NULL || (req->route->flags & GW_ROUTE_NO_STORE);
    int n = snprintf(head, size,
                     "HTTP/1.1 %d %s\r\n"
                     "%s"
                     "%s%s%s"
                     "X-Request-ID: %s\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "X-Frame-Options: DENY\r\n"
                     "Referrer-Policy: no-referrer\r\n"
                     "Content-Security-Policy: %s\r\n"
                     "%s%s"
                     "%.*s\r\n",
                     status, reason(status), length, content_type ? "Content-Type: " : "",
                     content_type ? content_type : "", content_type ? "\r\n" : "",
                     req->request_id, csp(req),
                     no_store ? "Cache-Control: no-store\r\n" : "",
                     req->over_tls ? "Strict-Transport-Security: max-age=63072000; "
                                     "includeSubDomains\r\n"
                                   : "",
                     (int)req->extra_len, req->extra_headers);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

int gw_stream_start(struct gw_request *req, int status, const char *content_type)
{
    char head[4096];
    int n = build_head(req, status, content_type, "Transfer-Encoding: chunked\r\n", head,
                       sizeof head);
    if (n < 0)
        return gw_respond_raw(req, 500, "application/json", NULL, 0);
    int w = mg_write(req->conn, head, (size_t)n);
    req->status = status;
    req->bytes_sent = w > 0 ? (size_t)w : 0;
    return status;
}

int gw_stream_write(struct gw_request *req, const char *data, size_t len)
{
    if (len == 0 || strcmp(req->ri->request_method, "HEAD") == 0)
        return 0;
    /* mg_send_chunk takes an unsigned int length: large pieces in parts. */
    while (len > 0) {
        unsigned part = len > (1u << 20) ? (1u << 20) : (unsigned)len;
        if (mg_send_chunk(req->conn, data, part) <= 0)
            return -1;
        req->bytes_sent += part;
        data += part;
        len -= part;
    }
    return 0;
}

int gw_stream_end(struct gw_request *req)
{
    if (strcmp(req->ri->request_method, "HEAD") == 0)
        return 0;
    return mg_write(req->conn, "0\r\n\r\n", 5) == 5 ? 0 : -1;
}

/* A body cut short on a keep-alive connection would leave the client
 * waiting for the next chunk until the keep-alive timeout: the connection
 * is closed once the handler returns, without the terminating chunk, so the
 * client sees a truncated body (the same call gw_close_after makes). */
void gw_stream_abort(struct gw_request *req)
{
    req->aborted = true;
    mg_disable_connection_keep_alive(req->conn);
}

int gw_respond_raw(struct gw_request *req, int status, const char *content_type,
                   const char *body, size_t len)
{
    char head[4096];
    char length[48] = ""; /* RFC 9110 §8.6: a 204 carries no Content-Length, */
    if (status != 204 && status != 304) /* nor a 304 here (it would have to be the 200's) */
        snprintf(length, sizeof length, "Content-Length: %zu\r\n", len);
    int n = build_head(req, status, content_type, length, head, sizeof head);
    bool head_only = strcmp(req->ri->request_method, "HEAD") == 0;
    if (n < 0) {
        /* The headers did not fit: a bare 500, and no body after it (its
         * length would contradict the Content-Length: 0 just sent). */
        n = snprintf(head, sizeof head, "HTTP/1.1 500 Internal Server Error\r\n"
                                        "Content-Length: 0\r\nConnection: close\r\n\r\n");
        status = 500;
        head_only = true;
    }
    int w1 = mg_write(req->conn, head, (size_t)n);
    int w2 = (len > 0 && body && !head_only) ? mg_write(req->conn, body, len) : 0;
    req->status = status;
    req->bytes_sent = (w1 > 0 ? (size_t)w1 : 0) + (w2 > 0 ? (size_t)w2 : 0);
    return status;
}

int gw_respond_json(struct gw_request *req, int status, const json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (text == NULL)
        return gw_respond_raw(req, 500, "application/json",
                              "{\"error\":\"internal_error\",\"message\":\"Internal server error\"}",
                              61);
    int rc = gw_respond_raw(req, status, "application/json", text, strlen(text));
    free(text);
    return rc;
}

void gw_close_after(struct gw_request *req)
{
    if (!req->closing) {
        req->closing = true;
        gw_add_header(req, "Connection", "close");
    }
    mg_disable_connection_keep_alive(req->conn);
}

int gw_respond_status(struct gw_request *req, int status, const char *error, const char *message)
{
    json_t *body = json_pack("{s:s, s:s}", "error", error, "message", message);
    int rc = body ? gw_respond_json(req, status, body)
                  : gw_respond_raw(req, 500, "application/json", NULL, 0);
    json_decref(body);
    return rc;
}

void gw_add_auth_challenge(struct gw_request *req, const char *error)
{
    /* error="invalid_token" only where a bearer token was presented and
     * refused; no token (or another scheme) and bad credentials get the bare
     * challenge (RFC 6750, section 3). */
    bool token_refused = strcmp(error, "invalid_token") == 0 ||
                         strcmp(error, "token_expired") == 0 ||
                         strcmp(error, "token_revoked") == 0;
    gw_add_header(req, "WWW-Authenticate", "%s",
                  token_refused ? "Bearer error=\"invalid_token\"" : "Bearer");
}

int gw_respond_error(struct gw_request *req, int code, const char *message, json_t *details)
{
    int status = td_error_http_status(code);
    if (status == 401)
        gw_add_auth_challenge(req, td_error_name(code));
    json_t *body = json_pack("{s:s, s:s}", "error", td_error_name(code), "message",
                             message ? message : td_error_message(code));
    if (body != NULL && details != NULL)
        json_object_set(body, "details", details);
    json_decref(details);
    int rc = body ? gw_respond_json(req, status, body)
                  : gw_respond_raw(req, 500, "application/json", NULL, 0);
    json_decref(body);
    return rc;
}
