/*
 * test_handlers.c — td-diary's operations through the RPC dispatch path
 * (td_rpc_server_handle_bytes), with a real store in a temp directory and a
 * fake td-sentiment on an ipc:// socket that can answer well, badly or not
 * at all. Also the pending-analysis pass against the same fake.
 */
#include "services/diary/analysis.h"
#include "diary_test_util.h"
#include "services/diary/handlers.h"
#include "services/diary/pending.h"
#include "services/diary/store.h"
#include "td_log.h"
#include "td_time.h"
#include "../td_assert.h"

static char dir[64];
static char senti_url[128], diary_url[128];
static struct diary_store *store;
static struct td_rpc_server *senti, *server;
static struct diary_app app;

static void setup(void)
{
    td_log_threshold = TD_LOG_ERR;
    tu_tmpdir(dir, sizeof dir);
    snprintf(senti_url, sizeof senti_url, "ipc://%s/senti.sock", dir);
    snprintf(diary_url, sizeof diary_url, "ipc://%s/diary.sock", dir);
    atomic_store(&tu_senti_mode, TU_SENTI_GOOD);
    atomic_store(&tu_senti_calls, 0);
    senti = tu_senti_start(senti_url);
    TD_ASSERT_OK(diary_store_open(&(struct diary_store_opts){.data_dir = dir}, 1, &store));
    app = (struct diary_app){.store = store, .sentiment_timeout_ms = 2000};
    struct td_rpc_client_opts co = {.service = "sentiment", .urls = senti_url, .timeout_ms = 2000};
    TD_ASSERT_OK(td_rpc_client_open(&co, &app.sentiment));
    struct td_rpc_server_opts so = {.service = "diary", .url = diary_url, .workers = 1,
                                    .routes = diary_routes, .nroutes = diary_nroutes,
                                    .app = &app};
    TD_ASSERT_OK(td_rpc_server_start(&so, &server));
    /* Let the client connect before the first call. */
    for (int i = 0; i < 200 && td_rpc_client_peers(app.sentiment) == 0; i++)
        usleep(5000);
}

static void teardown(void)
{
    td_rpc_server_stop(&server, 1000);
    td_rpc_client_free(&app.sentiment);
    td_rpc_server_stop(&senti, 1000);
    diary_store_close(&store);
    tu_rmdir(dir);
}

TestSuite(handlers, .init = setup, .fini = teardown, .timeout = 30);

static void create(int64_t uid, const char *content, struct tu_reply *r)
{
    msgpack_sbuffer sb;
    tu_args_content(&sb, NULL, 0, content, strlen(content));
    tu_call(server, "diary.create", uid, NULL, sb.data, sb.size, r);
    msgpack_sbuffer_destroy(&sb);
}

static int64_t create_ok(int64_t uid, const char *content)
{
    struct tu_reply r;
    create(uid, content, &r);
    cr_assert_eq(r.status, 201);
    int64_t id = tu_int(r.result, "id");
    tu_reply_free(&r);
    return id;
}

static void assert_error(const struct tu_reply *r, int status, const char *code)
{
    char got[64];
    tu_error_code(r, got, sizeof got);
    cr_assert_eq(r->status, status, "status %d, want %d (%s)", r->status, status, got);
    cr_assert_str_eq(got, code);
}

/* The details list of `field` in an error reply, or NULL. */
static const msgpack_object *detail(const struct tu_reply *r, const char *field)
{
    return td_mp_map_get(td_mp_map_get(r->error, "details"), field);
}

static void pack_id(msgpack_sbuffer *sb, const char *key, int64_t id)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    td_mp_pack_kv_int(&pk, key, id);
}

static void call_id(const char *op, int64_t uid, int64_t id, struct tu_reply *r)
{
    msgpack_sbuffer sb;
    pack_id(&sb, "id", id);
    tu_call(server, op, uid, NULL, sb.data, sb.size, r);
    msgpack_sbuffer_destroy(&sb);
}

Test(handlers, create_returns_the_analysed_entry_in_the_api_shape)
{
    struct tu_reply r;
    create(5, "I am happy <3", &r);
    cr_assert_eq(r.status, 201);
    cr_assert_eq(r.result->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(r.result->via.map.size, 8);
    cr_assert_gt(tu_int(r.result, "id"), 0);
    cr_assert_eq(tu_int(r.result, "user_id"), 5);
    char *content = tu_str(r.result, "content");
    char *analyzed = tu_str(r.result, "analyzed_content");
    char *created = tu_str(r.result, "created_at");
    char *updated = tu_str(r.result, "updated_at");
    cr_assert_str_eq(content, "I am happy <3");
    cr_assert_str_eq(analyzed, "I am <span class=\"positive\">happy</span> &lt;3");
    cr_assert_eq(tu_int(r.result, "positive_count"), 1);
    cr_assert_eq(tu_int(r.result, "negative_count"), 0);
    cr_assert_eq(strlen(created), TD_TIMESTAMP_LEN);
    cr_assert_eq(created[26], 'Z');
    cr_assert_str_eq(created, updated);
    free(content), free(analyzed), free(created), free(updated);
    tu_reply_free(&r);
}

Test(handlers, content_rules_are_validation_errors_naming_content)
{
    const char *bad[] = {"", "   \t\n", "\xe3\x80\x80", "bad \xff utf8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tu_reply r;
        create(1, bad[i], &r);
        assert_error(&r, 400, "validation_error");
        cr_assert_not_null(detail(&r, "content"), "case %zu", i);
        tu_reply_free(&r);
    }
    msgpack_sbuffer sb;
    tu_args_content(&sb, NULL, 0, "a\0b", 3);
    struct tu_reply r;
    tu_call(server, "diary.create", 1, NULL, sb.data, sb.size, &r);
    msgpack_sbuffer_destroy(&sb);
    assert_error(&r, 400, "validation_error");
    tu_reply_free(&r);
    cr_assert_eq(atomic_load(&tu_senti_calls), 0, "nothing invalid reaches td-sentiment");
}

Test(handlers, content_of_the_wrong_type_or_missing_is_refused)
{
    struct tu_reply r;
    msgpack_sbuffer sb;
    pack_id(&sb, "content", 42);
    tu_call(server, "diary.create", 1, NULL, sb.data, sb.size, &r);
    msgpack_sbuffer_destroy(&sb);
    assert_error(&r, 400, "validation_error");
    cr_assert_not_null(detail(&r, "content"));
    tu_reply_free(&r);

    tu_call(server, "diary.create", 1, NULL, NULL, 0, &r);
    assert_error(&r, 400, "validation_error");
    cr_assert_not_null(detail(&r, "content"));
    tu_reply_free(&r);
}

Test(handlers, unknown_fields_are_named)
{
    msgpack_sbuffer sb;
    tu_args_content(&sb, "mood", 3, "hello", 5);
    struct tu_reply r;
    tu_call(server, "diary.create", 1, NULL, sb.data, sb.size, &r);
    msgpack_sbuffer_destroy(&sb);
    assert_error(&r, 400, "validation_error");
    cr_assert_not_null(detail(&r, "mood"));
    tu_reply_free(&r);
}

Test(handlers, user_operations_need_a_user)
{
    struct tu_reply r;
    create(0, "hello", &r);
    assert_error(&r, 401, "invalid_token");
    tu_reply_free(&r);
    tu_call(server, "diary.stats", 0, NULL, NULL, 0, &r);
    assert_error(&r, 401, "invalid_token");
    tu_reply_free(&r);
}

Test(handlers, get_update_delete_check_ownership)
{
    int64_t id = create_ok(1, "mine");
    struct tu_reply r;
    call_id("diary.get", 2, id, &r);
    assert_error(&r, 403, "forbidden");
    tu_reply_free(&r);
    call_id("diary.get", 1, id + 1000, &r);
    assert_error(&r, 404, "diary_not_found");
    tu_reply_free(&r);
    call_id("diary.delete", 2, id, &r);
    assert_error(&r, 403, "forbidden");
    tu_reply_free(&r);

    msgpack_sbuffer sb;
    tu_args_content(&sb, "id", id, "stolen happy", 12);
    tu_call(server, "diary.update", 2, NULL, sb.data, sb.size, &r);
    msgpack_sbuffer_destroy(&sb);
    assert_error(&r, 403, "forbidden");
    tu_reply_free(&r);
    cr_assert_eq(atomic_load(&tu_senti_calls), 1, "no analysis for a refused update");

    call_id("diary.delete", 1, id, &r);
    cr_assert_eq(r.status, 200);
    char *msg = tu_str(r.result, "message");
    cr_assert_str_eq(msg, "Diary entry deleted successfully");
    free(msg);
    tu_reply_free(&r);
    call_id("diary.get", 1, id, &r);
    assert_error(&r, 404, "diary_not_found");
    tu_reply_free(&r);
}

Test(handlers, update_reanalyses_and_keeps_created_at)
{
    int64_t id = create_ok(1, "so sad");
    struct tu_reply before;
    call_id("diary.get", 1, id, &before);
    char *created = tu_str(before.result, "created_at");
    cr_assert_eq(tu_int(before.result, "negative_count"), 1);
    tu_reply_free(&before);
    usleep(2000);
    msgpack_sbuffer sb;
    tu_args_content(&sb, "id", id, "happy happy", 11);
    struct tu_reply r;
    tu_call(server, "diary.update", 1, NULL, sb.data, sb.size, &r);
    msgpack_sbuffer_destroy(&sb);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(tu_int(r.result, "positive_count"), 2);
    cr_assert_eq(tu_int(r.result, "negative_count"), 0);
    char *c2 = tu_str(r.result, "created_at");
    char *u2 = tu_str(r.result, "updated_at");
    cr_assert_str_eq(c2, created);
    cr_assert_gt(strcmp(u2, c2), 0, "updated_at moved");
    free(created), free(c2), free(u2);
    tu_reply_free(&r);
}

Test(handlers, a_repeated_call_id_creates_one_entry)
{
    msgpack_sbuffer sb;
    tu_args_content(&sb, NULL, 0, "retry me", 8);
    struct tu_reply a, b;
    tu_call(server, "diary.create", 1, "0123456789abcdef", sb.data, sb.size, &a);
    tu_call(server, "diary.create", 1, "0123456789abcdef", sb.data, sb.size, &b);
    msgpack_sbuffer_destroy(&sb);
    cr_assert_eq(a.status, 201);
    cr_assert_eq(b.status, 201);
    cr_assert_eq(tu_int(a.result, "id"), tu_int(b.result, "id"));
    tu_reply_free(&a);
    tu_reply_free(&b);
    struct tu_reply st;
    tu_call(server, "diary.stats", 1, NULL, NULL, 0, &st);
    cr_assert_eq(tu_int(st.result, "total_entries"), 1);
    tu_reply_free(&st);
}

static void list(int64_t uid, int64_t page, int64_t per_page, struct tu_reply *r)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    td_mp_pack_kv_int(&pk, "page", page);
    td_mp_pack_kv_int(&pk, "per_page", per_page);
    tu_call(server, "diary.list", uid, NULL, sb.data, sb.size, r);
    msgpack_sbuffer_destroy(&sb);
}

Test(handlers, list_pages_and_reports_what_it_used)
{
    int64_t ids[12];
    for (int i = 0; i < 12; i++)
        ids[i] = create_ok(1, "entry");
    create_ok(2, "not yours");
    struct tu_reply r;
    list(1, 2, 5, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(tu_int(r.result, "page"), 2);
    cr_assert_eq(tu_int(r.result, "per_page"), 5);
    cr_assert_eq(tu_int(r.result, "total"), 12);
    cr_assert_eq(tu_int(r.result, "pages"), 3);
    const msgpack_object *items = td_mp_map_get(r.result, "items");
    cr_assert_eq(items->via.array.size, 5);
    cr_assert_eq(tu_int(&items->via.array.ptr[0], "id"), ids[6], "newest first");
    tu_reply_free(&r);

    list(1, 1, 1000, &r);
    cr_assert_eq(tu_int(r.result, "per_page"), 100);
    cr_assert_eq(td_mp_map_get(r.result, "items")->via.array.size, 12);
    tu_reply_free(&r);

    list(1, INT64_MAX, 100, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(td_mp_map_get(r.result, "items")->via.array.size, 0);
    cr_assert_eq(tu_int(r.result, "total"), 12);
    tu_reply_free(&r);

    list(3, 1, 10, &r);
    cr_assert_eq(tu_int(r.result, "total"), 0);
    cr_assert_eq(tu_int(r.result, "pages"), 0);
    tu_reply_free(&r);

    list(1, 0, 10, &r);
    assert_error(&r, 400, "validation_error");
    cr_assert_not_null(detail(&r, "page"));
    tu_reply_free(&r);
    list(1, 1, -5, &r);
    assert_error(&r, 400, "validation_error");
    cr_assert_not_null(detail(&r, "per_page"));
    tu_reply_free(&r);

    tu_call(server, "diary.list", 1, NULL, NULL, 0, &r);
    cr_assert_eq(tu_int(r.result, "page"), 1, "defaults");
    cr_assert_eq(tu_int(r.result, "per_page"), 10);
    tu_reply_free(&r);
}

Test(handlers, stats_has_seven_fields)
{
    create_ok(1, "happy happy sad");
    create_ok(1, "sad");
    create_ok(1, "plain");
    create_ok(1, "happy");
    struct tu_reply r;
    tu_call(server, "diary.stats", 1, NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.result->via.map.size, 7);
    cr_assert_eq(tu_int(r.result, "total_entries"), 4);
    cr_assert_eq(tu_int(r.result, "positive_entries"), 2);
    cr_assert_eq(tu_int(r.result, "negative_entries"), 1);
    cr_assert_eq(tu_int(r.result, "neutral_entries"), 1);
    cr_assert_eq(tu_int(r.result, "positive_count_total"), 3);
    cr_assert_eq(tu_int(r.result, "negative_count_total"), 2);
    char *overall = tu_str(r.result, "overall");
    cr_assert_str_eq(overall, "positive");
    free(overall);
    tu_reply_free(&r);
}

Test(handlers, delete_user_is_idempotent_and_needs_no_uid)
{
    create_ok(7, "a");
    create_ok(7, "b");
    int64_t keep = create_ok(8, "c");
    msgpack_sbuffer sb;
    pack_id(&sb, "user_id", 7);
    struct tu_reply r;
    tu_call(server, "diary.delete_user", 0, NULL, sb.data, sb.size, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(tu_int(r.result, "deleted"), 2);
    tu_reply_free(&r);
    tu_call(server, "diary.delete_user", 0, NULL, sb.data, sb.size, &r);
    cr_assert_eq(tu_int(r.result, "deleted"), 0);
    tu_reply_free(&r);
    msgpack_sbuffer_destroy(&sb);
    call_id("diary.get", 8, keep, &r);
    cr_assert_eq(r.status, 200);
    tu_reply_free(&r);
}

/* Every way td-sentiment can fail leaves the entry saved, escaped, pending. */
static void assert_saved_unanalysed(const char *content, const char *escaped)
{
    struct tu_reply r;
    create(1, content, &r);
    cr_assert_eq(r.status, 201, "mode %d", atomic_load(&tu_senti_mode));
    char *a = tu_str(r.result, "analyzed_content");
    cr_assert_str_eq(a, escaped, "mode %d", atomic_load(&tu_senti_mode));
    cr_assert_eq(tu_int(r.result, "positive_count"), 0);
    cr_assert_eq(tu_int(r.result, "negative_count"), 0);
    free(a);
    tu_reply_free(&r);
}

Test(handlers, a_bad_sentiment_answer_is_never_stored)
{
    int modes[] = {TU_SENTI_SCRIPT, TU_SENTI_WRONGTEXT, TU_SENTI_BADCOUNT, TU_SENTI_NEGATIVE,
                   TU_SENTI_NOTMAP, TU_SENTI_ERROR};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        atomic_store(&tu_senti_mode, modes[i]);
        assert_saved_unanalysed("<b>happy</b> & 'sad'",
                                "&lt;b&gt;happy&lt;/b&gt; &amp; &#39;sad&#39;");
    }
    int64_t pending = 0;
    TD_ASSERT_OK(diary_store_pending_count(store, 0, &pending));
    cr_assert_eq(pending, 6);
}

Test(handlers, sentiment_down_saves_pending_then_the_pass_analyses)
{
    td_rpc_server_stop(&senti, 1000);
    /* Once the client has seen the peer go (a killed daemon's pipe closes at
     * once; an in-process stop is noticed asynchronously). */
    for (int i = 0; i < 400 && td_rpc_client_peers(app.sentiment) > 0; i++)
        usleep(5000);
    int64_t t0 = td_mono_ms();
    assert_saved_unanalysed("I am happy", "I am happy");
    assert_saved_unanalysed("so sad", "so sad");
    cr_assert_lt(td_mono_ms() - t0, 2000, "a down td-sentiment costs no timeout");

    struct diary_pending_stats st = {0};
    unsigned bg = diary_store_bg_conn(store);
    int rc = diary_pending_run_once(store, bg, app.sentiment, 500, td_now_us(), &st);
    cr_assert_eq(rc, TD_EDOWN, "got %s", td_error_symbol(rc));
    cr_assert_eq(st.analysed, 0);

    senti = tu_senti_start(senti_url);
    for (int i = 0; i < 400 && td_rpc_client_peers(app.sentiment) == 0; i++)
        usleep(5000);
    rc = diary_pending_run_once(store, bg, app.sentiment, 2000, td_now_us(), &st);
    cr_assert_eq(rc, 0, "got %s", td_error_symbol(rc));
    cr_assert_eq(st.analysed, 2);

    struct tu_reply r;
    call_id("diary.get", 1, 1, &r);
    char *a = tu_str(r.result, "analyzed_content");
    cr_assert_str_eq(a, "I am <span class=\"positive\">happy</span>");
    cr_assert_eq(tu_int(r.result, "positive_count"), 1);
    free(a);
    tu_reply_free(&r);
    int64_t pending = -1;
    TD_ASSERT_OK(diary_store_pending_count(store, 0, &pending));
    cr_assert_eq(pending, 0);
}

Test(handlers, an_entry_whose_analysis_fails_is_deferred_not_retried_at_once)
{
    atomic_store(&tu_senti_mode, TU_SENTI_ERROR);
    create_ok(1, "happy");
    struct diary_pending_stats st = {0};
    unsigned bg = diary_store_bg_conn(store);
    int64_t now = td_now_us();
    TD_ASSERT_OK(diary_pending_run_once(store, bg, app.sentiment, 2000, now, &st));
    cr_assert_eq(st.deferred, 1);
    atomic_store(&tu_senti_mode, TU_SENTI_GOOD);
    memset(&st, 0, sizeof st);
    TD_ASSERT_OK(diary_pending_run_once(store, bg, app.sentiment, 2000, now, &st));
    cr_assert_eq(st.analysed + st.deferred, 0, "not due yet");
    now += (int64_t)DIARY_PENDING_ENTRY_BACKOFF_MAX_MS * 1000;
    TD_ASSERT_OK(diary_pending_run_once(store, bg, app.sentiment, 2000, now, &st));
    cr_assert_eq(st.analysed, 1);
}

Test(handlers, the_background_worker_analyses_pending_entries_by_itself)
{
    atomic_store(&tu_senti_mode, TU_SENTI_ERROR);
    td_rpc_server_stop(&senti, 1000);
    assert_saved_unanalysed("happy days", "happy days");
    struct diary_pending_worker *w = NULL;
    TD_ASSERT_OK(diary_pending_start(store, app.sentiment, 1000, &w));
    atomic_store(&tu_senti_mode, TU_SENTI_GOOD);
    senti = tu_senti_start(senti_url);
    int64_t pending = 1;
    for (int i = 0; i < 100 && pending != 0; i++) {
        usleep(100000);
        TD_ASSERT_OK(diary_store_pending_count(store, 0, &pending));
    }
    diary_pending_stop(&w);
    cr_assert_null(w);
    cr_assert_eq(pending, 0, "the worker never analysed the entry");
}

TestSuite(analysis, .timeout = 10);

Test(analysis, parse_checks_the_result_map)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    td_mp_pack_kv_str(&pk, "analyzed_content", "<span class=\"negative\">bad</span> day");
    td_mp_pack_kv_int(&pk, "positive_count", 0);
    td_mp_pack_kv_int(&pk, "negative_count", 1);
    td_mp_pack_kv_str(&pk, "analyzer", "lexicon");
    td_mp_pack_kv_str(&pk, "extra", "ignored for forward compatibility");
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    TD_ASSERT_OK(td_mp_unpack(sb.data, sb.size, &up));
    struct diary_analysis a;
    TD_ASSERT_OK(diary_analysis_parse(&up.data, "bad day", 7, &a));
    cr_assert_eq(a.negative_count, 1);
    cr_assert_not(a.pending);
    diary_analysis_clear(&a);
    cr_assert_eq(diary_analysis_parse(&up.data, "bad days", 8, &a), TD_EPROTO);
    cr_assert_eq(diary_analysis_parse(NULL, "bad day", 7, &a), TD_EPROTO);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

Test(analysis, fallback_is_escaped_and_pending)
{
    struct diary_analysis a;
    TD_ASSERT_OK(diary_analysis_fallback("<script>", 8, &a));
    cr_assert_str_eq(a.analyzed, "&lt;script&gt;");
    cr_assert(a.pending);
    cr_assert_eq(a.positive_count + a.negative_count, 0);
    diary_analysis_clear(&a);
    TD_ASSERT_OK(diary_analysis_get(NULL, 10, "x", 1, &a), "no client: fallback");
    cr_assert(a.pending);
    diary_analysis_clear(&a);
}

Test(handlers, ids_and_page_numbers_of_the_wrong_type_are_named)
{
    struct tu_reply r;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    td_mp_pack_kv_str(&pk, "id", "1");
    tu_call(server, "diary.get", 1, NULL, sb.data, sb.size, &r);
    assert_error(&r, 400, "validation_error");
    cr_assert_not_null(detail(&r, "id"));
    tu_reply_free(&r);
    msgpack_sbuffer_destroy(&sb);

    call_id("diary.delete", 1, 0, &r);
    assert_error(&r, 400, "validation_error");
    cr_assert_not_null(detail(&r, "id"));
    tu_reply_free(&r);

    tu_call(server, "diary.get", 1, NULL, NULL, 0, &r);
    assert_error(&r, 400, "validation_error");
    cr_assert_not_null(detail(&r, "id"), "a missing id is named");
    tu_reply_free(&r);

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    td_mp_pack_cstr(&pk, "page");
    msgpack_pack_double(&pk, 1.5);
    td_mp_pack_kv_int(&pk, "page", 2);
    tu_call(server, "diary.list", 1, NULL, sb.data, sb.size, &r);
    assert_error(&r, 400, "validation_error");
    cr_assert_not_null(detail(&r, "page"), "a float or repeated page is refused");
    tu_reply_free(&r);
    msgpack_sbuffer_destroy(&sb);

    /* A non-string key and an unknown key on an op without arguments. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_int(&pk, 7);
    msgpack_pack_int(&pk, 7);
    td_mp_pack_kv_int(&pk, "verbose", 1);
    tu_call(server, "diary.stats", 1, NULL, sb.data, sb.size, &r);
    assert_error(&r, 400, "validation_error");
    cr_assert_not_null(detail(&r, "verbose"));
    cr_assert_not_null(detail(&r, "?"), "a non-string key is named \"?\"");
    tu_reply_free(&r);
    msgpack_sbuffer_destroy(&sb);
}
