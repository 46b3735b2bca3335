/*
 * diary_test_util.h — shared by td-diary's unit tests (header-only, so the
 * test_*.c glob stays one binary per file): temp directories, a fake
 * td-sentiment served on an ipc:// socket, and a way to call td-diary's
 * handlers through the same decode/dispatch/encode path its workers run.
 */
#ifndef DIARY_TEST_UTIL_H
#define DIARY_TEST_UTIL_H

#include "services/diary/logic.h"
#include "../td_tempdir.h"
#include "td_error.h"
#include "td_mp.h"
#include "td_rpc.h"

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void tu_tmpdir(char *buf, size_t size)
{
    snprintf(buf, size, "/tmp/td-diary-unit-XXXXXX");
    cr_assert_not_null(mkdtemp(buf));
}

static inline void tu_rmdir(const char *dir)
{
    td_tempdir_remove(dir);
}

/* ---- a fake td-sentiment ------------------------------------------------ */

enum tu_senti_mode {
    TU_SENTI_GOOD,      /* marks "happy" positive and "sad" negative, escapes the rest */
    TU_SENTI_SCRIPT,    /* tries to inject <script> */
    TU_SENTI_WRONGTEXT, /* markup of another text */
    TU_SENTI_BADCOUNT,  /* counts that are not the spans' */
    TU_SENTI_NEGATIVE,  /* a negative count */
    TU_SENTI_NOTMAP,    /* a string instead of the result map */
    TU_SENTI_ERROR,     /* a 500 error reply */
};

static _Atomic int tu_senti_mode = TU_SENTI_GOOD;
static atomic_int tu_senti_calls;

/* Appends the escape of s[0..n) to buf at *o. */
static void tu_esc(char *buf, size_t *o, const char *s, size_t n)
{
    size_t len;
    char *e = diary_html_escape_new(s, n, &len);
    memcpy(buf + *o, e, len);
    *o += len;
    free(e);
}

/* The good fake analyzer: one span per "happy" / "sad" (ASCII, case-sensitive). */
static size_t tu_analyze(const char *text, size_t len, char *out, int *pos, int *neg)
{
    size_t o = 0, i = 0, plain = 0;
    *pos = *neg = 0;
    while (i < len) {
        const char *word = NULL, *cls = NULL;
        if (len - i >= 5 && memcmp(text + i, "happy", 5) == 0)
            word = "happy", cls = "positive";
        else if (len - i >= 3 && memcmp(text + i, "sad", 3) == 0)
            word = "sad", cls = "negative";
        if (word == NULL) {
            i++;
            continue;
        }
        tu_esc(out, &o, text + plain, i - plain);
        o += (size_t)sprintf(out + o, "<span class=\"%s\">%s</span>", cls, word);
        *pos += cls[0] == 'p';
        *neg += cls[0] == 'n';
        i += strlen(word);
        plain = i;
    }
    tu_esc(out, &o, text + plain, len - plain);
    return o;
}

static int tu_senti_handler(void *app, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    (void)app;
    atomic_fetch_add(&tu_senti_calls, 1);
    const msgpack_object *text = td_mp_map_get(req->args, "text");
    if (text == NULL || text->type != MSGPACK_OBJECT_STR)
        return td_rpc_reply_error(rep, TD_EINVAL, NULL);
    int mode = atomic_load(&tu_senti_mode);
    if (mode == TU_SENTI_ERROR)
        return td_rpc_reply_error(rep, TD_EINTERNAL, NULL);
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    if (mode == TU_SENTI_NOTMAP)
        return td_mp_pack_cstr(pk, "nope") == 0 ? 0 : TD_ENOMEM;
    size_t len = text->via.str.size;
    char *out = malloc(len * 6 + 64 * len + 64);
    int pos, neg;
    size_t n = tu_analyze(text->via.str.ptr, len, out, &pos, &neg);
    if (mode == TU_SENTI_SCRIPT)
        n = (size_t)sprintf(out, "<script>alert(1)</script>");
    else if (mode == TU_SENTI_WRONGTEXT)
        n = (size_t)sprintf(out, "something else");
    else if (mode == TU_SENTI_BADCOUNT)
        pos += 1;
    else if (mode == TU_SENTI_NEGATIVE)
        neg = -1;
    int rc = msgpack_pack_map(pk, 4);
    rc = rc ? rc : td_mp_pack_cstr(pk, "analyzed_content");
    rc = rc ? rc : td_mp_pack_strn(pk, out, n);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "positive_count", pos);
    rc = rc ? rc : td_mp_pack_kv_int(pk, "negative_count", neg);
    rc = rc ? rc : td_mp_pack_kv_str(pk, "analyzer", "fake");
    free(out);
    return rc == 0 ? 0 : TD_ENOMEM;
}

static inline struct td_rpc_server *tu_senti_start(const char *url)
{
    static const struct td_rpc_route routes[] = {{TD_OP_SENTIMENT_ANALYZE, tu_senti_handler, false}};
    struct td_rpc_server_opts o = {.service = "sentiment", .url = url, .workers = 2,
                                   .routes = routes, .nroutes = 1};
    struct td_rpc_server *srv = NULL;
    cr_assert_eq(td_rpc_server_start(&o, &srv), 0, "fake td-sentiment did not start");
    return srv;
}

/* ---- calling handlers ---------------------------------------------------- */

struct tu_reply {
    char *bytes; /* the reply's bytes: unpacked strings point into them */
    msgpack_unpacked up;
    int status;
    const msgpack_object *result;
    const msgpack_object *error;
};

/* Builds a request (args: packed msgpack map or NULL) and runs it through
 * srv's dispatch on worker 0. */
static inline void tu_call(struct td_rpc_server *srv, const char *op, int64_t uid, const char *cid,
                           const char *args, size_t args_len, struct tu_reply *out)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    td_mp_pack_kv_int(&pk, "v", 1);
    td_mp_pack_kv_str(&pk, "op", op);
    td_mp_pack_kv_str(&pk, "rid", "unit");
    td_mp_pack_kv_str(&pk, "cid", cid ? cid : "");
    td_mp_pack_kv_int(&pk, "uid", uid);
    td_mp_pack_cstr(&pk, "args");
    if (args)
        msgpack_sbuffer_write(&sb, args, args_len);
    else
        msgpack_pack_nil(&pk);
    char *reply = NULL;
    size_t reply_len = 0;
    cr_assert_eq(td_rpc_server_handle_bytes(srv, 0, sb.data, sb.size, &reply, &reply_len), 0);
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_init(&out->up);
    cr_assert_eq(td_mp_unpack(reply, reply_len, &out->up), 0);
    out->bytes = reply;
    int64_t status = 0;
    cr_assert_eq(td_mp_as_int64(td_mp_map_get(&out->up.data, "status"), &status), 0);
    out->status = (int)status;
    out->result = td_mp_map_get(&out->up.data, "result");
    out->error = td_mp_map_get(&out->up.data, "error");
}

static inline void tu_reply_free(struct tu_reply *r)
{
    msgpack_unpacked_destroy(&r->up);
    free(r->bytes);
}

/* The error string of an error reply ("" when none). */
static inline void tu_error_code(const struct tu_reply *r, char *buf, size_t size)
{
    buf[0] = '\0';
    const msgpack_object *e = td_mp_map_get(r->error, "error");
    if (e != NULL)
        td_mp_copy_str(e, buf, size);
}

static inline int64_t tu_int(const msgpack_object *map, const char *key)
{
    int64_t v = -999;
    td_mp_as_int64(td_mp_map_get(map, key), &v);
    return v;
}

/* Copies string field `key` of `map` (NUL-terminated, malloc'd). */
static inline char *tu_str(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = td_mp_map_get(map, key);
    if (o == NULL || o->type != MSGPACK_OBJECT_STR)
        return NULL;
    char *s = malloc(o->via.str.size + 1);
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    return s;
}

/* Packs {"content": s} (len bytes) into sb (initialised here). */
static inline void tu_args_content(msgpack_sbuffer *sb, const char *key2, int64_t v2, const char *s,
                                   size_t len)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, key2 ? 2 : 1);
    td_mp_pack_cstr(&pk, "content");
    td_mp_pack_strn(&pk, s, len);
    if (key2)
        td_mp_pack_kv_int(&pk, key2, v2);
}

#endif
