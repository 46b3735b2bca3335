/*
 * handlers.c — td-sentiment's operations. Each validates its arguments first,
 * then calls the provider (which owns the cache and the fallback).
 *
 * The text arrives from td-diary, which has already applied the contract's content
 * rules; it is checked again here because the RPC boundary trusts no one:
 * a string, valid UTF-8, no NUL, at most SENTI_MAX_TEXT_BYTES. Empty or
 * whitespace-only text is fine and has no spans.
 */
#include "handlers.h"
#include "td_utf8.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"

#include <stdio.h>
#include <string.h>

const struct td_rpc_route senti_routes[] = {
    /* not inline: the LLM provider can take seconds */
    {TD_OP_SENTIMENT_ANALYZE, senti_handle_analyze, false},
};
const size_t senti_nroutes = sizeof senti_routes / sizeof senti_routes[0];

int senti_handle_analyze(void *appv, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct senti_app *app = appv;
    const msgpack_object *text = NULL;
    bool bad = false;
    if (req->args != NULL) {
        const msgpack_object_map *m = &req->args->via.map;
        for (uint32_t i = 0; i < m->size; i++) {
            const msgpack_object *k = &m->ptr[i].key;
            if (td_mp_str_eq(k, "text")) {
                text = &m->ptr[i].val;
            } else {
                td_rpc_reply_detail_key(rep, k, "Unknown field.");
                bad = true;
            }
        }
    }
    if (text == NULL) {
        td_rpc_reply_detail(rep, "text", "Missing data for required field");
        bad = true;
    } else if (text->type != MSGPACK_OBJECT_STR) {
        td_rpc_reply_detail(rep, "text", "Not a valid string");
        bad = true;
    } else if (text->via.str.size > SENTI_MAX_TEXT_BYTES) {
        char msg[96];
        snprintf(msg, sizeof msg, "Longer than %zu bytes", SENTI_MAX_TEXT_BYTES);
        td_rpc_reply_detail(rep, "text", msg);
        bad = true;
    } else if (text->via.str.size > 0 &&
               memchr(text->via.str.ptr, '\0', text->via.str.size) != NULL) {
        td_rpc_reply_detail(rep, "text", "Must not contain NUL characters");
        bad = true;
    } else if (td_utf8_count(text->via.str.ptr, text->via.str.size) < 0) {
        td_rpc_reply_detail(rep, "text", "Not valid UTF-8");
        bad = true;
    }
    if (bad)
        return td_rpc_reply_error(rep, TD_EINVAL, NULL);

    struct senti_result r;
    int rc = senti_provider_analyze(app->provider, req->worker, text->via.str.ptr,
                                    text->via.str.size, &r);
    if (rc != 0)
        return rc;
    TD_LOG(TD_LOG_DEBUG, "analyzed", "%u bytes by %s%s: +%zu -%zu", text->via.str.size,
           r.analyzer, r.cached ? " (cached)" : "", r.positive, r.negative);
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    if (msgpack_pack_map(pk, 4) != 0 || td_mp_pack_cstr(pk, "analyzed_content") != 0 ||
        td_mp_pack_strn(pk, r.html, r.html_len) != 0 ||
        td_mp_pack_kv_int(pk, "positive_count", (int64_t)r.positive) != 0 ||
        td_mp_pack_kv_int(pk, "negative_count", (int64_t)r.negative) != 0 ||
        td_mp_pack_kv_str(pk, "analyzer", r.analyzer) != 0)
        rc = TD_ENOMEM;
    senti_result_free(&r);
    return rc;
}
