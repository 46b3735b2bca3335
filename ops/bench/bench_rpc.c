/* bench_rpc.c — the RPC layer alone: round trips per second of a small
 * request (a 2-key map) answered by a trivial handler, with 1 and 16 calling
 * threads:
 *
 *   td_rpc, worker route   tcp and ipc: the handler runs on a worker thread
 *                          (writes, hashing, calls to other daemons)
 *   td_rpc, inline route   tcp: the handler runs on nng's task thread (reads)
 *   raw nng floor          tcp: nng req/rep with nothing of ours — contexts
 *                          reused, callback-driven echo, the same number of
 *                          connections — the most this transport gives here
 *
 * Every td_rpc row runs twice, with coalescing off and on (td_rpc.h,
 * "Coalescing": at 16 threads calls queue and travel in batches; with one
 * thread nothing is ever batched), and the coalesced row says how many
 * calls a message carried on average (calls/msg).
 *
 * Each row also prints the process's CPU time per round trip (both sides and
 * the kernel's share for them) and its context switches per round trip (a
 * hand-off between threads is one: the cost beyond the bytes moved). On a
 * machine whose cores are all busy, a route that makes one call can never
 * cost less than that row's CPU. Server and
 * client run in this one process, as td-gateway and a daemon would on one
 * host. Wired into `make bench`; not a test (timings depend on the machine).
 *
 *   bench_rpc [seconds-per-case]   (default 2)
 *
 * BENCH_RPC_ONLY: run only the rows whose name holds this text.
 * BENCH_RPC_IN_FLIGHT: messages in flight before calls wait to share one
 * (td_rpc_client_opts.max_in_flight; default TD_RPC_MAX_IN_FLIGHT).
 */
#define _POSIX_C_SOURCE 200809L
#include "td_mp.h"
#include "td_rpc.h"
#include "td_time.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_THREADS 16

static int echo(void *app, const struct td_rpc_request *req, struct td_rpc_reply *rep)
{
    (void)app;
    int64_t n = 0;
    td_mp_as_int64(td_mp_map_get(req->args, "n"), &n);
    msgpack_packer *pk = td_rpc_reply_result(rep, 200);
    msgpack_pack_map(pk, 2);
    td_mp_pack_kv_int(pk, "n", n);
    td_mp_pack_kv_str(pk, "rid", req->request_id);
    return 0;
}

static const struct td_rpc_route worker_routes[] = {{TD_OP_DIARY_LIST, echo, false}};
static const struct td_rpc_route inline_routes[] = {{TD_OP_DIARY_LIST, echo, true}};

/* What the whole process has used so far, from one getrusage: CPU time
 * (user + system, microseconds) and context switches, voluntary (a thread
 * waited) and not; each hand-off between nng's threads is one. */
struct usage {
    int64_t cpu_us, switches;
};

static struct usage usage_now(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return (struct usage){0, 0};
    return (struct usage){
        .cpu_us = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
                  ru.ru_utime.tv_usec + ru.ru_stime.tv_usec,
        .switches = (int64_t)ru.ru_nvcsw + (int64_t)ru.ru_nivcsw};
}

struct worker {
    pthread_t th;
    struct td_rpc_client *c; /* td_rpc rows */
    nng_socket raw;          /* the raw row */
    int64_t deadline_us;
    long calls, errors;
};

/* Runs `fn` on `nthreads` threads for `seconds` (after a 0.2 s warm-up) and
 * prints one row. */
static void measure(const char *name, void *(*fn)(void *), struct worker *proto, int nthreads,
                    double seconds)
{
    struct td_rpc_client_stats s0 = {0}, s1 = {0};
    struct worker ws[MAX_THREADS];
    for (int pass = 0; pass < 2; pass++) {
        if (proto->c != NULL)
            td_rpc_client_stats(proto->c, &s0);
        int64_t start = td_now_us();
        struct usage u0 = usage_now();
        int64_t len = pass == 0 ? 200000 : (int64_t)(seconds * 1e6);
        for (int i = 0; i < nthreads; i++) {
            ws[i] = *proto;
            ws[i].deadline_us = start + len;
            pthread_create(&ws[i].th, NULL, fn, &ws[i]);
        }
        long calls = 0, errors = 0;
        for (int i = 0; i < nthreads; i++) {
            pthread_join(ws[i].th, NULL);
            calls += ws[i].calls;
            errors += ws[i].errors;
        }
        if (pass == 0)
            continue; /* warm-up */
        double el = (double)(td_now_us() - start) / 1e6;
        double n = calls ? (double)calls : 1.0;
        struct usage u1 = usage_now();
        int64_t cpu = u1.cpu_us - u0.cpu_us, sw = u1.switches - u0.switches;
        char per_msg[32] = "";
        if (proto->c != NULL) {
            td_rpc_client_stats(proto->c, &s1);
            uint64_t msgs = s1.messages - s0.messages;
            snprintf(per_msg, sizeof per_msg, " calls/msg=%.1f", msgs ? n / (double)msgs : 0.0);
        }
        printf("rpc %-36s threads=%-2d round_trips/s=%-6.0f us/call=%-6.1f cpu_us/call=%-5.1f "
               "switches/call=%-4.1f errors=%ld%s\n",
               name, nthreads, (double)calls / el, el * 1e6 * nthreads / n, (double)cpu / n,
               (double)sw / n, errors, per_msg);
        fflush(stdout);
    }
}

static void *run_td(void *arg)
{
    struct worker *w = arg;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    td_mp_pack_kv_int(&pk, "n", 42);
    td_mp_pack_kv_str(&pk, "pad", "a diary-sized argument string");
    struct td_rpc_call call = {.op = TD_OP_DIARY_LIST, .request_id = "bench", .user_id = 7,
                               .args = sb.data, .args_len = sb.size, .timeout_ms = 5000};
    while (td_now_us() < w->deadline_us) {
        struct td_rpc_result res;
        if (td_rpc_call(w->c, &call, &res) == 0 && res.status == 200) {
            w->calls++;
            td_rpc_result_free(&res);
        } else {
            w->errors++;
        }
    }
    msgpack_sbuffer_destroy(&sb);
    return NULL;
}

/* BENCH_RPC_ONLY: only the rows whose name holds this text (a profile of
 * one transport, say "inline route (tls"); unset: every row. */
static bool row_wanted(const char *name)
{
    const char *only = getenv("BENCH_RPC_ONLY");
    return only == NULL || *only == '\0' || strstr(name, only) != NULL;
}

static int bench_td(const char *name, const char *url, const struct td_rpc_route *routes,
                    double seconds, int coalesce)
{
    char row[64];
    snprintf(row, sizeof row, "%s%s", name, coalesce > 0 ? ", coalesced" : "");
    if (!row_wanted(row))
        return 0;
    /* With TLS both ends are the gateway role (one identity per process). */
    struct td_rpc_server_opts so = {.service = "bench", .url = url, .callers = TD_ROLE_GATEWAY,
                                    .workers = 8,
                                    .routes = routes, .nroutes = 1};
    struct td_rpc_server *srv = NULL;
    if (td_rpc_server_start(&so, &srv) != 0) {
        fprintf(stderr, "bench_rpc: cannot listen on %s\n", url);
        return 1;
    }
    const char *in_flight = getenv("BENCH_RPC_IN_FLIGHT");
    struct td_rpc_client_opts co = {.service = "bench", .peer = TD_ROLE_GATEWAY, .urls = url,
                                    .timeout_ms = 5000, .coalesce = coalesce,
                                    .max_in_flight = in_flight ? atoi(in_flight) : 0};
    struct td_rpc_client *c = NULL;
    if (td_rpc_client_open(&co, &c) != 0) {
        fprintf(stderr, "bench_rpc: cannot dial %s\n", url);
        td_rpc_server_stop(&srv, 100);
        return 1;
    }
    for (int i = 0; i < 500 && td_rpc_client_peers(c) < TD_RPC_CONNECTIONS; i++)
        usleep(2000);
    struct worker proto = {.c = c};
    measure(row, run_td, &proto, 1, seconds);
    measure(row, run_td, &proto, MAX_THREADS, seconds);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
    return 0;
}

/* ---- raw nng: the transport's floor ---------------------------------------- */

struct echo_slot {
    nng_ctx ctx;
    nng_aio *aio;
    bool sending;
};

static void echo_event(void *arg)
{
    struct echo_slot *e = arg;
    if (nng_aio_result(e->aio) != 0) {
        if (e->sending)
            nng_msg_free(nng_aio_get_msg(e->aio));
        if (nng_aio_result(e->aio) == NNG_ECLOSED)
            return;
        e->sending = false;
        nng_ctx_recv(e->ctx, e->aio);
        return;
    }
    if (!e->sending) {
        e->sending = true; /* the request goes back as the reply */
        nng_ctx_send(e->ctx, e->aio);
    } else {
        e->sending = false;
        nng_ctx_recv(e->ctx, e->aio);
    }
}

static void *run_raw(void *arg)
{
    struct worker *w = arg;
    nng_ctx ctx;
    nng_aio *aio = NULL;
    if (nng_ctx_open(&ctx, w->raw) != 0 || nng_aio_alloc(&aio, NULL, NULL) != 0) {
        w->errors++;
        return NULL;
    }
    static const char body[48] = "a request about the size of a diary.list call";
    while (td_now_us() < w->deadline_us) {
        nng_msg *m = NULL;
        if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, body, sizeof body) != 0) {
            nng_msg_free(m);
            w->errors++;
            continue;
        }
        nng_aio_set_msg(aio, m);
        nng_ctx_send(ctx, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0) {
            nng_msg_free(m);
            w->errors++;
            continue;
        }
        nng_ctx_recv(ctx, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) == 0) {
            nng_msg_free(nng_aio_get_msg(aio));
            w->calls++;
        } else {
            w->errors++;
        }
    }
    nng_ctx_close(ctx);
    nng_aio_free(aio);
    return NULL;
}

static int bench_raw(const char *url, double seconds)
{
    static const char row[] = "raw nng floor (tcp)";
    if (!row_wanted(row))
        return 0;
    nng_socket rep, req;
    struct echo_slot slots[8];
    memset(slots, 0, sizeof slots);
    if (nng_rep0_open(&rep) != 0 || nng_listen(rep, url, NULL, 0) != 0) {
        fprintf(stderr, "bench_rpc: raw: cannot listen on %s\n", url);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < 8 && rc == 0; i++) {
        rc = nng_ctx_open(&slots[i].ctx, rep);
        rc = rc ? rc : nng_aio_alloc(&slots[i].aio, echo_event, &slots[i]);
        if (rc == 0)
            nng_ctx_recv(slots[i].ctx, slots[i].aio);
    }
    rc = rc ? rc : nng_req0_open(&req);
    rc = rc ? rc : nng_socket_set_ms(req, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    for (int k = 0; rc == 0 && k < TD_RPC_CONNECTIONS; k++)
        rc = nng_dial(req, url, NULL, 0);
    if (rc == 0) {
        struct worker proto = {.raw = req};
        measure(row, run_raw, &proto, 1, seconds);
        measure(row, run_raw, &proto, MAX_THREADS, seconds);
        nng_close(req);
    } else {
        fprintf(stderr, "bench_rpc: raw: %s\n", nng_strerror(rc));
    }
    nng_close(rep);
    for (int i = 0; i < 8; i++) {
        if (slots[i].aio != NULL)
            nng_aio_free(slots[i].aio);
    }
    return rc != 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (seconds <= 0)
        seconds = 2.0;
    const char *port = getenv("BENCH_RPC_PORT");
    char tcp[64], tls[64], ipc[128], dir[64] = "/tmp/td-bench-rpc-XXXXXX";
    /* one port for every tcp case: nng's listeners reuse the address */
    snprintf(tcp, sizeof tcp, "tcp://127.0.0.1:%s", port ? port : "25599");
    snprintf(tls, sizeof tls, "tls+tcp://127.0.0.1:%s", port ? port : "25599");
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(ipc, sizeof ipc, "ipc://%s/rpc.sock", dir);
    /* BENCH_RPC_TLS_DIR: certificates from ops/tls/make-dev-certs.sh, for
     * the tls+tcp rows (what mutual TLS costs per call). */
    const char *certs = getenv("BENCH_RPC_TLS_DIR");
    bool with_tls = certs && *certs && td_rpc_tls_setup(certs, TD_ROLE_GATEWAY) == 0;
    int rc = 0;
    for (int co = -1; co <= 1; co += 2) { /* coalescing off, then on */
        rc |= bench_td("td_rpc worker route (tcp)", tcp, worker_routes, seconds, co);
        rc |= bench_td("td_rpc worker route (ipc)", ipc, worker_routes, seconds, co);
        if (with_tls)
            rc |= bench_td("td_rpc worker route (tls+tcp)", tls, worker_routes, seconds, co);
        rc |= bench_td("td_rpc inline route (tcp)", tcp, inline_routes, seconds, co);
        rc |= bench_td("td_rpc inline route (ipc)", ipc, inline_routes, seconds, co);
        if (with_tls)
            rc |= bench_td("td_rpc inline route (tls+tcp)", tls, inline_routes, seconds, co);
    }
    rc |= bench_raw(tcp, seconds);
    rmdir(dir);
    return rc;
}
