/*
 * tdctl — the operator's tool. It talks to the daemons over their RPC
 * sockets (each daemon keeps owning its data) using the same configuration
 * names as the daemons (AUTH_RPC_URL, DIARY_RPC_URL, SENTIMENT_RPC_URL, .env).
 *
 *   tdctl ping [auth|diary|sentiment ...]   exit 0 when every named daemon answers
 *   tdctl seed [--clear] [--force]           demo accounts and entries (README.md)
 *
 * Seeding goes through td-auth's auth.seed and td-diary's diary.seed: each
 * daemon writes its own part in one transaction, keeps owning its data, and
 * marks what it wrote as seeded so --clear removes that and nothing else.
 * Running seed twice changes nothing the second time.
 */
#include "td_config.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_rpc.h"
#include "td_time.h"
#include "seed_data.h"

#include <nng/nng.h>
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

/* Calls `op` on service `svc` with the packed args; prints the daemon's
 * error and returns non-zero on any failure. On success *res is the reply. */
static int call_service(const struct service *svc, struct td_rpc_client **client, enum td_op op,
                        const msgpack_sbuffer *args, struct td_rpc_result *res)
{
    if (*client == NULL) {
        struct td_rpc_client_opts opts = {.service = svc->name, .urls = service_url(svc),
                                          .timeout_ms = 60000};
        if (td_rpc_client_open(&opts, client) != 0) {
            fprintf(stderr, "tdctl: bad %s URL '%s'\n", svc->env, service_url(svc));
            return 1;
        }
    }
    struct td_rpc_call call = {.op = op, .request_id = "tdctl-seed", .args = args->data,
                               .args_len = args->size};
    int rc = td_rpc_call(*client, &call, res);
    if (rc != 0) {
        fprintf(stderr, "tdctl: %s at %s: %s\n", svc->name, service_url(svc), td_error_name(rc));
        return 1;
    }
    if (res->status >= 400) {
        const msgpack_object *m = td_rpc_result_error_field(res, "message");
        fprintf(stderr, "tdctl: %s refused %s: %.*s\n", svc->name, td_op_name(op),
                m ? (int)m->via.str.size : 0, m ? m->via.str.ptr : "");
        td_rpc_result_free(res);
        return 1;
    }
    return 0;
}

static int seed_users_call(struct td_rpc_client **auth, bool clear, int64_t *ids)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int prc = msgpack_pack_map(&pk, 2);
    prc = prc ? prc : td_mp_pack_cstr(&pk, "clear");
    prc = prc ? prc : (clear ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk));
    prc = prc ? prc : td_mp_pack_cstr(&pk, "users");
    prc = prc ? prc : msgpack_pack_array(&pk, seed_nusers);
    for (size_t i = 0; prc == 0 && i < seed_nusers; i++) {
        prc = msgpack_pack_map(&pk, 2);
        prc = prc ? prc : td_mp_pack_kv_str(&pk, "email", seed_users[i].email);
        prc = prc ? prc : td_mp_pack_kv_str(&pk, "password", seed_users[i].password);
    }
    struct td_rpc_result res;
    int rc = prc == 0 ? call_service(&services[0], auth, TD_OP_AUTH_SEED, &sb, &res) : 1;
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        return rc;
    const msgpack_object *users = td_mp_map_get(res.result, "users");
    int64_t cleared = 0;
    td_mp_as_int64(td_mp_map_get(res.result, "cleared"), &cleared);
    if (users == NULL || users->type != MSGPACK_OBJECT_ARRAY ||
        users->via.array.size != seed_nusers)
        rc = 1;
    for (size_t i = 0; rc == 0 && i < seed_nusers; i++) {
        const msgpack_object *u = &users->via.array.ptr[i];
        const msgpack_object *created = td_mp_map_get(u, "created");
        if (td_mp_as_int64(td_mp_map_get(u, "id"), &ids[i]) != 0 || created == NULL ||
            created->type != MSGPACK_OBJECT_BOOLEAN) {
            rc = 1;
            break;
        }
        printf("user  %-28s id %-6lld %s\n", seed_users[i].email, (long long)ids[i],
               created->via.boolean ? "created" : "already there");
    }
    if (rc != 0)
        fprintf(stderr, "tdctl: td-auth sent an unexpected auth.seed result\n");
    else if (cleared > 0)
        printf("demo accounts cleared: %lld\n", (long long)cleared);
    td_rpc_result_free(&res);
    return rc;
}

static int seed_entries_call(struct td_rpc_client **diary, bool clear, const int64_t *ids)
{
    int64_t now = td_now_us(), day = 86400LL * 1000000;
    int64_t midnight = now - now % day;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int prc = msgpack_pack_map(&pk, 2);
    prc = prc ? prc : td_mp_pack_cstr(&pk, "clear");
    prc = prc ? prc : (clear ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk));
    prc = prc ? prc : td_mp_pack_cstr(&pk, "entries");
    prc = prc ? prc : msgpack_pack_array(&pk, seed_nentries);
    for (size_t i = 0; prc == 0 && i < seed_nentries; i++) {
        const struct seed_entry *e = &seed_entries[i];
        int64_t at = midnight - e->days_ago * day + (int64_t)e->minutes * 60 * 1000000;
        if (at > now)
            at = now - (int64_t)(seed_nentries - i); /* today's entry: never in the future */
        prc = msgpack_pack_map(&pk, 3);
        prc = prc ? prc : td_mp_pack_kv_int(&pk, "user_id", ids[e->user]);
        prc = prc ? prc : td_mp_pack_kv_str(&pk, "content", e->content);
        prc = prc ? prc : td_mp_pack_kv_int(&pk, "created_at", at);
    }
    struct td_rpc_result res;
    int rc = prc == 0 ? call_service(&services[1], diary, TD_OP_DIARY_SEED, &sb, &res) : 1;
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        return rc;
    int64_t cleared = 0, inserted = 0;
    td_mp_as_int64(td_mp_map_get(res.result, "cleared"), &cleared);
    td_mp_as_int64(td_mp_map_get(res.result, "inserted"), &inserted);
    printf("entries cleared: %lld, inserted: %lld (analysed in the background)\n",
           (long long)cleared, (long long)inserted);
    td_rpc_result_free(&res);
    return 0;
}

static int cmd_seed(int argc, char **argv)
{
    bool clear = false, force = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--clear") == 0)
            clear = true;
        else if (strcmp(argv[i], "--force") == 0)
            force = true;
        else {
            fprintf(stderr, "tdctl seed: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    const char *env = getenv("APP_ENV");
    if (env && strcmp(env, "production") == 0 && !force) {
        fprintf(stderr, "tdctl seed: refusing to create demo accounts with known passwords "
                        "under APP_ENV=production (--force overrides)\n");
        return 2;
    }
    int64_t ids[16];
    if (seed_nusers > sizeof ids / sizeof ids[0])
        return 1;
    struct td_rpc_client *auth = NULL, *diary = NULL;
    int rc = seed_users_call(&auth, clear, ids);
    rc = rc ? rc : seed_entries_call(&diary, clear, ids);
    td_rpc_client_free(&auth);
    td_rpc_client_free(&diary);
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: tdctl ping [auth|diary|sentiment ...]\n"
                 "       tdctl seed [--clear] [--force]\n");
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
    int rc = 2;
    if (strcmp(argv[1], "ping") == 0)
        rc = cmd_ping(argc - 2, argv + 2);
    else if (strcmp(argv[1], "seed") == 0)
        rc = cmd_seed(argc - 2, argv + 2);
    else {
        fprintf(stderr, "tdctl: unknown command '%s'\n", argv[1]);
        usage(stderr);
    }
    nng_fini();
    return rc;
}
