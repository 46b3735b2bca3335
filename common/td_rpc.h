/*
 * td_rpc.h — msgpack request/reply over nng, the only way daemons talk.
 *
 * Server: listens on one URL and serves many requests at once on a fixed set
 * of slots, each one nng context driven by aio callbacks through
 * receive -> decode -> dispatch -> encode -> send. Short reads marked
 * `inline_ok` run on nng's own task thread; everything else is handed to a
 * pool of worker threads. Handlers see no sockets: they get a decoded
 * request and fill a reply. Stopping drains what is in flight and then
 * closes; common/td_rpc_server.c ("Shutdown") lists its steps.
 *
 * Client: one req socket dialled to one or more URLs of a service (nng
 * spreads requests over the connected peers); a URL whose host is a name is
 * dialled at every address the name resolves to, re-resolved as replicas
 * come and go (td_rpc_dial_replicas). Any number of threads call at
 * once, each call on its own context with its own deadline. A call tells
 * "down" (no peer connected, or the peer went away mid-call: TD_EDOWN) from
 * "slow" (a peer is connected but the deadline passed: TD_ETIMEDOUT).
 *
 * Addressing: usually a daemon listens and its callers dial. For services
 * that scale out (several td-sentiment replicas), the direction can be turned
 * round so no caller needs a list of replicas: the caller *listens* (a URL
 * written "listen+tcp://0.0.0.0:5563" in its client URL list) and every
 * replica *dials in* to it (the server's `dial_urls`). nng's req socket then
 * spreads calls over whichever replicas are connected, and a replica that
 * dies simply drops out (its in-flight calls fail with TD_EDOWN).
 *
 * Every dial opens TD_RPC_CONNECTIONS connections to its peer, not one: nng
 * sends one message per connection at a time and starts the next only from
 * its completion callback, so with one connection concurrent calls queued
 * behind each other (measured: about a quarter more CPU per call, and the
 * waits showed as p99 latency).
 *
 * Both sides cap incoming message size (NNG_OPT_RECVMAXSZ) and decode with
 * td_mp_unpack; the req side disables nng's automatic resend so a request is
 * never executed twice behind the caller's back (docs/library-notes.md, "req0 re-sends a request").
 */
#ifndef TD_RPC_H
#define TD_RPC_H

#include "proto/td_proto.h"

#include <nng/nng.h>

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Connections per dialled peer (see above). */
#define TD_RPC_CONNECTIONS 4

/* ---- server ------------------------------------------------------------ */

struct td_rpc_request {
    enum td_op op;
    const char *request_id;     /* NUL-terminated; "" when the caller sent none */
    const char *call_id;        /* unique per call; "" when none (dedupe key for writes) */
    int64_t user_id;            /* authenticated user, 0 when none */
    const msgpack_object *args; /* NULL when the request carried no args */
    unsigned worker;            /* connection index, in [0, workers): no other
                                 * running handler holds it meanwhile */
};

#define TD_RPC_MAX_DETAILS 16
#define TD_RPC_FIELD_MAX 128 /* bytes of a field name in details */

struct td_rpc_reply {
    int status;      /* HTTP-style status of the reply */
    int code;        /* TD_E* of an error reply, 0 otherwise */
    bool has_result; /* td_rpc_reply_result was called */
    msgpack_sbuffer result;
    msgpack_packer pk;
    char message[256];
    size_t ndetails;
    struct {
        char field[TD_RPC_FIELD_MAX];
        char message[160];
    } details[TD_RPC_MAX_DETAILS];
};

/* Starts a success reply with `status` (200, 201) and returns the packer into
 * which the handler packs exactly one object: the result. */
msgpack_packer *td_rpc_reply_result(struct td_rpc_reply *rep, int status);

/* Makes the reply an error of `code` (a TD_E*), with `message` (NULL: the
 * code's default). Returns `code`, so a handler can `return td_rpc_reply_error(...)`. */
int td_rpc_reply_error(struct td_rpc_reply *rep, int code, const char *message);

/* Adds a validation detail {"field": ["message"]}; several per field are fine.
 * Details beyond TD_RPC_MAX_DETAILS are dropped. */
void td_rpc_reply_detail(struct td_rpc_reply *rep, const char *field, const char *message);

/* Adds a detail for an argument key the handler did not expect, named by the
 * key itself (any bytes may arrive: invalid UTF-8 and control characters are
 * shown as '?', a long name is cut at a character boundary, an empty name
 * stays empty, a non-string key is named "?"). */
void td_rpc_reply_detail_key(struct td_rpc_reply *rep, const msgpack_object *key,
                             const char *message);

/* A handler returns 0 after td_rpc_reply_result, or a negative TD_E* (with or
 * without td_rpc_reply_error first). `app` is the server's opts.app. */
typedef int (*td_rpc_handler_fn)(void *app, const struct td_rpc_request *req,
                                 struct td_rpc_reply *rep);

struct td_rpc_route {
    enum td_op op;
    td_rpc_handler_fn fn;
    /* Served on nng's own task thread, without waking a worker: only for
     * short handlers that never wait on another daemon or a lock held for
     * long (reads). Everything else leaves it false. */
    bool inline_ok;
};

/* One more place to listen, for callers of other roles (TLS: one role). */
struct td_rpc_endpoint {
    const char *url; /* NULL or "": none */
    unsigned callers;
};

struct td_rpc_server_opts {
    const char *service; /* "auth": answered in ping */
    const char *url;     /* where to listen (see "transports"); NULL or "" to
                          * only dial in */
    unsigned callers;    /* roles admitted at `url`; 0: every role (tests) */
    const struct td_rpc_endpoint *more; /* further listeners, e.g. the operator's */
    size_t nmore;
    const char *dial_urls; /* callers' sockets to dial in to (comma-separated; a
                            * host name: every address it resolves to), or NULL */
    unsigned dial_callers; /* the role of those callers (one role with TLS) */
    unsigned workers;
    const struct td_rpc_route *routes; /* ping is built in unless routed here */
    size_t nroutes;
    void *app;
};

struct td_rpc_server;

/* Listens and starts the workers. Returns 0 and *out, or TD_EINVAL (bad url),
 * TD_EDOWN (cannot listen), TD_ENOMEM. */
int td_rpc_server_start(const struct td_rpc_server_opts *opts, struct td_rpc_server **out);

/* Stops taking requests (an ipc socket file is removed at once), lets
 * in-flight ones finish and send their replies (up to `drain_ms`), waits a
 * short settle time so those replies leave, closes the socket and frees the
 * server. Sets *srv to NULL. */
void td_rpc_server_stop(struct td_rpc_server **srv, int drain_ms);

/* nng_close(sock) for a socket that listens, waiting 2 s at most: nng 1.5.2
 * can wait for ever once its reaper is stuck (td_rpc_transport.c, "closing a
 * listening socket, bounded"). Past that it logs rpc_close_stuck and
 * returns with the socket's contexts closed. */
void td_rpc_close_listening(const char *service, nng_socket sock);

/* True once td_rpc_close_listening gave up on a socket: nng_fini would then
 * wait for ever, and td_daemon_finish skips it. */
bool td_rpc_close_stuck(void);

/* ---- the reaper watch (td_rpc_reaper.c) ------------------------------
 *
 * nng 1.5.2's reaper can block for good, after which a dialer whose peer
 * dies never dials it again (docs/library-notes.md, "nng's reaper can
 * wedge"). The watch closes a canary connection inside the process every
 * period_ms; if nng has not torn it down stuck_ms later, it logs
 * nng_reaper_wedged, calls on_wedged once (on the watch's thread) and stops.
 * td_daemon_wait runs it while a daemon serves. */
struct td_rpc_reaper_watch_opts {
    int period_ms;
    int stuck_ms;
    void (*on_wedged)(void); /* may be NULL */
};

/* Starts the watch (one per process). Returns 0, TD_EINVAL (bad options, or
 * already running) or TD_EINTERNAL (logged: nng could not make the canary). */
int td_rpc_reaper_watch_start(const struct td_rpc_reaper_watch_opts *opts);

/* Stops the watch and closes its canary, unless the reaper is wedged (the
 * close would wait for ever; the process's exit takes it). */
void td_rpc_reaper_watch_stop(void);

/* True once the watch has seen the reaper wedged. */
bool td_rpc_reaper_wedged(void);

/* Canary teardowns the watch has seen (tests). */
uint64_t td_rpc_reaper_teardowns(void);

/* What a server has received since it started (tests, benchmarks). */
struct td_rpc_server_stats {
    uint64_t messages;      /* messages received, batches counted once */
    uint64_t batches;       /* well-formed batches among them */
    uint64_t batched_calls; /* calls those batches carried */
    uint64_t late_calls;    /* batched calls answered TD_PROTO_BATCH_LATE */
};
void td_rpc_server_stats(struct td_rpc_server *srv, struct td_rpc_server_stats *out);

/* Serves one raw request (decode, dispatch, encode) without any socket; the
 * same code path the workers run. Used by tests and fuzz targets.
 * On success *out and *out_len hold the reply bytes (free with free()). */
int td_rpc_server_handle_bytes(struct td_rpc_server *srv, unsigned worker, const char *in,
                               size_t in_len, char **out, size_t *out_len);

/* ---- transports (td_rpc_transport.c) ----------------------------------
 *
 * URLs: ipc://path (one host: the socket file is 0660, owner and group, in a
 * directory others cannot write to; an operator listener's file is 0600),
 * tls+tcp://host:port (mutual TLS: RPC_TLS_DIR holds every role's CA as
 * ca-<role>.pem and this process's certificate and key as <role>.pem), and
 * tcp://host:port (no authentication: loopback only in production).
 * A tls+tcp listener trusts one role's CA, so the role of whoever connects
 * there is known; a dialer trusts only the CA of the role it dials. */

/* Sets this process's TLS identity (its role) and the certificate directory;
 * NULL or "" for none. Call once, before any socket. Returns 0, or TD_EINVAL
 * when the role is not one role or <dir>/<role>.pem is unreadable (logged). */
int td_rpc_tls_setup(const char *dir, unsigned self_role);

/* Listens on `url` for callers of the roles `callers` (a TLS listener: exactly
 * one role). *out (may be NULL) gets the listener. Returns nng's result.
 *
 * A tls+tcp listener of nng 1.5.2 stops accepting for good once a peer hangs
 * up in the middle of a TLS handshake (docs/library-notes.md, "A TLS
 * listener stops accepting"), so every tls+tcp listener made here is
 * watched: one whose accepting ended is closed and replaced by a new
 * listener on the same address within about 100 ms, and `moved`
 * (may be NULL) learns the new listener's id from the watcher's thread.
 * td_rpc_unwatch(sock) must come before nng_close(sock). */
typedef void (*td_rpc_moved_fn)(void *arg, uint32_t old_id, uint32_t new_id);
int td_rpc_listen_watched(nng_socket sock, const char *url, unsigned callers,
                          td_rpc_moved_fn moved, void *arg, nng_listener *out);
int td_rpc_listen(nng_socket sock, const char *url, unsigned callers, nng_listener *out);

/* Stops watching every listener of `sock` and forgets the host names
 * dialled on it (td_rpc_dial_replicas); when it returns, no listener
 * replacement and no dialer of `sock` is being made or closed, or will be.
 * Cheap when there are none. Every owner of a socket that listened or
 * dialled through this file calls it before nng_close(sock). */
void td_rpc_unwatch(nng_socket sock);

/* Dials `url` in the background (redialling while the peer is down),
 * expecting a server of role `peer` (checked with TLS). *out may be NULL.
 * Returns nng's result. A host name in `url` is left to nng, which connects
 * to one of its addresses per attempt: callers of a service use
 * td_rpc_dial_replicas. */
int td_rpc_dial(nng_socket sock, const char *url, unsigned peer, nng_dialer *out);

/* td_rpc_dial with the TLS server name given (NULL: the URL's host), for a
 * URL whose host is one address of that name (common/td_rpc_names.c). */
int td_rpc_dial_as(nng_socket sock, const char *url, const char *server_name, unsigned peer,
                   nng_dialer *out);

/* Dials every replica behind `url` with `connections` connections each:
 * an ipc:// URL or an IP literal is one peer (td_rpc_dial); a tcp:// or
 * tls+tcp:// host name is resolved to every address it has, each dialled
 * (with TLS, the certificate must still name the host name), and resolved
 * again every TD_RPC_RESOLVE_MS so replicas that come and go are dialled
 * and dropped (common/td_rpc_names.h). A name that does not resolve yet is
 * not an error: calls find no peer (TD_EDOWN) until it does. `service`
 * names the logs. td_rpc_unwatch(sock) must come before nng_close(sock).
 * Returns 0 or nng's error. */
int td_rpc_dial_replicas(nng_socket sock, const char *url, unsigned peer, int connections,
                         const char *service);

/* The roles to admit where a daemon listens for callers of role `role`:
 * that role alone on tls+tcp (the listener trusts its CA), the stack's
 * daemons on ipc or loopback tcp, which cannot tell them apart. */
unsigned td_rpc_url_callers(const char *url, unsigned role);

/* Checks one URL (a "listen+" prefix allowed) against the schemes and the
 * policy above (`production`: plain tcp only on loopback). Returns 0, or
 * TD_EINVAL with a one-line reason in err. */
int td_rpc_url_check(const char *url, bool production, char *err, size_t errlen);

/* ---- client ------------------------------------------------------------ */

struct td_rpc_client_opts {
    const char *service; /* for logs: "diary" */
    unsigned peer;       /* the role of the servers dialled (TLS checks it);
                          * with a "listen+" URL, the role of who dials in */
    const char *urls;    /* one URL or several, comma-separated, to dial; a URL
                          * prefixed "listen+" is listened on instead, for
                          * replicas that dial in */
    int timeout_ms;      /* default per-call deadline */
    int connections;      /* connections per dialled URL, or per address of a
                           * URL's host name (0: TD_RPC_CONNECTIONS);
                           * a one-shot tool wants 1: it closes right after its
                           * call, and closing while other dials are still in
                           * their handshake leaks them in nng 1.5.2
                           * (docs/library-notes.md) */
    int connect_grace_ms; /* how long a call waits for a first connection when
                           * none is up (0: 100 ms, right for daemons that stay
                           * connected; a one-shot tool connecting anew, over
                           * TLS, needs longer) */
    int coalesce;         /* batch calls (see "Coalescing" below): 0 as
                           * td_rpc_coalesce_setup says (on by default), 1 on,
                           * -1 off */
    int max_in_flight;    /* coalescing: messages of one batch class in flight
                           * before calls wait to share one (0: the default) */
};

struct td_rpc_client;

/* Coalescing (proto/README.md, "Batches"): a call of a batchable operation
 * (td_op_batch_class) that finds fewer than `max_in_flight` messages of its
 * class in flight goes out at once, alone, exactly as without coalescing.
 * Otherwise it waits for one of them to come back, and the calls waiting
 * then leave together as one batch message (at most TD_PROTO_BATCH_MAX calls
 * and TD_PROTO_BATCH_BYTES), each with its own ids, user, deadline and
 * reply. No timer: at low load nothing waits. Errors per call are those of a
 * call sent alone; each caller still waits only until its own deadline. */
#define TD_RPC_MAX_IN_FLIGHT 2

/* The process's default for clients opened with coalesce 0 (RPC_COALESCE,
 * common/td_config.h). Call before opening clients. */
void td_rpc_coalesce_setup(bool on);

/* What a client has sent since it was opened (tests, benchmarks). */
struct td_rpc_client_stats {
    uint64_t messages;      /* messages sent, a batch counted once */
    uint64_t batches;       /* messages carrying more than one call */
    uint64_t batched_calls; /* calls those carried */
    uint64_t largest_batch; /* most calls in one message */
    uint64_t alone_again;   /* batched calls sent again alone: the peer
                             * refused batches, or their reply did not fit */
};
void td_rpc_client_stats(struct td_rpc_client *c, struct td_rpc_client_stats *out);

/* Opens the socket and starts dialling every URL in the background (a peer
 * that is down is retried with backoff; a host name that does not resolve
 * yet is asked again, see td_rpc_dial_replicas). Returns 0 and *out, or
 * TD_EINVAL (bad URL list), TD_ENOMEM. */
int td_rpc_client_open(const struct td_rpc_client_opts *opts, struct td_rpc_client **out);

/* Closes the socket (calls in flight fail with TD_EDOWN) and frees; NULLs *c. */
void td_rpc_client_free(struct td_rpc_client **c);

/* Connections open right now: `connections` per reachable peer (each
 * address of a host name is a peer). */
int td_rpc_client_peers(struct td_rpc_client *c);

struct td_rpc_call {
    enum td_op op;
    const char *request_id; /* NULL: this thread's log request id */
    int64_t user_id;        /* 0: none */
    const char *args;       /* one packed msgpack object, or NULL for none */
    size_t args_len;
    int timeout_ms; /* 0: the client's default */
    /* The call id (proto/README.md, `cid`), at most TD_PROTO_CID_MAX bytes;
     * NULL or "": a fresh random one. A caller that sends one write again
     * (to another replica) passes the id of the first attempt, so the
     * server's dedupe makes both one write. */
    const char *call_id;
};

struct td_rpc_result {
    int status;                   /* the reply's status */
    const msgpack_object *result; /* success: the result (may be nil) */
    const msgpack_object *error;  /* failure: the {error, message, details?} map */
    msgpack_unpacked unpacked;    /* owns the objects result/error point to */
    void *msg;                    /* the reply's bytes, which strings point into */
};

/* Sends one request and waits for its reply. Returns 0 when a well-formed
 * reply arrived, whatever its status (free *out with td_rpc_result_free);
 * TD_EDOWN, TD_ETIMEDOUT, TD_EPROTO (malformed reply) or TD_ENOMEM otherwise,
 * with *out untouched. */
int td_rpc_call(struct td_rpc_client *c, const struct td_rpc_call *call,
                struct td_rpc_result *out);

void td_rpc_result_free(struct td_rpc_result *r);

/* Reads the error string and message of an error reply (NULL when absent). */
const msgpack_object *td_rpc_result_error_field(const struct td_rpc_result *r, const char *key);

/* Fills buf with a fresh random hex id of 32 characters (128 bits). */
void td_rpc_new_id(char buf[33]);

#endif
