/*
 * td_rpc_client.c — the req side of td_rpc.h.
 *
 * One req socket per service, shared by every calling thread; each call opens
 * its own context, so calls never queue behind each other in this process.
 * Pipe notifications keep a count of connected peers, which is how a call
 * tells a service that is down (no peer: fail at once with TD_EDOWN) from one
 * that is slow (a peer is there but the deadline passed: TD_ETIMEDOUT).
 *
 * Contexts and their aios are pooled: opening and closing a context takes
 * the socket's lock and allocates, and cost about 7% of the gateway's CPU
 * when every call did it. A call takes an idle one (or opens one), and puts
 * it back only after a clean round trip; a context whose call failed or timed
 * out is closed instead, so no reply to an abandoned request can ever be
 * read by a later call. The pool holds at most as many contexts as calls
 * were ever in flight at once.
 *
 * With coalescing on (td_rpc.h, "Coalescing"), a call of a batchable
 * operation asks td_rpc_coalesce.c first: it goes out alone from here when
 * its class's line is free, or comes back with its own reply from a batch.
 */
#include "td_rpc.h"
#include "td_rpc_batch.h"
#include "td_rpc_coalesce.h"
#include "td_config.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_time.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a call waits for a first peer when none is connected: long enough
 * to ride out a reconnect that is already under way, short enough that a
 * down service answers 503 quickly. */
#define CONNECT_GRACE_MS 100

#define MAX_TRACKED_PIPES 256

struct call_slot {
    nng_ctx ctx;
    nng_aio *aio;
    struct call_slot *next; /* in the idle list */
};

struct td_rpc_client {
    char service[32];
    nng_socket sock;
    int timeout_ms;
    int connect_grace_ms;
    atomic_int peers;
    /* The ids of the connected pipes. nng may report the removal of a pipe
     * it never reported as added (one closed while being set up), so a bare
     * counter drifts; a set does not. */
    pthread_mutex_t lock;
    uint32_t pipes[MAX_TRACKED_PIPES];
    int npipes;
    pthread_mutex_t idle_lock;
    struct call_slot *idle; /* contexts ready for the next call */
    struct td_rpc_coalescer *coalescer; /* NULL: coalescing off */
    atomic_uint_fast64_t messages_alone; /* messages sent from here */
};

/* Off unless RPC_COALESCE=true (td_config.c): batches keep requests and
 * replies crossing on a busy connection, which is when nng 1.5.2's reaper
 * can wedge as a peer dies (docs/library-notes.md, "nng's reaper can
 * wedge"; the daemon is then replaced). */
static atomic_bool coalesce_default = false;

void td_rpc_coalesce_setup(bool on)
{
    atomic_store(&coalesce_default, on);
}

static void pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct td_rpc_client *c = arg;
    uint32_t id = nng_pipe_id(p);
    pthread_mutex_lock(&c->lock);
    int at = -1;
    for (int i = 0; i < c->npipes; i++) {
        if (c->pipes[i] == id)
            at = i;
    }
    if (ev == NNG_PIPE_EV_ADD_POST && at < 0 && c->npipes < MAX_TRACKED_PIPES)
        c->pipes[c->npipes++] = id;
    else if (ev == NNG_PIPE_EV_REM_POST && at >= 0)
        c->pipes[at] = c->pipes[--c->npipes];
    atomic_store(&c->peers, c->npipes);
    pthread_mutex_unlock(&c->lock);
}

/* Every HTTP request and every RPC call takes an id; a getrandom() system
 * call for each was measurable, so each thread draws 1 KB at a time. */
#define ID_POOL_BYTES 1024

void td_rpc_new_id(char buf[33])
{
    static _Thread_local unsigned char pool[ID_POOL_BYTES];
    static _Thread_local size_t used = ID_POOL_BYTES;
    if (used + 16 > sizeof pool) {
        randombytes_buf(pool, sizeof pool);
        used = 0;
    }
    sodium_bin2hex(buf, 33, pool + used, 16);
    sodium_memzero(pool + used, 16); /* an id is never handed out twice */
    used += 16;
}

int td_rpc_client_open(const struct td_rpc_client_opts *opts, struct td_rpc_client **out)
{
    if (opts->urls == NULL || opts->urls[0] == '\0')
        return TD_EINVAL;
    struct td_rpc_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return TD_ENOMEM;
    snprintf(c->service, sizeof c->service, "%s", opts->service ? opts->service : "?");
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return TD_ENOMEM;
    }
    if (pthread_mutex_init(&c->idle_lock, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        return TD_ENOMEM;
    }
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 5000;
    c->connect_grace_ms = opts->connect_grace_ms > 0 ? opts->connect_grace_ms : CONNECT_GRACE_MS;

    /* From here on every failure leaves through the one cleanup below. */
    bool sock_open = nng_req0_open(&c->sock) == 0;
    int rc = sock_open ? 0 : TD_ENOMEM;
    /* Never re-send behind the caller's back (docs/library-notes.md,
     * "req0 re-sends a request"): a resent request can run twice. A lost
     * peer fails the call instead. */
    if (rc == 0 && (nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE) != 0 ||
        nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, TD_PROTO_MAX_REPLY) != 0 ||
        nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 20) != 0 ||
        nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 500) != 0 ||
        nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, pipe_event, c) != 0 ||
        nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_event, c) != 0))
        rc = TD_EINTERNAL;
    bool coalesce = opts->coalesce > 0 || (opts->coalesce == 0 && atomic_load(&coalesce_default));
    if (rc == 0 && coalesce)
        rc = td_rpc_coalescer_new(c->sock, &c->peers, c->service,
                                  opts->max_in_flight > 0 ? opts->max_in_flight
                                                          : TD_RPC_MAX_IN_FLIGHT,
                                  &c->coalescer);

    const char *cursor = opts->urls, *item;
    size_t len;
    while (rc == 0 && td_list_next(&cursor, &item, &len)) {
        char u[1024];
        if (len >= sizeof u) {
            rc = TD_EINVAL;
            break;
        }
        memcpy(u, item, len);
        u[len] = '\0';
        int rv;
        unsigned peer = opts->peer ? opts->peer : TD_ROLES_ALL;
        if (strncmp(u, "listen+", 7) == 0) {
            /* Replicas dial in to us (see td_rpc.h). */
            rv = td_rpc_listen(c->sock, u + 7, peer, NULL);
        } else {
            /* Every replica: each address of a host name (td_rpc.h). */
            int n = opts->connections > 0 ? opts->connections : TD_RPC_CONNECTIONS;
            rv = td_rpc_dial_replicas(c->sock, u, peer, n, c->service);
        }
        if (rv != 0) {
            TD_LOG(TD_LOG_ERR, "rpc_dial_failed", "%s: cannot use %s: %s", c->service, u,
                   nng_strerror(rv));
            rc = TD_EINVAL;
        }
    }
    if (rc != 0) {
        if (c->coalescer != NULL)
            td_rpc_coalescer_close(c->coalescer);
        if (sock_open) {
            td_rpc_unwatch(c->sock);
            nng_close(c->sock);
        }
        td_rpc_coalescer_free(&c->coalescer);
        pthread_mutex_destroy(&c->lock);
        pthread_mutex_destroy(&c->idle_lock);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void td_rpc_client_free(struct td_rpc_client **pc)
{
    struct td_rpc_client *c = *pc;
    if (c == NULL)
        return;
    if (c->coalescer != NULL)
        td_rpc_coalescer_close(c->coalescer); /* queued calls fail: TD_EDOWN */
    td_rpc_unwatch(c->sock);
    nng_close(c->sock); /* closes every context too */
    td_rpc_coalescer_free(&c->coalescer); /* once its batches have ended */
    for (struct call_slot *s = c->idle, *next; s != NULL; s = next) {
        next = s->next;
        nng_aio_free(s->aio);
        free(s);
    }
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->idle_lock);
    free(c);
    *pc = NULL;
}

/* An idle context, or a new one; NULL when the socket is closing or memory
 * is short. */
static struct call_slot *slot_take(struct td_rpc_client *c)
{
    pthread_mutex_lock(&c->idle_lock);
    struct call_slot *s = c->idle;
    if (s != NULL)
        c->idle = s->next;
    pthread_mutex_unlock(&c->idle_lock);
    if (s != NULL)
        return s;
    if ((s = calloc(1, sizeof *s)) == NULL)
        return NULL;
    if (nng_aio_alloc(&s->aio, NULL, NULL) != 0) {
        free(s);
        return NULL;
    }
    if (nng_ctx_open(&s->ctx, c->sock) != 0) {
        nng_aio_free(s->aio);
        free(s);
        return NULL;
    }
    return s;
}

/* After a clean round trip the context is ready for another request. */
static void slot_put(struct td_rpc_client *c, struct call_slot *s)
{
    pthread_mutex_lock(&c->idle_lock);
    s->next = c->idle;
    c->idle = s;
    pthread_mutex_unlock(&c->idle_lock);
}

/* After a failure: the context may still await a reply that must never
 * reach another call. */
static void slot_drop(struct call_slot *s)
{
    nng_ctx_close(s->ctx);
    nng_aio_free(s->aio);
    free(s);
}

int td_rpc_client_peers(struct td_rpc_client *c)
{
    return atomic_load(&c->peers);
}

/* The request envelope's six key-value pairs, without the map's header
 * (a batch adds a seventh, td_rpc_coalesce.c). */
static int encode_request(const struct td_rpc_call *call, msgpack_sbuffer *sb)
{
    char fresh[33];
    const char *cid = call->call_id;
    if (cid == NULL || cid[0] == '\0') {
        td_rpc_new_id(fresh);
        cid = fresh;
    } else if (strlen(cid) > TD_PROTO_CID_MAX) {
        return TD_EINVAL;
    }
    const char *rid = call->request_id ? call->request_id : td_log_request_id();
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    int rc = td_mp_pack_kv_int(&pk, TD_KEY_VERSION, TD_PROTO_VERSION);
    rc = rc ? rc : td_mp_pack_kv_str(&pk, TD_KEY_OP, td_op_name(call->op));
    rc = rc ? rc : td_mp_pack_kv_str(&pk, TD_KEY_REQUEST_ID, rid);
    rc = rc ? rc : td_mp_pack_kv_str(&pk, TD_KEY_CALL_ID, cid);
    rc = rc ? rc : td_mp_pack_kv_int(&pk, TD_KEY_USER_ID, call->user_id);
    rc = rc ? rc : td_mp_pack_cstr(&pk, TD_KEY_ARGS);
    if (rc == 0 && call->args != NULL && call->args_len > 0)
        rc = msgpack_sbuffer_write(sb, call->args, call->args_len);
    else
        rc = rc ? rc : msgpack_pack_nil(&pk);
    return rc == 0 ? 0 : TD_ENOMEM;
}

static int decode_reply(nng_msg *msg, struct td_rpc_result *out)
{
    msgpack_unpacked_init(&out->unpacked);
    int rc = td_mp_unpack(nng_msg_body(msg), nng_msg_len(msg), &out->unpacked);
    const msgpack_object *root = &out->unpacked.data;
    int64_t version = 0, status = 0;
    if (rc == 0 && (root->type != MSGPACK_OBJECT_MAP || !td_mp_map_keys_unique(root) ||
                    td_mp_as_int64(td_mp_map_get(root, TD_KEY_VERSION), &version) != 0 ||
                    version != TD_PROTO_VERSION ||
                    td_mp_as_int64(td_mp_map_get(root, TD_KEY_STATUS), &status) != 0 ||
                    status < 100 || status > 599))
        rc = TD_EPROTO;
    if (rc == 0) {
        out->status = (int)status;
        out->result = td_mp_map_get(root, TD_KEY_RESULT);
        out->error = td_mp_map_get(root, TD_KEY_ERROR);
        if (status >= 400) {
            /* An error must carry {error: str, message: str}. */
            const msgpack_object *e = out->error;
            if (e == NULL || e->type != MSGPACK_OBJECT_MAP || !td_mp_map_keys_unique(e) ||
                td_mp_map_get(e, "error") == NULL ||
                td_mp_map_get(e, "error")->type != MSGPACK_OBJECT_STR ||
                td_mp_map_get(e, "message") == NULL ||
                td_mp_map_get(e, "message")->type != MSGPACK_OBJECT_STR)
                rc = TD_EPROTO;
        } else if (out->result == NULL) {
            rc = TD_EPROTO;
        }
    }
    if (rc != 0)
        msgpack_unpacked_destroy(&out->unpacked);
    return rc;
}

/* Waits up to `ms` for a first peer; true when one is connected. */
static bool wait_for_peer(struct td_rpc_client *c, int ms)
{
    int64_t until = td_mono_ms() + ms;
    while (atomic_load(&c->peers) == 0) {
        if (td_mono_ms() >= until)
            return false;
        nng_msleep(5);
    }
    return true;
}

static int map_nng_error(struct td_rpc_client *c, int rv)
{
    return td_rpc_nng_error(rv, atomic_load(&c->peers));
}

/* Sends one request alone, `kv` (encode_request) under its map header, and
 * waits for its reply, up to `deadline`. */
static int call_alone(struct td_rpc_client *c, const msgpack_sbuffer *kv, int64_t deadline,
                      nng_msg **reply)
{
    nng_msg *msg = td_rpc_request_msg(1 + kv->size);
    int rc = msg ? 0 : TD_ENOMEM;
    if (rc == 0) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, msg, td_rpc_msg_write);
        if (msgpack_pack_map(&pk, 6) != 0 || nng_msg_append(msg, kv->data, kv->size) != 0)
            rc = TD_ENOMEM;
    }
    struct call_slot *slot = NULL;
    if (rc == 0 && (slot = slot_take(c)) == NULL)
        rc = TD_EDOWN; /* the socket is closing (or memory ran out) */
    if (rc == 0) {
        int64_t left = deadline - td_mono_ms();
        nng_aio_set_timeout(slot->aio, left > 0 ? (nng_duration)left : 1);
        nng_aio_set_msg(slot->aio, msg);
        nng_ctx_send(slot->ctx, slot->aio);
        nng_aio_wait(slot->aio);
        int rv = nng_aio_result(slot->aio);
        if (rv != 0)
            rc = map_nng_error(c, rv); /* msg is still ours, freed below */
        else
            msg = NULL; /* nng owns it now */
        atomic_fetch_add(&c->messages_alone, 1);
    }
    if (rc == 0) {
        int64_t left = deadline - td_mono_ms();
        nng_aio_set_timeout(slot->aio, left > 0 ? (nng_duration)left : 1);
        nng_ctx_recv(slot->ctx, slot->aio);
        nng_aio_wait(slot->aio);
        int rv = nng_aio_result(slot->aio);
        if (rv != 0)
            rc = map_nng_error(c, rv);
        else
            *reply = nng_aio_get_msg(slot->aio);
    }
    if (msg != NULL)
        nng_msg_free(msg);
    if (slot != NULL) {
        if (rc == 0)
            slot_put(c, slot);
        else
            slot_drop(slot);
    }
    return rc;
}

int td_rpc_call(struct td_rpc_client *c, const struct td_rpc_call *call,
                struct td_rpc_result *out)
{
    int timeout = call->timeout_ms > 0 ? call->timeout_ms : c->timeout_ms;
    int64_t deadline = td_mono_ms() + timeout;
    if (!wait_for_peer(c, timeout < c->connect_grace_ms ? timeout : c->connect_grace_ms))
        return TD_EDOWN;

    msgpack_sbuffer kv;
    msgpack_sbuffer_init(&kv);
    int rc = encode_request(call, &kv);
    nng_msg *reply = NULL;
    enum td_batch_class cls = td_op_batch_class(call->op);
    int how = TD_RPC_AGAIN_ALONE;
    if (rc == 0 && c->coalescer != NULL)
        how = td_rpc_coalesce_enter(c->coalescer, cls, kv.data, kv.size, deadline, &reply);
    if (rc == 0 && (how == TD_RPC_GO_ALONE || how == TD_RPC_AGAIN_ALONE)) {
        rc = call_alone(c, &kv, deadline, &reply);
        if (how == TD_RPC_GO_ALONE)
            td_rpc_coalesce_leave(c->coalescer, cls);
    } else if (rc == 0) {
        rc = how; /* 0 with the reply, or the batch's error for this call */
    }
    msgpack_sbuffer_destroy(&kv);
    if (rc == 0) {
        rc = decode_reply(reply, out);
        if (rc == 0) {
            out->msg = reply; /* decoded strings point into it */
        } else {
            nng_msg_free(reply);
            TD_LOG(TD_LOG_ERR, "rpc_bad_reply", "%s: malformed reply to %s", c->service,
                   td_op_name(call->op));
        }
    }
    if (rc == TD_ETIMEDOUT || rc == TD_EDOWN)
        TD_LOG(TD_LOG_WARN, "rpc_call_failed", "%s: %s %s", c->service, td_op_name(call->op),
               rc == TD_ETIMEDOUT ? "timed out" : "service down");
    return rc;
}

void td_rpc_client_stats(struct td_rpc_client *c, struct td_rpc_client_stats *out)
{
    struct td_rpc_coalesce_stats q = {0};
    if (c->coalescer != NULL)
        td_rpc_coalesce_stats(c->coalescer, &q);
    *out = (struct td_rpc_client_stats){
        .messages = atomic_load(&c->messages_alone) + q.messages,
        .batches = q.batches,
        .batched_calls = q.batched_calls,
        .largest_batch = q.largest_batch,
        .alone_again = q.alone_again,
    };
    if (out->largest_batch == 0 && out->messages > 0)
        out->largest_batch = 1;
}

void td_rpc_result_free(struct td_rpc_result *r)
{
    msgpack_unpacked_destroy(&r->unpacked);
    if (r->msg != NULL)
        nng_msg_free(r->msg);
    r->msg = NULL;
    r->result = r->error = NULL;
}

const msgpack_object *td_rpc_result_error_field(const struct td_rpc_result *r, const char *key)
{
    return r->error ? td_mp_map_get(r->error, key) : NULL;
}
