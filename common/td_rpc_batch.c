/*
 * td_rpc_batch.c — the batch frame (td_rpc_batch.h, proto/README.md
 * "Batches"). Every element travels as a bin holding an envelope's exact
 * bytes, so a batched call is decoded by the very decoder of a call sent
 * alone, with the same checks, and a bad envelope spoils only its own
 * element; the frame itself is checked here, strictly.
 */
#include "td_rpc_batch.h"
#include "proto/td_proto.h"

#include <nng/nng.h>

bool td_rpc_batch_request_ok(const msgpack_object *root)
{
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size == 0 ||
        root->via.array.size > TD_PROTO_BATCH_MAX)
        return false;
    for (uint32_t i = 0; i < root->via.array.size; i++) {
        if (root->via.array.ptr[i].type != MSGPACK_OBJECT_BIN)
            return false;
    }
    return true;
}

bool td_rpc_batch_reply_ok(const msgpack_object *root, size_t n)
{
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != n)
        return false;
    for (uint32_t i = 0; i < root->via.array.size; i++) {
        const msgpack_object *e = &root->via.array.ptr[i];
        bool marker = e->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                      (e->via.u64 == TD_PROTO_BATCH_LATE || e->via.u64 == TD_PROTO_BATCH_ALONE);
        if (e->type != MSGPACK_OBJECT_BIN && !marker)
            return false;
    }
    return true;
}

int td_rpc_msg_write(void *data, const char *buf, size_t len)
{
    return nng_msg_append((nng_msg *)data, buf, len) == 0 ? 0 : -1;
}

int td_rpc_batch_pack_bin(msgpack_packer *pk, const void *data, size_t len)
{
    int rc = msgpack_pack_bin(pk, len);
    return rc ? rc : msgpack_pack_bin_body(pk, data, len);
}
