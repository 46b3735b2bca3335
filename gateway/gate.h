/*
 * gate.h — the connection gate: what stands between civetweb's accept and
 * its worker threads, so that slow or hostile clients cannot hold every
 * worker (docs/operations.md, "Slow and hostile clients").
 *
 * civetweb 1.15 serves each connection on one worker thread for its whole
 * life and offers no hook that sees the socket before a worker starts
 * reading from it: a client that sends its headers one byte at a time keeps
 * a worker, and /health waits behind it. The gate adds what is missing:
 *
 * - at accept (gate.c interposes accept(), which civetweb's master thread
 *   calls, and poll(), where a worker first waits on the connection it took;
 *   gate.c says why): every connection is registered with its socket; a
 *   client address (an IPv6 /64) with GATEWAY_MAX_CLIENT_CONNECTIONS
 *   connections already is answered 503 and closed at once (trusted proxies
 *   are exempt), and so is every new connection while every worker holds a
 *   connection and connections have been waiting for one longer than
 *   GATE_QUEUE_WAIT_MS (a fast 503 instead of a queue);
 * - when a worker takes a connection while no more than
 *   GATEWAY_RESERVED_THREADS workers are free, the connection is only served
 *   if its whole request (headers, and a body of up to 64 KiB) arrives within
 *   GATE_PEEK_MS, and then for that one request; anything slower is answered
 *   503 and closed. So the last workers only ever serve whole requests, and
 *   /health and /ready always find one;
 * - one deadline per request (GATEWAY_REQUEST_TIMEOUT_MS for headers and
 *   body together, from accept, or from the previous response plus
 *   GATEWAY_KEEPALIVE_MS on a kept-alive connection): a watchdog thread
 *   shuts the socket's read side when it passes, civetweb's read or the body
 *   intake returns at once, and the client gets 408;
 * - a header value holding a horizontal tab is served: civetweb 1.15 refuses
 *   any control character in the header block (400), so the gate, which also
 *   interposes recv(), passes header-line tabs to it as spaces (both are
 *   whitespace in a field value). An obs-fold line (a header line starting
 *   with whitespace), which civetweb would take as the end of the headers
 *   and silently drop the rest, is refused with 400 instead.
 *
 * All of it is process-wide: one gateway server per process.
 */
#ifndef GW_GATE_H
#define GW_GATE_H

#include "app.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_gate;

/* civetweb's request buffer (its max_request_size option): the request
 * line and headers must fit. */
#define GW_MAX_REQUEST_SIZE 16384

/* How long a taken connection under pressure may take to deliver its whole
 * request; how long an accepted connection may wait for a worker. */
#define GATE_PEEK_MS 200
#define GATE_QUEUE_WAIT_MS 250

/* Builds the gate for cfg (GATEWAY_LISTEN's port, GATEWAY_THREADS,
 * GATEWAY_QUEUE, GATEWAY_RESERVED_THREADS, GATEWAY_MAX_CLIENT_CONNECTIONS,
 * GATEWAY_REQUEST_TIMEOUT_MS) and `proxies` (not owned; outlives the gate).
 * Returns 0 or TD_ENOMEM; *out is written on success only. */
int gw_gate_new(const struct gw_config *cfg, const struct gw_proxies *proxies,
                struct gw_gate **out);

/* Makes `g` the process's gate and starts its watchdog; call before
 * mg_start. 0, or TD_ENOMEM (thread not started; nothing installed). */
int gw_gate_start(struct gw_gate *g);

/* The port civetweb really listens on (mg_get_server_ports), when known
 * only after it started; connections on other listeners pass ungated. */
void gw_gate_set_port(struct gw_gate *g, int port);

/* Uninstalls, stops the watchdog, frees; call after mg_stop (no worker may
 * still run). Accepts NULL and sets *g to NULL. */
void gw_gate_free(struct gw_gate **g);

/* civetweb's init_connection and connection_close callbacks (server.c
 * registers them; they do nothing when no gate is installed). */
int gw_gate_init_connection(const struct mg_connection *conn, void **conn_data);
void gw_gate_connection_close(const struct mg_connection *conn);

/* ---- what the request pipeline asks ------------------------------------- */

enum gw_gate_admit {
    GW_GATE_SERVE = 0,  /* an ordinary connection */
    GW_GATE_SERVE_ONCE, /* taken under pressure: serve this request, then close */
};

/* How the connection was admitted. */
enum gw_gate_admit gw_gate_admission(const struct mg_connection *conn);

/* The request has arrived in full (headers and body): its deadline no
 * longer runs while it is served. */
void gw_gate_arrived(const struct mg_connection *conn);

/* The response has gone out: the next request's deadline starts now. */
void gw_gate_served(const struct mg_connection *conn);

/* True when the request's deadline passed (the watchdog shut its read
 * side): answer 408 and close. */
bool gw_gate_timed_out(const struct mg_connection *conn);

/* civetweb is about to answer an error itself (the http_error callback):
 * false when the gate already answered this connection (write nothing);
 * otherwise true, with *timed_out telling whether the deadline was the
 * cause. The connection counts as answered from then on. */
bool gw_gate_error_may_answer(const struct mg_connection *conn, bool *timed_out);

/* In connection_close: true when civetweb parsed a request on this
 * connection but neither served it nor answered it (an asterisk-form or
 * absolute-form target it does not route), so the caller can answer it. */
bool gw_gate_unanswered(const struct mg_connection *conn);

/* ---- /metrics ------------------------------------------------------------ */

struct gw_gate_stats {
    uint64_t refused_client;  /* 503: the address had too many connections */
    uint64_t refused_busy;    /* 503: no worker free in time */
    uint64_t timeouts;        /* requests cut at their deadline (408) */
    unsigned active, queued;  /* connections on a worker / waiting for one */
};

/* Zeroes *out when g is NULL. */
void gw_gate_stats(struct gw_gate *g, struct gw_gate_stats *out);

/* ---- parts, for tests ---------------------------------------------------- */

/* The header-phase rewrite, over one chunk of received bytes: header-line
 * tabs become spaces, the first whitespace of an obs-fold line becomes a
 * tab (so civetweb refuses it), the request line and everything after the
 * blank line that ends the headers stay as they are. *state starts at 0 for
 * each request and carries over between chunks. The recv() hook applies it
 * only to reads into civetweb's request buffer, from each request's first
 * byte; bodies are never touched. */
void gw_gate_scan(unsigned char *state, char *buf, size_t len);

/* Whether buf[0..len) holds a whole request: headers, and the body their
 * Content-Length declares or a chunked body up to its last chunk. */
bool gw_gate_request_complete(const char *buf, size_t len);

#endif
