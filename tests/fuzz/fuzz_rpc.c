/*
 * fuzz_rpc.c — the whole server side of one RPC request, bytes in, bytes
 * out: td_rpc_server_handle_bytes (common/td_rpc.h), the code path every
 * daemon's workers run (decode the envelope, dispatch, encode the reply).
 *
 * The server has two routes: td-sentiment's real sentiment.analyze handler
 * (lexicon provider, no cache), and an echo on diary.create that converts
 * its args to JSON and back (common/td_json_mp.h), as the gateway does.
 * It listens on an ipc:// socket in a fresh temporary directory (a server
 * cannot be started without a URL); nothing ever connects to it.
 *
 * Oracles: every input gets a reply; the reply is a well-formed envelope
 * ({v: 1, status, result | error: {error: str, message: str, details?}}),
 * with status 200 exactly when there is a result; and a sentiment.analyze
 * result is one td-diary accepts for that text (diary_analysis_parse: the
 * markup gives the text back, the counts are the spans).
 */
#include "services/diary/analysis.h"
#include "fuzz.h"
#include "services/sentiment/handlers.h"
#include "services/sentiment/provider.h"
#include "td_error.h"
#include "td_json_mp.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_rpc.h"

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

static struct td_rpc_server *g_srv;
static struct senti_provider *g_provider;
static struct senti_app g_app;
static char g_dir[64];
static char g_sock[128];

static int echo(void *app, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    (void)app;
    json_t *json = NULL;
    if (req->args != NULL) {
        int rc = td_mp_to_json(req->args, &json);
        if (rc != 0)
            return td_rpc_reply_error(rep, rc == TD_EPROTO ? TD_EINVAL : rc, NULL);
    }
    msgpack_packer *pk = td_rpc_reply_result(rep, 201);
    int rc = json ? td_json_to_mp(json, pk) : msgpack_pack_nil(pk);
    json_decref(json);
    return rc == 0 ? 0 : TD_ENOMEM;
}

static void teardown(void)
{
    td_rpc_server_stop(&g_srv, 1000);
    senti_provider_free(&g_provider);
    unlink(g_sock);
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    td_log_init("fuzz", TD_LOG_ERR, TD_LOG_TEXT);
    snprintf(g_dir, sizeof g_dir, "/tmp/td-fuzz-rpc-XXXXXX");
    FUZZ_CHECK(mkdtemp(g_dir) != NULL, "mkdtemp failed");
    snprintf(g_sock, sizeof g_sock, "%s/rpc.sock", g_dir);
    char url[160];
    snprintf(url, sizeof url, "ipc://%s", g_sock);

    struct senti_provider_opts po = {.provider = "lexicon", .nclients = 1};
    FUZZ_CHECK(senti_provider_new(&po, &g_provider) == 0, "lexicon provider failed");
    g_app.provider = g_provider;
    static struct td_rpc_route routes[2];
    routes[0] = senti_routes[0];
    routes[1] = (struct td_rpc_route){TD_OP_DIARY_CREATE, echo, false};
    struct td_rpc_server_opts so = {.service = "fuzz", .url = url, .workers = 1,
                                    .routes = routes, .nroutes = 2, .app = &g_app};
    FUZZ_CHECK(td_rpc_server_start(&so, &g_srv) == 0, "server did not start on %s", url);
    atexit(teardown);
    return 0;
}

/* The text of a sentiment.analyze request, when the input is one. */
static bool analyze_text(const msgpack_object *root, const char **text, size_t *len)
{
    const msgpack_object *op = td_mp_map_get(root, TD_KEY_OP);
    if (!td_mp_str_eq(op, "sentiment.analyze"))
        return false;
    const msgpack_object *args = td_mp_map_get(root, TD_KEY_ARGS), *t = NULL;
    /* The handler takes the last "text" of a map with duplicate keys. */
    for (uint32_t i = 0; args && args->type == MSGPACK_OBJECT_MAP && i < args->via.map.size; i++)
        if (td_mp_str_eq(&args->via.map.ptr[i].key, "text"))
            t = &args->via.map.ptr[i].val;
    if (t == NULL || t->type != MSGPACK_OBJECT_STR)
        return false;
    *text = t->via.str.ptr;
    *len = t->via.str.size;
    return true;
}

static void check_reply(const char *out, size_t out_len, const char *in, size_t in_len);

/* A batch (proto/README.md, "Batches") is answered element by element:
 * each a reply envelope in a bin that passes the checks of a reply alone. */
static void check_batch_reply(const msgpack_object *r, const msgpack_object *req)
{
    FUZZ_CHECK(r->via.array.size == req->via.array.size, "a batch reply of another length");
    for (uint32_t i = 0; i < r->via.array.size; i++) {
        const msgpack_object *e = &r->via.array.ptr[i], *q = &req->via.array.ptr[i];
        FUZZ_CHECK(e->type == MSGPACK_OBJECT_BIN && q->type == MSGPACK_OBJECT_BIN,
                   "a batch reply element is not a bin");
        check_reply(e->via.bin.ptr, e->via.bin.size, q->via.bin.ptr, q->via.bin.size);
    }
}

static void check_reply(const char *out, size_t out_len, const char *in, size_t in_len)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = td_mp_unpack(out, out_len, &up);
    FUZZ_CHECK(rc == 0, "reply does not unpack: %s", td_error_symbol(rc));
    const msgpack_object *r = &up.data;
    if (r->type == MSGPACK_OBJECT_ARRAY) {
        msgpack_unpacked req;
        msgpack_unpacked_init(&req);
        FUZZ_CHECK(td_mp_unpack(in, in_len, &req) == 0 && req.data.type == MSGPACK_OBJECT_ARRAY,
                   "a batch reply to a request that is no batch");
        check_batch_reply(r, &req.data);
        msgpack_unpacked_destroy(&req);
        msgpack_unpacked_destroy(&up);
        return;
    }
    FUZZ_CHECK(r->type == MSGPACK_OBJECT_MAP && r->via.map.size == 3, "reply is not a 3-key map");
    int64_t v = 0, status = 0;
    FUZZ_CHECK(td_mp_as_int64(td_mp_map_get(r, TD_KEY_VERSION), &v) == 0 && v == 1, "version");
    FUZZ_CHECK(td_mp_as_int64(td_mp_map_get(r, TD_KEY_STATUS), &status) == 0, "status");
    const msgpack_object *result = td_mp_map_get(r, TD_KEY_RESULT);
    const msgpack_object *err = td_mp_map_get(r, TD_KEY_ERROR);
    FUZZ_CHECK((result != NULL) != (err != NULL), "exactly one of result and error");
    if (err != NULL) {
        FUZZ_CHECK(status >= 400 && status <= 599, "error reply with status %lld",
                   (long long)status);
        const msgpack_object *code = td_mp_map_get(err, "error");
        const msgpack_object *msg = td_mp_map_get(err, "message");
        FUZZ_CHECK(err->type == MSGPACK_OBJECT_MAP && code && code->type == MSGPACK_OBJECT_STR &&
                       msg && msg->type == MSGPACK_OBJECT_STR,
                   "error is not {error: str, message: str, ...}");
        /* The gateway relays an error reply as JSON: it must have a JSON twin. */
        json_t *j = NULL;
        rc = td_mp_to_json(err, &j);
        FUZZ_CHECK(rc == 0, "error reply has no JSON form: %s", td_error_symbol(rc));
        json_decref(j);
    } else {
        FUZZ_CHECK(status == 200 || status == 201, "result with status %lld", (long long)status);
        msgpack_unpacked req;
        msgpack_unpacked_init(&req);
        const char *text;
        size_t len;
        if (td_mp_unpack(in, in_len, &req) == 0 && analyze_text(&req.data, &text, &len)) {
            struct diary_analysis a = {0};
            rc = diary_analysis_parse(result, text, len, &a);
            FUZZ_CHECK(rc == 0, "td-diary refuses td-sentiment's result: %s",
                       td_error_symbol(rc));
            diary_analysis_clear(&a);
        }
        msgpack_unpacked_destroy(&req);
    }
    msgpack_unpacked_destroy(&up);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out = NULL;
    size_t out_len = 0;
    int rc = td_rpc_server_handle_bytes(g_srv, 0, (const char *)data, size, &out, &out_len);
    FUZZ_CHECK(rc == 0, "no reply: %s", td_error_symbol(rc));
    check_reply(out, out_len, (const char *)data, size);
    free(out);
    return 0;
}
