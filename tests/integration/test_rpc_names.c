/*
 * test_rpc_names.c — the stack with every RPC address a host name
 * (tls+tcp://localhost:PORT), resolved by the callers themselves through
 * the real getaddrinfo (common/td_rpc_names.c): the gateway, td-auth and
 * td-diary dial every address the name has, the TLS server name stays the
 * name (the certificates of ops/tls/make-dev-certs.sh list "localhost"), the
 * revocation feed subscribes by name, and each address dialled is logged.
 * The spread over several addresses and their coming and going are covered
 * with a fake DNS in tests/unit/common/test_rpc_names.c.
 */
#include "auth_helpers.h"
#include "td_rpc.h"

#include <unistd.h>

static struct th_stack stack;
static char certs[64];
static const char *const names[] = {
    "AUTH_RPC_URL",       "AUTH_RPC_OPERATOR_URL",     "AUTH_EVENTS_URL",
    "DIARY_RPC_URL",      "DIARY_RPC_AUTH_URL",        "DIARY_RPC_OPERATOR_URL",
    "SENTIMENT_RPC_URL",  "SENTIMENT_RPC_GATEWAY_URL", "SENTIMENT_RPC_OPERATOR_URL"};
#define NURLS (sizeof names / sizeof names[0])
static char env[NURLS + 1][128];

static void setup(void)
{
    snprintf(certs, sizeof certs, "/tmp/td-certs-XXXXXX");
    cr_assert_not_null(mkdtemp(certs));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s/ops/tls/make-dev-certs.sh %s >/dev/null", TD_SOURCE_DIR, certs);
    cr_assert_eq(system(cmd), 0);
    /* Listeners resolve the name through nng (one address), callers
     * through td_rpc_dial_replicas (every address). */
    struct th_options opts = {.tls_cuts = true};
    for (size_t i = 0; i < NURLS; i++) {
        snprintf(env[i], sizeof env[i], "%s=tls+tcp://localhost:%d", names[i], th_free_port());
        opts.env[i] = env[i];
    }
    snprintf(env[NURLS], sizeof env[0], "RPC_TLS_DIR=%s", certs);
    opts.env[NURLS] = env[NURLS];
    cr_assert_eq(th_stack_start(&stack, &opts), 0, "the stack did not start with named URLs");
}

static void teardown(void)
{
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", certs);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(rpc_names, .init = setup, .fini = teardown, .timeout = 120);

struct entry_arg {
    const char *token;
    char path[64];
};

static bool entry_analysed(void *arg)
{
    struct entry_arg *e = arg;
    struct th_response r;
    req(&stack, "GET", e->path, e->token, NULL, &r);
    bool ok = r.status == 200 &&
              json_integer_value(json_object_get(r.json, "positive_count")) > 0;
    th_response_free(&r);
    return ok;
}

Test(rpc_names, every_hop_dials_the_addresses_of_its_name)
{
    /* /ready was 200 at start: the gateway reached td-auth, td-diary and
     * td-sentiment by name. Every caller logged the address it dialled. */
    cr_assert(th_wait_log(&stack, "td-gateway.log", "rpc_peer_address_added", TH_WAIT_MS));
    cr_assert(th_wait_log(&stack, "td-auth.log", "rpc_peer_address_added", TH_WAIT_MS));
    cr_assert(th_wait_log(&stack, "td-diary.log", "rpc_peer_address_added", TH_WAIT_MS));
    cr_assert(th_wait_log(&stack, "td-gateway.log", "revocations_feed_up", TH_WAIT_MS),
              "the revocation feed never connected by name");

    register_user(&stack, "names@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&stack, "names@example.com", GOOD_PASSWORD, &t);

    /* gateway -> td-diary -> td-sentiment, all by name. */
    struct th_response r;
    req(&stack, "POST", "/diaries", t.access, "{\"content\": \"A happy, calm day.\"}", &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    struct entry_arg e = {.token = t.access};
    snprintf(e.path, sizeof e.path, "/diaries/%lld",
             (long long)json_integer_value(json_object_get(r.json, "id")));
    th_response_free(&r);
    cr_assert(th_wait_until(entry_analysed, &e, TH_WAIT_MS), "the entry was never analysed");

    /* A logout, seen by the gateway (feed or pull, both by name). */
    req(&stack, "POST", "/auth/logout", t.access, "{}", &r);
    cr_assert(r.status == 200 || r.status == 204, "logout: %ld %s", r.status, r.body);
    th_response_free(&r);
    struct me_probe m = {stack.base_url, t.access, 401};
    cr_assert(th_wait_until(me_answers, &m, TH_WAIT_MS), "a logged-out token still works");
}
