/*
 * test_rpc.c — the RPC layer over real nng sockets: round trips, many
 * concurrent callers, deadlines (slow vs down), malformed frames, a server
 * restarted under its clients, and graceful drain.
 */
#include "td_error.h"
#include "td_mp.h"
#include "td_rpc.h"
#include "td_time.h"
#include "../td_assert.h"

#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <nng/supplemental/tls/tls.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static char url[128];
static char dir[64];
static atomic_int handled;

/* Each test's socket in a fresh directory of its own: a listener refuses a
 * directory that others can write to, such as /tmp itself. */
static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    snprintf(dir, sizeof dir, "/tmp/td-rpc-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(url, sizeof url, "ipc://%s/rpc.sock", dir);
    atomic_store(&handled, 0);
}

static void teardown(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/rpc.sock", dir);
    unlink(path); /* left behind only by a test that failed before stopping */
    rmdir(dir);
}

TestSuite(rpc, .init = setup, .fini = teardown, .timeout = 60);

/* echo: result = {"n": args.n, "uid": uid, "rid": rid}; sleeps args.sleep_ms. */
static int echo(void *app, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    (void)app;
    int64_t n = 0, sleep_ms = 0;
    td_mp_as_int64(td_mp_map_get(req->args, "n"), &n);
    td_mp_as_int64(td_mp_map_get(req->args, "sleep_ms"), &sleep_ms);
    if (sleep_ms > 0)
        usleep((useconds_t)sleep_ms * 1000);
    atomic_fetch_add(&handled, 1);
    if (n < 0) {
        td_rpc_reply_detail(rep, "n", "Must not be negative.");
        td_rpc_reply_detail(rep, "n", "Really.");
        return td_rpc_reply_error(rep, TD_EINVAL, NULL);
    }
    msgpack_packer *pk = td_rpc_reply_result(rep, 201);
    msgpack_pack_map(pk, 3);
    td_mp_pack_kv_int(pk, "n", n);
    td_mp_pack_kv_int(pk, "uid", req->user_id);
    td_mp_pack_kv_str(pk, "rid", req->request_id);
    return 0;
}

static const struct td_rpc_route routes[] = {{TD_OP_DIARY_LIST, echo, false}};

static struct td_rpc_server *start_server_routes(unsigned workers,
                                                const struct td_rpc_route *rs, size_t n)
{
    struct td_rpc_server_opts opts = {.service = "test", .url = url, .workers = workers,
                                      .routes = rs, .nroutes = n};
    struct td_rpc_server *srv = NULL;
    TD_ASSERT_OK(td_rpc_server_start(&opts, &srv));
    return srv;
}

static struct td_rpc_server *start_server(unsigned workers)
{
    return start_server_routes(workers, routes, 1);
}

static struct td_rpc_client *open_client(int timeout_ms)
{
    struct td_rpc_client_opts opts = {.service = "test", .urls = url, .timeout_ms = timeout_ms};
    struct td_rpc_client *c = NULL;
    TD_ASSERT_OK(td_rpc_client_open(&opts, &c));
    return c;
}

static int call_n(struct td_rpc_client *c, int64_t n, int64_t sleep_ms, int timeout_ms,
                  struct td_rpc_result *res)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    td_mp_pack_kv_int(&pk, "n", n);
    td_mp_pack_kv_int(&pk, "sleep_ms", sleep_ms);
    struct td_rpc_call call = {.op = TD_OP_DIARY_LIST, .request_id = "rid-1", .user_id = 7,
                               .args = sb.data, .args_len = sb.size, .timeout_ms = timeout_ms};
    int rc = td_rpc_call(c, &call, res);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

Test(rpc, round_trip_carries_args_user_and_request_id)
{
    struct td_rpc_server *srv = start_server(2);
    struct td_rpc_client *c = open_client(2000);
    struct td_rpc_result res;
    cr_assert_eq(call_n(c, 41, 0, 0, &res), 0);
    cr_assert_eq(res.status, 201);
    int64_t v;
    TD_ASSERT_OK(td_mp_as_int64(td_mp_map_get(res.result, "n"), &v));
    cr_assert_eq(v, 41);
    TD_ASSERT_OK(td_mp_as_int64(td_mp_map_get(res.result, "uid"), &v));
    cr_assert_eq(v, 7);
    cr_assert(td_mp_str_eq(td_mp_map_get(res.result, "rid"), "rid-1"));
    td_rpc_result_free(&res);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
    cr_assert_null(srv);
}

Test(rpc, error_reply_has_the_api_shape_with_grouped_details)
{
    struct td_rpc_server *srv = start_server(1);
    struct td_rpc_client *c = open_client(2000);
    struct td_rpc_result res;
    cr_assert_eq(call_n(c, -1, 0, 0, &res), 0);
    cr_assert_eq(res.status, 400);
    cr_assert(td_mp_str_eq(td_rpc_result_error_field(&res, "error"), "validation_error"));
    const msgpack_object *details = td_rpc_result_error_field(&res, "details");
    cr_assert_not_null(details);
    cr_assert_eq(details->via.map.size, 1, "both messages sit under one field");
    const msgpack_object *n = td_mp_map_get(details, "n");
    cr_assert_eq(n->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(n->via.array.size, 2);
    td_rpc_result_free(&res);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
}

Test(rpc, ping_is_built_in_and_unknown_ops_are_refused)
{
    struct td_rpc_server *srv = start_server(1);
    struct td_rpc_client *c = open_client(2000);
    struct td_rpc_result res;
    struct td_rpc_call ping = {.op = TD_OP_PING};
    TD_ASSERT_OK(td_rpc_call(c, &ping, &res));
    cr_assert_eq(res.status, 200);
    cr_assert(td_mp_str_eq(td_mp_map_get(res.result, "service"), "test"));
    td_rpc_result_free(&res);

    struct td_rpc_call other = {.op = TD_OP_AUTH_LOGIN};
    TD_ASSERT_OK(td_rpc_call(c, &other, &res));
    cr_assert_eq(res.status, 404);
    cr_assert(td_mp_str_eq(td_rpc_result_error_field(&res, "error"), "unknown_operation"));
    td_rpc_result_free(&res);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
}

struct hammer {
    struct td_rpc_client *c;
    int calls;
    atomic_int *failures;
    int base;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < h->calls; i++) {
        struct td_rpc_result res;
        int64_t want = h->base + i, got = -1;
        int rc = call_n(h->c, want, 0, 5000, &res);
        if (rc != 0) {
            atomic_fetch_add(h->failures, 1);
            continue;
        }
        td_mp_as_int64(td_mp_map_get(res.result, "n"), &got);
        if (res.status != 201 || got != want)
            atomic_fetch_add(h->failures, 1); /* a reply routed to the wrong caller */
        td_rpc_result_free(&res);
    }
    return NULL;
}

Test(rpc, sixty_four_threads_share_one_client_and_get_their_own_replies)
{
    struct td_rpc_server *srv = start_server(8);
    struct td_rpc_client *c = open_client(5000);
    enum { THREADS = 64, CALLS = 50 };
    pthread_t t[THREADS];
    struct hammer h[THREADS];
    atomic_int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        h[i] = (struct hammer){.c = c, .calls = CALLS, .failures = &failures, .base = i * 1000};
        cr_assert_eq(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&failures), 0);
    cr_assert_eq(atomic_load(&handled), THREADS * CALLS, "each request ran exactly once");
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
}

Test(rpc, a_slow_server_is_a_timeout_not_down)
{
    struct td_rpc_server *srv = start_server(1);
    struct td_rpc_client *c = open_client(2000);
    struct td_rpc_result res;
    int64_t t0 = td_mono_ms();
    cr_assert_eq(call_n(c, 1, 600, 150, &res), TD_ETIMEDOUT);
    int64_t took = td_mono_ms() - t0;
    cr_assert_lt(took, 500, "deadline of 150 ms took %lld ms", (long long)took);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 2000);
}

Test(rpc, no_server_is_down_and_fails_fast)
{
    struct td_rpc_client *c = open_client(5000);
    struct td_rpc_result res;
    int64_t t0 = td_mono_ms();
    cr_assert_eq(call_n(c, 1, 0, 0, &res), TD_EDOWN);
    cr_assert_lt(td_mono_ms() - t0, 1000, "down must not wait for the 5 s deadline");
    td_rpc_client_free(&c);
}

Test(rpc, a_server_started_later_and_restarted_is_used_without_a_new_client)
{
    struct td_rpc_client *c = open_client(2000);
    struct td_rpc_result res;
    cr_assert_eq(call_n(c, 1, 0, 0, &res), TD_EDOWN);

    struct td_rpc_server *srv = start_server(2);
    int rc = TD_EDOWN;
    for (int i = 0; i < 100 && rc != 0; i++) {
        rc = call_n(c, 2, 0, 0, &res);
        if (rc != 0)
            usleep(20000);
    }
    cr_assert_eq(rc, 0, "client never connected to the late server");
    td_rpc_result_free(&res);

    td_rpc_server_stop(&srv, 1000);
    srv = start_server(2);
    rc = TD_EDOWN;
    for (int i = 0; i < 100 && rc != 0; i++) {
        rc = call_n(c, 3, 0, 0, &res);
        if (rc != 0)
            usleep(20000);
    }
    cr_assert_eq(rc, 0, "client never reconnected to the restarted server");
    td_rpc_result_free(&res);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
}

Test(rpc, malformed_frames_get_an_error_reply_and_the_server_lives_on)
{
    struct td_rpc_server *srv = start_server(2);
    nng_socket req;
    cr_assert_eq(nng_req0_open(&req), 0);
    cr_assert_eq(nng_socket_set_ms(req, NNG_OPT_RECVTIMEO, 2000), 0);
    cr_assert_eq(nng_dial(req, url, NULL, 0), 0);
    const struct {
        const char *bytes;
        size_t len;
    } frames[] = {
        {"\xdd\xff\xff\xff\xff", 5},        /* array header claiming 4 G elements */
        {"\x81\xa1v\x01\xc0", 5},           /* trailing byte */
        {"\xc1", 1},                        /* reserved */
        {"\x93\x01\x02\x03", 4},            /* not a map */
        {"\x81\xa1v\x02", 4},               /* wrong protocol version */
        {"\x82\xa1v\x01\xa2op\x05", 8},     /* op is not a string */
        {"", 0},
    };
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        cr_assert_eq(nng_send(req, (void *)frames[i].bytes, frames[i].len, 0), 0);
        char *buf = NULL;
        size_t len = 0;
        cr_assert_eq(nng_recv(req, &buf, &len, NNG_FLAG_ALLOC), 0, "no reply to frame %zu", i);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        TD_ASSERT_OK(td_mp_unpack(buf, len, &up));
        int64_t status;
        TD_ASSERT_OK(td_mp_as_int64(td_mp_map_get(&up.data, "status"), &status));
        cr_assert_eq(status, 400, "frame %zu", i);
        const msgpack_object *err = td_mp_map_get(&up.data, "error");
        cr_assert(td_mp_str_eq(td_mp_map_get(err, "error"), "invalid_message"));
        msgpack_unpacked_destroy(&up);
        nng_free(buf, len);
    }
    nng_close(req);

    struct td_rpc_client *c = open_client(2000);
    struct td_rpc_result res;
    cr_assert_eq(call_n(c, 5, 0, 0, &res), 0, "server still serves after hostile frames");
    td_rpc_result_free(&res);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
}

/* A hostile peer speaking the SP protocol over the ipc socket by hand: the
 * handshake of a req0 socket, then a frame header announcing `announced`
 * bytes and the first `sent` of them. Returns the connected fd. */
static int hostile_peer(uint64_t announced, size_t sent)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = url + strlen("ipc://");
    cr_assert_lt(strlen(path), sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const unsigned char hello[8] = {0, 'S', 'P', 0, 0x00, 0x30 /* req0 */, 0, 0};
    cr_assert_eq(send(fd, hello, sizeof hello, MSG_NOSIGNAL), (ssize_t)sizeof hello);
    unsigned char theirs[8];
    cr_assert_eq(read(fd, theirs, sizeof theirs), (ssize_t)sizeof theirs);
    cr_assert_eq(theirs[5], 0x31, "the server is not rep0");
    unsigned char head[9] = {0x01}; /* ipc: message type, then a 64-bit length */
    for (int i = 0; i < 8; i++)
        head[1 + i] = (unsigned char)(announced >> (56 - 8 * i));
    /* MSG_NOSIGNAL: the server may hang up on the header already, and a
     * write to a closed socket must fail, not SIGPIPE the test */
    cr_assert_eq(send(fd, head, sizeof head, MSG_NOSIGNAL), (ssize_t)sizeof head);
    char *body = calloc(1, sent);
    cr_assert_not_null(body);
    ssize_t w = send(fd, body, sent, MSG_NOSIGNAL);
    (void)w;
    free(body);
    return fd;
}

/* True when the server closes `fd` within `ms`. */
static bool hung_up_within(int fd, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

Test(rpc, oversized_requests_are_dropped_by_the_size_cap)
{
    /* docs/library-notes.md: nng accepts any frame size unless told. A peer that
     * announces more than TD_PROTO_MAX_REQUEST is cut off on the header,
     * whether it sends the bytes or not; nothing is served, and the server
     * goes on serving everyone else. (A raw peer rather than a td_rpc
     * client: nng 1.5.2's own sender can wedge its reaper for good when its
     * peer drops a connection mid-frame, which would hang the test in
     * nng_close rather than test our server.) */
    struct td_rpc_server *srv = start_server(1);
    int fd = hostile_peer((uint64_t)TD_PROTO_MAX_REQUEST + 1024, 4096);
    cr_assert(hung_up_within(fd, 2000), "an oversized frame was not refused");
    close(fd);
    fd = hostile_peer(UINT64_MAX, 16); /* a length no allocator could meet */
    cr_assert(hung_up_within(fd, 2000), "a 2^64-byte frame was not refused");
    close(fd);
    cr_assert_eq(atomic_load(&handled), 0);

    struct td_rpc_client *c = open_client(2000);
    struct td_rpc_result res;
    cr_assert_eq(call_n(c, 1, 0, 0, &res), 0);
    cr_assert_eq(res.status, 201);
    td_rpc_result_free(&res);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
}

struct slow_call {
    struct td_rpc_client *c;
    int rc;
    int status;
};

static void *slow_call_main(void *arg)
{
    struct slow_call *s = arg;
    struct td_rpc_result res;
    s->rc = call_n(s->c, 9, 300, 3000, &res);
    if (s->rc == 0) {
        s->status = res.status;
        td_rpc_result_free(&res);
    }
    return NULL;
}

Test(rpc, stop_lets_a_request_in_flight_finish)
{
    struct td_rpc_server *srv = start_server(2);
    struct td_rpc_client *c = open_client(3000);
    struct td_rpc_result res;
    cr_assert_eq(call_n(c, 0, 0, 0, &res), 0); /* connected */
    td_rpc_result_free(&res);
    struct slow_call s = {.c = c};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, slow_call_main, &s), 0);
    usleep(100000); /* the handler is sleeping now */
    td_rpc_server_stop(&srv, 5000);
    pthread_join(t, NULL);
    cr_assert_eq(s.rc, 0, "in-flight call failed: %s", td_error_symbol(s.rc));
    cr_assert_eq(s.status, 201);
    td_rpc_client_free(&c);
}

Test(rpc, handle_bytes_is_the_same_path_without_sockets)
{
    struct td_rpc_server *srv = start_server(1);
    char *out = NULL;
    size_t len = 0;
    TD_ASSERT_OK(td_rpc_server_handle_bytes(srv, 0, "\xc0", 1, &out, &len));
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    TD_ASSERT_OK(td_mp_unpack(out, len, &up));
    int64_t status;
    td_mp_as_int64(td_mp_map_get(&up.data, "status"), &status);
    cr_assert_eq(status, 400);
    msgpack_unpacked_destroy(&up);
    free(out);
    td_rpc_server_stop(&srv, 1000);
}

struct replica {
    struct td_rpc_server *srv;
};

static int whoami(void *app, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    (void)req;
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    msgpack_pack_int64(pk, (int64_t)(intptr_t)app);
    return 0;
}

Test(rpc, replicas_dialling_in_share_the_load_and_one_can_leave)
{
    /* The caller listens; three replicas dial in with identical settings. */
    char listen_url[200];
    snprintf(listen_url, sizeof listen_url, "listen+%s", url);
    struct td_rpc_client_opts copts = {.service = "replicas", .urls = listen_url,
                                       .timeout_ms = 2000};
    struct td_rpc_client *c = NULL;
    TD_ASSERT_OK(td_rpc_client_open(&copts, &c));

    static const struct td_rpc_route who[] = {{TD_OP_SENTIMENT_ANALYZE, whoami, false}};
    struct td_rpc_server *replicas[3];
    for (intptr_t i = 0; i < 3; i++) {
        struct td_rpc_server_opts sopts = {.service = "replica", .dial_urls = url, .workers = 2,
                                           .routes = who, .nroutes = 1, .app = (void *)(i + 1)};
        TD_ASSERT_OK(td_rpc_server_start(&sopts, &replicas[i]));
    }
    for (int i = 0; i < 200 && td_rpc_client_peers(c) < 3 * TD_RPC_CONNECTIONS; i++)
        usleep(10000);
    cr_assert_eq(td_rpc_client_peers(c), 3 * TD_RPC_CONNECTIONS);

    int seen[4] = {0};
    for (int i = 0; i < 60; i++) {
        struct td_rpc_call call = {.op = TD_OP_SENTIMENT_ANALYZE};
        struct td_rpc_result res;
        TD_ASSERT_OK(td_rpc_call(c, &call, &res));
        int64_t who_id = 0;
        td_mp_as_int64(res.result, &who_id);
        cr_assert(who_id >= 1 && who_id <= 3);
        seen[who_id]++;
        td_rpc_result_free(&res);
    }
    cr_assert(seen[1] > 0 && seen[2] > 0 && seen[3] > 0, "spread %d/%d/%d", seen[1], seen[2],
              seen[3]);

    td_rpc_server_stop(&replicas[1], 1000);
    for (int i = 0; i < 200 && td_rpc_client_peers(c) > 2 * TD_RPC_CONNECTIONS; i++)
        usleep(10000);
    for (int i = 0; i < 30; i++) {
        struct td_rpc_call call = {.op = TD_OP_SENTIMENT_ANALYZE};
        struct td_rpc_result res;
        TD_ASSERT_OK(td_rpc_call(c, &call, &res), "call %d failed after a replica left", i);
        int64_t who_id = 0;
        td_mp_as_int64(res.result, &who_id);
        cr_assert_neq(who_id, 2, "the stopped replica answered");
        td_rpc_result_free(&res);
    }
    td_rpc_server_stop(&replicas[0], 1000);
    td_rpc_server_stop(&replicas[2], 1000);
    td_rpc_client_free(&c);
}

Test(rpc, unknown_keys_are_named_safely_in_details)
{
    struct td_rpc_reply rep;
    memset(&rep, 0, sizeof rep);
    msgpack_object k = {.type = MSGPACK_OBJECT_STR};
    k.via.str.ptr = "";
    k.via.str.size = 0;
    td_rpc_reply_detail_key(&rep, &k, "Unknown field.");
    cr_assert_str_eq(rep.details[0].field, "", "an empty name stays empty");
    k.via.str.ptr = "caf\xc3\xa9\x01\xff";
    k.via.str.size = 7;
    td_rpc_reply_detail_key(&rep, &k, "Unknown field.");
    cr_assert_str_eq(rep.details[1].field, "caf\xc3\xa9??", "control and invalid bytes are ?");
    char longname[300];
    memset(longname, 'x', sizeof longname);
    memcpy(longname + TD_RPC_FIELD_MAX - 2, "\xc3\xa9", 2); /* straddles the cut */
    k.via.str.ptr = longname;
    k.via.str.size = sizeof longname;
    td_rpc_reply_detail_key(&rep, &k, "Unknown field.");
    cr_assert_eq(strlen(rep.details[2].field), TD_RPC_FIELD_MAX - 2,
                 "cut before a character that would not fit whole");
    msgpack_object i = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER};
    td_rpc_reply_detail_key(&rep, &i, "Field names must be strings.");
    cr_assert_str_eq(rep.details[3].field, "?");
}

/* Which thread served: inline routes run on nng's task thread, the others on
 * the server's workers (td_rpc.h). */
static int thread_name(void *app, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    (void)app;
    int64_t sleep_ms = 0;
    td_mp_as_int64(td_mp_map_get(req->args, "sleep_ms"), &sleep_ms);
    if (sleep_ms > 0)
        usleep((useconds_t)sleep_ms * 1000);
    char name[16] = "";
    pthread_getname_np(pthread_self(), name, sizeof name);
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    msgpack_pack_map(pk, 1);
    td_mp_pack_kv_str(pk, "thread", name);
    return 0;
}

static const struct td_rpc_route mixed[] = {
    {TD_OP_DIARY_GET, thread_name, true},
    {TD_OP_DIARY_STATS, thread_name, false},
};

static int call_op(struct td_rpc_client *c, enum td_op op, int64_t sleep_ms, char *thread,
                   size_t size)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    td_mp_pack_kv_int(&pk, "sleep_ms", sleep_ms);
    struct td_rpc_call call = {.op = op, .args = sb.data, .args_len = sb.size,
                               .timeout_ms = 3000};
    struct td_rpc_result res;
    int rc = td_rpc_call(c, &call, &res);
    msgpack_sbuffer_destroy(&sb);
    if (rc == 0) {
        rc = res.status == 200 &&
                     td_mp_copy_str(td_mp_map_get(res.result, "thread"), thread, size) == 0
                 ? 0
                 : TD_EPROTO;
        td_rpc_result_free(&res);
    }
    return rc;
}

Test(rpc, inline_routes_run_on_nngs_thread_and_the_rest_on_workers)
{
    struct td_rpc_server *srv = start_server_routes(2, mixed, 2);
    struct td_rpc_client *c = open_client(3000);
    char name[16];
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(call_op(c, TD_OP_DIARY_GET, 0, name, sizeof name), 0);
        cr_assert_str_eq(name, "nng:task", "an inline route ran on %s", name);
        cr_assert_eq(call_op(c, TD_OP_DIARY_STATS, 0, name, sizeof name), 0);
        cr_assert_str_eq(name, "rpc-worker", "a worker route ran on %s", name);
    }
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
}

struct inline_call {
    struct td_rpc_client *c;
    int rc;
};

static void *inline_call_main(void *arg)
{
    struct inline_call *s = arg;
    char name[16];
    s->rc = call_op(s->c, TD_OP_DIARY_GET, 300, name, sizeof name);
    return NULL;
}

Test(rpc, stop_lets_an_inline_request_in_flight_finish)
{
    struct td_rpc_server *srv = start_server_routes(2, mixed, 2);
    struct td_rpc_client *c = open_client(3000);
    char name[16];
    cr_assert_eq(call_op(c, TD_OP_DIARY_GET, 0, name, sizeof name), 0); /* connected */
    struct inline_call s = {.c = c};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, inline_call_main, &s), 0);
    usleep(100000); /* the inline handler is sleeping now */
    td_rpc_server_stop(&srv, 5000);
    pthread_join(t, NULL);
    cr_assert_eq(s.rc, 0, "in-flight inline call failed: %s", td_error_symbol(s.rc));
    td_rpc_client_free(&c);
}

/* ---- who may call what (td_rpc_transport.c, proto/td_proto.h) ------------ */

Test(rpc, an_envelope_with_a_key_twice_is_refused)
{
    struct td_rpc_server *srv = start_server(1);
    /* {"v":1,"op":"ping","op":"diary.list"}: which op would a reader take? */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    td_mp_pack_kv_int(&pk, "v", TD_PROTO_VERSION);
    td_mp_pack_kv_str(&pk, "op", "ping");
    td_mp_pack_kv_str(&pk, "op", "diary.list");
    char *out = NULL;
    size_t out_len = 0;
    TD_ASSERT_OK(td_rpc_server_handle_bytes(srv, 0, sb.data, sb.size, &out, &out_len));
    cr_assert_not_null(memmem(out, out_len, "invalid_message", strlen("invalid_message")));
    cr_assert_eq(atomic_load(&handled), 0);
    free(out);
    msgpack_sbuffer_destroy(&sb);
    td_rpc_server_stop(&srv, 1000);
}

static const struct td_rpc_route seed_routes[] = {{TD_OP_DIARY_LIST, echo, false},
                                                  {TD_OP_DIARY_SEED, echo, false}};

Test(rpc, an_operation_is_refused_where_its_callers_cannot_connect)
{
    /* A listener for the stack's daemons: diary.list (the gateway's) is
     * served, diary.seed (the operator's) is not, whoever asks. */
    struct td_rpc_server_opts opts = {.service = "test", .url = url, .callers = TD_ROLES_STACK,
                                      .workers = 1, .routes = seed_routes, .nroutes = 2};
    struct td_rpc_server *srv = NULL;
    TD_ASSERT_OK(td_rpc_server_start(&opts, &srv));
    struct td_rpc_client *c = open_client(2000);
    struct td_rpc_result res;
    cr_assert_eq(call_n(c, 1, 0, 0, &res), 0);
    cr_assert_eq(res.status, 201);
    td_rpc_result_free(&res);
    struct td_rpc_call seed = {.op = TD_OP_DIARY_SEED};
    TD_ASSERT_OK(td_rpc_call(c, &seed, &res));
    cr_assert_eq(res.status, 403);
    const msgpack_object *e = td_rpc_result_error_field(&res, "error");
    cr_assert(e && e->via.str.size == 9 && memcmp(e->via.str.ptr, "forbidden", 9) == 0);
    td_rpc_result_free(&res);
    cr_assert_eq(atomic_load(&handled), 1, "the refused operation ran");
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
}

/* The operator's ipc socket is the owner's alone; the stack's, its group's. */
Test(rpc, ipc_sockets_get_the_mode_of_their_callers)
{
    char op_url[160];
    snprintf(op_url, sizeof op_url, "ipc://%s/operator.sock", dir);
    struct td_rpc_endpoint more[] = {{op_url, TD_ROLE_OPERATOR}};
    struct td_rpc_server_opts opts = {.service = "test", .url = url, .callers = TD_ROLES_STACK,
                                      .more = more, .nmore = 1, .workers = 1,
                                      .routes = routes, .nroutes = 1};
    struct td_rpc_server *srv = NULL;
    TD_ASSERT_OK(td_rpc_server_start(&opts, &srv));
    struct stat st;
    cr_assert_eq(stat(url + strlen("ipc://"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0660);
    cr_assert_eq(stat(op_url + strlen("ipc://"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    td_rpc_server_stop(&srv, 1000);
    /* Stopping removes both socket files at once: callers are refused. */
    cr_assert_neq(stat(op_url + strlen("ipc://"), &st), 0);
    unlink(op_url + strlen("ipc://"));
}

Test(rpc, a_listener_in_a_directory_others_can_write_is_refused)
{
    chmod(dir, 0777);
    struct td_rpc_server_opts opts = {.service = "test", .url = url, .workers = 1,
                                      .routes = routes, .nroutes = 1};
    struct td_rpc_server *srv = NULL;
    cr_assert_eq(td_rpc_server_start(&opts, &srv), TD_EINVAL);
    cr_assert_null(srv);
}

/* ---- mutual TLS ------------------------------------------------------------ */

static char certs[80];
static char tls_url[64];

/* A fresh set of certificates (ops/tls/make-dev-certs.sh), this process set
 * up as `self`, and a free loopback port for tls+tcp. */
static void tls_init(unsigned self)
{
    snprintf(certs, sizeof certs, "%s/certs", dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/ops/tls/make-dev-certs.sh %s >/dev/null", TD_SOURCE_DIR, certs);
    cr_assert_eq(system(cmd), 0);
    TD_ASSERT_OK(td_rpc_tls_setup(certs, self));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    snprintf(tls_url, sizeof tls_url, "tls+tcp://127.0.0.1:%d", ntohs(a.sin_port));
}

static void tls_fini(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", certs);
    cr_assert_eq(system(cmd), 0);
}

static struct td_rpc_server *tls_server(unsigned callers)
{
    struct td_rpc_server_opts opts = {.service = "test", .url = tls_url, .callers = callers,
                                      .workers = 1, .routes = routes, .nroutes = 1};
    struct td_rpc_server *srv = NULL;
    TD_ASSERT_OK(td_rpc_server_start(&opts, &srv));
    return srv;
}

static struct td_rpc_client *tls_client(unsigned peer)
{
    struct td_rpc_client_opts opts = {.service = "test", .peer = peer, .urls = tls_url,
                                      .timeout_ms = 1500};
    struct td_rpc_client *c = NULL;
    TD_ASSERT_OK(td_rpc_client_open(&opts, &c));
    return c;
}

Test(rpc, tls_serves_a_caller_of_the_role_its_listener_trusts)
{
    tls_init(TD_ROLE_GATEWAY); /* one identity per process: both ends gateway */
    struct td_rpc_server *srv = tls_server(TD_ROLE_GATEWAY);
    struct td_rpc_client *c = tls_client(TD_ROLE_GATEWAY);
    struct td_rpc_result res;
    int rc = TD_EDOWN;
    for (int i = 0; i < 50 && rc == TD_EDOWN; i++) { /* the handshake takes a moment */
        rc = call_n(c, 5, 0, 0, &res);
        if (rc == TD_EDOWN)
            usleep(50000);
    }
    cr_assert_eq(rc, 0, "%s", td_error_symbol(rc));
    cr_assert_eq(res.status, 201);
    td_rpc_result_free(&res);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
    tls_fini();
}

/* A server whose listener admits `callers`, a client expecting a server of
 * role `peer`: the handshake must fail, so no call is ever served. */
static void expect_no_exchange(unsigned callers, unsigned peer)
{
    tls_init(TD_ROLE_GATEWAY);
    struct td_rpc_server *srv = tls_server(callers);
    struct td_rpc_client *c = tls_client(peer);
    struct td_rpc_result res;
    for (int i = 0; i < 5; i++) {
        int rc = call_n(c, 5, 0, 300, &res);
        cr_assert(rc == TD_EDOWN || rc == TD_ETIMEDOUT, "got %s", td_error_symbol(rc));
    }
    cr_assert_eq(atomic_load(&handled), 0);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
    tls_fini();
}

Test(rpc, tls_refuses_a_caller_of_another_role)
{
    /* The operator's listener trusts only the operator's CA. */
    expect_no_exchange(TD_ROLE_OPERATOR, TD_ROLE_GATEWAY);
}

Test(rpc, tls_never_sends_a_request_to_an_impostor)
{
    /* A server with the gateway's certificate where td-auth is expected:
     * the caller's handshake fails, so nothing is ever sent to it. */
    expect_no_exchange(TD_ROLE_GATEWAY, TD_ROLE_AUTH);
}

Test(rpc, tls_refuses_a_client_without_a_certificate)
{
    tls_init(TD_ROLE_GATEWAY);
    struct td_rpc_server *srv = tls_server(TD_ROLE_GATEWAY);
    /* A raw req socket that verifies the server but presents nothing. */
    nng_socket s;
    cr_assert_eq(nng_req0_open(&s), 0);
    nng_tls_config *cfg = NULL;
    char ca[160];
    snprintf(ca, sizeof ca, "%s/ca-gateway.pem", certs);
    cr_assert_eq(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT), 0);
    cr_assert_eq(nng_tls_config_ca_file(cfg, ca), 0);
    cr_assert_eq(nng_tls_config_server_name(cfg, "127.0.0.1"), 0);
    nng_dialer d;
    cr_assert_eq(nng_dialer_create(&d, s, tls_url), 0);
    cr_assert_eq(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg), 0);
    nng_tls_config_free(cfg);
    cr_assert_eq(nng_dialer_start(d, NNG_FLAG_NONBLOCK), 0);
    cr_assert_eq(nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 1000), 0);
    cr_assert_eq(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 1000), 0);
    const char ping[] = "\x82\xa1v\x01\xa2op\xa4ping"; /* {"v":1,"op":"ping"} */
    int rv = nng_send(s, (void *)ping, sizeof ping - 1, 0);
    if (rv == 0) {
        char *buf = NULL;
        size_t n = 0;
        rv = nng_recv(s, &buf, &n, NNG_FLAG_ALLOC);
        if (rv == 0)
            nng_free(buf, n);
    }
    cr_assert_neq(rv, 0, "a client without a certificate got an answer");
    nng_close(s);
    td_rpc_server_stop(&srv, 1000);
    tls_fini();
}

Test(rpc, plain_tcp_beyond_loopback_is_refused_in_production)
{
    char err[256];
    const struct {
        const char *url;
        bool production;
        int want;
    } cases[] = {
        {"ipc:///run/thought-diary/auth.sock", true, 0},
        {"tcp://127.0.0.1:5551", true, 0},
        {"tcp://localhost:5551", true, 0},
        {"tcp://0.0.0.0:5551", true, TD_EINVAL},
        {"tcp://auth:5551", true, TD_EINVAL},
        {"listen+tcp://0.0.0.0:5563", true, TD_EINVAL},
        {"tcp://0.0.0.0:5551", false, 0}, /* explicit, outside production */
        {"tls+tcp://auth:5551", false, TD_EINVAL}, /* no RPC_TLS_DIR set up */
        {"http://auth:5551", false, TD_EINVAL},
        {"tcp://auth", false, TD_EINVAL},
        {"ipc://", false, TD_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(td_rpc_url_check(cases[i].url, cases[i].production, err, sizeof err),
                     cases[i].want, "%s: %s", cases[i].url, err);
}
