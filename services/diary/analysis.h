/*
 * analysis.h — td-diary's side of `sentiment.analyze`.
 *
 * td-diary stores what td-sentiment returns, so it checks it first: the
 * result must be {"analyzed_content": str, "positive_count": int >= 0,
 * "negative_count": int >= 0, "analyzer": str}, and the markup must pass
 * diary_markup_check against the content (only the two span classes, the
 * five entities, stripping + unescaping gives the content back, and the
 * counts equal the numbers of spans). Anything else is "not analysed": the
 * entry is saved with the escaped content, zero counts and the pending flag.
 */
#ifndef DIARY_ANALYSIS_H
#define DIARY_ANALYSIS_H

#include "td_rpc.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct diary_analysis {
    char *analyzed; /* owned, NUL-terminated */
    size_t analyzed_len;
    int64_t positive_count;
    int64_t negative_count;
    bool pending; /* true: the fallback, to be analysed later */
};

/* Frees and zeroes. */
void diary_analysis_clear(struct diary_analysis *a);

/* Checks a `sentiment.analyze` result for `content` (see above). Returns 0
 * and *out, TD_EPROTO for a result that breaks the contract, TD_ENOMEM. */
int diary_analysis_parse(const msgpack_object *result, const char *content, size_t content_len,
                         struct diary_analysis *out);

/* Calls td-sentiment on `client` (timeout_ms 0: the client's default) and
 * checks the answer. Returns 0 and *out; TD_EDOWN / TD_ETIMEDOUT when
 * td-sentiment is unreachable or slow; TD_EPROTO for an error status or a
 * result that breaks the contract; TD_ENOMEM. */
int diary_analysis_fetch(struct td_rpc_client *client, int timeout_ms, const char *content,
                         size_t content_len, struct diary_analysis *out);

/* The "not analysed" value: escaped content, zero counts, pending.
 * 0 or TD_ENOMEM. */
int diary_analysis_fallback(const char *content, size_t content_len, struct diary_analysis *out);

/* fetch, and on any failure the fallback; the failure is logged (without the
 * text). 0 or TD_ENOMEM. */
int diary_analysis_get(struct td_rpc_client *client, int timeout_ms, const char *content,
                       size_t content_len, struct diary_analysis *out);

#endif
