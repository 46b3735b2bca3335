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
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_rpc_args.h"

const struct td_rpc_route senti_routes[] = {
    /* not inline: the LLM provider can take seconds */
    {TD_OP_SENTIMENT_ANALYZE, senti_handle_analyze, false},
};
const size_t senti_nroutes = sizeof senti_routes / sizeof senti_routes[0];

int senti_handle_analyze(void *appv, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    struct senti_app *app = appv;
    struct td_arg args[] = {
        TD_ARG_STR("text", TD_ARG_REQUIRED | TD_ARG_TEXT, 0, SENTI_MAX_TEXT_BYTES),
    };
    int rc = TD_RPC_ARGS_TAKE(req, rep, args);
    if (rc != 0)
        return rc;
    const struct td_arg *text = &args[0];

    struct senti_result r;
    rc = senti_provider_analyze(app->provider, req->worker, text->s, text->len, &r);
    if (rc != 0)
        return rc;
    TD_LOG(TD_LOG_DEBUG, "analyzed", "%zu bytes by %s%s: +%zu -%zu", text->len,
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
