/*
 * test_rpc_batch.c — RPC coalescing (td_rpc.h, "Coalescing"; proto/README.md,
 * "Batches"): batches form under load and each caller gets its own reply; a
 * lone call still travels alone; the server refuses a malformed batch as a
 * whole, answers a bad envelope inside a good batch on its own, applies the
 * callers check to every call, and answers a batch by its earliest deadline
 * when one call is slow; batches travel over mutual TLS and spread over
 * every replica a client dials.
 */
#include "td_error.h"
#include "td_mp.h"
#include "td_rpc.h"
#include "td_time.h"
#include "../td_assert.h"
#include "../td_port.h"

#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char url[128];
static char dir[64];
static atomic_int handled;
static char *replies[8]; /* exchange's reply bytes, which its objects point into */
static int nreplies;

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    snprintf(dir, sizeof dir, "/tmp/td-rpc-batch-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(url, sizeof url, "ipc://%s/rpc.sock", dir);
    atomic_store(&handled, 0);
}

static void teardown(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/rpc.sock", dir);
    unlink(path);
    rmdir(dir);
    for (int i = 0; i < nreplies; i++)
        free(replies[i]);
    nreplies = 0;
}

TestSuite(rpc_batch, .init = setup, .fini = teardown, .timeout = 60);

/* result = {"n": args.n, "uid": uid}; sleeps args.sleep_ms first. */
static int echo(void *app, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    (void)app;
    int64_t n = 0, sleep_ms = 0;
    td_mp_as_int64(td_mp_map_get(req->args, "n"), &n);
    td_mp_as_int64(td_mp_map_get(req->args, "sleep_ms"), &sleep_ms);
    if (sleep_ms > 0)
        usleep((useconds_t)sleep_ms * 1000);
    atomic_fetch_add(&handled, 1);
    msgpack_packer *pk = td_rpc_reply_result(rep, 201);
    msgpack_pack_map(pk, 2);
    td_mp_pack_kv_int(pk, "n", n);
    td_mp_pack_kv_int(pk, "uid", req->user_id);
    return 0;
}

/* diary.list is a short read (TD_B_SHORT), so its calls may be batched;
 * served here by the workers, so a batch's calls run side by side. */
static const struct td_rpc_route routes[] = {{TD_OP_DIARY_LIST, echo, false}};

static struct td_rpc_server *start_server_at(const char *at, unsigned workers, unsigned callers)
{
    struct td_rpc_server_opts opts = {.service = "test", .url = at, .callers = callers,
                                      .workers = workers, .routes = routes, .nroutes = 1};
    struct td_rpc_server *srv = NULL;
    TD_ASSERT_OK(td_rpc_server_start(&opts, &srv));
    return srv;
}

static struct td_rpc_server *start_server(unsigned workers, unsigned callers)
{
    return start_server_at(url, workers, callers);
}

/* A client of `urls` (a comma list: every one is dialled) that expects a
 * server of role `peer` (0: any, as over ipc). */
static struct td_rpc_client *open_client_of(const char *urls, unsigned peer, int coalesce)
{
    struct td_rpc_client_opts opts = {.service = "test", .urls = urls, .peer = peer,
                                      .timeout_ms = 5000, .coalesce = coalesce};
    struct td_rpc_client *c = NULL;
    TD_ASSERT_OK(td_rpc_client_open(&opts, &c));
    return c;
}

static struct td_rpc_client *open_client(int coalesce)
{
    return open_client_of(url, 0, coalesce);
}

static void pack_args(msgpack_sbuffer *sb, int64_t n, int64_t sleep_ms)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    td_mp_pack_kv_int(&pk, "n", n);
    td_mp_pack_kv_int(&pk, "sleep_ms", sleep_ms);
}

static int call_n(struct td_rpc_client *c, int64_t n, int64_t uid, int64_t sleep_ms,
                  struct td_rpc_result *res)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_args(&sb, n, sleep_ms);
    struct td_rpc_call call = {.op = TD_OP_DIARY_LIST, .request_id = "rid", .user_id = uid,
                               .args = sb.data, .args_len = sb.size};
    int rc = td_rpc_call(c, &call, res);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

struct hammer {
    struct td_rpc_client *c;
    int base;
    atomic_int *wrong;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < 20; i++) {
        struct td_rpc_result res;
        int64_t want = h->base + i, got = -1, uid = -1;
        if (call_n(h->c, want, h->base, 2, &res) != 0) {
            atomic_fetch_add(h->wrong, 1);
            continue;
        }
        td_mp_as_int64(td_mp_map_get(res.result, "n"), &got);
        td_mp_as_int64(td_mp_map_get(res.result, "uid"), &uid);
        if (res.status != 201 || got != want || uid != h->base)
            atomic_fetch_add(h->wrong, 1); /* a reply that reached the wrong caller */
        td_rpc_result_free(&res);
    }
    return NULL;
}

/* `threads` callers of 20 calls each on one client; asserts each got its
 * own replies. */
static void hammer(struct td_rpc_client *c, int threads)
{
    pthread_t t[32];
    struct hammer h[32];
    cr_assert_leq(threads, 32);
    atomic_int wrong = 0;
    for (int i = 0; i < threads; i++) {
        h[i] = (struct hammer){.c = c, .base = (i + 1) * 1000, .wrong = &wrong};
        cr_assert_eq(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&wrong), 0);
}

Test(rpc_batch, concurrent_calls_travel_in_batches_and_each_gets_its_own_reply)
{
    struct td_rpc_server *srv = start_server(8, 0);
    struct td_rpc_client *c = open_client(1);
    enum { THREADS = 32 };
    hammer(c, THREADS);
    cr_assert_eq(atomic_load(&handled), THREADS * 20, "each call ran exactly once");

    struct td_rpc_client_stats cs;
    td_rpc_client_stats(c, &cs);
    struct td_rpc_server_stats ss;
    td_rpc_server_stats(srv, &ss);
    cr_assert_gt(cs.batches, 0, "no batch formed under 32 concurrent callers");
    cr_assert_geq(cs.largest_batch, 2);
    cr_assert_lt(cs.messages, (uint64_t)THREADS * 20, "fewer messages than calls");
    cr_assert_eq(ss.batches, cs.batches, "the server saw every batch as one");
    cr_assert_eq(ss.batched_calls, cs.batched_calls);
    cr_assert_eq(ss.messages, cs.messages);
    cr_assert_eq(ss.late_calls, 0);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
}

Test(rpc_batch, a_lone_caller_is_never_batched)
{
    struct td_rpc_server *srv = start_server(2, 0);
    struct td_rpc_client *c = open_client(1);
    for (int i = 0; i < 20; i++) {
        struct td_rpc_result res;
        TD_ASSERT_OK(call_n(c, i, 7, 0, &res));
        cr_assert_eq(res.status, 201);
        td_rpc_result_free(&res);
    }
    struct td_rpc_client_stats cs;
    td_rpc_client_stats(c, &cs);
    cr_assert_eq(cs.messages, 20);
    cr_assert_eq(cs.batches, 0);
    cr_assert_eq(cs.largest_batch, 1);
    struct td_rpc_server_stats ss;
    td_rpc_server_stats(srv, &ss);
    cr_assert_eq(ss.batches, 0);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
}

Test(rpc_batch, with_coalescing_off_no_batch_forms)
{
    struct td_rpc_server *srv = start_server(8, 0);
    struct td_rpc_client *c = open_client(-1);
    enum { THREADS = 16 };
    hammer(c, THREADS);
    struct td_rpc_client_stats cs;
    td_rpc_client_stats(c, &cs);
    cr_assert_eq(cs.batches, 0);
    cr_assert_eq(cs.messages, THREADS * 20);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
}

/* ---- batches over TLS and over replicas -------------------------------- */

/* Calls until one is answered: a tls+tcp handshake, or a second replica's
 * connection, takes a moment. */
static void wait_served(struct td_rpc_client *c)
{
    int rc = TD_EDOWN;
    for (int i = 0; i < 100 && rc != 0; i++) {
        struct td_rpc_result res;
        rc = call_n(c, 1, 1, 0, &res);
        if (rc == 0)
            td_rpc_result_free(&res);
        else
            usleep(20000);
    }
    TD_ASSERT_OK(rc);
}

Test(rpc_batch, batches_travel_over_mutual_tls)
{
    char certs[128], cmd[384], tls_url[64];
    snprintf(certs, sizeof certs, "%s/certs", dir);
    snprintf(cmd, sizeof cmd, "%s/ops/tls/make-dev-certs.sh %s >/dev/null", TD_SOURCE_DIR, certs);
    cr_assert_eq(system(cmd), 0);
    /* one identity per process: both ends are gateways */
    TD_ASSERT_OK(td_rpc_tls_setup(certs, TD_ROLE_GATEWAY));
    snprintf(tls_url, sizeof tls_url, "tls+tcp://127.0.0.1:%d", tu_free_port());
    struct td_rpc_server *srv = start_server_at(tls_url, 8, TD_ROLE_GATEWAY);
    struct td_rpc_client *c = open_client_of(tls_url, TD_ROLE_GATEWAY, 1);
    wait_served(c);
    enum { THREADS = 32 };
    hammer(c, THREADS);
    cr_assert_eq(atomic_load(&handled), THREADS * 20 + 1, "each call ran exactly once");
    struct td_rpc_client_stats cs;
    td_rpc_client_stats(c, &cs);
    struct td_rpc_server_stats ss;
    td_rpc_server_stats(srv, &ss);
    cr_assert_gt(cs.batches, 0, "no batch formed over TLS under 32 concurrent callers");
    cr_assert_eq(ss.batches, cs.batches);
    cr_assert_eq(ss.batched_calls, cs.batched_calls);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
    snprintf(cmd, sizeof cmd, "rm -rf %s", certs);
    cr_assert_eq(system(cmd), 0);
}

Test(rpc_batch, batches_spread_over_every_replica)
{
    char second[128], both[260];
    snprintf(second, sizeof second, "ipc://%s/rpc-2.sock", dir);
    snprintf(both, sizeof both, "%s,%s", url, second);
    struct td_rpc_server *a = start_server_at(url, 8, 0);
    struct td_rpc_server *b = start_server_at(second, 8, 0);
    struct td_rpc_client *c = open_client_of(both, 0, 1);
    /* until each replica has answered a call alone: both are connected */
    struct td_rpc_server_stats sa, sb;
    int warm = 0;
    do {
        wait_served(c);
        warm++;
        td_rpc_server_stats(a, &sa);
        td_rpc_server_stats(b, &sb);
    } while ((sa.messages == 0 || sb.messages == 0) && warm < 200);
    cr_assert(sa.messages > 0 && sb.messages > 0, "the client did not reach both replicas");
    enum { THREADS = 32 };
    hammer(c, THREADS);
    cr_assert_eq(atomic_load(&handled), THREADS * 20 + warm, "each call ran exactly once");
    struct td_rpc_client_stats cs;
    td_rpc_client_stats(c, &cs);
    td_rpc_server_stats(a, &sa);
    td_rpc_server_stats(b, &sb);
    cr_assert(sa.batches > 0 && sb.batches > 0,
              "batches reached one replica only (%llu / %llu)", (unsigned long long)sa.batches,
              (unsigned long long)sb.batches);
    cr_assert_eq(sa.batches + sb.batches, cs.batches);
    cr_assert_eq(sa.batched_calls + sb.batched_calls, cs.batched_calls);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&a, 1000);
    td_rpc_server_stop(&b, 1000);
    char path[160];
    snprintf(path, sizeof path, "%s/rpc-2.sock", dir);
    unlink(path);
}

/* ---- batches sent by hand --------------------------------------------- */

/* Packs one request envelope: diary.list {n, sleep_ms} with `ttl` (0: none). */
static void pack_envelope(msgpack_sbuffer *sb, int version, int64_t n, int64_t sleep_ms,
                          int64_t ttl)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, ttl > 0 ? 7 : 6);
    td_mp_pack_kv_int(&pk, "v", version);
    td_mp_pack_kv_str(&pk, "op", "diary.list");
    td_mp_pack_kv_str(&pk, "rid", "by-hand");
    td_mp_pack_kv_str(&pk, "cid", "0123456789abcdef");
    td_mp_pack_kv_int(&pk, "uid", 5);
    if (ttl > 0)
        td_mp_pack_kv_int(&pk, "ttl", ttl);
    td_mp_pack_cstr(&pk, "args");
    pack_args(sb, n, sleep_ms);
}

struct frame {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void frame_begin(struct frame *f, uint32_t n)
{
    msgpack_sbuffer_init(&f->sb);
    msgpack_packer_init(&f->pk, &f->sb, msgpack_sbuffer_write);
    msgpack_pack_array(&f->pk, n);
}

static void frame_add(struct frame *f, const void *bytes, size_t len)
{
    msgpack_pack_bin(&f->pk, len);
    msgpack_pack_bin_body(&f->pk, bytes, len);
}

static void frame_add_call(struct frame *f, int64_t n, int64_t sleep_ms, int64_t ttl)
{
    msgpack_sbuffer e;
    msgpack_sbuffer_init(&e);
    pack_envelope(&e, 1, n, sleep_ms, ttl);
    frame_add(f, e.data, e.size);
    msgpack_sbuffer_destroy(&e);
}

/* Sends `f` on a raw req socket and unpacks the reply into *up. */
static void exchange(const struct frame *f, msgpack_unpacked *up)
{
    nng_socket req;
    cr_assert_eq(nng_req0_open(&req), 0);
    cr_assert_eq(nng_socket_set_ms(req, NNG_OPT_RECVTIMEO, 5000), 0);
    cr_assert_eq(nng_dial(req, url, NULL, 0), 0);
    cr_assert_eq(nng_send(req, f->sb.data, f->sb.size, 0), 0);
    char *buf = NULL;
    size_t len = 0;
    cr_assert_eq(nng_recv(req, &buf, &len, NNG_FLAG_ALLOC), 0, "no reply");
    msgpack_unpacked_init(up);
    /* the reply's objects point into its bytes: kept until teardown */
    cr_assert_lt(nreplies, 8);
    char *copy = malloc(len);
    cr_assert_not_null(copy);
    memcpy(copy, buf, len);
    replies[nreplies++] = copy;
    nng_free(buf, len);
    TD_ASSERT_OK(td_mp_unpack(copy, len, up));
    nng_close(req);
}

/* The status of reply element `i` (a bin holding a reply envelope), or -1
 * when the element is a marker; the error string in *err when it has one. */
static int64_t element_status(const msgpack_object *root, uint32_t i, char *err, size_t errlen)
{
    cr_assert_eq(root->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_lt(i, root->via.array.size);
    const msgpack_object *e = &root->via.array.ptr[i];
    if (e->type != MSGPACK_OBJECT_BIN)
        return -1;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    TD_ASSERT_OK(td_mp_unpack(e->via.bin.ptr, e->via.bin.size, &up));
    int64_t status = 0;
    TD_ASSERT_OK(td_mp_as_int64(td_mp_map_get(&up.data, "status"), &status));
    err[0] = '\0';
    const msgpack_object *eo = td_mp_map_get(td_mp_map_get(&up.data, "error"), "error");
    if (eo != NULL)
        td_mp_copy_str(eo, err, errlen);
    msgpack_unpacked_destroy(&up);
    return status;
}

Test(rpc_batch, a_bad_envelope_fails_alone_and_a_bad_frame_fails_whole)
{
    struct td_rpc_server *srv = start_server(2, 0);
    /* good, garbage, a map of another version, good */
    struct frame f;
    frame_begin(&f, 4);
    frame_add_call(&f, 1, 0, 1000);
    frame_add(&f, "\xc1", 1);
    msgpack_sbuffer v2;
    msgpack_sbuffer_init(&v2);
    pack_envelope(&v2, 2, 3, 0, 1000);
    frame_add(&f, v2.data, v2.size);
    msgpack_sbuffer_destroy(&v2);
    frame_add_call(&f, 4, 0, 0); /* no ttl: allowed, no deadline */
    msgpack_unpacked up;
    exchange(&f, &up);
    char err[64];
    cr_assert_eq(up.data.via.array.size, 4);
    cr_assert_eq(element_status(&up.data, 0, err, sizeof err), 201);
    cr_assert_eq(element_status(&up.data, 1, err, sizeof err), 400);
    cr_assert_str_eq(err, "invalid_message");
    cr_assert_eq(element_status(&up.data, 2, err, sizeof err), 400);
    cr_assert_str_eq(err, "invalid_message");
    cr_assert_eq(element_status(&up.data, 3, err, sizeof err), 201);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&f.sb);
    cr_assert_eq(atomic_load(&handled), 2);

    /* Frames refused whole, with one envelope as for any malformed message:
     * an empty array, a non-bin element, too many calls, a batch of one
     * holding a batch. */
    struct frame bad[4];
    frame_begin(&bad[0], 0);
    frame_begin(&bad[1], 2);
    frame_add_call(&bad[1], 1, 0, 1000);
    msgpack_pack_int(&bad[1].pk, 7);
    frame_begin(&bad[2], TD_PROTO_BATCH_MAX + 1);
    for (int i = 0; i < TD_PROTO_BATCH_MAX + 1; i++)
        frame_add_call(&bad[2], i, 0, 1000);
    frame_begin(&bad[3], 1);
    frame_add(&bad[3], "", 0); /* an empty bin: not an envelope */
    for (int k = 0; k < 3; k++) {
        exchange(&bad[k], &up);
        cr_assert_eq(up.data.type, MSGPACK_OBJECT_MAP, "frame %d", k);
        int64_t status = 0;
        TD_ASSERT_OK(td_mp_as_int64(td_mp_map_get(&up.data, "status"), &status));
        cr_assert_eq(status, 400, "frame %d", k);
        cr_assert(td_mp_str_eq(td_mp_map_get(td_mp_map_get(&up.data, "error"), "error"),
                               "invalid_message"));
        msgpack_unpacked_destroy(&up);
    }
    /* an empty bin is a well-formed frame whose one envelope is malformed */
    exchange(&bad[3], &up);
    cr_assert_eq(element_status(&up.data, 0, err, sizeof err), 400);
    msgpack_unpacked_destroy(&up);
    for (int k = 0; k < 4; k++)
        msgpack_sbuffer_destroy(&bad[k].sb);
    cr_assert_eq(atomic_load(&handled), 2, "nothing of a refused frame ran");

    /* handle_bytes (the fuzz target's path) answers a batch the same way */
    frame_begin(&f, 2);
    frame_add_call(&f, 9, 0, 1000);
    frame_add(&f, "\x93", 1);
    char *out = NULL;
    size_t out_len = 0;
    TD_ASSERT_OK(td_rpc_server_handle_bytes(srv, 0, f.sb.data, f.sb.size, &out, &out_len));
    msgpack_unpacked_init(&up);
    TD_ASSERT_OK(td_mp_unpack(out, out_len, &up));
    cr_assert_eq(element_status(&up.data, 0, err, sizeof err), 201);
    cr_assert_eq(element_status(&up.data, 1, err, sizeof err), 400);
    msgpack_unpacked_destroy(&up);
    free(out);
    msgpack_sbuffer_destroy(&f.sb);
    td_rpc_server_stop(&srv, 1000);
}

Test(rpc_batch, every_call_of_a_batch_passes_the_callers_check)
{
    /* A listener for the operator only: diary.list (the gateway's) is
     * refused, call by call; ping (open to all) is served. */
    struct td_rpc_server *srv = start_server(2, TD_ROLE_OPERATOR);
    struct frame f;
    frame_begin(&f, 3);
    frame_add_call(&f, 1, 0, 1000);
    msgpack_sbuffer ping;
    msgpack_sbuffer_init(&ping);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &ping, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    td_mp_pack_kv_int(&pk, "v", 1);
    td_mp_pack_kv_str(&pk, "op", "ping");
    frame_add(&f, ping.data, ping.size);
    msgpack_sbuffer_destroy(&ping);
    frame_add_call(&f, 2, 0, 1000);
    msgpack_unpacked up;
    exchange(&f, &up);
    char err[64];
    cr_assert_eq(element_status(&up.data, 0, err, sizeof err), 403);
    cr_assert_str_eq(err, "forbidden");
    cr_assert_eq(element_status(&up.data, 1, err, sizeof err), 200);
    cr_assert_eq(element_status(&up.data, 2, err, sizeof err), 403);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&f.sb);
    cr_assert_eq(atomic_load(&handled), 0, "a refused call ran");
    td_rpc_server_stop(&srv, 1000);
}

Test(rpc_batch, a_slow_call_does_not_hold_its_siblings_past_their_deadline)
{
    struct td_rpc_server *srv = start_server(4, 0);
    /* two quick calls and one of 1.5 s, each with 300 ms to live */
    struct frame f;
    frame_begin(&f, 3);
    frame_add_call(&f, 1, 0, 300);
    frame_add_call(&f, 2, 1500, 300);
    frame_add_call(&f, 3, 10, 300);
    int64_t t0 = td_mono_ms();
    msgpack_unpacked up;
    exchange(&f, &up);
    int64_t took = td_mono_ms() - t0;
    cr_assert_lt(took, 300, "the batch was answered after %lld ms, past its calls' deadline",
                 (long long)took);
    cr_assert_geq(took, 200, "answered before the slow call's deadline (%lld ms)", (long long)took);
    char err[64];
    cr_assert_eq(element_status(&up.data, 0, err, sizeof err), 201);
    cr_assert_eq(element_status(&up.data, 2, err, sizeof err), 201);
    const msgpack_object *late = &up.data.via.array.ptr[1];
    cr_assert_eq(late->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_assert_eq(late->via.u64, TD_PROTO_BATCH_LATE);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&f.sb);
    struct td_rpc_server_stats ss;
    td_rpc_server_stats(srv, &ss);
    cr_assert_eq(ss.late_calls, 1);
    /* stopping waits for the slow call, as for a call alone */
    td_rpc_server_stop(&srv, 5000);
    cr_assert_eq(atomic_load(&handled), 3);
}

/* Through the client: a caller whose batch comes back without its reply
 * sees the timeout it would have seen alone, and the others their replies. */
struct timed {
    struct td_rpc_client *c;
    int64_t n, sleep_ms;
    int rc, status;
    int64_t took;
};

static void *timed_main(void *arg)
{
    struct timed *t = arg;
    struct td_rpc_result res;
    int64_t t0 = td_mono_ms();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_args(&sb, t->n, t->sleep_ms);
    struct td_rpc_call call = {.op = TD_OP_DIARY_LIST, .args = sb.data, .args_len = sb.size,
                               .timeout_ms = 1000};
    t->rc = td_rpc_call(t->c, &call, &res);
    t->took = td_mono_ms() - t0;
    msgpack_sbuffer_destroy(&sb);
    if (t->rc == 0) {
        t->status = res.status;
        td_rpc_result_free(&res);
    }
    return NULL;
}

Test(rpc_batch, a_caller_in_a_batch_times_out_as_alone_and_its_siblings_do_not)
{
    struct td_rpc_server *srv = start_server(8, 0);
    struct td_rpc_client_opts opts = {.service = "test", .urls = url, .timeout_ms = 5000,
                                      .coalesce = 1, .max_in_flight = 1};
    struct td_rpc_client *c = NULL;
    TD_ASSERT_OK(td_rpc_client_open(&opts, &c));
    struct td_rpc_result res;
    TD_ASSERT_OK(call_n(c, 0, 0, 0, &res)); /* connected */
    td_rpc_result_free(&res);
    /* One call holds the only line for 100 ms; meanwhile a slow one and four
     * quick ones queue and then leave as one batch. */
    struct timed first = {.c = c, .n = 100, .sleep_ms = 100};
    struct timed t[5];
    pthread_t th[6];
    cr_assert_eq(pthread_create(&th[0], NULL, timed_main, &first), 0);
    usleep(30000);
    for (int i = 0; i < 5; i++) {
        t[i] = (struct timed){.c = c, .n = i, .sleep_ms = i == 0 ? 3000 : 5};
        cr_assert_eq(pthread_create(&th[i + 1], NULL, timed_main, &t[i]), 0);
    }
    for (int i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(first.rc, 0);
    cr_assert_eq(t[0].rc, TD_ETIMEDOUT, "the slow call: %s", td_error_symbol(t[0].rc));
    cr_assert_lt(t[0].took, 1300);
    for (int i = 1; i < 5; i++) {
        cr_assert_eq(t[i].rc, 0, "call %d: %s", i, td_error_symbol(t[i].rc));
        cr_assert_eq(t[i].status, 201);
        cr_assert_lt(t[i].took, 1000, "call %d took %lld ms", i, (long long)t[i].took);
    }
    struct td_rpc_client_stats cs;
    td_rpc_client_stats(c, &cs);
    cr_assert_geq(cs.largest_batch, 5, "the five did not travel together");
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 5000);
}
