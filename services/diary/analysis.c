/*
 * analysis.c — calling td-sentiment and trusting nothing it says (see
 * analysis.h). The guarantee "analyzed_content is safe HTML that gives the
 * content back" is td-sentiment's, but td-diary is the one storing and
 * serving it, so the check is repeated here end to end.
 */
#include "analysis.h"
#include "logic.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"

#include <stdlib.h>
#include <string.h>

/* A count beyond this is nonsense for a 10,000-character entry. */
#define ANALYSIS_COUNT_MAX 1000000

void diary_analysis_clear(struct diary_analysis *a)
{
    free(a->analyzed);
    memset(a, 0, sizeof *a);
}

static int read_count(const msgpack_object *o, int64_t *out)
{
    int64_t v;
    if (o == NULL || td_mp_as_int64(o, &v) != 0 || v < 0 || v > ANALYSIS_COUNT_MAX)
        return TD_EPROTO;
    *out = v;
    return 0;
}

int diary_analysis_parse(const msgpack_object *result, const char *content, size_t content_len,
                         struct diary_analysis *out)
{
    if (result == NULL || result->type != MSGPACK_OBJECT_MAP)
        return TD_EPROTO;
    const msgpack_object *markup = td_mp_map_get(result, "analyzed_content");
    const msgpack_object *analyzer = td_mp_map_get(result, "analyzer");
    int64_t pos, neg, spans_pos, spans_neg;
    if (markup == NULL || markup->type != MSGPACK_OBJECT_STR || analyzer == NULL ||
        analyzer->type != MSGPACK_OBJECT_STR)
        return TD_EPROTO;
    if (read_count(td_mp_map_get(result, "positive_count"), &pos) != 0 ||
        read_count(td_mp_map_get(result, "negative_count"), &neg) != 0)
        return TD_EPROTO;
    const char *m = markup->via.str.ptr;
    size_t mlen = markup->via.str.size;
    if (diary_markup_check(m, mlen, content, content_len, &spans_pos, &spans_neg) != 0)
        return TD_EPROTO;
    if (spans_pos != pos || spans_neg != neg)
        return TD_EPROTO; /* The contract: the counts are the numbers of spans */
    char *copy = malloc(mlen + 1);
    if (copy == NULL)
        return TD_ENOMEM;
    if (mlen)
        memcpy(copy, m, mlen);
    copy[mlen] = '\0';
    *out = (struct diary_analysis){.analyzed = copy, .analyzed_len = mlen, .positive_count = pos,
                                   .negative_count = neg, .pending = false};
    return 0;
}

/* Packs {"text": content}. */
static int pack_args(msgpack_sbuffer *sb, const char *content, size_t len)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 1);
    rc = rc ? rc : td_mp_pack_cstr(&pk, "text");
    rc = rc ? rc : td_mp_pack_strn(&pk, content, len);
    return rc == 0 ? 0 : TD_ENOMEM;
}

int diary_analysis_fetch(struct td_rpc_client *client, int timeout_ms, const char *content,
                         size_t content_len, struct diary_analysis *out)
{
    if (client == NULL)
        return TD_EDOWN;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = pack_args(&sb, content, content_len);
    if (rc == 0) {
        struct td_rpc_call call = {.op = TD_OP_SENTIMENT_ANALYZE, .args = sb.data,
                                   .args_len = sb.size, .timeout_ms = timeout_ms};
        struct td_rpc_result res;
        rc = td_rpc_call(client, &call, &res);
        if (rc == 0) {
            if (res.status != 200) {
                const msgpack_object *code = td_rpc_result_error_field(&res, "error");
                TD_LOG(TD_LOG_WARN, "sentiment_error", "sentiment.analyze answered %d %.*s",
                       res.status, code && code->type == MSGPACK_OBJECT_STR ? (int)code->via.str.size : 0,
                       code && code->type == MSGPACK_OBJECT_STR ? code->via.str.ptr : "");
                rc = TD_EPROTO;
            } else {
                rc = diary_analysis_parse(res.result, content, content_len, out);
                if (rc == TD_EPROTO)
                    TD_LOG(TD_LOG_WARN, "sentiment_bad_result",
                           "sentiment.analyze result breaks the contract: not stored");
            }
            td_rpc_result_free(&res);
        }
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int diary_analysis_fallback(const char *content, size_t content_len, struct diary_analysis *out)
{
    size_t n;
    char *escaped = diary_html_escape_new(content, content_len, &n);
    if (escaped == NULL)
        return TD_ENOMEM;
    *out = (struct diary_analysis){.analyzed = escaped, .analyzed_len = n, .pending = true};
    return 0;
}

int diary_analysis_get(struct td_rpc_client *client, int timeout_ms, const char *content,
                       size_t content_len, struct diary_analysis *out)
{
    int rc = diary_analysis_fetch(client, timeout_ms, content, content_len, out);
    if (rc == 0)
        return 0;
    if (rc == TD_EDOWN || rc == TD_ETIMEDOUT)
        TD_LOG(TD_LOG_WARN, "sentiment_unavailable",
               "td-sentiment %s: entry saved unanalysed, analysed later",
               rc == TD_EDOWN ? "is down" : "timed out");
    return diary_analysis_fallback(content, content_len, out);
}
