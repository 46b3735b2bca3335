/*
 * test_revocations_feed.c — the gateway's revocation feed (gateway/revocations.c)
 * subscribes to every td-auth replica behind one host name: two real pub0
 * sockets on 127.0.0.2 and 127.0.0.3 (same port) stand in for two replicas'
 * feeds, a fake DNS (common/td_rpc_names.h, test-only hook) answers the
 * name with both, and an event published by either reaches the set.
 * Freeing the set stops the resolver's work on its socket (ASan checks).
 */
#include "../td_port.h"
#include "gateway/revocations.h"
#include "td_mp.h"
#include "td_rpc.h"
#include "td_rpc_names.h"
#include "td_time.h"
#include "../td_assert.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netdb.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NAME "auth-events.test"

static int fake_resolve(const char *host, struct td_rpc_addresses *out)
{
    if (strcmp(host, NAME) != 0)
        return EAI_NONAME;
    out->count = 2;
    snprintf(out->ip[0], sizeof out->ip[0], "127.0.0.2");
    snprintf(out->ip[1], sizeof out->ip[1], "127.0.0.3");
    return 0;
}

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    td_rpc_names_set_resolver(fake_resolve);
    td_rpc_names_set_period_ms(100);
}

static void teardown(void)
{
    td_rpc_names_set_resolver(NULL);
    td_rpc_names_set_period_ms(0);
}

TestSuite(revocations_feed, .init = setup, .fini = teardown, .timeout = 60);

/* Publishes the revocation of `jti` on `pub` until the set holds it;
 * true when it did within the deadline. */
static bool publish_until_revoked(nng_socket pub, struct gw_revocations *r, const char *jti)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    td_mp_pack_kv_int(&pk, "v", 1);
    td_mp_pack_kv_str(&pk, "kind", "jti");
    td_mp_pack_kv_str(&pk, "jti", jti);
    td_mp_pack_kv_int(&pk, "exp", (int64_t)time(NULL) + 3600);
    bool revoked = false;
    int64_t deadline = td_mono_ms() + 5000;
    while (!revoked && td_mono_ms() < deadline) {
        /* pub/sub drops what is sent before a subscriber connects: again
         * until it is heard. */
        int rv = nng_send(pub, sb.data, sb.size, 0);
        cr_assert_eq(rv, 0, "%s", nng_strerror(rv));
        usleep(20000);
        revoked = gw_revocations_revoked(r, jti, 5, 1);
    }
    msgpack_sbuffer_destroy(&sb);
    return revoked;
}

Test(revocations_feed, every_replica_behind_the_feed_name_is_heard)
{
    int port = tu_free_port();
    nng_socket pubs[2];
    for (int i = 0; i < 2; i++) {
        char url[64];
        snprintf(url, sizeof url, "tcp://127.0.0.%d:%d", i + 2, port);
        cr_assert_eq(nng_pub0_open(&pubs[i]), 0);
        int rv = nng_listen(pubs[i], url, NULL, 0);
        cr_assert_eq(rv, 0, "listen on %s: %s", url, nng_strerror(rv));
    }
    /* td-auth for the pulls: down here, so only the feed can revoke. */
    char auth_url[64];
    snprintf(auth_url, sizeof auth_url, "tcp://127.0.0.1:%d", tu_free_port());
    struct td_rpc_client_opts opts = {.service = "auth", .urls = auth_url, .timeout_ms = 200};
    struct td_rpc_client *auth = NULL;
    TD_ASSERT_OK(td_rpc_client_open(&opts, &auth));

    char feed[64];
    snprintf(feed, sizeof feed, "tcp://%s:%d", NAME, port);
    struct gw_revocations *r = NULL;
    TD_ASSERT_OK(gw_revocations_new(feed, auth, 30, &r));
    cr_assert(publish_until_revoked(pubs[0], r, "from-replica-1"), "replica 1 not heard");
    cr_assert(publish_until_revoked(pubs[1], r, "from-replica-2"), "replica 2 not heard");
    gw_revocations_free(&r);
    cr_assert_null(r);
    td_rpc_client_free(&auth);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(nng_close(pubs[i]), 0);
}
