/*
 * tdctl — the operator's tool. It talks to the daemons over their RPC
 * sockets (each daemon keeps owning its data) using the same configuration
 * names as the daemons (AUTH_RPC_URL, DIARY_RPC_URL, SENTIMENT_RPC_URL,
 * GATEWAY_LISTEN, .env or TD_ENV_FILE).
 *
 *   tdctl ping [auth|diary|sentiment ...]            does each daemon answer?
 *   tdctl health [auth|diary|sentiment|gateway ...]  is each daemon healthy?
 *   tdctl user list                                  every account
 *   tdctl user delete EMAIL                          an account and its entries
 *   tdctl seed [--clear] [--force]                   demo accounts and entries (README.md)
 *   tdctl version                                    tdctl's version
 *
 * Exit status, for scripts and healthchecks: 0 success, 1 a daemon is down,
 * unhealthy or refused, 2 a usage error (unknown command, daemon name or
 * option, a bad configuration). `--help` anywhere prints that command's
 * usage and exits 0; help and version never read the configuration.
 *
 * Seeding goes through td-auth's auth.seed and td-diary's diary.seed: each
 * daemon writes its own part in one transaction, keeps owning its data, and
 * marks what it wrote as seeded so --clear removes that and nothing else.
 * Running seed twice changes nothing the second time. Accounts are listed
 * and deleted through td-auth's operator operations (auth.user_list,
 * auth.user_delete; proto/README.md); a deletion is the very cascade of
 * DELETE /auth/me, td-diary's part included.
 */
#include "td_config.h"
#include "td_error.h"
#include "td_log.h"
#include "td_mp.h"
#include "td_rpc.h"
#include "td_time.h"
#include "seed_data.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2
#define PING_TIMEOUT_MS ping_timeout_ms()
#define CALL_TIMEOUT_MS 60000

/* How long a ping (and a first connection) may take: 2 s, or
 * TDCTL_TIMEOUT_MS (100-600000) for a loaded host or a slow healthcheck. */
static int ping_timeout_ms(void)
{
    const char *v = getenv("TDCTL_TIMEOUT_MS");
    char *end = NULL;
    long ms = v && *v ? strtol(v, &end, 10) : 0;
    return v && *v && end && *end == '\0' && ms >= 100 && ms <= 600000 ? (int)ms : 2000;
}
#define USER_PAGE 500
/* How long `user delete` waits to see td-diary hold no entry of the user. */
#define CASCADE_WAIT_MS 10000

/* tdctl calls each daemon on the listener it keeps for the operator
 * (<SVC>_RPC_OPERATOR_URL; proto/td_proto.h lists the operations only the
 * operator may call). Without one set, an explicitly set <SVC>_RPC_URL is
 * used (enough for ping), and otherwise the daemon's default operator
 * socket, which the daemons' own defaults match. */
struct service {
    const char *name;
    unsigned role;
    const char *op_env;  /* the operator's listener */
    const char *op_def;  /* its default, or NULL for none */
    const char *env;     /* the daemon's main URL */
    const char *def;
};

static const struct service services[] = {
    {"auth", TD_ROLE_AUTH, "AUTH_RPC_OPERATOR_URL", "ipc://var/rpc/auth-operator.sock",
     "AUTH_RPC_URL", "ipc://var/rpc/auth.sock"},
    {"diary", TD_ROLE_DIARY, "DIARY_RPC_OPERATOR_URL", "ipc://var/rpc/diary-operator.sock",
     "DIARY_RPC_URL", "ipc://var/rpc/diary.sock"},
    {"sentiment", TD_ROLE_SENTIMENT, "SENTIMENT_RPC_OPERATOR_URL", NULL, "SENTIMENT_RPC_URL",
     "ipc://var/rpc/sentiment.sock"},
};
#define NSERVICES (sizeof services / sizeof services[0])

/* ---- usage ------------------------------------------------------------- */

struct command {
    const char *name;
    const char *usage; /* the synopsis line(s) */
    const char *help;  /* what it does, for `tdctl COMMAND --help` */
};

static const struct command commands[] = {
    {"ping", "tdctl ping [auth|diary|sentiment ...]",
     "Pings each named daemon (all three by default) over RPC and prints\n"
     "whether it answered. Exit 0 when every one did, 1 otherwise.\n"},
    {"health", "tdctl health [auth|diary|sentiment|gateway ...]",
     "Checks each named daemon (all four by default): td-auth, td-diary and\n"
     "td-sentiment must answer ping within 2 s as the service asked for and\n"
     "speak this tdctl's RPC protocol; td-gateway must answer GET /health with\n"
     "200 on GATEWAY_LISTEN. Prints one line per daemon (name, address, state,\n"
     "version, round trip). Exit 0 when every one is healthy, 1 otherwise.\n"},
    {"user", "tdctl user list\n       tdctl user delete EMAIL",
     "list: every account, oldest first: id, email, created_at, and whether\n"
     "it is a demo account made by `tdctl seed`.\n"
     "delete: deletes the account with that email exactly as DELETE /auth/me\n"
     "does (its tokens are revoked at every gateway, td-auth's outbox deletes\n"
     "its diary entries in td-diary), without its password. Waits up to 10 s\n"
     "for td-diary to hold no entry of it. Exit 1 when there is no such account.\n"},
    {"seed", "tdctl seed [--clear] [--force]",
     "Creates the demo accounts and their entries (README.md, \"Demo data\");\n"
     "running it again changes nothing. --clear first removes the demo data\n"
     "(only it: demo entries, then the demo accounts with everything they\n"
     "own) and seeds again. Refused under APP_ENV=production unless --force.\n"},
    {"version", "tdctl version",
     "Prints tdctl's version (also `tdctl --version`); `tdctl health` shows\n"
     "each daemon's.\n"},
    {"help", "tdctl help [COMMAND]", "Prints the usage of tdctl or of one command.\n"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out, "usage:");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "%s%s\n", i ? "       " : " ", commands[i].usage);
    fprintf(out, "       tdctl --version | --help\n"
                 "\n"
                 "The operator's tool: talks to the daemons over RPC (AUTH_RPC_URL,\n"
                 "DIARY_RPC_URL, SENTIMENT_RPC_URL; GATEWAY_LISTEN for the gateway), read\n"
                 "from the environment and ./.env (or TD_ENV_FILE) like the daemons.\n"
                 "`tdctl help COMMAND` tells more about one command.\n"
                 "Exit status: 0 success, 1 a daemon down, unhealthy or refusing,\n"
                 "2 a usage or configuration error.\n");
}

static int command_help(const struct command *c)
{
    printf("usage: %s\n\n%s", c->usage, c->help);
    return 0;
}

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* A usage error of command `c`: the message, then its usage, exit 2. */
__attribute__((format(printf, 2, 3))) static int usage_error(const struct command *c,
                                                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tdctl %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", c->usage);
    return EXIT_USAGE;
}

/* ---- RPC ---------------------------------------------------------------- */

static const char *service_url(const struct service *s)
{
    const char *v = getenv(s->op_env);
    if (v && *v)
        return v;
    v = getenv(s->env);
    if (v && *v)
        return v;
    return s->op_def ? s->op_def : s->def;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Pings `s`. 0 with *res (free it) or a TD_E* with nothing to free. */
static int ping_call(const struct service *s, const char *rid, struct td_rpc_result *res)
{
    struct td_rpc_client *c = NULL;
    struct td_rpc_client_opts opts = {.service = s->name, .peer = s->role,
                                      .urls = service_url(s), .timeout_ms = PING_TIMEOUT_MS,
                                      .connections = 1, .connect_grace_ms = PING_TIMEOUT_MS};
    int rc = td_rpc_client_open(&opts, &c);
    if (rc == 0) {
        struct td_rpc_call call = {.op = TD_OP_PING, .request_id = rid};
        rc = td_rpc_call(c, &call, res);
    }
    td_rpc_client_free(&c);
    return rc;
}

static int ping_one(const struct service *s)
{
    struct td_rpc_result res;
    int rc = ping_call(s, "tdctl-ping", &res);
    if (rc == 0) {
        rc = res.status == 200 ? 0 : TD_EINTERNAL;
        td_rpc_result_free(&res);
    }
    printf("%-10s %-28s %s\n", s->name, service_url(s), rc == 0 ? "up" : td_error_name(rc));
    return rc;
}

/* Calls `op` on `svc` as user `uid` (0: none) with the packed args (NULL:
 * none); prints the daemon's error and returns non-zero on any failure, 0
 * with *res (the caller frees it) otherwise. A refusal with `quiet_status`
 * is returned as that status, unprinted, for the caller to explain. */
static int call_service(const struct service *svc, struct td_rpc_client **client, enum td_op op,
                        const char *rid, int64_t uid, const msgpack_sbuffer *args, int quiet_status,
                        struct td_rpc_result *res)
{
    if (*client == NULL) {
        struct td_rpc_client_opts opts = {.service = svc->name, .peer = svc->role,
                                          .urls = service_url(svc),
                                          .timeout_ms = CALL_TIMEOUT_MS,
                                          .connections = 1,
                                          .connect_grace_ms = PING_TIMEOUT_MS};
        if (td_rpc_client_open(&opts, client) != 0) {
            fprintf(stderr, "tdctl: bad %s URL '%s'\n", svc->env, service_url(svc));
            return 1;
        }
    }
    struct td_rpc_call call = {.op = op,
                               .request_id = rid,
                               .user_id = uid,
                               .args = args ? args->data : NULL,
                               .args_len = args ? args->size : 0};
    int rc = td_rpc_call(*client, &call, res);
    if (rc != 0) {
        fprintf(stderr, "tdctl: %s at %s: %s\n", svc->name, service_url(svc), td_error_name(rc));
        return 1;
    }
    if (res->status >= 400) {
        int status = res->status;
        if (status != quiet_status) {
            const msgpack_object *m = td_rpc_result_error_field(res, "message");
            fprintf(stderr, "tdctl: %s refused %s: %.*s\n", svc->name, td_op_name(op),
                    m && m->type == MSGPACK_OBJECT_STR ? (int)m->via.str.size : 0,
                    m && m->type == MSGPACK_OBJECT_STR ? m->via.str.ptr : "");
        }
        td_rpc_result_free(res);
        return status == quiet_status ? status : 1;
    }
    return 0;
}

/* Parses daemon names for ping/health: each must be one of `allowed`
 * (NULL-terminated); none means all. Sets wanted[i] for allowed[i]. Returns
 * 0, 1 for --help (printed), or EXIT_USAGE (printed). */
static int parse_daemons(const struct command *c, int argc, char **argv, const char *const *allowed,
                         bool *wanted)
{
    size_t n = 0;
    while (allowed[n])
        n++;
    for (int a = 0; a < argc; a++) {
        if (is_help(argv[a])) {
            command_help(c);
            return 1;
        }
    }
    for (int a = 0; a < argc; a++) {
        size_t i = 0;
        while (i < n && strcmp(allowed[i], argv[a]) != 0)
            i++;
        if (i == n) {
            char names[128] = "";
            for (size_t k = 0; k < n; k++) {
                size_t used = strlen(names);
                snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "", allowed[k]);
            }
            return usage_error(c,
                               argv[a][0] == '-' ? "unknown option '%s' (daemons: %s)"
                                                 : "unknown daemon '%s' (daemons: %s)",
                               argv[a], names);
        }
        wanted[i] = true;
    }
    for (size_t i = 0; argc == 0 && i < n; i++)
        wanted[i] = true;
    return 0;
}

/* ---- ping ----------------------------------------------------------------- */

static int cmd_ping(const struct command *c, int argc, char **argv)
{
    static const char *const names[] = {"auth", "diary", "sentiment", NULL};
    bool wanted[NSERVICES] = {false};
    int rc = parse_daemons(c, argc, argv, names, wanted);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    int failures = 0;
    for (size_t i = 0; i < NSERVICES; i++) {
        if (wanted[i])
            failures += ping_one(&services[i]) != 0;
    }
    return failures == 0 ? 0 : 1;
}

/* ---- health --------------------------------------------------------------- */

static void health_line(const char *name, const char *where, const char *state, const char *version,
                        int64_t rtt_us)
{
    char rtt[32] = "-";
    if (rtt_us >= 0)
        snprintf(rtt, sizeof rtt, "%.1fms", (double)rtt_us / 1000.0);
    printf("%-10s %-28s %-40s %-8s %s\n", name, where, state, version, rtt);
}

/* td-auth, td-diary or td-sentiment: answers ping, is the service asked
 * for (a URL pointing at the wrong daemon is caught), speaks our protocol. */
static bool health_rpc(const struct service *s)
{
    struct td_rpc_result res;
    int64_t t0 = mono_us();
    int rc = ping_call(s, "tdctl-health", &res);
    int64_t rtt = mono_us() - t0;
    char state[128], version[32] = "-";
    bool healthy = false;
    if (rc != 0) {
        snprintf(state, sizeof state, "down (%s)", td_error_name(rc));
        rtt = -1;
    } else {
        const msgpack_object *svc = td_mp_map_get(res.result, "service");
        const msgpack_object *ver = td_mp_map_get(res.result, "version");
        int64_t proto = 0;
        bool has_proto = td_mp_as_int64(td_mp_map_get(res.result, "protocol"), &proto) == 0;
        if (ver && ver->type == MSGPACK_OBJECT_STR)
            snprintf(version, sizeof version, "%.*s", (int)ver->via.str.size, ver->via.str.ptr);
        if (res.status != 200)
            snprintf(state, sizeof state, "unhealthy (answered %d)", res.status);
        else if (svc == NULL || !td_mp_str_eq(svc, s->name))
            snprintf(state, sizeof state, "unhealthy (another service: %.*s)",
                     svc && svc->type == MSGPACK_OBJECT_STR ? (int)svc->via.str.size : 1,
                     svc && svc->type == MSGPACK_OBJECT_STR ? svc->via.str.ptr : "?");
        else if (!has_proto || proto != TD_PROTO_VERSION)
            snprintf(state, sizeof state, "unhealthy (protocol %lld, tdctl speaks %d)",
                     (long long)proto, TD_PROTO_VERSION);
        else {
            snprintf(state, sizeof state, "healthy");
            healthy = true;
        }
        td_rpc_result_free(&res);
    }
    health_line(s->name, service_url(s), state, version, rtt);
    return healthy;
}

/* GATEWAY_LISTEN ("127.0.0.1:8080", "0.0.0.0:8080" or "8080") as an address
 * to connect to: a wildcard or missing host is this host's loopback. */
static bool gateway_address(const char *listen, struct sockaddr_in *out)
{
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(listen, ':');
    const char *port = colon ? colon + 1 : listen;
    if (colon != NULL) {
        size_t n = (size_t)(colon - listen);
        if (n >= sizeof host)
            return false;
        if (n > 0) {
            memcpy(host, listen, n);
            host[n] = '\0';
        }
    }
    if (strcmp(host, "0.0.0.0") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    char *end;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (errno || end == port || *end != '\0' || p < 1 || p > 65535)
        return false;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)p);
    return inet_pton(AF_INET, host, &out->sin_addr) == 1;
}

/* Waits for `events` on fd until the deadline (monotonic µs). */
static bool wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_us();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)((left + 999) / 1000));
        if (n > 0)
            return true;
        if (n == 0 || errno != EINTR)
            return false;
    }
}

/* GET /health on the gateway: the HTTP status, or -1 (message in why). */
static int gateway_health(const struct sockaddr_in *addr, char *why, size_t whylen)
{
    int64_t deadline = mono_us() + (int64_t)PING_TIMEOUT_MS * 1000;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(why, whylen, "socket: %s", strerror(errno));
        return -1;
    }
    int status = -1;
    int rc = connect(fd, (const struct sockaddr *)addr, sizeof *addr);
    if (rc != 0 && errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline)) {
        int err = 0;
        socklen_t len = sizeof err;
        rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0 ? 0 : -1;
        errno = err;
    } else if (rc != 0 && errno == EINPROGRESS) {
        errno = ETIMEDOUT;
    }
    if (rc != 0) {
        snprintf(why, whylen, "down (%s)", strerror(errno));
        close(fd);
        return -1;
    }
    static const char req[] = "GET /health HTTP/1.0\r\nConnection: close\r\n"
                              "X-Request-ID: tdctl-health\r\n\r\n";
    size_t sent = 0;
    while (sent < sizeof req - 1 && wait_fd(fd, POLLOUT, deadline)) {
        ssize_t n = send(fd, req + sent, sizeof req - 1 - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (n > 0)
            sent += (size_t)n;
    }
    char buf[256];
    size_t got = 0;
    while (sent == sizeof req - 1 && got < sizeof buf - 1 && wait_fd(fd, POLLIN, deadline)) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            break;
        if (n > 0)
            got += (size_t)n;
        buf[got] = '\0';
        if (strchr(buf, '\n') != NULL)
            break; /* the status line is all we need */
    }
    buf[got] = '\0';
    int code = 0;
    if (sscanf(buf, "HTTP/1.%*1d %3d", &code) == 1 && code >= 100 && code <= 599)
        status = code;
    else
        snprintf(why, whylen, "%s",
                 sent < sizeof req - 1 || got == 0 ? "no answer in 2 s" : "not an HTTP answer");
    close(fd);
    return status;
}

static bool health_gateway(void)
{
    const char *listen = getenv("GATEWAY_LISTEN");
    if (listen == NULL || *listen == '\0')
        listen = "127.0.0.1:8080";
    struct sockaddr_in addr;
    char where[64], state[128] = "";
    snprintf(where, sizeof where, "http://%s", listen);
    if (!gateway_address(listen, &addr)) {
        health_line("gateway", where, "unhealthy (GATEWAY_LISTEN is not host:port)", "-", -1);
        return false;
    }
    int64_t t0 = mono_us();
    int status = gateway_health(&addr, state, sizeof state);
    int64_t rtt = mono_us() - t0;
    if (status == 200)
        snprintf(state, sizeof state, "healthy");
    else if (status > 0)
        snprintf(state, sizeof state, "unhealthy (GET /health answered %d)", status);
    health_line("gateway", where, state, "-", status > 0 ? rtt : -1);
    return status == 200;
}

static int cmd_health(const struct command *c, int argc, char **argv)
{
    static const char *const names[] = {"auth", "diary", "sentiment", "gateway", NULL};
    bool wanted[4] = {false};
    int rc = parse_daemons(c, argc, argv, names, wanted);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    int unhealthy = 0;
    for (size_t i = 0; i < NSERVICES; i++) {
        if (wanted[i])
            unhealthy += !health_rpc(&services[i]);
    }
    if (wanted[3])
        unhealthy += !health_gateway();
    return unhealthy == 0 ? 0 : 1;
}

/* ---- user ----------------------------------------------------------------- */

static int print_str(const msgpack_object *o, const char *fallback, int width)
{
    if (o != NULL && o->type == MSGPACK_OBJECT_STR)
        return printf("%-*.*s", width, (int)o->via.str.size, o->via.str.ptr);
    return printf("%-*s", width, fallback);
}

static int user_list(void)
{
    struct td_rpc_client *auth = NULL;
    int64_t after = 0;
    bool more = true;
    int rc = 0;
    printf("%-8s %-40s %-28s %s\n", "id", "email", "created_at", "demo");
    while (rc == 0 && more) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        int prc = msgpack_pack_map(&pk, 2);
        prc = prc ? prc : td_mp_pack_kv_int(&pk, "after", after);
        prc = prc ? prc : td_mp_pack_kv_int(&pk, "limit", USER_PAGE);
        struct td_rpc_result res;
        rc = prc == 0 ? call_service(&services[0], &auth, TD_OP_AUTH_USER_LIST, "tdctl-user-list",
                                     0, &sb, 0, &res)
                      : 1;
        msgpack_sbuffer_destroy(&sb);
        if (rc != 0)
            break;
        const msgpack_object *users = td_mp_map_get(res.result, "users");
        const msgpack_object *m = td_mp_map_get(res.result, "more");
        if (users == NULL || users->type != MSGPACK_OBJECT_ARRAY || m == NULL ||
            m->type != MSGPACK_OBJECT_BOOLEAN) {
            rc = 1;
        } else {
            more = m->via.boolean && users->via.array.size > 0;
            for (uint32_t i = 0; rc == 0 && i < users->via.array.size; i++) {
                const msgpack_object *u = &users->via.array.ptr[i];
                const msgpack_object *demo = td_mp_map_get(u, "demo");
                int64_t id = 0;
                if (td_mp_as_int64(td_mp_map_get(u, "id"), &id) != 0 || id <= after) {
                    rc = 1;
                    break;
                }
                after = id;
                printf("%-8lld ", (long long)id);
                print_str(td_mp_map_get(u, "email"), "?", 40);
                printf(" ");
                print_str(td_mp_map_get(u, "created_at"), "?", 28);
                printf(" %s\n", demo && demo->type == MSGPACK_OBJECT_BOOLEAN && demo->via.boolean
                                    ? "yes"
                                    : "no");
            }
        }
        if (rc != 0)
            fprintf(stderr, "tdctl: td-auth sent an unexpected auth.user_list result\n");
        td_rpc_result_free(&res);
    }
    td_rpc_client_free(&auth);
    return rc;
}

/* td-diary's count of the user's entries (diary.stats as that user): 0 and
 * *total, or non-zero with the reason printed. */
static int diary_total(struct td_rpc_client **diary, int64_t uid, int64_t *total)
{
    struct td_rpc_result res;
    int rc = call_service(&services[1], diary, TD_OP_DIARY_STATS, "tdctl-user-delete", uid, NULL, 0,
                          &res);
    if (rc != 0)
        return rc;
    rc = td_mp_as_int64(td_mp_map_get(res.result, "total_entries"), total) == 0 ? 0 : 1;
    td_rpc_result_free(&res);
    return rc;
}

static int user_delete(const char *email)
{
    struct td_rpc_client *auth = NULL, *diary = NULL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int prc = msgpack_pack_map(&pk, 1);
    prc = prc ? prc : td_mp_pack_kv_str(&pk, "email", email);
    struct td_rpc_result res;
    int rc = prc == 0 ? call_service(&services[0], &auth, TD_OP_AUTH_USER_DELETE,
                                     "tdctl-user-delete", 0, &sb, 404, &res)
                      : 1;
    msgpack_sbuffer_destroy(&sb);
    td_rpc_client_free(&auth);
    if (rc == 404) {
        fprintf(stderr, "tdctl user delete: no account with email '%s'\n", email);
        return 1;
    }
    if (rc != 0)
        return 1;
    int64_t uid = 0;
    bool ok = td_mp_as_int64(td_mp_map_get(res.result, "id"), &uid) == 0 && uid > 0;
    td_rpc_result_free(&res);
    if (!ok) {
        fprintf(stderr, "tdctl: td-auth sent an unexpected auth.user_delete result\n");
        return 1;
    }
    printf("user %lld deleted (%s); its tokens are revoked\n", (long long)uid, email);

    /* td-auth's outbox deletes the entries in the background, retrying until
     * td-diary acknowledges: the deletion is done either way, this only
     * tells the operator whether td-diary has caught up yet. */
    int64_t total = -1, deadline = mono_us() + (int64_t)CASCADE_WAIT_MS * 1000;
    for (;;) {
        if (diary_total(&diary, uid, &total) != 0)
            total = -1;
        if (total == 0 || mono_us() >= deadline)
            break;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    td_rpc_client_free(&diary);
    if (total == 0)
        printf("diary entries: none left in td-diary\n");
    else
        fprintf(stderr,
                "tdctl user delete: td-diary has not deleted the entries of user %lld yet "
                "(%s); td-auth's outbox keeps retrying until it does\n",
                (long long)uid, total < 0 ? "td-diary did not answer" : "some remain");
    return 0;
}

static int cmd_user(const struct command *c, int argc, char **argv)
{
    for (int a = 0; a < argc; a++) {
        if (is_help(argv[a]))
            return command_help(c);
    }
    if (argc == 0)
        return usage_error(c, "list or delete?");
    if (strcmp(argv[0], "list") == 0) {
        if (argc > 1)
            return usage_error(c, "list takes no argument ('%s')", argv[1]);
        return user_list();
    }
    if (strcmp(argv[0], "delete") == 0) {
        if (argc != 2 || argv[1][0] == '-' || argv[1][0] == '\0')
            return usage_error(c, "delete takes one email");
        return user_delete(argv[1]);
    }
    return usage_error(c, "unknown subcommand '%s'", argv[0]);
}

/* ---- seed ------------------------------------------------------------------- */

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
    int rc = prc == 0
                 ? call_service(&services[0], auth, TD_OP_AUTH_SEED, "tdctl-seed", 0, &sb, 0, &res)
                 : 1;
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

/* diary.seed: with `ids` NULL, only clears the demo entries (an empty list);
 * otherwise inserts the demo entries of seed_data.c for those users. The
 * counts td-diary reports land in *cleared and *inserted. */
static int seed_entries_call(struct td_rpc_client **diary, bool clear, const int64_t *ids,
                             int64_t *cleared, int64_t *inserted)
{
    int64_t now = td_now_us(), day = 86400LL * 1000000;
    int64_t midnight = now - now % day;
    size_t n = ids ? seed_nentries : 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int prc = msgpack_pack_map(&pk, 2);
    prc = prc ? prc : td_mp_pack_cstr(&pk, "clear");
    prc = prc ? prc : (clear ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk));
    prc = prc ? prc : td_mp_pack_cstr(&pk, "entries");
    prc = prc ? prc : msgpack_pack_array(&pk, n);
    for (size_t i = 0; prc == 0 && i < n; i++) {
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
    int rc = prc == 0 ? call_service(&services[1], diary, TD_OP_DIARY_SEED, "tdctl-seed", 0, &sb, 0,
                                     &res)
                      : 1;
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        return rc;
    if (td_mp_as_int64(td_mp_map_get(res.result, "cleared"), cleared) != 0 ||
        td_mp_as_int64(td_mp_map_get(res.result, "inserted"), inserted) != 0) {
        fprintf(stderr, "tdctl: td-diary sent an unexpected diary.seed result\n");
        rc = 1;
    }
    td_rpc_result_free(&res);
    return rc;
}

static int cmd_seed(const struct command *c, int argc, char **argv)
{
    bool clear = false, force = false;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i]))
            return command_help(c);
    }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--clear") == 0)
            clear = true;
        else if (strcmp(argv[i], "--force") == 0)
            force = true;
        else
            return usage_error(c, "unknown argument '%s'", argv[i]);
    }
    const char *env = getenv("APP_ENV");
    if (env && strcmp(env, "production") == 0 && !force) {
        fprintf(stderr, "tdctl seed: refusing to create demo accounts with known passwords "
                        "under APP_ENV=production (--force overrides)\n");
        return EXIT_USAGE;
    }
    int64_t ids[16];
    if (seed_nusers > sizeof ids / sizeof ids[0])
        return 1;
    struct td_rpc_client *auth = NULL, *diary = NULL;
    int64_t cleared = 0, inserted = 0, unused = 0;
    /* The demo entries are cleared first, by td-diary itself, so the count
     * is real: clearing the accounts first would have td-auth's outbox
     * delete their entries in the background, uncounted. Entries a demo
     * account wrote itself go with the account (that cascade). */
    int rc = clear ? seed_entries_call(&diary, true, NULL, &cleared, &unused) : 0;
    rc = rc ? rc : seed_users_call(&auth, clear, ids);
    rc = rc ? rc : seed_entries_call(&diary, false, ids, &unused, &inserted);
    if (rc == 0)
        printf("entries cleared: %lld, inserted: %lld (analysed in the background)\n",
               (long long)cleared, (long long)inserted);
    td_rpc_client_free(&auth);
    td_rpc_client_free(&diary);
    return rc;
}

/* ---- main --------------------------------------------------------------------- */

static int cmd_version(const struct command *c, int argc, char **argv)
{
    for (int a = 0; a < argc; a++) {
        if (is_help(argv[a]))
            return command_help(c);
    }
    if (argc > 0)
        return usage_error(c, "takes no argument ('%s')", argv[0]);
    printf("tdctl %s (RPC protocol %d)\n", TD_VERSION, TD_PROTO_VERSION);
    return 0;
}

static int cmd_help(const struct command *c, int argc, char **argv)
{
    if (argc == 0 || is_help(argv[0])) {
        usage(stdout);
        return 0;
    }
    const struct command *target = find_command(argv[0]);
    if (target == NULL || argc > 1)
        return usage_error(c, "unknown command '%s'", argv[0]);
    return command_help(target);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (is_help(name))
        name = "help";
    else if (strcmp(name, "--version") == 0)
        name = "version";
    const struct command *c = find_command(name);
    if (c == NULL) {
        fprintf(stderr, "tdctl: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
    }
    int sub_argc = argc - 2;
    char **sub_argv = argv + 2;
    if (c == find_command("help"))
        return cmd_help(c, sub_argc, sub_argv);
    if (c == find_command("version"))
        return cmd_version(c, sub_argc, sub_argv);

    /* Commands that talk to the daemons read the configuration first. */
    char err[512];
    if (sodium_init() < 0)
        return 1;
    if (td_env_load_file(err, sizeof err) != 0) {
        fprintf(stderr, "tdctl: %s\n", err);
        return EXIT_USAGE;
    }
    td_log_init("tdctl", TD_LOG_ERR, TD_LOG_TEXT);
    /* tls+tcp:// URLs: tdctl presents the operator's certificate. Inside a
     * daemon's container RPC_TLS_DIR holds only that daemon's key, and tdctl
     * talks over the container's own ipc sockets: no identity is needed
     * there, and a tls+tcp:// URL without one fails with a logged reason. */
    const char *tls = getenv("RPC_TLS_DIR");
    char own[4200];
    snprintf(own, sizeof own, "%s/operator.pem", tls ? tls : "");
    if (tls && *tls && access(own, R_OK) == 0 && td_rpc_tls_setup(tls, TD_ROLE_OPERATOR) != 0) {
        fprintf(stderr, "tdctl: RPC_TLS_DIR: cannot use %s\n", own);
        return EXIT_USAGE;
    }
    int rc;
    if (strcmp(c->name, "ping") == 0)
        rc = cmd_ping(c, sub_argc, sub_argv);
    else if (strcmp(c->name, "health") == 0)
        rc = cmd_health(c, sub_argc, sub_argv);
    else if (strcmp(c->name, "user") == 0)
        rc = cmd_user(c, sub_argc, sub_argv);
    else
        rc = cmd_seed(c, sub_argc, sub_argv);
    nng_fini();
    return rc;
}
