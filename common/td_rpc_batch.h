/*
 * td_rpc_batch.h — the batch frame of proto/README.md ("Batches"), shared
 * by the RPC client (which sends batches and reads their replies) and the
 * RPC server (which reads batches and answers them). Only the frame lives
 * here: each element is an ordinary envelope, encoded and decoded by the
 * same code as a call sent alone.
 */
#ifndef TD_RPC_BATCH_H
#define TD_RPC_BATCH_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

/* True when `root` is a well-formed batch request: an array of 1 to
 * TD_PROTO_BATCH_MAX bins. Any other array is a malformed message, refused
 * as a whole like a malformed envelope. */
bool td_rpc_batch_request_ok(const msgpack_object *root);

/* True when `root` is a well-formed reply to a batch of `n` calls: an array
 * of `n` elements, each a bin or one of the TD_PROTO_BATCH_* markers. */
bool td_rpc_batch_reply_ok(const msgpack_object *root, size_t n);

/* A msgpack_packer write callback appending to the nng_msg `data`
 * (nng_msg *): messages are packed in place, without a copy. */
int td_rpc_msg_write(void *data, const char *buf, size_t len);

/* Packs one element: a bin holding `len` bytes. Returns 0 or msgpack's error. */
int td_rpc_batch_pack_bin(msgpack_packer *pk, const void *data, size_t len);

#endif
