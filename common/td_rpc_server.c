/*
 * td_rpc_server.c — the rep side of td_rpc.h.
 *
 * Each worker thread owns one nng context and two aios (receive, send) and
 * runs a plain blocking loop; with N workers, N requests are in service at
 * once and the rest queue inside nng. Blocking work (SQLite, hashing) is fine
 * in a handler because it ties up only its own worker.
 *
 * A worker does not wait for its reply to leave: when the connection is busy
 * with other replies, nng queues it, and the worker goes on to receive the
 * next request (rep0 appends the routing header when the send is posted, so
 * the next receive cannot change where the queued reply goes). It waits for
 * that send only before it posts the next one, which by then has long
 * finished; this saved a sleep and a wake-up per request under load.
 *
 * Shutdown: `stopping` is set and every receive is cancelled; a worker that is
 * in the middle of a handler finishes it and sends its reply before it sees
 * the flag. Receives also time out every 250 ms so a worker that slipped past
 * the cancel still notices the flag.
 */
#include "td_rpc.h"
#include "td_config.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_time.h"
#include "td_utf8.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct worker {
    struct td_rpc_server *srv;
    unsigned index;
    nng_ctx ctx;
    nng_aio *recv_aio;
    nng_aio *send_aio;
    bool send_pending; /* send_aio carries a reply not yet known to be sent */
    pthread_t thread;
    bool started;
};

struct td_rpc_server {
    char service[32];
    nng_socket sock;
    td_rpc_handler_fn handlers[TD_OP_COUNT];
    void *app;
    atomic_bool stopping;
    unsigned nworkers;
    struct worker *workers;
};

/* ---- replies ------------------------------------------------------------ */

static void reply_init(struct td_rpc_reply *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->status = 200;
    msgpack_sbuffer_init(&rep->result);
    msgpack_packer_init(&rep->pk, &rep->result, msgpack_sbuffer_write);
}

static void reply_destroy(struct td_rpc_reply *rep)
{
    msgpack_sbuffer_destroy(&rep->result);
}

msgpack_packer *td_rpc_reply_result(struct td_rpc_reply *rep, int status)
{
    msgpack_sbuffer_clear(&rep->result);
    rep->status = status;
    rep->code = 0;
    rep->has_result = true;
    return &rep->pk;
}

int td_rpc_reply_error(struct td_rpc_reply *rep, int code, const char *message)
{
    rep->code = code;
    rep->status = td_error_http_status(code);
    rep->has_result = false;
    snprintf(rep->message, sizeof rep->message, "%s", message ? message : td_error_message(code));
    return code;
}

void td_rpc_reply_detail(struct td_rpc_reply *rep, const char *field, const char *message)
{
    if (rep->ndetails >= TD_RPC_MAX_DETAILS)
        return;
    snprintf(rep->details[rep->ndetails].field, sizeof rep->details[0].field, "%s", field);
    snprintf(rep->details[rep->ndetails].message, sizeof rep->details[0].message, "%s", message);
    rep->ndetails++;
}

void td_rpc_reply_detail_key(struct td_rpc_reply *rep, const msgpack_object *key,
                             const char *message)
{
    char name[TD_RPC_FIELD_MAX];
    size_t n = 0;
    if (key->type != MSGPACK_OBJECT_STR) {
        name[n++] = '?';
    } else {
        const char *s = key->via.str.ptr;
        size_t len = key->via.str.size;
        for (size_t i = 0; i < len;) {
            uint32_t cp = 0;
            size_t k = td_utf8_decode(s + i, len - i, &cp);
            bool shown = k > 0 && cp >= 0x20 && cp != 0x7F;
            size_t take = shown ? k : 1;
            if (n + (shown ? k : 1) >= sizeof name)
                break;
            if (shown)
                memcpy(name + n, s + i, k);
            else
                name[n] = '?';
            n += shown ? k : 1;
            i += take;
        }
    }
    name[n] = '\0';
    td_rpc_reply_detail(rep, name, message);
}

/* Packs {"field": ["msg", ...], ...}, grouping messages of the same field. */
static int pack_details(msgpack_packer *pk, const struct td_rpc_reply *rep)
{
    size_t nfields = 0;
    for (size_t i = 0; i < rep->ndetails; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(rep->details[j].field, rep->details[i].field) == 0;
        nfields += !seen;
    }
    int rc = msgpack_pack_map(pk, nfields);
    for (size_t i = 0; rc == 0 && i < rep->ndetails; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(rep->details[j].field, rep->details[i].field) == 0;
        if (seen)
            continue;
        size_t count = 0;
        for (size_t j = i; j < rep->ndetails; j++)
            count += strcmp(rep->details[j].field, rep->details[i].field) == 0;
        rc = td_mp_pack_cstr(pk, rep->details[i].field);
        rc = rc ? rc : msgpack_pack_array(pk, count);
        for (size_t j = i; rc == 0 && j < rep->ndetails; j++) {
            if (strcmp(rep->details[j].field, rep->details[i].field) == 0)
                rc = td_mp_pack_cstr(pk, rep->details[j].message);
        }
    }
    return rc;
}

/* Encodes the envelope around the reply into `out`. */
static int encode_reply(const struct td_rpc_reply *rep, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 3);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, TD_KEY_VERSION, TD_PROTO_VERSION);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, TD_KEY_STATUS, rep->status);
    if (rep->code == 0) {
        rc = rc ? rc : td_mp_pack_cstr(&pk, TD_KEY_RESULT);
        if (rc == 0 && rep->has_result && rep->result.size > 0)
            /* msgpack is concatenative: the result's bytes are the value. */
            rc = msgpack_sbuffer_write(out, rep->result.data, rep->result.size);
        else
            rc = rc ? rc : msgpack_pack_nil(&pk);
    } else {
        rc = rc ? rc : td_mp_pack_cstr(&pk, TD_KEY_ERROR);
        rc = rc ? rc : msgpack_pack_map(&pk, rep->ndetails ? 3 : 2);
        rc = rc ? rc : td_mp_pack_kv_str(&pk, "error", td_error_name(rep->code));
        rc = rc ? rc : td_mp_pack_kv_str(&pk, "message", rep->message);
        if (rc == 0 && rep->ndetails) {
            rc = td_mp_pack_cstr(&pk, "details");
            rc = rc ? rc : pack_details(&pk, rep);
        }
    }
    return rc == 0 ? 0 : TD_ENOMEM;
}

/* ---- dispatch ----------------------------------------------------------- */

static int handle_ping(struct td_rpc_server *srv, struct td_rpc_reply *rep)
{
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    int rc = msgpack_pack_map(pk, 3);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "service", srv->service);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "version", TD_VERSION);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "protocol", TD_PROTO_VERSION);
    return rc == 0 ? 0 : TD_ENOMEM;
}

/* Decodes the envelope of a request; fills req and returns 0, or TD_EPROTO. */
static int decode_request(const msgpack_object *root, struct td_rpc_request *req, char *rid,
                          char *cid)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return TD_EPROTO;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return TD_EPROTO;
    }
    int64_t version, uid = 0;
    const msgpack_object *v = td_mp_map_get(root, TD_KEY_VERSION);
    if (td_mp_as_int64(v, &version) != 0 || version != TD_PROTO_VERSION)
        return TD_EPROTO;
    const msgpack_object *op = td_mp_map_get(root, TD_KEY_OP);
    if (op == NULL || op->type != MSGPACK_OBJECT_STR || op->via.str.size > TD_PROTO_OP_MAX)
        return TD_EPROTO;
    int id = td_op_from_name(op->via.str.ptr, op->via.str.size);
    req->op = id < 0 ? TD_OP_COUNT : (enum td_op)id;

    const msgpack_object *o = td_mp_map_get(root, TD_KEY_REQUEST_ID);
    if (o != NULL && td_mp_copy_str(o, rid, TD_PROTO_RID_MAX + 1) != 0)
        return TD_EPROTO;
    o = td_mp_map_get(root, TD_KEY_CALL_ID);
    if (o != NULL && td_mp_copy_str(o, cid, TD_PROTO_CID_MAX + 1) != 0)
        return TD_EPROTO;
    o = td_mp_map_get(root, TD_KEY_USER_ID);
    if (o != NULL && (td_mp_as_int64(o, &uid) != 0 || uid < 0))
        return TD_EPROTO;
    o = td_mp_map_get(root, TD_KEY_ARGS);
    if (o != NULL && o->type != MSGPACK_OBJECT_MAP && o->type != MSGPACK_OBJECT_NIL)
        return TD_EPROTO;
    req->user_id = uid;
    req->args = (o != NULL && o->type == MSGPACK_OBJECT_MAP) ? o : NULL;
    req->request_id = rid;
    req->call_id = cid;
    return 0;
}

int td_rpc_server_handle_bytes(struct td_rpc_server *srv, unsigned worker, const char *in,
                               size_t in_len, char **out, size_t *out_len)
{
    int64_t started_us = td_log_threshold >= TD_LOG_DEBUG ? td_now_us() : 0;
    struct td_rpc_reply rep;
    reply_init(&rep);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    char rid[TD_PROTO_RID_MAX + 1] = "", cid[TD_PROTO_CID_MAX + 1] = "";
    struct td_rpc_request req = {.worker = worker, .request_id = rid, .call_id = cid};

    int rc = td_mp_unpack(in, in_len, &up);
    if (rc == 0)
        rc = decode_request(&up.data, &req, rid, cid);
    td_log_set_request_id(rid);
    if (rc != 0) {
        TD_LOG(TD_LOG_WARN, "rpc_bad_request", "malformed request of %zu bytes refused", in_len);
        td_rpc_reply_error(&rep, rc == TD_ENOMEM ? TD_ENOMEM : TD_EPROTO, NULL);
    } else if (req.op < TD_OP_COUNT && srv->handlers[req.op] != NULL) {
        rc = srv->handlers[req.op](srv->app, &req, &rep);
        if (rc < 0 && rep.code == 0)
            td_rpc_reply_error(&rep, rc, NULL);
        else if (rc == 0 && rep.code != 0)
            rep.code = 0, rep.status = 200; /* a handler that succeeded wins */
        if (rc < 0 && td_error_http_status(rc) >= 500)
            TD_LOG(TD_LOG_ERR, "rpc_handler_failed", "%s failed: %s", td_op_name(req.op),
                   td_error_symbol(rc));
    } else if (req.op == TD_OP_PING) {
        rc = handle_ping(srv, &rep);
        if (rc != 0)
            td_rpc_reply_error(&rep, rc, NULL);
    } else {
        td_rpc_reply_error(&rep, TD_EUNKNOWNOP, NULL);
    }

    /* One line per request at debug level: with LOG_LEVEL=debug every daemon
     * a request touched says so under the request's id. */
    TD_LOG(TD_LOG_DEBUG, "rpc", "%s %d %lldus",
           req.op < TD_OP_COUNT ? td_op_name(req.op) : "?", rep.status,
           (long long)(td_now_us() - started_us));
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    rc = encode_reply(&rep, &sb);
    msgpack_unpacked_destroy(&up);
    reply_destroy(&rep);
    td_log_set_request_id(NULL);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sb);
        return rc;
    }
    *out_len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return 0;
}

/* ---- workers ------------------------------------------------------------ */

/* Waits for the worker's previous reply to be handed to its connection. */
static void finish_send(struct worker *w)
{
    if (!w->send_pending)
        return;
    nng_aio_wait(w->send_aio);
    if (nng_aio_result(w->send_aio) != 0)
        nng_msg_free(nng_aio_get_msg(w->send_aio)); /* a failed send leaves it ours */
    w->send_pending = false;
}

static void serve_one(struct worker *w, nng_msg *msg)
{
    char *out = NULL;
    size_t out_len = 0;
    int rc = td_rpc_server_handle_bytes(w->srv, w->index, nng_msg_body(msg), nng_msg_len(msg),
                                        &out, &out_len);
    nng_msg_free(msg);
    if (rc != 0)
        return; /* out of memory: the caller times out, which is all we can offer */
    nng_msg *reply;
    if (nng_msg_alloc(&reply, 0) != 0 || nng_msg_append(reply, out, out_len) != 0) {
        free(out);
        return;
    }
    free(out);
    finish_send(w);
    nng_aio_set_msg(w->send_aio, reply);
    nng_ctx_send(w->ctx, w->send_aio);
    w->send_pending = true;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    while (!atomic_load(&w->srv->stopping)) {
        nng_ctx_recv(w->ctx, w->recv_aio);
        nng_aio_wait(w->recv_aio);
        int rv = nng_aio_result(w->recv_aio);
        if (rv == NNG_ETIMEDOUT || rv == NNG_ECANCELED)
            continue;
        if (rv != 0) {
            if (rv != NNG_ECLOSED)
                TD_LOG(TD_LOG_WARN, "rpc_recv_failed", "receive failed: %s", nng_strerror(rv));
            break;
        }
        serve_one(w, nng_aio_get_msg(w->recv_aio));
    }
    finish_send(w); /* the drain includes the last reply */
    return NULL;
}

static void server_free(struct td_rpc_server *srv)
{
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        if (w->recv_aio)
            nng_aio_free(w->recv_aio);
        if (w->send_aio)
            nng_aio_free(w->send_aio);
    }
    free(srv->workers);
    free(srv);
}

static void join_workers(struct td_rpc_server *srv, int drain_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += drain_ms / 1000;
    deadline.tv_nsec += (long)(drain_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    bool closed = false;
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        if (!w->started)
            continue;
        if (!closed && pthread_timedjoin_np(w->thread, NULL, &deadline) == 0)
            continue;
        if (!closed) {
            /* The drain time is up: closing the socket fails whatever is left. */
            TD_LOG(TD_LOG_WARN, "rpc_drain_timeout", "in-flight requests abandoned at shutdown");
            nng_close(srv->sock);
            closed = true;
        }
        pthread_join(w->thread, NULL);
    }
    if (!closed)
        nng_close(srv->sock);
}

int td_rpc_listen(nng_socket sock, const char *url)
{
    if (strncmp(url, "ipc://", 6) != 0)
        return nng_listen(sock, url, NULL, 0);
    nng_listener l;
    int rv = nng_listener_create(&l, sock, url);
    if (rv != 0)
        return rv;
    /* Set before the socket file exists, so it is never world-connectable. */
    rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0660);
    if (rv == 0)
        rv = nng_listener_start(l, 0);
    if (rv != 0)
        nng_listener_close(l);
    return rv;
}

/* Logged so an operator (and a test) can see a replica join a caller. */
static void dialled_in(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)arg;
    if (nng_dialer_id(nng_pipe_dialer(p)) > 0)
        TD_LOG(TD_LOG_INFO, ev == NNG_PIPE_EV_ADD_POST ? "rpc_dialled_in" : "rpc_dial_lost",
               "connection %u to a caller %s", nng_pipe_id(p),
               ev == NNG_PIPE_EV_ADD_POST ? "established" : "lost");
}

/* Dials every URL of a comma-separated list in the background: the callers
 * may not be up yet, and nng redials whenever a connection drops. */
static int dial_all(nng_socket sock, const char *list)
{
    if (nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 20) != 0 ||
        nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 500) != 0 ||
        nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, dialled_in, NULL) != 0 ||
        nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, dialled_in, NULL) != 0)
        return TD_EINTERNAL;
    int rc = 0;
    const char *cursor = list, *item;
    size_t len;
    while (rc == 0 && td_list_next(&cursor, &item, &len)) {
        char u[1024];
        if (len >= sizeof u)
            return TD_EINVAL;
        memcpy(u, item, len);
        u[len] = '\0';
        int rv = 0;
        for (int k = 0; rv == 0 && k < TD_RPC_CONNECTIONS; k++)
            rv = nng_dial(sock, u, NULL, NNG_FLAG_NONBLOCK);
        if (rv != 0) {
            TD_LOG(TD_LOG_ERR, "rpc_dial_failed", "cannot dial in to %s: %s", u, nng_strerror(rv));
            rc = TD_EINVAL;
        }
    }
    return rc;
}

int td_rpc_server_start(const struct td_rpc_server_opts *opts, struct td_rpc_server **out)
{
    bool has_listen = opts->url != NULL && opts->url[0] != '\0';
    bool has_dial = opts->dial_urls != NULL && opts->dial_urls[0] != '\0';
    if (opts->workers == 0 || (!has_listen && !has_dial))
        return TD_EINVAL;
    struct td_rpc_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return TD_ENOMEM;
    snprintf(srv->service, sizeof srv->service, "%s", opts->service ? opts->service : "?");
    srv->app = opts->app;
    for (size_t i = 0; i < opts->nroutes; i++) {
        if ((unsigned)opts->routes[i].op < TD_OP_COUNT)
            srv->handlers[opts->routes[i].op] = opts->routes[i].fn;
    }
    srv->workers = calloc(opts->workers, sizeof *srv->workers);
    if (srv->workers == NULL) {
        free(srv);
        return TD_ENOMEM;
    }
    srv->nworkers = opts->workers;

    int rv = nng_rep0_open(&srv->sock);
    if (rv != 0) {
        server_free(srv);
        return TD_ENOMEM;
    }
    int rc = 0;
    if (nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, TD_PROTO_MAX_REQUEST) != 0)
        rc = TD_EINTERNAL;
    for (unsigned i = 0; rc == 0 && i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        w->srv = srv;
        w->index = i;
        if (nng_ctx_open(&w->ctx, srv->sock) != 0 || nng_aio_alloc(&w->recv_aio, NULL, NULL) != 0 ||
            nng_aio_alloc(&w->send_aio, NULL, NULL) != 0)
            rc = TD_ENOMEM;
        else {
            nng_aio_set_timeout(w->recv_aio, 250);
            nng_aio_set_timeout(w->send_aio, 5000);
        }
    }
    if (rc == 0 && has_dial)
        rc = dial_all(srv->sock, opts->dial_urls);
    if (rc == 0 && has_listen) {
        rv = td_rpc_listen(srv->sock, opts->url);
        if (rv != 0) {
            TD_LOG(TD_LOG_ERR, "rpc_listen_failed", "cannot listen on %s: %s", opts->url,
                   nng_strerror(rv));
            rc = rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ? TD_EINVAL : TD_EDOWN;
        }
    }
    for (unsigned i = 0; rc == 0 && i < srv->nworkers; i++) {
        struct worker *w = &srv->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            rc = TD_ENOMEM;
        else
            w->started = true;
    }
    if (rc != 0) {
        atomic_store(&srv->stopping, true);
        join_workers(srv, 1000);
        server_free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

void td_rpc_server_stop(struct td_rpc_server **psrv, int drain_ms)
{
    struct td_rpc_server *srv = *psrv;
    if (srv == NULL)
        return;
    atomic_store(&srv->stopping, true);
    for (unsigned i = 0; i < srv->nworkers; i++)
        nng_aio_cancel(srv->workers[i].recv_aio);
    join_workers(srv, drain_ms);
    server_free(srv);
    *psrv = NULL;
}
