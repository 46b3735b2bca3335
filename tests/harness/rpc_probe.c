/*
 * rpc_probe.c — what integration tests ask a daemon directly over RPC, past
 * the gateway (harness.h, "RPC probes").
 */
#include "harness.h"
#include "td_mp.h"
#include "td_rpc.h"

int64_t th_diary_total_entries(struct th_stack *s, int64_t uid)
{
    struct td_rpc_client *c = NULL;
    /* connect_grace_ms: a fresh client's first connection may take more than
     * the default 100 ms on a loaded machine. */
    struct td_rpc_client_opts o = {.service = "diary", .urls = s->diary_url, .timeout_ms = 5000,
                                   .connect_grace_ms = 5000, .connections = 1};
    if (td_rpc_client_open(&o, &c) != 0)
        return -1;
    struct td_rpc_call call = {.op = TD_OP_DIARY_STATS, .request_id = "harness", .user_id = uid};
    struct td_rpc_result res;
    int64_t total = -1;
    if (td_rpc_call(c, &call, &res) == 0) {
        if (res.status != 200 ||
            td_mp_as_int64(td_mp_map_get(res.result, "total_entries"), &total) != 0)
            total = -1;
        td_rpc_result_free(&res);
    }
    td_rpc_client_free(&c);
    return total;
}
