/* bench_rpc.c — the RPC layer alone: round trips per second of a small
 * request (a 2-key map) answered by a trivial handler, over tcp and ipc, with
 * 1 and 16 calling threads. Server and client run in this one process, as
 * td-gateway and a daemon would on one host. Wired into `make bench`; not a
 * test (timings depend on the machine).
 *
 *   bench_rpc [seconds-per-case]   (default 2)
 */
#define _POSIX_C_SOURCE 200809L
#include "td_mp.h"
#include "td_rpc.h"
#include "td_time.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static const struct td_rpc_route routes[] = {{TD_OP_DIARY_LIST, echo, false}};

struct worker {
    pthread_t th;
    struct td_rpc_client *c;
    int64_t deadline_us;
    long calls, errors;
};

static void *run(void *arg)
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

static int bench(const char *transport, const char *url, int nthreads, double seconds)
{
    struct td_rpc_server_opts so = {.service = "bench", .url = url, .workers = 8,
                                    .routes = routes, .nroutes = 1};
    struct td_rpc_server *srv = NULL;
    if (td_rpc_server_start(&so, &srv) != 0) {
        fprintf(stderr, "bench_rpc: cannot listen on %s\n", url);
        return 1;
    }
    struct td_rpc_client_opts co = {.service = "bench", .urls = url, .timeout_ms = 5000};
    struct td_rpc_client *c = NULL;
    if (td_rpc_client_open(&co, &c) != 0) {
        fprintf(stderr, "bench_rpc: cannot dial %s\n", url);
        td_rpc_server_stop(&srv, 100);
        return 1;
    }
    for (int i = 0; i < 500 && td_rpc_client_peers(c) < 1; i++)
        usleep(2000);
    struct worker ws[64];
    memset(ws, 0, sizeof ws);
    /* warm-up */
    int64_t start = td_now_us();
    for (int i = 0; i < nthreads; i++) {
        ws[i].c = c;
        ws[i].deadline_us = start + 200000;
        pthread_create(&ws[i].th, NULL, run, &ws[i]);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(ws[i].th, NULL);
    memset(ws, 0, sizeof ws);
    start = td_now_us();
    for (int i = 0; i < nthreads; i++) {
        ws[i].c = c;
        ws[i].deadline_us = start + (int64_t)(seconds * 1e6);
        pthread_create(&ws[i].th, NULL, run, &ws[i]);
    }
    long calls = 0, errors = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(ws[i].th, NULL);
        calls += ws[i].calls;
        errors += ws[i].errors;
    }
    double el = (double)(td_now_us() - start) / 1e6;
    printf("rpc %-3s threads=%-2d round_trips/s=%.0f us/call=%.1f errors=%ld\n", transport,
           nthreads, (double)calls / el, el * 1e6 * nthreads / (double)(calls ? calls : 1),
           errors);
    fflush(stdout);
    td_rpc_client_free(&c);
    td_rpc_server_stop(&srv, 1000);
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (seconds <= 0)
        seconds = 2.0;
    const char *port = getenv("BENCH_RPC_PORT");
    char tcp[64], ipc[128];
    snprintf(tcp, sizeof tcp, "tcp://127.0.0.1:%s", port ? port : "25599");
    snprintf(ipc, sizeof ipc, "ipc:///tmp/td-bench-rpc-%d.sock", (int)getpid());
    static const int threads[] = {1, 16};
    int rc = 0;
    for (int t = 0; t < 2; t++) {
        rc |= bench("tcp", tcp, threads[t], seconds);
        rc |= bench("ipc", ipc, threads[t], seconds);
    }
    unlink(ipc + strlen("ipc://"));
    return rc;
}
