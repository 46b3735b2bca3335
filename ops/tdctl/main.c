/*
 * tdctl — the operator's tool. It talks to the daemons over their RPC
 * sockets (each daemon keeps owning its data) using the same configuration
 * names as the daemons (AUTH_RPC_URL, DIARY_RPC_URL, SENTIMENT_RPC_URL, .env).
 *
 *   tdctl ping [auth|diary|sentiment ...]   exit 0 when every named daemon answers
 */
#include "td_config.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_rpc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct service {
    const char *name;
    const char *env;
    const char *def;
};

static const struct service services[] = {
    {"auth", "AUTH_RPC_URL", "tcp://127.0.0.1:5551"},
    {"diary", "DIARY_RPC_URL", "tcp://127.0.0.1:5552"},
    {"sentiment", "SENTIMENT_RPC_URL", "tcp://127.0.0.1:5553"},
};

static const char *service_url(const struct service *s)
{
    const char *v = getenv(s->env);
    return v && *v ? v : s->def;
}

static int ping_one(const struct service *s)
{
    struct td_rpc_client *c = NULL;
    struct td_rpc_client_opts opts = {.service = s->name, .urls = service_url(s),
                                      .timeout_ms = 2000};
    int rc = td_rpc_client_open(&opts, &c);
    if (rc == 0) {
        struct td_rpc_call call = {.op = TD_OP_PING, .request_id = "tdctl-ping"};
        struct td_rpc_result res;
        rc = td_rpc_call(c, &call, &res);
        if (rc == 0) {
            rc = res.status == 200 ? 0 : TD_EINTERNAL;
            td_rpc_result_free(&res);
        }
    }
    td_rpc_client_free(&c);
    printf("%-10s %-28s %s\n", s->name, service_url(s), rc == 0 ? "up" : td_error_name(rc));
    return rc;
}

static int cmd_ping(int argc, char **argv)
{
    int failures = 0;
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
        bool wanted = argc == 0;
        for (int a = 0; a < argc; a++)
            wanted = wanted || strcmp(argv[a], services[i].name) == 0;
        if (wanted)
            failures += ping_one(&services[i]) != 0;
    }
    return failures == 0 ? 0 : 1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: tdctl ping [auth|diary|sentiment ...]\n");
}

int main(int argc, char **argv)
{
    char err[512];
    if (sodium_init() < 0)
        return 1;
    if (td_env_load_file(err, sizeof err) != 0) {
        fprintf(stderr, "tdctl: %s\n", err);
        return 2;
    }
    td_log_init("tdctl", TD_LOG_ERR, TD_LOG_TEXT);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "ping") == 0)
        return cmd_ping(argc - 2, argv + 2);
    fprintf(stderr, "tdctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
