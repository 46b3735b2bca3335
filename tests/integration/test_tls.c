/*
 * test_tls.c — the stack with every RPC hop on tls+tcp:// and mutual TLS
 * (certificates from ops/tls/make-dev-certs.sh), one listener per calling
 * role (docs/operations.md, "Who may call whom"):
 *   - everything works end to end: /ready, register, login, an analysed
 *     entry, logout enforced through the revocation feed, account deletion
 *     through td-auth's call to td-diary, tdctl with the operator's certificate;
 *   - a process with no certificate, or with another role's, gets nothing
 *     from any listener; an operation is refused (403) on a listener whose
 *     role may not call it;
 *   - a process that takes td-auth's address while it is down, without
 *     td-auth's key, never receives the gateway's requests;
 *   - a peer that hangs up in the middle of a handshake does not stop a
 *     listener (docs/library-notes.md, "A TLS listener stops accepting").
 */
#include "auth_helpers.h"
#include "tokens.h"
#include "td_error.h"
#include "td_mp.h"
#include "td_rpc.h"
#include "td_time.h"
#include "tls_client_hello.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

static struct th_stack stack;
static char certs[64];
enum { L_AUTH, L_AUTH_OP, L_EVENTS, L_DIARY, L_DIARY_AUTH, L_DIARY_OP, L_SENTI, L_SENTI_GW,
       L_SENTI_OP, NLISTENERS };
static const char *const names[NLISTENERS] = {
    "AUTH_RPC_URL",       "AUTH_RPC_OPERATOR_URL",     "AUTH_EVENTS_URL",
    "DIARY_RPC_URL",      "DIARY_RPC_AUTH_URL",        "DIARY_RPC_OPERATOR_URL",
    "SENTIMENT_RPC_URL",  "SENTIMENT_RPC_GATEWAY_URL", "SENTIMENT_RPC_OPERATOR_URL"};
/* The role each listener trusts. */
static const unsigned trusts[NLISTENERS] = {
    TD_ROLE_GATEWAY, TD_ROLE_OPERATOR, TD_ROLE_GATEWAY, TD_ROLE_GATEWAY, TD_ROLE_AUTH,
    TD_ROLE_OPERATOR, TD_ROLE_DIARY, TD_ROLE_GATEWAY, TD_ROLE_OPERATOR};
static char urls[NLISTENERS][64];
static char env[NLISTENERS + 1][128];

static void setup(void)
{
    snprintf(certs, sizeof certs, "/tmp/td-certs-XXXXXX");
    cr_assert_not_null(mkdtemp(certs));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s/ops/tls/make-dev-certs.sh %s >/dev/null", TD_SOURCE_DIR, certs);
    cr_assert_eq(system(cmd), 0);
    /* td-auth restarts under traffic; handshakes are cut on purpose. */
    struct th_options opts = {.peers_die = true, .tls_cuts = true};
    for (int i = 0; i < NLISTENERS; i++) {
        snprintf(urls[i], sizeof urls[i], "tls+tcp://127.0.0.1:%d", th_free_port());
        snprintf(env[i], sizeof env[i], "%s=%s", names[i], urls[i]);
        opts.env[i] = env[i];
    }
    snprintf(env[NLISTENERS], sizeof env[0], "RPC_TLS_DIR=%s", certs);
    opts.env[NLISTENERS] = env[NLISTENERS];
    cr_assert_eq(th_stack_start(&stack, &opts), 0, "the stack did not start over TLS");
}

static void teardown(void)
{
    cr_expect_eq(th_stack_stop(&stack), 0, "a daemon did not stop cleanly");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", certs);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 120);

struct entry_arg {
    const char *token;
    char path[64];
    long want;
};

static bool entry_is(void *arg)
{
    struct entry_arg *e = arg;
    struct th_response r;
    req(&stack, "GET", e->path, e->token, NULL, &r);
    bool ok = r.status == e->want &&
              (e->want != 200 || json_integer_value(json_object_get(r.json, "positive_count")) > 0);
    th_response_free(&r);
    return ok;
}

Test(tls, the_whole_stack_works_over_mutual_tls)
{
    register_user(&stack, "tls@example.com", GOOD_PASSWORD);
    struct tokens t;
    login(&stack, "tls@example.com", GOOD_PASSWORD, &t);

    /* An entry, analysed by td-sentiment (td-diary -> td-sentiment). */
    struct th_response r;
    req(&stack, "POST", "/diaries", t.access, "{\"content\": \"A happy, calm day.\"}", &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    struct entry_arg e = {.token = t.access, .want = 200};
    snprintf(e.path, sizeof e.path, "/diaries/%lld",
             (long long)json_integer_value(json_object_get(r.json, "id")));
    th_response_free(&r);
    cr_assert(th_wait_until(entry_is, &e, TH_WAIT_MS), "the entry was never analysed");

    /* The operator's tool, with the operator's certificate. */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "env RPC_TLS_DIR=%s AUTH_RPC_OPERATOR_URL=%s DIARY_RPC_OPERATOR_URL=%s "
             "SENTIMENT_RPC_OPERATOR_URL=%s %s/tdctl user list 2>&1",
             certs, urls[L_AUTH_OP], urls[L_DIARY_OP], urls[L_SENTI_OP], TD_BIN_DIR);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0, "tdctl user list: %s", out);
    cr_assert_not_null(strstr(out, "tls@example.com"), "%s", out);
    snprintf(cmd, sizeof cmd,
             "env RPC_TLS_DIR=%s AUTH_RPC_OPERATOR_URL=%s DIARY_RPC_OPERATOR_URL=%s "
             "SENTIMENT_RPC_OPERATOR_URL=%s %s/tdctl ping 2>&1",
             certs, urls[L_AUTH_OP], urls[L_DIARY_OP], urls[L_SENTI_OP], TD_BIN_DIR);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0, "tdctl ping over TLS: %s", out);

    /* A second login, logged out: the revocation feed (td-auth -> gateway)
     * carries it. */
    struct tokens t2;
    login(&stack, "tls@example.com", GOOD_PASSWORD, &t2);
    req(&stack, "POST", "/auth/logout", t2.access, "{}", &r);
    cr_assert(r.status == 200 || r.status == 204, "logout: %ld %s", r.status, r.body);
    th_response_free(&r);
    struct me_probe m = {stack.base_url, t2.access, 401};
    cr_assert(th_wait_until(me_answers, &m, TH_WAIT_MS), "a logged-out token still works");

    /* Account deletion: td-auth reaches td-diary on its own listener
     * before it answers; the entry is gone. */
    char body[256];
    snprintf(body, sizeof body, "{\"password\": \"%s\"}", GOOD_PASSWORD);
    req(&stack, "DELETE", "/auth/me", t.access, body, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    char *other = th_token_access(999999, 600); /* anyone else asking for it */
    e.token = other;
    e.want = 404;
    cr_assert(th_wait_until(entry_is, &e, TH_WAIT_MS), "the deleted account's entry remains");
    free(other);
}

/* One ping with the process set up as `self` (0: keep the current set-up).
 * A handshake that will succeed may take seconds on a loaded machine, hence
 * the long grace for the cases that should answer; a refused one never
 * completes, whatever the wait. */
static int ping_as(unsigned self, const char *url, unsigned peer, int grace_ms,
                   struct td_rpc_result *res)
{
    if (self != 0)
        cr_assert_eq(td_rpc_tls_setup(certs, self), 0);
    /* One connection: a probe that left with more still mid-handshake would
     * stop the listener itself (docs/library-notes.md, "A TLS listener stops
     * accepting"). */
    struct td_rpc_client_opts o = {.service = "probe", .peer = peer, .urls = url,
                                   .timeout_ms = grace_ms, .connect_grace_ms = grace_ms,
                                   .connections = 1};
    struct td_rpc_client *c = NULL;
    cr_assert_eq(td_rpc_client_open(&o, &c), 0);
    struct td_rpc_call call = {.op = TD_OP_PING};
    int rc = td_rpc_call(c, &call, res);
    for (int i = 0; grace_ms > 1000 && i < 3 && rc == TD_EDOWN; i++) { /* a slow handshake */
        usleep(200000);
        rc = td_rpc_call(c, &call, res);
    }
    td_rpc_client_free(&c);
    return rc;
}

static const unsigned roles[] = {TD_ROLE_GATEWAY, TD_ROLE_AUTH, TD_ROLE_DIARY,
                                 TD_ROLE_SENTIMENT, TD_ROLE_OPERATOR};

/* Which daemon serves each listener, so a probe can verify the server. */
static unsigned served_by(int l)
{
    return l <= L_EVENTS ? TD_ROLE_AUTH : l <= L_DIARY_OP ? TD_ROLE_DIARY : TD_ROLE_SENTIMENT;
}

Test(tls, every_listener_answers_its_role_and_no_other)
{
    for (int l = 0; l < NLISTENERS; l++) {
        if (l == L_EVENTS)
            continue; /* pub/sub: no ping; its CA is checked like the others */
        /* The trusted role first: each refused probe leaves mid-handshake,
         * which stops the listener until the watcher replaces it, and the
         * good probe is not about that window. */
        unsigned order[sizeof roles / sizeof roles[0]];
        size_t n = 0;
        order[n++] = trusts[l];
        for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++) {
            if (roles[k] != trusts[l])
                order[n++] = roles[k];
        }
        for (size_t j = 0; j < n; j++) {
            unsigned role = order[j];
            struct td_rpc_result res;
            /* A handshake on a loaded machine may take a while; a refused
             * one never completes, so the wait is only for the good case. */
            int rc = ping_as(role, urls[l], served_by(l), role == trusts[l] ? 15000 : 300, &res);
            if (role == trusts[l]) {
                cr_assert_eq(rc, 0, "%s refused its own role %s: %s", names[l], td_role_name(role),
                             td_error_symbol(rc));
                td_rpc_result_free(&res);
            } else {
                if (rc == 0)
                    td_rpc_result_free(&res);
                cr_assert(rc == TD_EDOWN || rc == TD_ETIMEDOUT, "%s answered %s", names[l],
                          td_role_name(role));
            }
        }
    }
    /* Plain tcp, no TLS at all: nothing either. */
    char plain[80];
    snprintf(plain, sizeof plain, "tcp://%.60s", urls[L_AUTH] + strlen("tls+tcp://"));
    td_rpc_tls_setup(NULL, 0);
    struct td_rpc_result res;
    int rc = ping_as(0, plain, TD_ROLE_AUTH, 300, &res);
    if (rc == 0)
        td_rpc_result_free(&res);
    cr_assert(rc == TD_EDOWN || rc == TD_ETIMEDOUT, "plain tcp got an answer");
}

Test(tls, an_operation_is_refused_on_a_listener_whose_role_may_not_call_it)
{
    /* The gateway's certificate reaches td-auth's gateway listener, but
     * auth.seed is the operator's and diary.delete_user td-auth's. */
    cr_assert_eq(td_rpc_tls_setup(certs, TD_ROLE_GATEWAY), 0);
    const struct {
        int listener;
        unsigned server;
        enum td_op op;
    } cases[] = {{L_AUTH, TD_ROLE_AUTH, TD_OP_AUTH_SEED},
                 {L_AUTH, TD_ROLE_AUTH, TD_OP_AUTH_USER_DELETE},
                 {L_DIARY, TD_ROLE_DIARY, TD_OP_DIARY_DELETE_USER},
                 {L_DIARY, TD_ROLE_DIARY, TD_OP_DIARY_SEED},
                 {L_SENTI_GW, TD_ROLE_SENTIMENT, TD_OP_SENTIMENT_ANALYZE}};
    /* One client per listener, not per case: closing a client can stop the
     * listener it used until the watcher replaces it (docs/library-notes.md,
     * "A TLS listener stops accepting"), and a call made in that window is
     * not what this test is about. */
    struct td_rpc_client *c = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (i > 0 && cases[i].listener != cases[i - 1].listener)
            td_rpc_client_free(&c);
        struct td_rpc_client_opts o = {.service = "probe", .peer = cases[i].server,
                                       .urls = urls[cases[i].listener], .timeout_ms = 15000,
                                       .connect_grace_ms = 15000, .connections = 1};
        if (c == NULL)
            cr_assert_eq(td_rpc_client_open(&o, &c), 0);
        struct td_rpc_call call = {.op = cases[i].op, .user_id = 1};
        struct td_rpc_result res;
        int rc = td_rpc_call(c, &call, &res);
        for (int k = 0; k < 10 && rc == TD_EDOWN; k++) {
            usleep(100000);
            rc = td_rpc_call(c, &call, &res);
        }
        cr_assert_eq(rc, 0, "%s: %s", td_op_name(cases[i].op), td_error_symbol(rc));
        cr_assert_eq(res.status, 403, "%s answered %d", td_op_name(cases[i].op), res.status);
        td_rpc_result_free(&res);
    }
    td_rpc_client_free(&c);
}

/* A squatter on td-auth's address: it presents a certificate, but not one
 * of td-auth's CA. */
static atomic_int squatted;

static int squatter_login(void *app, const struct td_rpc_request *rq, struct td_rpc_reply *rep)
{
    (void)app;
    (void)rq;
    atomic_fetch_add(&squatted, 1);
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    return msgpack_pack_nil(pk) == 0 ? 0 : TD_ENOMEM;
}

Test(tls, a_squatter_on_td_auths_address_never_receives_a_request)
{
    int status = th_daemon_signal(&stack, TH_AUTH, SIGTERM);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The squatter has a real certificate of the stack (the gateway's). */
    cr_assert_eq(td_rpc_tls_setup(certs, TD_ROLE_GATEWAY), 0);
    static const struct td_rpc_route r[] = {{TD_OP_AUTH_LOGIN, squatter_login, false},
                                            {TD_OP_AUTH_ME, squatter_login, false}};
    struct td_rpc_server_opts so = {.service = "auth", .url = urls[L_AUTH],
                                    .callers = TD_ROLE_GATEWAY, .workers = 2, .routes = r,
                                    .nroutes = 2};
    struct td_rpc_server *srv = NULL;
    cr_assert_eq(td_rpc_server_start(&so, &srv), 0);
    for (int i = 0; i < 5; i++) {
        struct th_response resp;
        char body[256];
        snprintf(body, sizeof body, "{\"email\": \"victim@example.com\", \"password\": \"%s\"}",
                 GOOD_PASSWORD);
        req(&stack, "POST", "/auth/login", NULL, body, &resp);
        cr_assert_eq(resp.status, 503, "login through a squatter: %ld %s", resp.status,
                     resp.body);
        th_response_free(&resp);
        usleep(100000);
    }
    cr_assert_eq(atomic_load(&squatted), 0, "the squatter received a login");
    td_rpc_server_stop(&srv, 1000);
    cr_assert_eq(th_daemon_start(&stack, TH_AUTH), 0); /* for the teardown */
    cr_assert_eq(th_wait_ready(&stack, 200, 20000), 0);
}

/* Sends a ClientHello to the listener at `url`, waits for the server's first
 * answer (up to 10 s), and hangs up: a handshake left in the middle. False
 * when the connection closed first (a listener being replaced just then). */
static bool hang_up_mid_handshake(const char *url)
{
    const char *colon = strrchr(url, ':');
    cr_assert_not_null(colon);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    cr_assert_eq(inet_pton(AF_INET, "127.0.0.1", &a.sin_addr), 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    bool answered = false;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        send(fd, th_tls_client_hello, sizeof th_tls_client_hello, MSG_NOSIGNAL) ==
            (ssize_t)sizeof th_tls_client_hello) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char buf[4096];
        answered = poll(&p, 1, 10000) == 1 && recv(fd, buf, sizeof buf, 0) > 0;
        /* Read the rest of the server's flight, so that closing sends a FIN
         * (a reset is a different failure, one nng recovers from). */
        while (answered && poll(&p, 1, 300) == 1 && recv(fd, buf, sizeof buf, 0) > 0)
            ;
    }
    close(fd);
    return answered;
}

/* A ping through a fresh single-connection client, tried until it answers
 * or 30 s pass: a connection that reached a stopped listener waits
 * unanswered, so each try gives up after 2 s and the next dials anew. */
static int ping_until_answered(int l)
{
    int rc = TD_ETIMEDOUT;
    int64_t until = td_mono_ms() + 30000;
    while (rc != 0 && td_mono_ms() < until) {
        struct td_rpc_result res;
        rc = ping_as(trusts[l], urls[l], served_by(l), 2000, &res);
        if (rc == 0)
            td_rpc_result_free(&res);
    }
    return rc;
}

Test(tls, a_listener_keeps_accepting_after_peers_hang_up_mid_handshake)
{
    /* In nng 1.5.2 such a hang-up can stop a listener for good, and every
     * later caller waits unanswered (docs/library-notes.md): a bare
     * ClientHello does it, no certificate needed. Every caller after the
     * hang-ups must be answered; a stopped listener is replaced by the
     * daemon's watcher (rpc_relistened, counted below). Which hang-ups stop
     * a listener depends on where its handshake was, and it is rare here,
     * so the watcher's decision has its own test
     * (tests/unit/common/test_accept_watch.c). Our own clients are not used
     * to cut handshakes: one that closes mid-handshake leaks inside nng,
     * and LeakSanitizer would report this process. */
    const struct {
        int listener;
        const char *log;
    } cases[] = {{L_AUTH, "td-auth.log"}, {L_DIARY, "td-diary.log"}, {L_SENTI, "td-sentiment.log"}};
    int replaced = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int l = cases[i].listener;
        int before = th_wait_log_count(&stack, cases[i].log, "rpc_relistened", 0, 0);
        for (int round = 1; round <= 5; round++) {
            /* A listener being replaced refuses for a moment: try for up
             * to 10 s. */
            bool cut = false;
            for (int tries = 0; !cut && tries < 100; tries++) {
                if (tries > 0)
                    usleep(100000);
                cut = hang_up_mid_handshake(urls[l]);
            }
            cr_assert(cut, "%s never answered a ClientHello", names[l]);
            int rc = ping_until_answered(l);
            cr_assert_eq(rc, 0, "%s after a hang-up mid-handshake (round %d): %s", names[l], round,
                         td_error_symbol(rc));
        }
        replaced += th_wait_log_count(&stack, cases[i].log, "rpc_relistened", 0, 0) - before;
    }
    cr_log_info("listeners replaced after stopping: %d", replaced);
    /* The stack itself never noticed. */
    cr_assert_eq(th_wait_ready(&stack, 200, 10000), 0);
}

Test(tls, a_peer_that_hangs_up_cleanly_leaves_the_others_connected)
{
    /* nng counts a connection's end among the same listener errors as an
     * accept that ended (src/core/pipe.c, nni_pipe_bump_error): the watcher
     * once took every hang-up for a stopped listener and replaced it,
     * resetting every other peer's connection. */
    cr_assert_eq(td_rpc_tls_setup(certs, TD_ROLE_OPERATOR), 0);
    struct td_rpc_client_opts o = {.service = "stayer", .peer = TD_ROLE_DIARY,
                                   .urls = urls[L_DIARY_OP], .timeout_ms = 15000,
                                   .connect_grace_ms = 15000, .connections = 1};
    struct td_rpc_client *stayer = NULL;
    cr_assert_eq(td_rpc_client_open(&o, &stayer), 0);
    struct td_rpc_call ping = {.op = TD_OP_PING};
    struct td_rpc_result res;
    cr_assert_eq(td_rpc_call(stayer, &ping, &res), 0);
    td_rpc_result_free(&res);
    int before = th_wait_log_count(&stack, "td-diary.log", "rpc_relistened", 0, 0);
    for (int i = 0; i < 3; i++) { /* three peers come, are answered, and leave */
        cr_assert_eq(ping_as(0, urls[L_DIARY_OP], TD_ROLE_DIARY, 15000, &res), 0);
        td_rpc_result_free(&res);
    }
    /* Longer than the watcher takes to replace a listener it suspects. */
    int after = th_wait_log_count(&stack, "td-diary.log", "rpc_relistened", before + 1, 3000);
    cr_assert_eq(after, before, "a clean hang-up made td-diary replace its listener");
    cr_assert_eq(td_rpc_client_peers(stayer), 1);
    cr_assert_eq(td_rpc_call(stayer, &ping, &res), 0, "the staying peer lost its connection");
    td_rpc_result_free(&res);
    td_rpc_client_free(&stayer);
}
