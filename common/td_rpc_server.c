/*
 * td_rpc_server.c — the rep side of td_rpc.h.
 *
 * Requests arrive on a fixed set of slots, one nng context each, driven by
 * aio callbacks: receive -> serve -> send -> receive. A handler runs holding
 * a connection index (td_rpc_request.worker) from a pool of as many as
 * there are slots, so no two running handlers share one, also when the
 * calls of one batch (proto/README.md, "Batches"; "batches: serving one"
 * below) run side by side. Serving happens in one of two places:
 *
 * - routes marked `inline_ok` (short reads that never wait on another
 *   daemon) run in the callback itself, on nng's task thread: no other
 *   thread is woken, which measured ~14 us of CPU per call against ~25 us
 *   for a hand-off (ops/bench/bench_rpc.c prints both);
 * - everything else (writes, hashing, calls to td-sentiment) is queued for
 *   the worker threads, so blocking work never holds up nng's own threads.
 *
 * Each slot has two aios, one for receiving and one for sending, so that
 * shutdown can cancel a slot's wait for a request without ever touching a
 * reply on its way out.
 *
 * Shutdown (shut_down below), in order:
 *   1. stop accepting: `stopping` is set, and an ipc socket file is removed so
 *      no new connection can start;
 *   2. wait until no thread is between deciding to receive and having posted
 *      the receive, then cancel every slot still waiting for a request;
 *      slots serving a request finish it and send the reply;
 *   3. wait for every slot to finish, up to the drain time;
 *   4. settle (SETTLE_MS): let the last replies leave and let nng take in any
 *      connection it negotiated while its accept loop was cooling down;
 *   5. close the socket and join the workers.
 * Step 4 exists because of two things nng 1.5.2 does (docs/library-notes.md):
 * a reply's send completes when the pipe has taken the message, before its
 * bytes are written, and nng_close drops what is unwritten; and a connection
 * that finishes its SP handshake while the listener is in its 100 ms accept
 * cool-down (entered whenever a peer hangs up mid-handshake) waits in a
 * transport list that closing the listener never frees (a LeakSanitizer
 * report at exit).
 */
#include "td_rpc.h"
#include "td_rpc_batch.h"
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Step 4 of shutdown: longer than nng 1.5.2's accept cool-down (100 ms,
 * src/core/listener.c listener_accept_cb), and ample for a reply already
 * taken by a pipe to be written to a local peer. */
#define SETTLE_MS 150

enum slot_state { SLOT_RECEIVING, SLOT_SERVING, SLOT_SENDING, SLOT_FINISHED };

/* A request decoded once, in the callback, and kept for whoever serves it.
 * Its strings point into `msg`, and req's ids into rid/cid. */
struct decoded {
    nng_msg *msg;
    msgpack_unpacked up;
    struct td_rpc_request req;
    char rid[TD_PROTO_RID_MAX + 1], cid[TD_PROTO_CID_MAX + 1];
    int rc;           /* 0, BATCH_FRAME, or why the envelope was refused */
    unsigned callers; /* roles admitted where it arrived (td_proto.h) */
    size_t in_len;    /* bytes of the envelope */
    int64_t ttl_ms;   /* a batched call's "ttl"; 0: none */
};

/* decode: the message is a well-formed batch frame, held in `up`. */
#define BATCH_FRAME 1

struct slot;
struct bcall;

/* Work for the worker pool: a slot's request, or one call of its batch. */
struct job {
    struct job *next;
    struct slot *sl;
    struct bcall *call; /* NULL: the slot's own request */
};

/* One call of a batch (proto/README.md, "Batches"). */
struct bcall {
    struct job job;
    struct decoded in;
    int64_t deadline_ms; /* td_mono_ms by which its reply must leave; 0: none */
    bool done;           /* served (under srv->lock) */
    bool in_reply;       /* done when the batch was answered */
    char *out;           /* its encoded reply; NULL: none (out of memory) */
    size_t out_len;
};

/* A batch in service on a slot. The slot moves on to its next request only
 * when every hold is gone: each call until served, the reply until sent,
 * the timer while armed, and the dispatch in received(). Holds, `pending`,
 * `answered` and the calls' `done` change under srv->lock. */
struct batch {
    nng_msg *msg;           /* the request: every call's bytes point into it */
    msgpack_unpacked frame; /* the array of bins */
    unsigned n, pending;    /* calls; calls not served yet */
    unsigned holds;
    bool answered;          /* the reply is made of the calls done by then */
    bool timer_armed;
    struct bcall calls[];
};

/* A listener of the server's socket and the roles it admits. */
struct endpoint {
    _Atomic uint32_t id; /* nng_listener_id; a replaced TLS listener's new
                          * id is stored by the watcher */
    unsigned callers;
};
#define MAX_ENDPOINTS 32

struct slot {
    struct td_rpc_server *srv;
    unsigned index;
    nng_ctx ctx;
    nng_aio *recv_aio;     /* waits for a request; callback received */
    nng_aio *send_aio;     /* carries the reply; callback sent */
    nng_aio *timer_aio;    /* a batch's next deadline; callback batch_timer */
    enum slot_state state; /* changed under srv->lock */
    struct decoded in;     /* SLOT_SERVING a request alone */
    struct batch *batch;   /* SLOT_SERVING a batch, else NULL */
    struct job job;        /* the request alone, in the worker queue */
};

struct td_rpc_server {
    char service[32];
    nng_socket sock;
    td_rpc_handler_fn handlers[TD_OP_COUNT];
    bool inline_ok[TD_OP_COUNT];
    void *app;
    atomic_bool stopping;
    _Atomic int64_t last_send_ms; /* td_mono_ms of the last reply sent */
    pthread_mutex_t lock;
    pthread_cond_t work;     /* the queue gained a job, an index came back, or workers_exit */
    pthread_cond_t finished; /* a slot reached SLOT_FINISHED, or in_nng fell to 0 */
    struct endpoint endpoints[MAX_ENDPOINTS]; /* written before the first receive */
    unsigned nendpoints;
    /* The roles admitted on the connections this server dialled out (dial+
     * mode). Every dialer of the socket is made for them, and dialers come
     * and go as the callers' host names resolve (td_rpc_dial_replicas), so
     * a connection is judged by having a dialer, not by its id. */
    unsigned dial_callers;
    struct {                 /* the ipc socket files we listen on, and their */
        char path[256];      /* identity, so stopping removes our files, */
        dev_t dev;           /* never one a successor has bound since */
        ino_t ino;
    } ipc[4];
    unsigned nipc;
    struct job *queue, **queue_tail;
    /* The connection indices (td_rpc_request.worker) not in use: a handler
     * holds one while it runs, so no two running handlers share one, also
     * when the calls of one batch run at once. */
    unsigned *free_index;
    unsigned nfree;
    atomic_uint_fast64_t n_messages, n_batches, n_batched_calls, n_late_calls;
    unsigned nfinished;
    unsigned in_nng;         /* threads inside an nng call on a slot */
    bool closing;            /* nng_close is next: no new nng calls */
    bool workers_exit;
    unsigned nslots;
    struct slot *slots;
    unsigned nthreads;
    pthread_t *threads;
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
                          char *cid, int64_t *ttl_ms)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return TD_EPROTO;
    if (!td_mp_map_keys_unique(root))
        return TD_EPROTO;
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
    o = td_mp_map_get(root, TD_KEY_TTL);
    if (o != NULL && (td_mp_as_int64(o, ttl_ms) != 0 || *ttl_ms < 1 || *ttl_ms > TD_PROTO_TTL_MAX))
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

/* Decodes the envelope of `msg` (kept in d, which must not move after). A
 * whole message (`whole`) may instead be a batch: d->rc is BATCH_FRAME for
 * a well-formed one, and any other array is malformed; an envelope inside a
 * batch must be a map. */
static void decode(nng_msg *msg, const char *in, size_t in_len, unsigned callers, bool whole,
                   struct decoded *d)
{
    d->msg = msg;
    d->callers = callers;
    d->in_len = in_len;
    d->ttl_ms = 0;
    d->rid[0] = d->cid[0] = '\0';
    d->req = (struct td_rpc_request){.request_id = d->rid, .call_id = d->cid};
    msgpack_unpacked_init(&d->up);
    d->rc = td_mp_unpack(in, in_len, &d->up);
    if (d->rc == 0 && whole && d->up.data.type == MSGPACK_OBJECT_ARRAY)
        d->rc = td_rpc_batch_request_ok(&d->up.data) ? BATCH_FRAME : TD_EPROTO;
    else if (d->rc == 0)
        d->rc = decode_request(&d->up.data, &d->req, d->rid, d->cid, &d->ttl_ms);
}

static void decoded_destroy(struct decoded *d)
{
    msgpack_unpacked_destroy(&d->up);
    if (d->msg != NULL)
        nng_msg_free(d->msg);
    d->msg = NULL;
}

/* Runs the handler of a decoded request, holding connection index `worker`,
 * and encodes the reply. */
static int serve_decoded(struct td_rpc_server *srv, struct decoded *d, unsigned worker,
                         char **out, size_t *out_len)
{
    int64_t started_us = td_log_threshold >= TD_LOG_DEBUG ? td_now_us() : 0;
    struct td_rpc_reply rep;
    reply_init(&rep);
    struct td_rpc_request req = d->req;
    req.worker = worker;
    int rc = d->rc;
    td_log_set_request_id(d->rid);
    if (rc != 0) {
        TD_LOG(TD_LOG_WARN, "rpc_bad_request", "malformed request of %zu bytes refused",
               d->in_len);
        td_rpc_reply_error(&rep, rc == TD_ENOMEM ? TD_ENOMEM : TD_EPROTO, NULL);
    } else if (req.op < TD_OP_COUNT && (td_op_callers(req.op) & d->callers) == 0) {
        /* A caller that reached this endpoint may not run this operation
         * (td_proto.h lists who may call what). */
        TD_LOG(TD_LOG_WARN, "rpc_forbidden", "%s refused: not allowed where it arrived",
               td_op_name(req.op));
        td_rpc_reply_error(&rep, TD_EFORBIDDEN, "Operation not allowed for this caller");
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

/* ---- batches: the frame of their reply ---------------------------------- */

/* How long before a batched call's deadline its batch is answered without
 * it: a tenth of its time, 1 to 50 ms, so the reply reaches the caller
 * before the caller's own deadline does. */
static int64_t reply_margin_ms(int64_t ttl_ms)
{
    int64_t m = ttl_ms / 10;
    return m < 1 ? 1 : m > 50 ? 50 : m;
}

/* Packs the reply of a batch: for each call, its reply envelope as a bin
 * when it was served by the time the batch was answered, else
 * TD_PROTO_BATCH_LATE; a reply that would take the whole past
 * TD_PROTO_MAX_REPLY is TD_PROTO_BATCH_ALONE instead (the caller asks for it
 * alone). Returns 0 or msgpack's error. */
static int pack_batch_reply(msgpack_packer *pk, const struct bcall *calls, unsigned n)
{
    size_t total = 5 + (size_t)n * 5; /* the array's header, each element's header */
    int rc = msgpack_pack_array(pk, n);
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        const struct bcall *c = &calls[i];
        if (!c->in_reply || c->out == NULL) {
            rc = msgpack_pack_unsigned_int(pk, TD_PROTO_BATCH_LATE);
        } else if (total + c->out_len > TD_PROTO_MAX_REPLY) {
            rc = msgpack_pack_unsigned_int(pk, TD_PROTO_BATCH_ALONE);
        } else {
            total += c->out_len;
            rc = td_rpc_batch_pack_bin(pk, c->out, c->out_len);
        }
    }
    return rc;
}

static size_t batch_reply_size(const struct bcall *calls, unsigned n)
{
    size_t total = 5 + (size_t)n * 5;
    for (unsigned i = 0; i < n; i++) {
        if (calls[i].in_reply && calls[i].out != NULL && total + calls[i].out_len <= TD_PROTO_MAX_REPLY)
            total += calls[i].out_len;
    }
    return total;
}

/* A batch served in turn, without sockets or deadlines (handle_bytes). */
static int handle_batch_bytes(struct td_rpc_server *srv, unsigned worker, const msgpack_object *frame,
                              char **out, size_t *out_len)
{
    unsigned n = frame->via.array.size;
    struct bcall *calls = calloc(n, sizeof *calls);
    if (calls == NULL)
        return TD_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        const msgpack_object *e = &frame->via.array.ptr[i];
        struct bcall *c = &calls[i];
        decode(NULL, e->via.bin.ptr, e->via.bin.size, TD_ROLES_ALL, false, &c->in);
        if (serve_decoded(srv, &c->in, worker, &c->out, &c->out_len) != 0)
            c->out = NULL;
        c->in_reply = true;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = pack_batch_reply(&pk, calls, n) == 0 ? 0 : TD_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        decoded_destroy(&calls[i].in);
        free(calls[i].out);
    }
    free(calls);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sb);
        return rc;
    }
    *out_len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return 0;
}

int td_rpc_server_handle_bytes(struct td_rpc_server *srv, unsigned worker, const char *in,
                               size_t in_len, char **out, size_t *out_len)
{
    struct decoded d;
    decode(NULL, in, in_len, TD_ROLES_ALL, true, &d);
    int rc = d.rc == BATCH_FRAME ? handle_batch_bytes(srv, worker, &d.up.data, out, out_len)
                                 : serve_decoded(srv, &d, worker, out, out_len);
    decoded_destroy(&d);
    return rc;
}

void td_rpc_server_stats(struct td_rpc_server *srv, struct td_rpc_server_stats *out)
{
    *out = (struct td_rpc_server_stats){
        .messages = atomic_load(&srv->n_messages),
        .batches = atomic_load(&srv->n_batches),
        .batched_calls = atomic_load(&srv->n_batched_calls),
        .late_calls = atomic_load(&srv->n_late_calls),
    };
}

/* ---- slots and workers -------------------------------------------------- */

static void finish_locked(struct slot *sl);

static void set_state(struct slot *sl, enum slot_state st)
{
    struct td_rpc_server *srv = sl->srv;
    pthread_mutex_lock(&srv->lock);
    if (st == SLOT_FINISHED)
        finish_locked(sl);
    else
        sl->state = st;
    pthread_mutex_unlock(&srv->lock);
}

/* Marks a slot finished; the caller holds srv->lock. */
static void finish_locked(struct slot *sl)
{
    sl->state = SLOT_FINISHED;
    sl->srv->nfinished++;
    pthread_cond_broadcast(&sl->srv->finished);
}

/* A free connection index, or false when every one is in use. The caller
 * holds srv->lock. */
static bool take_index_locked(struct td_rpc_server *srv, unsigned *out)
{
    if (srv->nfree == 0)
        return false;
    *out = srv->free_index[--srv->nfree];
    return true;
}

static void put_index_locked(struct td_rpc_server *srv, unsigned index)
{
    srv->free_index[srv->nfree++] = index;
    if (srv->queue != NULL)
        pthread_cond_signal(&srv->work); /* a job waited for an index */
}

static void put_index(struct td_rpc_server *srv, unsigned index)
{
    pthread_mutex_lock(&srv->lock);
    put_index_locked(srv, index);
    pthread_mutex_unlock(&srv->lock);
}

static void enqueue_locked(struct td_rpc_server *srv, struct job *job)
{
    job->next = NULL;
    *srv->queue_tail = job;
    srv->queue_tail = &job->next;
    pthread_cond_signal(&srv->work);
}

/* Served on nng's task thread rather than by a worker: pings and routes
 * marked inline_ok. */
static bool runs_inline(const struct td_rpc_server *srv, const struct decoded *d)
{
    enum td_op op = d->rc == 0 ? d->req.op : TD_OP_COUNT;
    return op == TD_OP_PING || (op < TD_OP_COUNT && srv->inline_ok[op]);
}

/* A thread is about to call nng on a slot's context: false once shut_down
 * has started closing the socket. nng 1.5.2 frees the socket under a call
 * still running in another thread (its completion callback can reach
 * SLOT_FINISHED on nng's thread before nng_ctx_send has returned in ours:
 * "panic: pthread_mutex_lock: Invalid argument"), so nng_close waits until
 * no thread is inside such a call. The caller holds srv->lock. */
static bool enter_nng_locked(struct td_rpc_server *srv)
{
    if (srv->closing)
        return false;
    srv->in_nng++;
    return true;
}

static void leave_nng(struct td_rpc_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    if (--srv->in_nng == 0 && (srv->closing || atomic_load(&srv->stopping)))
        pthread_cond_broadcast(&srv->finished);
    pthread_mutex_unlock(&srv->lock);
}

/* Waits for the next request, unless the server is stopping. */
static void receive_next(struct slot *sl)
{
    struct td_rpc_server *srv = sl->srv;
    pthread_mutex_lock(&srv->lock);
    bool go = !atomic_load(&srv->stopping) && enter_nng_locked(srv);
    if (go)
        sl->state = SLOT_RECEIVING;
    else
        finish_locked(sl);
    pthread_mutex_unlock(&srv->lock);
    if (go) {
        nng_ctx_recv(sl->ctx, sl->recv_aio);
        leave_nng(srv);
    }
}

static void batch_release(struct slot *sl);

/* Posts a reply on the slot (the send's completion comes back to sent).
 * When the socket is already closing, the reply is dropped and the slot
 * finishes (a batch: when its last hold goes). */
static void send_reply(struct slot *sl, nng_msg *reply)
{
    struct td_rpc_server *srv = sl->srv;
    bool batch = sl->batch != NULL;
    pthread_mutex_lock(&srv->lock);
    bool go = enter_nng_locked(srv);
    if (go)
        sl->state = SLOT_SENDING;
    else if (!batch)
        finish_locked(sl); /* the drain time ran out: the socket is closed */
    pthread_mutex_unlock(&srv->lock);
    if (!go) {
        nng_msg_free(reply);
        if (batch)
            batch_release(sl);
        return;
    }
    nng_aio_set_msg(sl->send_aio, reply);
    nng_ctx_send(sl->ctx, sl->send_aio);
    leave_nng(srv);
}

/* Serves the slot's decoded request, holding connection index `index`, and
 * posts the reply. */
static void serve(struct slot *sl, unsigned index)
{
    char *out = NULL;
    size_t out_len = 0;
    int rc = serve_decoded(sl->srv, &sl->in, index, &out, &out_len);
    put_index(sl->srv, index);
    decoded_destroy(&sl->in);
    nng_msg *reply = NULL;
    if (rc == 0 && (nng_msg_alloc(&reply, 0) != 0 || nng_msg_append(reply, out, out_len) != 0)) {
        nng_msg_free(reply);
        reply = NULL;
    }
    free(out);
    if (reply == NULL) {
        /* out of memory: the caller times out, which is all we can offer */
        receive_next(sl);
        return;
    }
    send_reply(sl, reply);
}

/* The reply has been taken by the pipe (or failed): on to the next request. */
static void sent(void *arg)
{
    struct slot *sl = arg;
    if (nng_aio_result(sl->send_aio) != 0)
        nng_msg_free(nng_aio_get_msg(sl->send_aio)); /* a failed send leaves it ours */
    atomic_store(&sl->srv->last_send_ms, td_mono_ms());
    if (sl->batch != NULL)
        batch_release(sl);
    else
        receive_next(sl);
}

/* ---- batches: serving one ------------------------------------------------
 *
 * req/rep allows one reply per request, so a batch is answered once: when
 * its last call is served, or when the earliest deadline ("ttl") of a call
 * not yet served is near (reply_margin_ms), whichever comes first; a call
 * not served by then is answered TD_PROTO_BATCH_LATE, and its caller sees
 * the timeout it would have seen alone. Calls of inline routes run one after
 * the other on the thread that received the batch; the others go to the
 * worker pool at once, so they run side by side. A call served after the
 * reply left is dropped, as a reply to a caller that gave up is today, and
 * the slot takes its next request only when every call has ended, so drain
 * and shutdown wait for batched calls exactly as for single ones. Clients
 * batch only calls of one class of similar cost (td_proto.h,
 * td_batch_class), so the wait for the slowest of a batch stays short. */

static void batch_free(struct batch *b)
{
    for (unsigned i = 0; i < b->n; i++) {
        decoded_destroy(&b->calls[i].in);
        free(b->calls[i].out);
    }
    msgpack_unpacked_destroy(&b->frame);
    nng_msg_free(b->msg);
    free(b);
}

/* Drops one hold; the last one frees the batch and lets the slot move on. */
static void batch_release(struct slot *sl)
{
    struct td_rpc_server *srv = sl->srv;
    struct batch *b = sl->batch;
    pthread_mutex_lock(&srv->lock);
    bool last = --b->holds == 0;
    pthread_mutex_unlock(&srv->lock);
    if (!last)
        return;
    sl->batch = NULL;
    batch_free(b);
    receive_next(sl);
}

/* Fixes which calls the reply carries. The caller holds srv->lock. */
static void batch_answer_locked(struct td_rpc_server *srv, struct batch *b)
{
    b->answered = true;
    for (unsigned i = 0; i < b->n; i++) {
        b->calls[i].in_reply = b->calls[i].done;
        if (!b->calls[i].done)
            atomic_fetch_add(&srv->n_late_calls, 1);
    }
}

/* The earliest deadline of a call not yet served, 0 when none has one. The
 * caller holds srv->lock. */
static int64_t batch_next_deadline_locked(const struct batch *b)
{
    int64_t next = 0;
    for (unsigned i = 0; i < b->n; i++) {
        const struct bcall *c = &b->calls[i];
        if (!c->done && c->deadline_ms > 0 && (next == 0 || c->deadline_ms < next))
            next = c->deadline_ms;
    }
    return next;
}

/* Builds and sends the reply of an answered batch. Its reply hold goes when
 * the send completes (sent), or here when it cannot be sent. */
static void batch_reply(struct slot *sl)
{
    struct batch *b = sl->batch;
    nng_msg *reply = NULL;
    int rc = nng_msg_alloc(&reply, 0);
    rc = rc ? rc : nng_msg_reserve(reply, batch_reply_size(b->calls, b->n));
    if (rc == 0) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, reply, td_rpc_msg_write);
        rc = pack_batch_reply(&pk, b->calls, b->n);
    }
    if (rc != 0) {
        /* out of memory: the callers time out, which is all we can offer */
        if (reply != NULL)
            nng_msg_free(reply);
        batch_release(sl);
        return;
    }
    send_reply(sl, reply);
}

/* Arms the timer for the earliest deadline of a call not yet served, if
 * none is armed and the batch is not answered. The caller holds srv->lock;
 * returns the wait to pass to nng_sleep_aio after unlocking, or -1. */
static nng_duration batch_arm_locked(struct batch *b)
{
    if (b->answered || b->timer_armed || b->pending == 0)
        return -1;
    int64_t next = batch_next_deadline_locked(b);
    if (next == 0)
        return -1;
    int64_t wait = next - td_mono_ms();
    b->timer_armed = true;
    b->holds++;
    return wait > 0 ? (nng_duration)wait : 0;
}

/* Starts the timer batch_arm_locked armed. The batch may be answered between
 * the arming and this (a worker serving its last call), and that cancel
 * found no timer running yet: so look again once it runs, and cancel it now,
 * or it would hold the slot until the deadline for nothing. The caller keeps
 * a hold of its own across this, so the batch cannot go meanwhile. */
static void batch_start_timer(struct slot *sl, nng_duration wait)
{
    struct td_rpc_server *srv = sl->srv;
    nng_sleep_aio(wait, sl->timer_aio);
    pthread_mutex_lock(&srv->lock);
    bool answered = sl->batch->answered;
    pthread_mutex_unlock(&srv->lock);
    if (answered)
        nng_aio_cancel(sl->timer_aio);
}

/* A batched call has been served: keep its reply, or drop it when the batch
 * was answered without it; answer the batch when it was the last. */
static void batch_call_done(struct slot *sl, struct bcall *c, char *out, size_t out_len)
{
    struct td_rpc_server *srv = sl->srv;
    struct batch *b = sl->batch;
    pthread_mutex_lock(&srv->lock);
    bool keep = !b->answered;
    if (keep) {
        c->out = out;
        c->out_len = out_len;
    }
    c->done = true;
    b->pending--;
    bool reply = !b->answered && b->pending == 0;
    if (reply)
        batch_answer_locked(srv, b);
    bool cancel = reply && b->timer_armed;
    pthread_mutex_unlock(&srv->lock);
    if (!keep) {
        TD_LOG(TD_LOG_DEBUG, "rpc_batch_late", "a batched call ended after its batch was answered");
        free(out);
    }
    if (cancel)
        nng_aio_cancel(sl->timer_aio);
    if (reply)
        batch_reply(sl);
    batch_release(sl);
}

/* Serves one call of the slot's batch holding connection index `index`,
 * given back after the handler when `put`. */
static void batch_serve_call(struct slot *sl, struct bcall *c, unsigned index, bool put)
{
    char *out = NULL;
    size_t out_len = 0;
    if (serve_decoded(sl->srv, &c->in, index, &out, &out_len) != 0)
        out = NULL; /* out of memory: answered TD_PROTO_BATCH_LATE */
    if (put)
        put_index(sl->srv, index);
    batch_call_done(sl, c, out, out_len);
}

/* The earliest deadline came (or the timer was cancelled): answer the batch
 * if a call not yet served is due, else wait for the next deadline. */
static void batch_timer(void *arg)
{
    struct slot *sl = arg;
    struct td_rpc_server *srv = sl->srv;
    struct batch *b = sl->batch;
    pthread_mutex_lock(&srv->lock);
    b->timer_armed = false;
    bool reply = false;
    nng_duration wait = -1;
    if (!b->answered && b->pending > 0) {
        int64_t next = batch_next_deadline_locked(b);
        if (next > 0 && next <= td_mono_ms()) {
            batch_answer_locked(srv, b);
            reply = true;
        } else if (next > 0) {
            b->holds--; /* batch_arm_locked takes it again */
            wait = batch_arm_locked(b);
            if (wait >= 0)
                b->holds++; /* this callback's own, across batch_start_timer */
        }
    }
    pthread_mutex_unlock(&srv->lock);
    if (wait >= 0) {
        batch_start_timer(sl, wait);
        batch_release(sl);
        return;
    }
    if (reply) {
        TD_LOG(TD_LOG_WARN, "rpc_batch_deadline",
               "a batch was answered at a call's deadline, before all its calls were served");
        batch_reply(sl);
    }
    batch_release(sl);
}

/* Takes the batch frame the slot received and sets its calls going. */
static void batch_start(struct slot *sl)
{
    struct td_rpc_server *srv = sl->srv;
    const msgpack_object *frame = &sl->in.up.data;
    unsigned n = frame->via.array.size;
    struct batch *b = calloc(1, sizeof *b + n * sizeof b->calls[0]);
    if (b == NULL) {
        /* out of memory: the callers time out, which is all we can offer */
        decoded_destroy(&sl->in);
        receive_next(sl);
        return;
    }
    b->msg = sl->in.msg;
    b->frame = sl->in.up; /* the bins point into msg */
    sl->in.msg = NULL;
    msgpack_unpacked_init(&sl->in.up);
    b->n = b->pending = n;
    b->holds = n + 2; /* the calls, the reply, this dispatch */
    int64_t now = td_mono_ms();
    bool any_inline = false;
    for (unsigned i = 0; i < n; i++) {
        const msgpack_object *e = &b->frame.data.via.array.ptr[i];
        struct bcall *c = &b->calls[i];
        decode(NULL, e->via.bin.ptr, e->via.bin.size, sl->in.callers, false, &c->in);
        c->job = (struct job){.sl = sl, .call = c};
        if (c->in.ttl_ms > 0)
            c->deadline_ms = now + c->in.ttl_ms - reply_margin_ms(c->in.ttl_ms);
        any_inline = any_inline || runs_inline(srv, &c->in);
    }
    sl->batch = b;
    atomic_fetch_add(&srv->n_batches, 1);
    atomic_fetch_add(&srv->n_batched_calls, n);

    /* The workers' calls first, so they run while the inline ones do. The
     * inline ones share one index, one after the other; with none free they
     * go to the workers too. */
    unsigned index = 0;
    pthread_mutex_lock(&srv->lock);
    sl->state = SLOT_SERVING;
    bool have_index = any_inline && take_index_locked(srv, &index);
    for (unsigned i = 0; i < n; i++) {
        if (!have_index || !runs_inline(srv, &b->calls[i].in))
            enqueue_locked(srv, &b->calls[i].job);
    }
    pthread_mutex_unlock(&srv->lock);
    if (have_index) {
        for (unsigned i = 0; i < n; i++) {
            if (runs_inline(srv, &b->calls[i].in))
                batch_serve_call(sl, &b->calls[i], index, false);
        }
        put_index(srv, index);
    }
    pthread_mutex_lock(&srv->lock);
    nng_duration wait = batch_arm_locked(b);
    pthread_mutex_unlock(&srv->lock);
    if (wait >= 0)
        batch_start_timer(sl, wait);
    batch_release(sl); /* the dispatch */
}

/* The roles admitted by the endpoint a message arrived on; none when the
 * endpoint is unknown (a pipe always has one). */
static unsigned callers_of(const struct td_rpc_server *srv, nng_msg *msg)
{
    nng_pipe p = nng_msg_get_pipe(msg);
    if (nng_dialer_id(nng_pipe_dialer(p)) > 0)
        return srv->dial_callers;
    int lid = nng_listener_id(nng_pipe_listener(p));
    for (unsigned i = 0; lid > 0 && i < srv->nendpoints; i++) {
        const struct endpoint *e = &srv->endpoints[i];
        if ((uint32_t)lid == atomic_load(&e->id))
            return e->callers;
    }
    return 0;
}

static void received(void *arg)
{
    struct slot *sl = arg;
    struct td_rpc_server *srv = sl->srv;
    int rv = nng_aio_result(sl->recv_aio);
    if (rv != 0) {
        if (rv == NNG_ECLOSED || atomic_load(&srv->stopping)) {
            set_state(sl, SLOT_FINISHED);
            return;
        }
        TD_LOG(TD_LOG_WARN, "rpc_recv_failed", "receive failed: %s", nng_strerror(rv));
        receive_next(sl);
        return;
    }
    nng_msg *msg = nng_aio_get_msg(sl->recv_aio);
    atomic_fetch_add(&srv->n_messages, 1);
    decode(msg, nng_msg_body(msg), nng_msg_len(msg), callers_of(srv, msg), true, &sl->in);
    if (sl->in.rc == BATCH_FRAME) {
        batch_start(sl);
        return;
    }
    /* Inline when an index is free; otherwise a worker serves it: writes,
     * hashing and calls to other daemons must not hold nng's task threads. */
    bool inline_ok = runs_inline(srv, &sl->in);
    unsigned index = 0;
    pthread_mutex_lock(&srv->lock);
    sl->state = SLOT_SERVING;
    bool now = inline_ok && take_index_locked(srv, &index);
    if (!now) {
        sl->job = (struct job){.sl = sl, .call = NULL};
        enqueue_locked(srv, &sl->job);
    }
    pthread_mutex_unlock(&srv->lock);
    if (now)
        serve(sl, index);
}

static void *worker_main(void *arg)
{
    struct td_rpc_server *srv = arg;
    pthread_setname_np(pthread_self(), "rpc-worker"); /* as top -H shows it */
    for (;;) {
        pthread_mutex_lock(&srv->lock);
        while ((srv->queue == NULL || srv->nfree == 0) &&
               !(srv->workers_exit && srv->queue == NULL))
            pthread_cond_wait(&srv->work, &srv->lock);
        struct job *job = srv->queue;
        unsigned index = 0;
        if (job != NULL) {
            srv->queue = job->next;
            if (srv->queue == NULL)
                srv->queue_tail = &srv->queue;
            take_index_locked(srv, &index); /* there is one: see the wait */
        }
        pthread_mutex_unlock(&srv->lock);
        if (job == NULL)
            return NULL; /* workers_exit, and nothing left to serve */
        if (job->call == NULL)
            serve(job->sl, index);
        else
            batch_serve_call(job->sl, job->call, index, true);
    }
}

static void server_free(struct td_rpc_server *srv)
{
    for (unsigned i = 0; i < srv->nslots; i++) {
        if (srv->slots[i].recv_aio != NULL)
            nng_aio_free(srv->slots[i].recv_aio);
        if (srv->slots[i].send_aio != NULL)
            nng_aio_free(srv->slots[i].send_aio);
        if (srv->slots[i].timer_aio != NULL)
            nng_aio_free(srv->slots[i].timer_aio);
    }
    free(srv->free_index);
    pthread_cond_destroy(&srv->work);
    pthread_cond_destroy(&srv->finished);
    pthread_mutex_destroy(&srv->lock);
    free(srv->slots);
    free(srv->threads);
    free(srv);
}

/* Waits until every started slot has finished or `deadline` passes. */
static bool wait_slots(struct td_rpc_server *srv, unsigned started, const struct timespec *deadline)
{
    pthread_mutex_lock(&srv->lock);
    while (srv->nfinished < started) {
        if (deadline == NULL)
            pthread_cond_wait(&srv->finished, &srv->lock);
        else if (pthread_cond_timedwait(&srv->finished, &srv->lock, deadline) != 0)
            break;
    }
    bool all = srv->nfinished >= started;
    pthread_mutex_unlock(&srv->lock);
    return all;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

/* Step 1 of shutdown: removes the ipc socket file we created, so callers
 * that try to connect from now on are refused at once (and see a clean
 * TD_EDOWN) instead of starting a handshake that the close would cut. */
static void stop_accepting(struct td_rpc_server *srv)
{
    for (unsigned i = 0; i < srv->nipc; i++) {
        struct stat st;
        if (stat(srv->ipc[i].path, &st) == 0 && st.st_dev == srv->ipc[i].dev &&
            st.st_ino == srv->ipc[i].ino && unlink(srv->ipc[i].path) != 0)
            TD_LOG(TD_LOG_WARN, "rpc_unlink_failed", "cannot remove %s", srv->ipc[i].path);
    }
}

/* Stops a server whose slots (the first `started`) may be running; the steps
 * are listed at the top of this file. */
static void shut_down(struct td_rpc_server *srv, unsigned started, int drain_ms)
{
    int64_t began = td_mono_ms();
    /* 1. `stopping` is read under the lock by receive_next, so after this no
     * slot posts a new receive. */
    pthread_mutex_lock(&srv->lock);
    atomic_store(&srv->stopping, true);
    pthread_mutex_unlock(&srv->lock);
    td_rpc_unwatch(srv->sock); /* no listener is replaced from here on */
    stop_accepting(srv);

    /* 2. A slot marked SLOT_RECEIVING may not have posted its receive yet
     * (receive_next drops the lock before nng_ctx_recv): a cancel before the
     * post would be lost and the receive would wait for the whole drain.
     * Wait until no thread is inside such a call, then cancel. Only the
     * receive aios are cancelled; replies travel on their own aio. */
    pthread_mutex_lock(&srv->lock);
    while (srv->in_nng > 0)
        pthread_cond_wait(&srv->finished, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
    for (unsigned i = 0; i < started; i++)
        nng_aio_cancel(srv->slots[i].recv_aio); /* a no-op unless it waits */

    /* 3. Slots serving a request finish it and send the reply. */
    struct timespec deadline = td_realtime_in(drain_ms);
    if (!wait_slots(srv, started, &deadline)) {
        pthread_mutex_lock(&srv->lock);
        unsigned held = started - srv->nfinished;
        pthread_mutex_unlock(&srv->lock);
        TD_LOG(TD_LOG_WARN, "rpc_drain_timeout",
               "%u request(s) still in service after %d ms; closing under them", held,
               drain_ms);
    }

    /* 4. Settle (see SETTLE_MS). */
    int64_t since = atomic_load(&srv->last_send_ms);
    if (since < began)
        since = began;
    sleep_ms(since + SETTLE_MS - td_mono_ms());

    /* 5. Close: this fails whatever is left; then every slot finishes. No
     * thread may be inside an nng call on a slot while the socket goes
     * (enter_nng_locked). */
    pthread_mutex_lock(&srv->lock);
    srv->closing = true;
    while (srv->in_nng > 0)
        pthread_cond_wait(&srv->finished, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
    /* bounded: nng 1.5.2 can wait for ever here (td_rpc.h) */
    td_rpc_close_listening(srv->service, srv->sock);
    wait_slots(srv, started, NULL);
    pthread_mutex_lock(&srv->lock);
    srv->workers_exit = true;
    pthread_cond_broadcast(&srv->work);
    pthread_mutex_unlock(&srv->lock);
    for (unsigned i = 0; i < srv->nthreads; i++)
        pthread_join(srv->threads[i], NULL);
}

/* Notes the socket file of an ipc:// listener, for stop_accepting. */
static void remember_ipc_path(struct td_rpc_server *srv, const char *url)
{
    struct stat st;
    if (strncmp(url, "ipc://", 6) != 0 || srv->nipc >= sizeof srv->ipc / sizeof srv->ipc[0] ||
        strlen(url + 6) >= sizeof srv->ipc[0].path || stat(url + 6, &st) != 0)
        return;
    snprintf(srv->ipc[srv->nipc].path, sizeof srv->ipc[0].path, "%s", url + 6);
    srv->ipc[srv->nipc].dev = st.st_dev;
    srv->ipc[srv->nipc].ino = st.st_ino;
    srv->nipc++;
}

/* The watcher replaced a stopped TLS listener (td_rpc.h, td_rpc_listen):
 * its endpoint keeps its roles under the new id. */
static void listener_moved(void *arg, uint32_t old_id, uint32_t new_id)
{
    struct td_rpc_server *srv = arg;
    for (unsigned i = 0; i < srv->nendpoints; i++) {
        struct endpoint *e = &srv->endpoints[i];
        if (atomic_load(&e->id) == old_id)
            atomic_store(&e->id, new_id);
    }
}

/* Listens on one more endpoint and notes the roles it admits. */
static int listen_on(struct td_rpc_server *srv, const char *url, unsigned callers)
{
    if (srv->nendpoints >= MAX_ENDPOINTS)
        return TD_ENOMEM;
    nng_listener l;
    int rv = td_rpc_listen_watched(srv->sock, url, callers, listener_moved, srv, &l);
    if (rv != 0) {
        TD_LOG(TD_LOG_ERR, "rpc_listen_failed", "cannot listen on %s: %s", url, nng_strerror(rv));
        return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL ? TD_EINVAL : TD_EDOWN;
    }
    srv->endpoints[srv->nendpoints++] = (struct endpoint){(uint32_t)nng_listener_id(l), callers};
    remember_ipc_path(srv, url);
    return 0;
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
 * may not be up yet, and nng redials whenever a connection drops. A caller
 * named by a host name is dialled at every address it has (several
 * gateways behind one name). */
static int dial_all(struct td_rpc_server *srv, const char *list, unsigned callers)
{
    nng_socket sock = srv->sock;
    srv->dial_callers = callers; /* before the first connection */
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
        int rv = td_rpc_dial_replicas(sock, u, callers, TD_RPC_CONNECTIONS, srv->service);
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
        if ((unsigned)opts->routes[i].op < TD_OP_COUNT) {
            srv->handlers[opts->routes[i].op] = opts->routes[i].fn;
            srv->inline_ok[opts->routes[i].op] = opts->routes[i].inline_ok;
        }
    }
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->work, NULL);
    pthread_cond_init(&srv->finished, NULL);
    srv->queue_tail = &srv->queue;
    srv->slots = calloc(opts->workers, sizeof *srv->slots);
    srv->threads = calloc(opts->workers, sizeof *srv->threads);
    srv->free_index = calloc(opts->workers, sizeof *srv->free_index);
    if (srv->slots == NULL || srv->threads == NULL || srv->free_index == NULL) {
        server_free(srv);
        return TD_ENOMEM;
    }
    srv->nslots = opts->workers;
    for (unsigned i = 0; i < opts->workers; i++) /* index 0 is taken first */
        srv->free_index[srv->nfree++] = opts->workers - 1 - i;

    int rv = nng_rep0_open(&srv->sock);
    if (rv != 0) {
        server_free(srv);
        return TD_ENOMEM;
    }
    int rc = 0;
    if (nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, TD_PROTO_MAX_REQUEST) != 0)
        rc = TD_EINTERNAL;
    for (unsigned i = 0; rc == 0 && i < srv->nslots; i++) {
        struct slot *sl = &srv->slots[i];
        sl->srv = srv;
        sl->index = i;
        if (nng_ctx_open(&sl->ctx, srv->sock) != 0 ||
            nng_aio_alloc(&sl->recv_aio, received, sl) != 0 ||
            nng_aio_alloc(&sl->send_aio, sent, sl) != 0 ||
            nng_aio_alloc(&sl->timer_aio, batch_timer, sl) != 0) {
            rc = TD_ENOMEM;
        } else {
            nng_aio_set_timeout(sl->recv_aio, NNG_DURATION_INFINITE);
            nng_aio_set_timeout(sl->send_aio, NNG_DURATION_INFINITE);
        }
    }
    for (unsigned i = 0; rc == 0 && i < srv->nslots; i++) {
        if (pthread_create(&srv->threads[i], NULL, worker_main, srv) != 0)
            rc = TD_ENOMEM;
        else
            srv->nthreads++;
    }
    if (rc == 0 && has_dial)
        rc = dial_all(srv, opts->dial_urls, opts->dial_callers ? opts->dial_callers : TD_ROLES_ALL);
    if (rc == 0 && has_listen)
        rc = listen_on(srv, opts->url, opts->callers ? opts->callers : TD_ROLES_ALL);
    for (size_t i = 0; rc == 0 && i < opts->nmore; i++) {
        if (opts->more[i].url != NULL && opts->more[i].url[0] != '\0')
            rc = listen_on(srv, opts->more[i].url, opts->more[i].callers);
    }

    unsigned started = 0;
    for (; rc == 0 && started < srv->nslots; started++)
        receive_next(&srv->slots[started]);
    if (rc != 0) {
        shut_down(srv, started, 1000);
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
    shut_down(srv, srv->nslots, drain_ms);
    server_free(srv);
    *psrv = NULL;
}
