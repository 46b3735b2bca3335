/*
 * fuzz_diary_markup.c — td-diary's last line of defence: the check of the
 * analyzed_content td-sentiment returns, before it is stored and served
 * (services/diary/logic.h diary_markup_check, services/diary/analysis.h
 * diary_analysis_parse). Here the markup is hostile rather than built.
 *
 * Input: "<content>\0<markup>" (without a NUL byte: content and markup are
 * the same bytes).
 *
 * Oracles: whatever diary_markup_check accepts is safe HTML that gives the
 * content back (markup_oracle.h, independent code) with the counts it
 * reports; diary_analysis_parse of a result carrying that markup accepts it
 * exactly when the check does and the counts match, and refuses wrong
 * counts.
 */
#include "services/diary/analysis.h"
#include "fuzz.h"
#include "services/diary/logic.h"
#include "markup_oracle.h"
#include "td_error.h"
#include "td_mp.h"

static void check_parse(const char *markup, size_t mlen, const char *content, size_t clen,
                        int64_t pos, int64_t neg, bool want_ok)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    FUZZ_CHECK(msgpack_pack_map(&pk, 4) == 0 && td_mp_pack_cstr(&pk, "analyzed_content") == 0 &&
                   td_mp_pack_strn(&pk, markup, mlen) == 0 &&
                   td_mp_pack_kv_int(&pk, "positive_count", pos) == 0 &&
                   td_mp_pack_kv_int(&pk, "negative_count", neg) == 0 &&
                   td_mp_pack_kv_str(&pk, "analyzer", "fuzz") == 0,
               "packing the result failed");
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    FUZZ_CHECK(td_mp_unpack(sb.data, sb.size, &up) == 0, "result does not unpack");
    struct diary_analysis a = {0};
    int rc = diary_analysis_parse(&up.data, content, clen, &a);
    FUZZ_CHECK(rc == (want_ok ? 0 : TD_EPROTO), "diary_analysis_parse: %s (wanted %s)",
               td_error_symbol(rc), want_ok ? "ok" : "refusal");
    if (rc == 0) {
        FUZZ_CHECK(a.analyzed_len == mlen && memcmp(a.analyzed, markup, mlen) == 0 &&
                       a.positive_count == pos && a.negative_count == neg && !a.pending,
                   "stored analysis differs from the result");
        diary_analysis_clear(&a);
    }
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nul = memchr(in, '\0', size);
    const char *content = in, *markup = in;
    size_t clen = size, mlen = size;
    if (nul != NULL) {
        clen = (size_t)(nul - in);
        markup = nul + 1;
        mlen = size - clen - 1;
    }
    int64_t pos = -1, neg = -1;
    int rc = diary_markup_check(markup, mlen, content, clen, &pos, &neg);
    FUZZ_CHECK(rc == 0 || rc == TD_EINVAL, "diary_markup_check: %s", td_error_symbol(rc));
    if (rc == 0) {
        FUZZ_CHECK(pos >= 0 && neg >= 0, "negative counts");
        check_html(content, clen, markup, mlen, (size_t)pos, (size_t)neg);
        check_parse(markup, mlen, content, clen, pos, neg, true);
        check_parse(markup, mlen, content, clen, pos + 1, neg, false);
    } else {
        check_parse(markup, mlen, content, clen, 0, 0, false);
    }
    return 0;
}
