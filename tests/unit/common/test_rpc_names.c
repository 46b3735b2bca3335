/*
 * test_rpc_names.c — callers reach every replica behind one host name
 * (common/td_rpc_names.h): real nng servers on loopback aliases
 * (127.0.0.2 and 127.0.0.3 on one port: Linux routes all of 127/8 to lo),
 * real clients, and a fake DNS answering the name "replicas.test". One test
 * goes through the real getaddrinfo with "localhost".
 *
 * Waits poll with a deadline; no sleep stands in for an assertion.
 */
#include "td_error.h"
#include "td_mp.h"
#include "td_rpc.h"
#include "td_rpc_names.h"
#include "td_time.h"
#include "../td_assert.h"
#include "../td_port.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NAME "replicas.test"
#define PERIOD_MS 100
#define CONNECTIONS 2
/* Generous for a loaded 2-core machine; a pass takes a few periods. */
#define DEADLINE_MS 5000

/* ---- the fake DNS --------------------------------------------------------- */

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *fake_ips[4];
static size_t fake_count;
static bool fake_fails;
static atomic_int fake_calls;

/* The name resolves to the given addresses from now on. */
static void fake_answer(size_t count, const char *a, const char *b)
{
    pthread_mutex_lock(&fake_lock);
    fake_fails = false;
    fake_count = count;
    fake_ips[0] = a;
    fake_ips[1] = b;
    pthread_mutex_unlock(&fake_lock);
}

/* The name has no answer from now on (as a DNS failure or a service that
 * has not started). */
static void fake_fail(void)
{
    pthread_mutex_lock(&fake_lock);
    fake_fails = true;
    pthread_mutex_unlock(&fake_lock);
}

static int fake_resolve(const char *host, struct td_rpc_addresses *out)
{
    atomic_fetch_add(&fake_calls, 1);
    pthread_mutex_lock(&fake_lock);
    int rv = 0;
    if (fake_fails || (strcmp(host, NAME) != 0 && strcmp(host, "gateway") != 0)) {
        rv = EAI_NONAME;
    } else {
        out->count = fake_count;
        for (size_t i = 0; i < fake_count; i++)
            snprintf(out->ip[i], sizeof out->ip[i], "%s", fake_ips[i]);
    }
    pthread_mutex_unlock(&fake_lock);
    return rv;
}

/* Waits until the resolver has been asked `more` more times than now. */
static void wait_resolutions(int more)
{
    int until = atomic_load(&fake_calls) + more;
    int64_t deadline = td_mono_ms() + DEADLINE_MS;
    while (atomic_load(&fake_calls) < until && td_mono_ms() < deadline)
        usleep(10000);
    cr_assert_geq(atomic_load(&fake_calls), until, "the name was not resolved again");
}

/* ---- servers and clients ------------------------------------------------ */

static int port;

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    td_rpc_names_set_resolver(fake_resolve);
    td_rpc_names_set_period_ms(PERIOD_MS);
    fake_answer(0, NULL, NULL);
    atomic_store(&fake_calls, 0);
    port = tu_free_port();
}

static void teardown(void)
{
    td_rpc_names_set_resolver(NULL);
    td_rpc_names_set_period_ms(0);
}

TestSuite(rpc_names, .init = setup, .fini = teardown, .timeout = 60);

/* Answers with the number its server was started with (opts.app). */
static int whoami(void *app, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    (void)req;
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    msgpack_pack_int64(pk, (int64_t)(intptr_t)app);
    return 0;
}

static const struct td_rpc_route who[] = {{TD_OP_DIARY_LIST, whoami, false}};

/* Replica `n` (1 or 2) listens on 127.0.0.<n+1>:port. */
static struct td_rpc_server *start_replica(intptr_t n)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.%d:%d", (int)n + 1, port);
    struct td_rpc_server_opts opts = {.service = "replica", .url = url, .workers = 2,
                                      .routes = who, .nroutes = 1, .app = (void *)n};
    struct td_rpc_server *srv = NULL;
    TD_ASSERT_OK(td_rpc_server_start(&opts, &srv), "replica %d", (int)n);
    return srv;
}

static struct td_rpc_client *open_client(const char *host)
{
    char url[128];
    snprintf(url, sizeof url, "tcp://%s:%d", host, port);
    struct td_rpc_client_opts opts = {.service = "names", .urls = url, .timeout_ms = 2000,
                                      .connections = CONNECTIONS};
    struct td_rpc_client *c = NULL;
    TD_ASSERT_OK(td_rpc_client_open(&opts, &c));
    return c;
}

/* Polls until the client has `want` connections; returns what it has. */
static int wait_peers(struct td_rpc_client *c, int want)
{
    int64_t deadline = td_mono_ms() + DEADLINE_MS;
    while (td_rpc_client_peers(c) != want && td_mono_ms() < deadline)
        usleep(10000);
    return td_rpc_client_peers(c);
}

/* One call; returns the replica that answered (1, 2), or a TD_E* code. */
static int64_t call_who(struct td_rpc_client *c)
{
    struct td_rpc_call call = {.op = TD_OP_DIARY_LIST, .timeout_ms = 1000};
    struct td_rpc_result res;
    int rc = td_rpc_call(c, &call, &res);
    if (rc != 0)
        return rc;
    int64_t who_id = 0;
    int dec = td_mp_as_int64(res.result, &who_id);
    td_rpc_result_free(&res);
    return dec != 0 ? TD_EPROTO : who_id;
}

/* Makes `calls` calls that must all succeed; seen[n] counts replica n. */
static void call_many(struct td_rpc_client *c, int calls, int seen[3])
{
    for (int i = 0; i < calls; i++) {
        int64_t who_id = call_who(c);
        cr_assert(who_id == 1 || who_id == 2, "call %d: %s", i,
                  who_id < 0 ? td_error_symbol((int)who_id) : "an unknown replica");
        seen[who_id]++;
    }
}

/* ---- the cases ------------------------------------------------------------ */

Test(rpc_names, ip_literals_are_not_names)
{
    cr_assert(td_rpc_host_is_address("127.0.0.1"));
    cr_assert(td_rpc_host_is_address("::1"));
    cr_assert(td_rpc_host_is_address("fd00::12:3"));
    cr_assert_not(td_rpc_host_is_address("diary"));
    cr_assert_not(td_rpc_host_is_address("localhost"));
    cr_assert_not(td_rpc_host_is_address("127.0.0.1.example"));
    cr_assert_not(td_rpc_host_is_address("[::1]"));
}

Test(rpc_names, every_address_of_a_name_is_dialled_and_called)
{
    struct td_rpc_server *one = start_replica(1), *two = start_replica(2);
    fake_answer(2, "127.0.0.2", "127.0.0.3");
    struct td_rpc_client *c = open_client(NAME);
    cr_assert_eq(wait_peers(c, 2 * CONNECTIONS), 2 * CONNECTIONS);
    int seen[3] = {0};
    call_many(c, 40, seen);
    cr_assert(seen[1] > 0 && seen[2] > 0, "spread %d/%d", seen[1], seen[2]);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&one, 1000);
    td_rpc_server_stop(&two, 1000);
}

Test(rpc_names, an_address_gone_from_the_answer_loses_its_connections)
{
    struct td_rpc_server *one = start_replica(1), *two = start_replica(2);
    fake_answer(2, "127.0.0.2", "127.0.0.3");
    struct td_rpc_client *c = open_client(NAME);
    cr_assert_eq(wait_peers(c, 2 * CONNECTIONS), 2 * CONNECTIONS);

    /* Replica 2 leaves the answer (scaled down): its connections close
     * although its server still runs, and every call goes to replica 1. */
    fake_answer(1, "127.0.0.2", NULL);
    cr_assert_eq(wait_peers(c, CONNECTIONS), CONNECTIONS);
    int seen[3] = {0};
    call_many(c, 20, seen);
    cr_assert_eq(seen[2], 0, "a dropped address was called");

    /* It comes back (scaled up again): dialled again. */
    fake_answer(2, "127.0.0.3", "127.0.0.2");
    cr_assert_eq(wait_peers(c, 2 * CONNECTIONS), 2 * CONNECTIONS);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&one, 1000);
    td_rpc_server_stop(&two, 1000);
}

Test(rpc_names, a_failed_resolution_keeps_every_address)
{
    struct td_rpc_server *one = start_replica(1), *two = start_replica(2);
    fake_answer(2, "127.0.0.2", "127.0.0.3");
    struct td_rpc_client *c = open_client(NAME);
    cr_assert_eq(wait_peers(c, 2 * CONNECTIONS), 2 * CONNECTIONS);

    fake_fail();
    wait_resolutions(3);
    cr_assert_eq(td_rpc_client_peers(c), 2 * CONNECTIONS, "a failed answer dropped connections");
    int seen[3] = {0};
    call_many(c, 40, seen);
    cr_assert(seen[1] > 0 && seen[2] > 0, "spread %d/%d", seen[1], seen[2]);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&one, 1000);
    td_rpc_server_stop(&two, 1000);
}

Test(rpc_names, a_name_without_addresses_at_start_is_used_once_it_resolves)
{
    struct td_rpc_server *one = start_replica(1);
    fake_fail(); /* the service has not started yet */
    struct td_rpc_client *c = open_client(NAME);
    cr_assert_eq(call_who(c), TD_EDOWN);
    wait_resolutions(2);
    cr_assert_eq(call_who(c), TD_EDOWN);

    fake_answer(1, "127.0.0.2", NULL);
    int64_t who_id = TD_EDOWN;
    int64_t deadline = td_mono_ms() + DEADLINE_MS;
    while (who_id == TD_EDOWN && td_mono_ms() < deadline)
        who_id = call_who(c); /* each failure waits the client's connect grace */
    cr_assert_eq(who_id, 1, "got %s", who_id < 0 ? td_error_symbol((int)who_id) : "?");
    td_rpc_client_free(&c);
    td_rpc_server_stop(&one, 1000);
}

Test(rpc_names, localhost_is_resolved_by_getaddrinfo)
{
    td_rpc_names_set_resolver(NULL);
    struct td_rpc_addresses addrs = {0};
    cr_assert_eq(td_rpc_resolve_getaddrinfo("localhost", &addrs), 0);
    bool v4 = false;
    for (size_t i = 0; i < addrs.count; i++) {
        v4 = v4 || strcmp(addrs.ip[i], "127.0.0.1") == 0;
        for (size_t j = i + 1; j < addrs.count; j++)
            cr_assert_str_neq(addrs.ip[i], addrs.ip[j], "an address twice");
    }
    cr_assert(v4, "localhost does not resolve to 127.0.0.1");
    cr_assert_neq(td_rpc_resolve_getaddrinfo("no-such-host.invalid", &addrs), 0);

    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    struct td_rpc_server_opts opts = {.service = "replica", .url = url, .workers = 2,
                                      .routes = who, .nroutes = 1, .app = (void *)1};
    struct td_rpc_server *srv = NULL;
    TD_ASSERT_OK(td_rpc_server_start(&opts, &srv));
    struct td_rpc_client *c = open_client("localhost");
    /* ::1 as well where /etc/hosts says so; nothing listens there. */
    cr_assert_eq(wait_peers(c, CONNECTIONS), CONNECTIONS);
    cr_assert_eq(call_who(c), 1);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
}

Test(rpc_names, a_server_dialling_in_by_name_reaches_every_caller)
{
    /* Two callers (gateways) listen; one replica dials in to their name. */
    struct td_rpc_client *callers[2];
    for (int i = 0; i < 2; i++) {
        char url[64];
        snprintf(url, sizeof url, "listen+tcp://127.0.0.%d:%d", i + 2, port);
        struct td_rpc_client_opts opts = {.service = "caller", .urls = url, .timeout_ms = 2000};
        TD_ASSERT_OK(td_rpc_client_open(&opts, &callers[i]));
    }
    fake_answer(2, "127.0.0.2", "127.0.0.3");
    char dial[64];
    snprintf(dial, sizeof dial, "tcp://%s:%d", NAME, port);
    struct td_rpc_server_opts sopts = {.service = "replica", .dial_urls = dial, .workers = 2,
                                       .routes = who, .nroutes = 1, .app = (void *)1};
    struct td_rpc_server *srv = NULL;
    TD_ASSERT_OK(td_rpc_server_start(&sopts, &srv));
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(wait_peers(callers[i], TD_RPC_CONNECTIONS), TD_RPC_CONNECTIONS,
                     "caller %d", i);
        /* Admitted: a connection the server dialled carries its dial role. */
        cr_assert_eq(call_who(callers[i]), 1, "caller %d", i);
    }
    td_rpc_server_stop(&srv, 1000);
    for (int i = 0; i < 2; i++)
        td_rpc_client_free(&callers[i]);
}

Test(rpc_names, an_address_that_cannot_be_dialled_fails_the_open)
{
    /* tls+tcp without RPC_TLS_DIR: a configuration error, found at start
     * as with an IP literal, and nothing is left behind. */
    fake_answer(1, "127.0.0.2", NULL);
    char url[128];
    snprintf(url, sizeof url, "tls+tcp://%s:%d", NAME, port);
    struct td_rpc_client_opts opts = {.service = "names", .peer = TD_ROLE_DIARY, .urls = url};
    struct td_rpc_client *c = NULL;
    cr_assert_eq(td_rpc_client_open(&opts, &c), TD_EINVAL);
    cr_assert_null(c);
}

/* ---- TLS: the certificate names the service, not the address -------------- */

static char dir[64], certs[96];

static void tls_init(void)
{
    snprintf(dir, sizeof dir, "/tmp/td-rpc-names-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(certs, sizeof certs, "%s/certs", dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/ops/tls/make-dev-certs.sh %s >/dev/null", TD_SOURCE_DIR, certs);
    cr_assert_eq(system(cmd), 0);
    TD_ASSERT_OK(td_rpc_tls_setup(certs, TD_ROLE_GATEWAY));
}

static void tls_fini(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Calls a TLS server on 127.0.0.2 through `host`, which the fake DNS
 * resolves to 127.0.0.2; returns the last result of a few tries. */
static int64_t tls_call_through(const char *host)
{
    char url[128];
    snprintf(url, sizeof url, "tls+tcp://%s:%d", host, port);
    struct td_rpc_client_opts opts = {.service = "names", .peer = TD_ROLE_GATEWAY, .urls = url,
                                      .timeout_ms = 1000, .connections = 1};
    struct td_rpc_client *c = NULL;
    TD_ASSERT_OK(td_rpc_client_open(&opts, &c));
    int64_t who_id = TD_EDOWN;
    int64_t deadline = td_mono_ms() + 2000; /* handshakes take a moment */
    while (who_id < 0 && td_mono_ms() < deadline)
        who_id = call_who(c);
    td_rpc_client_free(&c);
    return who_id;
}

Test(rpc_names, tls_checks_the_certificate_against_the_name_not_the_address)
{
    tls_init();
    char url[64];
    snprintf(url, sizeof url, "tls+tcp://127.0.0.2:%d", port);
    struct td_rpc_server_opts opts = {.service = "replica", .url = url,
                                      .callers = TD_ROLE_GATEWAY, .workers = 2, .routes = who,
                                      .nroutes = 1, .app = (void *)1};
    struct td_rpc_server *srv = NULL;
    TD_ASSERT_OK(td_rpc_server_start(&opts, &srv));
    fake_answer(1, "127.0.0.2", NULL);
    /* The gateway's certificate names "gateway" (ops/tls/make-dev-certs.sh). */
    cr_assert_eq(tls_call_through("gateway"), 1);
    /* The same address under a name the certificate lacks is refused: the
     * server name checked is the host name, not the address dialled. */
    int64_t refused = tls_call_through(NAME);
    cr_assert(refused == TD_EDOWN || refused == TD_ETIMEDOUT, "got %lld", (long long)refused);
    td_rpc_server_stop(&srv, 1000);
    tls_fini();
}
