/*
 * td_rpc_coalesce.h — the client's coalescing of calls into batches
 * (td_rpc.h, "Coalescing"; proto/README.md, "Batches"). td_rpc_client.c owns
 * the socket and sends every call that goes alone; this module counts the
 * messages of each batch class in flight, queues the calls that find the
 * line busy, and carries their batches through nng with aio callbacks.
 */
#ifndef TD_RPC_COALESCE_H
#define TD_RPC_COALESCE_H

#include "proto/td_proto.h"

#include <nng/nng.h>
#include <msgpack.h>
#include <stdatomic.h>
#include <stdint.h>

struct td_rpc_coalescer;

/* What td_rpc_coalesce_enter tells its caller to do, besides 0 or a TD_E*. */
#define TD_RPC_GO_ALONE 1    /* the line is free: send the call alone now, then td_rpc_coalesce_leave */
#define TD_RPC_AGAIN_ALONE 2 /* it came back unanswered: send it alone (no leave) */

/* A coalescer for the calls of `sock`, whose connected peers `peers`
 * counts; `service` names its logs. Returns 0 and *out, or TD_ENOMEM. */
int td_rpc_coalescer_new(nng_socket sock, atomic_int *peers, const char *service,
                         int max_in_flight, struct td_rpc_coalescer **out);

/* Fails the calls still queued with TD_EDOWN and stops batching. The socket
 * is to be closed next; then td_rpc_coalescer_free. */
void td_rpc_coalescer_close(struct td_rpc_coalescer *q);

/* Waits for the batches in flight to end (the socket is closed) and frees;
 * NULLs *q. */
void td_rpc_coalescer_free(struct td_rpc_coalescer **q);

/* Offers a call of class `cls` whose envelope, without its map header, is
 * `kv` (six key-value pairs: td_rpc_client.c, encode_request). Returns
 * TD_RPC_GO_ALONE or TD_RPC_AGAIN_ALONE (above); 0 with *reply, the call's
 * own reply envelope, once its batch came back (the caller decodes and
 * frees it); or TD_EDOWN / TD_ETIMEDOUT / TD_EPROTO / TD_ENOMEM, as the call
 * would have failed alone, by `deadline` (td_mono_ms) at the latest. */
int td_rpc_coalesce_enter(struct td_rpc_coalescer *q, enum td_batch_class cls, const char *kv,
                          size_t kv_len, int64_t deadline, nng_msg **reply);

/* After TD_RPC_GO_ALONE: the call is over, its line is free. */
void td_rpc_coalesce_leave(struct td_rpc_coalescer *q, enum td_batch_class cls);

struct td_rpc_coalesce_stats {
    uint64_t messages, batches, batched_calls, largest_batch, alone_again;
};
void td_rpc_coalesce_stats(struct td_rpc_coalescer *q, struct td_rpc_coalesce_stats *out);

/* An nng error of a call, as td_rpc_call reports it: a timeout with a peer
 * connected is TD_ETIMEDOUT, anything else that ends a call TD_EDOWN. */
int td_rpc_nng_error(int rv, int peers);

/* The request message handed to nng's req0 socket, empty, with room for
 * `cap` bytes: every request, alone or batched, is made here, in a frame of
 * its own that leak reports of peer-death tests name
 * (tests/lsan-peer-death.supp; td_rpc_coalesce.c says why). */
nng_msg *td_rpc_request_msg(size_t cap);

#endif
